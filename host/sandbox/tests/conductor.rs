//! Conductor over real TLS: every operation, every error code of the
//! document's table, idempotency, and the ledger.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use till_sandbox::conductor::Code;

#[tokio::test]
async fn healthcheck_and_auth() {
    let sb = start().await;
    let c = client(&sb);
    let (s, _, b) = parts(c.post(url(&sb, "/healthcheck")).send().await.unwrap()).await;
    assert_eq!((s, code(&b)), (200, "SUCCESS"));

    let body = json!({ "biller_code": "za_dstv", "identifier": "8604275423086" });
    for auth in [
        None,
        Some("sk_live_abc"),
        Some("sk_test_"),
        Some("nonsense"),
    ] {
        let mut req = c
            .post(url(&sb, "/conductor/v1/accounts"))
            .header("Retailer-Id", RETAILER)
            .json(&body);
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        let (s, _, b) = parts(req.send().await.unwrap()).await;
        assert_eq!((s, code(&b)), (401, "UNAUTHORIZED"), "{auth:?}");
        assert_eq!(b["status"]["message"], "No valid Secret Key provided.");
        assert!(b["status"]["operation_id"].is_string());
    }
}

#[tokio::test]
async fn account_enquiry_for_both_billers() {
    let sb = start().await;
    let c = client(&sb);
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/accounts",
        json!({ "biller_code": "za_dstv", "identifier": "8604275423086", "reference": "SUBS" }),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Unwrapped, as in the document.
    assert_eq!(b["external_id"], "8604275423086");
    assert_eq!(b["customer"]["first_name"], "Sihle");
    assert_eq!(b["biller"]["code"], "za_dstv");
    assert_eq!(
        b["amount_due"]["amount"],
        json!({ "value": "395.50", "currency": "ZAR" })
    );
    assert_eq!(
        b["bills"][0]["id"],
        "bill_41caa5ae-369b-4646-bf06-f2673bdd08fc"
    );
    assert_eq!(
        b["bills"][0]["amount_due"]["rules"]["min"]["value"],
        "20.00"
    );

    for ident in [
        json!({ "customer_number": "1234567890" }),
        json!({ "smart_card_number": "987654321237" }),
    ] {
        let (s, _, b) = conductor_post(
            &c,
            &sb,
            "/conductor/v1/accounts",
            json!({ "biller_code": "ng_dstv", "identifier": ident }),
            None,
        )
        .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["amount_due"]["amount"]["currency"], "NGN");
        assert_eq!(
            b["bills"][0]["id"],
            "bill_7a0e5f64-2b1c-4d3e-9f8a-6b5c4d3e2f1a"
        );
    }
    // A string identifier is not accepted for ng_dstv.
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/accounts",
        json!({ "biller_code": "ng_dstv", "identifier": "1234567890" }),
        None,
    )
    .await;
    assert_eq!((s, code(&b)), (400, "INVALID_IDENTIFIER"));
    // Retailer-Id is required.
    let (s, _, b) = parts(
        c.post(url(&sb, "/conductor/v1/accounts"))
            .bearer_auth(SK)
            .json(&json!({ "biller_code": "za_dstv", "identifier": "8604275423086" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, code(&b)), (400, "BAD_REQUEST"));
}

#[tokio::test]
async fn transaction_lifecycle_and_ledger() {
    let sb = start().await;
    let c = client(&sb);
    let ext = unique("ext");
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/transactions",
        json!({
            "external_reference": ext,
            "items": [{ "id": "bill_b13d2679-edc3-4198-89bd-8c093f5e2cfc", "reference": "SUBS", "amount": { "value": "1900", "currency": "ZAR" } }],
            "complete": false,
            "payment_method": "CASH",
            "meta_data": { "pos_data": { "store_id": "store_1", "terminal_id": "terminal_1" } }
        }),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(code(&b), "SUCCESS");
    let data = &b["data"];
    assert_eq!(data["status"], "ACTIVE");
    assert_eq!(data["external_reference"], ext.as_str());
    assert_eq!(
        data["amount"],
        json!({ "value": "1900.00", "currency": "ZAR" })
    );
    assert_eq!(data["items"][0]["description"], "DSTV BILL PAYMENT");
    let id = data["id"].as_str().unwrap().to_owned();
    assert!(sb.ledger().is_empty(), "nothing paid before completion");

    let (s, b) = conductor_get(&c, &sb, &format!("/conductor/v1/transactions/{id}")).await;
    assert_eq!((s, b["data"]["status"].clone()), (200, json!("ACTIVE")));

    let (s, _, b) = conductor_post(
        &c,
        &sb,
        &format!("/conductor/v1/transactions/{id}/complete"),
        json!({ "payment_method": "CASH" }),
        None,
    )
    .await;
    assert_eq!(
        (s, b["data"]["status"].clone()),
        (200, json!("COMPLETED")),
        "{b}"
    );

    let ledger = sb.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].api, "conductor");
    assert_eq!(ledger[0].kind, "bill_paid");
    assert_eq!(ledger[0].reference, id);
    assert_eq!(ledger[0].related.as_deref(), Some(ext.as_str()));
    assert_eq!(
        (ledger[0].amount_minor, ledger[0].currency.as_str()),
        (190_000, "ZAR")
    );

    let (s, _, b) = conductor_post(
        &c,
        &sb,
        &format!("/conductor/v1/transactions/{id}/complete"),
        json!({ "payment_method": "CASH" }),
        None,
    )
    .await;
    assert_eq!((s, code(&b)), (400, "ALREADY_COMPLETED"));
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        &format!("/conductor/v1/transactions/{id}/cancel"),
        json!({ "reason": "x" }),
        None,
    )
    .await;
    assert_eq!((s, code(&b)), (400, "ALREADY_COMPLETED"));
    assert_eq!(sb.ledger().len(), 1, "charged exactly once");

    // Cancel path: no financial effect.
    let ext2 = unique("ext");
    let (_, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/transactions",
        json!({ "external_reference": ext2, "items": [{ "id": "bill_41caa5ae-369b-4646-bf06-f2673bdd08fc", "amount": { "value": "20.00", "currency": "ZAR" } }] }),
        None,
    )
    .await;
    let id2 = b["data"]["id"].as_str().unwrap().to_owned();
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        &format!("/conductor/v1/transactions/{id2}/cancel"),
        json!({ "reason": "Credit card declined payment." }),
        None,
    )
    .await;
    assert_eq!((s, b["data"]["status"].clone()), (200, json!("CANCELLED")));
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        &format!("/conductor/v1/transactions/{id2}/complete"),
        json!({ "payment_method": "CASH" }),
        None,
    )
    .await;
    assert_eq!((s, code(&b)), (400, "ALREADY_CANCELLED"));
    assert_eq!(sb.ledger().len(), 1);
}

