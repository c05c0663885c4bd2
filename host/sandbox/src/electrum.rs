//! Electrum Airtime Service v5, modelled on the publisher's test server.
//!
//! All ten operations under `/airtime/v5`: MSISDN lookup, product list,
//! purchase trial, purchase (201 + Location), confirmation, reversal, status
//! (by originalMsgId, or by purchaseReference + provider), voucher provision,
//! voucher confirmation and voucher reversal.
//!
//! Rules (see `../shared/specs/README.md`): validation failures are 400
//! FORMAT_ERROR naming the JSON path; the Basic-auth user must equal
//! `client.id`; a reused request id is 400 DUPLICATE_RECORD; advices for an
//! unknown id are 404 UNABLE_TO_LOCATE_RECORD (and a 404 reversal is
//! remembered, so a late purchase with that id is refused with 400
//! ACCOUNT_ALREADY_SETTLED); a confirmed sale cannot be reversed and a
//! reversed one cannot be confirmed (400 ACCOUNT_ALREADY_SETTLED); repeated
//! advices have no side effect. Amounts are integer minor units, currency
//! `"710"`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::app::App;
use crate::body::read_limited;
use crate::json_path::{alnum, digits, is_msisdn, is_uuid, join, Check};
use crate::ledger::{self, NewEntry};
use crate::store::{table, StoreError, Tables};

/// Base path of the API.
pub const BASE: &str = "/airtime/v5";

/// The only currency the sandbox sells in (ZAR, ISO 4217 numeric).
pub const CURRENCY: &str = "710";

/// Institution id of the sandbox switch (settlement entity) in
/// thirdPartyIdentifiers.
pub const SWITCH_INSTITUTION: &str = "33333333";
/// Institution id of the sandbox provider (receiver) in thirdPartyIdentifiers;
/// use it as `provider` in a status query by purchaseReference.
pub const PROVIDER_INSTITUTION: &str = "44444444";

/// The MSISDN that has products and a promotion.
pub const PROMO_MSISDN: &str = "27749670999";

/// `channelName` that makes listProducts answer 501 (no catalogue).
pub const NO_CATALOGUE_CHANNEL: &str = "NO_CATALOGUE";

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/airtime/v5/msisdn", get(lookup_msisdn))
        .route("/airtime/v5/products", get(list_products))
        .route("/airtime/v5/purchases/trials", post(purchase_trial))
        .route("/airtime/v5/purchases", post(purchase))
        .route(
            "/airtime/v5/purchases/confirmations",
            post(purchase_confirmation),
        )
        .route("/airtime/v5/purchases/reversals", post(purchase_reversal))
        .route("/airtime/v5/purchases/status", get(purchase_status))
        .route("/airtime/v5/vouchers/{request_id}", post(provision_voucher))
        .route(
            "/airtime/v5/vouchers/{request_id}/confirmations/{confirmation_id}",
            post(confirm_voucher),
        )
        .route(
            "/airtime/v5/vouchers/{request_id}/reversals/{reversal_id}",
            post(reverse_voucher),
        )
}

/// The RequestType Electrum names in an ErrorDetail, from the path.
pub(crate) fn request_type_of(path: &str) -> &'static str {
    let rest = path.strip_prefix(BASE).unwrap_or(path);
    if rest.starts_with("/msisdn") {
        "MSISDN_INFO_REQUEST"
    } else if rest.starts_with("/products") {
        "LIST_PRODUCTS_REQUEST"
    } else if rest.starts_with("/purchases/trials") {
        "TRIAL_PURCHASE_REQUEST"
    } else if rest.starts_with("/purchases/confirmations") {
        "PURCHASE_CONFIRMATION"
    } else if rest.starts_with("/purchases/reversals") {
        "PURCHASE_REVERSAL"
    } else if rest.starts_with("/purchases/status") {
        "PURCHASE_STATUS_REQUEST"
    } else if rest.starts_with("/vouchers") && rest.contains("/confirmations/") {
        "VOUCHER_CONFIRMATION"
    } else if rest.starts_with("/vouchers") && rest.contains("/reversals/") {
        "VOUCHER_REVERSAL"
    } else if rest.starts_with("/vouchers") {
        "VOUCHER_REQUEST"
    } else {
        "PURCHASE_REQUEST"
    }
}

// ---------------------------------------------------------------------------
// Errors

/// An ErrorDetail answer (boxed: it travels in every `Result`).
#[derive(Debug, Clone)]
pub struct ElectrumError(Box<ErrorDetail>);

#[derive(Debug, Clone)]
struct ErrorDetail {
    status: StatusCode,
    error_type: &'static str,
    message: String,
    request_type: &'static str,
    id: Option<String>,
    original_id: Option<String>,
    detail: Value,
}

impl ElectrumError {
    fn new(
        status: StatusCode,
        error_type: &'static str,
        message: impl Into<String>,
        request_type: &'static str,
    ) -> Self {
        Self(Box::new(ErrorDetail {
            status,
            error_type,
            message: message.into(),
            request_type,
            id: None,
            original_id: None,
            detail: json!({}),
        }))
    }

    fn format(request_type: &'static str, errors: Vec<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "FORMAT_ERROR", "Bad formatting.", request_type).detail(
            json!({ "formatErrors": errors.into_iter().map(|m| json!({ "msg": m })).collect::<Vec<_>>() }),
        )
    }

    fn id(mut self, id: impl Into<String>) -> Self {
        self.0.id = Some(id.into());
        self
    }

    fn original(mut self, id: impl Into<String>) -> Self {
        self.0.original_id = Some(id.into());
        self
    }

    fn detail(mut self, detail: Value) -> Self {
        self.0.detail = detail;
        self
    }

    fn status(&self) -> StatusCode {
        self.0.status
    }

    fn body(&self) -> Value {
        let e = &self.0;
        let mut body = json!({
            "id": e.id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            "errorType": e.error_type,
            "errorMessage": e.message,
            "requestType": e.request_type,
            "detailMessage": e.detail,
        });
        if let Some(o) = &e.original_id {
            body["originalId"] = json!(o);
        }
        body
    }

    fn internal(request_type: &'static str, e: StoreError) -> Self {
        tracing::error!("electrum state: {e}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_MALFUNCTION",
            "General system error",
            request_type,
        )
    }
}

impl IntoResponse for ElectrumError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}

type Result<T> = std::result::Result<T, ElectrumError>;

// ---------------------------------------------------------------------------
// Fixtures

