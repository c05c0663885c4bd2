//! MTN MoMo Collection v2.0 (CreatePayments) with the sandbox provisioning
//! endpoints.
//!
//! Provisioning (`/v1_0/apiuser…`) → token (`/collection/token/`, Basic
//! apiUser:apiKey) → CreatePayments (202) → payment status, which moves from
//! PENDING to a final status after the configured delay on the sandbox clock.
//! The sandbox test numbers (customer reference / MSISDN `46733123450…464`)
//! map to their failure reasons; any other number succeeds. A final status is
//! sent best-effort (PUT) to the X-Callback-Url given with the payment.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::app::{App, Shared};
use crate::body::read_limited;
use crate::json_path::is_uuid;
use crate::ledger::{self, NewEntry};
use crate::money::{exponent_of, format_minor, parse_decimal};
use crate::store::{table, StoreError, Tables};

/// The API user provisioned at every start (printed by the binary).
pub const PRESET_API_USER: &str = "c72025f5-5cd1-4630-99e4-8ba4722fad56";
/// Its API key.
pub const PRESET_API_KEY: &str = "f1db798c98df4bcf83b538175893bbf0";
/// The only accepted `Ocp-Apim-Subscription-Key`.
pub const SUBSCRIPTION_KEY: &str = "0b9f4c5d2e7a4c6f8d1e3a5b7c9d0e1f";

/// Access tokens live an hour (sandbox clock).
pub const TOKEN_TTL_SECONDS: i64 = 3600;

/// Longest senderNote / receiverMessage.
const MAX_NOTE_CHARS: usize = 160;

/// Target environments and the one currency each allows.
pub const ENVIRONMENTS: [(&str, &str); 12] = [
    ("sandbox", "EUR"),
    ("mtnuganda", "UGX"),
    ("mtnghana", "GHS"),
    ("mtnivorycoast", "XOF"),
    ("mtnzambia", "ZMW"),
    ("mtncameroon", "XAF"),
    ("mtnbenin", "XOF"),
    ("mtncongo", "XAF"),
    ("mtnswaziland", "SZL"),
    ("mtnguineaconakry", "GNF"),
    ("mtnsouthafrica", "ZAR"),
    ("mtnliberia", "LRD"),
];

/// How a test number ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planned {
    /// SUCCESSFUL after the delay.
    Success,
    /// PENDING for three delays, then SUCCESSFUL ("ongoing").
    SlowSuccess,
    /// PENDING for ever ("pending/delayed").
    NeverFinal,
    /// FAILED after the delay with this reason.
    Fail(&'static str, &'static str),
}

/// The sandbox test numbers (without a leading `+`).
pub const TEST_NUMBERS: [(&str, Planned); 15] = [
    (
        "46733123450",
        Planned::Fail("INTERNAL_PROCESSING_ERROR", "Payment failed."),
    ),
    (
        "46733123451",
        Planned::Fail("APPROVAL_REJECTED", "Payer rejected the payment."),
    ),
    (
        "46733123452",
        Planned::Fail("EXPIRED", "Payer did not approve in time."),
    ),
    ("46733123453", Planned::SlowSuccess),
    ("46733123454", Planned::NeverFinal),
    (
        "46733123455",
        Planned::Fail("PAYER_NOT_FOUND", "Payer not found."),
    ),
    (
        "46733123456",
        Planned::Fail(
            "PAYEE_NOT_ALLOWED_TO_RECEIVE",
            "Payee is not allowed to receive.",
        ),
    ),
    (
        "46733123457",
        Planned::Fail("NOT_ALLOWED", "Payer is not allowed."),
    ),
    (
        "46733123458",
        Planned::Fail(
            "NOT_ALLOWED_TARGET_ENVIRONMENT",
            "Target environment not allowed.",
        ),
    ),
    (
        "46733123459",
        Planned::Fail(
            "INVALID_CALLBACK_URL_HOST",
            "Callback URL host is not allowed.",
        ),
    ),
    (
        "46733123460",
        Planned::Fail("INVALID_CURRENCY", "Currency not supported."),
    ),
    (
        "46733123461",
        Planned::Fail("INTERNAL_PROCESSING_ERROR", "Internal processing error."),
    ),
    (
        "46733123462",
        Planned::Fail("SERVICE_UNAVAILABLE", "Service unavailable."),
    ),
    (
        "46733123463",
        Planned::Fail(
            "COULD_NOT_PERFORM_TRANSACTION",
            "Could not perform transaction.",
        ),
    ),
    (
        "46733123464",
        Planned::Fail("TRANSFERTYPE_UNKNOWN", "Transfer type unknown."),
    ),
];

