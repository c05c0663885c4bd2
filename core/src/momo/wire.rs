//! MTN MoMo Collection v2.0 bodies: token, CreatePayments, payment status,
//! and the sandbox user provisioning calls.
//!
//! Field names are MoMo's camelCase. Amounts are decimal strings with an
//! alphabetic currency ([`Money`]); the access token is a [`Secret`]; the
//! customer reference (an MSISDN) prints masked.

use core::fmt;

use crate::json::lenient::truncate_text;
use crate::json::{Decode, DecodeError, Encode, EncodeError, Kind, Reader, Writer};
use heapless::String;

use super::error::{ErrorReason, ERROR_MESSAGE_CAP};
use crate::code::UNKNOWN_CODE_CAP;
use crate::fmt::{Masked, MsisdnMask, Secret};
use crate::id::Uuid;
use crate::money::{AlphaCode, Amount, Decimal, MoneyError};

/// Longest access token kept. MoMo tokens are RS256 JWTs, about 800–1,000
/// bytes in the sandbox; 1,536 leaves room for longer claims.
pub const ACCESS_TOKEN_CAP: usize = 1536;
/// `token_type` (`access_token`, `Bearer`).
pub const TOKEN_TYPE_CAP: usize = 32;
/// `externalTransactionId`, product and coupon ids: partner references.
pub const REFERENCE_CAP: usize = 64;
/// `customerReference`: an MSISDN or a provider account number.
pub const CUSTOMER_REFERENCE_CAP: usize = 32;
/// `serviceProviderUserName` ("Electricity Inc.").
pub const PROVIDER_NAME_CAP: usize = 64;
/// `receiverMessage` and `senderNote`: MoMo refuses notes over 160 chars.
pub const NOTE_CAP: usize = 160;
/// `financialTransactionId`: a numeric id assigned by MoMo.
pub const FINANCIAL_TRANSACTION_ID_CAP: usize = 32;
/// `providerCallbackHost` of a sandbox API user: a host name.
pub const CALLBACK_HOST_CAP: usize = 128;
/// `targetEnvironment` (`sandbox`, `mtnuganda`, …).
pub const TARGET_ENVIRONMENT_CAP: usize = 32;
/// A sandbox API key: 32 hex digits.
pub const API_KEY_CAP: usize = 64;

/// Why a CreatePayments body would be refused by MoMo before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PaymentRequestError {
    /// A note is longer than [`NOTE_CAP`] characters.
    NoteTooLong,
    /// A note contains an apostrophe, which MoMo refuses with 400.
    Apostrophe,
    /// The amount is zero; MoMo requires a positive amount.
    ZeroAmount,
}

impl fmt::Display for PaymentRequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoteTooLong => "note longer than 160 characters",
            Self::Apostrophe => "note contains an apostrophe",
            Self::ZeroAmount => "amount must be positive",
        })
    }
}

impl core::error::Error for PaymentRequestError {}

/// `POST /collection/token/` answer.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TokenResponse {
    /// The bearer token; never printed.
    pub access_token: Secret<String<ACCESS_TOKEN_CAP>>,
    /// `access_token` or `Bearer`.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String<TOKEN_TYPE_CAP>>,
    /// Lifetime in seconds (3600 in the sandbox).
    pub expires_in: u32,
}

/// `{ "amount": "100", "currency": "EUR" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Money {
    /// A positive decimal amount, kept as written.
    pub amount: Decimal,
    /// ISO 4217 alphabetic code.
    pub currency: AlphaCode,
}

impl Money {
    /// The exact amount.
    pub fn to_amount(&self) -> Result<Amount, MoneyError> {
        Amount::from_wire(self.amount, self.currency)
    }
}

impl From<Amount> for Money {
    fn from(amount: Amount) -> Self {
        let (amount, currency) = amount.to_wire();
        Self { amount, currency }
    }
}

/// A customer reference (an MSISDN such as `46733123450`), printed masked.
pub type CustomerReference = Masked<CUSTOMER_REFERENCE_CAP, MsisdnMask>;

