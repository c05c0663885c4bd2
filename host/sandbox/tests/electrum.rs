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
        .basic_auth("someone-else", Some(till_sandbox::ELECTRUM_PASSWORD))
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
            .basic_auth(CLIENT_ID, Some(till_sandbox::ELECTRUM_PASSWORD))
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
        &voucher_confirmation(&conf, &id, &serial),
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
    let (_, _, b2) = electrum_post(&c, &sb, &format!("/vouchers/{id2}"), &req2).await;
    let serial2 = b2["voucher"]["serialNumber"].as_str().unwrap().to_owned();
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
        &voucher_confirmation(&conf2, &id2, &serial2),
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

/// Sets (`Some`) or removes (`None`) the member at `path` (`a.b[0].c`, as
/// the sandbox names paths in its format errors).
fn edit(body: &mut serde_json::Value, path: &str, value: Option<serde_json::Value>) {
    let pointer: String = path
        .split('.')
        .flat_map(|seg| match seg.split_once('[') {
            Some((name, index)) => vec![name.to_owned(), index.trim_end_matches(']').to_owned()],
            None => vec![seg.to_owned()],
        })
        .map(|seg| format!("/{seg}"))
        .collect();
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let parent = body
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{path}: its parent is in the base body"));
    match (parent, value) {
        (serde_json::Value::Object(o), Some(v)) => {
            o.insert(last.to_owned(), v);
        }
        (serde_json::Value::Object(o), None) => {
            o.remove(last)
                .unwrap_or_else(|| panic!("{path} is in the base body"));
        }
        (serde_json::Value::Array(a), Some(v)) => a[last.parse::<usize>().unwrap()] = v,
        (serde_json::Value::Array(a), None) => {
            a.remove(last.parse::<usize>().unwrap());
        }
        (other, _) => panic!("{path}: parent {other} is not a container"),
    }
}

/// One request model: a valid body, where it goes, what it requires and
/// what it bounds.
struct Model {
    name: &'static str,
    path: String,
    body: serde_json::Value,
    /// Each removed in turn: 400 FORMAT_ERROR "<path> may not be null".
    required: &'static [&'static str],
    /// Each set in turn to a value just outside its bound: 400
    /// FORMAT_ERROR with a message naming the path.
    bounded: Vec<(&'static str, serde_json::Value)>,
}

fn sale_extras(body: &mut serde_json::Value, amount: i64) {
    body["amounts"] = json!({ "requestAmount": { "amount": amount, "currency": "710" } });
    body["tenders"] = json!([{
        "tenderType": "CASH",
        "accountType": "DEFAULT",
        "reference": "till-0001",
        "amount": { "amount": amount, "currency": "710" }
    }]);
    body["transactionLabels"] = json!([{ "name": "till", "value": "counter-1" }]);
    body["settlementEntity"] = json!({ "id": "33333333", "name": "till sandbox switch" });
    body["receiver"] = json!({ "id": "44444444", "name": "till sandbox provider" });
}

const TRANSACTION_REQUIRED: [&str; 27] = [
    "id",
    "time",
    "originator",
    "originator.institution",
    "originator.institution.id",
    "originator.institution.name",
    "originator.terminalId",
    "originator.merchant",
    "originator.merchant.merchantType",
    "originator.merchant.merchantId",
    "originator.merchant.merchantName",
    "originator.merchant.merchantName.name",
    "originator.merchant.merchantName.city",
    "originator.merchant.merchantName.region",
    "originator.merchant.merchantName.country",
    "client",
    "client.id",
    "client.name",
    "settlementEntity.id",
    "settlementEntity.name",
    "receiver.id",
    "receiver.name",
    "thirdPartyIdentifiers",
    "thirdPartyIdentifiers[0].institutionId",
    "thirdPartyIdentifiers[0].transactionIdentifier",
    "transactionLabels[0].name",
    "transactionLabels[0].value",
];

fn transaction_bounds() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("id", json!("not-a-uuid")),
        ("time", json!("yesterday")),
        ("originator.institution.name", json!("x".repeat(41))),
        ("originator.terminalId", json!("term001")),
        ("originator.terminalId", json!("term00001")),
        ("originator.merchant.merchantType", json!("444")),
        ("originator.merchant.merchantId", json!("merchant123456")),
        ("originator.merchant.merchantId", json!("merchant12345678")),
        (
            "originator.merchant.merchantName.name",
            json!("x".repeat(24)),
        ),
        (
            "originator.merchant.merchantName.city",
            json!("x".repeat(14)),
        ),
        ("originator.merchant.merchantName.region", json!("WCP")),
        ("originator.merchant.merchantName.country", json!("ZAF")),
        ("client.name", json!("x".repeat(41))),
        ("settlementEntity.name", json!("x".repeat(41))),
        ("receiver.name", json!("x".repeat(41))),
        ("product.productId", json!("x".repeat(21))),
        ("product.productId", json!("bad-id")),
        ("product.barcode", json!("1".repeat(14))),
        ("product.name", json!("x".repeat(121))),
        ("product.type", json!("AIRTIME_SOMETIMES")),
        ("amounts.requestAmount.currency", json!("71")),
        ("amounts.requestAmount.amount", json!("5000")),
        ("tenders[0].tenderType", json!("COINS")),
        ("tenders[0].accountType", json!("PIGGY_BANK")),
        ("tenders[0].cardNumber", json!("12345")),
        ("tenders[0].reference", json!("x".repeat(41))),
        ("tenders[0].amount.currency", json!("ZAR")),
        ("srcAccType", json!("PIGGY_BANK")),
    ]
}

