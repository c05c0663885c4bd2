//! The Conductor endpoint table: one place for every method and path.
//!
//! Paths the document gives are marked "document"; the rest follow the
//! project's convention (../shared/specs/README.md, "Conductor paths") until
//! the publisher's OpenAPI file is at hand. Correcting one is a one-line
//! change here.

use crate::http::{HeadError, Method, PathBuilder, RequestHead};

/// Every Conductor operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Operation {
    /// `POST /healthcheck` (document).
    Healthcheck,
    /// `POST /conductor/v1/accounts` (convention).
    AccountEnquiry,
    /// `POST /conductor/v1/transactions` (document).
    CreateTransaction,
    /// `GET /conductor/v1/transactions/{transaction_id}` (document).
    GetTransaction,
    /// `POST /conductor/v1/transactions/{transaction_id}/complete` (convention).
    CompleteTransaction,
    /// `POST /conductor/v1/transactions/{transaction_id}/cancel` (convention).
    CancelTransaction,
    /// `POST /conductor/v1/partners/transactions` (convention).
    PartnerCreateTransaction,
    /// `GET /conductor/v1/partners/transactions/{external_reference}` (document).
    PartnerGetTransaction,
    /// `POST /conductor/v1/partners/transactions/{external_reference}/complete` (convention).
    PartnerCompleteTransaction,
    /// `POST /conductor/v1/partners/transactions/{external_reference}/cancel` (convention).
    PartnerCancelTransaction,
    /// `GET /conductor/v1/catalogs?category_code=&depth=` (convention).
    GetCatalogs,
    /// `POST /conductor/v1/orders` (convention).
    CreateOrder,
    /// `GET /conductor/v1/orders/{order_id}` (convention).
    GetOrder,
}

const TRANSACTIONS: &str = "/conductor/v1/transactions";
const PARTNER_TRANSACTIONS: &str = "/conductor/v1/partners/transactions";
const ORDERS: &str = "/conductor/v1/orders";

impl Operation {
    /// Every operation, for tables and tests.
    pub const ALL: [Operation; 13] = [
        Self::Healthcheck,
        Self::AccountEnquiry,
        Self::CreateTransaction,
        Self::GetTransaction,
        Self::CompleteTransaction,
        Self::CancelTransaction,
        Self::PartnerCreateTransaction,
        Self::PartnerGetTransaction,
        Self::PartnerCompleteTransaction,
        Self::PartnerCancelTransaction,
        Self::GetCatalogs,
        Self::CreateOrder,
        Self::GetOrder,
    ];

    /// The HTTP method.
    pub const fn method(self) -> Method {
        match self {
            Self::GetTransaction
            | Self::PartnerGetTransaction
            | Self::GetCatalogs
            | Self::GetOrder => Method::Get,
            _ => Method::Post,
        }
    }

    /// The path template, `{name}` marking a path parameter.
    pub const fn template(self) -> &'static str {
        match self {
            Self::Healthcheck => "/healthcheck",
            Self::AccountEnquiry => "/conductor/v1/accounts",
            Self::CreateTransaction => TRANSACTIONS,
            Self::GetTransaction => "/conductor/v1/transactions/{transaction_id}",
            Self::CompleteTransaction => "/conductor/v1/transactions/{transaction_id}/complete",
            Self::CancelTransaction => "/conductor/v1/transactions/{transaction_id}/cancel",
            Self::PartnerCreateTransaction => PARTNER_TRANSACTIONS,
            Self::PartnerGetTransaction => {
                "/conductor/v1/partners/transactions/{external_reference}"
            }
            Self::PartnerCompleteTransaction => {
                "/conductor/v1/partners/transactions/{external_reference}/complete"
            }
            Self::PartnerCancelTransaction => {
                "/conductor/v1/partners/transactions/{external_reference}/cancel"
            }
            Self::GetCatalogs => "/conductor/v1/catalogs",
            Self::CreateOrder => ORDERS,
            Self::GetOrder => "/conductor/v1/orders/{order_id}",
        }
    }

    /// Whether the document requires a `Retailer-Id` header.
    pub const fn needs_retailer_id(self) -> bool {
        matches!(
            self,
            Self::AccountEnquiry | Self::CreateTransaction | Self::PartnerCreateTransaction
        )
    }

    /// Whether the operation is a POST that takes an `Idempotency-Key`
    /// (every POST but the healthcheck, which changes nothing).
    pub const fn takes_idempotency_key(self) -> bool {
        matches!(self.method(), Method::Post) && !matches!(self, Self::Healthcheck)
    }
}

