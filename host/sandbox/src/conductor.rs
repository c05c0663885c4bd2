//! Moment Conductor API 2.3.
//!
//! Bearer auth (only the configured secret keys; the partner is the key), Retailer-Id
//! where the document requires it, idempotency exactly as documented, billers
//! `za_dstv` (string identifier) and `ng_dstv` (object identifier), accounts
//! and bills, a catalogue tree honouring depth, orders, transactions ACTIVE →
//! COMPLETED | CANCELLED, and partner transactions keyed by external
//! reference. Every error code of the document's table is reachable through
//! a test input listed in the README.
//!
//! Payloads are wrapped as `{"status":{…},"data":…}`; errors as
//! `{"status":{"operation_id","code","message"}}` with the table's HTTP
//! status; the account enquiry answer is unwrapped, as in the document.

use std::collections::hash_map::DefaultHasher;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::app::App;
use crate::body::read_limited;
use crate::ledger::{self, NewEntry};
use crate::money::{exponent_of, format_minor, is_alpha_currency, parse_decimal};
use crate::store::{table, StoreError, Tables};

/// The Conductor paths — the document's and the project's convention (see
/// `../shared/specs/README.md`, "Conductor paths"). One table: correcting a
/// path is a one-line change.
pub mod paths {
    /// One Conductor operation.
    #[derive(Debug, Clone, Copy)]
    pub struct Route {
        /// Operation name as in the specs README.
        pub operation: &'static str,
        /// HTTP method.
        pub method: &'static str,
        /// Path, with `{parameter}` segments.
        pub path: &'static str,
    }

    /// POST /healthcheck (host root).
    pub const HEALTHCHECK: Route = Route {
        operation: "healthcheck",
        method: "POST",
        path: "/healthcheck",
    };
    /// Account enquiry.
    pub const ACCOUNTS: Route = Route {
        operation: "account enquiry",
        method: "POST",
        path: "/conductor/v1/accounts",
    };
    /// Create transaction.
    pub const CREATE_TRANSACTION: Route = Route {
        operation: "create transaction",
        method: "POST",
        path: "/conductor/v1/transactions",
    };
    /// Get transaction.
    pub const GET_TRANSACTION: Route = Route {
        operation: "get transaction",
        method: "GET",
        path: "/conductor/v1/transactions/{transaction_id}",
    };
    /// Complete transaction.
    pub const COMPLETE_TRANSACTION: Route = Route {
        operation: "complete transaction",
        method: "POST",
        path: "/conductor/v1/transactions/{transaction_id}/complete",
    };
    /// Cancel transaction.
    pub const CANCEL_TRANSACTION: Route = Route {
        operation: "cancel transaction",
        method: "POST",
        path: "/conductor/v1/transactions/{transaction_id}/cancel",
    };
    /// Partner create.
    pub const PARTNER_CREATE: Route = Route {
        operation: "partner create",
        method: "POST",
        path: "/conductor/v1/partners/transactions",
    };
    /// Partner get.
    pub const PARTNER_GET: Route = Route {
        operation: "partner get",
        method: "GET",
        path: "/conductor/v1/partners/transactions/{external_reference}",
    };
    /// Partner complete.
    pub const PARTNER_COMPLETE: Route = Route {
        operation: "partner complete",
        method: "POST",
        path: "/conductor/v1/partners/transactions/{external_reference}/complete",
    };
    /// Partner cancel.
    pub const PARTNER_CANCEL: Route = Route {
        operation: "partner cancel",
        method: "POST",
        path: "/conductor/v1/partners/transactions/{external_reference}/cancel",
    };
    /// Get catalogs.
    pub const CATALOGS: Route = Route {
        operation: "get catalogs",
        method: "GET",
        path: "/conductor/v1/catalogs",
    };
    /// Create order.
    pub const CREATE_ORDER: Route = Route {
        operation: "create order",
        method: "POST",
        path: "/conductor/v1/orders",
    };
    /// Get order.
    pub const GET_ORDER: Route = Route {
        operation: "get order",
        method: "GET",
        path: "/conductor/v1/orders/{order_id}",
    };

    /// All of them.
    pub const ALL: [Route; 13] = [
        HEALTHCHECK,
        ACCOUNTS,
        CREATE_TRANSACTION,
        GET_TRANSACTION,
        COMPLETE_TRANSACTION,
        CANCEL_TRANSACTION,
        PARTNER_CREATE,
        PARTNER_GET,
        PARTNER_COMPLETE,
        PARTNER_CANCEL,
        CATALOGS,
        CREATE_ORDER,
        GET_ORDER,
    ];
}

pub(crate) fn routes() -> Router<App> {
    use paths::*;
    Router::new()
        .route(HEALTHCHECK.path, post(healthcheck))
        .route(ACCOUNTS.path, post(account_enquiry))
        .route(CREATE_TRANSACTION.path, post(create_transaction))
        .route(GET_TRANSACTION.path, get(get_transaction))
        .route(COMPLETE_TRANSACTION.path, post(complete_transaction))
        .route(CANCEL_TRANSACTION.path, post(cancel_transaction))
        .route(PARTNER_CREATE.path, post(partner_create))
        .route(PARTNER_GET.path, get(partner_get))
        .route(PARTNER_COMPLETE.path, post(partner_complete))
        .route(PARTNER_CANCEL.path, post(partner_cancel))
        .route(CATALOGS.path, get(catalogs))
        .route(CREATE_ORDER.path, post(create_order))
        .route(GET_ORDER.path, get(get_order))
}

// ---------------------------------------------------------------------------
// Errors

/// The document's error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Code {
    BadRequest,
    InvalidBillerCode,
    InactiveBillerCode,
    InvalidIdentifier,
    InvalidReference,
    InvalidExternalReference,
    InvalidItems,
    InvalidAmount,
    InvalidCurrency,
    InvalidPageSize,
    InvalidDepth,
    InvalidCategory,
    InvalidProducts,
    ConflictedItems,
    NotSupported,
    InvalidPaymentMethod,
    InProcessing,
    AlreadyCompleted,
    AlreadyCancelled,
    AlreadyAccepted,
    AlreadyRejected,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    UnprocessableContent,
    InternalServerError,
}

impl Code {
    /// Every code of the table, in the document's order.
    pub const ALL: [Code; 27] = [
        Code::BadRequest,
        Code::InvalidBillerCode,
        Code::InactiveBillerCode,
        Code::InvalidIdentifier,
        Code::InvalidReference,
        Code::InvalidExternalReference,
        Code::InvalidItems,
        Code::InvalidAmount,
        Code::InvalidCurrency,
        Code::InvalidPageSize,
        Code::InvalidDepth,
        Code::InvalidCategory,
        Code::InvalidProducts,
        Code::ConflictedItems,
        Code::NotSupported,
        Code::InvalidPaymentMethod,
        Code::InProcessing,
        Code::AlreadyCompleted,
        Code::AlreadyCancelled,
        Code::AlreadyAccepted,
        Code::AlreadyRejected,
        Code::Unauthorized,
        Code::Forbidden,
        Code::NotFound,
        Code::Conflict,
        Code::UnprocessableContent,
        Code::InternalServerError,
    ];

