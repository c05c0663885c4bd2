//! MoMo `ErrorReason` codes, with an `Unknown` catch-all that keeps the text.

use crate::json::{Decode, Encode};
use heapless::String;

use crate::code::UNKNOWN_CODE_CAP;

/// `message` of an error body: one sentence.
pub const ERROR_MESSAGE_CAP: usize = 256;

crate::code_enum! {
    /// Why MoMo refused or failed a request or payment (the document's enum
    /// and the codes the specs README adds).
    pub enum ErrorReason(UNKNOWN_CODE_CAP) {
        /// The payee does not exist.
        PayeeNotFound = "PAYEE_NOT_FOUND",
        /// The payer does not exist.
        PayerNotFound = "PAYER_NOT_FOUND",
        /// Not allowed.
        NotAllowed = "NOT_ALLOWED",
        /// The API user may not use this target environment.
        NotAllowedTargetEnvironment = "NOT_ALLOWED_TARGET_ENVIRONMENT",
        /// The callback host is not the one registered for the API user.
        InvalidCallbackUrlHost = "INVALID_CALLBACK_URL_HOST",
        /// The currency is not allowed in this environment.
        InvalidCurrency = "INVALID_CURRENCY",
        /// The service is temporarily unavailable.
        ServiceUnavailable = "SERVICE_UNAVAILABLE",
        /// MoMo failed internally.
        InternalProcessingError = "INTERNAL_PROCESSING_ERROR",
        /// The payer's balance is too low.
        NotEnoughFunds = "NOT_ENOUGH_FUNDS",
        /// The payer reached a limit.
        PayerLimitReached = "PAYER_LIMIT_REACHED",
        /// The payee may not receive.
        PayeeNotAllowedToReceive = "PAYEE_NOT_ALLOWED_TO_RECEIVE",
        /// The payer did not approve.
        PaymentNotApproved = "PAYMENT_NOT_APPROVED",
        /// The resource does not exist.
        ResourceNotFound = "RESOURCE_NOT_FOUND",
        /// The payer rejected the approval.
        ApprovalRejected = "APPROVAL_REJECTED",
        /// The approval expired.
        Expired = "EXPIRED",
        /// The transaction was cancelled (README spelling).
        TransactionCanceled = "TRANSACTION_CANCELED",
        /// The transaction was cancelled (the document's enum spells it with a
        /// trailing dot).
        TransactionCanceledDot = "TRANSACTION_CANCELED.",
        /// The X-Reference-Id was used before.
        ResourceAlreadyExist = "RESOURCE_ALREADY_EXIST",
        /// The transaction did not complete.
        TransactionNotCompleted = "TRANSACTION_NOT_COMPLETED",
        /// The transaction does not exist.
        TransactionNotFound = "TRANSACTION_NOT_FOUND",
        /// Informational scope instruction.
        InformationalScopeInstruction = "INFORMATIONAL_SCOPE_INSTRUCTION",
        /// A scope instruction is missing.
        MissingScopeInstruction = "MISSING_SCOPE_INSTRUCTION",
        /// More than one financial scope.
        MoreThanOneFinancialScopeNotSupported = "MORE_THAN_ONE_FINANCIAL_SCOPE_NOT_SUPPORTED",
        /// Unsupported scope combination.
        UnsupportedScopeCombination = "UNSUPPORTED_SCOPE_COMBINATION",
        /// Consent does not match.
        ConsentMismatch = "CONSENT_MISMATCH",
        /// Unsupported scope.
        UnsupportedScope = "UNSUPPORTED_SCOPE",
        /// Not found.
        NotFound = "NOT_FOUND",
    }
}

impl ErrorReason {
    /// Whether the payment was cancelled (either spelling).
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            Self::TransactionCanceled | Self::TransactionCanceledDot
        )
    }
}

/// The body of a 400, 409 or 500 answer: `{ "code", "message" }`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ErrorBody {
    /// The reason code.
    pub code: ErrorReason,
    /// Human-readable detail.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String<ERROR_MESSAGE_CAP>>,
}

/// The token endpoint's error body: `{ "error": "login_failed" }`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TokenError {
    /// What failed.
    pub error: String<ERROR_MESSAGE_CAP>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_reason_round_trips() {
        for code in ErrorReason::KNOWN {
            assert_eq!(&ErrorReason::from_code(code.as_str()), code);
        }
        assert!(ErrorReason::from_code("TRANSACTION_CANCELED.").is_cancelled());
        assert!(!ErrorReason::from_code("CouldNotPerformTransaction").is_known());
    }
}