#[derive(Debug)]
struct Product {
    id: &'static str,
    name: &'static str,
    product_type: &'static str,
    direct_topup: bool,
    /// Fixed value, or `None` for a variable product.
    value: Option<i64>,
    /// Accepted range of a variable product.
    range: (i64, i64),
    wholesale: i64,
    channels: &'static [&'static str],
    /// Test input: trials answer 501 FUNCTION_NOT_SUPPORTED.
    no_trial: bool,
    /// Test input: sales answer 400 OUT_OF_STOCK.
    out_of_stock: bool,
}

const OPERATOR: (&str, &str) = ("6329442", "MTN");

const PRODUCTS: [Product; 10] = [
    Product {
        id: "12",
        name: "Airtime R29",
        product_type: "AIRTIME_FIXED",
        direct_topup: true,
        value: Some(2900),
        range: (0, 0),
        wholesale: 2800,
        channels: &["POS", "USSD"],
        no_trial: false,
        out_of_stock: false,
    },
    Product {
        id: "89",
        name: "Data 100MB",
        product_type: "DATA",
        direct_topup: true,
        value: Some(1000),
        range: (0, 0),
        wholesale: 950,
        channels: &["POS", "USSD"],
        no_trial: false,
        out_of_stock: false,
    },
    Product {
        id: "759",
        name: "Data 1GB",
        product_type: "DATA",
        direct_topup: true,
        value: Some(5000),
        range: (0, 0),
        wholesale: 4800,
        channels: &["POS"],
        no_trial: false,
        out_of_stock: false,
    },
    Product {
        id: "766",
        name: "Data 200MB",
        product_type: "DATA",
        direct_topup: true,
        value: Some(1000),
        range: (0, 0),
        wholesale: 960,
        channels: &["POS"],
        no_trial: false,
        out_of_stock: false,
    },
    Product {
        id: "AIRVAR",
        name: "Airtime, any amount",
        product_type: "AIRTIME_VARIABLE",
        direct_topup: true,
        value: None,
        range: (200, 100_000),
        wholesale: 0,
        channels: &["POS"],
        no_trial: false,
        out_of_stock: false,
    },
    Product {
        id: "NOTRIAL",
        name: "Airtime R15 (no trials)",
        product_type: "AIRTIME_FIXED",
        direct_topup: true,
        value: Some(1500),
        range: (0, 0),
        wholesale: 1450,
        channels: &["POS"],
        no_trial: true,
        out_of_stock: false,
    },
    Product {
        id: "productId123",
        name: "TalkALot",
        product_type: "AIRTIME_FIXED",
        direct_topup: false,
        value: Some(500),
        range: (0, 0),
        wholesale: 480,
        channels: &["POS"],
        no_trial: false,
        out_of_stock: false,
    },
    Product {
        id: "5555555555555",
        name: "Airtime voucher R20",
        product_type: "AIRTIME_FIXED",
        direct_topup: false,
        value: Some(2000),
        range: (0, 0),
        wholesale: 1920,
        channels: &["POS"],
        no_trial: false,
        out_of_stock: false,
    },
    Product {
        id: "VCH10",
        name: "Airtime voucher R10",
        product_type: "AIRTIME_FIXED",
        direct_topup: false,
        value: Some(1000),
        range: (0, 0),
        wholesale: 960,
        channels: &["POS"],
        no_trial: false,
        out_of_stock: false,
    },
    Product {
        id: "VCHOOS",
        name: "Airtime voucher R50 (out of stock)",
        product_type: "AIRTIME_FIXED",
        direct_topup: false,
        value: Some(5000),
        range: (0, 0),
        wholesale: 4800,
        channels: &["POS"],
        no_trial: false,
        out_of_stock: true,
    },
];

fn product(id: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.id == id)
}

fn amount(minor: i64) -> Value {
    json!({ "amount": minor, "currency": CURRENCY })
}

fn product_json(p: &Product) -> Value {
    let mut v = json!({
        "productId": p.id,
        "name": p.name,
        "type": p.product_type,
        "isDirectTopup": p.direct_topup,
        "wholesalePrice": amount(p.wholesale),
        "operator": { "id": OPERATOR.0, "name": OPERATOR.1 },
        "channels": p.channels.iter().enumerate().map(|(i, c)| json!({
            "channelName": c,
            "productDisplayName": p.name,
            "sortOrder": i + 1,
        })).collect::<Vec<_>>(),
    });
    if let Some(value) = p.value {
        v["recipientAmount"] = amount(value);
        v["productValues"] = json!([amount(value)]);
    }
    v
}

/// What a recipient MSISDN does to a sale (test inputs).
#[derive(Debug, Clone, Copy)]
struct MsisdnOutcome {
    msisdn: &'static str,
    status: u16,
    error_type: &'static str,
    message: &'static str,
    /// The sale takes effect although the answer is an error.
    takes_effect: bool,
}

const MSISDN_OUTCOMES: [MsisdnOutcome; 9] = [
    MsisdnOutcome {
        msisdn: "27000000001",
        status: 400,
        error_type: "DECLINED_BY_MNO",
        message: "Declined by the mobile network operator.",
        takes_effect: false,
    },
    MsisdnOutcome {
        msisdn: "27000000002",
        status: 400,
        error_type: "INVALID_MSISDN",
        message: "The MSISDN is not valid for this operator.",
        takes_effect: false,
    },
    MsisdnOutcome {
        msisdn: "27000000003",
        status: 400,
        error_type: "OUT_OF_STOCK",
        message: "Product out of stock.",
        takes_effect: false,
    },
    MsisdnOutcome {
        msisdn: "27000000004",
        status: 400,
        error_type: "INSUFFICIENT_FUNDS",
        message: "Insufficient funds.",
        takes_effect: false,
    },
    MsisdnOutcome {
        msisdn: "27000000005",
        status: 400,
        error_type: "LIMIT_EXCEEDED",
        message: "Limit exceeded.",
        takes_effect: false,
    },
    MsisdnOutcome {
        msisdn: "27000000006",
        status: 400,
        error_type: "DO_NOT_HONOR",
        message: "Do not honor.",
        takes_effect: false,
    },
    MsisdnOutcome {
        msisdn: "27000000500",
        status: 500,
        error_type: "SYSTEM_MALFUNCTION",
        message: "General system error.",
        takes_effect: false,
    },
    MsisdnOutcome {
        msisdn: "27000000503",
        status: 503,
        error_type: "UPSTREAM_UNAVAILABLE",
        message: "Upstream unavailable.",
        takes_effect: false,
    },
    MsisdnOutcome {
        msisdn: "27000000504",
        status: 504,
        error_type: "OUTCOME_UNKNOWN",
        message: "The provider did not answer in time.",
        takes_effect: true,
    },
];

fn msisdn_outcome(msisdn: &str) -> Option<MsisdnOutcome> {
    let m = msisdn.strip_prefix('+').unwrap_or(msisdn);
    MSISDN_OUTCOMES.iter().copied().find(|o| o.msisdn == m)
}