    /// (HTTP status, code, detail) as in the document's table.
    pub fn row(self) -> (u16, &'static str, &'static str) {
        match self {
            Code::BadRequest => (400, "BAD_REQUEST", "Bad request"),
            Code::InvalidBillerCode => (400, "INVALID_BILLER_CODE", "Biller code is invalid"),
            Code::InactiveBillerCode => (400, "INACTIVE_BILLER_CODE", "Biller is inactive."),
            Code::InvalidIdentifier => (400, "INVALID_IDENTIFIER", "Customer identifier is invalid."),
            Code::InvalidReference => (400, "INVALID_REFERENCE", "Reference is invalid."),
            Code::InvalidExternalReference => {
                (400, "INVALID_EXTERNAL_REFERENCE", "External reference has already been used")
            }
            Code::InvalidItems => (400, "INVALID_ITEMS", "One or more items are invalid"),
            Code::InvalidAmount => (
                400,
                "INVALID_AMOUNT",
                "Amount in the request is invalid. Value should not contain non-numeric characters or negative value.",
            ),
            Code::InvalidCurrency => (400, "INVALID_CURRENCY", "Currency must adhere to the standard ISO 4217 format"),
            Code::InvalidPageSize => (400, "INVALID_PAGE_SIZE", "Page size is invalid"),
            Code::InvalidDepth => (400, "INVALID_DEPTH", "Depth is invalid"),
            Code::InvalidCategory => (400, "INVALID_CATEGORY", "Category code is invalid"),
            Code::InvalidProducts => (400, "INVALID_PRODUCTS", "One or more products are invalid"),
            Code::ConflictedItems => (
                400,
                "CONFLICTED_ITEMS",
                "The bill and order cannot be processed together due to conflicting items or business rules",
            ),
            Code::NotSupported => (400, "NOT_SUPPORTED", "Sorry, it seems that this is not supported at the moment"),
            Code::InvalidPaymentMethod => (400, "INVALID_PAYMENT_METHOD", "Payment method is invalid"),
            Code::InProcessing => (400, "IN_PROCESSING", "Transaction is processing"),
            Code::AlreadyCompleted => (400, "ALREADY_COMPLETED", "Transaction is already completed"),
            Code::AlreadyCancelled => (400, "ALREADY_CANCELLED", "Transaction is already cancelled"),
            Code::AlreadyAccepted => (400, "ALREADY_ACCEPTED", "Transaction is already accepted"),
            Code::AlreadyRejected => (400, "ALREADY_REJECTED", "Transaction is already rejected"),
            Code::Unauthorized => (401, "UNAUTHORIZED", "No valid Secret Key provided."),
            Code::Forbidden => (403, "FORBIDDEN", "The parameters were valid but the request failed."),
            Code::NotFound => (404, "NOT_FOUND", "The requested resource doesn't exist."),
            Code::Conflict => (
                409,
                "CONFLICT",
                "The request conflicts with another request (perhaps due to using the same idempotent key).",
            ),
            Code::UnprocessableContent => (
                422,
                "UNPROCESSABLE_CONTENT",
                "The request cannot be processed due to semantic errors or invalid data",
            ),
            Code::InternalServerError => (500, "INTERNAL_SERVER_ERROR", "Something went wrong on Conductor's end"),
        }
    }

    fn status(self) -> StatusCode {
        StatusCode::from_u16(self.row().0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// A Conductor error answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.row().1)]
pub struct ConductorError(pub Code);

impl From<StoreError> for ConductorError {
    fn from(e: StoreError) -> Self {
        tracing::error!("conductor state: {e}");
        ConductorError(Code::InternalServerError)
    }
}

impl ConductorError {
    fn body(self) -> Value {
        let (_, code, message) = self.0.row();
        error_body(code, message)
    }
}

impl IntoResponse for ConductorError {
    fn into_response(self) -> Response {
        (self.0.status(), Json(self.body())).into_response()
    }
}

type Result<T> = std::result::Result<T, ConductorError>;

fn err<T>(code: Code) -> Result<T> {
    Err(ConductorError(code))
}

fn operation_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `{"status":{"operation_id","code","message"}}`.
pub(crate) fn error_body(code: &str, message: &str) -> Value {
    json!({ "status": { "operation_id": operation_id(), "code": code, "message": message } })
}

fn success(data: Value) -> Value {
    json!({ "status": { "operation_id": operation_id(), "code": "SUCCESS", "message": "" }, "data": data })
}

// ---------------------------------------------------------------------------
// Fixtures: billers, accounts, the catalogue

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdentifierShape {
    /// `"8604275423086"`.
    String,
    /// `{"customer_number": …}` or `{"smart_card_number": …}`.
    Object,
}

#[derive(Debug)]
struct Biller {
    code: &'static str,
    name: &'static str,
    short_name: &'static str,
    currency: &'static str,
    active: bool,
    identifier: IdentifierShape,
    references: &'static [&'static str],
    orders: bool,
}

const BILLERS: [Biller; 3] = [
    Biller {
        code: "za_dstv",
        name: "MULTICHOICE DSTV",
        short_name: "DSTV",
        currency: "ZAR",
        active: true,
        identifier: IdentifierShape::String,
        references: &["SUBS", "TVOD"],
        orders: false,
    },
    Biller {
        code: "ng_dstv",
        name: "MULTICHOICE DSTV NIGERIA",
        short_name: "DSTV",
        currency: "NGN",
        active: true,
        identifier: IdentifierShape::Object,
        references: &["SUBS", "TVOD"],
        orders: true,
    },
    Biller {
        code: "za_showmax",
        name: "SHOWMAX",
        short_name: "SHOWMAX",
        currency: "ZAR",
        active: false,
        identifier: IdentifierShape::String,
        references: &[],
        orders: false,
    },
];

fn biller(code: &str) -> Result<&'static Biller> {
    match BILLERS.iter().find(|b| b.code == code) {
        None => err(Code::InvalidBillerCode),
        Some(b) if !b.active => err(Code::InactiveBillerCode),
        Some(b) => Ok(b),
    }
}

#[derive(Debug)]
struct BillFixture {
    id: &'static str,
    description: &'static str,
    due_date: &'static str,
    amount_due: i64,
    min: i64,
    max: i64,
}

#[derive(Debug)]
struct Account {
    biller: &'static str,
    /// Normalised identifiers: the string for `za_dstv`, `field:value` for `ng_dstv`.
    keys: &'static [&'static str],
    external_id: &'static str,
    first_name: &'static str,
    last_name: &'static str,
    phone: &'static str,
    email: &'static str,
    amount_due: i64,
    products: &'static [&'static str],
    bill: BillFixture,
    /// Test input: the biller's back end fails (500 INTERNAL_SERVER_ERROR).
    fails: bool,
}