/// The planned outcome for a customer reference.
pub fn planned(customer_reference: &str) -> Planned {
    let number = customer_reference
        .strip_prefix('+')
        .unwrap_or(customer_reference);
    TEST_NUMBERS
        .iter()
        .find(|(n, _)| *n == number)
        .map_or(Planned::Success, |(_, p)| *p)
}

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/v1_0/apiuser", post(create_user))
        .route("/v1_0/apiuser/{id}", get(get_user))
        .route("/v1_0/apiuser/{id}/apikey", post(create_api_key))
        .route("/collection/token/", post(token))
        .route("/collection/token", post(token))
        .route("/collection/v2_0/payment", post(create_payment))
        .route(
            "/collection/v2_0/payment/{reference_id}",
            get(payment_status),
        )
}

// ---------------------------------------------------------------------------
// Errors

/// A MoMo error answer `{"code","message"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MomoError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl MomoError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            "Requested resource was not found.",
        )
    }
}

impl From<StoreError> for MomoError {
    fn from(e: StoreError) -> Self {
        tracing::error!("momo state: {e}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_PROCESSING_ERROR",
            "An internal error occurred while processing.",
        )
    }
}

impl IntoResponse for MomoError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "code": self.code, "message": self.message })),
        )
            .into_response()
    }
}

type Result<T> = std::result::Result<T, MomoError>;

// ---------------------------------------------------------------------------
// Records

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ApiUser {
    id: String,
    provider_callback_host: String,
    api_key: Option<String>,
    target_environment: String,
    /// The subscription that created the user ([`subscription_of`]); a user
    /// and its key answer only under that subscription key, as on MTN.
    /// State files from before this field belong to [`SUBSCRIPTION_KEY`].
    #[serde(default = "default_subscription")]
    subscription: String,
}

fn default_subscription() -> String {
    subscription_of(SUBSCRIPTION_KEY)
}