#[tokio::test]
async fn partner_transactions_by_external_reference() {
    let sb = start().await;
    let c = client(&sb);
    // Composite flow 1: create with complete = true.
    let ext = unique("p");
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        partner_create_body(&ext, true),
        None,
    )
    .await;
    assert_eq!(
        (s, b["data"]["status"].clone()),
        (200, json!("COMPLETED")),
        "{b}"
    );
    let (s, b) = conductor_get(
        &c,
        &sb,
        &format!("/conductor/v1/partners/transactions/{ext}"),
    )
    .await;
    assert_eq!(
        (s, b["data"]["external_reference"].clone()),
        (200, json!(ext))
    );
    assert_eq!(sb.ledger().len(), 1);
    assert_eq!(sb.ledger()[0].amount_minor, 20_000);

    // Composite flow 2: create, then complete / cancel by external reference.
    let ext2 = unique("p");
    let (s, _, _) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        partner_create_body(&ext2, false),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        &format!("/conductor/v1/partners/transactions/{ext2}/complete"),
        json!({ "payment_method": "DEBIT_CARD" }),
        None,
    )
    .await;
    assert_eq!((s, b["data"]["status"].clone()), (200, json!("COMPLETED")));
    let ext3 = unique("p");
    conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        partner_create_body(&ext3, false),
        None,
    )
    .await;
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        &format!("/conductor/v1/partners/transactions/{ext3}/cancel"),
        json!({ "reason": "customer left" }),
        None,
    )
    .await;
    assert_eq!((s, b["data"]["status"].clone()), (200, json!("CANCELLED")));
    assert_eq!(sb.ledger().len(), 2);

    let (s, b) = conductor_get(&c, &sb, "/conductor/v1/partners/transactions/never-used").await;
    assert_eq!((s, code(&b)), (404, "NOT_FOUND"));
}

