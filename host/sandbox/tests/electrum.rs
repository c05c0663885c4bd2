//! Electrum over real TLS: all ten operations, validation, duplicates,
//! finality rules both ways, status, vouchers, and the ledger.

mod common;

use common::*;
use serde_json::json;

/// Verbatim copy of the test pack's `VoucherConfirmation.json`
/// (`../shared/specs/electrum-airtime-v5/test-pack-samples/`): not valid JSON
/// upstream (trailing comma), so it must be refused with FORMAT_ERROR.
const TEST_PACK_VOUCHER_CONFIRMATION: &str = r#"{
    "id": "8a5d7bd4-5345-95d6-f1ef-2631a63fca00",
    "requestId": "d71be1ad-72f0-a6ca-9006-f6095868cb85",
    "time": "2016-08-22T11:01:19.029Z",
    "voucher": {
        "serialNumber": "561141009004976790",
        "batchNumber": "5669685193",
        "redeemInstructions": []
    },
    "thirdPartyIdentifiers": [
      {
          "institutionId": "11111111",
          "transactionIdentifier": "ORIG3898"
      },
      {
          "institutionId": "22222222",
          "transactionIdentifier": "CLNT3898"
      },
      {
          "institutionId": "33333333",
          "transactionIdentifier": "51463475700067"
      },
      {
          "institutionId": "44444444",
          "transactionIdentifier": "52285755502221430390"
      }
    ],
}
"#;

/// Verbatim copy of the test pack's `PurchaseRequest.json`.
const TEST_PACK_PURCHASE_REQUEST: &str = r#"{
  "id": "e0059f9a-5792-f6cb-62a1-abe1b1918541",
  "product": {
    "productId": "productId123"
  },
  "time": "2018-07-19T08:22:47.004Z",
  "originator": {
    "merchant": {
      "merchantType": "4444",
      "merchantId": "merchant1234567",
      "merchantName": {
        "name": "Buy Stuff Shop",
        "city": "Cape Town",
        "region": "WP",
        "country": "ZA"
      }
    },
    "terminalId": "term0001",
    "institution": {
      "id": "11111111",
      "name": "Buy Stuff Shop"
    }
  },
  "client": {
    "id": "22222222",
    "name": "TransAcquire Co"
  },
  "receiver": {
    "id": "44444444",
    "name": "MobiTalk"
  },
  "thirdPartyIdentifiers": [
    {
      "institutionId": "11111111",
      "transactionIdentifier": "ORIG8541"
    },
    {
      "institutionId": "22222222",
      "transactionIdentifier": "CLNT8541"
    }
  ]
}"#;