fn fixed(op: Operation) -> Result<RequestHead, HeadError> {
    RequestHead::new(op.method(), op.template())
}

fn with_id(op: Operation, prefix: &str, id: &str, suffix: &str) -> Result<RequestHead, HeadError> {
    Ok(PathBuilder::new(prefix)?
        .segment(id)?
        .literal(suffix)?
        .into_head(op.method()))
}

/// `POST /healthcheck`.
pub fn healthcheck() -> Result<RequestHead, HeadError> {
    fixed(Operation::Healthcheck)
}

/// `POST /conductor/v1/accounts`.
pub fn account_enquiry() -> Result<RequestHead, HeadError> {
    fixed(Operation::AccountEnquiry)
}

/// `POST /conductor/v1/transactions`.
pub fn create_transaction() -> Result<RequestHead, HeadError> {
    fixed(Operation::CreateTransaction)
}

/// `GET /conductor/v1/transactions/{transaction_id}`.
pub fn get_transaction(transaction_id: &str) -> Result<RequestHead, HeadError> {
    with_id(Operation::GetTransaction, TRANSACTIONS, transaction_id, "")
}

/// `POST /conductor/v1/transactions/{transaction_id}/complete`.
pub fn complete_transaction(transaction_id: &str) -> Result<RequestHead, HeadError> {
    with_id(
        Operation::CompleteTransaction,
        TRANSACTIONS,
        transaction_id,
        "/complete",
    )
}

/// `POST /conductor/v1/transactions/{transaction_id}/cancel`.
pub fn cancel_transaction(transaction_id: &str) -> Result<RequestHead, HeadError> {
    with_id(
        Operation::CancelTransaction,
        TRANSACTIONS,
        transaction_id,
        "/cancel",
    )
}

/// `POST /conductor/v1/partners/transactions`.
pub fn partner_create_transaction() -> Result<RequestHead, HeadError> {
    fixed(Operation::PartnerCreateTransaction)
}

/// `GET /conductor/v1/partners/transactions/{external_reference}`.
pub fn partner_get_transaction(external_reference: &str) -> Result<RequestHead, HeadError> {
    with_id(
        Operation::PartnerGetTransaction,
        PARTNER_TRANSACTIONS,
        external_reference,
        "",
    )
}

/// `POST /conductor/v1/partners/transactions/{external_reference}/complete`.
pub fn partner_complete_transaction(external_reference: &str) -> Result<RequestHead, HeadError> {
    with_id(
        Operation::PartnerCompleteTransaction,
        PARTNER_TRANSACTIONS,
        external_reference,
        "/complete",
    )
}

/// `POST /conductor/v1/partners/transactions/{external_reference}/cancel`.
pub fn partner_cancel_transaction(external_reference: &str) -> Result<RequestHead, HeadError> {
    with_id(
        Operation::PartnerCancelTransaction,
        PARTNER_TRANSACTIONS,
        external_reference,
        "/cancel",
    )
}

/// Digits of a `u8` depth.
const DEPTH_DIGITS: usize = 3;

