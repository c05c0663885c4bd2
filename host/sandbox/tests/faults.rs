//! Each fault kind, per route and per n-th request, set from the library,
//! from the admin endpoint and from a TOML file.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use till_sandbox::faults::FaultFile;
use till_sandbox::{FaultKind, FaultRule, SandboxConfig};

const PURCHASES: &str = "POST /airtime/v5/purchases";

async fn purchase(
    c: &reqwest::Client,
    sb: &till_sandbox::Sandbox,
    id: &str,
) -> reqwest::Result<reqwest::Response> {
    c.post(url(sb, "/airtime/v5/purchases"))
        .basic_auth(CLIENT_ID, Some(till_sandbox::ELECTRUM_PASSWORD))
        .json(&purchase_request(id, "12", Some("27821234567")))
        .send()
        .await
}

#[tokio::test]
async fn process_then_close_takes_effect_without_an_answer() {
    let sb = start().await;
    let c = client(&sb);
    sb.add_fault(FaultRule::new(PURCHASES, FaultKind::ProcessThenClose).times(1));
    let id = new_id();
    let err = purchase(&c, &sb, &id)
        .await
        .expect_err("no response at all");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    // The sale happened: the ledger has it, status shows it…
    let ledger = sb.ledger();
    assert_eq!(
        (ledger.len(), ledger[0].reference.as_str()),
        (1, id.as_str())
    );
    let (s, _) = electrum_get(&c, &sb, &format!("/purchases/status?originalMsgId={id}")).await;
    assert_eq!(s, 200);
    // …and the terminal's reversal undoes it.
    let (s, _, _) = electrum_post(
        &c,
        &sb,
        "/purchases/reversals",
        &advice(&new_id(), &id, true),
    )
    .await;
    assert_eq!(s, 202);
    assert_eq!(sb.ledger().iter().map(|e| e.amount_minor).sum::<i64>(), 0);

    // Conductor: the retry under the same Idempotency-Key replays the
    // answer the client never saw, and charges once.
    sb.add_fault(
        FaultRule::new(
            "POST /conductor/v1/partners/transactions",
            FaultKind::ProcessThenClose,
        )
        .times(1),
    );
    let key = unique("k");
    let body = partner_create_body(&unique("e"), true);
    let first = c
        .post(url(&sb, "/conductor/v1/partners/transactions"))
        .bearer_auth(SK)
        .header("Retailer-Id", RETAILER)
        .header("Idempotency-Key", &key)
        .json(&body)
        .send()
        .await;
    assert!(first.is_err());
    let (s, h, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        body,
        Some(&key),
    )
    .await;
    assert_eq!((s, b["data"]["status"].as_str()), (200, Some("COMPLETED")));
    assert_eq!(h["idempotent-replayed"], "true");
    assert_eq!(
        sb.ledger().iter().filter(|e| e.kind == "bill_paid").count(),
        1
    );
}

#[tokio::test]
async fn close_before_read_has_no_effect() {
    let sb = start().await;
    let c = client(&sb);
    sb.add_fault(FaultRule::new(PURCHASES, FaultKind::CloseBeforeRead).times(1));
    let id = new_id();
    assert!(purchase(&c, &sb, &id).await.is_err());
    assert!(sb.ledger().is_empty());
    let (s, _) = electrum_get(&c, &sb, &format!("/purchases/status?originalMsgId={id}")).await;
    assert_eq!(s, 404);
    // The rule fired once; the retry goes through.
    assert_eq!(purchase(&c, &sb, &id).await.unwrap().status().as_u16(), 201);
}

#[tokio::test]
async fn status_faults_with_and_without_processing() {
    let sb = start().await;
    let c = client(&sb);
    for (status, process) in [
        (500u16, false),
        (503, false),
        (504, false),
        (500, true),
        (503, true),
        (504, true),
    ] {
        sb.clear_faults();
        sb.add_fault(FaultRule::new(
            PURCHASES,
            FaultKind::Status { status, process },
        ));
        let before = sb.ledger().len();
        let (s, _, b) = parts(purchase(&c, &sb, &new_id()).await.unwrap()).await;
        assert_eq!(s, status);
        assert!(b["errorType"].is_string(), "Electrum-shaped error: {b}");
        assert_eq!(
            sb.ledger().len(),
            before + usize::from(process),
            "{status} process={process}"
        );
    }
    // Other APIs get their own error shapes.
    sb.clear_faults();
    sb.add_fault(FaultRule::new(
        "POST /healthcheck",
        FaultKind::Status {
            status: 503,
            process: false,
        },
    ));
    sb.add_fault(FaultRule::new(
        "/collection/**",
        FaultKind::Status {
            status: 500,
            process: false,
        },
    ));
    let (s, _, b) = parts(c.post(url(&sb, "/healthcheck")).send().await.unwrap()).await;
    assert_eq!(s, 503);
    assert!(b["status"]["code"].is_string());
    // The token endpoint answers in its own shape (specs README).
    let (s, b) = momo_token(&c, &sb, "u", "k").await;
    assert_eq!((s, b["error"].as_str()), (500, Some("login_failed")));
}