const ACCOUNTS: [Account; 5] = [
    Account {
        biller: "za_dstv",
        keys: &["8604275423086"],
        external_id: "2704275423888",
        first_name: "Sihle",
        last_name: "Gambu",
        phone: "821231234",
        email: "sihle.gambu@yahoo.com",
        amount_due: 39550,
        products: &["za_dstv_compact"],
        bill: BillFixture {
            id: "bill_41caa5ae-369b-4646-bf06-f2673bdd08fc",
            description: "DSTV",
            due_date: "2023-09-06T00:00:00Z",
            amount_due: 39550,
            min: 2000,
            max: 1_500_000,
        },
        fails: false,
    },
    Account {
        biller: "za_dstv",
        keys: &["1234567890"],
        external_id: "1234567890",
        first_name: "Thandi",
        last_name: "Mokoena",
        phone: "829876543",
        email: "thandi.mokoena@example.com",
        amount_due: 190_000,
        products: &["za_dstv_compact"],
        bill: BillFixture {
            id: "bill_b13d2679-edc3-4198-89bd-8c093f5e2cfc",
            description: "DSTV BILL PAYMENT",
            due_date: "2023-10-01T00:00:00Z",
            amount_due: 190_000,
            min: 2000,
            max: 1_500_000,
        },
        fails: false,
    },
    Account {
        biller: "za_dstv",
        keys: &["5000000000000"],
        external_id: "5000000000000",
        first_name: "Fail",
        last_name: "Always",
        phone: "820000000",
        email: "fail@example.com",
        amount_due: 10_000,
        products: &[],
        bill: BillFixture {
            id: "bill_00000000-0000-4000-8000-000000000500",
            description: "DSTV",
            due_date: "2023-10-01T00:00:00Z",
            amount_due: 10_000,
            min: 2000,
            max: 1_500_000,
        },
        fails: true,
    },
    Account {
        biller: "ng_dstv",
        keys: &[
            "customer_number:1234567890",
            "smart_card_number:987654321237",
        ],
        external_id: "1234567890",
        first_name: "Chinedu",
        last_name: "Okafor",
        phone: "8031234567",
        email: "chinedu.okafor@example.com",
        amount_due: 655_000,
        products: &["ng_dstv_compe36"],
        bill: BillFixture {
            id: "bill_7a0e5f64-2b1c-4d3e-9f8a-6b5c4d3e2f1a",
            description: "DSTV NIGERIA",
            due_date: "2023-10-15T00:00:00Z",
            amount_due: 655_000,
            min: 20_000,
            max: 50_000_000,
        },
        fails: false,
    },
    Account {
        biller: "ng_dstv",
        keys: &["smart_card_number:1234567890"],
        external_id: "1234567890",
        first_name: "Amaka",
        last_name: "Eze",
        phone: "8059876543",
        email: "amaka.eze@example.com",
        amount_due: 1_250_000,
        products: &["ng_dstv_compact"],
        bill: BillFixture {
            id: "bill_3c9d8e7f-6a5b-4c4d-8e3f-2a1b0c9d8e7f",
            description: "DSTV NIGERIA",
            due_date: "2023-10-20T00:00:00Z",
            amount_due: 1_250_000,
            min: 20_000,
            max: 50_000_000,
        },
        fails: false,
    },
];

/// Normalises a customer identifier for `biller`; `None` if its shape is wrong.
fn identifier_key(biller: &Biller, identifier: &Value) -> Option<String> {
    match (biller.identifier, identifier) {
        (IdentifierShape::String, Value::String(s)) if !s.is_empty() => Some(s.clone()),
        (IdentifierShape::Object, Value::Object(o)) if o.len() == 1 => {
            let (field, value) = o.iter().next()?;
            let value = value.as_str()?;
            matches!(field.as_str(), "customer_number" | "smart_card_number")
                .then(|| format!("{field}:{value}"))
        }
        _ => None,
    }
}

fn account(biller: &Biller, identifier: &Value) -> Result<&'static Account> {
    let key = identifier_key(biller, identifier).ok_or(ConductorError(Code::InvalidIdentifier))?;
    ACCOUNTS
        .iter()
        .find(|a| a.biller == biller.code && a.keys.contains(&key.as_str()))
        .ok_or(ConductorError(Code::InvalidIdentifier))
}

fn bill(id: &str) -> Option<(&'static Account, &'static BillFixture)> {
    ACCOUNTS
        .iter()
        .find(|a| a.bill.id == id)
        .map(|a| (a, &a.bill))
}

#[derive(Debug)]
struct Category {
    code: &'static str,
    parent: Option<&'static str>,
    name: &'static str,
    description: &'static str,
}

const CATEGORIES: [Category; 10] = [
    Category {
        code: "ng_entertainment",
        parent: None,
        name: "Entertainment",
        description: "Entertainment (Nigeria)",
    },
    Category {
        code: "ng_entertainment_cabletv",
        parent: Some("ng_entertainment"),
        name: "Cable TV",
        description: "Cable and satellite TV",
    },
    Category {
        code: "ng_entertainment_cabletv_dstv",
        parent: Some("ng_entertainment_cabletv"),
        name: "DSTV",
        description: "DStv Nigeria",
    },
    Category {
        code: "ng_entertainment_cabletv_dstv_primary",
        parent: Some("ng_entertainment_cabletv_dstv"),
        name: "DSTV - Primary",
        description: "DStv primary bouquets",
    },
    Category {
        code: "ng_entertainment_cabletv_dstv_addons",
        parent: Some("ng_entertainment_cabletv_dstv"),
        name: "DSTV - Add-ons",
        description: "DStv add-on bouquets",
    },
    Category {
        code: "za_entertainment",
        parent: None,
        name: "Entertainment",
        description: "Entertainment (South Africa)",
    },
    Category {
        code: "za_entertainment_cabletv",
        parent: Some("za_entertainment"),
        name: "Cable TV",
        description: "Cable and satellite TV",
    },
    Category {
        code: "za_entertainment_cabletv_dstv",
        parent: Some("za_entertainment_cabletv"),
        name: "DSTV",
        description: "DStv South Africa",
    },
    Category {
        code: "za_entertainment_cabletv_dstv_primary",
        parent: Some("za_entertainment_cabletv_dstv"),
        name: "DSTV - Primary",
        description: "DStv primary bouquets",
    },
    Category {
        code: "za_entertainment_cabletv_dstv_addons",
        parent: Some("za_entertainment_cabletv_dstv"),
        name: "DSTV - Add-ons",
        description: "DStv add-on bouquets",
    },
];

#[derive(Debug)]
struct Product {
    code: &'static str,
    name: &'static str,
    description: &'static str,
    biller: &'static str,
    category: &'static str,
    currency: &'static str,
    /// Fixed price, or `None` for a product with amount rules.
    amount: Option<i64>,
    amount_rules: Option<(i64, i64)>,
    quantity_rules: Option<(u32, u32)>,
}

const PRODUCTS: [Product; 7] = [
    Product {
        code: "ng_dstv_compe36",
        name: "DSTV Compact E36",
        description: "DStv Compact, E36 bouquet",
        biller: "ng_dstv",
        category: "ng_entertainment_cabletv_dstv",
        currency: "NGN",
        amount: Some(655_000),
        amount_rules: None,
        quantity_rules: Some((1, 12)),
    },
    Product {
        code: "ng_dstv_boxoffice",
        name: "Box Office Wallet Top-up",
        description: "Top up the BoxOffice wallet",
        biller: "ng_dstv",
        category: "ng_entertainment_cabletv_dstv",
        currency: "NGN",
        amount: None,
        amount_rules: Some((20_000, 50_000_000)),
        quantity_rules: None,
    },
    Product {
        code: "ng_dstv_compact",
        name: "DStv Compact",
        description: "DStv Compact perfectly combines great entertainment and great value.",
        biller: "ng_dstv",
        category: "ng_entertainment_cabletv_dstv_primary",
        currency: "NGN",
        amount: Some(1_250_000),
        amount_rules: None,
        quantity_rules: Some((1, 12)),
    },
    Product {
        code: "ng_dstv_premium",
        name: "DStv Premium",
        description: "DStv Premium, every channel.",
        biller: "ng_dstv",
        category: "ng_entertainment_cabletv_dstv_primary",
        currency: "NGN",
        amount: Some(2_950_000),
        amount_rules: None,
        quantity_rules: Some((1, 12)),
    },
    Product {
        code: "ng_dstv_asiaaddon",
        name: "DStv Asia Add-on",
        description: "Indian prime entertainment.",
        biller: "ng_dstv",
        category: "ng_entertainment_cabletv_dstv_addons",
        currency: "NGN",
        amount: Some(400_000),
        amount_rules: None,
        quantity_rules: Some((1, 12)),
    },
    Product {
        code: "za_dstv_compact",
        name: "DStv Compact",
        description: "DStv Compact",
        biller: "za_dstv",
        category: "za_entertainment_cabletv_dstv_primary",
        currency: "ZAR",
        amount: Some(30_000),
        amount_rules: None,
        quantity_rules: Some((1, 12)),
    },
    Product {
        code: "za_dstv_boxoffice",
        name: "BoxOffice rental",
        description: "One BoxOffice movie rental",
        biller: "za_dstv",
        category: "za_entertainment_cabletv_dstv_addons",
        currency: "ZAR",
        amount: Some(4_000),
        amount_rules: None,
        quantity_rules: Some((1, 5)),
    },
];

