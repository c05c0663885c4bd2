//! Slips and receipts: what the terminal prints for the customer.
//!
//! One renderer lays every slip out for a fixed-width [`Printer`]: lines
//! wrapped at the printer's columns (at a line's width scale, fewer fit),
//! solid rules, barcodes and cuts. Electrum's slip hints are honoured:
//! each message line's font scales, `line` (a rule) and `cut`, a line's
//! barcode, the slip width (when narrower than the paper), the issuer's
//! reference and the voucher's expiry. Two printers come with it:
//!
//! - [`TextPrinter`] over any `fmt::Write`: the console's and the desktop's
//!   text (a double-width line is spaced out, a barcode is printed as its
//!   symbology and code, a cut as a `8<` line). The slips' `Display` is
//!   this printer at [`CONSOLE_COLUMNS`], so the firmware writes slips to
//!   its console without a heap;
//! - [`EscPos`] over a [`ByteSink`]: the commands of an ESC/POS thermal
//!   printer (character size, `GS k` barcodes with their text below,
//!   partial cut).
//!
//! Account numbers and MSISDNs never appear; a voucher's PIN is printed in
//! full, because the slip is how the customer gets it.

use core::fmt::{self, Write as _};

use heapless::String;

use crate::conductor::flow::BillOutcome;
use crate::electrum::flow::{Confirmation, NotSold, SaleOutcome, Sold};
use crate::electrum::wire::{SlipData, SlipLine, Voucher};
use crate::flow::Money;
use crate::momo::flow::PaymentOutcome;

/// Columns of a 58 mm thermal printer: 384 dots of 12-dot Font A.
pub const COLUMNS_58MM: usize = 32;
/// Columns of an 80 mm thermal printer: 576 dots of 12-dot Font A.
pub const COLUMNS_80MM: usize = 48;
/// The columns of the slips' `Display` (the console and the desktop): an
/// 80 mm printer's, so a slip reads on screen as it prints there.
pub const CONSOLE_COLUMNS: usize = COLUMNS_80MM;
/// Largest character scale a printer is asked for: ESC/POS `GS !` takes
/// 1–8 in each direction.
pub const MAX_SCALE: u8 = 8;
/// Longest line the layout holds before wrapping it: an Electrum slip line
/// (64 bytes) with its prefix, or a voucher line; longer text is wrapped
/// at this length first.
const LINE_BUF: usize = 96;

/// A character size, 1–[`MAX_SCALE`] times the normal width and height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Width multiple.
    pub width: u8,
    /// Height multiple.
    pub height: u8,
}

impl Scale {
    /// Normal characters.
    pub const NORMAL: Self = Self {
        width: 1,
        height: 1,
    };

    /// An Electrum line's scale factors, rounded to whole multiples (a
    /// printer has no fractional sizes) within 1–[`MAX_SCALE`].
    pub fn of(line: &SlipLine) -> Self {
        let whole = |h: crate::electrum::wire::Hundredths| {
            let rounded = (h.get().saturating_add(50)) / 100;
            rounded.clamp(1, i32::from(MAX_SCALE)) as u8
        };
        Self {
            width: whole(line.width_scale()),
            height: whole(line.height_scale()),
        }
    }
}

/// A barcode's symbology, as a printer knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symbology {
    /// Interleaved 2 of 5 (Electrum's `ITF`): an even number of digits.
    Itf,
    /// Code 128 (code set B): any printable ASCII; what any other
    /// symbology, or data ITF cannot carry, is printed as.
    Code128,
}

impl Symbology {
    /// The symbology for Electrum's `encoding` and `data`.
    pub fn of(encoding: Option<&str>, data: &str) -> Self {
        let itf = encoding.is_some_and(|e| e.eq_ignore_ascii_case("ITF"));
        if itf
            && !data.is_empty()
            && data.len().is_multiple_of(2)
            && data.bytes().all(|b| b.is_ascii_digit())
        {
            Self::Itf
        } else {
            Self::Code128
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Itf => "ITF",
            Self::Code128 => "CODE128",
        }
    }
}

