//! The operator console: one command per line, answers and slips as text,
//! each command's output ending with `[done] <command>` so a person or a
//! test can tell where it ends.
//!
//! ```text
//! bill <biller> <customer> [reference] [amount]   Conductor: enquiry, pay, complete
//! partner <biller> <customer> <reference> <amount> Conductor composite flow
//! momo <msisdn> <amount>                          MoMo payment, polled to final
//! airtime <msisdn> <product> <amount> [no-trial]  Electrum airtime with confirmation
//!                                                 (no-trial: for providers without trials)
//! voucher <product> <amount>                      Electrum voucher (PIN on the slip)
//! --- the counter queries (the host build only: on the board they do not
//! --- fit the 256 KiB flash budget, see the README's firmware section):
//! enquiry <biller> <customer> [reference]         Conductor: what the customer owes
//! catalogue [category]                            Conductor: one level of the catalogue
//! txn <id> | txn ref=<reference>                  Conductor: a (partner) transaction
//! cancel <id> | cancel ref=<reference> [reason]   Conductor: cancel, through the outbox
//! momo-status <reference>                         MoMo: a payment by its X-Reference-Id
//! lookup <msisdn>                                 Electrum: operator and products of a number
//! products <channel>                              Electrum: the products of a channel
//! sale-status <request id>                        Electrum: a purchase by its request id
//! status                                          network, clock, outbox, stack
//! outbox                                          pending advices, and those needing attention
//! outbox ack <key>                                acknowledge a record that needs attention
//! outbox ack-damage                               acknowledge records lost to flash damage
//! flush                                           deliver due advices now
//! config                                          show settings (never a secret)
//! config ca <base64 DER> <counter> <tag>          store the CA: a change made with the
//!                                                 terminal's provisioning key (`till provision-tag`)
//! help
//! ```

use core::fmt::{self, Write as _};

use embedded_io_async::{Read, Write};
use heapless::{String, Vec};

/// Longest command line: `config ca` with a 2 KiB certificate in base64
/// (2,732 characters), its counter and its 64-digit tag.
pub const LINE_CAP: usize = 3 * 1024;
/// Most words in a command.
pub const MAX_WORDS: usize = 8;
/// One answer (a voucher slip with its redeem instructions is the
/// longest, about 1 KiB).
pub const ANSWER_CAP: usize = 2 * 1024;

