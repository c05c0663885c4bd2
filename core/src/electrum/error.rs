//! Electrum's `ErrorDetail`: the body of every 4xx/5xx answer, with the
//! `ErrorType` and `RequestType` codes (each with an `Unknown` catch-all).
//!
//! An error body must never fail to decode for want of a detail: only
//! `errorType` is required (the publisher's test server leaves out `id`
//! and `requestType` in its validation answers), the text members accept
//! any JSON value and are cut to their capacity, and `detailMessage` — a
//! free-form object — keeps only its `formatErrors[].msg` texts.

use crate::json::{Decode, DecodeError, Encode, EncodeError, Kind, Reader, Writer};
use heapless::{String, Vec};

use crate::code::UNKNOWN_CODE_CAP;
use crate::id::Uuid;
use crate::json::lenient::{lenient_text, truncate_text};

/// `id` and `originalId`: UUIDs (36 bytes) in every sample, although the
/// interface annotates `id` with a maximum of 20, which is not enforced.
pub const ERROR_ID_CAP: usize = 40;
/// `errorMessage` and `providerErrorMsg`: a short sentence ("Bad
/// formatting."); cut beyond 128 bytes.
pub const ERROR_MESSAGE_CAP: usize = 128;
/// `providerErrorCode` and `providerRef`: a provider's code or reference.
pub const PROVIDER_CODE_CAP: usize = 40;
/// `detailMessage.formatErrors[].msg`: `"<json.path> may not be null"`;
/// cut beyond 96 bytes.
pub const FORMAT_ERROR_MSG_CAP: usize = 96;
/// `detailMessage.formatErrors[]`: one per invalid field; the first four
/// are kept, the rest counted as truncated.
pub const MAX_FORMAT_ERRORS: usize = 4;

crate::code_enum! {
    /// `ErrorDetail.errorType`: what went wrong.
    pub enum ErrorType(UNKNOWN_CODE_CAP) {
        /// The request `id` was used before (generate a new one).
        DuplicateRecord = "DUPLICATE_RECORD",
        /// The request failed validation.
        FormatError = "FORMAT_ERROR",
        /// The operation is not supported.
        FunctionNotSupported = "FUNCTION_NOT_SUPPORTED",
        /// A general error.
        GeneralError = "GENERAL_ERROR",
        /// The amount is invalid.
        InvalidAmount = "INVALID_AMOUNT",
        /// The request could not be routed.
        RoutingError = "ROUTING_ERROR",
        /// The transaction is not supported.
        TransactionNotSupported = "TRANSACTION_NOT_SUPPORTED",
        /// The record the advice refers to does not exist.
        UnableToLocateRecord = "UNABLE_TO_LOCATE_RECORD",
        /// The upstream provider is unavailable.
        UpstreamUnavailable = "UPSTREAM_UNAVAILABLE",
        /// The product is invalid.
        InvalidProduct = "INVALID_PRODUCT",
        /// Already confirmed or reversed: final.
        AccountAlreadySettled = "ACCOUNT_ALREADY_SETTLED",
        /// The merchant is invalid.
        InvalidMerchant = "INVALID_MERCHANT",
        /// The product is out of stock.
        OutOfStock = "OUT_OF_STOCK",
        /// The AN32 token is invalid.
        InvalidAn32Token = "INVALID_AN32_TOKEN",
        /// Do not honour.
        DoNotHonor = "DO_NOT_HONOR",
        /// The network operator declined.
        DeclinedByMno = "DECLINED_BY_MNO",
        /// The MSISDN is invalid.
        InvalidMsisdn = "INVALID_MSISDN",
        /// The loyalty card is invalid.
        InvalidLoyaltyCard = "INVALID_LOYALTY_CARD",
        /// Insufficient funds.
        InsufficientFunds = "INSUFFICIENT_FUNDS",
        /// The card number is invalid.
        InvalidCardNumber = "INVALID_CARD_NUMBER",
        /// The card has expired.
        CardExpired = "CARD_EXPIRED",
        /// The PIN is incorrect.
        IncorrectPin = "INCORRECT_PIN",
        /// Too many PIN attempts.
        PinAttemptsExceeded = "PIN_ATTEMPTS_EXCEEDED",
        /// The outcome is unknown.
        OutcomeUnknown = "OUTCOME_UNKNOWN",
        /// A system malfunction.
        SystemMalfunction = "SYSTEM_MALFUNCTION",
        /// A limit was exceeded.
        LimitExceeded = "LIMIT_EXCEEDED",
    }
}