/// `GET /conductor/v1/catalogs?category_code=&depth=` (both optional;
/// Conductor's default depth is 1).
pub fn get_catalogs(
    category_code: Option<&str>,
    depth: Option<u8>,
) -> Result<RequestHead, HeadError> {
    let mut digits = heapless::String::<DEPTH_DIGITS>::new();
    let depth = match depth {
        Some(d) => {
            let _ = core::fmt::write(&mut digits, format_args!("{d}"));
            Some(digits.as_str())
        }
        None => None,
    };
    Ok(PathBuilder::new(Operation::GetCatalogs.template())?
        .query_opt("category_code", category_code)?
        .query_opt("depth", depth)?
        .into_head(Method::Get))
}

/// `POST /conductor/v1/orders`.
pub fn create_order() -> Result<RequestHead, HeadError> {
    fixed(Operation::CreateOrder)
}

/// `GET /conductor/v1/orders/{order_id}`.
pub fn get_order(order_id: &str) -> Result<RequestHead, HeadError> {
    with_id(Operation::GetOrder, ORDERS, order_id, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_follow_the_table() {
        let cases = [
            (healthcheck(), Operation::Healthcheck, "/healthcheck"),
            (
                account_enquiry(),
                Operation::AccountEnquiry,
                "/conductor/v1/accounts",
            ),
            (
                create_transaction(),
                Operation::CreateTransaction,
                "/conductor/v1/transactions",
            ),
            (
                get_transaction("e37d07ed"),
                Operation::GetTransaction,
                "/conductor/v1/transactions/e37d07ed",
            ),
            (
                complete_transaction("t1"),
                Operation::CompleteTransaction,
                "/conductor/v1/transactions/t1/complete",
            ),
            (
                cancel_transaction("t1"),
                Operation::CancelTransaction,
                "/conductor/v1/transactions/t1/cancel",
            ),
            (
                partner_create_transaction(),
                Operation::PartnerCreateTransaction,
                "/conductor/v1/partners/transactions",
            ),
            (
                partner_get_transaction("ref-1"),
                Operation::PartnerGetTransaction,
                "/conductor/v1/partners/transactions/ref-1",
            ),
            (
                partner_complete_transaction("ref-1"),
                Operation::PartnerCompleteTransaction,
                "/conductor/v1/partners/transactions/ref-1/complete",
            ),
            (
                partner_cancel_transaction("ref-1"),
                Operation::PartnerCancelTransaction,
                "/conductor/v1/partners/transactions/ref-1/cancel",
            ),
            (
                get_catalogs(Some("ng_entertainment_cabletv"), Some(2)),
                Operation::GetCatalogs,
                "/conductor/v1/catalogs?category_code=ng_entertainment_cabletv&depth=2",
            ),
            (
                create_order(),
                Operation::CreateOrder,
                "/conductor/v1/orders",
            ),
            (
                get_order("order_qwertyuiop"),
                Operation::GetOrder,
                "/conductor/v1/orders/order_qwertyuiop",
            ),
        ];
        assert_eq!(cases.len(), Operation::ALL.len());
        for (head, op, path) in cases {
            let head = head.unwrap();
            assert_eq!(head.path(), path);
            assert_eq!(head.method(), op.method());
            // Every concrete path matches its template outside the braces.
            let prefix = op.template().split('{').next().unwrap();
            assert!(path.starts_with(prefix), "{path} vs {}", op.template());
        }
        assert_eq!(
            get_catalogs(None, None).unwrap().path(),
            "/conductor/v1/catalogs"
        );
    }

    #[test]
    fn ids_are_escaped_in_paths() {
        assert_eq!(
            get_transaction("../admin").unwrap().path(),
            "/conductor/v1/transactions/..%2Fadmin"
        );
    }

    #[test]
    fn header_requirements() {
        assert!(Operation::CreateTransaction.needs_retailer_id());
        assert!(!Operation::CompleteTransaction.needs_retailer_id());
        assert!(Operation::CompleteTransaction.takes_idempotency_key());
        assert!(!Operation::GetTransaction.takes_idempotency_key());
        assert!(!Operation::Healthcheck.takes_idempotency_key());
    }
}