/// A fixed-width printer: what a slip's layout is written to. Every line
/// it is given fits its columns at the line's scale.
pub trait Printer {
    /// Characters per line at normal width.
    fn columns(&self) -> usize;
    /// One line of text.
    fn text(&mut self, line: &str, scale: Scale) -> fmt::Result;
    /// A solid line across the paper.
    fn rule(&mut self) -> fmt::Result;
    /// A barcode of `data` (printable ASCII).
    fn barcode(&mut self, symbology: Symbology, data: &str) -> fmt::Result;
    /// Cut the paper here.
    fn cut(&mut self) -> fmt::Result;
}

/// Something a slip can be printed as.
pub trait Render {
    /// Lay the slip out on `printer`.
    fn render(&self, printer: &mut dyn Printer) -> fmt::Result;
}

/// Print `slip` on `printer`, and cut after it (every slip ends with its
/// money line, so the cut is never doubled).
pub fn print(slip: &dyn Render, printer: &mut dyn Printer) -> fmt::Result {
    slip.render(printer)?;
    printer.cut()
}

/// The layout: text written to it (`write!`) is split into lines and
/// wrapped at the printer's columns; hinted lines, rules, barcodes and
/// cuts go to the printer in order.
struct Layout<'p> {
    printer: &'p mut dyn Printer,
    /// Columns in use: the printer's, or fewer when the slip asks.
    columns: usize,
    line: String<LINE_BUF>,
}

impl<'p> Layout<'p> {
    fn new(printer: &'p mut dyn Printer) -> Self {
        let columns = printer.columns().max(1);
        Self {
            printer,
            columns,
            line: String::new(),
        }
    }

    /// Print `text` at `scale`, wrapped: at a space where one falls inside
    /// the line, else at the last character that fits.
    fn wrapped(&mut self, text: &str, scale: Scale) -> fmt::Result {
        let fit = (self.columns / usize::from(scale.width.max(1))).max(1);
        let mut rest = text.trim_ascii_end();
        loop {
            let Some((end, _)) = rest.char_indices().nth(fit) else {
                return self.printer.text(rest, scale);
            };
            // ASCII search: a space is one byte, never inside a character.
            let space = rest
                .as_bytes()
                .get(..=end)
                .and_then(|head| head.iter().rposition(|&b| b == b' '));
            let cut = match space {
                Some(space) if space > 0 => space,
                _ => end,
            };
            let Some((head, tail)) = rest.split_at_checked(cut) else {
                return self.printer.text(rest, scale);
            };
            self.printer.text(head.trim_ascii_end(), scale)?;
            rest = tail.trim_ascii_start();
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// End the text line being written, if any.
    fn flush(&mut self) -> fmt::Result {
        if self.line.is_empty() {
            return Ok(());
        }
        self.flush_line()
    }

    /// End the text line being written (an empty one too).
    fn flush_line(&mut self) -> fmt::Result {
        let line = core::mem::take(&mut self.line);
        self.wrapped(&line, Scale::NORMAL)
    }

    fn styled(&mut self, text: &str, scale: Scale) -> fmt::Result {
        self.flush()?;
        self.wrapped(text, scale)
    }

    fn rule(&mut self) -> fmt::Result {
        self.flush()?;
        self.printer.rule()
    }

    fn cut(&mut self) -> fmt::Result {
        self.flush()?;
        self.printer.cut()
    }

    fn barcode(&mut self, encoding: Option<&str>, data: &str) -> fmt::Result {
        self.flush()?;
        self.printer.barcode(Symbology::of(encoding, data), data)
    }
}

impl fmt::Write for Layout<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut lines = s.split('\n');
        let mut part = lines.next().unwrap_or_default();
        loop {
            if self.line.push_str(part).is_err() {
                // Longer than the buffer: what it holds is wrapped first,
                // then the part on its own.
                self.flush()?;
                self.wrapped(part, Scale::NORMAL)?;
            }
            match lines.next() {
                // A newline ended the part: the line is complete.
                Some(next) => {
                    self.flush_line()?;
                    part = next;
                }
                None => return Ok(()),
            }
        }
    }
}

