//! Slips and receipts: what the terminal prints for the customer. Account
//! numbers and MSISDNs are masked as everywhere; a voucher's PIN is printed
//! in full, because the slip is how the customer gets it.

use till_core::conductor::flow::BillOutcome;
use till_core::electrum::flow::{Confirmation, NotSold, SaleOutcome, Sold};
use till_core::flow::Money;
use till_core::momo::flow::PaymentOutcome;

/// The slip of a bill payment.
pub fn bill(title: &str, outcome: &BillOutcome) -> Vec<String> {
    let mut lines = vec![title.to_string()];
    match outcome {
        BillOutcome::Completed(t) | BillOutcome::Cancelled(t) => {
            let amount = t
                .amount
                .as_ref()
                .and_then(|m| m.to_amount().ok())
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".into());
            lines.push(format!("Transaction  {}", t.id));
            if let Some(reference) = &t.external_reference {
                lines.push(format!("Reference    {reference}"));
            }
            lines.push(format!("Amount       {amount}"));
            lines.push(format!("Status       {}", t.status));
        }
        BillOutcome::Refused { step, status, code } => {
            lines.push(format!("NOT PAID: refused at {step:?}"));
            if let Some(status) = status {
                lines.push(format!("HTTP         {}", status.0));
            }
            if let Some(code) = code {
                lines.push(format!("Code         {code}"));
            }
        }
        BillOutcome::Pending(record) => {
            lines.push("PENDING: the outcome is not final yet".into());
            lines.push(format!("Outbox       {}", record.key));
        }
    }
    lines.push(money_line(outcome.money()));
    lines
}

/// The receipt of a MoMo payment.
pub fn momo(outcome: &PaymentOutcome) -> Vec<String> {
    let mut lines = vec!["MoMo payment".to_string()];
    match outcome {
        PaymentOutcome::Successful {
            reference_id,
            financial_transaction_id,
        } => {
            lines.push(format!("Reference    {reference_id}"));
            if let Some(id) = financial_transaction_id {
                lines.push(format!("MoMo txn     {id}"));
            }
            lines.push("Status       SUCCESSFUL".into());
        }
        PaymentOutcome::Failed {
            reference_id,
            reason,
        } => {
            lines.push(format!("Reference    {reference_id}"));
            lines.push("Status       FAILED".into());
            match reason {
                Some(reason) => lines.push(format!("Reason       {reason}")),
                None => lines.push("Reason       (none given)".into()),
            }
        }
        PaymentOutcome::Refused(refusal) => {
            lines.push(format!("REFUSED      {refusal:?}"));
        }
        PaymentOutcome::Pending { reference_id, .. } => {
            lines.push(format!("Reference    {reference_id}"));
            lines.push("PENDING: the outbox keeps asking MoMo".into());
        }
    }
    lines.push(money_line(outcome.money()));
    lines
}

/// The slip of an Electrum sale: Electrum's own slip lines when it sent
/// them, the voucher PIN and serial.
pub fn sale(title: &str, outcome: &SaleOutcome) -> Vec<String> {
    let mut lines = vec![title.to_string()];
    match outcome {
        SaleOutcome::Sold { sold, confirmation } => {
            let (slip, voucher) = match sold {
                Sold::Purchase(p) => (p.slip_data.as_ref(), p.voucher.as_ref()),
                Sold::Voucher(v) => (v.slip_data.as_ref(), Some(&v.voucher)),
            };
            if let Some(slip) = slip {
                for line in slip.lines() {
                    lines.push(format!("| {}", line.text.as_str()));
                }
            }
            if let Some(voucher) = voucher {
                if let Some(pin) = &voucher.pin {
                    lines.push(format!("PIN          {}", pin.as_str()));
                }
                lines.push(format!("Serial       {}", voucher.serial_number));
                for line in voucher.instructions() {
                    lines.push(format!("| {}", line.as_str()));
                }
            }
            lines.push(match confirmation {
                Confirmation::Confirmed => "Confirmed    yes".into(),
                Confirmation::Pending(_) => "Confirmed    pending (in the outbox)".into(),
            });
        }
        SaleOutcome::NotSold(why) => lines.push(match why {
            NotSold::Declined(status, error) => match error {
                Some(e) => format!("DECLINED     {} {e:?}", status.0),
                None => format!("DECLINED     {}", status.0),
            },
            NotSold::Reversed => "NOT SOLD: outcome unknown, reversed".into(),
            NotSold::Unreachable => "NOT SOLD: Electrum unreachable".into(),
            NotSold::Invalid(e) => format!("NOT SOLD: invalid request ({e:?})"),
        }),
        SaleOutcome::Pending(record) => {
            lines.push("PENDING: outcome unknown; the reversal is in the outbox".into());
            lines.push(format!("Outbox       {}", record.key));
        }
    }
    lines.push(money_line(outcome.money()));
    lines
}

fn money_line(money: Money) -> String {
    format!(
        "Customer     {}",
        match money {
            Money::Charged => "CHARGED",
            Money::NotCharged => "NOT CHARGED - return the tender",
            Money::Pending => "PENDING - keep the tender until settled",
        }
    )
}