#[tokio::test]
async fn catalogue_honours_depth() {
    let sb = start().await;
    let c = client(&sb);
    let (s, b) = conductor_get(
        &c,
        &sb,
        "/conductor/v1/catalogs?category_code=ng_entertainment_cabletv_dstv&depth=1",
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let cats: Vec<&str> = b["data"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        cats,
        [
            "ng_entertainment_cabletv_dstv_primary",
            "ng_entertainment_cabletv_dstv_addons"
        ]
    );
    let prods: Vec<&str> = b["data"]["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(prods, ["ng_dstv_compe36", "ng_dstv_boxoffice"]);
    assert_eq!(
        b["data"]["products"][0]["quantity_rules"],
        json!({ "min": 1, "max": 12 })
    );
    assert_eq!(b["data"]["products"][1]["amount"], Value::Null);
    assert_eq!(
        b["data"]["products"][1]["amount_rules"]["min"],
        json!({ "value": "200.00", "currency": "NGN" })
    );

    let (_, b) = conductor_get(
        &c,
        &sb,
        "/conductor/v1/catalogs?category_code=ng_entertainment_cabletv_dstv&depth=2",
    )
    .await;
    assert_eq!(b["data"]["products"].as_array().unwrap().len(), 5);

    let (_, b) = conductor_get(
        &c,
        &sb,
        "/conductor/v1/catalogs?category_code=ng_entertainment&depth=2",
    )
    .await;
    let cats: Vec<&str> = b["data"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        cats,
        ["ng_entertainment_cabletv", "ng_entertainment_cabletv_dstv"]
    );
    assert!(b["data"]["products"].as_array().unwrap().is_empty());

    let (_, b) = conductor_get(&c, &sb, "/conductor/v1/catalogs").await;
    assert_eq!(
        b["data"]["categories"].as_array().unwrap().len(),
        2,
        "roots at depth 1"
    );

    let (_, b) = conductor_get(
        &c,
        &sb,
        "/conductor/v1/catalogs?category_code=ng_entertainment_cabletv_dstv&depth=2&page_size=1",
    )
    .await;
    assert_eq!(b["data"]["products"].as_array().unwrap().len(), 1);
}

async fn create_order(c: &reqwest::Client, sb: &till_sandbox::Sandbox) -> String {
    let (s, _, b) = conductor_post(
        c,
        sb,
        "/conductor/v1/orders",
        json!({
            "biller_code": "ng_dstv",
            "identifier": { "smart_card_number": "1234567890" },
            "products": [{ "code": "ng_dstv_compact", "quantity": 1 }, { "code": "ng_dstv_asiaaddon", "quantity": 1 }]
        }),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["data"]["amount"],
        json!({ "value": "16500.00", "currency": "NGN" })
    );
    assert_eq!(b["data"]["products"][0]["name"], "DStv Compact");
    b["data"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn orders_and_their_transactions() {
    let sb = start().await;
    let c = client(&sb);
    let order = create_order(&c, &sb).await;
    let (s, b) = conductor_get(&c, &sb, &format!("/conductor/v1/orders/{order}")).await;
    assert_eq!((s, b["data"]["id"].clone()), (200, json!(order)));
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/transactions",
        json!({ "external_reference": unique("o"), "items": [{ "id": order }], "complete": true, "payment_method": "CASH" }),
        None,
    )
    .await;
    assert_eq!(
        (s, b["data"]["status"].clone()),
        (200, json!("COMPLETED")),
        "{b}"
    );
    assert_eq!(b["data"]["amount"]["value"], "16500.00");
    let (_, b) = conductor_get(&c, &sb, &format!("/conductor/v1/orders/{order}")).await;
    assert_eq!(b["data"]["status"], "ACCEPTED");
    assert_eq!(sb.ledger()[0].currency, "NGN");
    let (s, b) = conductor_get(&c, &sb, "/conductor/v1/orders/order_unknown").await;
    assert_eq!((s, code(&b)), (404, "NOT_FOUND"));
}

#[tokio::test]
async fn every_error_code_of_the_table_is_reachable() {
    let sb = start().await;
    let c = client(&sb);
    let mut seen = BTreeSet::new();
    let mut expect = |what: &str, status: u16, body: &Value, want: Code| {
        let (http, name, detail) = want.row();
        assert_eq!((status, code(body)), (http, name), "{what}: {body}");
        assert_eq!(body["status"]["message"], detail, "{what}");
        assert!(body.get("data").is_none());
        seen.insert(name);
    };
    let acct = |biller: &str, ident: Value, reference: Option<&str>| {
        let mut b = json!({ "biller_code": biller, "identifier": ident });
        if let Some(r) = reference {
            b["reference"] = json!(r);
        }
        b
    };

    let (s, _, b) = parts(
        c.post(url(&sb, "/conductor/v1/accounts"))
            .bearer_auth(SK)
            .header("Retailer-Id", RETAILER)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    expect("malformed JSON", s, &b, Code::BadRequest);
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/accounts",
        acct("xx_nope", json!("1"), None),
        None,
    )
    .await;
    expect("unknown biller", s, &b, Code::InvalidBillerCode);
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/accounts",
        acct("za_showmax", json!("1"), None),
        None,
    )
    .await;
    expect("inactive biller", s, &b, Code::InactiveBillerCode);
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/accounts",
        acct("za_dstv", json!("0000000000"), None),
        None,
    )
    .await;
    expect("unknown identifier", s, &b, Code::InvalidIdentifier);
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/accounts",
        acct("za_dstv", json!("8604275423086"), Some("NOPE")),
        None,
    )
    .await;
    expect("bad reference", s, &b, Code::InvalidReference);
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/accounts",
        acct("za_dstv", json!("5000000000000"), None),
        None,
    )
    .await;
    expect("failing account", s, &b, Code::InternalServerError);

    let ext = unique("dup");
    conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        partner_create_body(&ext, false),
        None,
    )
    .await;
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        partner_create_body(&ext, false),
        None,
    )
    .await;
    expect(
        "reused external reference",
        s,
        &b,
        Code::InvalidExternalReference,
    );

    let txn = |items: Value| json!({ "external_reference": unique("e"), "items": items });
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/transactions",
        txn(json!([{ "id": "bill_unknown", "amount": { "value": "20", "currency": "ZAR" } }])),
        None,
    )
    .await;
    expect("unknown bill", s, &b, Code::InvalidItems);
    let (s, _, b) = conductor_post(&c, &sb, "/conductor/v1/transactions", txn(json!([{ "id": "bill_41caa5ae-369b-4646-bf06-f2673bdd08fc", "amount": { "value": "-5", "currency": "ZAR" } }])), None).await;
    expect("negative amount", s, &b, Code::InvalidAmount);
    let (s, _, b) = conductor_post(&c, &sb, "/conductor/v1/transactions", txn(json!([{ "id": "bill_41caa5ae-369b-4646-bf06-f2673bdd08fc", "amount": { "value": "20", "currency": "zar" } }])), None).await;
    expect("lower-case currency", s, &b, Code::InvalidCurrency);
    let order = create_order(&c, &sb).await;
    let (s, _, b) = conductor_post(&c, &sb, "/conductor/v1/transactions", txn(json!([{ "id": order }, { "id": "bill_41caa5ae-369b-4646-bf06-f2673bdd08fc", "amount": { "value": "20", "currency": "ZAR" } }])), None).await;
    expect("bill and order", s, &b, Code::ConflictedItems);

    let (s, b) = conductor_get(&c, &sb, "/conductor/v1/catalogs?page_size=0").await;
    expect("page size 0", s, &b, Code::InvalidPageSize);
    let (s, b) = conductor_get(&c, &sb, "/conductor/v1/catalogs?depth=abc").await;
    expect("depth abc", s, &b, Code::InvalidDepth);
    let (s, b) = conductor_get(&c, &sb, "/conductor/v1/catalogs?category_code=nope").await;
    expect("unknown category", s, &b, Code::InvalidCategory);

    let (s, _, b) = conductor_post(&c, &sb, "/conductor/v1/orders", json!({ "biller_code": "ng_dstv", "identifier": { "smart_card_number": "1234567890" }, "products": [{ "code": "nope", "quantity": 1 }] }), None).await;
    expect("unknown product", s, &b, Code::InvalidProducts);
    let (s, _, b) = conductor_post(&c, &sb, "/conductor/v1/orders", json!({ "biller_code": "za_dstv", "identifier": "8604275423086", "products": [{ "code": "za_dstv_compact", "quantity": 1 }] }), None).await;
    expect("orders for za_dstv", s, &b, Code::NotSupported);

    let ext = unique("pm");
    let (_, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        partner_create_body(&ext, false),
        None,
    )
    .await;
    let id = b["data"]["id"].as_str().unwrap().to_owned();
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        &format!("/conductor/v1/transactions/{id}/complete"),
        json!({ "payment_method": "BITCOIN" }),
        None,
    )
    .await;
    expect("unknown payment method", s, &b, Code::InvalidPaymentMethod);

    // IN_PROCESSING: a second complete while the first is executing.
    let slow = {
        let c = c.clone();
        let u = url(&sb, &format!("/conductor/v1/transactions/{id}/complete"));
        tokio::spawn(async move {
            c.post(u)
                .bearer_auth(SK)
                .json(
                    &json!({ "payment_method": "CASH", "meta_data": { "sandbox_delay_ms": 1500 } }),
                )
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        &format!("/conductor/v1/transactions/{id}/complete"),
        json!({ "payment_method": "CASH" }),
        None,
    )
    .await;
    expect("complete while completing", s, &b, Code::InProcessing);
    assert_eq!(slow.await.unwrap(), 200);
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        &format!("/conductor/v1/transactions/{id}/complete"),
        json!({ "payment_method": "CASH" }),
        None,
    )
    .await;
    expect("complete twice", s, &b, Code::AlreadyCompleted);

    let ext = unique("cx");
    let (_, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        partner_create_body(&ext, false),
        None,
    )
    .await;
    let id = b["data"]["id"].as_str().unwrap().to_owned();
    conductor_post(
        &c,
        &sb,
        &format!("/conductor/v1/transactions/{id}/cancel"),
        json!({}),
        None,
    )
    .await;
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        &format!("/conductor/v1/transactions/{id}/cancel"),
        json!({}),
        None,
    )
    .await;
    expect("cancel twice", s, &b, Code::AlreadyCancelled);

    // Orders: paid → ALREADY_ACCEPTED; cancelled → ALREADY_REJECTED.
    let paid = create_order(&c, &sb).await;
    conductor_post(&c, &sb, "/conductor/v1/transactions", json!({ "external_reference": unique("o"), "items": [{ "id": paid }], "complete": true, "payment_method": "CASH" }), None).await;
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/transactions",
        txn(json!([{ "id": paid }])),
        None,
    )
    .await;
    expect("paid order again", s, &b, Code::AlreadyAccepted);
    let dropped = create_order(&c, &sb).await;
    let (_, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/transactions",
        txn(json!([{ "id": dropped }])),
        None,
    )
    .await;
    let tid = b["data"]["id"].as_str().unwrap().to_owned();
    conductor_post(
        &c,
        &sb,
        &format!("/conductor/v1/transactions/{tid}/cancel"),
        json!({}),
        None,
    )
    .await;
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/transactions",
        txn(json!([{ "id": dropped }])),
        None,
    )
    .await;
    expect("rejected order again", s, &b, Code::AlreadyRejected);

    let (s, _, b) = parts(
        c.get(url(&sb, "/conductor/v1/transactions/x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    expect("no key", s, &b, Code::Unauthorized);
    let (s, _, b) = parts(
        c.post(url(&sb, "/conductor/v1/accounts"))
            .bearer_auth(SK)
            .header("Retailer-Id", "retailer_forbidden")
            .json(&acct("za_dstv", json!("8604275423086"), None))
            .send()
            .await
            .unwrap(),
    )
    .await;
    expect("forbidden retailer", s, &b, Code::Forbidden);
    let (s, b) = conductor_get(
        &c,
        &sb,
        "/conductor/v1/transactions/00000000-0000-4000-8000-000000000000",
    )
    .await;
    expect("unknown transaction", s, &b, Code::NotFound);

    // CONFLICT and UNPROCESSABLE_CONTENT: idempotency.
    let key = unique("key");
    let ext = unique("idem");
    let mut slow_body = partner_create_body(&ext, true);
    slow_body["meta_data"] = json!({ "sandbox_delay_ms": 1500 });
    let first = {
        let c = c.clone();
        let u = url(&sb, "/conductor/v1/partners/transactions");
        let key = key.clone();
        let body = slow_body.clone();
        tokio::spawn(async move {
            c.post(u)
                .bearer_auth(SK)
                .header("Retailer-Id", RETAILER)
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        slow_body.clone(),
        Some(&key),
    )
    .await;
    expect("same key in flight", s, &b, Code::Conflict);
    assert_eq!(first.await.unwrap(), 200);
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        partner_create_body(&unique("other"), true),
        Some(&key),
    )
    .await;
    expect(
        "same key, other parameters",
        s,
        &b,
        Code::UnprocessableContent,
    );

    let all: BTreeSet<&str> = Code::ALL.iter().map(|c| c.row().1).collect();
    assert_eq!(seen, all, "every code of the table was produced");
}

#[tokio::test]
async fn idempotency_replay_mismatch_and_expiry() {
    let sb = start().await;
    let c = client(&sb);
    let key = unique("k");
    let ext = unique("e");
    let body = partner_create_body(&ext, true);
    let (s1, h1, b1) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        body.clone(),
        Some(&key),
    )
    .await;
    assert_eq!(s1, 200);
    assert!(h1.get("idempotent-replayed").is_none());
    let (s2, h2, b2) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        body.clone(),
        Some(&key),
    )
    .await;
    assert_eq!(
        (s2, &b2),
        (s1, &b1),
        "status and body replayed, operation_id included"
    );
    assert_eq!(h2.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(sb.ledger().len(), 1, "the replay did not charge again");

    let mut other = body.clone();
    other["amount"]["value"] = json!("300.00");
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        other,
        Some(&key),
    )
    .await;
    assert_eq!((s, code(&b)), (422, "UNPROCESSABLE_CONTENT"));

    // Errors are replayed too (including 500s).
    let key500 = unique("k");
    let mut failing = partner_create_body(&unique("e"), false);
    failing["identifier"] = json!("5000000000000");
    let (s, _, first) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        failing.clone(),
        Some(&key500),
    )
    .await;
    assert_eq!(s, 500);
    let (s, h, again) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        failing,
        Some(&key500),
    )
    .await;
    assert_eq!((s, &again), (500, &first));
    assert_eq!(h.get("idempotent-replayed").unwrap(), "true");

    // Validation failures store nothing: the same key works once fixed.
    let key_v = unique("k");
    let mut invalid = partner_create_body(&unique("e"), true);
    invalid["payment_method"] = json!("BITCOIN");
    let (s, _, _) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        invalid,
        Some(&key_v),
    )
    .await;
    assert_eq!(s, 400);
    let (s, h, _) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        partner_create_body(&unique("e"), false),
        Some(&key_v),
    )
    .await;
    assert_eq!(s, 200);
    assert!(h.get("idempotent-replayed").is_none());

    // Invalid key format.
    let (s, _, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        partner_create_body(&unique("e"), false),
        Some("bad key!"),
    )
    .await;
    assert_eq!((s, code(&b)), (400, "BAD_REQUEST"));

    // After 24 h on the sandbox clock the key is new again: the request is
    // executed (and meets its own external reference).
    sb.advance_clock(Duration::from_secs(24 * 3600 + 1));
    let (s, h, b) = conductor_post(
        &c,
        &sb,
        "/conductor/v1/partners/transactions",
        body,
        Some(&key),
    )
    .await;
    assert_eq!((s, code(&b)), (400, "INVALID_EXTERNAL_REFERENCE"));
    assert!(h.get("idempotent-replayed").is_none());
    assert_eq!(sb.ledger().len(), 1);
}