/// A text printer over `out`: one line per `\n` (none after the last),
/// a double-width line spaced out, a rule of `-`, a barcode as its
/// symbology and code centred, a cut as a `8<` line.
pub struct TextPrinter<W> {
    /// Where the text goes.
    pub out: W,
    /// Characters per line.
    pub columns: usize,
    started: bool,
}

impl<W: fmt::Write> TextPrinter<W> {
    /// A text printer of `columns` over `out`.
    pub const fn new(out: W, columns: usize) -> Self {
        Self {
            out,
            columns,
            started: false,
        }
    }

    fn begin_line(&mut self) -> fmt::Result {
        if self.started {
            self.out.write_char('\n')?;
        }
        self.started = true;
        Ok(())
    }

    fn repeat(&mut self, c: char, n: usize) -> fmt::Result {
        (0..n).try_for_each(|_| self.out.write_char(c))
    }
}

impl<W: fmt::Write> Printer for TextPrinter<W> {
    fn columns(&self) -> usize {
        self.columns
    }

    fn text(&mut self, line: &str, scale: Scale) -> fmt::Result {
        self.begin_line()?;
        if scale.width <= 1 {
            return self.out.write_str(line);
        }
        // Each character, then the spaces its width takes.
        let pad = usize::from(scale.width - 1);
        for (i, c) in line.chars().enumerate() {
            if i > 0 {
                self.repeat(' ', pad)?;
            }
            self.out.write_char(c)?;
        }
        Ok(())
    }

    fn rule(&mut self) -> fmt::Result {
        self.begin_line()?;
        self.repeat('-', self.columns)
    }

    fn barcode(&mut self, symbology: Symbology, data: &str) -> fmt::Result {
        self.begin_line()?;
        let width = symbology.name().len() + 3 + data.chars().count();
        self.repeat(' ', self.columns.saturating_sub(width) / 2)?;
        write!(self.out, "[{}] {data}", symbology.name())
    }

    fn cut(&mut self) -> fmt::Result {
        self.begin_line()?;
        self.out.write_str("8<")?;
        self.repeat('-', self.columns.saturating_sub(2))
    }
}

/// Where ESC/POS bytes go.
pub trait ByteSink {
    /// Append `bytes`; `Err` when there is no room (nothing more is
    /// written).
    fn bytes(&mut self, bytes: &[u8]) -> fmt::Result;
}

impl<const N: usize> ByteSink for heapless::Vec<u8, N> {
    fn bytes(&mut self, bytes: &[u8]) -> fmt::Result {
        self.extend_from_slice(bytes).map_err(|_| fmt::Error)
    }
}

/// An ESC/POS thermal printer (Epson's command set, as most receipt
/// printers speak it): `ESC @` first, `GS !` for a line's size, `GS k`
/// (format 2) for barcodes with their text below, `GS V` to feed and cut.
/// Text outside ASCII is printed as `?` (the printer's code page is not
/// known here).
pub struct EscPos<S> {
    /// Where the bytes go.
    pub sink: S,
    /// Characters per line (see [`COLUMNS_58MM`], [`COLUMNS_80MM`]).
    pub columns: usize,
    started: bool,
}

/// ESC/POS commands.
mod esc {
    pub const INIT: &[u8] = &[0x1b, b'@'];
    /// `GS ! n`: character size.
    pub const SIZE: [u8; 2] = [0x1d, b'!'];
    /// `GS H 2`: barcode text below the bars.
    pub const HRI_BELOW: &[u8] = &[0x1d, b'H', 2];
    /// `GS h 80`: bars 80 dots high.
    pub const BAR_HEIGHT: &[u8] = &[0x1d, b'h', 80];
    /// `GS k m n`: a barcode of format 2.
    pub const BARCODE: [u8; 2] = [0x1d, b'k'];
    /// `m` of ITF in format 2.
    pub const ITF: u8 = 70;
    /// `m` of CODE128 in format 2 (data prefixed with `{B`: code set B).
    pub const CODE128: u8 = 73;
    /// `GS V 66 0`: feed to the cutter and cut (partial).
    pub const CUT: &[u8] = &[0x1d, b'V', 66, 0];
}