fn product(code: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.code == code)
}

fn money(minor: i64, currency: &str) -> Value {
    json!({ "value": format_minor(minor, exponent_of(currency)), "currency": currency })
}

fn product_json(p: &Product) -> Value {
    json!({
        "code": p.code,
        "name": p.name,
        "description": p.description,
        "amount": p.amount.map(|a| money(a, p.currency)),
        "amount_rules": p.amount_rules.map(|(min, max)| json!({ "min": money(min, p.currency), "max": money(max, p.currency) })),
        "quantity_rules": p.quantity_rules.map(|(min, max)| json!({ "min": min, "max": max })),
        "biller_code": p.biller,
        "category_code": p.category,
    })
}

// ---------------------------------------------------------------------------
// Records

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum TxnStatus {
    Active,
    Completed,
    Cancelled,
}

impl TxnStatus {
    fn as_str(self) -> &'static str {
        match self {
            TxnStatus::Active => "ACTIVE",
            TxnStatus::Completed => "COMPLETED",
            TxnStatus::Cancelled => "CANCELLED",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TxnItem {
    id: String,
    description: String,
    amount_minor: i64,
    order_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Transaction {
    id: String,
    partner: String,
    external_reference: String,
    status: TxnStatus,
    currency: String,
    amount_minor: i64,
    items: Vec<TxnItem>,
    biller_code: Option<String>,
    retailer_id: String,
    payment_method: Option<String>,
    cancel_reason: Option<String>,
    created_at_ms: i64,
}

impl Transaction {
    fn to_json(&self) -> Value {
        json!({
            "external_reference": self.external_reference,
            "id": self.id,
            "status": self.status.as_str(),
            "amount": money(self.amount_minor, &self.currency),
            "items": self.items.iter().map(|i| json!({
                "id": i.id,
                "description": i.description,
                "amount": money(i.amount_minor, &self.currency),
            })).collect::<Vec<_>>(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum OrderStatus {
    /// Created, not yet paid.
    Pending,
    /// Paid by a completed transaction.
    Accepted,
    /// Its transaction was cancelled.
    Rejected,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OrderLine {
    code: String,
    quantity: u32,
    unit_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    id: String,
    partner: String,
    biller_code: String,
    currency: String,
    amount_minor: i64,
    lines: Vec<OrderLine>,
    status: OrderStatus,
}

impl Order {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "status": match self.status {
                OrderStatus::Pending => "PENDING",
                OrderStatus::Accepted => "ACCEPTED",
                OrderStatus::Rejected => "REJECTED",
            },
            "products": self.lines.iter().map(|l| {
                let p = product(&l.code);
                json!({
                    "code": l.code,
                    "name": p.map(|p| p.name),
                    "description": p.map(|p| p.description),
                    "amount": money(l.unit_minor, &self.currency),
                    "quantity": l.quantity,
                })
            }).collect::<Vec<_>>(),
            "amount": money(self.amount_minor, &self.currency),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdempotencyRecord {
    fingerprint: String,
    status: u16,
    body: Value,
    created_at_ms: i64,
}

/// Idempotency keys expire after 24 h on the sandbox clock.
const IDEMPOTENCY_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// Test input: meta_data.sandbox_delay_ms makes an operation take that long
/// (capped), so a second request can meet the first one in flight.
const MAX_SANDBOX_DELAY_MS: u64 = 10_000;

/// Test input: this Retailer-Id is refused with 403 FORBIDDEN.
pub const FORBIDDEN_RETAILER: &str = "retailer_forbidden";

const PAYMENT_METHODS: [&str; 6] = [
    "CASH",
    "DEBIT_CARD",
    "CREDIT_CARD",
    "BANK_TRANSFER",
    "MOBILE_MONEY",
    "EWALLET",
];

fn partner_of(secret: &str) -> String {
    // The partner is identified by a hash of its key: the key itself is
    // never stored or logged.
    let mut h = DefaultHasher::new();
    secret.hash(&mut h);
    format!("partner_{:016x}", h.finish())
}

fn scoped(partner: &str, key: &str) -> String {
    format!("{partner}|{key}")
}

// ---------------------------------------------------------------------------
// The request pipeline

/// The partner of a configured secret key (`Authorization: Bearer sk_…`);
/// a missing, malformed or unknown key is 401 UNAUTHORIZED.
fn authenticate(app: &App, headers: &HeaderMap) -> Result<String> {
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or(ConductorError(Code::Unauthorized))?;
    let key = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or(ConductorError(Code::Unauthorized))?;
    if app.settings.conductor_keys.iter().any(|k| k == key) {
        Ok(partner_of(key))
    } else {
        err(Code::Unauthorized)
    }
}

fn retailer_id(headers: &HeaderMap) -> Result<String> {
    match headers
        .get("retailer-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    {
        Some(r) if !r.is_empty() => Ok(r.to_owned()),
        _ => err(Code::BadRequest),
    }
}

fn check_retailer(retailer: &str) -> Result<()> {
    if retailer == FORBIDDEN_RETAILER {
        err(Code::Forbidden)
    } else {
        Ok(())
    }
}

fn sandbox_delay(json: &Value) -> Duration {
    let ms = json
        .get("meta_data")
        .and_then(|m| m.get("sandbox_delay_ms"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(MAX_SANDBOX_DELAY_MS);
    Duration::from_millis(ms)
}

fn valid_idempotency_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// An idempotency key whose first request is executing; removed from the
/// in-flight set when dropped (also when the client goes away mid-request).
struct InFlight {
    app: App,
    key: String,
    fingerprint: String,
}

impl InFlight {
    fn finish(&self, status: StatusCode, body: &Value) -> Result<()> {
        let record = IdempotencyRecord {
            fingerprint: self.fingerprint.clone(),
            status: status.as_u16(),
            body: body.clone(),
            created_at_ms: self.app.clock.now_ms(),
        };
        self.app
            .store
            .with(|t| t.put(table::CONDUCTOR_IDEMPOTENCY, &self.key, &record))?;
        Ok(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut set) = self.app.conductor_in_flight.lock() {
            set.remove(&self.key);
        }
    }
}

enum Idempotency {
    /// No key given.
    None,
    /// First request under this key: execute and record.
    Execute(InFlight),
    /// Answer without executing (replay, 409, 422).
    Answer(Response),
}

fn idempotency_begin(
    app: &App,
    headers: &HeaderMap,
    partner: &str,
    path: &str,
    json: &Value,
) -> Result<Idempotency> {
    let Some(raw) = headers.get("idempotency-key") else {
        return Ok(Idempotency::None);
    };
    let key = raw.to_str().map_err(|_| ConductorError(Code::BadRequest))?;
    if !valid_idempotency_key(key) {
        return err(Code::BadRequest);
    }
    let key = scoped(partner, key);
    let fingerprint = format!("POST {path} {json}");
    let mut in_flight = app
        .conductor_in_flight
        .lock()
        .map_err(|_| ConductorError(Code::InternalServerError))?;
    let now = app.clock.now_ms();
    let stored: Option<IdempotencyRecord> = app
        .store
        .with(|t| t.get(table::CONDUCTOR_IDEMPOTENCY, &key))?;
    if let Some(record) = stored.filter(|r| now - r.created_at_ms < IDEMPOTENCY_TTL_MS) {
        if record.fingerprint != fingerprint {
            return err(Code::UnprocessableContent);
        }
        let status = StatusCode::from_u16(record.status).unwrap_or(StatusCode::OK);
        let mut resp = (status, Json(record.body)).into_response();
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        return Ok(Idempotency::Answer(resp));
    }
    if let Some(running) = in_flight.get(&key) {
        if *running != fingerprint {
            return err(Code::UnprocessableContent);
        }
        return err(Code::Conflict);
    }
    in_flight.insert(key.clone(), fingerprint.clone());
    Ok(Idempotency::Execute(InFlight {
        app: app.clone(),
        key,
        fingerprint,
    }))
}

/// Runs a POST operation: auth → body → validation (nothing stored on
/// failure) → idempotency → execution → record the answer under the key.
/// `exec` returns the whole success body (wrapped with [`success`], except
/// for the account enquiry).
async fn run_post<I, F, Fut>(
    app: App,
    headers: HeaderMap,
    body: Body,
    path: String,
    validate: impl FnOnce(&Value, &HeaderMap) -> Result<I>,
    exec: F,
) -> Response
where
    F: FnOnce(App, String, I, Duration) -> Fut,
    Fut: Future<Output = Result<Value>>,
{
    let partner = match authenticate(&app, &headers) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let bytes = match read_limited(body, &app.settings).await {
        Ok(b) => b,
        Err(_) => return ConductorError(Code::BadRequest).into_response(),
    };
    let json: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v @ Value::Object(_)) => v,
            _ => return ConductorError(Code::BadRequest).into_response(),
        }
    };
    let input = match validate(&json, &headers) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let delay = sandbox_delay(&json);
    let in_flight = match idempotency_begin(&app, &headers, &partner, &path, &json) {
        Ok(Idempotency::None) => None,
        Ok(Idempotency::Execute(f)) => Some(f),
        Ok(Idempotency::Answer(resp)) => return resp,
        Err(e) => return e.into_response(),
    };
    let (status, body) = match exec(app.clone(), partner, input, delay).await {
        Ok(data) => (StatusCode::OK, data),
        Err(e) => (e.0.status(), e.body()),
    };
    if let Some(f) = in_flight {
        if let Err(e) = f.finish(status, &body) {
            return e.into_response();
        }
    }
    (status, Json(body)).into_response()
}

async fn run_get(
    app: &App,
    headers: &HeaderMap,
    f: impl FnOnce(&Tables, &str) -> Result<Value>,
) -> Response {
    let partner = match authenticate(app, headers) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    match app.store.with(|t| f(t, &partner)) {
        Ok(data) => Json(success(data)).into_response(),
        Err(e) => e.into_response(),
    }
}

// ---------------------------------------------------------------------------
// Field validation (failures here store nothing under the idempotency key)

fn req_str<'v>(json: &'v Value, field: &str) -> Result<&'v str> {
    json.get(field)
        .and_then(Value::as_str)
        .ok_or(ConductorError(Code::BadRequest))
}

fn opt_str<'v>(json: &'v Value, field: &str) -> Result<Option<&'v str>> {
    match json.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => err(Code::BadRequest),
    }
}

fn opt_bool(json: &Value, field: &str) -> Result<bool> {
    match json.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => err(Code::BadRequest),
    }
}

fn check_meta(json: &Value) -> Result<()> {
    match json.get("meta_data") {
        None | Some(Value::Null) | Some(Value::Object(_)) => Ok(()),
        Some(_) => err(Code::BadRequest),
    }
}

fn external_reference(json: &Value) -> Result<String> {
    let r = req_str(json, "external_reference")?;
    if r.is_empty() || r.len() > 255 {
        return err(Code::BadRequest);
    }
    Ok(r.to_owned())
}

/// Money `{"value","currency"}` → (minor units, currency).
fn parse_money(v: &Value) -> Result<(i64, String)> {
    let obj = v.as_object().ok_or(ConductorError(Code::BadRequest))?;
    let value = obj.get("value").ok_or(ConductorError(Code::BadRequest))?;
    let currency = obj
        .get("currency")
        .and_then(Value::as_str)
        .ok_or(ConductorError(Code::BadRequest))?;
    if !is_alpha_currency(currency) {
        return err(Code::InvalidCurrency);
    }
    let value = value.as_str().ok_or(ConductorError(Code::InvalidAmount))?;
    let minor =
        parse_decimal(value, exponent_of(currency)).ok_or(ConductorError(Code::InvalidAmount))?;
    Ok((minor, currency.to_owned()))
}

fn opt_money(json: &Value, field: &str) -> Result<Option<(i64, String)>> {
    match json.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse_money(v).map(Some),
    }
}

fn payment_method(json: &Value, required: bool) -> Result<Option<String>> {
    match json.get("payment_method") {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(m)) if PAYMENT_METHODS.contains(&m.as_str()) => Ok(Some(m.clone())),
        _ => err(Code::InvalidPaymentMethod),
    }
}

// ---------------------------------------------------------------------------
// Handlers

async fn healthcheck() -> Response {
    Json(json!({ "status": { "operation_id": operation_id(), "code": "SUCCESS", "message": "" } }))
        .into_response()
}

struct EnquiryInput {
    biller_code: String,
    identifier: Value,
    reference: Option<String>,
    retailer: String,
}

async fn account_enquiry(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    // The enquiry answer is not wrapped (as in the document); its errors are.
    let validate = |json: &Value, headers: &HeaderMap| -> Result<EnquiryInput> {
        let retailer = retailer_id(headers)?;
        let biller_code = req_str(json, "biller_code")?.to_owned();
        let identifier = match json.get("identifier") {
            None | Some(Value::Null) => return err(Code::BadRequest),
            Some(v) => v.clone(),
        };
        let reference = opt_str(json, "reference")?.map(str::to_owned);
        Ok(EnquiryInput {
            biller_code,
            identifier,
            reference,
            retailer,
        })
    };
    let exec = |_app: App, _partner: String, input: EnquiryInput, delay: Duration| async move {
        tokio::time::sleep(delay).await;
        check_retailer(&input.retailer)?;
        let biller = biller(&input.biller_code)?;
        let account = account(biller, &input.identifier)?;
        if let Some(r) = &input.reference {
            if !biller.references.contains(&r.as_str()) {
                return err(Code::InvalidReference);
            }
        }
        if account.fails {
            return err(Code::InternalServerError);
        }
        let external_id = match &input.identifier {
            Value::String(s) => s.clone(),
            Value::Object(o) => o
                .values()
                .next()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        };
        let currency = biller.currency;
        Ok(json!({
            "external_id": external_id,
            "customer": {
                "external_id": account.external_id,
                "first_name": account.first_name,
                "last_name": account.last_name,
                "phone": account.phone,
                "email": account.email,
            },
            "biller": { "code": biller.code, "name": biller.name },
            "amount_due": { "amount": money(account.amount_due, currency), "rules": null },
            "products": account.products.iter().filter_map(|c| product(c)).map(|p| json!({
                "code": p.code,
                "category_code": p.category,
                "amount": p.amount.map(|a| money(a, p.currency)),
                "status": "ACTIVE",
                "name": p.name,
                "description": p.description,
            })).collect::<Vec<_>>(),
            "bills": [{
                "id": account.bill.id,
                "description": account.bill.description,
                "due_date": account.bill.due_date,
                "amount_due": {
                    "amount": money(account.bill.amount_due, currency),
                    "rules": { "min": money(account.bill.min, currency), "max": money(account.bill.max, currency) },
                },
            }],
        }))
    };
    run_post(
        app,
        headers,
        body,
        paths::ACCOUNTS.path.to_owned(),
        validate,
        exec,
    )
    .await
}

struct ItemInput {
    id: String,
    amount: Option<(i64, String)>,
}

struct CreateInput {
    retailer: String,
    external_reference: String,
    items: Vec<ItemInput>,
    amount: Option<(i64, String)>,
    complete: bool,
    payment_method: Option<String>,
}

fn validate_create(json: &Value, headers: &HeaderMap) -> Result<CreateInput> {
    let retailer = retailer_id(headers)?;
    let external_reference = external_reference(json)?;
    let items = json
        .get("items")
        .and_then(Value::as_array)
        .ok_or(ConductorError(Code::BadRequest))?;
    if items.is_empty() {
        return err(Code::InvalidItems);
    }
    let mut parsed = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .ok_or(ConductorError(Code::InvalidItems))?;
        parsed.push(ItemInput {
            id: id.to_owned(),
            amount: opt_money(item, "amount")?,
        });
    }
    let complete = opt_bool(json, "complete")?;
    let payment_method = payment_method(json, complete)?;
    check_meta(json)?;
    Ok(CreateInput {
        retailer,
        external_reference,
        items: parsed,
        amount: opt_money(json, "amount")?,
        complete,
        payment_method,
    })
}