#[tokio::test]
async fn bad_input_never_crashes() {
    let sb = start().await;
    let c = client(&sb);
    let post_raw = |body: Vec<u8>| {
        c.post(url(&sb, "/conductor/v1/transactions"))
            .bearer_auth(SK)
            .header("Retailer-Id", RETAILER)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for body in [
        b"[1,2,3]".to_vec(),
        b"\"str\"".to_vec(),
        b"{\"external_reference\": 5, \"items\": []}".to_vec(),
        b"{\"external_reference\": \"x\", \"items\": {}}".to_vec(),
        b"{\"external_reference\": \"x\", \"items\": [{\"id\": 7}]}".to_vec(),
        vec![0xff, 0xfe, 0x00],
        vec![b'['; 100_000],
    ] {
        let (s, _, b) = parts(post_raw(body).await.unwrap()).await;
        assert_eq!(s, 400, "{b}");
        assert!(
            code(&b) == "BAD_REQUEST" || code(&b) == "INVALID_ITEMS",
            "{b}"
        );
    }
    let (s, _, b) = parts(
        c.get(url(&sb, "/conductor/v1/nothing-here"))
            .bearer_auth(SK)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, code(&b)), (404, "NOT_FOUND"));
    // Still alive.
    let (s, _, _) = parts(c.post(url(&sb, "/healthcheck")).send().await.unwrap()).await;
    assert_eq!(s, 200);
}