impl<S: ByteSink> EscPos<S> {
    /// An ESC/POS printer of `columns` over `sink`.
    pub const fn new(sink: S, columns: usize) -> Self {
        Self {
            sink,
            columns,
            started: false,
        }
    }

    fn begin(&mut self) -> fmt::Result {
        if !self.started {
            self.started = true;
            self.sink.bytes(esc::INIT)?;
        }
        Ok(())
    }

    fn size(&mut self, scale: Scale) -> fmt::Result {
        let w = scale.width.clamp(1, MAX_SCALE) - 1;
        let h = scale.height.clamp(1, MAX_SCALE) - 1;
        self.sink.bytes(&esc::SIZE)?;
        self.sink.bytes(&[(w << 4) | h])
    }
}

impl<S: ByteSink> Printer for EscPos<S> {
    fn columns(&self) -> usize {
        self.columns
    }

    fn text(&mut self, line: &str, scale: Scale) -> fmt::Result {
        self.begin()?;
        let scaled = scale != Scale::NORMAL;
        if scaled {
            self.size(scale)?;
        }
        for c in line.chars() {
            let byte = if c.is_ascii() && !c.is_ascii_control() {
                c as u8
            } else {
                b'?'
            };
            self.sink.bytes(&[byte])?;
        }
        self.sink.bytes(b"\n")?;
        if scaled {
            self.size(Scale::NORMAL)?;
        }
        Ok(())
    }

    fn rule(&mut self) -> fmt::Result {
        self.begin()?;
        (0..self.columns).try_for_each(|_| self.sink.bytes(b"-"))?;
        self.sink.bytes(b"\n")
    }

    fn barcode(&mut self, symbology: Symbology, data: &str) -> fmt::Result {
        self.begin()?;
        let (m, prefix): (u8, &[u8]) = match symbology {
            Symbology::Itf => (esc::ITF, b""),
            Symbology::Code128 => (esc::CODE128, b"{B"),
        };
        // Code set B carries printable ASCII; anything else is `?`.
        let len = u8::try_from(prefix.len() + data.len()).map_err(|_| fmt::Error)?;
        self.sink.bytes(esc::HRI_BELOW)?;
        self.sink.bytes(esc::BAR_HEIGHT)?;
        self.sink.bytes(&esc::BARCODE)?;
        self.sink.bytes(&[m, len])?;
        self.sink.bytes(prefix)?;
        for b in data.bytes() {
            let byte = if (0x20..0x7f).contains(&b) { b } else { b'?' };
            self.sink.bytes(&[byte])?;
        }
        self.sink.bytes(b"\n")
    }

    fn cut(&mut self) -> fmt::Result {
        self.begin()?;
        self.sink.bytes(esc::CUT)
    }
}

/// A slip as text at [`CONSOLE_COLUMNS`]: what `Display` shows.
fn display(slip: &dyn Render, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    slip.render(&mut TextPrinter::new(f, CONSOLE_COLUMNS))
}

/// The slip of a bill payment, under a title.
#[derive(Debug, Clone, Copy)]
pub struct BillSlip<'a>(pub &'a str, pub &'a BillOutcome);

/// The receipt of a MoMo payment.
#[derive(Debug, Clone, Copy)]
pub struct MomoSlip<'a>(pub &'a PaymentOutcome);

/// The slip of an Electrum sale, under a title: Electrum's own slip lines
/// with their hints, the voucher PIN, serial, expiry and instructions.
#[derive(Debug, Clone, Copy)]
pub struct SaleSlip<'a>(pub &'a str, pub &'a SaleOutcome);

/// The last line of every slip: what happened to the customer's money.
#[derive(Debug, Clone, Copy)]
pub struct MoneyLine(pub Money);