/// `POST /collection/v2_0/payment` body (CreatePayments), every field of
/// the document.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct CreatePaymentsRequest {
    /// The partner's id for this payment.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub external_transaction_id: Option<String<REFERENCE_CAP>>,
    /// What to pay.
    pub money: Money,
    /// The customer at the provider (MSISDN or account).
    pub customer_reference: CustomerReference,
    /// The service provider being paid.
    pub service_provider_user_name: String<PROVIDER_NAME_CAP>,
    /// A coupon to redeem.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub coupon_id: Option<String<REFERENCE_CAP>>,
    /// The product paid for.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String<REFERENCE_CAP>>,
    /// The product offering paid for.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub product_offering_id: Option<String<REFERENCE_CAP>>,
    /// Note for the receiver's history.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub receiver_message: Option<String<NOTE_CAP>>,
    /// Note for the sender's history.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub sender_note: Option<String<NOTE_CAP>>,
    /// How often MoMo may retry.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub max_number_of_retries: Option<u32>,
    /// Whether sender charges are taken from the amount.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub include_sender_charges: Option<bool>,
}

impl CreatePaymentsRequest {
    /// Check what MoMo would refuse with a 400, before sending.
    pub fn validate(&self) -> Result<(), PaymentRequestError> {
        if self.money.amount.digits() == 0 {
            return Err(PaymentRequestError::ZeroAmount);
        }
        for note in [&self.receiver_message, &self.sender_note]
            .into_iter()
            .flatten()
        {
            if note.chars().count() > NOTE_CAP {
                return Err(PaymentRequestError::NoteTooLong);
            }
            if note.contains('\'') {
                return Err(PaymentRequestError::Apostrophe);
            }
        }
        Ok(())
    }
}

crate::code_enum! {
    /// The state of a payment.
    pub enum PaymentStatusCode(UNKNOWN_CODE_CAP) {
        /// Accepted, not yet processed.
        Created = "CREATED",
        /// Waiting (for the payer's approval, for the provider).
        Pending = "PENDING",
        /// Paid.
        Successful = "SUCCESSFUL",
        /// Not paid; see the reason.
        Failed = "FAILED",
    }
}

impl PaymentStatusCode {
    /// SUCCESSFUL or FAILED: polling may stop.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Successful | Self::Failed)
    }
}

/// Why a payment failed: usually `{ "code", "message" }`, sometimes a plain
/// string. Both forms decode, and re-encode as they came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReason {
    /// The object form.
    Detailed {
        /// The reason code.
        code: ErrorReason,
        /// Human-readable detail.
        message: Option<String<ERROR_MESSAGE_CAP>>,
    },
    /// The plain-string form (often a code such as `APPROVAL_REJECTED`).
    Text(String<ERROR_MESSAGE_CAP>),
}

impl FailureReason {
    /// The reason as a code; a plain string is read as one.
    pub fn code(&self) -> ErrorReason {
        match self {
            Self::Detailed { code, .. } => code.clone(),
            Self::Text(text) => ErrorReason::from_code(text),
        }
    }
}

impl Encode for FailureReason {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            Self::Text(text) => w.str(text),
            Self::Detailed { code, message } => {
                w.begin_object()?;
                w.key("code")?;
                code.encode(w)?;
                if let Some(message) = message {
                    w.key("message")?;
                    message.encode(w)?;
                }
                w.end_object()
            }
        }
    }
}

impl Decode for FailureReason {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        if r.peek()? == Kind::String {
            return Ok(Self::Text(truncate_text(r.str()?).0));
        }
        let mut code = None;
        let mut message = None;
        r.object(&["code", "message"], &mut |r, i| {
            if i == 0 {
                code = Some(ErrorReason::decode(r)?);
            } else {
                message = Option::<String<ERROR_MESSAGE_CAP>>::decode(r)?;
            }
            Ok(())
        })?;
        let code = code.ok_or(DecodeError::Invalid)?;
        Ok(Self::Detailed { code, message })
    }
    fn placeholder() -> Self {
        Self::Text(String::new())
    }
}

/// `GET /collection/v2_0/payment/{referenceId}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct PaymentStatus {
    /// The X-Reference-Id of the CreatePayments call.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<Uuid>,
    /// Where the payment stands.
    pub status: PaymentStatusCode,
    /// MoMo's id for the money movement (on success).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub financial_transaction_id: Option<String<FINANCIAL_TRANSACTION_ID_CAP>>,
    /// Why it failed.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
}

/// Sandbox `POST /v1_0/apiuser` body (the user id goes in X-Reference-Id).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct CreateApiUserRequest {
    /// Host that callbacks for this user may go to.
    pub provider_callback_host: String<CALLBACK_HOST_CAP>,
}

