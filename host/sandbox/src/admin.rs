//! The admin endpoints under `/_sandbox/` (never faulted, no auth):
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
use axum::extract::{Path, State};
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

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg }))).into_response()
}

async fn info(State(app): State<App>) -> Response {
    Json(json!({
        "base_url": app.base_url,
        "conductor": { "secret_key": "any sk_test_… key", "retailer_id": "any non-empty value" },
        "momo": {
            "api_user": PRESET_API_USER,
            "api_key": PRESET_API_KEY,
            "subscription_key": SUBSCRIPTION_KEY,
            "target_environment": "sandbox",
            "payment_delay_ms": app.settings.momo_delay_ms,
        },
        "electrum": { "basic_auth": "user name = client.id, any password" },
        "test_inputs": crate::TEST_INPUTS_DOC,
    }))
    .into_response()
}

async fn ledger(State(app): State<App>) -> Response {
    Json(app.store.ledger()).into_response()
}

async fn list_faults(State(app): State<App>) -> Response {
    Json(app.faults.list()).into_response()
}

async fn add_fault(State(app): State<App>, body: Body) -> Response {
    let bytes = match read_limited(body, app.settings.body_limit).await {
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

async fn clear_faults(State(app): State<App>) -> Response {
    app.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn remove_fault(State(app): State<App>, Path(id): Path<u64>) -> Response {
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

async fn clock(State(app): State<App>) -> Response {
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

async fn advance_clock(State(app): State<App>, body: Body) -> Response {
    let bytes = match read_limited(body, app.settings.body_limit).await {
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