crate::code_enum! {
    /// `ErrorDetail.requestType`: the request that failed.
    pub enum RequestType(UNKNOWN_CODE_CAP) {
        /// Voucher provision.
        VoucherRequest = "VOUCHER_REQUEST",
        /// Voucher reversal.
        VoucherReversal = "VOUCHER_REVERSAL",
        /// Voucher confirmation.
        VoucherConfirmation = "VOUCHER_CONFIRMATION",
        /// Voucher void.
        VoucherVoid = "VOUCHER_VOID",
        /// MSISDN lookup.
        MsisdnInfoRequest = "MSISDN_INFO_REQUEST",
        /// Purchase.
        PurchaseRequest = "PURCHASE_REQUEST",
        /// Purchase confirmation.
        PurchaseConfirmation = "PURCHASE_CONFIRMATION",
        /// Purchase status.
        PurchaseStatusRequest = "PURCHASE_STATUS_REQUEST",
        /// Purchase reversal.
        PurchaseReversal = "PURCHASE_REVERSAL",
        /// Purchase trial.
        TrialPurchaseRequest = "TRIAL_PURCHASE_REQUEST",
        /// Product list.
        ListProductsRequest = "LIST_PRODUCTS_REQUEST",
    }
}

/// `ErrorDetail.detailMessage`: a free-form value. Any JSON value decodes;
/// only the `formatErrors[].msg` texts of an object are kept (cut to
/// [`FORMAT_ERROR_MSG_CAP`], at most [`MAX_FORMAT_ERRORS`]).
///
/// It re-encodes as an object: `{"formatErrors":[{"msg":…}]}` when format
/// errors were kept, `{}` otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DetailMessage {
    format_errors: Option<Vec<String<FORMAT_ERROR_MSG_CAP>, MAX_FORMAT_ERRORS>>,
    truncated: bool,
}

impl DetailMessage {
    /// An empty detail (`{}`).
    pub const fn new() -> Self {
        Self {
            format_errors: None,
            truncated: false,
        }
    }

    /// Add a format error message (the sandbox's validation answers); the
    /// text is cut to fit, and messages beyond the capacity are dropped.
    pub fn push_format_error(&mut self, msg: &str) {
        let (text, cut) = truncate_text(msg);
        self.truncated |= cut;
        let list = self.format_errors.get_or_insert_with(Vec::new);
        if list.push(text).is_err() {
            self.truncated = true;
        }
    }

    /// The kept `formatErrors[].msg` texts.
    pub fn format_errors(&self) -> impl Iterator<Item = &str> {
        self.format_errors.iter().flatten().map(String::as_str)
    }

    /// Whether a message was cut or dropped to fit.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl Encode for DetailMessage {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.begin_object()?;
        if let Some(list) = &self.format_errors {
            w.key("formatErrors")?;
            w.begin_array()?;
            for msg in list {
                w.begin_object()?;
                w.key("msg")?;
                w.str(msg)?;
                w.end_object()?;
            }
            w.end_array()?;
        }
        w.end_object()
    }
}

impl Decode for DetailMessage {
    /// Any JSON value: an object is searched for `formatErrors`, an array
    /// of `{ "msg": … }` whose string messages are kept; every other shape
    /// is consumed and kept as nothing.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut out = DetailMessage::new();
        if r.peek()? != Kind::Object {
            r.skip()?;
            return Ok(out);
        }
        r.object(&["formatErrors"], &mut |r, _| {
            if r.peek()? != Kind::Array {
                return r.skip();
            }
            out.format_errors.get_or_insert_with(Vec::new);
            r.array(&mut |r| {
                if r.peek()? != Kind::Object {
                    return r.skip();
                }
                r.object(&["msg"], &mut |r, _| {
                    let mut text = None::<String<FORMAT_ERROR_MSG_CAP>>;
                    lenient_text(r, &mut text)?;
                    if let Some(text) = text {
                        out.push_format_error(&text);
                    }
                    Ok(())
                })
                .map(|_| ())
            })
        })?;
        Ok(out)
    }
    fn placeholder() -> Self {
        Self::new()
    }
}