/// Applies a completion inside the store: status, orders, ledger.
fn complete_in(t: &mut Tables, txn: &mut Transaction, method: Option<String>) -> Result<()> {
    for item in &txn.items {
        if let Some(order_id) = &item.order_id {
            let order: Option<Order> = t.get(table::CONDUCTOR_ORDERS, order_id)?;
            match order.map(|o| o.status) {
                Some(OrderStatus::Accepted) => return err(Code::AlreadyAccepted),
                Some(OrderStatus::Rejected) => return err(Code::AlreadyRejected),
                _ => {}
            }
        }
    }
    for item in &txn.items {
        if let Some(order_id) = &item.order_id {
            if let Some(mut order) = t.get::<Order>(table::CONDUCTOR_ORDERS, order_id)? {
                order.status = OrderStatus::Accepted;
                t.put(table::CONDUCTOR_ORDERS, order_id, &order)?;
            }
        }
    }
    txn.status = TxnStatus::Completed;
    txn.payment_method = method;
    t.record(NewEntry {
        api: ledger::api::CONDUCTOR,
        kind: ledger::kind::BILL_PAID,
        reference: txn.id.clone(),
        related: Some(txn.external_reference.clone()),
        amount_minor: txn.amount_minor,
        currency: txn.currency.clone(),
        detail: json!({
            "partner": txn.partner,
            "biller_code": txn.biller_code,
            "items": txn.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
            "payment_method": txn.payment_method,
            "retailer_id": txn.retailer_id,
        }),
    })?;
    Ok(())
}

