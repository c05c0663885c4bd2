//! MoMo over real TLS: provisioning → token → payment → status, for a
//! success and each sandbox test number.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use till_sandbox::{PRESET_API_KEY, PRESET_API_USER, SUBSCRIPTION_KEY};

#[tokio::test]
async fn provisioning_token_payment_status_success() {
    let sb = start_with(till_sandbox::SandboxConfig {
        momo_delay: Duration::from_secs(60),
        ..config()
    })
    .await;
    let c = client(&sb);
    let sub = ("Ocp-Apim-Subscription-Key", SUBSCRIPTION_KEY);

    // Provision a new API user and key.
    let user = new_id();
    let resp = c
        .post(url(&sb, "/v1_0/apiuser"))
        .header(sub.0, sub.1)
        .header("X-Reference-Id", &user)
        .json(&json!({ "providerCallbackHost": "localhost" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let resp = c
        .post(url(&sb, "/v1_0/apiuser"))
        .header(sub.0, sub.1)
        .header("X-Reference-Id", &user)
        .json(&json!({ "providerCallbackHost": "localhost" }))
        .send()
        .await
        .unwrap();
    let (s, _, b) = parts(resp).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (409, Some("RESOURCE_ALREADY_EXIST"))
    );
    let (s, _, b) = parts(
        c.get(url(&sb, &format!("/v1_0/apiuser/{user}")))
            .header(sub.0, sub.1)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, b),
        (
            200,
            json!({ "providerCallbackHost": "localhost", "targetEnvironment": "sandbox" })
        )
    );
    let (s, _, b) = parts(
        c.post(url(&sb, &format!("/v1_0/apiuser/{user}/apikey")))
            .header(sub.0, sub.1)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 201);
    let key = b["apiKey"].as_str().unwrap().to_owned();
    let (s, _, _) = parts(
        c.post(url(&sb, &format!("/v1_0/apiuser/{}/apikey", new_id())))
            .header(sub.0, sub.1)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _, _) = parts(
        c.get(url(&sb, &format!("/v1_0/apiuser/{user}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 401, "subscription key required");

    // Token.
    let (s, b) = momo_token(&c, &sb, &user, &key).await;
    assert_eq!(s, 200);
    assert_eq!(b["token_type"], "access_token");
    assert_eq!(b["expires_in"], 3600);
    let token = b["access_token"].as_str().unwrap().to_owned();
    let (s, b) = momo_token(&c, &sb, &user, "wrong").await;
    assert_eq!(s, 401);
    assert!(b["error"].is_string());

    // Payment.
    let reference = new_id();
    let (s, b) = create_payment(
        &c,
        &sb,
        &token,
        &reference,
        &payment_body("46733123999", "15.50", "EUR"),
    )
    .await;
    assert_eq!((s, b), (202, Value::Null));
    let (s, b) = payment_status(&c, &sb, &token, &reference).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("PENDING")));
    assert!(sb.ledger().is_empty());
    sb.advance_clock(Duration::from_secs(61));
    let (_, b) = payment_status(&c, &sb, &token, &reference).await;
    assert_eq!(b["status"], "SUCCESSFUL");
    assert_eq!(b["referenceId"], reference.as_str());
    assert!(b["financialTransactionId"].is_string());
    assert!(b.get("reason").is_none());
    let ledger = sb.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(
        (ledger[0].kind.as_str(), ledger[0].reference.as_str()),
        ("payment_succeeded", reference.as_str())
    );
    assert_eq!(
        (ledger[0].amount_minor, ledger[0].currency.as_str()),
        (1550, "EUR")
    );
    assert_eq!(ledger[0].related.as_deref(), Some("ext-123"));

    // Reused reference.
    let (s, b) = create_payment(
        &c,
        &sb,
        &token,
        &reference,
        &payment_body("46733123999", "1", "EUR"),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (409, Some("RESOURCE_ALREADY_EXIST"))
    );
    assert_eq!(sb.ledger().len(), 1);

    // Unknown reference, bad token, expired token.
    let (s, b) = payment_status(&c, &sb, &token, &new_id()).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("RESOURCE_NOT_FOUND")));
    let (s, _) = payment_status(&c, &sb, "not-a-token", &reference).await;
    assert_eq!(s, 401);
    sb.advance_clock(Duration::from_secs(3601));
    let (s, _) = payment_status(&c, &sb, &token, &reference).await;
    assert_eq!(s, 401, "token expired on the sandbox clock");
}

#[tokio::test]
async fn create_payment_validation() {
    let sb = start().await;
    let c = client(&sb);
    let token = preset_token(&c, &sb).await;
    let ok = payment_body("46733123999", "10", "EUR");

    let (s, b) = create_payment(&c, &sb, &token, "not-a-uuid", &ok).await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = create_payment(
        &c,
        &sb,
        &token,
        &new_id(),
        &payment_body("46733123999", "10", "UGX"),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("INVALID_CURRENCY")));
    let mut long_note = ok.clone();
    long_note["senderNote"] = json!("x".repeat(161));
    let (s, _) = create_payment(&c, &sb, &token, &new_id(), &long_note).await;
    assert_eq!(s, 400);
    let mut apostrophe = ok.clone();
    apostrophe["receiverMessage"] = json!("it's");
    let (s, _) = create_payment(&c, &sb, &token, &new_id(), &apostrophe).await;
    assert_eq!(s, 400);
    for amount in ["-1", "0", "abc", "1.234"] {
        let (s, _) = create_payment(
            &c,
            &sb,
            &token,
            &new_id(),
            &payment_body("46733123999", amount, "EUR"),
        )
        .await;
        assert_eq!(s, 400, "{amount}");
    }

    let send = |callback: &'static str, env: &'static str| {
        c.post(url(&sb, "/collection/v2_0/payment"))
            .bearer_auth(&token)
            .header("X-Reference-Id", new_id())
            .header("X-Target-Environment", env)
            .header("X-Callback-Url", callback)
            .header("Ocp-Apim-Subscription-Key", SUBSCRIPTION_KEY)
            .json(&ok)
            .send()
    };
    let (s, _, b) = parts(send("", "sandbox").await.unwrap()).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (400, Some("INVALID_CALLBACK_URL_HOST"))
    );
    let (s, _, b) = parts(send("http://127.0.0.1:9/cb", "nowhere").await.unwrap()).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (400, Some("NOT_ALLOWED_TARGET_ENVIRONMENT"))
    );
    let (s, _, _) = parts(
        c.post(url(&sb, "/collection/v2_0/payment"))
            .bearer_auth(&token)
            .header("X-Reference-Id", new_id())
            .header("X-Target-Environment", "sandbox")
            .json(&ok)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 401, "subscription key required");
    let (s, _, _) = parts(
        c.post(url(&sb, "/collection/v2_0/payment"))
            .header("X-Reference-Id", new_id())
            .header("X-Target-Environment", "sandbox")
            .header("Ocp-Apim-Subscription-Key", SUBSCRIPTION_KEY)
            .header("content-type", "application/json")
            .body("{oops")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 401, "bearer required before anything else");
    let (s, _, _) = parts(
        c.post(url(&sb, "/collection/v2_0/payment"))
            .bearer_auth(&token)
            .header("X-Reference-Id", new_id())
            .header("X-Target-Environment", "sandbox")
            .header("Ocp-Apim-Subscription-Key", SUBSCRIPTION_KEY)
            .header("content-type", "application/json")
            .body("{oops")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    let mut huge = ok.clone();
    huge["senderNote"] = json!("y".repeat(300_000));
    let (s, b) = create_payment(&c, &sb, &token, &new_id(), &huge).await;
    assert_eq!((s, b["code"].as_str()), (400, Some("BAD_REQUEST")));
    assert!(sb.ledger().is_empty());
}