const SALE_REQUIRED: [&str; 6] = [
    "product",
    "product.productId",
    "amounts.requestAmount.amount",
    "amounts.requestAmount.currency",
    "tenders[0].tenderType",
    "tenders[0].amount",
];

const ADVICE_REQUIRED: [&str; 6] = [
    "id",
    "requestId",
    "time",
    "thirdPartyIdentifiers",
    "thirdPartyIdentifiers[0].institutionId",
    "thirdPartyIdentifiers[0].transactionIdentifier",
];

fn advice_bounds() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("id", json!("not-a-uuid")),
        ("requestId", json!("not-a-uuid")),
        ("time", json!("yesterday")),
        ("amounts.approvedAmount.currency", json!("7100")),
    ]
}

fn leak(list: Vec<&'static str>) -> &'static [&'static str] {
    Box::leak(list.into_boxed_slice())
}

/// Every required member of every request model removed in turn, and every
/// bounded member just outside its bound, is 400 FORMAT_ERROR naming its
/// JSON path; the untouched bodies are accepted and sell exactly once each.
#[tokio::test]
async fn every_model_constraint_is_refused_with_its_path() {
    let sb = start().await;
    let c = client(&sb);

    // The sales the advices are about.
    let (purchase_id, reversed_purchase_id) = (new_id(), new_id());
    let (voucher_id, reversed_voucher_id) = (new_id(), new_id());
    let mut purchase = purchase_request(&purchase_id, "759", Some("27821234567"));
    sale_extras(&mut purchase, 5000);
    purchase["senderMsisdn"] = json!({ "msisdn": "27821234568", "country": "ZA" });
    let mut voucher = purchase_request(&voucher_id, "VCH10", None);
    sale_extras(&mut voucher, 1000);
    let mut trial = purchase.clone();
    trial["id"] = json!(new_id());

    let mut confirmation = advice(&new_id(), &purchase_id, false);
    confirmation["amounts"] = json!({ "approvedAmount": { "amount": 5000, "currency": "710" } });
    confirmation["tenders"] = purchase["tenders"].clone();
    let mut reversal = advice(&new_id(), &reversed_purchase_id, true);
    reversal["amounts"] = confirmation["amounts"].clone();
    let voucher_conf_id = new_id();
    let voucher_rev_id = new_id();

    let mut purchase_required = TRANSACTION_REQUIRED.to_vec();
    purchase_required.extend(SALE_REQUIRED);
    purchase_required.push("recipientMsisdn.msisdn");
    purchase_required.push("senderMsisdn.msisdn");
    let mut voucher_required = TRANSACTION_REQUIRED.to_vec();
    voucher_required.extend(SALE_REQUIRED);
    let mut purchase_bounds = transaction_bounds();
    purchase_bounds.push(("recipientMsisdn.msisdn", json!("0821234567")));
    purchase_bounds.push(("recipientMsisdn.country", json!("ZAF")));
    purchase_bounds.push(("senderMsisdn.msisdn", json!("+")));
    let mut tender_advice_required = ADVICE_REQUIRED.to_vec();
    tender_advice_required.extend(["tenders[0].tenderType", "tenders[0].amount"]);
    let mut tender_advice_bounds = advice_bounds();
    tender_advice_bounds.push(("tenders[0].tenderType", json!("COINS")));
    let mut reversal_required = ADVICE_REQUIRED.to_vec();
    reversal_required.push("reversalReason");
    let mut reversal_bounds = advice_bounds();
    reversal_bounds.push(("reversalReason", json!("BECAUSE")));
    let mut voucher_conf_required = tender_advice_required.clone();
    voucher_conf_required.extend(["voucher", "voucher.serialNumber"]);
    let mut voucher_conf_bounds = tender_advice_bounds.clone();
    voucher_conf_bounds.push(("voucher.serialNumber", json!("S".repeat(21))));
    voucher_conf_bounds.push(("voucher.serialNumber", json!("SBX-12")));
    voucher_conf_bounds.push(("voucher.pin", json!("12ab")));

    let models = vec![
        Model {
            name: "PurchaseRequest (trial)",
            path: "/purchases/trials".to_owned(),
            body: trial,
            required: leak(purchase_required.clone()),
            bounded: purchase_bounds.clone(),
        },
        Model {
            name: "PurchaseRequest",
            path: "/purchases".to_owned(),
            body: purchase,
            required: leak(purchase_required),
            bounded: purchase_bounds,
        },
        Model {
            name: "VoucherRequest",
            path: format!("/vouchers/{voucher_id}"),
            body: voucher,
            required: leak(voucher_required),
            bounded: transaction_bounds(),
        },
        Model {
            name: "TenderAdvice (purchase confirmation)",
            path: "/purchases/confirmations".to_owned(),
            body: confirmation,
            required: leak(tender_advice_required),
            bounded: tender_advice_bounds,
        },
        Model {
            name: "BasicReversal (purchase reversal)",
            path: "/purchases/reversals".to_owned(),
            body: reversal,
            required: leak(reversal_required.clone()),
            bounded: reversal_bounds.clone(),
        },
        Model {
            name: "VoucherConfirmation",
            path: format!("/vouchers/{voucher_id}/confirmations/{voucher_conf_id}"),
            body: {
                let mut v = voucher_confirmation(&voucher_conf_id, &voucher_id, "SBX000000000001");
                v["tenders"] = json!([{ "tenderType": "CASH", "amount": { "amount": 1000, "currency": "710" } }]);
                v["amounts"] = json!({ "approvedAmount": { "amount": 1000, "currency": "710" } });
                v
            },
            required: leak(voucher_conf_required),
            bounded: voucher_conf_bounds,
        },
        Model {
            name: "BasicReversal (voucher reversal)",
            path: format!("/vouchers/{reversed_voucher_id}/reversals/{voucher_rev_id}"),
            body: {
                let mut v = advice(&voucher_rev_id, &reversed_voucher_id, true);
                v["amounts"] = json!({ "approvedAmount": { "amount": 1000, "currency": "710" } });
                v
            },
            required: leak(reversal_required),
            bounded: reversal_bounds,
        },
    ];

    let mut cases = 0;
    for model in &models {
        let mut variants: Vec<(String, String, serde_json::Value)> = Vec::new();
        for path in model.required {
            let mut body = model.body.clone();
            edit(&mut body, path, None);
            variants.push((
                format!("{path} removed"),
                format!("{path} may not be null"),
                body,
            ));
        }
        for (path, value) in &model.bounded {
            let mut body = model.body.clone();
            edit(&mut body, path, Some(value.clone()));
            variants.push((format!("{path} = {value}"), format!("{path} "), body));
        }
        for (what, expected, body) in variants {
            let (s, _, b) = electrum_post(&c, &sb, &model.path, &body).await;
            assert_eq!(
                (s, b["errorType"].as_str()),
                (400, Some("FORMAT_ERROR")),
                "{}: {what}: {b}",
                model.name
            );
            let msgs: Vec<&str> = b["detailMessage"]["formatErrors"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: {what}: formatErrors in {b}", model.name))
                .iter()
                .filter_map(|e| e["msg"].as_str())
                .collect();
            assert!(
                msgs.iter().any(|m| m.starts_with(&expected)),
                "{}: {what}: expected a message starting {expected:?}, got {msgs:?}",
                model.name
            );
            cases += 1;
        }
    }
    assert!(cases >= 248, "{cases} cases");
    assert!(sb.ledger().is_empty(), "no refused body sold anything");

    // The untouched bodies are valid: the sales, then their advices.
    let mut reversed = purchase_request(&reversed_purchase_id, "759", Some("27821234567"));
    sale_extras(&mut reversed, 5000);
    let mut reversed_voucher = purchase_request(&reversed_voucher_id, "VCH10", None);
    sale_extras(&mut reversed_voucher, 1000);
    let (s, _, b) = electrum_post(&c, &sb, "/purchases", &reversed).await;
    assert_eq!(s, 201, "{b}");
    let (s, _, b) = electrum_post(
        &c,
        &sb,
        &format!("/vouchers/{reversed_voucher_id}"),
        &reversed_voucher,
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let expected = [200, 201, 201, 202, 202, 202, 202];
    for (model, want) in models.iter().zip(expected) {
        let (s, _, b) = electrum_post(&c, &sb, &model.path, &model.body).await;
        assert_eq!(s, want, "{}: {b}", model.name);
        if want == 202 {
            // The answer echoes the advice's ids and time.
            for f in ["id", "requestId", "time"] {
                assert_eq!(b[f], model.body[f], "{}: {f} echoed", model.name);
            }
        }
    }
    let ledger: Vec<(String, i64)> = sb
        .ledger()
        .into_iter()
        .map(|e| (e.reference, e.amount_minor))
        .collect();
    assert_eq!(
        ledger,
        [
            (reversed_purchase_id.clone(), 5000),
            (reversed_voucher_id.clone(), 1000),
            (purchase_id, 5000),
            (voucher_id, 1000),
            (reversed_purchase_id, -5000),
            (reversed_voucher_id, -1000),
        ]
    );

    // A lookup without its MSISDN names the missing parameter.
    let (s, b) = electrum_get(&c, &sb, "/msisdn?productType=DATA").await;
    assert_eq!((s, b["errorType"].as_str()), (400, Some("FORMAT_ERROR")));
    assert_eq!(
        b["detailMessage"]["formatErrors"][0]["msg"],
        "msisdn may not be null"
    );
}