fn cancel_in(t: &mut Tables, txn: &mut Transaction, reason: Option<String>) -> Result<()> {
    for item in &txn.items {
        if let Some(order_id) = &item.order_id {
            if let Some(mut order) = t.get::<Order>(table::CONDUCTOR_ORDERS, order_id)? {
                if order.status == OrderStatus::Pending {
                    order.status = OrderStatus::Rejected;
                    t.put(table::CONDUCTOR_ORDERS, order_id, &order)?;
                }
            }
        }
    }
    txn.status = TxnStatus::Cancelled;
    txn.cancel_reason = reason;
    Ok(())
}

/// Stores a new transaction (completing it if asked) and returns its JSON.
fn insert_transaction(
    t: &mut Tables,
    mut txn: Transaction,
    complete: bool,
    method: Option<String>,
) -> Result<Value> {
    let ext_key = scoped(&txn.partner, &txn.external_reference);
    if t.contains(table::CONDUCTOR_EXTERNAL_REFS, &ext_key) {
        return err(Code::InvalidExternalReference);
    }
    if complete {
        complete_in(t, &mut txn, method)?;
    }
    t.put(table::CONDUCTOR_TRANSACTIONS, &txn.id, &txn)?;
    t.put(table::CONDUCTOR_EXTERNAL_REFS, &ext_key, &txn.id)?;
    Ok(txn.to_json())
}

async fn create_transaction(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let exec = |app: App, partner: String, input: CreateInput, delay: Duration| async move {
        tokio::time::sleep(delay).await;
        check_retailer(&input.retailer)?;
        let now = app.clock.now_ms();
        app.store.with(|t| {
            let ext_key = scoped(&partner, &input.external_reference);
            if t.contains(table::CONDUCTOR_EXTERNAL_REFS, &ext_key) {
                return err(Code::InvalidExternalReference);
            }
            let has_orders = input.items.iter().any(|i| i.id.starts_with("order_"));
            let has_bills = input.items.iter().any(|i| !i.id.starts_with("order_"));
            if has_orders && has_bills {
                return err(Code::ConflictedItems);
            }
            let mut items = Vec::new();
            let mut currency: Option<String> = None;
            let mut biller_code = None;
            for item in &input.items {
                let (amount, cur, description, order_id) = if item.id.starts_with("order_") {
                    let order: Order = t
                        .get(table::CONDUCTOR_ORDERS, &item.id)?
                        .filter(|o: &Order| o.partner == partner)
                        .ok_or(ConductorError(Code::InvalidItems))?;
                    match order.status {
                        OrderStatus::Accepted => return err(Code::AlreadyAccepted),
                        OrderStatus::Rejected => return err(Code::AlreadyRejected),
                        OrderStatus::Pending => {}
                    }
                    if let Some((a, c)) = &item.amount {
                        if *c != order.currency {
                            return err(Code::InvalidCurrency);
                        }
                        if *a != order.amount_minor {
                            return err(Code::InvalidAmount);
                        }
                    }
                    biller_code = Some(order.biller_code.clone());
                    (
                        order.amount_minor,
                        order.currency.clone(),
                        "ORDER PAYMENT".to_owned(),
                        Some(order.id),
                    )
                } else {
                    let (acct, bill) = bill(&item.id).ok_or(ConductorError(Code::InvalidItems))?;
                    let b = biller(acct.biller)?;
                    let (a, c) = item
                        .amount
                        .clone()
                        .ok_or(ConductorError(Code::InvalidAmount))?;
                    if c != b.currency {
                        return err(Code::InvalidCurrency);
                    }
                    if a < bill.min || a > bill.max {
                        return err(Code::InvalidAmount);
                    }
                    if acct.fails {
                        return err(Code::InternalServerError);
                    }
                    biller_code = Some(b.code.to_owned());
                    (a, c, format!("{} BILL PAYMENT", b.short_name), None)
                };
                if items.iter().any(|i: &TxnItem| i.id == item.id) {
                    return err(Code::InvalidItems);
                }
                match &currency {
                    Some(c) if *c != cur => return err(Code::InvalidCurrency),
                    _ => currency = Some(cur),
                }
                items.push(TxnItem {
                    id: item.id.clone(),
                    description,
                    amount_minor: amount,
                    order_id,
                });
            }
            let currency = currency.ok_or(ConductorError(Code::InvalidItems))?;
            let total: i64 = items.iter().map(|i| i.amount_minor).sum();
            if let Some((a, c)) = &input.amount {
                if *c != currency {
                    return err(Code::InvalidCurrency);
                }
                if *a != total {
                    return err(Code::InvalidAmount);
                }
            }
            let txn = Transaction {
                id: uuid::Uuid::new_v4().to_string(),
                partner: partner.clone(),
                external_reference: input.external_reference.clone(),
                status: TxnStatus::Active,
                currency,
                amount_minor: total,
                items,
                biller_code,
                retailer_id: input.retailer.clone(),
                payment_method: None,
                cancel_reason: None,
                created_at_ms: now,
            };
            insert_transaction(t, txn, input.complete, input.payment_method.clone()).map(success)
        })
    };
    run_post(
        app,
        headers,
        body,
        paths::CREATE_TRANSACTION.path.to_owned(),
        validate_create,
        exec,
    )
    .await
}