/// Sandbox `GET /v1_0/apiuser/{id}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct ApiUser {
    /// Registered callback host.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub provider_callback_host: Option<String<CALLBACK_HOST_CAP>>,
    /// The environment the user may target.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub target_environment: Option<String<TARGET_ENVIRONMENT_CAP>>,
}

/// Sandbox `POST /v1_0/apiuser/{id}/apikey` answer.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct ApiKeyResponse {
    /// The API key; never printed.
    pub api_key: Secret<String<API_KEY_CAP>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::money::Currency;
    use std::format;

    #[test]
    fn token_never_prints() {
        let body = br#"{"access_token":"eyJ0eXAiOiJKV1QiLCJhbGciOiJSMjU2In0.secret","token_type":"access_token","expires_in":3600}"#;
        let t: TokenResponse = json::decode(body).unwrap();
        assert_eq!(t.expires_in, 3600);
        assert!(t.access_token.expose().starts_with("eyJ0"));
        let printed = format!("{t:?}");
        assert!(!printed.contains("eyJ0"), "{printed}");
    }

    #[test]
    fn status_reason_object_or_string() {
        let obj: PaymentStatus = json::decode(
            br#"{"referenceId":"e83e28a3-2fbe-4265-9543-efa66f37869c","status":"FAILED","reason":{"code":"PAYER_NOT_FOUND","message":"Payer not found"}}"#,
        )
        .unwrap();
        assert_eq!(obj.status, PaymentStatusCode::Failed);
        assert_eq!(
            obj.reason.as_ref().unwrap().code(),
            ErrorReason::PayerNotFound
        );
        let text: PaymentStatus =
            json::decode(br#"{"status":"FAILED","reason":"APPROVAL_REJECTED"}"#).unwrap();
        assert_eq!(text.reason.unwrap().code(), ErrorReason::ApprovalRejected);
        let ok: PaymentStatus = json::decode(
            br#"{"referenceId":"e83e28a3-2fbe-4265-9543-efa66f37869c","status":"SUCCESSFUL","financialTransactionId":"363440463","reason":null}"#,
        )
        .unwrap();
        assert!(ok.status.is_final() && ok.reason.is_none());
        // Re-encoding keeps each form.
        let mut buf = [0u8; 256];
        let n = json::encode(&obj.reason, &mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            br#"{"code":"PAYER_NOT_FOUND","message":"Payer not found"}"#
        );
        // An unknown status is kept; a reason that is neither form is refused.
        let odd: PaymentStatus = json::decode(br#"{"status":"REVERSED"}"#).unwrap();
        assert!(!odd.status.is_known() && !odd.status.is_final());
        assert_eq!(
            json::decode::<PaymentStatus>(br#"{"status":"FAILED","reason":7}"#),
            Err(json::DecodeError::WrongType)
        );
    }

    #[test]
    fn create_payments_validation() {
        let mut req = CreatePaymentsRequest {
            external_transaction_id: Some(String::try_from("ext-1").unwrap()),
            money: Money::from(Amount::from_minor(10_000, Currency::EUR)),
            customer_reference: CustomerReference::try_from_str("46733123453").unwrap(),
            service_provider_user_name: String::try_from("Electricity Inc.").unwrap(),
            coupon_id: None,
            product_id: None,
            product_offering_id: None,
            receiver_message: None,
            sender_note: Some(String::try_from("Invoice 7").unwrap()),
            max_number_of_retries: None,
            include_sender_charges: Some(false),
        };
        assert_eq!(req.validate(), Ok(()));
        let mut buf = [0u8; 512];
        let n = json::encode(&req, &mut buf).unwrap();
        let text = core::str::from_utf8(&buf[..n]).unwrap();
        assert!(
            text.contains(r#""money":{"amount":"100.00","currency":"EUR"}"#),
            "{text}"
        );
        assert!(text.contains(r#""customerReference":"46733123453""#));
        assert!(!format!("{req:?}").contains("46733123453"));
        req.sender_note = Some(String::try_from("Sipho's bill").unwrap());
        assert_eq!(req.validate(), Err(PaymentRequestError::Apostrophe));
        req.sender_note = None;
        req.money = Money::from(Amount::zero(Currency::EUR));
        assert_eq!(req.validate(), Err(PaymentRequestError::ZeroAmount));
    }
}