#[tokio::test]
async fn msisdn_lookup_and_products() {
    let sb = start().await;
    let c = client(&sb);
    let (s, b) = electrum_get(&c, &sb, "/msisdn?msisdn=27749670999").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["msisdn"]["msisdn"], "27749670999");
    assert!(!b["availableProducts"].as_array().unwrap().is_empty());
    assert!(b["promotion"]["promotion"].is_string());
    let (_, b) = electrum_get(&c, &sb, "/msisdn?msisdn=%2B27749670999&productType=DATA").await;
    assert!(b["availableProducts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["type"] == "DATA"));
    let (s, b) = electrum_get(&c, &sb, "/msisdn?msisdn=27821234567").await;
    assert_eq!(s, 200);
    assert!(b["availableProducts"].as_array().unwrap().is_empty());
    assert!(b.get("promotion").is_none());
    let (s, b) = electrum_get(&c, &sb, "/msisdn").await;
    assert_eq!((s, b["errorType"].as_str()), (400, Some("FORMAT_ERROR")));
    assert_eq!(
        b["detailMessage"]["formatErrors"][0]["msg"],
        "msisdn may not be null"
    );
    assert_eq!(b["requestType"], "MSISDN_INFO_REQUEST");
    let (s, _) = electrum_get(&c, &sb, "/msisdn?msisdn=0123").await;
    assert_eq!(s, 400);

    let (s, b) = electrum_get(&c, &sb, "/products").await;
    assert_eq!(s, 200);
    let list = b.as_array().unwrap();
    assert!(list.iter().any(|p| p["productId"] == "759"
        && p["recipientAmount"] == json!({ "amount": 5000, "currency": "710" })));
    let (_, b) = electrum_get(&c, &sb, "/products?channelName=USSD").await;
    assert!(b.as_array().unwrap().iter().all(|p| p["channels"]
        .as_array()
        .unwrap()
        .iter()
        .any(|ch| ch["channelName"] == "USSD")));
    let (s, b) = electrum_get(&c, &sb, "/products?channelName=NO_CATALOGUE").await;
    assert_eq!(
        (s, b["errorType"].as_str()),
        (501, Some("FUNCTION_NOT_SUPPORTED"))
    );

    let (s, _, _) = parts(
        c.get(url(&sb, "/airtime/v5/products"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 401, "Basic auth required");
}

#[tokio::test]
async fn purchase_confirm_and_finality() {
    let sb = start().await;
    let c = client(&sb);
    // Trial: no financial effect, nothing stored.
    let id = new_id();
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        "/purchases/trials",
        &purchase_request(&id, "759", Some("27821234567")),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("voucher").is_none());
    assert!(sb.ledger().is_empty());
    let (s, _) = electrum_get(&c, &sb, &format!("/purchases/status?originalMsgId={id}")).await;
    assert_eq!(s, 404, "a trial leaves no record");
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        "/purchases/trials",
        &purchase_request(&new_id(), "NOTRIAL", None),
    )
    .await;
    assert_eq!(
        (s, b["errorType"].as_str()),
        (501, Some("FUNCTION_NOT_SUPPORTED"))
    );

    // Purchase: 201 + Location, slip data.
    let (s, h, b) = electrum_post(
        &c,
        &sb,
        "/purchases",
        &purchase_request(&id, "759", Some("27821234567")),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        h["location"],
        format!("/airtime/v5/purchases/status?originalMsgId={id}").as_str()
    );
    assert_eq!(b["id"], id.as_str());
    assert_eq!(
        b["amounts"]["approvedAmount"],
        json!({ "amount": 5000, "currency": "710" })
    );
    assert_eq!(b["product"]["productId"], "759");
    assert_eq!(b["msisdn"]["msisdn"], "27821234567");
    assert!(!b["slipData"]["messageLines"].as_array().unwrap().is_empty());
    let ledger = sb.ledger();
    assert_eq!(
        (
            ledger.len(),
            ledger[0].kind.as_str(),
            ledger[0].amount_minor
        ),
        (1, "airtime_sold", 5000)
    );

    // Duplicate id.
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
    assert_eq!(sb.ledger().len(), 1);

    // Status by originalMsgId and by purchaseReference + provider.
    let (s, st) = electrum_get(&c, &sb, &format!("/purchases/status?originalMsgId={id}")).await;
    assert_eq!((s, st["id"].as_str()), (200, Some(id.as_str())));
    let provider_ref = b_provider_ref(&st);
    let (s, st2) = electrum_get(
        &c,
        &sb,
        &format!("/purchases/status?purchaseReference={provider_ref}&provider=44444444"),
    )
    .await;
    assert_eq!((s, st2["id"].as_str()), (200, Some(id.as_str())));
    let (s, b) = electrum_get(&c, &sb, "/purchases/status").await;
    assert_eq!((s, b["errorType"].as_str()), (400, Some("FORMAT_ERROR")));

    // Confirm (and repeat: no side effect), then a reversal is refused.
    let conf = new_id();
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        "/purchases/confirmations",
        &advice(&conf, &id, false),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["requestId"], id.as_str());
    let (s, _, _) = electrum_post(
        &c,
        &sb,
        "/purchases/confirmations",
        &advice(&conf, &id, false),
    )
    .await;
    assert_eq!(s, 202);
    let rev = new_id();
    let (s, _, b) = electrum_post(&c, &sb, "/purchases/reversals", &advice(&rev, &id, true)).await;
    assert_eq!(
        (s, b["errorType"].as_str()),
        (400, Some("ACCOUNT_ALREADY_SETTLED"))
    );
    assert_eq!(b["originalId"], id.as_str());
    assert_eq!(b["detailMessage"]["confirmationId"], conf.as_str());
    assert_eq!(sb.ledger().len(), 1, "no reversal applied");
}

