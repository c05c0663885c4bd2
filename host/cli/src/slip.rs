//! Slips and receipts: till-core's [`till_core::slip`] renders them (the
//! firmware prints the same text); this splits the text into lines for the
//! console and prints the same slip as ESC/POS bytes for a thermal printer.

use till_core::conductor::flow::BillOutcome;
use till_core::electrum::flow::SaleOutcome;
use till_core::momo::flow::PaymentOutcome;
use till_core::slip::{BillSlip, ByteSink, EscPos, MomoSlip, Render, SaleSlip};

/// A slip as the desktop shows it and as a printer would print it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Printed {
    /// The text, one entry per line (what the console shows).
    pub lines: Vec<String>,
    /// The ESC/POS commands of an 80 mm printer, cut included.
    pub escpos: Vec<u8>,
}

struct Bytes(Vec<u8>);

impl ByteSink for Bytes {
    fn bytes(&mut self, bytes: &[u8]) -> std::fmt::Result {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

fn printed(slip: &(impl Render + std::fmt::Display)) -> Printed {
    let mut printer = EscPos::new(Bytes(Vec::new()), till_core::slip::COLUMNS_80MM);
    // Writing to a Vec cannot fail; a slip that could not be laid out is
    // still shown as text.
    let _ = till_core::slip::print(slip, &mut printer);
    Printed {
        lines: slip.to_string().lines().map(str::to_owned).collect(),
        escpos: printer.sink.0,
    }
}

/// The slip of a bill payment.
pub fn bill(title: &str, outcome: &BillOutcome) -> Printed {
    printed(&BillSlip(title, outcome))
}

/// The receipt of a MoMo payment.
pub fn momo(outcome: &PaymentOutcome) -> Printed {
    printed(&MomoSlip(outcome))
}

/// The slip of an Electrum sale.
pub fn sale(title: &str, outcome: &SaleOutcome) -> Printed {
    printed(&SaleSlip(title, outcome))
}