#[tokio::test]
async fn every_test_number_maps_to_its_reason() {
    // Driven by the sandbox clock, not by sleeping: deterministic under load.
    let sb = start_with(till_sandbox::SandboxConfig {
        momo_delay: Duration::from_secs(60),
        ..config()
    })
    .await;
    let c = client(&sb);
    let token = preset_token(&c, &sb).await;
    let failing = [
        ("46733123450", "INTERNAL_PROCESSING_ERROR"),
        ("46733123451", "APPROVAL_REJECTED"),
        ("46733123452", "EXPIRED"),
        ("46733123455", "PAYER_NOT_FOUND"),
        ("46733123456", "PAYEE_NOT_ALLOWED_TO_RECEIVE"),
        ("46733123457", "NOT_ALLOWED"),
        ("46733123458", "NOT_ALLOWED_TARGET_ENVIRONMENT"),
        ("46733123459", "INVALID_CALLBACK_URL_HOST"),
        ("46733123460", "INVALID_CURRENCY"),
        ("46733123461", "INTERNAL_PROCESSING_ERROR"),
        ("46733123462", "SERVICE_UNAVAILABLE"),
        ("46733123463", "COULD_NOT_PERFORM_TRANSACTION"),
        ("46733123464", "TRANSFERTYPE_UNKNOWN"),
    ];
    let mut refs = Vec::new();
    for (msisdn, _) in failing {
        let r = new_id();
        let (s, _) = create_payment(&c, &sb, &token, &r, &payment_body(msisdn, "5", "EUR")).await;
        assert_eq!(s, 202);
        refs.push(r);
    }
    let ongoing = new_id();
    create_payment(
        &c,
        &sb,
        &token,
        &ongoing,
        &payment_body("46733123453", "5", "EUR"),
    )
    .await;
    let delayed = new_id();
    create_payment(
        &c,
        &sb,
        &token,
        &delayed,
        &payment_body("+46733123454", "5", "EUR"),
    )
    .await;
    for r in refs.iter().chain([&ongoing, &delayed]) {
        let (_, b) = payment_status(&c, &sb, &token, r).await;
        assert_eq!(b["status"], "PENDING");
    }

    // One delay later: the failures are final, 453 and 454 still pending.
    sb.advance_clock(Duration::from_secs(61));
    for ((msisdn, reason), r) in failing.iter().zip(&refs) {
        let (s, b) = payment_status(&c, &sb, &token, r).await;
        assert_eq!(s, 200);
        assert_eq!(b["status"], "FAILED", "{msisdn}");
        assert_eq!(b["reason"]["code"], *reason, "{msisdn}");
        assert!(b["reason"]["message"].is_string());
        assert!(b.get("financialTransactionId").is_none());
    }
    assert!(sb.ledger().is_empty(), "failed payments charge nothing");
    let (_, b) = payment_status(&c, &sb, &token, &ongoing).await;
    assert_eq!(b["status"], "PENDING", "453 is ongoing");

    // Three delays: 453 succeeds; 454 stays pending for ever.
    sb.advance_clock(Duration::from_secs(120));
    let (_, b) = payment_status(&c, &sb, &token, &ongoing).await;
    assert_eq!(b["status"], "SUCCESSFUL");
    sb.advance_clock(Duration::from_secs(1800));
    let (_, b) = payment_status(&c, &sb, &token, &delayed).await;
    assert_eq!(b["status"], "PENDING");
    let ledger = sb.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].reference, ongoing);
}