fn b_provider_ref(resp: &serde_json::Value) -> String {
    resp["thirdPartyIdentifiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["institutionId"] == "44444444")
        .unwrap()["transactionIdentifier"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn reversal_rules_both_ways() {
    let sb = start().await;
    let c = client(&sb);
    let id = new_id();
    let (s, _, _) = electrum_post(
        &c,
        &sb,
        "/purchases",
        &purchase_request(&id, "12", Some("27821234567")),
    )
    .await;
    assert_eq!(s, 201);
    let rev = new_id();
    let (s, _, _) = electrum_post(&c, &sb, "/purchases/reversals", &advice(&rev, &id, true)).await;
    assert_eq!(s, 202);
    let (s, _, _) = electrum_post(&c, &sb, "/purchases/reversals", &advice(&rev, &id, true)).await;
    assert_eq!(s, 202, "repeat");
    let ledger = sb.ledger();
    assert_eq!(ledger.len(), 2);
    assert_eq!(
        (ledger[1].kind.as_str(), ledger[1].amount_minor),
        ("reversal_applied", -2900)
    );
    assert_eq!(ledger[1].related.as_deref(), Some(rev.as_str()));
    assert_eq!(
        ledger.iter().map(|e| e.amount_minor).sum::<i64>(),
        0,
        "not charged at all"
    );
    // A reversed purchase cannot be confirmed.
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        "/purchases/confirmations",
        &advice(&new_id(), &id, false),
    )
    .await;
    assert_eq!(
        (s, b["errorType"].as_str()),
        (400, Some("ACCOUNT_ALREADY_SETTLED"))
    );
    let (s, b) = electrum_get(&c, &sb, &format!("/purchases/status?originalMsgId={id}")).await;
    assert_eq!(
        (s, b["errorType"].as_str()),
        (400, Some("ACCOUNT_ALREADY_SETTLED"))
    );

    // Unknown ids: 404 with originalId; the 404 reversal is remembered.
    let late = new_id();
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        "/purchases/confirmations",
        &advice(&new_id(), &late, false),
    )
    .await;
    assert_eq!(
        (s, b["errorType"].as_str()),
        (404, Some("UNABLE_TO_LOCATE_RECORD"))
    );
    assert_eq!(b["originalId"], late.as_str());
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        "/purchases/reversals",
        &advice(&new_id(), &late, true),
    )
    .await;
    assert_eq!(
        (s, b["errorType"].as_str()),
        (404, Some("UNABLE_TO_LOCATE_RECORD"))
    );
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        "/purchases",
        &purchase_request(&late, "12", Some("27821234567")),
    )
    .await;
    assert_eq!(
        (s, b["errorType"].as_str()),
        (400, Some("ACCOUNT_ALREADY_SETTLED"))
    );
    assert_eq!(sb.ledger().len(), 2);
}

#[tokio::test]
async fn validation_names_the_json_path() {
    let sb = start().await;
    let c = client(&sb);
    let mut req = purchase_request(&new_id(), "759", None);
    req["originator"]["merchant"]["merchantName"]
        .as_object_mut()
        .unwrap()
        .remove("city");
    req["originator"]["terminalId"] = json!("short");
    req["amounts"] = json!({ "requestAmount": { "amount": "5000", "currency": "ZAR" } });
    let (s, _, b) = electrum_post(&c, &sb, "/purchases", &req).await;
    assert_eq!((s, b["errorType"].as_str()), (400, Some("FORMAT_ERROR")));
    assert_eq!(b["errorMessage"], "Bad formatting.");
    let msgs: Vec<&str> = b["detailMessage"]["formatErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["msg"].as_str().unwrap())
        .collect();
    assert!(
        msgs.contains(&"originator.merchant.merchantName.city may not be null"),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&"originator.terminalId size must be between 8 and 8"),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&"amounts.requestAmount.amount must be an integer"),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("amounts.requestAmount.currency must match")),
        "{msgs:?}"
    );

    // Basic user must equal client.id.
    let resp = c
        .post(url(&sb, "/airtime/v5/purchases"))
        .basic_auth("someone-else", Some("x"))
        .json(&purchase_request(&new_id(), "759", None))
        .send()
        .await
        .unwrap();
    let (s, _, b) = parts(resp).await;
    assert_eq!((s, b["errorType"].as_str()), (400, Some("FORMAT_ERROR")));

    // Malformed JSON and the publisher's own invalid sample (trailing comma).
    for raw in ["{oops", TEST_PACK_VOUCHER_CONFIRMATION] {
        let resp = c
            .post(url(&sb, "/airtime/v5/purchases/confirmations"))
            .basic_auth(CLIENT_ID, Some("x"))
            .header("content-type", "application/json")
            .body(raw.to_owned())
            .send()
            .await
            .unwrap();
        let (s, _, b) = parts(resp).await;
        assert_eq!((s, b["errorType"].as_str()), (400, Some("FORMAT_ERROR")));
    }
    // A body over the size limit is a FORMAT_ERROR too, and the sandbox lives on.
    let mut huge = purchase_request(&new_id(), "759", None);
    huge["padding"] = json!("x".repeat(200_000));
    let (s, _, b) = electrum_post(&c, &sb, "/purchases", &huge).await;
    assert_eq!((s, b["errorType"].as_str()), (400, Some("FORMAT_ERROR")));
    // Wrong types anywhere.
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        "/purchases",
        &json!({ "id": 5, "originator": [], "client": "x", "thirdPartyIdentifiers": {} }),
    )
    .await;
    assert_eq!((s, b["errorType"].as_str()), (400, Some("FORMAT_ERROR")));
    let msgs = b["detailMessage"]["formatErrors"].to_string();
    for m in [
        "id must be a string",
        "originator must be an object",
        "client must be an object",
        "thirdPartyIdentifiers must be an array",
        "time may not be null",
        "product may not be null",
    ] {
        assert!(msgs.contains(m), "{m} in {msgs}");
    }
    // Product and amount rules.
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        "/purchases",
        &purchase_request(&new_id(), "NOPE", None),
    )
    .await;
    assert_eq!((s, b["errorType"].as_str()), (400, Some("INVALID_PRODUCT")));
    let mut wrong = purchase_request(&new_id(), "759", None);
    wrong["amounts"] = json!({ "requestAmount": { "amount": 1234, "currency": "710" } });
    let (s, _, b) = electrum_post(&c, &sb, "/purchases", &wrong).await;
    assert_eq!((s, b["errorType"].as_str()), (400, Some("INVALID_AMOUNT")));
    let mut variable = purchase_request(&new_id(), "AIRVAR", Some("27821234567"));
    variable["amounts"] = json!({ "requestAmount": { "amount": 1234, "currency": "710" } });
    let (s, _, b) = electrum_post(&c, &sb, "/purchases", &variable).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(sb.ledger()[0].amount_minor, 1234);
}