// ---------------------------------------------------------------------------
// Records

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SaleKind {
    Purchase,
    Voucher,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum SaleState {
    Open,
    Confirmed { advice_id: String },
    Reversed { advice_id: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sale {
    id: String,
    kind: SaleKind,
    /// The answer given (status and body), replayed by purchaseStatus.
    status: u16,
    response: Value,
    /// Whether the sale had a financial effect.
    approved: bool,
    state: SaleState,
    amount_minor: i64,
    /// (institutionId, transactionIdentifier) of request and response.
    third_party: Vec<(String, String)>,
    voucher: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tombstone {
    reversal_id: String,
    kind: SaleKind,
}

// ---------------------------------------------------------------------------
// Request plumbing

/// The Basic-auth user name, once the header is well-formed and carries the
/// configured password: a missing, malformed or wrong credential is 401.
fn basic_user(app: &App, headers: &HeaderMap, request_type: &'static str) -> Result<String> {
    let credentials = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let Some((user, password)) = credentials.as_deref().and_then(|s| s.split_once(':')) else {
        return Err(ElectrumError::new(
            StatusCode::UNAUTHORIZED,
            "FORMAT_ERROR",
            "HTTP Basic authorization is required.",
            request_type,
        ));
    };
    if password != app.settings.electrum_password {
        return Err(ElectrumError::new(
            StatusCode::UNAUTHORIZED,
            "FORMAT_ERROR",
            "HTTP Basic authorization failed.",
            request_type,
        ));
    }
    Ok(user.to_owned())
}

async fn read_json(
    app: &App,
    body: Body,
    request_type: &'static str,
) -> Result<Map<String, Value>> {
    let bytes = read_limited(body, &app.settings)
        .await
        .map_err(|e| ElectrumError::format(request_type, vec![e.to_string()]))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(ElectrumError::format(
            request_type,
            vec!["body must be a JSON object".to_owned()],
        )),
        Err(e) => Err(ElectrumError::format(
            request_type,
            vec![format!("malformed JSON: {e}")],
        )),
    }
}

const PRODUCT_TYPES: [&str; 9] = [
    "AIRTIME_FIXED",
    "AIRTIME_VARIABLE",
    "SMS_BUNDLE",
    "DATA",
    "APP_RELATED",
    "COMBO",
    "DATA_FIXED",
    "DATA_VARIABLE",
    "VOICE_BUNDLE",
];
const TENDER_TYPES: [&str; 9] = [
    "CASH",
    "CHEQUE",
    "CREDIT_CARD",
    "DEBIT_CARD",
    "WALLET",
    "ROUNDING",
    "GIFT_CARD",
    "LOYALTY_CARD",
    "OTHER",
];
const ACCOUNT_TYPES: [&str; 8] = [
    "DEFAULT",
    "SAVINGS",
    "CHEQUE",
    "CREDIT",
    "UNIVERSAL",
    "ELECTRONIC_PURSE",
    "GIFT_CARD",
    "STORED_VALUE",
];
const REVERSAL_REASONS: [&str; 3] = ["TIMEOUT", "CANCELLED", "RESPONSE_NOT_FINAL"];
const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
const MSISDN_PATTERN: &str = "^\\+?[1-9]\\d{1,14}";

fn check_id_time(c: &mut Check, root: &Map<String, Value>) {
    let id = c.string(root, "", "id", true, None);
    c.pattern(id, "", "id", UUID_PATTERN, is_uuid);
    let time = c.string(root, "", "time", true, None);
    c.pattern(
        time,
        "",
        "time",
        "RFC 3339 date-time",
        crate::clock::is_rfc3339,
    );
}

/// An array of objects at the top level, each with the two string members
/// `members` required.
fn check_pairs(
    c: &mut Check,
    root: &Map<String, Value>,
    field: &str,
    required: bool,
    members: [&str; 2],
) {
    if let Some(list) = c.array(root, "", field, required) {
        for (i, item) in list.iter().enumerate() {
            let path = format!("{field}[{i}]");
            match item.as_object() {
                Some(o) => {
                    for member in members {
                        c.string(o, &path, member, true, None);
                    }
                }
                None => c.fail(format!("{path} must be an object")),
            }
        }
    }
}

fn check_third_parties(c: &mut Check, root: &Map<String, Value>) {
    check_pairs(
        c,
        root,
        "thirdPartyIdentifiers",
        true,
        ["institutionId", "transactionIdentifier"],
    );
}

fn check_ledger_amount(
    c: &mut Check,
    obj: &Map<String, Value>,
    parent: &str,
    field: &str,
    required: bool,
) {
    if let Some(a) = c.object(obj, parent, field, required) {
        let path = join(parent, field);
        c.integer(a, &path, "amount", true);
        let cur = c.string(a, &path, "currency", true, None);
        c.pattern(cur, &path, "currency", "[0-9]{3}", |s| digits(s, 3));
        let ind = c.string(a, &path, "ledgerIndicator", false, None);
        c.one_of(ind, &path, "ledgerIndicator", &["DEBIT", "CREDIT"]);
    }
}

fn check_tenders(c: &mut Check, root: &Map<String, Value>) {
    if let Some(list) = c.array(root, "", "tenders", false) {
        for (i, t) in list.iter().enumerate() {
            let path = format!("tenders[{i}]");
            let Some(o) = t.as_object() else {
                c.fail(format!("{path} must be an object"));
                continue;
            };
            let tt = c.string(o, &path, "tenderType", true, None);
            c.one_of(tt, &path, "tenderType", &TENDER_TYPES);
            check_ledger_amount(c, o, &path, "amount", true);
            let at = c.string(o, &path, "accountType", false, None);
            c.one_of(at, &path, "accountType", &ACCOUNT_TYPES);
            let card = c.string(o, &path, "cardNumber", false, None);
            c.pattern(card, &path, "cardNumber", "[0-9]{6}[0-9*]{0,13}", |s| {
                let b = s.as_bytes();
                (6..=19).contains(&b.len())
                    && b.iter().take(6).all(u8::is_ascii_digit)
                    && b.iter().skip(6).all(|x| x.is_ascii_digit() || *x == b'*')
            });
            c.string(o, &path, "reference", false, Some((0, 40)));
        }
    }
}

/// `Institution` (originator institution, client, settlement entity,
/// receiver): `id` and `name` required, `name` at most 40 characters.
fn check_institution(
    c: &mut Check,
    obj: &Map<String, Value>,
    parent: &str,
    field: &str,
    required: bool,
) {
    if let Some(inst) = c.object(obj, parent, field, required) {
        let path = join(parent, field);
        c.string(inst, &path, "id", true, None);
        c.string(inst, &path, "name", true, Some((0, 40)));
    }
}

/// `transactionLabels[]`: each label's `name` and `value` required.
fn check_labels(c: &mut Check, root: &Map<String, Value>) {
    check_pairs(c, root, "transactionLabels", false, ["name", "value"]);
}

/// `Amounts`: every member a `LedgerAmount`.
fn check_amounts(c: &mut Check, root: &Map<String, Value>) {
    if let Some(a) = c.object(root, "", "amounts", false) {
        for f in [
            "requestAmount",
            "approvedAmount",
            "feeAmount",
            "balanceAmount",
        ] {
            check_ledger_amount(c, a, "amounts", f, false);
        }
    }
}

/// `Msisdn`: `msisdn` required (E.164), `country` two letters.
fn check_msisdn(c: &mut Check, root: &Map<String, Value>, field: &str) {
    if let Some(o) = c.object(root, "", field, false) {
        let n = c.string(o, field, "msisdn", true, None);
        c.pattern(n, field, "msisdn", MSISDN_PATTERN, is_msisdn);
        c.string(o, field, "country", false, Some((2, 2)));
    }
}

/// The request models of the sale operations (`PurchaseRequest` for trials
/// and purchases, `VoucherRequest` for vouchers): a `Transaction` (`id`,
/// `time`, originator, client, thirdPartyIdentifiers) with a product, the
/// amounts, tenders and, for purchases, the MSISDNs.
fn check_sale(root: &Map<String, Value>, purchase: bool) -> std::result::Result<(), Vec<String>> {
    let mut c = Check::new();
    check_labels(&mut c, root);
    check_id_time(&mut c, root);
    if let Some(o) = c.object(root, "", "originator", true) {
        check_institution(&mut c, o, "originator", "institution", true);
        c.string(o, "originator", "terminalId", true, Some((8, 8)));
        if let Some(m) = c.object(o, "originator", "merchant", true) {
            let mt = c.string(m, "originator.merchant", "merchantType", true, None);
            c.pattern(mt, "originator.merchant", "merchantType", "[0-9]{4}", |s| {
                digits(s, 4)
            });
            c.string(m, "originator.merchant", "merchantId", true, Some((15, 15)));
            if let Some(n) = c.object(m, "originator.merchant", "merchantName", true) {
                let p = "originator.merchant.merchantName";
                c.string(n, p, "name", true, Some((0, 23)));
                c.string(n, p, "city", true, Some((0, 13)));
                c.string(n, p, "region", true, Some((0, 2)));
                c.string(n, p, "country", true, Some((0, 2)));
            }
        }
    }
    check_institution(&mut c, root, "", "client", true);
    check_institution(&mut c, root, "", "settlementEntity", false);
    check_institution(&mut c, root, "", "receiver", false);
    check_third_parties(&mut c, root);
    if let Some(p) = c.object(root, "", "product", true) {
        let id = c.string(p, "product", "productId", true, None);
        c.pattern(id, "product", "productId", "[0-9A-Za-z]{1,20}", |s| {
            alnum(s, 1, 20)
        });
        c.string(p, "product", "barcode", false, Some((0, 13)));
        c.string(p, "product", "name", false, Some((0, 120)));
        let ty = c.string(p, "product", "type", false, None);
        c.one_of(ty, "product", "type", &PRODUCT_TYPES);
    }
    check_amounts(&mut c, root);
    for acc in ["srcAccType", "destAccType"] {
        let v = c.string(root, "", acc, false, None);
        c.one_of(v, "", acc, &ACCOUNT_TYPES);
    }
    if purchase {
        for m in ["recipientMsisdn", "senderMsisdn"] {
            check_msisdn(&mut c, root, m);
        }
    }
    check_tenders(&mut c, root);
    c.finish()
}

/// Which advice model a body must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AdviceModel {
    /// `TenderAdvice` (purchase confirmation): a `BasicAdvice` with tenders.
    TenderAdvice,
    /// `BasicReversal` (purchase and voucher reversal): `reversalReason`
    /// required.
    Reversal,
    /// `VoucherConfirmation`: a `TenderAdvice` with the `voucher` confirmed,
    /// its `serialNumber` required.
    VoucherConfirmation,
}

/// `BasicAdvice` (`id`, `requestId`, `time`, thirdPartyIdentifiers) and what
/// `model` adds.
fn check_advice(
    root: &Map<String, Value>,
    model: AdviceModel,
) -> std::result::Result<(), Vec<String>> {
    let mut c = Check::new();
    check_id_time(&mut c, root);
    let request_id = c.string(root, "", "requestId", true, None);
    c.pattern(request_id, "", "requestId", UUID_PATTERN, is_uuid);
    check_third_parties(&mut c, root);
    check_amounts(&mut c, root);
    match model {
        AdviceModel::Reversal => {
            let r = c.string(root, "", "reversalReason", true, None);
            c.one_of(r, "", "reversalReason", &REVERSAL_REASONS);
        }
        AdviceModel::TenderAdvice => check_tenders(&mut c, root),
        AdviceModel::VoucherConfirmation => {
            check_tenders(&mut c, root);
            if let Some(v) = c.object(root, "", "voucher", true) {
                let serial = c.string(v, "voucher", "serialNumber", true, None);
                c.pattern(
                    serial,
                    "voucher",
                    "serialNumber",
                    "[0-9a-zA-Z]{1,20}",
                    |s| alnum(s, 1, 20),
                );
                let pin = c.string(v, "voucher", "pin", false, None);
                c.pattern(pin, "voucher", "pin", "[0-9]{1,20}", |s| {
                    (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
                });
            }
        }
    }
    c.finish()
}

fn str_at<'v>(root: &'v Map<String, Value>, path: &[&str]) -> Option<&'v str> {
    let (last, parents) = path.split_last()?;
    let mut obj = root;
    for p in parents {
        obj = obj.get(*p)?.as_object()?;
    }
    obj.get(*last)?.as_str()
}

fn third_parties(root: &Map<String, Value>) -> Vec<(String, String)> {
    root.get("thirdPartyIdentifiers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|t| {
                    Some((
                        t.get("institutionId")?.as_str()?.to_owned(),
                        t.get("transactionIdentifier")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn numeric_ref(digits: usize) -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 10u128.pow(digits as u32);
    format!("{n:0digits$}")
}

fn slip(lines: &[String]) -> Value {
    json!({
        "messageLines": lines.iter().map(|t| json!({
            "text": t,
            "fontWidthScaleFactor": 1,
            "fontHeightScaleFactor": 1,
            "line": false,
            "cut": false,
        })).collect::<Vec<_>>(),
        "slipWidth": 32,
    })
}

fn new_voucher(now_ms: i64) -> Value {
    json!({
        "pin": numeric_ref(16),
        "expiryDate": crate::clock::rfc3339(now_ms + 365 * 24 * 3600 * 1000),
        "serialNumber": format!("SBX{}", numeric_ref(12)),
        "batchNumber": numeric_ref(8),
        "redeemInstructions": ["To redeem your airtime", "dial *136*<pin>#"],
    })
}

/// Checks everything a sale's outcome depends on; returns the product and
/// the approved amount.
fn price(
    root: &Map<String, Value>,
    request_type: &'static str,
    id: &str,
) -> Result<(&'static Product, i64)> {
    let product_id = str_at(root, &["product", "productId"]).unwrap_or_default();
    let p = product(product_id).ok_or_else(|| {
        ElectrumError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_PRODUCT",
            "Unknown product.",
            request_type,
        )
        .id(id)
    })?;
    let requested = root
        .get("amounts")
        .and_then(|a| a.get("requestAmount"))
        .and_then(Value::as_object);
    let invalid = |msg: &str| {
        ElectrumError::new(StatusCode::BAD_REQUEST, "INVALID_AMOUNT", msg, request_type).id(id)
    };
    if let Some(r) = requested {
        if r.get("currency").and_then(Value::as_str) != Some(CURRENCY) {
            return Err(invalid("Only currency 710 (ZAR) is sold."));
        }
    }
    let requested = requested
        .and_then(|r| r.get("amount"))
        .and_then(Value::as_i64);
    let approved = match (p.value, requested) {
        (Some(v), None) => v,
        (Some(v), Some(r)) if r == v => v,
        (Some(_), Some(_)) => return Err(invalid("The amount does not match the product value.")),
        (None, Some(r)) if (p.range.0..=p.range.1).contains(&r) => r,
        (None, _) => {
            return Err(invalid(
                "Variable product: requestAmount outside the allowed range.",
            ))
        }
    };
    if p.out_of_stock {
        return Err(ElectrumError::new(
            StatusCode::BAD_REQUEST,
            "OUT_OF_STOCK",
            "Product out of stock.",
            request_type,
        )
        .id(id));
    }
    Ok((p, approved))
}

/// Builds a PurchaseResponse / VoucherResponse from the request.
fn sale_response(
    root: &Map<String, Value>,
    kind: SaleKind,
    p: &Product,
    approved: i64,
    voucher: Option<&Value>,
) -> Value {
    let mut out = Map::new();
    for f in [
        "id",
        "time",
        "originator",
        "client",
        "transactionLabels",
        "basketRef",
        "tranType",
        "srcAccType",
        "destAccType",
        "stan",
        "rrn",
    ] {
        if let Some(v) = root.get(f) {
            out.insert(f.to_owned(), v.clone());
        }
    }
    out.insert(
        "settlementEntity".into(),
        json!({ "id": SWITCH_INSTITUTION, "name": "till sandbox switch" }),
    );
    out.insert(
        "receiver".into(),
        root.get("receiver").cloned().unwrap_or_else(
            || json!({ "id": PROVIDER_INSTITUTION, "name": "till sandbox provider" }),
        ),
    );
    let mut tpi: Vec<Value> = root
        .get("thirdPartyIdentifiers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    tpi.push(
        json!({ "institutionId": SWITCH_INSTITUTION, "transactionIdentifier": numeric_ref(8) }),
    );
    tpi.push(
        json!({ "institutionId": PROVIDER_INSTITUTION, "transactionIdentifier": numeric_ref(10) }),
    );
    out.insert("thirdPartyIdentifiers".into(), Value::Array(tpi));
    let mut amounts = Map::new();
    if let Some(r) = root.get("amounts").and_then(|a| a.get("requestAmount")) {
        amounts.insert("requestAmount".into(), r.clone());
    }
    amounts.insert("approvedAmount".into(), amount(approved));
    out.insert("amounts".into(), Value::Object(amounts));
    let product_field = match kind {
        SaleKind::Purchase => "product",
        SaleKind::Voucher => "responseProduct",
    };
    out.insert(product_field.into(), product_json(p));
    if let Some(m) = root.get("recipientMsisdn") {
        out.insert("msisdn".into(), m.clone());
    }
    let mut lines = vec![
        p.name.to_owned(),
        format!("Amount: R{}", crate::money::format_minor(approved, 2)),
    ];
    if let Some(v) = voucher {
        out.insert("voucher".into(), v.clone());
        if let Some(pin) = v.get("pin").and_then(Value::as_str) {
            lines.push(format!("PIN: {pin}"));
        }
        lines.push("Dial *136*<pin># to redeem".to_owned());
    }
    lines.push("For any queries please contact your network operator.".to_owned());
    out.insert("slipData".into(), slip(&lines));
    Value::Object(out)
}

// ---------------------------------------------------------------------------
// MSISDN lookup and products

async fn lookup_msisdn(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const RT: &str = "MSISDN_INFO_REQUEST";
    let result: Result<Response> = (|| {
        basic_user(&app, &headers, RT)?;
        let pairs = crate::query::pairs(query.as_deref().unwrap_or(""));
        let param = |n: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let Some(msisdn) = param("msisdn") else {
            return Err(ElectrumError::format(
                RT,
                vec!["msisdn may not be null".to_owned()],
            ));
        };
        if !is_msisdn(&msisdn) {
            return Err(ElectrumError::format(
                RT,
                vec![format!("msisdn must match \"{MSISDN_PATTERN}\"")],
            ));
        }
        let product_type = param("productType");
        if let Some(t) = &product_type {
            if !PRODUCT_TYPES.contains(&t.as_str()) {
                return Err(ElectrumError::format(
                    RT,
                    vec![format!(
                        "productType must be one of [{}]",
                        PRODUCT_TYPES.join(", ")
                    )],
                ));
            }
        }
        let channel = param("channelName");
        let number = msisdn.strip_prefix('+').unwrap_or(&msisdn);
        let mut body = json!({
            "msisdn": { "msisdn": number, "country": "ZA", "operator": { "id": OPERATOR.0, "name": OPERATOR.1 } },
            "availableProducts": [],
        });
        if number == PROMO_MSISDN {
            body["availableProducts"] = PRODUCTS
                .iter()
                .filter(|p| p.direct_topup)
                .filter(|p| product_type.as_deref().is_none_or(|t| t == p.product_type))
                .filter(|p| channel.as_deref().is_none_or(|c| p.channels.contains(&c)))
                .map(product_json)
                .collect();
            body["promotion"] = json!({
                "promotion": "Double data on every bundle this month",
                "startDate": "2026-01-01T00:00:00.000Z",
                "endDate": "2027-12-31T23:59:59.000Z",
            });
        }
        Ok(Json(body).into_response())
    })();
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn list_products(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const RT: &str = "LIST_PRODUCTS_REQUEST";
    let result: Result<Response> = (|| {
        basic_user(&app, &headers, RT)?;
        let pairs = crate::query::pairs(query.as_deref().unwrap_or(""));
        let channel = pairs
            .iter()
            .find(|(k, _)| k == "channelName")
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty());
        if channel.as_deref() == Some(NO_CATALOGUE_CHANNEL) {
            return Err(ElectrumError::new(
                StatusCode::NOT_IMPLEMENTED,
                "FUNCTION_NOT_SUPPORTED",
                "No product catalogue for this channel.",
                RT,
            ));
        }
        let list: Vec<Value> = PRODUCTS
            .iter()
            .filter(|p| channel.as_deref().is_none_or(|c| p.channels.contains(&c)))
            .map(product_json)
            .collect();
        Ok(Json(Value::Array(list)).into_response())
    })();
    result.unwrap_or_else(IntoResponse::into_response)
}

// ---------------------------------------------------------------------------
// Purchases

fn check_client(user: &str, root: &Map<String, Value>, request_type: &'static str) -> Result<()> {
    let client_id = str_at(root, &["client", "id"]).unwrap_or_default();
    if client_id != user {
        let id = str_at(root, &["id"]).unwrap_or_default().to_owned();
        return Err(ElectrumError::format(
            request_type,
            vec!["client.id must equal the HTTP Basic user name".to_owned()],
        )
        .id(id));
    }
    Ok(())
}

async fn purchase_trial(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    const RT: &str = "TRIAL_PURCHASE_REQUEST";
    let result: Result<Response> = async {
        let user = basic_user(&app, &headers, RT)?;
        let root = read_json(&app, body, RT).await?;
        check_sale(&root, true).map_err(|e| ElectrumError::format(RT, e))?;
        check_client(&user, &root, RT)?;
        let id = str_at(&root, &["id"]).unwrap_or_default().to_owned();
        let (p, approved) = price(&root, RT, &id)?;
        if p.no_trial {
            return Err(ElectrumError::new(
                StatusCode::NOT_IMPLEMENTED,
                "FUNCTION_NOT_SUPPORTED",
                "Trials are not supported for this product.",
                RT,
            )
            .id(id));
        }
        if let Some(o) = str_at(&root, &["recipientMsisdn", "msisdn"]).and_then(msisdn_outcome) {
            let status = StatusCode::from_u16(o.status).unwrap_or(StatusCode::BAD_REQUEST);
            return Err(ElectrumError::new(status, o.error_type, o.message, RT).id(id));
        }
        // No financial effect: nothing stored, no voucher.
        Ok(Json(sale_response(&root, SaleKind::Purchase, p, approved, None)).into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Records a sale (purchase or voucher) and answers it.
fn sell(
    app: &App,
    root: &Map<String, Value>,
    kind: SaleKind,
    request_type: &'static str,
) -> Result<Response> {
    let id = str_at(root, &["id"]).unwrap_or_default().to_owned();
    let now = app.clock.now_ms();
    let (sales, ledger_kind) = match kind {
        SaleKind::Purchase => (table::ELECTRUM_PURCHASES, ledger::kind::AIRTIME_SOLD),
        SaleKind::Voucher => (table::ELECTRUM_VOUCHERS, ledger::kind::VOUCHER_ISSUED),
    };
    let outcome = app.store.with(
        |t| -> std::result::Result<Result<(StatusCode, Value)>, StoreError> {
            // One id space for purchases and vouchers: an id is never sold
            // twice, whatever the kind (specs README: a reused request id is
            // refused with DUPLICATE_RECORD).
            if t.contains(table::ELECTRUM_PURCHASES, &id)
                || t.contains(table::ELECTRUM_VOUCHERS, &id)
            {
                return Ok(Err(ElectrumError::new(
                    StatusCode::BAD_REQUEST,
                    "DUPLICATE_RECORD",
                    "A request with this id was already received.",
                    request_type,
                )
                .id(id.clone())));
            }
            if let Some(tomb) = t.get::<Tombstone>(table::ELECTRUM_TOMBSTONES, &id)? {
                return Ok(Err(ElectrumError::new(
                    StatusCode::BAD_REQUEST,
                    "ACCOUNT_ALREADY_SETTLED",
                    "This request was reversed before it arrived.",
                    request_type,
                )
                .id(id.clone())
                .detail(json!({ "reversalId": tomb.reversal_id }))));
            }
            // Outcome: a pricing error or test MSISDN, else approved.
            let priced = price(root, request_type, &id);
            let msisdn = str_at(root, &["recipientMsisdn", "msisdn"]).and_then(msisdn_outcome);
            let (status, response, approved, amount_minor, voucher, product_id) =
                match (priced, msisdn) {
                    (Err(e), _) => (e.status(), e.body(), false, 0, None, None),
                    (Ok(_), Some(o)) if !o.takes_effect => {
                        if o.status >= 500 {
                            // No effect and nothing remembered: a status query says 404.
                            let status = StatusCode::from_u16(o.status)
                                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                            return Ok(Err(ElectrumError::new(
                                status,
                                o.error_type,
                                o.message,
                                request_type,
                            )
                            .id(id.clone())));
                        }
                        let e = ElectrumError::new(
                            StatusCode::from_u16(o.status).unwrap_or(StatusCode::BAD_REQUEST),
                            o.error_type,
                            o.message,
                            request_type,
                        )
                        .id(id.clone());
                        (e.status(), e.body(), false, 0, None, None)
                    }
                    (Ok((p, approved)), unknown) => {
                        let voucher = (!p.direct_topup || kind == SaleKind::Voucher)
                            .then(|| new_voucher(now));
                        let response = sale_response(root, kind, p, approved, voucher.as_ref());
                        match unknown {
                            // Took effect, but the answer is an error (504 OUTCOME_UNKNOWN).
                            Some(o) => {
                                let e = ElectrumError::new(
                                    StatusCode::from_u16(o.status)
                                        .unwrap_or(StatusCode::GATEWAY_TIMEOUT),
                                    o.error_type,
                                    o.message,
                                    request_type,
                                )
                                .id(id.clone());
                                let record_response = response.clone();
                                let sale = Sale {
                                    id: id.clone(),
                                    kind,
                                    status: 200,
                                    response: record_response,
                                    approved: true,
                                    state: SaleState::Open,
                                    amount_minor: approved,
                                    third_party: third_parties(
                                        response.as_object().unwrap_or(&Map::new()),
                                    ),
                                    voucher: voucher.clone(),
                                };
                                t.put(sales, &id, &sale)?;
                                record_sale(t, ledger_kind, &sale, root, p.id)?;
                                return Ok(Err(e));
                            }
                            None => (
                                StatusCode::CREATED,
                                response,
                                true,
                                approved,
                                voucher,
                                Some(p.id),
                            ),
                        }
                    }
                };
            let sale = Sale {
                id: id.clone(),
                kind,
                status: if approved { 200 } else { status.as_u16() },
                response: response.clone(),
                approved,
                state: SaleState::Open,
                amount_minor,
                third_party: third_parties(response.as_object().unwrap_or(root)),
                voucher,
            };
            t.put(sales, &id, &sale)?;
            if let Some(pid) = product_id {
                record_sale(t, ledger_kind, &sale, root, pid)?;
            }
            Ok(Ok((status, response)))
        },
    );
    let (status, response) = outcome.map_err(|e| ElectrumError::internal(request_type, e))??;
    let mut resp = (status, Json(response)).into_response();
    if status == StatusCode::CREATED {
        let location = match kind {
            SaleKind::Purchase => format!("{BASE}/purchases/status?originalMsgId={id}"),
            SaleKind::Voucher => format!("{BASE}/vouchers/{id}"),
        };
        if let Ok(v) = HeaderValue::from_str(&location) {
            resp.headers_mut().insert("location", v);
        }
    }
    Ok(resp)
}

fn record_sale(
    t: &mut Tables,
    kind: &'static str,
    sale: &Sale,
    root: &Map<String, Value>,
    product_id: &str,
) -> std::result::Result<(), StoreError> {
    t.record(NewEntry {
        api: ledger::api::ELECTRUM,
        kind,
        reference: sale.id.clone(),
        related: None,
        amount_minor: sale.amount_minor,
        currency: CURRENCY.to_owned(),
        detail: json!({
            "productId": product_id,
            "clientId": str_at(root, &["client", "id"]),
            "msisdn": str_at(root, &["recipientMsisdn", "msisdn"]),
            "serialNumber": sale.voucher.as_ref().and_then(|v| v.get("serialNumber")).cloned(),
        }),
    })?;
    Ok(())
}

async fn purchase(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    const RT: &str = "PURCHASE_REQUEST";
    let result: Result<Response> = async {
        let user = basic_user(&app, &headers, RT)?;
        let root = read_json(&app, body, RT).await?;
        check_sale(&root, true).map_err(|e| ElectrumError::format(RT, e))?;
        check_client(&user, &root, RT)?;
        sell(&app, &root, SaleKind::Purchase, RT)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn provision_voucher(
    State(app): State<App>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    const RT: &str = "VOUCHER_REQUEST";
    let result: Result<Response> = async {
        let user = basic_user(&app, &headers, RT)?;
        let root = read_json(&app, body, RT).await?;
        check_sale(&root, false).map_err(|e| ElectrumError::format(RT, e))?;
        if str_at(&root, &["id"]) != Some(request_id.as_str()) {
            return Err(ElectrumError::format(
                RT,
                vec!["id must equal the requestId of the path".to_owned()],
            ));
        }
        check_client(&user, &root, RT)?;
        sell(&app, &root, SaleKind::Voucher, RT)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

// ---------------------------------------------------------------------------
// Advices

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AdviceKind {
    Confirmation,
    Reversal,
}

/// Applies a confirmation or reversal to a purchase or voucher.
fn advise(
    app: &App,
    root: &Map<String, Value>,
    sale_kind: SaleKind,
    advice: AdviceKind,
    request_type: &'static str,
) -> Result<Response> {
    let advice_id = str_at(root, &["id"]).unwrap_or_default().to_owned();
    let request_id = str_at(root, &["requestId"]).unwrap_or_default().to_owned();
    let sales = match sale_kind {
        SaleKind::Purchase => table::ELECTRUM_PURCHASES,
        SaleKind::Voucher => table::ELECTRUM_VOUCHERS,
    };
    let what = match sale_kind {
        SaleKind::Purchase => "Purchase",
        SaleKind::Voucher => "Voucher",
    };
    let err = |status: StatusCode, ty: &'static str, msg: String| {
        ElectrumError::new(status, ty, msg, request_type)
            .id(advice_id.clone())
            .original(request_id.clone())
    };
    let outcome = app.store.with(|t| -> std::result::Result<Result<()>, StoreError> {
        let Some(mut sale) = t.get::<Sale>(sales, &request_id)? else {
            if advice == AdviceKind::Reversal {
                // Remember it: a late request with this id must be refused.
                t.put(
                    table::ELECTRUM_TOMBSTONES,
                    &request_id,
                    &Tombstone {
                        reversal_id: advice_id.clone(),
                        kind: sale_kind,
                    },
                )?;
            }
            return Ok(Err(err(
                StatusCode::NOT_FOUND,
                "UNABLE_TO_LOCATE_RECORD",
                format!("No {} with id {request_id}.", what.to_lowercase()),
            )));
        };
        match (advice, &sale.state) {
            (AdviceKind::Confirmation, SaleState::Confirmed { .. }) | (AdviceKind::Reversal, SaleState::Reversed { .. }) => {
                // A repeat: no side effect.
                Ok(Ok(()))
            }
            (AdviceKind::Confirmation, SaleState::Reversed { advice_id: rev }) => Ok(Err(err(
                StatusCode::BAD_REQUEST,
                "ACCOUNT_ALREADY_SETTLED",
                format!("{what} reversed."),
            )
            .detail(json!({ "reversalId": rev, "freeString": format!("The {} cannot be confirmed as it has already been reversed.", what.to_lowercase()) })))),
            (AdviceKind::Reversal, SaleState::Confirmed { advice_id: conf }) => {
                let mut detail = json!({
                    "confirmationId": conf,
                    "freeString": format!("The {} cannot be reversed as it has already been confirmed with the associated details.", what.to_lowercase()),
                });
                if let Some(v) = &sale.voucher {
                    detail["voucher"] = json!({
                        "serialNumber": v.get("serialNumber"),
                        "batchNumber": v.get("batchNumber"),
                        "redeemInstructions": [],
                    });
                }
                Ok(Err(err(StatusCode::BAD_REQUEST, "ACCOUNT_ALREADY_SETTLED", format!("{what} confirmed.")).detail(detail)))
            }
            (AdviceKind::Confirmation, SaleState::Open) if !sale.approved => Ok(Err(err(
                StatusCode::NOT_FOUND,
                "UNABLE_TO_LOCATE_RECORD",
                format!("No approved {} with id {request_id}.", what.to_lowercase()),
            ))),
            (AdviceKind::Confirmation, SaleState::Open) => {
                sale.state = SaleState::Confirmed { advice_id: advice_id.clone() };
                t.put(sales, &request_id, &sale)?;
                Ok(Ok(()))
            }
            (AdviceKind::Reversal, SaleState::Open) => {
                sale.state = SaleState::Reversed { advice_id: advice_id.clone() };
                t.put(sales, &request_id, &sale)?;
                if sale.approved {
                    t.record(NewEntry {
                        api: ledger::api::ELECTRUM,
                        kind: ledger::kind::REVERSAL_APPLIED,
                        reference: request_id.clone(),
                        related: Some(advice_id.clone()),
                        amount_minor: -sale.amount_minor,
                        currency: CURRENCY.to_owned(),
                        detail: json!({
                            "of": match sale_kind { SaleKind::Purchase => "purchase", SaleKind::Voucher => "voucher" },
                            "reversalReason": str_at(root, &["reversalReason"]),
                        }),
                    })?;
                }
                Ok(Ok(()))
            }
        }
    });
    outcome.map_err(|e| ElectrumError::internal(request_type, e))??;
    let mut echo = Map::new();
    for f in ["id", "requestId", "time", "thirdPartyIdentifiers"] {
        if let Some(v) = root.get(f) {
            echo.insert(f.to_owned(), v.clone());
        }
    }
    Ok((StatusCode::ACCEPTED, Json(Value::Object(echo))).into_response())
}

async fn purchase_advice(app: App, headers: HeaderMap, body: Body, advice: AdviceKind) -> Response {
    let rt = match advice {
        AdviceKind::Confirmation => "PURCHASE_CONFIRMATION",
        AdviceKind::Reversal => "PURCHASE_REVERSAL",
    };
    let result: Result<Response> = async {
        basic_user(&app, &headers, rt)?;
        let root = read_json(&app, body, rt).await?;
        let model = match advice {
            AdviceKind::Confirmation => AdviceModel::TenderAdvice,
            AdviceKind::Reversal => AdviceModel::Reversal,
        };
        check_advice(&root, model).map_err(|e| ElectrumError::format(rt, e))?;
        advise(&app, &root, SaleKind::Purchase, advice, rt)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn purchase_confirmation(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    purchase_advice(app, headers, body, AdviceKind::Confirmation).await
}

async fn purchase_reversal(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    purchase_advice(app, headers, body, AdviceKind::Reversal).await
}

async fn voucher_advice(
    app: App,
    headers: HeaderMap,
    body: Body,
    request_id: String,
    advice_id: String,
    advice: AdviceKind,
) -> Response {
    let rt = match advice {
        AdviceKind::Confirmation => "VOUCHER_CONFIRMATION",
        AdviceKind::Reversal => "VOUCHER_REVERSAL",
    };
    let result: Result<Response> = async {
        basic_user(&app, &headers, rt)?;
        let root = read_json(&app, body, rt).await?;
        let model = match advice {
            AdviceKind::Confirmation => AdviceModel::VoucherConfirmation,
            AdviceKind::Reversal => AdviceModel::Reversal,
        };
        check_advice(&root, model).map_err(|e| ElectrumError::format(rt, e))?;
        let mut mismatches = Vec::new();
        if str_at(&root, &["requestId"]) != Some(request_id.as_str()) {
            mismatches.push("requestId must equal the requestId of the path".to_owned());
        }
        if str_at(&root, &["id"]) != Some(advice_id.as_str()) {
            mismatches.push("id must equal the advice id of the path".to_owned());
        }
        if !mismatches.is_empty() {
            return Err(ElectrumError::format(rt, mismatches));
        }
        advise(&app, &root, SaleKind::Voucher, advice, rt)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn confirm_voucher(
    State(app): State<App>,
    Path((request_id, confirmation_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    voucher_advice(
        app,
        headers,
        body,
        request_id,
        confirmation_id,
        AdviceKind::Confirmation,
    )
    .await
}

async fn reverse_voucher(
    State(app): State<App>,
    Path((request_id, reversal_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    voucher_advice(
        app,
        headers,
        body,
        request_id,
        reversal_id,
        AdviceKind::Reversal,
    )
    .await
}

// ---------------------------------------------------------------------------
// Status

async fn purchase_status(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const RT: &str = "PURCHASE_STATUS_REQUEST";
    let result: Result<Response> = (|| {
        basic_user(&app, &headers, RT)?;
        let pairs = crate::query::pairs(query.as_deref().unwrap_or(""));
        let param = |n: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let original = param("originalMsgId");
        let reference = param("purchaseReference");
        let provider = param("provider");
        let found: Option<Sale> = app
            .store
            .with(|t| -> std::result::Result<Option<Sale>, StoreError> {
                match (&original, &reference, &provider) {
                    (Some(id), _, _) => t.get(table::ELECTRUM_PURCHASES, id),
                    (None, Some(r), Some(p)) => Ok(t
                        .scan::<Sale>(table::ELECTRUM_PURCHASES)?
                        .into_iter()
                        .map(|(_, s)| s)
                        .filter(|s| s.third_party.iter().any(|(i, x)| i == p && x == r))
                        // Several sales may share a reference: the latest one
                        // (RFC 3339 times of one format order as text).
                        .max_by(|a, b| {
                            let time = |s: &Sale| s.response["time"].as_str().map(str::to_owned);
                            time(a).cmp(&time(b))
                        })),
                    _ => Ok(None),
                }
            })
            .map_err(|e| ElectrumError::internal(RT, e))?;
        if original.is_none() && (reference.is_none() || provider.is_none()) {
            return Err(ElectrumError::format(
                RT,
                vec![
                    "originalMsgId may not be null (or give purchaseReference and provider)"
                        .to_owned(),
                ],
            ));
        }
        let wanted = original.clone().or(reference.clone()).unwrap_or_default();
        let Some(sale) = found else {
            return Err(ElectrumError::new(
                StatusCode::NOT_FOUND,
                "UNABLE_TO_LOCATE_RECORD",
                "No purchase matches the query.",
                RT,
            )
            .original(wanted));
        };
        if let SaleState::Reversed { advice_id } = &sale.state {
            return Err(ElectrumError::new(
                StatusCode::BAD_REQUEST,
                "ACCOUNT_ALREADY_SETTLED",
                "Purchase reversed.",
                RT,
            )
            .id(sale.id.clone())
            .original(sale.id.clone())
            .detail(json!({ "reversalId": advice_id })));
        }
        let status = StatusCode::from_u16(sale.status).unwrap_or(StatusCode::OK);
        Ok((status, Json(sale.response)).into_response())
    })();
    result.unwrap_or_else(IntoResponse::into_response)
}
