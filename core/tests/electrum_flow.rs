//! Electrum sale scenarios (airtime and vouchers) on a virtual clock,
//! against a scripted Electrum, and their outbox delivery after a reboot.

mod support;

use support::fixtures::electrum_config;
use support::harness::{rng, start_now, Harness, Sent};
use support::io::{block_on, reboot, Bufs, ScriptedTransport, VirtualClock};
use till_core::delivery::Context;
use till_core::driver;
use till_core::electrum::error::ErrorType;
use till_core::electrum::flow::{self, Confirmation, NotSold, Sale, SaleOutcome, Sold};
use till_core::electrum::wire::*;
use till_core::flow::{CallError, Money, TransportFailure};
use till_core::http::{HeaderName, Status};

use till_core::outbox::Advice;

const PIN: &str = "125805293941";
use support::samples::electrum::{
    error, purchase_request, purchase_response, voucher_request, voucher_response, VOUCHER_PIN,
};

fn assert_basic(sent: &Sent) {
    // Basic base64("22222222:s3cret-pass"): the user is client.id.
    assert_eq!(
        sent.head.header(HeaderName::Authorization),
        Some("Basic MjIyMjIyMjI6czNjcmV0LXBhc3M=")
    );
}

#[test]
fn declined_trial_takes_no_tender_and_sends_nothing_else() {
    let cfg = electrum_config();
    let mut request = purchase_request();
    flow::prepare(&cfg, &mut request, start_now(), &mut rng(1)).unwrap();
    let trial = flow::trial(&cfg, &request, start_now(), &mut rng(1)).unwrap();
    let mut h = Harness::new(trial, start_now());
    let sent = h.expect_send();
    assert_eq!(sent.line(), "POST /airtime/v5/purchases/trials");
    assert_basic(&sent);
    assert!(sent.stored_keys.is_empty(), "a trial moves no money");
    h.respond_json(400, &error("INVALID_MSISDN"));
    match h.expect_done() {
        Err(CallError::Refused(status, Some(e))) => {
            assert_eq!(status, Status(400));
            assert_eq!(e.error_type, ErrorType::InvalidMsisdn);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.transcript
            .iter()
            .filter(|l| l.starts_with("send"))
            .count(),
        1
    );
}

#[test]
fn airtime_trial_purchase_confirmation() {
    let cfg = electrum_config();
    let mut request = purchase_request();
    flow::prepare(&cfg, &mut request, start_now(), &mut rng(2)).unwrap();
    let trial_id = request.id;
    let trial = flow::trial(&cfg, &request, start_now(), &mut rng(2)).unwrap();
    let mut h = Harness::new(trial, start_now());
    h.expect_send();
    h.respond_json(200, &purchase_response(&trial_id.to_string()));
    assert!(h.expect_done().is_ok());

    // The tender is taken; now the sale.
    let sale = Sale::airtime(&cfg, purchase_request(), true, 0, start_now(), &mut rng(3));
    let request_id = sale.request_id();
    assert_ne!(request_id, trial_id, "the purchase has its own id");
    let mut h = Harness::new(sale, start_now());
    let purchase = h.expect_send();
    assert_eq!(purchase.line(), "POST /airtime/v5/purchases");
    assert_basic(&purchase);
    assert_eq!(
        purchase.stored_keys.len(),
        1,
        "reversal stored before the purchase"
    );
    let body = purchase.json();
    assert_eq!(body["id"], request_id.to_string());
    assert_eq!(body["client"]["id"], "22222222");
    assert_eq!(
        body["amounts"]["requestAmount"],
        serde_json::json!({"amount": 5000, "currency": "710"})
    );
    match &h.records()[0].advice {
        Advice::ElectrumPurchaseReversal(r) => {
            assert_eq!(r.request_id, request_id);
            assert_eq!(r.reversal_reason, ReversalReason::Timeout);
        }
        other => panic!("{other:?}"),
    }
    h.respond(
        201,
        &[
            ("Location", &format!("/airtime/v5/purchases/{request_id}")),
            ("Content-Type", "application/json"),
        ],
        purchase_response(&request_id.to_string()).as_bytes(),
    );
    let confirm = h.expect_send();
    assert_eq!(confirm.line(), "POST /airtime/v5/purchases/confirmations");
    // The record was overwritten (same key) with the confirmation first.
    assert_eq!(confirm.stored_keys.len(), 1);
    let Advice::ElectrumPurchaseConfirmation(advice) = &h.records()[0].advice else {
        panic!()
    };
    assert_eq!(confirm.json()["id"], advice.id.to_string());
    assert_eq!(confirm.json()["requestId"], request_id.to_string());
    assert_eq!(confirm.json()["tenders"][0]["tenderType"], "CASH");
    // The response's identifiers, unaltered.
    assert_eq!(
        confirm.json()["thirdPartyIdentifiers"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    h.respond(202, &[], b"");
    let outcome = h.expect_done();
    assert_eq!(outcome.money(), Money::Charged);
    let SaleOutcome::Sold {
        sold: Sold::Purchase(response),
        confirmation: Confirmation::Confirmed,
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(response.slip_lines().len(), 3);
    assert_eq!(
        response.voucher().unwrap().pin.as_ref().unwrap().as_str(),
        PIN
    );
    assert!(!format!("{outcome:?}").contains(PIN), "PIN masked in Debug");
    assert!(h.store.is_empty());
    assert_eq!(
        h.transcript
            .iter()
            .filter(|l| l.starts_with("send"))
            .count(),
        2
    );
}

#[test]
fn unknown_purchase_outcomes_are_reversed() {
    use TransportFailure::*;
    type Fault = dyn Fn(&mut Harness<Sale<'_>>);
    let cases: [(&str, &Fault, ReversalReason); 7] = [
        (
            "oversized 201",
            &|h| h.respond(201, &[], &vec![b' '; 40_000]),
            ReversalReason::ResponseNotFinal,
        ),
        (
            "reset after write",
            &|h| h.fail(AfterWrite),
            ReversalReason::Timeout,
        ),
        (
            "500",
            &|h| h.respond_json(500, &error("GENERAL_ERROR")),
            ReversalReason::ResponseNotFinal,
        ),
        (
            "504",
            &|h| h.respond(504, &[], b""),
            ReversalReason::ResponseNotFinal,
        ),
        (
            "lost answer",
            &|h| h.fail(AfterWrite),
            ReversalReason::Timeout,
        ),
        (
            "unreadable 201",
            &|h| h.respond(201, &[], b"{\"id\":"),
            ReversalReason::ResponseNotFinal,
        ),
        (
            "deep 201",
            &|h| h.respond(201, &[], "[".repeat(1000).as_bytes()),
            ReversalReason::ResponseNotFinal,
        ),
    ];
    let cfg = electrum_config();
    for (name, fault, reason) in cases {
        let sale = Sale::airtime(&cfg, purchase_request(), true, 0, start_now(), &mut rng(4));
        let request_id = sale.request_id();
        let mut h = Harness::new(sale, start_now());
        h.expect_send();
        fault(&mut h);
        let reversal = h.expect_send();
        assert_eq!(
            reversal.line(),
            "POST /airtime/v5/purchases/reversals",
            "{name}"
        );
        assert_eq!(reversal.json()["requestId"], request_id.to_string());
        assert_eq!(reversal.json()["reversalReason"], reason.as_str(), "{name}");
        assert_eq!(reversal.stored_keys.len(), 1);
        // A first failure: the very same reversal again.
        h.fail(AfterWrite);
        let again = h.expect_send();
        // The same advice (same id, same content); its `time` is when it
        // is sent.
        let (mut first, mut second) = (reversal.json(), again.json());
        assert!(second["time"].as_str() > first["time"].as_str(), "{name}");
        first["time"] = serde_json::Value::Null;
        second["time"] = serde_json::Value::Null;
        assert_eq!(first, second, "{name}");
        h.respond(202, &[], b"");
        let outcome = h.expect_done();
        assert_eq!(outcome, SaleOutcome::NotSold(NotSold::Reversed), "{name}");
        assert!(h.store.is_empty());
    }
}

#[test]
fn not_found_on_a_reversal_means_done() {
    let cfg = electrum_config();
    let sale = Sale::airtime(&cfg, purchase_request(), true, 0, start_now(), &mut rng(5));
    let mut h = Harness::new(sale, start_now());
    h.expect_send();
    h.fail(TransportFailure::AfterWrite);
    h.expect_send();
    h.respond_json(404, &error("UNABLE_TO_LOCATE_RECORD"));
    assert_eq!(h.expect_done(), SaleOutcome::NotSold(NotSold::Reversed));
    assert!(h.store.is_empty());
}

#[test]
fn failed_purchases_are_not_charged_and_send_nothing_more() {
    let cfg = electrum_config();
    for (status, kind) in [
        (400, Some("INSUFFICIENT_FUNDS")),
        (400, Some("INVALID_PRODUCT")),
        (404, None),
        (501, None),
        (503, Some("UPSTREAM_UNAVAILABLE")),
    ] {
        let sale = Sale::airtime(&cfg, purchase_request(), true, 0, start_now(), &mut rng(6));
        let mut h = Harness::new(sale, start_now());
        h.expect_send();
        match kind {
            Some(kind) => h.respond_json(status, &error(kind)),
            None => h.respond(status, &[], b""),
        }
        let outcome = h.expect_done();
        assert_eq!(outcome.money(), Money::NotCharged, "{status} {kind:?}");
        assert!(matches!(outcome, SaleOutcome::NotSold(NotSold::Declined(s, _)) if s.0 == status));
        assert!(h.store.is_empty(), "the unused reversal is removed");
        assert_eq!(
            h.transcript
                .iter()
                .filter(|l| l.starts_with("send"))
                .count(),
            1
        );
    }
}

#[test]
fn duplicate_record_is_retried_under_a_new_id_persisted_first() {
    let cfg = electrum_config();
    let sale = Sale::airtime(&cfg, purchase_request(), true, 0, start_now(), &mut rng(7));
    let first_id = sale.request_id();
    let mut h = Harness::new(sale, start_now());
    h.expect_send();
    h.respond_json(400, &error("DUPLICATE_RECORD"));
    let second = h.expect_send();
    let second_id = second.json()["id"].as_str().unwrap().to_string();
    assert_ne!(second_id, first_id.to_string());
    let Advice::ElectrumPurchaseReversal(r) = &h.records()[0].advice else {
        panic!()
    };
    assert_eq!(
        r.request_id.to_string(),
        second_id,
        "reversal rewritten before the new attempt"
    );
    h.respond_json(201, &purchase_response(&second_id));
    h.expect_send();
    h.respond(202, &[], b"");
    assert_eq!(h.expect_done().money(), Money::Charged);
}

#[test]
fn unsent_purchase_is_repeated_then_given_up_without_charge() {
    let cfg = electrum_config();
    let sale = Sale::airtime(&cfg, purchase_request(), true, 0, start_now(), &mut rng(8));
    let mut h = Harness::new(sale, start_now());
    let first = h.expect_send();
    h.fail(TransportFailure::BeforeWrite);
    let outcome = h.until_done(|h, s| {
        assert_eq!(s.body, first.body, "same request, same id");
        h.fail(TransportFailure::Connect);
    });
    assert_eq!(outcome, SaleOutcome::NotSold(NotSold::Unreachable));
    assert!(h.store.is_empty());
}

#[test]
fn reversal_without_final_answer_goes_to_the_outbox_and_survives_a_reboot() {
    let cfg = electrum_config();
    let sale = Sale::airtime(&cfg, purchase_request(), true, 0, start_now(), &mut rng(9));
    let mut h = Harness::new(sale, start_now());
    h.expect_send();
    h.respond(504, &[], b"");
    // 500 is "unknown" in Electrum's rules: repeated until the deadline.
    let reversal = h.until_done(|h, _sent| h.respond(500, &[], b""));
    let SaleOutcome::Pending(record) = reversal else {
        panic!("{reversal:?}")
    };
    let Advice::ElectrumPurchaseReversal(advice) = &record.advice else {
        panic!()
    };
    assert_eq!(h.records(), vec![record.clone()]);

    // Reboot: restore, then the outbox delivers the same reversal.
    let (mut disk, mut outbox) = reboot(&h.store);
    let mut transport = ScriptedTransport::default();
    transport.expect(
        "POST /airtime/v5/purchases/reversals",
        ScriptedTransport::json(500, &error("GENERAL_ERROR")),
    );
    let mut clock = VirtualClock::new(start_now());
    let mut bufs = Bufs::new();
    let r = block_on(driver::flush(
        &mut outbox,
        &mut disk,
        &mut transport,
        &mut clock,
        &mut Context {
            conductor: None,
            momo: None,
            electrum: Some(&cfg),
        },
        bufs.get(),
        &mut rng(10),
    ))
    .unwrap();
    assert_eq!((r.settled, r.retried), (0, 1));
    clock.advance(600_000);
    transport.expect(
        "POST /airtime/v5/purchases/reversals",
        ScriptedTransport::json(404, &error("UNABLE_TO_LOCATE_RECORD")),
    );
    let r = block_on(driver::flush(
        &mut outbox,
        &mut disk,
        &mut transport,
        &mut clock,
        &mut Context {
            conductor: None,
            momo: None,
            electrum: Some(&cfg),
        },
        bufs.get(),
        &mut rng(11),
    ))
    .unwrap();
    assert_eq!(r.settled, 1);
    for (_, sent) in &transport.sent {
        let v: serde_json::Value = serde_json::from_slice(sent).unwrap();
        assert_eq!(
            v["id"],
            advice.id.to_string(),
            "same advice id on every repeat"
        );
    }
    assert!(disk.is_empty());
}

#[test]
fn confirmation_past_the_deadline_is_sold_with_a_pending_confirmation() {
    let cfg = electrum_config();
    let sale = Sale::airtime(&cfg, purchase_request(), true, 0, start_now(), &mut rng(12));
    let request_id = sale.request_id();
    let mut h = Harness::new(sale, start_now());
    h.expect_send();
    h.respond_json(201, &purchase_response(&request_id.to_string()));
    let outcome = h.until_done(|h, _sent| h.fail(TransportFailure::AfterWrite));
    assert_eq!(
        outcome.money(),
        Money::Charged,
        "the customer has the airtime"
    );
    let SaleOutcome::Sold {
        confirmation: Confirmation::Pending(record),
        ..
    } = outcome
    else {
        panic!()
    };
    assert!(matches!(
        record.advice,
        Advice::ElectrumPurchaseConfirmation(_)
    ));
    assert_eq!(h.records(), vec![record]);
}

#[test]
fn confirmation_refused_as_already_settled_means_reversed() {
    let cfg = electrum_config();
    let sale = Sale::airtime(&cfg, purchase_request(), true, 0, start_now(), &mut rng(13));
    let request_id = sale.request_id();
    let mut h = Harness::new(sale, start_now());
    h.expect_send();
    h.respond_json(201, &purchase_response(&request_id.to_string()));
    h.expect_send();
    h.respond_json(400, &error("ACCOUNT_ALREADY_SETTLED"));
    assert_eq!(h.expect_done(), SaleOutcome::NotSold(NotSold::Reversed));
    assert!(h.store.is_empty());
}

#[test]
fn provider_that_cannot_reverse_is_settled_by_status_checks() {
    let cfg = electrum_config();
    // Went through: the status says so, and it is confirmed.
    let sale = Sale::airtime(
        &cfg,
        purchase_request(),
        false,
        0,
        start_now(),
        &mut rng(14),
    );
    let request_id = sale.request_id();
    let mut h = Harness::new(sale, start_now());
    let purchase = h.expect_send();
    assert_eq!(purchase.stored_keys.len(), 1);
    assert!(matches!(
        h.records()[0].advice,
        Advice::ElectrumPurchaseStatus { .. }
    ));
    h.fail(TransportFailure::AfterWrite);
    let status = h.expect_send();
    assert_eq!(
        status.line(),
        format!("GET /airtime/v5/purchases/status?originalMsgId={request_id}")
    );
    h.respond(500, &[], b"");
    h.expect_send();
    h.respond_json(200, &purchase_response(&request_id.to_string()));
    let confirm = h.expect_send();
    assert_eq!(confirm.line(), "POST /airtime/v5/purchases/confirmations");
    h.respond(202, &[], b"");
    assert_eq!(h.expect_done().money(), Money::Charged);

    // Never arrived: 404 on the status.
    let sale = Sale::airtime(
        &cfg,
        purchase_request(),
        false,
        0,
        start_now(),
        &mut rng(15),
    );
    let mut h = Harness::new(sale, start_now());
    h.expect_send();
    h.respond(504, &[], b"");
    h.expect_send();
    h.respond_json(404, &error("UNABLE_TO_LOCATE_RECORD"));
    assert_eq!(h.expect_done().money(), Money::NotCharged);
    assert!(h.store.is_empty());
}

#[test]
fn voucher_provision_and_confirmation_carry_the_pin_to_the_slip_only() {
    let cfg = electrum_config();
    let sale = Sale::voucher(&cfg, voucher_request(), 0, start_now(), &mut rng(16));
    let request_id = sale.request_id();
    let mut h = Harness::new(sale, start_now());
    let provision = h.expect_send();
    assert_eq!(
        provision.line(),
        format!("POST /airtime/v5/vouchers/{request_id}")
    );
    assert_eq!(
        provision.json()["id"],
        request_id.to_string(),
        "path id = body id"
    );
    assert!(matches!(
        h.records()[0].advice,
        Advice::ElectrumVoucherReversal(_)
    ));
    h.respond_json(201, &voucher_response(&request_id.to_string()));
    let confirm = h.expect_send();
    let Advice::ElectrumVoucherConfirmation(advice) = &h.records()[0].advice else {
        panic!()
    };
    assert_eq!(
        confirm.line(),
        format!(
            "POST /airtime/v5/vouchers/{request_id}/confirmations/{}",
            advice.id
        )
    );
    // The PIN is neither stored nor sent again.
    for bytes in h.store.values() {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("\"pin\""), "{text}");
    }
    assert!(!String::from_utf8_lossy(&confirm.body).contains("\"pin\""));
    h.respond(202, &[], b"");
    let outcome = h.expect_done();
    let SaleOutcome::Sold {
        sold: Sold::Voucher(v),
        confirmation: Confirmation::Confirmed,
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(v.voucher().pin.is_some());
    assert_eq!(v.voucher().pin.as_ref().unwrap().as_str(), VOUCHER_PIN);
    assert!(!format!("{outcome:?}").contains(VOUCHER_PIN));
    assert!(!h.transcript.iter().any(|l| l.contains(VOUCHER_PIN)));
}

#[test]
fn voucher_with_unknown_outcome_is_reversed_by_its_own_path() {
    let cfg = electrum_config();
    let sale = Sale::voucher(&cfg, voucher_request(), 0, start_now(), &mut rng(17));
    let request_id = sale.request_id();
    let mut h = Harness::new(sale, start_now());
    h.expect_send();
    h.fail(TransportFailure::AfterWrite);
    let reversal = h.expect_send();
    let Advice::ElectrumVoucherReversal(r) = &h.records()[0].advice else {
        panic!()
    };
    assert_eq!(
        reversal.line(),
        format!("POST /airtime/v5/vouchers/{request_id}/reversals/{}", r.id)
    );
    h.respond(202, &[], b"");
    assert_eq!(h.expect_done(), SaleOutcome::NotSold(NotSold::Reversed));
}

#[test]
fn invalid_requests_are_refused_before_anything_is_sent() {
    let mut cfg = electrum_config();
    cfg.originator.terminal_id = heapless::String::try_from("T1").unwrap();
    let sale = Sale::airtime(&cfg, purchase_request(), true, 0, start_now(), &mut rng(18));
    let mut h = Harness::new(sale, start_now());
    assert!(matches!(
        h.expect_done(),
        SaleOutcome::NotSold(NotSold::Invalid(_))
    ));
    assert_eq!(h.transcript, ["done"]);
    let _ = ErrorType::DuplicateRecord;
}

#[test]
fn msisdn_lookup_and_product_list() {
    let cfg = electrum_config();
    let lookup = flow::lookup_msisdn::<till_core::electrum::MsisdnInfoResponse>(
        &cfg,
        "27749670999",
        &Default::default(),
        start_now(),
        &mut rng(19),
    )
    .unwrap();
    let mut h = Harness::new(lookup, start_now());
    let sent = h.expect_send();
    assert_eq!(sent.line(), "GET /airtime/v5/msisdn?msisdn=27749670999");
    assert_basic(&sent);
    // The publisher's test server answers 202 here.
    let body = String::from_utf8(support::data(
        "electrum/test-pack-samples/MsisdnInfoResponse.json",
    ))
    .unwrap();
    h.respond_json(202, &body);
    let info = h.expect_done().unwrap();
    assert!(info.available_products.is_some());

    let lookup = flow::lookup_msisdn::<till_core::electrum::MsisdnInfoResponse>(
        &cfg,
        "27820000000",
        &Default::default(),
        start_now(),
        &mut rng(20),
    )
    .unwrap();
    let mut h = Harness::new(lookup, start_now());
    h.expect_send();
    h.respond_json(404, &error("UNABLE_TO_LOCATE_RECORD"));
    assert!(matches!(
        h.expect_done(),
        Err(CallError::Refused(Status(404), Some(_)))
    ));

    let products = flow::list_products::<till_core::electrum::ProductList>(
        &cfg,
        "USSD",
        start_now(),
        &mut rng(21),
    )
    .unwrap();
    let mut h = Harness::new(products, start_now());
    assert_eq!(
        h.expect_send().line(),
        "GET /airtime/v5/products?channelName=USSD"
    );
    h.respond_json(501, &error("FUNCTION_NOT_SUPPORTED"));
    // 501 (no catalogue) is a final answer, not a reason to repeat.
    match h.expect_done() {
        Err(CallError::Refused(status, Some(e))) => {
            assert_eq!(status, Status(501));
            assert_eq!(e.error_type, ErrorType::FunctionNotSupported);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.transcript
            .iter()
            .filter(|l| l.starts_with("send"))
            .count(),
        1
    );
}

#[test]
fn every_error_type_on_a_purchase_is_declined_and_settled() {
    let cfg = electrum_config();
    for kind in ErrorType::KNOWN
        .iter()
        .filter(|k| **k != ErrorType::DuplicateRecord)
    {
        let sale = Sale::airtime(&cfg, purchase_request(), true, 0, start_now(), &mut rng(22));
        let mut h = Harness::new(sale, start_now());
        h.expect_send();
        h.respond_json(400, &error(kind.as_str()));
        assert_eq!(
            h.expect_done(),
            SaleOutcome::NotSold(NotSold::Declined(Status(400), Some(kind.clone()))),
            "{kind}"
        );
        assert!(h.store.is_empty(), "{kind}");
        assert_eq!(
            h.transcript
                .iter()
                .filter(|l| l.starts_with("send"))
                .count(),
            1,
            "{kind}"
        );
    }
}

#[test]
fn power_loss_between_the_reversal_write_and_the_purchase() {
    // The reversal is stored; power goes before (or while) the purchase
    // is sent. On boot the outbox sends the reversal: Electrum either
    // reverses the purchase or answers 404 (it never arrived). Either way
    // the customer is not charged, and the record is gone.
    for answer in [202u16, 404] {
        let cfg = electrum_config();
        let sale = Sale::airtime(&cfg, purchase_request(), true, 0, start_now(), &mut rng(23));
        let request_id = sale.request_id();
        let mut h = Harness::new(sale, start_now());
        let purchase = h.expect_send();
        assert_eq!(purchase.stored_keys.len(), 1);
        let (mut disk, mut outbox) = reboot(&h.store);
        let mut transport = ScriptedTransport::default();
        let reply = if answer == 202 {
            Ok((202, vec![], vec![]))
        } else {
            ScriptedTransport::json(404, &error("UNABLE_TO_LOCATE_RECORD"))
        };
        transport.expect("POST /airtime/v5/purchases/reversals", reply);
        let mut clock = VirtualClock::new(start_now());
        let mut bufs = Bufs::new();
        let r = block_on(driver::flush(
            &mut outbox,
            &mut disk,
            &mut transport,
            &mut clock,
            &mut Context {
                conductor: None,
                momo: None,
                electrum: Some(&cfg),
            },
            bufs.get(),
            &mut rng(24),
        ))
        .unwrap();
        assert_eq!(r.settled, 1);
        let sent: serde_json::Value = serde_json::from_slice(&transport.sent[0].1).unwrap();
        assert_eq!(sent["requestId"], request_id.to_string());
        assert_eq!(
            transport.sent[0].0.header(HeaderName::Authorization),
            Some("Basic MjIyMjIyMjI6czNjcmV0LXBhc3M=")
        );
        assert!(disk.is_empty() && outbox.is_empty());
    }
}

#[test]
fn reversal_refused_as_already_settled_is_left_to_the_outbox_as_charged() {
    let cfg = electrum_config();
    let sale = Sale::airtime(&cfg, purchase_request(), true, 0, start_now(), &mut rng(25));
    let mut h = Harness::new(sale, start_now());
    h.expect_send();
    h.fail(TransportFailure::AfterWrite);
    h.expect_send();
    h.respond_json(400, &error("ACCOUNT_ALREADY_SETTLED"));
    let SaleOutcome::Pending(record) = h.expect_done() else {
        panic!()
    };
    assert_eq!(
        h.transcript
            .iter()
            .filter(|l| l.starts_with("send"))
            .count(),
        2,
        "no pointless repeats"
    );
    let (mut disk, mut outbox) = reboot(&h.store);
    let mut transport = ScriptedTransport::default();
    transport.expect(
        "POST /airtime/v5/purchases/reversals",
        ScriptedTransport::json(400, &error("ACCOUNT_ALREADY_SETTLED")),
    );
    let mut clock = VirtualClock::new(start_now());
    let mut bufs = Bufs::new();
    let r = block_on(driver::flush(
        &mut outbox,
        &mut disk,
        &mut transport,
        &mut clock,
        &mut Context {
            conductor: None,
            momo: None,
            electrum: Some(&cfg),
        },
        bufs.get(),
        &mut rng(26),
    ))
    .unwrap();
    assert_eq!(r.settled, 1);
    assert!(matches!(record.advice, Advice::ElectrumPurchaseReversal(_)));
    assert!(disk.is_empty());
}