struct PartnerCreateInput {
    retailer: String,
    external_reference: String,
    biller_code: String,
    reference: Option<String>,
    identifier: Value,
    amount: (i64, String),
    complete: bool,
    payment_method: Option<String>,
}

fn validate_partner_create(json: &Value, headers: &HeaderMap) -> Result<PartnerCreateInput> {
    let retailer = retailer_id(headers)?;
    let external_reference = external_reference(json)?;
    let biller_code = req_str(json, "biller_code")?.to_owned();
    let reference = opt_str(json, "reference")?.map(str::to_owned);
    let identifier = match json.get("identifier") {
        None | Some(Value::Null) => return err(Code::BadRequest),
        Some(v) => v.clone(),
    };
    let amount = opt_money(json, "amount")?.ok_or(ConductorError(Code::BadRequest))?;
    let complete = opt_bool(json, "complete")?;
    let payment_method = payment_method(json, complete)?;
    check_meta(json)?;
    Ok(PartnerCreateInput {
        retailer,
        external_reference,
        biller_code,
        reference,
        identifier,
        amount,
        complete,
        payment_method,
    })
}

async fn partner_create(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let exec = |app: App, partner: String, input: PartnerCreateInput, delay: Duration| async move {
        tokio::time::sleep(delay).await;
        check_retailer(&input.retailer)?;
        let now = app.clock.now_ms();
        app.store.with(|t| {
            if t.contains(
                table::CONDUCTOR_EXTERNAL_REFS,
                &scoped(&partner, &input.external_reference),
            ) {
                return err(Code::InvalidExternalReference);
            }
            let b = biller(&input.biller_code)?;
            let acct = account(b, &input.identifier)?;
            if let Some(r) = &input.reference {
                if !b.references.contains(&r.as_str()) {
                    return err(Code::InvalidReference);
                }
            }
            let (amount, currency) = input.amount.clone();
            if currency != b.currency {
                return err(Code::InvalidCurrency);
            }
            if amount < acct.bill.min || amount > acct.bill.max {
                return err(Code::InvalidAmount);
            }
            if acct.fails {
                return err(Code::InternalServerError);
            }
            let txn = Transaction {
                id: uuid::Uuid::new_v4().to_string(),
                partner: partner.clone(),
                external_reference: input.external_reference.clone(),
                status: TxnStatus::Active,
                currency,
                amount_minor: amount,
                items: vec![TxnItem {
                    id: acct.bill.id.to_owned(),
                    description: format!("{} BILL PAYMENT", b.short_name),
                    amount_minor: amount,
                    order_id: None,
                }],
                biller_code: Some(b.code.to_owned()),
                retailer_id: input.retailer.clone(),
                payment_method: None,
                cancel_reason: None,
                created_at_ms: now,
            };
            insert_transaction(t, txn, input.complete, input.payment_method.clone()).map(success)
        })
    };
    run_post(
        app,
        headers,
        body,
        paths::PARTNER_CREATE.path.to_owned(),
        validate_partner_create,
        exec,
    )
    .await
}

fn find_txn(t: &Tables, partner: &str, id: &str) -> Result<Transaction> {
    t.get::<Transaction>(table::CONDUCTOR_TRANSACTIONS, id)?
        .filter(|txn| txn.partner == partner)
        .ok_or(ConductorError(Code::NotFound))
}

fn txn_id_by_ref(t: &Tables, partner: &str, external_reference: &str) -> Result<String> {
    t.get::<String>(
        table::CONDUCTOR_EXTERNAL_REFS,
        &scoped(partner, external_reference),
    )?
    .ok_or(ConductorError(Code::NotFound))
}

async fn get_transaction(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    run_get(&app, &headers, |t, partner| {
        Ok(find_txn(t, partner, &id)?.to_json())
    })
    .await
}

async fn partner_get(
    State(app): State<App>,
    Path(ext): Path<String>,
    headers: HeaderMap,
) -> Response {
    run_get(&app, &headers, |t, partner| {
        let id = txn_id_by_ref(t, partner, &ext)?;
        Ok(find_txn(t, partner, &id)?.to_json())
    })
    .await
}

