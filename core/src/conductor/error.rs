//! Conductor's status codes: `SUCCESS` and every code of the document's
//! errors table, with an `Unknown` catch-all that keeps the text.

use crate::json::{Decode, Encode};

use crate::code::UNKNOWN_CODE_CAP;
use crate::http::Status;

use super::wire::StatusBlock;

crate::code_enum! {
    /// The `status.code` of every Conductor response.
    pub enum Code(UNKNOWN_CODE_CAP) {
        /// The operation succeeded.
        Success = "SUCCESS",
        /// 400 Bad request.
        BadRequest = "BAD_REQUEST",
        /// 400 Biller code is invalid.
        InvalidBillerCode = "INVALID_BILLER_CODE",
        /// 400 Biller is inactive.
        InactiveBillerCode = "INACTIVE_BILLER_CODE",
        /// 400 Customer identifier is invalid.
        InvalidIdentifier = "INVALID_IDENTIFIER",
        /// 400 Reference is invalid.
        InvalidReference = "INVALID_REFERENCE",
        /// 400 External reference has already been used.
        InvalidExternalReference = "INVALID_EXTERNAL_REFERENCE",
        /// 400 One or more items are invalid.
        InvalidItems = "INVALID_ITEMS",
        /// 400 Amount is invalid (non-numeric or negative).
        InvalidAmount = "INVALID_AMOUNT",
        /// 400 Currency is not ISO 4217.
        InvalidCurrency = "INVALID_CURRENCY",
        /// 400 Page size is invalid.
        InvalidPageSize = "INVALID_PAGE_SIZE",
        /// 400 Depth is invalid.
        InvalidDepth = "INVALID_DEPTH",
        /// 400 Category code is invalid.
        InvalidCategory = "INVALID_CATEGORY",
        /// 400 One or more products are invalid.
        InvalidProducts = "INVALID_PRODUCTS",
        /// 400 The bill and order conflict.
        ConflictedItems = "CONFLICTED_ITEMS",
        /// 400 Not supported.
        NotSupported = "NOT_SUPPORTED",
        /// 400 Payment method is invalid.
        InvalidPaymentMethod = "INVALID_PAYMENT_METHOD",
        /// 400 Transaction is processing.
        InProcessing = "IN_PROCESSING",
        /// 400 Transaction is already completed.
        AlreadyCompleted = "ALREADY_COMPLETED",
        /// 400 Transaction is already cancelled.
        AlreadyCancelled = "ALREADY_CANCELLED",
        /// 400 Transaction is already accepted.
        AlreadyAccepted = "ALREADY_ACCEPTED",
        /// 400 Transaction is already rejected.
        AlreadyRejected = "ALREADY_REJECTED",
        /// 401 No valid secret key provided.
        Unauthorized = "UNAUTHORIZED",
        /// 403 The parameters were valid but the request failed.
        Forbidden = "FORBIDDEN",
        /// 404 The requested resource does not exist.
        NotFound = "NOT_FOUND",
        /// 409 Conflicts with another request (same idempotency key in flight).
        Conflict = "CONFLICT",
        /// 422 Semantic errors (different parameters under a used key).
        UnprocessableContent = "UNPROCESSABLE_CONTENT",
        /// 500 Something went wrong on Conductor's end.
        InternalServerError = "INTERNAL_SERVER_ERROR",
    }
}

impl Code {
    /// The HTTP status the errors table pairs with this code (`None` for
    /// `SUCCESS` and unknown codes).
    pub fn documented_status(&self) -> Option<Status> {
        Some(match self {
            Self::Success | Self::Unknown(_) => return None,
            Self::Unauthorized => Status::UNAUTHORIZED,
            Self::Forbidden => Status(403),
            Self::NotFound => Status::NOT_FOUND,
            Self::Conflict => Status::CONFLICT,
            Self::UnprocessableContent => Status::UNPROCESSABLE,
            Self::InternalServerError => Status::INTERNAL_SERVER_ERROR,
            _ => Status::BAD_REQUEST,
        })
    }

    /// The terminal state was already reached: a repeat of complete/cancel
    /// that finds it so has its answer.
    pub fn is_already_final(&self) -> bool {
        matches!(
            self,
            Self::AlreadyCompleted
                | Self::AlreadyCancelled
                | Self::AlreadyAccepted
                | Self::AlreadyRejected
        )
    }
}

/// The body of an error response: the `status` envelope without `data`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ErrorResponse {
    /// What went wrong.
    pub status: StatusBlock,
}

impl ErrorResponse {
    /// The error code.
    pub fn code(&self) -> &Code {
        &self.status.code
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn every_documented_code_round_trips() {
        assert_eq!(Code::KNOWN.len(), 28);
        for code in Code::KNOWN {
            assert_eq!(&Code::from_code(code.as_str()), code);
            assert!(code.is_known());
        }
        assert_eq!(
            Code::AlreadyCompleted.documented_status(),
            Some(Status(400))
        );
        assert_eq!(Code::Conflict.documented_status(), Some(Status(409)));
        assert_eq!(Code::Success.documented_status(), None);
    }

    #[test]
    fn unknown_codes_keep_their_text() {
        let body =
            br#"{"status":{"operation_id":"op-1","code":"RATE_LIMITED","message":"Slow down"}}"#;
        let err: ErrorResponse = json::decode(body).unwrap();
        assert_eq!(err.code().as_str(), "RATE_LIMITED");
        assert!(!err.code().is_known());
        assert_eq!(err.status.message.as_deref(), Some("Slow down"));
    }
}
