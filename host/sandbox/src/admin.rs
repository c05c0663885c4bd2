//! The admin endpoints under `/_sandbox/` (never faulted). Each needs the
//! admin token (`Authorization: Bearer <token>`, generated at start and
//! printed, or set with `--admin-token`); without it the answer is 401 and
//! nothing changes:
//!
//! | method, path | what |
//! |---|---|
//! | GET `/_sandbox/info` | base URL, MoMo credentials, where test inputs are documented |
//! | GET `/_sandbox/ledger` | every financial effect, oldest first |
//! | GET `/_sandbox/faults` | installed fault rules with their counters |
//! | POST `/_sandbox/faults` | install a rule (JSON of [`crate::FaultRule`]) → 201 `{"id"}` |
//! | DELETE `/_sandbox/faults` | remove all rules |
//! | DELETE `/_sandbox/faults/{id}` | remove one rule |
//! | GET `/_sandbox/clock` | sandbox clock: now and offset |
//! | POST `/_sandbox/clock/advance` | `{"seconds": n}` moves the clock forward |

use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::app::App;
use crate::body::read_limited;
use crate::faults::FaultRule;
use crate::momo::{PRESET_API_KEY, PRESET_API_USER, SUBSCRIPTION_KEY};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/_sandbox/info", get(info))
        .route("/_sandbox/ledger", get(ledger))
        .route(
            "/_sandbox/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_sandbox/faults/{id}", axum::routing::delete(remove_fault))
        .route("/_sandbox/clock", get(clock))
        .route("/_sandbox/clock/advance", post(advance_clock))
}

/// Proof that a request carried the admin token: every handler takes one.
#[derive(Debug)]
pub(crate) struct Admin;

impl FromRequestParts<App> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if token
            .is_some_and(|t| constant_time_eq(t.as_bytes(), app.settings.admin_token.as_bytes()))
        {
            Ok(Admin)
        } else {
            Err((
                StatusCode::UNAUTHORIZED,
                Json(json!({ "error": "the admin token is required: Authorization: Bearer <token> (printed at start)" })),
            )
                .into_response())
        }
    }
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg }))).into_response()
}

async fn info(State(app): State<App>, _admin: Admin) -> Response {
    let settings = &app.settings;
    Json(json!({
        "base_url": app.base_url,
        "conductor": {
            "secret_keys": settings.conductor_keys,
            "retailer_id": "any non-empty value",
        },
        "momo": {
            "api_user": PRESET_API_USER,
            "api_key": PRESET_API_KEY,
            "subscription_key": settings.momo_subscription_key.as_deref().unwrap_or(SUBSCRIPTION_KEY),
            "subscription_key_pinned": settings.momo_subscription_key.is_some(),
            "target_environment": "sandbox",
            "payment_delay_ms": settings.momo_delay_ms,
        },
        "electrum": {
            "basic_auth": "user name = the request's client.id",
            "password": settings.electrum_password,
        },
        "limits": {
            "handshake_timeout_ms": settings.limits.handshake_timeout.as_millis() as u64,
            "header_read_timeout_ms": settings.limits.header_read_timeout.as_millis() as u64,
            "body_read_timeout_ms": settings.limits.body_read_timeout.as_millis() as u64,
            "idle_timeout_ms": settings.limits.idle_timeout.as_millis() as u64,
            "max_connections": settings.limits.max_connections,
            "max_connections_per_addr": settings.limits.max_connections_per_addr,
        },
        "test_inputs": crate::TEST_INPUTS_DOC,
    }))
    .into_response()
}

async fn ledger(State(app): State<App>, _admin: Admin) -> Response {
    Json(app.store.ledger()).into_response()
}

async fn list_faults(State(app): State<App>, _admin: Admin) -> Response {
    Json(app.faults.list()).into_response()
}

async fn add_fault(State(app): State<App>, _admin: Admin, body: Body) -> Response {
    let bytes = match read_limited(body, &app.settings).await {
        Ok(b) => b,
        Err(e) => return bad_request(e.to_string()),
    };
    match serde_json::from_slice::<FaultRule>(&bytes) {
        Ok(rule) => {
            let id = app.faults.add(rule);
            (StatusCode::CREATED, Json(json!({ "id": id }))).into_response()
        }
        Err(e) => bad_request(format!("not a fault rule: {e}")),
    }
}

async fn clear_faults(State(app): State<App>, _admin: Admin) -> Response {
    app.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn remove_fault(State(app): State<App>, _admin: Admin, Path(id): Path<u64>) -> Response {
    if app.faults.remove(id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such fault" })),
        )
            .into_response()
    }
}

async fn clock(State(app): State<App>, _admin: Admin) -> Response {
    Json(json!({
        "now": app.clock.now_rfc3339(),
        "offset_ms": app.clock.offset_ms(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct Advance {
    seconds: u64,
}

async fn advance_clock(State(app): State<App>, _admin: Admin, body: Body) -> Response {
    let bytes = match read_limited(body, &app.settings).await {
        Ok(b) => b,
        Err(e) => return bad_request(e.to_string()),
    };
    match serde_json::from_slice::<Advance>(&bytes) {
        Ok(a) => {
            app.clock.advance(Duration::from_secs(a.seconds));
            Json(json!({ "now": app.clock.now_rfc3339(), "offset_ms": app.clock.offset_ms() }))
                .into_response()
        }
        Err(e) => bad_request(format!("expected {{\"seconds\": n}}: {e}")),
    }
}