/// A subscription key's identity in the state: a hash, so the key itself is
/// never stored or logged.
fn subscription_of(key: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    format!("sub_{:016x}", h.finish())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccessToken {
    user: String,
    expires_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum PaymentStatus {
    Pending,
    Successful,
    Failed,
}

impl PaymentStatus {
    fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "PENDING",
            PaymentStatus::Successful => "SUCCESSFUL",
            PaymentStatus::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Reason {
    code: String,
    message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Payment {
    reference_id: String,
    user: String,
    environment: String,
    amount: String,
    amount_minor: i64,
    currency: String,
    customer_reference: String,
    external_transaction_id: Option<String>,
    callback_url: Option<String>,
    created_at_ms: i64,
    /// When it becomes final; `None` for ever pending.
    final_at_ms: Option<i64>,
    status: PaymentStatus,
    financial_transaction_id: Option<String>,
    reason: Option<Reason>,
}

impl Payment {
    fn status_json(&self) -> Value {
        let mut body = json!({
            "referenceId": self.reference_id,
            "status": self.status.as_str(),
        });
        if let Some(id) = &self.financial_transaction_id {
            body["financialTransactionId"] = json!(id);
        }
        if let Some(r) = &self.reason {
            body["reason"] = json!({ "code": r.code, "message": r.message });
        }
        body
    }

    fn callback_json(&self) -> Value {
        let mut body = self.status_json();
        body["externalId"] = json!(self.external_transaction_id);
        body["amount"] = json!(self.amount);
        body["currency"] = json!(self.currency);
        body
    }
}

/// Provisions the preset API user if the state does not have it yet, under
/// the pinned subscription key (or [`SUBSCRIPTION_KEY`]).
pub(crate) fn ensure_preset_user(app: &Shared) -> std::result::Result<(), StoreError> {
    let subscription = subscription_of(
        app.settings
            .momo_subscription_key
            .as_deref()
            .unwrap_or(SUBSCRIPTION_KEY),
    );
    app.store.with(|t| {
        let existing: Option<ApiUser> = t.get(table::MOMO_USERS, PRESET_API_USER)?;
        if existing.is_some_and(|u| u.subscription == subscription) {
            return Ok(());
        }
        t.put(
            table::MOMO_USERS,
            PRESET_API_USER,
            &ApiUser {
                id: PRESET_API_USER.to_owned(),
                provider_callback_host: "localhost".to_owned(),
                api_key: Some(PRESET_API_KEY.to_owned()),
                target_environment: "sandbox".to_owned(),
                subscription,
            },
        )
    })
}

// ---------------------------------------------------------------------------
// Header checks

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The caller's subscription ([`subscription_of`]): any non-empty
/// `Ocp-Apim-Subscription-Key`, or only the pinned one; else 401.
fn check_subscription(app: &App, headers: &HeaderMap) -> Result<String> {
    let key = header(headers, "ocp-apim-subscription-key").map(str::trim);
    let accepted = match (&app.settings.momo_subscription_key, key) {
        (_, None) | (_, Some("")) => None,
        (Some(pinned), Some(k)) => (pinned == k).then_some(k),
        (None, Some(k)) => Some(k),
    };
    accepted.map(subscription_of).ok_or_else(|| {
        MomoError::new(
            StatusCode::UNAUTHORIZED,
            "ACCESS_DENIED",
            "Access denied due to missing or invalid subscription key.",
        )
    })
}

/// The API user `id` if it exists under `subscription`: another
/// subscription's user is as unknown as one never created.
fn user_of(
    t: &Tables,
    id: &str,
    subscription: &str,
) -> std::result::Result<Option<ApiUser>, StoreError> {
    let user: Option<ApiUser> = t.get(table::MOMO_USERS, &id.to_ascii_lowercase())?;
    Ok(user.filter(|u| u.subscription == subscription))
}

/// The API user of a valid, unexpired Bearer token, if that user belongs to
/// the caller's subscription; else 401.
fn bearer_user(app: &App, headers: &HeaderMap, subscription: &str) -> Result<String> {
    let unauthorized = || {
        MomoError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Access token is missing, invalid or expired.",
        )
    };
    let token = header(headers, "authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(unauthorized)?;
    let now = app.clock.now_ms();
    let user = app.store.with(|t| -> std::result::Result<_, StoreError> {
        let stored: Option<AccessToken> = t.get(table::MOMO_TOKENS, token)?;
        match stored {
            Some(tok) if tok.expires_at_ms > now => Ok(user_of(t, &tok.user, subscription)?),
            _ => Ok(None),
        }
    })?;
    user.map(|u| u.id).ok_or_else(unauthorized)
}

fn reference_id(headers: &HeaderMap) -> Result<String> {
    match header(headers, "x-reference-id").map(str::trim) {
        Some(r) if is_uuid(r) => Ok(r.to_ascii_lowercase()),
        _ => Err(MomoError::bad_request("X-Reference-Id must be a UUID.")),
    }
}

fn random_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

// ---------------------------------------------------------------------------
// Provisioning

async fn create_user(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let result: Result<Response> = async {
        let subscription = check_subscription(&app, &headers)?;
        let id = reference_id(&headers)?;
        let bytes = read_limited(body, &app.settings)
            .await
            .map_err(|e| MomoError::bad_request(e.to_string()))?;
        let json: Value = serde_json::from_slice(&bytes)
            .map_err(|_| MomoError::bad_request("Body must be a JSON object."))?;
        let host = json
            .get("providerCallbackHost")
            .and_then(Value::as_str)
            .filter(|h| !h.is_empty())
            .ok_or_else(|| MomoError::bad_request("providerCallbackHost is required."))?;
        app.store.with(|t| -> Result<()> {
            if t.contains(table::MOMO_USERS, &id) {
                return Err(MomoError::new(
                    StatusCode::CONFLICT,
                    "RESOURCE_ALREADY_EXIST",
                    "Duplicated reference id. Creation of resource failed.",
                ));
            }
            t.put(
                table::MOMO_USERS,
                &id,
                &ApiUser {
                    id: id.clone(),
                    provider_callback_host: host.to_owned(),
                    api_key: None,
                    target_environment: "sandbox".to_owned(),
                    subscription,
                },
            )?;
            Ok(())
        })?;
        Ok(StatusCode::CREATED.into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn create_api_key(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result: Result<Response> = (|| {
        let subscription = check_subscription(&app, &headers)?;
        let key = random_hex();
        app.store.with(|t| -> Result<()> {
            let mut user = user_of(t, &id, &subscription)?.ok_or_else(MomoError::not_found)?;
            user.api_key = Some(key.clone());
            t.put(table::MOMO_USERS, &user.id.clone(), &user)?;
            Ok(())
        })?;
        Ok((StatusCode::CREATED, Json(json!({ "apiKey": key }))).into_response())
    })();
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn get_user(State(app): State<App>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let result: Result<Response> = (|| {
        let subscription = check_subscription(&app, &headers)?;
        let user = app
            .store
            .with(|t| user_of(t, &id, &subscription))?
            .ok_or_else(MomoError::not_found)?;
        Ok(Json(json!({
            "providerCallbackHost": user.provider_callback_host,
            "targetEnvironment": user.target_environment,
        }))
        .into_response())
    })();
    result.unwrap_or_else(IntoResponse::into_response)
}

// ---------------------------------------------------------------------------
// Token

async fn token(State(app): State<App>, headers: HeaderMap) -> Response {
    let subscription = match check_subscription(&app, &headers) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let unauthorized = || {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_client" })),
        )
            .into_response()
    };
    let Some(credentials) = header(&headers, "authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
    else {
        return unauthorized();
    };
    let Some((user_id, key)) = credentials.split_once(':') else {
        return unauthorized();
    };
    let now = app.clock.now_ms();
    let issued = app
        .store
        .with(|t| -> std::result::Result<Option<String>, StoreError> {
            match user_of(t, user_id, &subscription)? {
                Some(u) if u.api_key.as_deref() == Some(key) => {
                    let token = format!("sbx.{}{}", random_hex(), random_hex());
                    t.put(
                        table::MOMO_TOKENS,
                        &token,
                        &AccessToken {
                            user: u.id,
                            expires_at_ms: now + TOKEN_TTL_SECONDS * 1000,
                        },
                    )?;
                    Ok(Some(token))
                }
                _ => Ok(None),
            }
        });
    match issued {
        Ok(Some(token)) => Json(json!({
            "access_token": token,
            "token_type": "access_token",
            "expires_in": TOKEN_TTL_SECONDS,
        }))
        .into_response(),
        Ok(None) => unauthorized(),
        Err(e) => {
            tracing::error!("momo state: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "login_failed" })),
            )
                .into_response()
        }
    }
}

// ---------------------------------------------------------------------------
// Payments

fn note_ok(json: &Value, field: &str) -> Result<()> {
    match json.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if s.chars().count() <= MAX_NOTE_CHARS && !s.contains('\'') => {
            Ok(())
        }
        Some(_) => Err(MomoError::bad_request(format!(
            "{field} must be a string of at most {MAX_NOTE_CHARS} characters without apostrophes."
        ))),
    }
}

async fn create_payment(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let result: Result<Response> = async {
        let subscription = check_subscription(&app, &headers)?;
        let user = bearer_user(&app, &headers, &subscription)?;
        let reference_id = reference_id(&headers)?;
        let environment = header(&headers, "x-target-environment")
            .unwrap_or_default()
            .to_owned();
        let allowed_currency = ENVIRONMENTS
            .iter()
            .find(|(env, _)| *env == environment)
            .map(|(_, c)| *c)
            .ok_or_else(|| {
                MomoError::new(
                    StatusCode::BAD_REQUEST,
                    "NOT_ALLOWED_TARGET_ENVIRONMENT",
                    "Access to target environment is forbidden.",
                )
            })?;
        let callback_url = match headers.get("x-callback-url") {
            None => None,
            Some(v) => {
                let url = v.to_str().unwrap_or_default().trim();
                let parsed = reqwest::Url::parse(url).ok().filter(|u| {
                    matches!(u.scheme(), "http" | "https")
                        && u.host_str().is_some_and(|h| !h.is_empty())
                });
                if parsed.is_none() {
                    return Err(MomoError::new(
                        StatusCode::BAD_REQUEST,
                        "INVALID_CALLBACK_URL_HOST",
                        "Callback URL is empty or not a valid http(s) URL.",
                    ));
                }
                Some(url.to_owned())
            }
        };
        let bytes = read_limited(body, &app.settings)
            .await
            .map_err(|e| MomoError::bad_request(e.to_string()))?;
        let json: Value = serde_json::from_slice(&bytes)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| MomoError::bad_request("Body must be a JSON object."))?;
        let money = json
            .get("money")
            .and_then(Value::as_object)
            .ok_or_else(|| MomoError::bad_request("money is required."))?;
        let currency = money
            .get("currency")
            .and_then(Value::as_str)
            .ok_or_else(|| MomoError::bad_request("money.currency is required."))?;
        let amount = money
            .get("amount")
            .and_then(Value::as_str)
            .ok_or_else(|| MomoError::bad_request("money.amount must be a string."))?;
        let amount_minor = parse_decimal(amount, exponent_of(currency))
            .filter(|a| *a > 0)
            .ok_or_else(|| MomoError::bad_request("money.amount must be a positive decimal."))?;
        if currency != allowed_currency {
            return Err(MomoError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_CURRENCY",
                format!("Currency not supported in target environment {environment}."),
            ));
        }
        let customer_reference = json
            .get("customerReference")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| MomoError::bad_request("customerReference is required."))?
            .to_owned();
        let external_transaction_id = match json.get("externalTransactionId") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(MomoError::bad_request(
                    "externalTransactionId must be a string.",
                ))
            }
        };
        note_ok(&json, "senderNote")?;
        note_ok(&json, "receiverMessage")?;

        let now = app.clock.now_ms();
        let delay = app.settings.momo_delay_ms;
        let final_at_ms = match planned(&customer_reference) {
            Planned::NeverFinal => None,
            Planned::SlowSuccess => Some(now + delay.saturating_mul(3)),
            Planned::Success | Planned::Fail(..) => Some(now + delay),
        };
        let payment = Payment {
            reference_id: reference_id.clone(),
            user,
            environment,
            amount: format_minor(amount_minor, exponent_of(currency)),
            amount_minor,
            currency: currency.to_owned(),
            customer_reference,
            external_transaction_id,
            callback_url,
            created_at_ms: now,
            final_at_ms,
            status: PaymentStatus::Pending,
            financial_transaction_id: None,
            reason: None,
        };
        app.store.with(|t| -> Result<()> {
            if t.contains(table::MOMO_PAYMENTS, &reference_id) {
                return Err(MomoError::new(
                    StatusCode::CONFLICT,
                    "RESOURCE_ALREADY_EXIST",
                    "Duplicated reference id. Creation of resource failed.",
                ));
            }
            t.put(table::MOMO_PAYMENTS, &reference_id, &payment)?;
            Ok(())
        })?;
        // A zero delay settles at once, before the 202 leaves.
        settle_due(&app);
        Ok(StatusCode::ACCEPTED.into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn payment_status(
    State(app): State<App>,
    Path(reference_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result: Result<Response> = (|| {
        let subscription = check_subscription(&app, &headers)?;
        let user = bearer_user(&app, &headers, &subscription)?;
        settle_due(&app);
        // Another API user's payment is as unknown as one never made.
        let payment: Payment = app
            .store
            .with(|t| t.get(table::MOMO_PAYMENTS, &reference_id.to_ascii_lowercase()))?
            .filter(|p: &Payment| p.user == user)
            .ok_or_else(MomoError::not_found)?;
        Ok(Json(payment.status_json()).into_response())
    })();
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Makes every payment that is due final (ledger on success) and sends the
/// callbacks.
fn settle_due(app: &App) {
    let now = app.clock.now_ms();
    let settled = app.store.with(|t| settle_in(t, now));
    match settled {
        Ok(callbacks) => {
            for (url, body) in callbacks {
                let http = app.http.clone();
                tokio::spawn(async move {
                    if let Err(e) = http.put(&url).json(&body).send().await {
                        tracing::debug!("momo callback failed: {e}");
                    }
                });
            }
        }
        Err(e) => tracing::error!("momo state: {e}"),
    }
}

fn settle_in(t: &mut Tables, now: i64) -> std::result::Result<Vec<(String, Value)>, StoreError> {
    let mut callbacks = Vec::new();
    // Only pending payments are decoded (this runs every few milliseconds).
    let due: Vec<(String, Payment)> = t
        .scan_where::<Payment>(table::MOMO_PAYMENTS, |v| v["status"] == "PENDING")?
        .into_iter()
        .filter(|(_, p)| {
            p.status == PaymentStatus::Pending && p.final_at_ms.is_some_and(|at| at <= now)
        })
        .collect();
    for (key, mut p) in due {
        match planned(&p.customer_reference) {
            Planned::Fail(code, message) => {
                p.status = PaymentStatus::Failed;
                p.reason = Some(Reason {
                    code: code.to_owned(),
                    message: message.to_owned(),
                });
            }
            Planned::Success | Planned::SlowSuccess | Planned::NeverFinal => {
                p.status = PaymentStatus::Successful;
                let ftid = format!(
                    "{:010}",
                    (uuid::Uuid::new_v4().as_u128() % 10_000_000_000) as u64
                );
                p.financial_transaction_id = Some(ftid.clone());
                t.record(NewEntry {
                    api: ledger::api::MOMO,
                    kind: ledger::kind::PAYMENT_SUCCEEDED,
                    reference: p.reference_id.clone(),
                    related: p.external_transaction_id.clone(),
                    amount_minor: p.amount_minor,
                    currency: p.currency.clone(),
                    detail: json!({
                        "financialTransactionId": ftid,
                        "customerReference": p.customer_reference,
                        "environment": p.environment,
                        "apiUser": p.user,
                    }),
                })?;
            }
        }
        t.put(table::MOMO_PAYMENTS, &key, &p)?;
        if let Some(url) = &p.callback_url {
            callbacks.push((url.clone(), p.callback_json()));
        }
    }
    Ok(callbacks)
}

/// Background task: settles due payments every few milliseconds, so the
/// ledger does not depend on anyone polling.
pub(crate) async fn finalizer(app: App, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => settle_due(&app),
        }
    }
}