#[tokio::test]
async fn publisher_samples_are_accepted() {
    let sb = start().await;
    let c = client(&sb);
    // The test pack's PurchaseRequest (client.id 22222222, voucher product).
    let sample: serde_json::Value = serde_json::from_str(TEST_PACK_PURCHASE_REQUEST).unwrap();
    let (s, _, b) = electrum_post(&c, &sb, "/purchases", &sample).await;
    assert_eq!(s, 201, "{b}");
    assert!(b["voucher"]["pin"].is_string());
    assert_eq!(b["product"]["name"], "TalkALot");
}

#[tokio::test]
async fn msisdn_test_inputs() {
    let sb = start().await;
    let c = client(&sb);
    for (msisdn, status, error_type) in [
        ("27000000001", 400, "DECLINED_BY_MNO"),
        ("27000000002", 400, "INVALID_MSISDN"),
        ("27000000003", 400, "OUT_OF_STOCK"),
        ("27000000004", 400, "INSUFFICIENT_FUNDS"),
        ("27000000005", 400, "LIMIT_EXCEEDED"),
        ("27000000006", 400, "DO_NOT_HONOR"),
        ("27000000500", 500, "SYSTEM_MALFUNCTION"),
        ("27000000503", 503, "UPSTREAM_UNAVAILABLE"),
    ] {
        let id = new_id();
        let (s, _, b) = electrum_post(
            &c,
            &sb,
            "/purchases",
            &purchase_request(&id, "12", Some(msisdn)),
        )
        .await;
        assert_eq!(
            (s, b["errorType"].as_str()),
            (status, Some(error_type)),
            "{msisdn}"
        );
        assert_eq!(b["id"], id.as_str());
        // Status replays a 400; a 5xx left no record.
        let (s, _) = electrum_get(&c, &sb, &format!("/purchases/status?originalMsgId={id}")).await;
        assert_eq!(s, if status == 400 { 400 } else { 404 }, "{msisdn}");
    }
    assert!(sb.ledger().is_empty());

    // 504 with effect: the sale happened; status shows it; a reversal undoes it.
    let id = new_id();
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        "/purchases",
        &purchase_request(&id, "12", Some("27000000504")),
    )
    .await;
    assert_eq!((s, b["errorType"].as_str()), (504, Some("OUTCOME_UNKNOWN")));
    assert_eq!(sb.ledger().len(), 1);
    let (s, _) = electrum_get(&c, &sb, &format!("/purchases/status?originalMsgId={id}")).await;
    assert_eq!(s, 200);
    let (s, _, _) = electrum_post(
        &c,
        &sb,
        "/purchases/reversals",
        &advice(&new_id(), &id, true),
    )
    .await;
    assert_eq!(s, 202);
    assert_eq!(sb.ledger().iter().map(|e| e.amount_minor).sum::<i64>(), 0);
}

