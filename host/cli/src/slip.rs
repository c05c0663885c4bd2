//! Slips and receipts, as lines: till-core's [`till_core::slip`] renders
//! them (the firmware prints the same), this splits them for the console.

use till_core::conductor::flow::BillOutcome;
use till_core::electrum::flow::SaleOutcome;
use till_core::momo::flow::PaymentOutcome;
use till_core::slip::{BillSlip, MomoSlip, SaleSlip};

fn lines(slip: impl std::fmt::Display) -> Vec<String> {
    slip.to_string().lines().map(str::to_owned).collect()
}

/// The slip of a bill payment.
pub fn bill(title: &str, outcome: &BillOutcome) -> Vec<String> {
    lines(BillSlip(title, outcome))
}

/// The receipt of a MoMo payment.
pub fn momo(outcome: &PaymentOutcome) -> Vec<String> {
    lines(MomoSlip(outcome))
}

/// The slip of an Electrum sale.
pub fn sale(title: &str, outcome: &SaleOutcome) -> Vec<String> {
    lines(SaleSlip(title, outcome))
}