impl fmt::Display for MoneyLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Money::Charged => "Customer    CHARGED",
            Money::NotCharged => "Customer    NOT CHARGED - return the tender",
            Money::Pending => "Customer    PENDING - keep the tender",
        })
    }
}

impl Render for BillSlip<'_> {
    fn render(&self, printer: &mut dyn Printer) -> fmt::Result {
        let BillSlip(title, outcome) = *self;
        let f = &mut Layout::new(printer);
        writeln!(f, "{title}")?;
        match outcome {
            BillOutcome::Completed(t) | BillOutcome::Cancelled(t) => {
                writeln!(f, "Transaction {}", t.id)?;
                if let Some(reference) = &t.external_reference {
                    writeln!(f, "Reference   {reference}")?;
                }
                match t.amount.as_ref().and_then(|m| m.to_amount().ok()) {
                    Some(amount) => writeln!(f, "Amount      {amount}")?,
                    None => writeln!(f, "Amount      -")?,
                }
                writeln!(f, "Status      {}", t.status)?;
            }
            BillOutcome::Refused { step, status, code } => {
                writeln!(f, "NOT PAID: refused at {step}")?;
                if let Some(status) = status {
                    writeln!(f, "HTTP        {}", status.0)?;
                }
                if let Some(code) = code {
                    writeln!(f, "Code        {code}")?;
                }
            }
            BillOutcome::Pending(record) => {
                writeln!(f, "PENDING: the outcome is not final yet")?;
                writeln!(f, "Outbox      {}", record.key)?;
            }
        }
        writeln!(f, "{}", MoneyLine(outcome.money()))
    }
}

impl Render for MomoSlip<'_> {
    fn render(&self, printer: &mut dyn Printer) -> fmt::Result {
        let f = &mut Layout::new(printer);
        writeln!(f, "MoMo payment")?;
        match self.0 {
            PaymentOutcome::Successful {
                reference_id,
                financial_transaction_id,
            } => {
                writeln!(f, "Reference   {reference_id}")?;
                if let Some(id) = financial_transaction_id {
                    writeln!(f, "MoMo txn    {id}")?;
                }
                writeln!(f, "Status      SUCCESSFUL")?;
            }
            PaymentOutcome::Failed {
                reference_id,
                reason,
            } => {
                writeln!(f, "Reference   {reference_id}")?;
                writeln!(f, "Status      FAILED")?;
                match reason {
                    Some(reason) => writeln!(f, "Reason      {reason}")?,
                    None => writeln!(f, "Reason      (none given)")?,
                }
            }
            PaymentOutcome::Refused(refusal) => writeln!(f, "REFUSED     {refusal}")?,
            PaymentOutcome::Pending { reference_id, .. } => {
                writeln!(f, "Reference   {reference_id}")?;
                writeln!(f, "PENDING: the outbox keeps asking MoMo")?;
            }
        }
        writeln!(f, "{}", MoneyLine(self.0.money()))
    }
}

/// Electrum's slip lines with their hints, within the slip width it asks
/// for (when narrower than the paper), then its issuer reference.
fn electrum_lines(f: &mut Layout<'_>, slip: &SlipData) -> fmt::Result {
    let paper = f.columns;
    if let Some(width) = slip.slip_width.and_then(|w| usize::try_from(w).ok()) {
        if width > 0 {
            f.columns = width.min(paper);
        }
    }
    for line in slip.lines() {
        if let Some(barcode) = &line.barcode {
            f.barcode(barcode.encoding.as_deref(), barcode.data.as_str())?;
        }
        let text = line.text.as_str();
        // An empty line is a spacer, unless it only carries a barcode, a
        // rule or a cut.
        let carries = line.barcode.is_some() || line.line == Some(true) || line.cut == Some(true);
        if !text.trim_ascii().is_empty() || !carries {
            f.styled(text, Scale::of(line))?;
        }
        if line.line == Some(true) {
            f.rule()?;
        }
        if line.cut == Some(true) {
            f.cut()?;
        }
    }
    f.columns = paper;
    if let Some(reference) = &slip.issuer_reference {
        writeln!(f, "Issuer ref  {reference}")?;
    }
    Ok(())
}