#[tokio::test]
async fn vouchers_provision_confirm_reverse() {
    let sb = start().await;
    let c = client(&sb);
    let id = new_id();
    let mut req = purchase_request(&id, "VCH10", None);
    req.as_object_mut().unwrap().remove("recipientMsisdn");
    // Path id must equal body id.
    let (s, _, b) = electrum_post(&c, &sb, &format!("/vouchers/{}", new_id()), &req).await;
    assert_eq!((s, b["errorType"].as_str()), (400, Some("FORMAT_ERROR")));
    let (s, h, b) = electrum_post(&c, &sb, &format!("/vouchers/{id}"), &req).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(h["location"], format!("/airtime/v5/vouchers/{id}").as_str());
    assert!(b["voucher"]["pin"]
        .as_str()
        .unwrap()
        .bytes()
        .all(|c| c.is_ascii_digit()));
    assert_eq!(b["responseProduct"]["productId"], "VCH10");
    let serial = b["voucher"]["serialNumber"].as_str().unwrap().to_owned();
    assert_eq!(sb.ledger()[0].kind, "voucher_issued");
    assert_eq!(sb.ledger()[0].detail["serialNumber"], serial.as_str());
    let (s, _, b) = electrum_post(&c, &sb, &format!("/vouchers/{id}"), &req).await;
    assert_eq!(
        (s, b["errorType"].as_str()),
        (400, Some("DUPLICATE_RECORD"))
    );
    // One id space: the voucher's id cannot be reused for a purchase.
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
    assert_eq!(sb.ledger().len(), 1, "nothing sold under the reused id");

    let conf = new_id();
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        &format!("/vouchers/{id}/confirmations/{conf}"),
        &advice(&conf, &id, false),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["id"], conf.as_str());
    let rev = new_id();
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        &format!("/vouchers/{id}/reversals/{rev}"),
        &advice(&rev, &id, true),
    )
    .await;
    assert_eq!(
        (s, b["errorType"].as_str()),
        (400, Some("ACCOUNT_ALREADY_SETTLED"))
    );
    assert_eq!(b["requestType"], "VOUCHER_REVERSAL");
    assert_eq!(
        b["detailMessage"]["voucher"]["serialNumber"],
        serial.as_str()
    );

    // Reverse a second voucher, then its confirmation is refused.
    let id2 = new_id();
    let mut req2 = purchase_request(&id2, "VCH10", None);
    req2.as_object_mut().unwrap().remove("recipientMsisdn");
    electrum_post(&c, &sb, &format!("/vouchers/{id2}"), &req2).await;
    let rev2 = new_id();
    let (s, _, _) = electrum_post(
        &c,
        &sb,
        &format!("/vouchers/{id2}/reversals/{rev2}"),
        &advice(&rev2, &id2, true),
    )
    .await;
    assert_eq!(s, 202);
    let conf2 = new_id();
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        &format!("/vouchers/{id2}/confirmations/{conf2}"),
        &advice(&conf2, &id2, false),
    )
    .await;
    assert_eq!(
        (s, b["errorType"].as_str()),
        (400, Some("ACCOUNT_ALREADY_SETTLED"))
    );
    // Unknown voucher.
    let (u, a) = (new_id(), new_id());
    let (s, _, _) = electrum_post(
        &c,
        &sb,
        &format!("/vouchers/{u}/reversals/{a}"),
        &advice(&a, &u, true),
    )
    .await;
    assert_eq!(s, 404);
    // Out of stock.
    let id3 = new_id();
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        &format!("/vouchers/{id3}"),
        &purchase_request(&id3, "VCHOOS", None),
    )
    .await;
    assert_eq!((s, b["errorType"].as_str()), (400, Some("OUT_OF_STOCK")));

    let kinds: Vec<(String, i64)> = sb
        .ledger()
        .into_iter()
        .map(|e| (e.kind, e.amount_minor))
        .collect();
    assert_eq!(
        kinds,
        [
            ("voucher_issued".to_owned(), 1000),
            ("voucher_issued".to_owned(), 1000),
            ("reversal_applied".to_owned(), -1000)
        ]
    );
}