/// The body of an Electrum error answer.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// The UUID of this error detail (absent in the test server's
    /// validation answers).
    #[json(
        default,
        skip_serializing_if = "Option::is_none",
        decode_with = "lenient_text"
    )]
    pub id: Option<String<ERROR_ID_CAP>>,
    /// The UUID of the original request, when an advice failed.
    #[json(
        default,
        skip_serializing_if = "Option::is_none",
        decode_with = "lenient_text"
    )]
    pub original_id: Option<String<ERROR_ID_CAP>>,
    /// What went wrong.
    pub error_type: ErrorType,
    /// A short description.
    #[json(
        default,
        skip_serializing_if = "Option::is_none",
        decode_with = "lenient_text"
    )]
    pub error_message: Option<String<ERROR_MESSAGE_CAP>>,
    /// The request that failed.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub request_type: Option<RequestType>,
    /// Free-form detail; only format error texts are kept.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub detail_message: Option<DetailMessage>,
    /// The provider's own code (informational only).
    #[json(
        default,
        skip_serializing_if = "Option::is_none",
        decode_with = "lenient_text"
    )]
    pub provider_error_code: Option<String<PROVIDER_CODE_CAP>>,
    /// The provider's own message (informational only).
    #[json(
        default,
        skip_serializing_if = "Option::is_none",
        decode_with = "lenient_text"
    )]
    pub provider_error_msg: Option<String<ERROR_MESSAGE_CAP>>,
    /// The provider's reference.
    #[json(
        default,
        skip_serializing_if = "Option::is_none",
        decode_with = "lenient_text"
    )]
    pub provider_ref: Option<String<PROVIDER_CODE_CAP>>,
}

impl ErrorDetail {
    /// An error of `error_type` with nothing else (the sandbox fills in the
    /// rest).
    pub fn new(error_type: ErrorType) -> Self {
        Self {
            id: None,
            original_id: None,
            error_type,
            error_message: None,
            request_type: None,
            detail_message: None,
            provider_error_code: None,
            provider_error_msg: None,
            provider_ref: None,
        }
    }

    /// What went wrong.
    pub fn error_type(&self) -> &ErrorType {
        &self.error_type
    }

    /// `id` read as a UUID, if it is one.
    pub fn id_uuid(&self) -> Option<Uuid> {
        Uuid::parse(self.id.as_deref()?).ok()
    }

    /// `originalId` read as a UUID, if it is one.
    pub fn original_id_uuid(&self) -> Option<Uuid> {
        Uuid::parse(self.original_id.as_deref()?).ok()
    }

