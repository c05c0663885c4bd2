//! `--state`: a restarted sandbox still knows every earlier transaction.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use till_sandbox::SandboxConfig;

fn config(state: &std::path::Path) -> SandboxConfig {
    SandboxConfig {
        state_path: Some(state.to_owned()),
        // Long enough that the payment cannot settle on its own before the
        // restart, however slow the machine; the test advances the clock.
        momo_delay: Duration::from_secs(60),
        ..common::config()
    }
}

#[tokio::test]
async fn restart_between_purchase_and_reversal() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");

    let sb = start_with(config(&state)).await;
    let c = client(&sb);
    let id = new_id();
    let (s, _, _) = electrum_post(
        &c,
        &sb,
        "/purchases",
        &purchase_request(&id, "759", Some("27821234567")),
    )
    .await;
    assert_eq!(s, 201);
    let ext = unique("p");
    let (s, _, _) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        partner_create_body(&ext, false),
        Some("key-before-restart"),
    )
    .await;
    assert_eq!(s, 200);
    let token = preset_token(&c, &sb).await;
    let reference = new_id();
    assert_eq!(
        create_payment(
            &c,
            &sb,
            &token,
            &reference,
            &payment_body("46733123999", "2", "EUR")
        )
        .await
        .0,
        202
    );
    let ca_before = sb.ca_pem().to_owned();
    sb.shutdown().await;

    let sb = start_with(config(&state)).await;
    assert_eq!(sb.ca_pem(), ca_before, "same CA after a restart");
    let c = client(&sb);
    assert_eq!(sb.ledger().len(), 1, "ledger reloaded");
    // Electrum: the purchase is known — duplicate refused, reversal applied.
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        "/purchases",
        &purchase_request(&id, "759", Some("27821234567")),
    )
    .await;
    assert_eq!(
        (s, b["errorType"].as_str()),
        (400, Some("DUPLICATE_RECORD"))
    );
    let (s, _, _) = electrum_post(
        &c,
        &sb,
        "/purchases/reversals",
        &advice(&new_id(), &id, true),
    )
    .await;
    assert_eq!(s, 202);
    // Conductor: the transaction and the idempotency record survived.
    let (s, b) = conductor_get(
        &c,
        &sb,
        &format!("/conductor/v1/partners/transactions/{ext}"),
    )
    .await;
    assert_eq!((s, b["data"]["status"].as_str()), (200, Some("ACTIVE")));
    let (s, h, _) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        partner_create_body(&ext, false),
        Some("key-before-restart"),
    )
    .await;
    assert_eq!(
        (s, h["idempotent-replayed"].to_str().unwrap()),
        (200, "true")
    );
    // MoMo: the token and the payment survived; the payment settles once
    // its delay has passed on the sandbox clock.
    sb.advance_clock(Duration::from_secs(61));
    let mut status = json!(null);
    for _ in 0..40 {
        let (s, b) = payment_status(&c, &sb, &token, &reference).await;
        assert_eq!(s, 200, "{b}");
        status = b["status"].clone();
        if status != "PENDING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "SUCCESSFUL");
    sb.shutdown().await;

    // Anyone can read the ledger with sqlite.
    let db = rusqlite::Connection::open(&state).unwrap();
    let rows: Vec<(String, String, i64)> = db
        .prepare("SELECT kind, reference, amount_minor FROM ledger ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        [
            ("airtime_sold".to_owned(), id.clone(), 5000),
            ("reversal_applied".to_owned(), id.clone(), -5000),
            ("payment_succeeded".to_owned(), reference.clone(), 200),
        ]
    );
}

/// `ledger::read_state` reads the state file while the sandbox still runs
/// on it: each answered operation is already committed.
#[tokio::test]
async fn read_state_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let sb = start_with(config(&state)).await;
    assert_eq!(till_sandbox::ledger::read_state(&state).unwrap(), []);

    let c = client(&sb);
    let id = new_id();
    let (s, _, _) = electrum_post(
        &c,
        &sb,
        "/purchases",
        &purchase_request(&id, "759", Some("27821234567")),
    )
    .await;
    assert_eq!(s, 201);
    let ext = unique("p");
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        partner_create_body(&ext, true),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");

    let read = till_sandbox::ledger::read_state(&state).unwrap();
    assert_eq!(read, sb.ledger(), "the file holds what the sandbox holds");
    let summary: Vec<(i64, &str, &str, i64, &str)> = read
        .iter()
        .map(|e| {
            (
                e.seq,
                e.api.as_str(),
                e.kind.as_str(),
                e.amount_minor,
                e.currency.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, "electrum", "airtime_sold", 5000, "710"),
            (2, "conductor", "bill_paid", 20000, "ZAR"),
        ]
    );
    assert_eq!(read[0].reference, id);
    assert_eq!(read[1].related.as_deref(), Some(ext.as_str()));
    sb.shutdown().await;

    // Also after the sandbox has stopped; a missing file is an error.
    assert_eq!(till_sandbox::ledger::read_state(&state).unwrap(), read);
    assert!(till_sandbox::ledger::read_state(&dir.path().join("nope.db")).is_err());
}
