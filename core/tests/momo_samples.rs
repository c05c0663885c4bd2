//! The JSON bodies of the MoMo CreatePayments document (`data/momo/`, cut
//! from ../shared/specs/momo-collection-v2-create-payments.txt).

mod support;

use support::{decode_err, round_trip};
use till_core::json::DecodeError;
use till_core::momo::error::{ErrorBody, ErrorReason};
use till_core::momo::wire::CreatePaymentsRequest;

#[test]
fn error_bodies() {
    let conflict: ErrorBody = round_trip("momo/error_409_resource_already_exist.json", &[]);
    assert_eq!(conflict.code, ErrorReason::ResourceAlreadyExist);
    let bad: ErrorBody = round_trip("momo/error_400_payee_not_found.json", &[]);
    assert_eq!(bad.code, ErrorReason::PayeeNotFound);
    let internal: ErrorBody = round_trip("momo/error_500_internal_processing_error.json", &[]);
    assert_eq!(internal.code, ErrorReason::InternalProcessingError);
}

/// The document's request body is a template ("amount": "string"), not a
/// sample: it must be refused, because "string" is not an amount.
#[test]
fn request_template_is_refused() {
    assert_eq!(
        decode_err::<CreatePaymentsRequest>("momo/create_payments_request_template.json"),
        DecodeError::Invalid
    );
    // The same body with a real amount is accepted.
    let body = String::from_utf8(support::data("momo/create_payments_request_template.json"))
        .unwrap()
        .replace("\"amount\": \"string\"", "\"amount\": \"100\"")
        .replace("\"currency\": \"string\"", "\"currency\": \"EUR\"");
    let req: CreatePaymentsRequest = till_core::json::decode(body.as_bytes()).unwrap();
    assert_eq!(req.money.amount.to_string(), "100");
    assert_eq!(req.customer_reference.as_str(), "String(661551442)");
}
