//! The slip renderer against the Electrum samples and against a slip that
//! carries every hint the interface defines (scales, rule, cut, barcode,
//! slip width, issuer reference). The expected slips are written out by
//! hand here, from the samples and the printer model — not produced by the
//! renderer and pasted back.

mod support;

use till_core::electrum::flow::{Confirmation, SaleOutcome, Sold};
use till_core::electrum::wire::{PurchaseResponse, SlipData, VoucherResponse};
use till_core::json;
use till_core::slip::{self, EscPos, Printer, SaleSlip, Scale, Symbology, TextPrinter};

fn purchase() -> PurchaseResponse {
    json::decode(&support::data(
        "electrum/test-pack-samples/PurchaseResponse.json",
    ))
    .expect("the test pack's PurchaseResponse decodes")
}

fn voucher() -> VoucherResponse {
    json::decode(&support::data(
        "electrum/test-pack-samples/VoucherResponse.json",
    ))
    .expect("the test pack's VoucherResponse decodes")
}

fn sold(sold: Sold) -> SaleOutcome {
    SaleOutcome::Sold {
        sold,
        confirmation: Confirmation::Confirmed,
    }
}

/// The slip printed as text on a printer of `columns`, cut included.
fn text(slip: &SaleSlip<'_>, columns: usize) -> String {
    let mut out = String::new();
    slip::print(slip, &mut TextPrinter::new(&mut out, columns)).expect("printed");
    out
}

#[test]
fn the_test_pack_purchase_prints_its_voucher_and_slip_lines_on_58mm_paper() {
    let outcome = sold(Sold::Purchase(purchase()));
    let expected = "\
Airtime
PIN
1 2 5 8 0 5 2 9 3 9 4 1
Serial      189257261772
Expires     2018-07-19
To redeem your airtime
enter the USSD code below:
*999*<pin>#
--------------------------------
For any queries please
contact your network
operator.
--------------------------------
Confirmed   yes
Customer    CHARGED
8<------------------------------";
    assert_eq!(
        text(&SaleSlip("Airtime", &outcome), slip::COLUMNS_58MM),
        expected
    );
}

#[test]
fn the_test_pack_voucher_wraps_its_money_line_at_32_columns() {
    let mut response = voucher();
    // The sample's PIN ("70") and serial as they are; the lines as well.
    response.voucher.redeem_instructions = None;
    let outcome = sold(Sold::Voucher(response));
    let expected = "\
Voucher
PIN
7 0
Serial      19850353552
Expires     2016-11-09
--------------------------------
For any queries please
contact your network
operator.
--------------------------------
Confirmed   yes
Customer    CHARGED
8<------------------------------";
    assert_eq!(
        text(&SaleSlip("Voucher", &outcome), slip::COLUMNS_58MM),
        expected
    );
    // Not charged: the money line is wider than 32 columns and wraps at
    // a space.
    let declined = SaleOutcome::NotSold(till_core::electrum::flow::NotSold::Unreachable);
    assert_eq!(
        text(&SaleSlip("Voucher", &declined), slip::COLUMNS_58MM),
        "\
Voucher
NOT SOLD: Electrum unreachable
Customer    NOT CHARGED - return
the tender
8<------------------------------"
    );
}

/// A slip with every hint: double size, a rule, a barcode, a wrapped line
/// that cuts, a half-scale line (printed at 1), the slip width and the
/// issuer's reference.
fn hinted() -> PurchaseResponse {
    let slip: SlipData = json::decode(
        br#"{
            "messageLines": [
                {"text": "MTN AIRTIME", "fontWidthScaleFactor": 2.0, "fontHeightScaleFactor": 2.0},
                {"text": "", "line": true},
                {"text": "Voucher number", "barcode": {"data": "0123456789", "encoding": "ITF"}},
                {"text": "A long line of text that is wider than the slip width", "cut": true},
                {"text": "Half size", "fontWidthScaleFactor": 0.5}
            ],
            "slipWidth": 24,
            "issuerReference": "ABC123"
        }"#,
    )
    .expect("slip data decodes");
    let mut response = purchase();
    response.voucher = None;
    response.slip_data = Some(slip);
    response
}