/// The errors table of the Conductor 2.3 document, typed in by hand from
/// `../shared/specs/conductor-api-2.3.txt`, so the sandbox's own table is
/// checked against the document rather than against itself.
const DOCUMENT_TABLE: [(u16, &str, &str); 27] = [
    (400, "BAD_REQUEST", "Bad request"),
    (400, "INVALID_BILLER_CODE", "Biller code is invalid"),
    (400, "INACTIVE_BILLER_CODE", "Biller is inactive."),
    (400, "INVALID_IDENTIFIER", "Customer identifier is invalid."),
    (400, "INVALID_REFERENCE", "Reference is invalid."),
    (400, "INVALID_EXTERNAL_REFERENCE", "External reference has already been used"),
    (400, "INVALID_ITEMS", "One or more items are invalid"),
    (400, "INVALID_AMOUNT", "Amount in the request is invalid. Value should not contain non-numeric characters or negative value."),
    (400, "INVALID_CURRENCY", "Currency must adhere to the standard ISO 4217 format"),
    (400, "INVALID_PAGE_SIZE", "Page size is invalid"),
    (400, "INVALID_DEPTH", "Depth is invalid"),
    (400, "INVALID_CATEGORY", "Category code is invalid"),
    (400, "INVALID_PRODUCTS", "One or more products are invalid"),
    (400, "CONFLICTED_ITEMS", "The bill and order cannot be processed together due to conflicting items or business rules"),
    (400, "NOT_SUPPORTED", "Sorry, it seems that this is not supported at the moment"),
    (400, "INVALID_PAYMENT_METHOD", "Payment method is invalid"),
    (400, "IN_PROCESSING", "Transaction is processing"),
    (400, "ALREADY_COMPLETED", "Transaction is already completed"),
    (400, "ALREADY_CANCELLED", "Transaction is already cancelled"),
    (400, "ALREADY_ACCEPTED", "Transaction is already accepted"),
    (400, "ALREADY_REJECTED", "Transaction is already rejected"),
    (401, "UNAUTHORIZED", "No valid Secret Key provided."),
    (403, "FORBIDDEN", "The parameters were valid but the request failed."),
    (404, "NOT_FOUND", "The requested resource doesn't exist."),
    (409, "CONFLICT", "The request conflicts with another request (perhaps due to using the same idempotent key)."),
    (422, "UNPROCESSABLE_CONTENT", "The request cannot be processed due to semantic errors or invalid data"),
    (500, "INTERNAL_SERVER_ERROR", "Something went wrong on Conductor's end"),
];

#[test]
fn error_table_matches_the_document() {
    let ours: BTreeSet<(u16, &str, &str)> = Code::ALL.iter().map(|c| c.row()).collect();
    let document: BTreeSet<(u16, &str, &str)> = DOCUMENT_TABLE.into_iter().collect();
    assert_eq!(ours, document);
}