#[tokio::test]
async fn nth_request_and_times() {
    let sb = start().await;
    let c = client(&sb);
    sb.add_fault(
        FaultRule::new(
            "GET /airtime/v5/products",
            FaultKind::Status {
                status: 503,
                process: false,
            },
        )
        .nth(2)
        .times(2),
    );
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(electrum_get(&c, &sb, "/products").await.0);
    }
    assert_eq!(statuses, [200, 503, 503, 200, 200]);
}

#[tokio::test]
async fn corrupted_answers_after_processing() {
    let sb = start().await;
    let c = client(&sb);

    sb.add_fault(FaultRule::new(PURCHASES, FaultKind::TruncatedBody).times(1));
    let resp = purchase(&c, &sb, &new_id())
        .await
        .expect("status line and headers arrive");
    assert_eq!(resp.status().as_u16(), 201);
    assert!(resp.bytes().await.is_err(), "body is cut short");
    assert_eq!(sb.ledger().len(), 1);

    sb.add_fault(FaultRule::new(PURCHASES, FaultKind::InvalidJson).times(1));
    let resp = purchase(&c, &sb, &new_id()).await.unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let bytes = resp.bytes().await.unwrap();
    assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_err());
    assert_eq!(sb.ledger().len(), 2);

    sb.add_fault(FaultRule::new(PURCHASES, FaultKind::OversizedBody { bytes: 300_000 }).times(1));
    let resp = purchase(&c, &sb, &new_id()).await.unwrap();
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(bytes.len(), 300_000);
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("still valid JSON");
    assert!(v["id"].is_string());

    sb.add_fault(
        FaultRule::new(
            PURCHASES,
            FaultKind::SlowTrickle {
                chunk: 200,
                interval_ms: 50,
            },
        )
        .times(1),
    );
    let started = Instant::now();
    let resp = purchase(&c, &sb, &new_id()).await.unwrap();
    let bytes = resp.bytes().await.unwrap();
    let chunks = bytes.len().div_ceil(200) as u32;
    assert!(chunks >= 3, "{} bytes", bytes.len());
    assert!(started.elapsed() >= Duration::from_millis(50) * (chunks - 1));
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("complete JSON");
    assert!(v["voucher"].is_null());
    assert_eq!(sb.ledger().len(), 4);
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let sb = start().await;
    let c = client(&sb);
    sb.add_fault(FaultRule::new(
        "GET /airtime/v5/products",
        FaultKind::Latency { ms: 600 },
    ));
    let started = Instant::now();
    assert_eq!(electrum_get(&c, &sb, "/products").await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(600));
}

#[tokio::test]
async fn faults_through_the_admin_endpoint_and_a_toml_file() {
    let file = FaultFile::parse(
        r#"
        [[fault]]
        route = "GET /airtime/v5/msisdn"
        kind = "status"
        status = 504
        times = 1
        "#,
    )
    .unwrap();
    let sb = start_with(SandboxConfig {
        faults: file.fault,
        ..config()
    })
    .await;
    let c = client(&sb);
    assert_eq!(
        electrum_get(&c, &sb, "/msisdn?msisdn=27749670999").await.0,
        504
    );
    assert_eq!(
        electrum_get(&c, &sb, "/msisdn?msisdn=27749670999").await.0,
        200
    );

    let (s, _, b) = parts(
        admin(&c, &sb, reqwest::Method::POST, "/_sandbox/faults")
            .json(&json!({ "route": "GET /airtime/v5/products", "kind": "close_before_read", "times": 1 }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 201);
    let id = b["id"].as_u64().unwrap();
    assert!(c
        .get(url(&sb, "/airtime/v5/products"))
        .basic_auth(CLIENT_ID, Some(till_sandbox::ELECTRUM_PASSWORD))
        .send()
        .await
        .is_err());
    let (_, _, list) = parts(
        admin(&c, &sb, reqwest::Method::GET, "/_sandbox/faults")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let rule = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap();
    assert_eq!(
        (rule["fired"].as_u64(), rule["kind"].as_str()),
        (Some(1), Some("close_before_read"))
    );
    let resp = admin(
        &c,
        &sb,
        reqwest::Method::DELETE,
        &format!("/_sandbox/faults/{id}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let (s, _, _) = parts(
        admin(&c, &sb, reqwest::Method::POST, "/_sandbox/faults")
            .json(&json!({ "kind": "nonsense" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    // Admin paths are never faulted.
    sb.add_fault(FaultRule::new("*", FaultKind::CloseBeforeRead));
    let (s, _, ledger) = parts(
        admin(&c, &sb, reqwest::Method::GET, "/_sandbox/ledger")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, ledger), (200, json!([])));
    let resp = admin(&c, &sb, reqwest::Method::DELETE, "/_sandbox/faults")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(electrum_get(&c, &sb, "/products").await.0, 200);
}