#[test]
fn every_slip_hint_is_honoured_in_text() {
    let outcome = sold(Sold::Purchase(hinted()));
    let expected = "\
Airtime
--------------------------------
M T N   A I R T I M E
--------------------------------
        [ITF] 0123456789
Voucher number
A long line of text that
is wider than the slip
width
8<------------------------------
Half size
Issuer ref  ABC123
--------------------------------
Confirmed   yes
Customer    CHARGED
8<------------------------------";
    assert_eq!(
        text(&SaleSlip("Airtime", &outcome), slip::COLUMNS_58MM),
        expected
    );
}

#[test]
fn every_slip_hint_becomes_its_esc_pos_command() {
    let outcome = sold(Sold::Purchase(hinted()));
    let mut printer = EscPos::new(heapless::Vec::<u8, 1024>::new(), slip::COLUMNS_58MM);
    slip::print(&SaleSlip("Airtime", &outcome), &mut printer).expect("fits");
    let rule = [b'-'; 32];
    let mut expected: Vec<u8> = Vec::new();
    expected.extend(b"\x1b@Airtime\n");
    expected.extend(rule);
    expected.push(b'\n');
    // GS ! 0x11: double width and height; back to 0x00 after the line.
    expected.extend(b"\x1d!\x11MTN AIRTIME\n\x1d!\x00");
    expected.extend(rule);
    expected.push(b'\n');
    // Text below, 80 dots high, GS k 70 (ITF) with 10 digits.
    expected.extend(b"\x1dH\x02\x1dh\x50\x1dk\x46\x0a0123456789\n");
    expected.extend(b"Voucher number\n");
    expected.extend(b"A long line of text that\nis wider than the slip\nwidth\n");
    // GS V 66 0: feed and cut.
    expected.extend(b"\x1dVB\x00");
    expected.extend(b"Half size\nIssuer ref  ABC123\n");
    expected.extend(rule);
    expected.push(b'\n');
    expected.extend(b"Confirmed   yes\nCustomer    CHARGED\n\x1dVB\x00");
    assert_eq!(
        printer.sink.as_slice(),
        expected.as_slice(),
        "\n{:?}\n{:?}",
        String::from_utf8_lossy(&printer.sink),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn a_barcode_itf_cannot_carry_is_printed_as_code_128() {
    assert_eq!(Symbology::of(Some("ITF"), "0123456789"), Symbology::Itf);
    // Odd length and letters do not fit ITF; unknown symbologies neither.
    assert_eq!(Symbology::of(Some("ITF"), "012345678"), Symbology::Code128);
    assert_eq!(Symbology::of(Some("itf"), "12AB"), Symbology::Code128);
    assert_eq!(Symbology::of(Some("QR"), "1234"), Symbology::Code128);
    assert_eq!(Symbology::of(None, "1234"), Symbology::Code128);
    let mut printer = EscPos::new(heapless::Vec::<u8, 64>::new(), 32);
    printer.barcode(Symbology::Code128, "AB1").expect("fits");
    assert_eq!(
        printer.sink.as_slice(),
        b"\x1b@\x1dH\x02\x1dh\x50\x1dk\x49\x05{BAB1\n"
    );
}

#[test]
fn a_printer_that_runs_out_of_room_fails_instead_of_truncating_silently() {
    let outcome = sold(Sold::Purchase(purchase()));
    let mut printer = EscPos::new(heapless::Vec::<u8, 64>::new(), 32);
    assert!(slip::print(&SaleSlip("Airtime", &outcome), &mut printer).is_err());
    // Scales past the printer's range are clamped to 1-8, not wrapped.
    let line: till_core::electrum::wire::SlipLine = json::decode(
        br#"{"text": "x", "fontWidthScaleFactor": 12.0, "fontHeightScaleFactor": 0.0}"#,
    )
    .expect("line decodes");
    assert_eq!(
        Scale::of(&line),
        Scale {
            width: 8,
            height: 1
        }
    );
    // A wide line in text: each character followed by the width it takes.
    let mut text = String::new();
    let mut p = TextPrinter::new(&mut text, 32);
    p.text(
        "AB",
        Scale {
            width: 3,
            height: 1,
        },
    )
    .expect("text");
    assert_eq!(text, "A  B");
}