/// The voucher: PIN (double width, the customer types it), serial,
/// expiry date, the redeem instructions.
fn voucher_lines(f: &mut Layout<'_>, voucher: &Voucher) -> fmt::Result {
    if let Some(pin) = &voucher.pin {
        writeln!(f, "PIN")?;
        let double = Scale {
            width: 2,
            height: 2,
        };
        f.styled(pin.as_str(), double)?;
    }
    writeln!(f, "Serial      {}", voucher.serial_number)?;
    if let Some(expiry) = &voucher.expiry_date {
        let mut text: String<40> = String::new();
        write!(text, "{expiry}")?;
        // The date: the first 10 characters of RFC 3339.
        writeln!(f, "Expires     {}", text.get(..10).unwrap_or_default())?;
    }
    for line in voucher.instructions() {
        writeln!(f, "{}", line.as_str())?;
    }
    Ok(())
}

impl Render for SaleSlip<'_> {
    fn render(&self, printer: &mut dyn Printer) -> fmt::Result {
        let SaleSlip(title, outcome) = *self;
        let f = &mut Layout::new(printer);
        writeln!(f, "{title}")?;
        match outcome {
            SaleOutcome::Sold { sold, confirmation } => {
                let (slip, voucher) = match sold {
                    Sold::Purchase(p) => (p.slip_data.as_ref(), p.voucher.as_ref()),
                    Sold::Voucher(v) => (v.slip_data.as_ref(), Some(&v.voucher)),
                };
                if let Some(voucher) = voucher {
                    voucher_lines(f, voucher)?;
                }
                if let Some(slip) = slip {
                    f.rule()?;
                    electrum_lines(f, slip)?;
                    f.rule()?;
                }
                match confirmation {
                    Confirmation::Confirmed => writeln!(f, "Confirmed   yes")?,
                    Confirmation::Pending(_) => writeln!(f, "Confirmed   pending (outbox)")?,
                    Confirmation::NeedsAttention(record) => {
                        writeln!(f, "Confirmed   NO: refused by Electrum")?;
                        attention(f, record)?;
                    }
                }
            }
            SaleOutcome::NotSold(why) => match why {
                NotSold::Declined(status, Some(e)) => writeln!(f, "DECLINED    {} {e}", status.0)?,
                NotSold::Declined(status, None) => writeln!(f, "DECLINED    {}", status.0)?,
                NotSold::Reversed => writeln!(f, "NOT SOLD: outcome unknown, reversed")?,
                NotSold::Unreachable => writeln!(f, "NOT SOLD: Electrum unreachable")?,
                NotSold::Invalid(e) => writeln!(f, "NOT SOLD: invalid request ({e})")?,
            },
            SaleOutcome::Pending(record) if record.attention.is_some() => {
                writeln!(f, "PENDING: outcome unknown; the reversal was refused")?;
                attention(f, record)?;
            }
            SaleOutcome::Pending(record) => {
                writeln!(f, "PENDING: outcome unknown; the reversal is in the outbox")?;
                writeln!(f, "Outbox      {}", record.key)?;
            }
        }
        writeln!(f, "{}", MoneyLine(outcome.money()))
    }
}

/// The lines of a slip whose record was set aside for an operator.
fn attention(f: &mut Layout<'_>, record: &crate::outbox::Record) -> fmt::Result {
    let status = record.attention.map_or(0, |a| a.status);
    writeln!(
        f,
        "NEEDS ATTENTION: final answer {status}; call the provider"
    )?;
    writeln!(f, "Outbox      {} (set aside)", record.key)
}

impl fmt::Display for BillSlip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display(self, f)
    }
}

impl fmt::Display for MomoSlip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display(self, f)
    }
}

impl fmt::Display for SaleSlip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display(self, f)
    }
}