    /// The `detailMessage.formatErrors[].msg` texts, if any.
    pub fn format_errors(&self) -> impl Iterator<Item = &str> {
        self.detail_message
            .iter()
            .flat_map(DetailMessage::format_errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{self, DecodeError};
    use std::format;
    use std::string::ToString;
    use std::vec::Vec as StdVec;

    fn decode(body: &str) -> ErrorDetail {
        json::decode(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e:?}"))
    }

    #[test]
    fn test_server_validation_answer() {
        let e = decode(
            r#"{"errorType":"FORMAT_ERROR","errorMessage":"Bad formatting.","detailMessage":{"formatErrors":[{"msg":"originator.terminalId may not be null"},{"msg":"client may not be null"}]}}"#,
        );
        assert_eq!(e.error_type(), &ErrorType::FormatError);
        assert_eq!(
            e.format_errors().collect::<StdVec<_>>(),
            [
                "originator.terminalId may not be null",
                "client may not be null"
            ]
        );
        assert!(e.id.is_none() && e.request_type.is_none());
        let mut buf = [0u8; 512];
        let n = json::encode(&e, &mut buf).unwrap();
        assert_eq!(
            core::str::from_utf8(&buf[..n]).unwrap(),
            r#"{"errorType":"FORMAT_ERROR","errorMessage":"Bad formatting.","detailMessage":{"formatErrors":[{"msg":"originator.terminalId may not be null"},{"msg":"client may not be null"}]}}"#
        );
    }

    #[test]
    fn detail_message_of_any_shape() {
        for detail in [
            "{}",
            "[]",
            r#"[1,"a",{"b":null},[[]]]"#,
            r#""free text""#,
            "42",
            "-1.5e3",
            "true",
            "null",
            r#"{"confirmationId":"x","voucher":{"serialNumber":"1","redeemInstructions":[]},"freeString":"y"}"#,
            r#"{"formatErrors":"not an array"}"#,
            r#"{"formatErrors":{"msg":"an object"}}"#,
            r#"{"formatErrors":[1,"two",null,[],{"msg":3},{"other":"x"}]}"#,
            r#"{"formatErrors":null,"nested":{"formatErrors":[{"msg":"deeper"}]}}"#,
        ] {
            let e = decode(&format!(
                r#"{{"errorType":"GENERAL_ERROR","detailMessage":{detail},"errorMessage":"m"}}"#
            ));
            assert_eq!(e.format_errors().count(), 0, "{detail}");
            assert_eq!(e.error_message.as_deref(), Some("m"), "{detail}");
        }
        // Many long messages: cut and dropped, never refused.
        let long = "x".repeat(300);
        let list = (0..10)
            .map(|i| format!(r#"{{"msg":"{i}{long}","path":"a.b"}}"#))
            .collect::<StdVec<_>>()
            .join(",");
        let e = decode(&format!(
            r#"{{"errorType":"FORMAT_ERROR","detailMessage":{{"formatErrors":[{list}]}}}}"#
        ));
        let msgs = e.format_errors().collect::<StdVec<_>>();
        assert_eq!(msgs.len(), MAX_FORMAT_ERRORS);
        assert!(msgs.iter().all(|m| m.len() == FORMAT_ERROR_MSG_CAP));
        assert!(e.detail_message.as_ref().unwrap().is_truncated());
        // Escaped text is unescaped.
        let e = decode(
            r#"{"errorType":"FORMAT_ERROR","detailMessage":{"formatErrors":[{"msg":"a \"b\" \u00e9"}]}}"#,
        );
        assert_eq!(e.format_errors().next(), Some("a \"b\" \u{e9}"));
    }

    #[test]
    fn text_members_never_fail() {
        let e = decode(
            r#"{"id":12,"errorType":"SOMETHING_NEW","errorMessage":{"en":"x"},"requestType":"PURCHASE_REQUEST","providerErrorCode":9000,"providerErrorMsg":null,"providerRef":["r"]}"#,
        );
        assert!(!e.error_type().is_known());
        assert_eq!(e.request_type, Some(RequestType::PurchaseRequest));
        assert!(e.id.is_none() && e.error_message.is_none() && e.provider_error_code.is_none());
        let long = format!(
            r#"{{"errorType":"GENERAL_ERROR","errorMessage":"{}"}}"#,
            "é".repeat(200)
        );
        assert_eq!(
            decode(&long).error_message.unwrap().len(),
            ERROR_MESSAGE_CAP
        );
        // errorType is the one required member.
        assert_eq!(
            json::decode::<ErrorDetail>(br#"{"errorMessage":"x"}"#),
            Err(DecodeError::Invalid)
        );
    }

    #[test]
    fn ids_read_as_uuids() {
        let e = decode(
            r#"{"id":"dfc9dea0-f5cf-758d-6207-cb57fc7ddb16","originalId":"4def23bc-6640-1d84-1097-c812be497427","errorType":"ACCOUNT_ALREADY_SETTLED"}"#,
        );
        assert_eq!(
            e.original_id_uuid().unwrap().to_string(),
            "4def23bc-6640-1d84-1097-c812be497427"
        );
        assert!(e.id_uuid().is_some());
        assert!(ErrorDetail::new(ErrorType::GeneralError)
            .id_uuid()
            .is_none());
    }

    #[test]
    fn every_documented_code_round_trips() {
        assert_eq!(ErrorType::KNOWN.len(), 26);
        assert_eq!(RequestType::KNOWN.len(), 11);
        for code in ErrorType::KNOWN {
            assert_eq!(&ErrorType::from_code(code.as_str()), code);
        }
        for code in RequestType::KNOWN {
            assert_eq!(&RequestType::from_code(code.as_str()), code);
        }
    }
}