/// Which transaction an advance (complete/cancel) is for.
#[derive(Debug, Clone)]
enum Target {
    Id(String),
    ExternalReference(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Advance {
    Complete,
    Cancel,
}

struct AdvanceInput {
    payment_method: Option<String>,
    reason: Option<String>,
}

/// Removes a transaction from the "processing" set when dropped.
struct Processing {
    app: App,
    id: String,
}

impl Drop for Processing {
    fn drop(&mut self) {
        if let Ok(mut set) = self.app.conductor_processing.lock() {
            set.remove(&self.id);
        }
    }
}

async fn advance(
    app: App,
    partner: String,
    target: Target,
    op: Advance,
    input: AdvanceInput,
    delay: Duration,
) -> Result<Value> {
    let id = app.store.with(|t| -> Result<String> {
        let id = match &target {
            Target::Id(id) => id.clone(),
            Target::ExternalReference(r) => txn_id_by_ref(t, &partner, r)?,
        };
        let txn = find_txn(t, &partner, &id)?;
        match txn.status {
            TxnStatus::Completed => return err(Code::AlreadyCompleted),
            TxnStatus::Cancelled => return err(Code::AlreadyCancelled),
            TxnStatus::Active => {}
        }
        Ok(id)
    })?;
    let _processing = {
        let mut set = app
            .conductor_processing
            .lock()
            .map_err(|_| ConductorError(Code::InternalServerError))?;
        if !set.insert(id.clone()) {
            return err(Code::InProcessing);
        }
        Processing {
            app: app.clone(),
            id: id.clone(),
        }
    };
    tokio::time::sleep(delay).await;
    app.store.with(|t| {
        let mut txn = find_txn(t, &partner, &id)?;
        match txn.status {
            TxnStatus::Completed => return err(Code::AlreadyCompleted),
            TxnStatus::Cancelled => return err(Code::AlreadyCancelled),
            TxnStatus::Active => {}
        }
        match op {
            Advance::Complete => complete_in(t, &mut txn, input.payment_method)?,
            Advance::Cancel => cancel_in(t, &mut txn, input.reason)?,
        }
        t.put(table::CONDUCTOR_TRANSACTIONS, &txn.id, &txn)?;
        Ok(success(txn.to_json()))
    })
}

fn validate_complete(json: &Value, _: &HeaderMap) -> Result<AdvanceInput> {
    check_meta(json)?;
    Ok(AdvanceInput {
        payment_method: payment_method(json, true)?,
        reason: None,
    })
}

fn validate_cancel(json: &Value, _: &HeaderMap) -> Result<AdvanceInput> {
    check_meta(json)?;
    Ok(AdvanceInput {
        payment_method: None,
        reason: opt_str(json, "reason")?.map(str::to_owned),
    })
}

/// Complete or cancel `target`: the one body behind the four routes.
async fn advance_route(
    app: App,
    headers: HeaderMap,
    body: Body,
    target: Target,
    op: Advance,
) -> Response {
    let path = match (&target, op) {
        (Target::Id(id), Advance::Complete) => format!("/conductor/v1/transactions/{id}/complete"),
        (Target::Id(id), Advance::Cancel) => format!("/conductor/v1/transactions/{id}/cancel"),
        (Target::ExternalReference(ext), Advance::Complete) => {
            format!("/conductor/v1/partners/transactions/{ext}/complete")
        }
        (Target::ExternalReference(ext), Advance::Cancel) => {
            format!("/conductor/v1/partners/transactions/{ext}/cancel")
        }
    };
    let validate = match op {
        Advance::Complete => validate_complete,
        Advance::Cancel => validate_cancel,
    };
    run_post(
        app,
        headers,
        body,
        path,
        validate,
        move |app, partner, input, delay| advance(app, partner, target, op, input, delay),
    )
    .await
}

async fn complete_transaction(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    advance_route(app, headers, body, Target::Id(id), Advance::Complete).await
}

async fn cancel_transaction(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    advance_route(app, headers, body, Target::Id(id), Advance::Cancel).await
}

async fn partner_complete(
    State(app): State<App>,
    Path(ext): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let target = Target::ExternalReference(ext);
    advance_route(app, headers, body, target, Advance::Complete).await
}

async fn partner_cancel(
    State(app): State<App>,
    Path(ext): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let target = Target::ExternalReference(ext);
    advance_route(app, headers, body, target, Advance::Cancel).await
}

/// Largest catalogue depth accepted.
const MAX_DEPTH: u32 = 10;
/// Largest page size accepted.
const MAX_PAGE_SIZE: usize = 100;

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(crate::query::pairs).unwrap_or_default()
}

async fn catalogs(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let pairs = query_pairs(query.as_deref());
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    run_get(&app, &headers, |_, _| {
        let depth = match param("depth") {
            None => 1,
            Some(d) => match d.parse::<u32>() {
                Ok(n) if (1..=MAX_DEPTH).contains(&n) => n,
                _ => return err(Code::InvalidDepth),
            },
        };
        let page_size = match param("page_size") {
            None => MAX_PAGE_SIZE,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
                _ => return err(Code::InvalidPageSize),
            },
        };
        let root = match param("category_code").filter(|c| !c.is_empty()) {
            None => None,
            Some(code) => match CATEGORIES.iter().find(|c| c.code == code) {
                Some(c) => Some(c.code),
                None => return err(Code::InvalidCategory),
            },
        };
        // Level 0 is the requested category; categories of levels 1..=depth
        // are listed, products of levels 0..depth.
        let mut levels: Vec<Vec<Option<&str>>> = vec![vec![root]];
        let mut categories = Vec::new();
        let mut products = Vec::new();
        for level in 0..=depth {
            let current = levels.get(level as usize).cloned().unwrap_or_default();
            let mut next = Vec::new();
            for parent in current {
                if level < depth {
                    if let Some(code) = parent {
                        products.extend(
                            PRODUCTS
                                .iter()
                                .filter(|p| p.category == code)
                                .map(product_json),
                        );
                    }
                }
                if level < depth {
                    for c in CATEGORIES.iter().filter(|c| c.parent == parent) {
                        categories.push(json!({
                            "code": c.code,
                            "parent_code": c.parent,
                            "name": c.name,
                            "description": c.description,
                        }));
                        next.push(Some(c.code));
                    }
                }
            }
            levels.push(next);
        }
        products.truncate(page_size);
        Ok(json!({ "categories": categories, "products": products }))
    })
    .await
}

struct OrderLineInput {
    code: String,
    quantity: u32,
    amount: Option<(i64, String)>,
}

struct OrderInput {
    biller_code: String,
    identifier: Value,
    products: Vec<OrderLineInput>,
}

fn validate_order(json: &Value, _: &HeaderMap) -> Result<OrderInput> {
    let biller_code = req_str(json, "biller_code")?.to_owned();
    let identifier = match json.get("identifier") {
        None | Some(Value::Null) => return err(Code::BadRequest),
        Some(v) => v.clone(),
    };
    let lines = json
        .get("products")
        .and_then(Value::as_array)
        .ok_or(ConductorError(Code::BadRequest))?;
    if lines.is_empty() {
        return err(Code::InvalidProducts);
    }
    let mut products = Vec::new();
    for line in lines {
        let code = line
            .get("code")
            .and_then(Value::as_str)
            .ok_or(ConductorError(Code::InvalidProducts))?;
        let quantity = match line.get("quantity") {
            None | Some(Value::Null) => 1,
            Some(q) => q
                .as_u64()
                .and_then(|q| u32::try_from(q).ok())
                .ok_or(ConductorError(Code::InvalidProducts))?,
        };
        products.push(OrderLineInput {
            code: code.to_owned(),
            quantity,
            amount: opt_money(line, "amount")?,
        });
    }
    Ok(OrderInput {
        biller_code,
        identifier,
        products,
    })
}

async fn create_order(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let exec = |app: App, partner: String, input: OrderInput, delay: Duration| async move {
        tokio::time::sleep(delay).await;
        let b = biller(&input.biller_code)?;
        if !b.orders {
            return err(Code::NotSupported);
        }
        account(b, &input.identifier)?;
        let mut lines = Vec::new();
        let mut total: i64 = 0;
        for line in &input.products {
            let p = product(&line.code)
                .filter(|p| p.biller == b.code)
                .ok_or(ConductorError(Code::InvalidProducts))?;
            let (qmin, qmax) = p.quantity_rules.unwrap_or((1, 1));
            if line.quantity < qmin || line.quantity > qmax {
                return err(Code::InvalidProducts);
            }
            let unit = match (p.amount, p.amount_rules, &line.amount) {
                (Some(price), _, None) => price,
                (Some(price), _, Some((a, c))) if *a == price && c == p.currency => price,
                (None, Some((min, max)), Some((a, c)))
                    if c == p.currency && (min..=max).contains(a) =>
                {
                    *a
                }
                _ => return err(Code::InvalidProducts),
            };
            total = unit
                .checked_mul(i64::from(line.quantity))
                .and_then(|x| total.checked_add(x))
                .ok_or(ConductorError(Code::InvalidProducts))?;
            lines.push(OrderLine {
                code: p.code.to_owned(),
                quantity: line.quantity,
                unit_minor: unit,
            });
        }
        let order = Order {
            id: format!("order_{}", uuid::Uuid::new_v4().simple()),
            partner,
            biller_code: b.code.to_owned(),
            currency: b.currency.to_owned(),
            amount_minor: total,
            lines,
            status: OrderStatus::Pending,
        };
        app.store
            .with(|t| t.put(table::CONDUCTOR_ORDERS, &order.id, &order))?;
        Ok(success(order.to_json()))
    };
    run_post(
        app,
        headers,
        body,
        paths::CREATE_ORDER.path.to_owned(),
        validate_order,
        exec,
    )
    .await
}

async fn get_order(State(app): State<App>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    run_get(&app, &headers, |t, partner| {
        t.get::<Order>(table::CONDUCTOR_ORDERS, &id)?
            .filter(|o| o.partner == partner)
            .map(|o| o.to_json())
            .ok_or(ConductorError(Code::NotFound))
    })
    .await
}
