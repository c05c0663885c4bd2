//! Credentials that are checked: for each API, a missing, a malformed and a
//! wrong credential on every money-moving route is refused and leaves the
//! ledger unchanged — and the same request with the right credential then
//! moves the money, so the refusal was the credential's doing. MoMo users
//! and payments belong to their subscription and API user; `/_sandbox/*`
//! needs the admin token.

mod common;

use std::time::Duration;

use base64::Engine;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use till_sandbox::{SandboxConfig, PRESET_API_KEY, PRESET_API_USER, SUBSCRIPTION_KEY};

/// How a request is (mis)authenticated.
#[derive(Debug, Clone, Copy)]
enum Cred {
    Missing,
    Malformed,
    Wrong,
}

const BAD: [Cred; 3] = [Cred::Missing, Cred::Malformed, Cred::Wrong];

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The second partner's key: configured, but not the owner of the tests'
/// transactions.
const OTHER_SK: &str = "sk_test_another_partner";

fn conductor_auth(req: reqwest::RequestBuilder, cred: Option<Cred>) -> reqwest::RequestBuilder {
    match cred {
        None => req.bearer_auth(SK),
        Some(Cred::Missing) => req,
        Some(Cred::Malformed) => req.header("Authorization", format!("Basic {}", b64(SK))),
        Some(Cred::Wrong) => req.bearer_auth("sk_test_never_configured"),
    }
}

async fn conductor(
    c: &reqwest::Client,
    sb: &till_sandbox::Sandbox,
    path: &str,
    body: Value,
    cred: Option<Cred>,
) -> (u16, Value) {
    let req = c
        .post(url(sb, path))
        .header("Retailer-Id", RETAILER)
        .json(&body);
    let (s, _, b) = parts(conductor_auth(req, cred).send().await.unwrap()).await;
    (s, b)
}

fn bill_item() -> Value {
    json!([{ "id": "bill_b13d2679-edc3-4198-89bd-8c093f5e2cfc", "reference": "SUBS", "amount": { "value": "1900", "currency": "ZAR" } }])
}