/// A parsed command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'l> {
    /// Conductor primitive flow.
    Bill {
        /// Biller code.
        biller: &'l str,
        /// Customer identifier (`kind=value` or a value).
        customer: &'l str,
        /// Product reference.
        reference: Option<&'l str>,
        /// Decimal amount; `None` pays the amount due.
        amount: Option<&'l str>,
    },
    /// Conductor composite flow.
    Partner {
        /// Biller code.
        biller: &'l str,
        /// Customer identifier.
        customer: &'l str,
        /// Product reference.
        reference: &'l str,
        /// Decimal amount.
        amount: &'l str,
    },
    /// MoMo payment.
    Momo {
        /// The payer.
        msisdn: &'l str,
        /// Decimal amount.
        amount: &'l str,
    },
    /// Electrum airtime.
    Airtime {
        /// The recipient.
        msisdn: &'l str,
        /// Product id.
        product: &'l str,
        /// Decimal amount.
        amount: &'l str,
        /// Ask for a trial purchase first (not for providers that answer
        /// 501 to trials).
        trial: bool,
    },
    /// Electrum voucher.
    Voucher {
        /// Product id.
        product: &'l str,
        /// Decimal amount.
        amount: &'l str,
    },
    #[cfg(not(feature = "board"))]
    /// Conductor account enquiry.
    Enquiry {
        /// Biller code.
        biller: &'l str,
        /// Customer identifier.
        customer: &'l str,
        /// Product reference.
        reference: Option<&'l str>,
    },
    #[cfg(not(feature = "board"))]
    /// One level of Conductor's catalogue.
    Catalogue(Option<&'l str>),
    #[cfg(not(feature = "board"))]
    /// A Conductor transaction (`ref=` a partner transaction's reference).
    Transaction(&'l str),
    #[cfg(not(feature = "board"))]
    /// Cancel a Conductor transaction (`ref=` likewise), with a reason.
    Cancel(&'l str, Option<&'l str>),
    #[cfg(not(feature = "board"))]
    /// A MoMo payment by its reference.
    MomoStatus(&'l str),
    #[cfg(not(feature = "board"))]
    /// Electrum MSISDN lookup.
    Lookup(&'l str),
    #[cfg(not(feature = "board"))]
    /// Electrum products of a channel.
    Products(&'l str),
    #[cfg(not(feature = "board"))]
    /// An Electrum purchase by its request id.
    SaleStatus(&'l str),
    /// Network, clock, outbox, stack.
    Status,
    /// Pending advices, and those needing attention.
    Outbox,
    /// Acknowledge a record that needs attention.
    OutboxAck(&'l str),
    /// Acknowledge the records the outbox lost to flash damage.
    OutboxAckDamage,
    /// Deliver due advices now.
    Flush,
    /// Show the settings.
    Config,
    /// Store the CA certificate: base64 DER, the change's counter and its
    /// provisioning tag (hex; see `till_core::provision`).
    ConfigCa {
        der: &'l str,
        counter: u32,
        tag: &'l str,
    },
    /// The command list.
    Help,
}

/// Why a line is not a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError<'l> {
    /// Nothing on the line.
    Empty,
    /// Not a command.
    Unknown(&'l str),
    /// The command's words are wrong: its usage.
    Usage(&'static str),
}

impl Command<'_> {
    /// Parse one line.
    pub fn parse(line: &str) -> Result<Command<'_>, ParseError<'_>> {
        let mut words: Vec<&str, MAX_WORDS> = Vec::new();
        for word in line.split_ascii_whitespace() {
            words
                .push(word)
                .map_err(|_| ParseError::Usage("too many words"))?;
        }
        let (verb, args) = words.split_first().ok_or(ParseError::Empty)?;
        let usage = |u| ParseError::Usage(u);
        Ok(match (*verb, args) {
            ("bill", [biller, customer]) => Command::Bill {
                biller,
                customer,
                reference: None,
                amount: None,
            },
            ("bill", [biller, customer, reference]) => Command::Bill {
                biller,
                customer,
                reference: Some(reference),
                amount: None,
            },
            ("bill", [biller, customer, reference, amount]) => Command::Bill {
                biller,
                customer,
                reference: Some(reference),
                amount: Some(amount),
            },
            ("bill", _) => return Err(usage("bill <biller> <customer> [reference] [amount]")),
            ("partner", [biller, customer, reference, amount]) => Command::Partner {
                biller,
                customer,
                reference,
                amount,
            },
            ("partner", _) => {
                return Err(usage("partner <biller> <customer> <reference> <amount>"))
            }
            ("momo", [msisdn, amount]) => Command::Momo { msisdn, amount },
            ("momo", _) => return Err(usage("momo <msisdn> <amount>")),
            ("airtime", [msisdn, product, amount]) => Command::Airtime {
                msisdn,
                product,
                amount,
                trial: true,
            },
            ("airtime", [msisdn, product, amount, "no-trial"]) => Command::Airtime {
                msisdn,
                product,
                amount,
                trial: false,
            },
            ("airtime", _) => return Err(usage("airtime <msisdn> <product> <amount> [no-trial]")),
            ("voucher", [product, amount]) => Command::Voucher { product, amount },
            ("voucher", _) => return Err(usage("voucher <product> <amount>")),
            #[cfg(not(feature = "board"))]
            ("enquiry", [biller, customer]) => Command::Enquiry {
                biller,
                customer,
                reference: None,
            },
            #[cfg(not(feature = "board"))]
            ("enquiry", [biller, customer, reference]) => Command::Enquiry {
                biller,
                customer,
                reference: Some(reference),
            },
            #[cfg(not(feature = "board"))]
            ("enquiry", _) => return Err(usage("enquiry <biller> <customer> [reference]")),
            #[cfg(not(feature = "board"))]
            ("catalogue", []) => Command::Catalogue(None),
            #[cfg(not(feature = "board"))]
            ("catalogue", [category]) => Command::Catalogue(Some(category)),
            #[cfg(not(feature = "board"))]
            ("catalogue", _) => return Err(usage("catalogue [category]")),
            #[cfg(not(feature = "board"))]
            ("txn", [id]) => Command::Transaction(id),
            #[cfg(not(feature = "board"))]
            ("txn", _) => return Err(usage("txn <id> | txn ref=<reference>")),
            #[cfg(not(feature = "board"))]
            ("cancel", [id]) => Command::Cancel(id, None),
            #[cfg(not(feature = "board"))]
            ("cancel", [id, reason]) => Command::Cancel(id, Some(reason)),
            #[cfg(not(feature = "board"))]
            ("cancel", _) => return Err(usage("cancel <id> | cancel ref=<reference> [reason]")),
            #[cfg(not(feature = "board"))]
            ("momo-status", [reference]) => Command::MomoStatus(reference),
            #[cfg(not(feature = "board"))]
            ("momo-status", _) => return Err(usage("momo-status <reference>")),
            #[cfg(not(feature = "board"))]
            ("lookup", [msisdn]) => Command::Lookup(msisdn),
            #[cfg(not(feature = "board"))]
            ("lookup", _) => return Err(usage("lookup <msisdn>")),
            #[cfg(not(feature = "board"))]
            ("products", [channel]) => Command::Products(channel),
            #[cfg(not(feature = "board"))]
            ("products", _) => return Err(usage("products <channel>")),
            #[cfg(not(feature = "board"))]
            ("sale-status", [id]) => Command::SaleStatus(id),
            #[cfg(not(feature = "board"))]
            ("sale-status", _) => return Err(usage("sale-status <request id>")),
            ("status", []) => Command::Status,
            ("outbox", []) => Command::Outbox,
            ("outbox", ["ack-damage"]) => Command::OutboxAckDamage,
            ("outbox", ["ack", key]) => Command::OutboxAck(key),
            ("outbox", _) => return Err(usage("outbox | outbox ack <key> | outbox ack-damage")),
            ("flush", []) => Command::Flush,
            ("config", []) => Command::Config,
            ("config", ["ca", der, counter, tag]) => match counter.parse() {
                Ok(counter) => Command::ConfigCa { der, counter, tag },
                Err(_) => return Err(usage(CONFIG_USAGE)),
            },
            ("config", _) => return Err(usage(CONFIG_USAGE)),
            ("help", _) => Command::Help,
            (other, _) => return Err(ParseError::Unknown(other)),
        })
    }

    /// The verb, for `[done] <verb>`.
    pub const fn verb(&self) -> &'static str {
        match self {
            Self::Bill { .. } => "bill",
            Self::Partner { .. } => "partner",
            Self::Momo { .. } => "momo",
            Self::Airtime { .. } => "airtime",
            Self::Voucher { .. } => "voucher",
            #[cfg(not(feature = "board"))]
            Self::Enquiry { .. } => "enquiry",
            #[cfg(not(feature = "board"))]
            Self::Catalogue(_) => "catalogue",
            #[cfg(not(feature = "board"))]
            Self::Transaction(_) => "txn",
            #[cfg(not(feature = "board"))]
            Self::Cancel(..) => "cancel",
            #[cfg(not(feature = "board"))]
            Self::MomoStatus(_) => "momo-status",
            #[cfg(not(feature = "board"))]
            Self::Lookup(_) => "lookup",
            #[cfg(not(feature = "board"))]
            Self::Products(_) => "products",
            #[cfg(not(feature = "board"))]
            Self::SaleStatus(_) => "sale-status",
            Self::Status => "status",
            Self::Outbox => "outbox",
            Self::OutboxAck(_) => "outbox ack",
            Self::OutboxAckDamage => "outbox ack-damage",
            Self::Flush => "flush",
            Self::Config | Self::ConfigCa { .. } => "config",
            Self::Help => "help",
        }
    }
}

/// The `config` usage: a change needs its counter and provisioning tag.
const CONFIG_USAGE: &str = "config | config ca <base64 DER> <counter> <tag>";

/// The help text.
pub const HELP: &str = "commands:
  bill <biller> <customer> [reference] [amount]
  partner <biller> <customer> <reference> <amount>
  momo <msisdn> <amount>
  airtime <msisdn> <product> <amount> [no-trial]
  voucher <product> <amount>
  status | outbox | outbox ack <key> | outbox ack-damage | flush
  config | config ca <base64 DER> <counter> <tag> | help";

/// The counter queries' help (not on the board: they do not fit its
/// flash, see the README's firmware section).
#[cfg(not(feature = "board"))]
pub const QUERIES_HELP: &str = "counter queries:
  enquiry <biller> <customer> [reference] | catalogue [category]
  txn <id>|ref=<reference> | cancel <id>|ref=<reference> [reason]
  momo-status <reference> | lookup <msisdn> | products <channel>
  sale-status <request id>";

/// Reads lines from the console. Cancel-safe: a `next` dropped while it
/// waits for input keeps what it has read for the next call.
pub struct LineReader<R> {
    io: R,
    line: Vec<u8, LINE_CAP>,
    pending: Vec<u8, 64>,
    overflow: bool,
    /// `line` holds a line already returned: clear it first.
    returned: bool,
}

impl<R: Read> LineReader<R> {
    /// Over `io`.
    pub fn new(io: R) -> Self {
        Self {
            io,
            line: Vec::new(),
            pending: Vec::new(),
            overflow: false,
            returned: false,
        }
    }

    /// The console, to answer on.
    pub fn io_mut(&mut self) -> &mut R {
        &mut self.io
    }

    /// The next complete line (without its end), or `None` if it was too
    /// long (it is then skipped).
    pub async fn next(&mut self) -> Result<Option<&str>, R::Error> {
        if self.returned {
            self.line.clear();
            self.overflow = false;
            self.returned = false;
        }
        loop {
            while let Some((&byte, _)) = self.pending.split_first() {
                self.pending.remove(0);
                match byte {
                    b'\n' => {
                        self.returned = true;
                        if self.overflow {
                            return Ok(None);
                        }
                        let text = core::str::from_utf8(&self.line).unwrap_or("");
                        return Ok(Some(text.strip_suffix('\r').unwrap_or(text)));
                    }
                    _ if self.overflow => {}
                    _ => {
                        if self.line.push(byte).is_err() {
                            self.overflow = true;
                        }
                    }
                }
            }
            let mut chunk = [0u8; 64];
            let n = self.io.read(&mut chunk).await?;
            if n == 0 {
                // End of input: wait for more rather than spin.
                embassy_time::Timer::after_millis(50).await;
                continue;
            }
            let _ = self
                .pending
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    }
}

/// Text for the console, collected before it is written.
pub struct Answer(pub String<ANSWER_CAP>);

impl Answer {
    /// Empty.
    pub const fn new() -> Self {
        Self(String::new())
    }

    /// Append text that ends its own lines.
    pub fn text(&mut self, text: &str) {
        // A full answer is cut; the console shows what fits.
        let _ = self.0.push_str(text);
    }

    /// Append a line.
    pub fn line(&mut self, args: fmt::Arguments<'_>) {
        // A full answer is cut; the console shows what fits.
        let _ = self.0.write_fmt(args);
        let _ = self.0.push('\n');
    }
}

impl Default for Answer {
    fn default() -> Self {
        Self::new()
    }
}

/// Write `text` to the console.
pub async fn write<W: Write>(io: &mut W, text: &str) -> Result<(), W::Error> {
    io.write_all(text.as_bytes()).await?;
    io.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(
            Command::parse("bill za_dstv 8604275423086 SUBS"),
            Ok(Command::Bill {
                biller: "za_dstv",
                customer: "8604275423086",
                reference: Some("SUBS"),
                amount: None
            })
        );
        assert_eq!(
            Command::parse("  momo 46733123999   25.00\r"),
            Ok(Command::Momo {
                msisdn: "46733123999",
                amount: "25.00"
            })
        );
        assert_eq!(Command::parse("status"), Ok(Command::Status));
        assert_eq!(
            Command::parse("airtime 27821234567 759 50.00 no-trial"),
            Ok(Command::Airtime {
                msisdn: "27821234567",
                product: "759",
                amount: "50.00",
                trial: false
            })
        );
        assert_eq!(
            Command::parse("cancel ref=INV-1 duplicate"),
            Ok(Command::Cancel("ref=INV-1", Some("duplicate")))
        );
        assert_eq!(Command::parse("catalogue"), Ok(Command::Catalogue(None)));
        assert!(matches!(
            Command::parse("airtime 27821234567 759 50.00 trial"),
            Err(ParseError::Usage(_))
        ));
        assert_eq!(
            Command::parse("config ca AAAA 7 00ff"),
            Ok(Command::ConfigCa {
                der: "AAAA",
                counter: 7,
                tag: "00ff"
            })
        );
        // A change without its counter and tag is not a change.
        assert!(matches!(
            Command::parse("config ca AAAA"),
            Err(ParseError::Usage(_))
        ));
        assert!(matches!(
            Command::parse("config ca AAAA -1 00ff"),
            Err(ParseError::Usage(_))
        ));
    }

    #[test]
    fn bad_lines_get_the_usage_not_a_crash() {
        assert_eq!(Command::parse(""), Err(ParseError::Empty));
        assert_eq!(Command::parse("sell"), Err(ParseError::Unknown("sell")));
        assert!(matches!(
            Command::parse("momo 1"),
            Err(ParseError::Usage(_))
        ));
        assert!(matches!(
            Command::parse("a b c d e f g h i j"),
            Err(ParseError::Usage(_))
        ));
    }
}
