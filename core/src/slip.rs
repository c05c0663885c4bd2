//! Slips and receipts: what the terminal prints for the customer, as
//! `Display` values (one line per `\n`), so the firmware writes them to its
//! console and printer without a heap and the desktop prints the same.
//!
//! Account numbers and MSISDNs never appear; a voucher's PIN is printed in
//! full, because the slip is how the customer gets it.

use core::fmt;

use crate::conductor::flow::BillOutcome;
use crate::electrum::flow::{Confirmation, NotSold, SaleOutcome, Sold};
use crate::flow::Money;
use crate::momo::flow::PaymentOutcome;

/// The slip of a bill payment, under a title.
#[derive(Debug, Clone, Copy)]
pub struct BillSlip<'a>(pub &'a str, pub &'a BillOutcome);

/// The receipt of a MoMo payment.
#[derive(Debug, Clone, Copy)]
pub struct MomoSlip<'a>(pub &'a PaymentOutcome);

/// The slip of an Electrum sale, under a title: Electrum's own slip lines,
/// the voucher PIN and serial.
#[derive(Debug, Clone, Copy)]
pub struct SaleSlip<'a>(pub &'a str, pub &'a SaleOutcome);

/// The last line of every slip: what happened to the customer's money.
#[derive(Debug, Clone, Copy)]
pub struct MoneyLine(pub Money);

impl fmt::Display for MoneyLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Money::Charged => "Customer     CHARGED",
            Money::NotCharged => "Customer     NOT CHARGED - return the tender",
            Money::Pending => "Customer     PENDING - keep the tender until settled",
        })
    }
}

impl fmt::Display for BillSlip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let BillSlip(title, outcome) = *self;
        writeln!(f, "{title}")?;
        match outcome {
            BillOutcome::Completed(t) | BillOutcome::Cancelled(t) => {
                writeln!(f, "Transaction  {}", t.id)?;
                if let Some(reference) = &t.external_reference {
                    writeln!(f, "Reference    {reference}")?;
                }
                match t.amount.as_ref().and_then(|m| m.to_amount().ok()) {
                    Some(amount) => writeln!(f, "Amount       {amount}")?,
                    None => writeln!(f, "Amount       -")?,
                }
                writeln!(f, "Status       {}", t.status)?;
            }
            BillOutcome::Refused { step, status, code } => {
                writeln!(f, "NOT PAID: refused at {step}")?;
                if let Some(status) = status {
                    writeln!(f, "HTTP         {}", status.0)?;
                }
                if let Some(code) = code {
                    writeln!(f, "Code         {code}")?;
                }
            }
            BillOutcome::Pending(record) => {
                writeln!(f, "PENDING: the outcome is not final yet")?;
                writeln!(f, "Outbox       {}", record.key)?;
            }
        }
        write!(f, "{}", MoneyLine(outcome.money()))
    }
}

impl fmt::Display for MomoSlip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "MoMo payment")?;
        match self.0 {
            PaymentOutcome::Successful {
                reference_id,
                financial_transaction_id,
            } => {
                writeln!(f, "Reference    {reference_id}")?;
                if let Some(id) = financial_transaction_id {
                    writeln!(f, "MoMo txn     {id}")?;
                }
                writeln!(f, "Status       SUCCESSFUL")?;
            }
            PaymentOutcome::Failed {
                reference_id,
                reason,
            } => {
                writeln!(f, "Reference    {reference_id}")?;
                writeln!(f, "Status       FAILED")?;
                match reason {
                    Some(reason) => writeln!(f, "Reason       {reason}")?,
                    None => writeln!(f, "Reason       (none given)")?,
                }
            }
            PaymentOutcome::Refused(refusal) => writeln!(f, "REFUSED      {refusal}")?,
            PaymentOutcome::Pending { reference_id, .. } => {
                writeln!(f, "Reference    {reference_id}")?;
                writeln!(f, "PENDING: the outbox keeps asking MoMo")?;
            }
        }
        write!(f, "{}", MoneyLine(self.0.money()))
    }
}

impl fmt::Display for SaleSlip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SaleSlip(title, outcome) = *self;
        writeln!(f, "{title}")?;
        match outcome {
            SaleOutcome::Sold { sold, confirmation } => {
                let (slip, voucher) = match sold {
                    Sold::Purchase(p) => (p.slip_data.as_ref(), p.voucher.as_ref()),
                    Sold::Voucher(v) => (v.slip_data.as_ref(), Some(&v.voucher)),
                };
                if let Some(slip) = slip {
                    for line in slip.lines() {
                        writeln!(f, "| {}", line.text.as_str())?;
                    }
                }
                if let Some(voucher) = voucher {
                    if let Some(pin) = &voucher.pin {
                        writeln!(f, "PIN          {}", pin.as_str())?;
                    }
                    writeln!(f, "Serial       {}", voucher.serial_number)?;
                    for line in voucher.instructions() {
                        writeln!(f, "| {}", line.as_str())?;
                    }
                }
                match confirmation {
                    Confirmation::Confirmed => writeln!(f, "Confirmed    yes")?,
                    Confirmation::Pending(_) => {
                        writeln!(f, "Confirmed    pending (in the outbox)")?
                    }
                    Confirmation::NeedsAttention(record) => {
                        writeln!(f, "Confirmed    NO: refused by Electrum")?;
                        Attention(record).fmt(f)?;
                    }
                }
            }
            SaleOutcome::NotSold(why) => match why {
                NotSold::Declined(status, Some(e)) => writeln!(f, "DECLINED     {} {e}", status.0)?,
                NotSold::Declined(status, None) => writeln!(f, "DECLINED     {}", status.0)?,
                NotSold::Reversed => writeln!(f, "NOT SOLD: outcome unknown, reversed")?,
                NotSold::Unreachable => writeln!(f, "NOT SOLD: Electrum unreachable")?,
                NotSold::Invalid(e) => writeln!(f, "NOT SOLD: invalid request ({e})")?,
            },
            SaleOutcome::Pending(record) if record.attention.is_some() => {
                writeln!(f, "PENDING: outcome unknown; the reversal was refused")?;
                Attention(record).fmt(f)?;
            }
            SaleOutcome::Pending(record) => {
                writeln!(f, "PENDING: outcome unknown; the reversal is in the outbox")?;
                writeln!(f, "Outbox       {}", record.key)?;
            }
        }
        write!(f, "{}", MoneyLine(outcome.money()))
    }
}

/// The lines of a slip whose record was set aside for an operator.
struct Attention<'a>(&'a crate::outbox::Record);

impl fmt::Display for Attention<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.0.attention.map_or(0, |a| a.status);
        writeln!(
            f,
            "NEEDS ATTENTION: final answer {status}; call the provider"
        )?;
        writeln!(f, "Outbox       {} (set aside)", self.0.key)
    }
}