#[tokio::test]
async fn callback_is_sent_to_x_callback_url() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 8192];
        let mut got = Vec::new();
        loop {
            let n = sock.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    break;
                }
            }
        }
        sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8_lossy(&got).into_owned()
    });

    let sb = start().await;
    let c = client(&sb);
    let token = preset_token(&c, &sb).await;
    let reference = new_id();
    let resp = c
        .post(url(&sb, "/collection/v2_0/payment"))
        .bearer_auth(&token)
        .header("X-Reference-Id", &reference)
        .header("X-Target-Environment", "sandbox")
        .header(
            "X-Callback-Url",
            format!("http://127.0.0.1:{port}/momo/callback"),
        )
        .header("Ocp-Apim-Subscription-Key", SUBSCRIPTION_KEY)
        .json(&payment_body("46733123999", "3", "EUR"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let request = tokio::time::timeout(Duration::from_secs(10), received)
        .await
        .unwrap()
        .unwrap();
    assert!(request.starts_with("PUT /momo/callback"), "{request}");
    assert!(request.contains(&reference));
    assert!(request.contains("SUCCESSFUL"));
    let _ = PRESET_API_USER;
    let _ = PRESET_API_KEY;
}

/// MTN's rule: any number outside its table succeeds — also the numbers
/// right beside the table and other prefixes.
#[tokio::test]
async fn numbers_outside_mtns_table_succeed() {
    let sb = start_with(till_sandbox::SandboxConfig {
        momo_delay: Duration::from_secs(60),
        ..config()
    })
    .await;
    let c = client(&sb);
    let token = preset_token(&c, &sb).await;
    let numbers = [
        "46733123449",
        "46733123465",
        "46733123500",
        "46700000000",
        "256772123456",
    ];
    let mut refs = Vec::new();
    for msisdn in numbers {
        let r = new_id();
        let (s, _) = create_payment(&c, &sb, &token, &r, &payment_body(msisdn, "5", "EUR")).await;
        assert_eq!(s, 202, "{msisdn}");
        refs.push(r);
    }
    sb.advance_clock(Duration::from_secs(61));
    for (msisdn, r) in numbers.iter().zip(&refs) {
        let (_, b) = payment_status(&c, &sb, &token, r).await;
        assert_eq!(b["status"], "SUCCESSFUL", "{msisdn}");
    }
    assert_eq!(sb.ledger().len(), numbers.len());
}