#[tokio::test]
async fn conductor_refuses_bad_keys_on_every_money_moving_route() {
    let sb = start_with(SandboxConfig {
        conductor_keys: vec![SK.to_owned(), OTHER_SK.to_owned()],
        ..config()
    })
    .await;
    let c = client(&sb);

    // One-call flows: create with `complete: true`.
    for (path, body) in [
        (
            "/conductor/v1/transactions",
            json!({ "external_reference": unique("ext"), "items": bill_item(), "complete": true, "payment_method": "CASH" }),
        ),
        (
            "/conductor/v1/partners/transactions",
            partner_create_body(&unique("ext"), true),
        ),
    ] {
        for cred in BAD {
            let (s, b) = conductor(&c, &sb, path, body.clone(), Some(cred)).await;
            assert_eq!((s, code(&b)), (401, "UNAUTHORIZED"), "{path} {cred:?}");
            assert!(sb.ledger().is_empty(), "{path} {cred:?}: no money moved");
        }
    }

    // Two-step flows: complete a transaction created with the right key.
    let (s, b) = conductor(
        &c,
        &sb,
        "/conductor/v1/transactions",
        json!({ "external_reference": unique("ext"), "items": bill_item(), "complete": false, "payment_method": "CASH" }),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let id = b["data"]["id"].as_str().unwrap().to_owned();
    let ext = unique("ext");
    let (s, b) = conductor(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        partner_create_body(&ext, false),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let completions = [
        format!("/conductor/v1/transactions/{id}/complete"),
        format!("/conductor/v1/partners/transactions/{ext}/complete"),
    ];
    for path in &completions {
        for cred in BAD {
            let (s, b) = conductor(
                &c,
                &sb,
                path,
                json!({ "payment_method": "CASH" }),
                Some(cred),
            )
            .await;
            assert_eq!((s, code(&b)), (401, "UNAUTHORIZED"), "{path} {cred:?}");
        }
        // Another partner's valid key does not reach this partner's money.
        let resp = c
            .post(url(&sb, path))
            .bearer_auth(OTHER_SK)
            .header("Retailer-Id", RETAILER)
            .json(&json!({ "payment_method": "CASH" }))
            .send()
            .await
            .unwrap();
        let (s, _, b) = parts(resp).await;
        assert_eq!(
            (s, code(&b)),
            (404, "NOT_FOUND"),
            "{path} with another partner's key"
        );
        assert!(sb.ledger().is_empty(), "{path}: no money moved");
    }
    // The right key then pays each, once.
    for path in &completions {
        let (s, b) = conductor(&c, &sb, path, json!({ "payment_method": "CASH" }), None).await;
        assert_eq!(
            (s, b["data"]["status"].as_str()),
            (200, Some("COMPLETED")),
            "{b}"
        );
    }
    assert_eq!(sb.ledger().len(), 2);
}

fn electrum_auth(req: reqwest::RequestBuilder, cred: Option<Cred>) -> reqwest::RequestBuilder {
    match cred {
        None => req.basic_auth(CLIENT_ID, Some(till_sandbox::ELECTRUM_PASSWORD)),
        Some(Cred::Missing) => req,
        Some(Cred::Malformed) => req.header("Authorization", format!("Basic {}", b64(CLIENT_ID))),
        Some(Cred::Wrong) => req.basic_auth(CLIENT_ID, Some("not-the-password")),
    }
}

async fn electrum(
    c: &reqwest::Client,
    sb: &till_sandbox::Sandbox,
    path: &str,
    body: &Value,
    cred: Option<Cred>,
) -> (u16, Value) {
    let req = c.post(url(sb, &format!("/airtime/v5{path}"))).json(body);
    let (s, _, b) = parts(electrum_auth(req, cred).send().await.unwrap()).await;
    (s, b)
}

#[tokio::test]
async fn electrum_refuses_bad_credentials_on_every_money_moving_route() {
    let sb = start().await;
    let c = client(&sb);
    let (purchase_id, voucher_id) = (new_id(), new_id());
    let purchase = purchase_request(&purchase_id, "759", Some("27821234567"));
    let voucher = purchase_request(&voucher_id, "VCH10", None);
    for cred in BAD {
        for (path, body) in [
            ("/purchases".to_owned(), &purchase),
            (format!("/vouchers/{voucher_id}"), &voucher),
        ] {
            let (s, b) = electrum(&c, &sb, &path, body, Some(cred)).await;
            assert_eq!(s, 401, "{path} {cred:?}: {b}");
        }
    }
    assert!(sb.ledger().is_empty(), "nothing sold");
    // Nothing was recorded under the ids either: the right credential sells.
    let (s, b) = electrum(&c, &sb, "/purchases", &purchase, None).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = electrum(&c, &sb, &format!("/vouchers/{voucher_id}"), &voucher, None).await;
    assert_eq!(s, 201, "{b}");
    let serial = b["voucher"]["serialNumber"].as_str().unwrap().to_owned();
    let sold = sb.ledger();
    assert_eq!(sold.len(), 2);

    // Advices: a reversal with a bad credential reverses nothing; nor does
    // a confirmation settle anything (the reversal still works after it).
    let (rev, conf) = (new_id(), new_id());
    let advices = [
        (
            "/purchases/confirmations".to_owned(),
            advice(&conf, &purchase_id, false),
        ),
        (
            format!("/vouchers/{voucher_id}/confirmations/{conf}"),
            voucher_confirmation(&conf, &voucher_id, &serial),
        ),
        (
            "/purchases/reversals".to_owned(),
            advice(&rev, &purchase_id, true),
        ),
        (
            format!("/vouchers/{voucher_id}/reversals/{rev}"),
            advice(&rev, &voucher_id, true),
        ),
    ];
    for (path, body) in &advices {
        for cred in BAD {
            let (s, b) = electrum(&c, &sb, path, body, Some(cred)).await;
            assert_eq!(s, 401, "{path} {cred:?}: {b}");
        }
    }
    assert_eq!(sb.ledger(), sold, "no advice took effect");
    // With the right credential, the reversals undo both sales (the refused
    // confirmations settled nothing).
    for (path, body) in &advices[2..] {
        let (s, b) = electrum(&c, &sb, path, body, None).await;
        assert_eq!(s, 202, "{path}: {b}");
    }
    let amounts: Vec<i64> = sb.ledger().iter().map(|e| e.amount_minor).collect();
    assert_eq!(amounts, [5000, 1000, -5000, -1000]);
}

async fn momo_create(
    c: &reqwest::Client,
    sb: &till_sandbox::Sandbox,
    token: &str,
    subscription: Option<&str>,
    reference: &str,
) -> (u16, Value) {
    let mut req = c
        .post(url(sb, "/collection/v2_0/payment"))
        .bearer_auth(token)
        .header("X-Reference-Id", reference)
        .header("X-Target-Environment", "sandbox")
        .json(&payment_body("46733123999", "10.00", "EUR"));
    if let Some(k) = subscription {
        req = req.header("Ocp-Apim-Subscription-Key", k);
    }
    let (s, _, b) = parts(req.send().await.unwrap()).await;
    (s, b)
}

/// Provisions an API user under `subscription`; returns (user, key).
async fn provision(
    c: &reqwest::Client,
    sb: &till_sandbox::Sandbox,
    subscription: &str,
) -> (String, String) {
    let user = new_id();
    let resp = c
        .post(url(sb, "/v1_0/apiuser"))
        .header("X-Reference-Id", &user)
        .header("Ocp-Apim-Subscription-Key", subscription)
        .json(&json!({ "providerCallbackHost": "localhost" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let resp = c
        .post(url(sb, &format!("/v1_0/apiuser/{user}/apikey")))
        .header("Ocp-Apim-Subscription-Key", subscription)
        .send()
        .await
        .unwrap();
    let (s, _, b) = parts(resp).await;
    assert_eq!(s, 201, "{b}");
    (user, b["apiKey"].as_str().unwrap().to_owned())
}

async fn token_with(
    c: &reqwest::Client,
    sb: &till_sandbox::Sandbox,
    user: &str,
    key: &str,
    subscription: Option<&str>,
) -> (u16, Value) {
    let mut req = c
        .post(url(sb, "/collection/token/"))
        .basic_auth(user, Some(key));
    if let Some(k) = subscription {
        req = req.header("Ocp-Apim-Subscription-Key", k);
    }
    let (s, _, b) = parts(req.send().await.unwrap()).await;
    (s, b)
}

#[tokio::test]
async fn momo_refuses_bad_credentials_and_keeps_users_and_payments_apart() {
    let sb = start().await;
    let c = client(&sb);
    let token = preset_token(&c, &sb).await;

    // Token: missing, malformed and wrong credentials.
    let (s, b) = token_with(&c, &sb, PRESET_API_USER, PRESET_API_KEY, None).await;
    assert_eq!((s, b["code"].as_str()), (401, Some("ACCESS_DENIED")));
    let resp = c
        .post(url(&sb, "/collection/token/"))
        .header("Ocp-Apim-Subscription-Key", SUBSCRIPTION_KEY)
        .header("Authorization", format!("Basic {}", b64(PRESET_API_USER)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let (s, b) = token_with(
        &c,
        &sb,
        PRESET_API_USER,
        "wrong-key",
        Some(SUBSCRIPTION_KEY),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));

    // CreatePayments: no subscription key, an empty one, no or a bad token.
    let attempts = [
        (token.as_str(), None),
        (token.as_str(), Some("")),
        ("sbx.not-a-token", Some(SUBSCRIPTION_KEY)),
        ("", Some(SUBSCRIPTION_KEY)),
    ];
    let mut refused = Vec::new();
    for (t, sub) in attempts {
        let reference = new_id();
        let (s, b) = momo_create(&c, &sb, t, sub, &reference).await;
        assert_eq!(s, 401, "{t:?} {sub:?}: {b}");
        refused.push(reference);
    }

    // Any non-empty subscription key is accepted (as on MTN's sandbox), but
    // API users belong to the subscription that created them.
    let (user, key) = provision(&c, &sb, "qa-own-subscription").await;
    let (s, b) = token_with(&c, &sb, &user, &key, Some("qa-own-subscription")).await;
    assert_eq!(s, 200, "{b}");
    let own_token = b["access_token"].as_str().unwrap().to_owned();
    let (s, _) = token_with(&c, &sb, &user, &key, Some(SUBSCRIPTION_KEY)).await;
    assert_eq!(s, 401, "another subscription does not know the user");
    let (s, _) = token_with(
        &c,
        &sb,
        PRESET_API_USER,
        PRESET_API_KEY,
        Some("qa-own-subscription"),
    )
    .await;
    assert_eq!(s, 401, "nor the preset user under another subscription");
    // A token used under another subscription key is refused too.
    let reference = new_id();
    let (s, _) = momo_create(&c, &sb, &own_token, Some(SUBSCRIPTION_KEY), &reference).await;
    assert_eq!(s, 401);
    refused.push(reference);

    // Payments are the API user's own: the preset user's payment is not
    // found by another user, and the other way round.
    let mine = new_id();
    let (s, b) = momo_create(&c, &sb, &token, Some(SUBSCRIPTION_KEY), &mine).await;
    assert_eq!(s, 202, "{b}");
    let resp = c
        .get(url(&sb, &format!("/collection/v2_0/payment/{mine}")))
        .bearer_auth(&own_token)
        .header("X-Target-Environment", "sandbox")
        .header("Ocp-Apim-Subscription-Key", "qa-own-subscription")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        404,
        "another user's payment is unknown"
    );
    assert_eq!(payment_status(&c, &sb, &token, &mine).await.0, 200);

    sb.advance_clock(Duration::from_secs(60));
    for reference in &refused {
        let (s, _) = payment_status(&c, &sb, &token, reference).await;
        assert_eq!(s, 404, "{reference}: a refused payment was never created");
    }
    let (s, b) = payment_status(&c, &sb, &token, &mine).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("SUCCESSFUL")));
    let ledger = sb.ledger();
    assert_eq!(ledger.len(), 1, "only the authorised payment moved money");
    assert_eq!(ledger[0].reference, mine);
}

#[tokio::test]
async fn a_pinned_momo_subscription_key_is_the_only_one_accepted() {
    let sb = start_with(SandboxConfig {
        momo_subscription_key: Some("pinned-production-like-key".to_owned()),
        ..config()
    })
    .await;
    let c = client(&sb);
    let (s, b) = token_with(
        &c,
        &sb,
        PRESET_API_USER,
        PRESET_API_KEY,
        Some(SUBSCRIPTION_KEY),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (401, Some("ACCESS_DENIED")));
    // The preset user belongs to the pinned key.
    let (s, b) = token_with(
        &c,
        &sb,
        PRESET_API_USER,
        PRESET_API_KEY,
        Some("pinned-production-like-key"),
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn admin_routes_need_the_token_and_change_nothing_without_it() {
    let sb = start_with(SandboxConfig {
        admin_token: Some("adm_for_this_test".to_owned()),
        ..config()
    })
    .await;
    assert_eq!(sb.admin_token(), "adm_for_this_test");
    let c = client(&sb);
    let routes = [
        (Method::GET, "/_sandbox/info", None),
        (Method::GET, "/_sandbox/ledger", None),
        (Method::GET, "/_sandbox/faults", None),
        (
            Method::POST,
            "/_sandbox/faults",
            Some(json!({ "route": "*", "kind": "close_before_read" })),
        ),
        (Method::DELETE, "/_sandbox/faults", None),
        (Method::DELETE, "/_sandbox/faults/1", None),
        (Method::GET, "/_sandbox/clock", None),
        (
            Method::POST,
            "/_sandbox/clock/advance",
            Some(json!({ "seconds": 86400 })),
        ),
    ];
    sb.add_fault(till_sandbox::FaultRule::new(
        "GET /never/used",
        till_sandbox::FaultKind::CloseBeforeRead,
    ));
    for (method, path, body) in &routes {
        for token in [None, Some("adm_wrong"), Some("")] {
            let mut req = c.request(method.clone(), url(&sb, path));
            if let Some(t) = token {
                req = req.header("Authorization", format!("Bearer {t}"));
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let (s, _, b) = parts(req.send().await.unwrap()).await;
            assert_eq!(s, 401, "{method} {path} with {token:?}: {b}");
        }
    }
    // Nothing changed: the one fault is still there, the clock not moved.
    let (s, _, faults) = parts(
        admin(&c, &sb, Method::GET, "/_sandbox/faults")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(faults.as_array().map(Vec::len), Some(1), "{faults}");
    let (_, _, clock) = parts(
        admin(&c, &sb, Method::GET, "/_sandbox/clock")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(clock["offset_ms"], 0);
    // With the token, info lists the credentials QA needs.
    let (s, _, info) = parts(
        admin(&c, &sb, Method::GET, "/_sandbox/info")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(info["conductor"]["secret_keys"], json!([SK]));
    assert_eq!(
        info["electrum"]["password"],
        till_sandbox::ELECTRUM_PASSWORD
    );
}

#[tokio::test]
async fn unusable_credential_settings_are_named() {
    for (config, field) in [
        (
            SandboxConfig {
                conductor_keys: vec![],
                ..config()
            },
            "conductor_keys",
        ),
        (
            SandboxConfig {
                conductor_keys: vec!["sk test".to_owned()],
                ..config()
            },
            "conductor_keys",
        ),
        (
            SandboxConfig {
                electrum_password: String::new(),
                ..config()
            },
            "electrum_password",
        ),
        (
            SandboxConfig {
                momo_subscription_key: Some(String::new()),
                ..config()
            },
            "momo_subscription_key",
        ),
        (
            SandboxConfig {
                admin_token: Some("a b".to_owned()),
                ..config()
            },
            "admin_token",
        ),
    ] {
        let err = till_sandbox::Sandbox::start(config).await.expect_err(field);
        assert!(err.to_string().contains(field), "{err} names {field}");
    }
}
