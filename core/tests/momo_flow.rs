//! MoMo payment flow scenarios on a virtual clock, against a scripted MoMo.

mod support;

use heapless::String;
use support::harness::{rng, start_now, Harness, Sent};
use till_core::flow::{Money, TransportFailure};
use till_core::http::HeaderName;
use till_core::id::Uuid;
use till_core::momo::error::ErrorReason;
use till_core::momo::flow::{Payment, PaymentOutcome, PaymentRequest, Refusal, TokenCache};
use till_core::momo::wire::CustomerReference;
use till_core::money::{Amount, Currency};
use till_core::outbox::Advice;
use till_core::time::Duration;

use support::fixtures::{momo_config as config, MOMO_TOKEN as TOKEN};

fn request(msisdn: &str) -> PaymentRequest {
    PaymentRequest {
        amount: Amount::from_minor(2500, Currency::EUR),
        customer: CustomerReference::try_from_str(msisdn).unwrap(),
        provider: String::try_from("Electricity Inc.").unwrap(),
        external_id: Some(String::try_from("till-0001").unwrap()),
        note: Some(String::try_from("Prepaid power").unwrap()),
    }
}

fn status(reference: Uuid, status: &str, extra: &str) -> std::string::String {
    format!(r#"{{"referenceId":"{reference}","status":"{status}"{extra}}}"#)
}

fn expect_token(h: &mut Harness<Payment<'_>>) {
    let sent = h.expect_send();
    assert_eq!(sent.line(), "POST /collection/token/");
    // Basic base64(apiUser:apiKey) and the subscription key.
    assert_eq!(
        sent.head.header(HeaderName::Authorization),
        Some("Basic YzcyMDI1ZjUtNWNkMS00NjMwLTk5ZTQtOGJhNDcyMmZhZDU2OmExYjJjM2Q0ZTVmNmE3YjhjOWQwZTFmMmEzYjRjNWQ2")
    );
    h.respond_json(200, TOKEN);
}

fn expect_create(h: &mut Harness<Payment<'_>>) -> Sent {
    let sent = h.expect_send();
    assert_eq!(sent.line(), "POST /collection/v2_0/payment");
    let reference = h.flow.reference_id();
    assert_eq!(
        sent.head.header(HeaderName::XReferenceId),
        Some(reference.to_string().as_str())
    );
    // Persist before send: the status record is already stored.
    assert_eq!(sent.stored_keys, vec![reference]);
    assert_eq!(
        sent.head.header(HeaderName::Authorization),
        Some("Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSMjU2In0.sandbox")
    );
    assert_eq!(
        sent.head.header(HeaderName::XTargetEnvironment),
        Some("sandbox")
    );
    assert!(sent
        .head
        .header(HeaderName::OcpApimSubscriptionKey)
        .is_some());
    assert_eq!(sent.head.header(HeaderName::XCallbackUrl), None);
    sent
}

fn expect_status(h: &mut Harness<Payment<'_>>) {
    let sent = h.expect_send();
    assert_eq!(
        sent.line(),
        format!("GET /collection/v2_0/payment/{}", h.flow.reference_id())
    );
}

#[test]
fn payment_polled_to_successful() {
    let cfg = config();
    let mut tokens = TokenCache::new();
    let flow = Payment::new(
        &cfg,
        &mut tokens,
        request("46733123453"),
        0,
        start_now(),
        &mut rng(1),
    );
    let mut h = Harness::new(flow, start_now());
    expect_token(&mut h);
    let create = expect_create(&mut h);
    let body = create.json();
    assert_eq!(
        body["money"],
        serde_json::json!({"amount": "25.00", "currency": "EUR"})
    );
    assert_eq!(body["customerReference"], "46733123453");
    assert_eq!(body["externalTransactionId"], "till-0001");
    let reference = h.flow.reference_id();
    let record = &h.records()[0];
    assert_eq!(
        record.advice,
        Advice::MomoStatus {
            reference_id: reference,
            create: Some(till_core::json::decode(&create.body).unwrap()),
        }
    );
    h.respond(202, &[], b"");
    expect_status(&mut h);
    h.respond_json(200, &status(reference, "PENDING", ""));
    expect_status(&mut h);
    h.respond_json(
        200,
        &status(
            reference,
            "SUCCESSFUL",
            r#","financialTransactionId":"363440463""#,
        ),
    );
    let outcome = h.expect_done();
    assert_eq!(outcome.money(), Money::Charged);
    match outcome {
        PaymentOutcome::Successful {
            reference_id,
            financial_transaction_id,
        } => {
            assert_eq!(reference_id, reference);
            assert_eq!(financial_transaction_id.as_deref(), Some("363440463"));
        }
        other => panic!("{other:?}"),
    }
    assert!(h.store.is_empty(), "settled record removed");
    assert_eq!(
        h.transcript
            .iter()
            .filter(|l| l.starts_with("send"))
            .count(),
        4,
        "token + create + two polls: {:?}",
        h.transcript
    );
}

#[test]
fn failed_payment_reports_its_reason_in_both_forms() {
    for reason in [
        r#","reason":{"code":"PAYER_NOT_FOUND","message":"Payer not found"}"#,
        r#","reason":"PAYER_NOT_FOUND""#,
    ] {
        let cfg = config();
        let mut tokens = TokenCache::new();
        let flow = Payment::new(
            &cfg,
            &mut tokens,
            request("46733123450"),
            0,
            start_now(),
            &mut rng(2),
        );
        let mut h = Harness::new(flow, start_now());
        expect_token(&mut h);
        expect_create(&mut h);
        h.respond(202, &[], b"");
        expect_status(&mut h);
        let reference = h.flow.reference_id();
        h.respond_json(200, &status(reference, "FAILED", reason));
        let outcome = h.expect_done();
        assert_eq!(outcome.money(), Money::NotCharged);
        assert_eq!(
            outcome,
            PaymentOutcome::Failed {
                reference_id: reference,
                reason: Some(ErrorReason::PayerNotFound)
            }
        );
        assert!(h.store.is_empty());
    }
}

#[test]
fn bad_request_is_not_charged_and_settled() {
    let cfg = config();
    let mut tokens = TokenCache::new();
    let flow = Payment::new(
        &cfg,
        &mut tokens,
        request("46733123453"),
        0,
        start_now(),
        &mut rng(3),
    );
    let mut h = Harness::new(flow, start_now());
    expect_token(&mut h);
    expect_create(&mut h);
    h.respond_json(
        400,
        r#"{"code":"INVALID_CURRENCY","message":"Currency not supported."}"#,
    );
    let outcome = h.expect_done();
    assert_eq!(
        outcome,
        PaymentOutcome::Refused(Refusal::BadRequest(Some(ErrorReason::InvalidCurrency)))
    );
    assert!(h.store.is_empty());
}

#[test]
fn lost_answer_is_resolved_by_polling_and_a_404_repeats_the_same_create() {
    let cfg = config();
    let mut tokens = TokenCache::new();
    let flow = Payment::new(
        &cfg,
        &mut tokens,
        request("46733123453"),
        0,
        start_now(),
        &mut rng(4),
    );
    let mut h = Harness::new(flow, start_now());
    expect_token(&mut h);
    let first = expect_create(&mut h);
    h.fail(TransportFailure::AfterWrite);
    // The answer was lost: ask about the reference, never post blindly.
    expect_status(&mut h);
    h.respond_json(
        404,
        r#"{"code":"RESOURCE_NOT_FOUND","message":"Requested resource was not found."}"#,
    );
    // MoMo never acknowledged the reference: the create may not have
    // arrived. The same create again, same X-Reference-Id, same body.
    let second = expect_create(&mut h);
    assert_eq!(first.body, second.body);
    assert_eq!(
        first.head.header(HeaderName::XReferenceId),
        second.head.header(HeaderName::XReferenceId)
    );
    // It had arrived after all: MoMo deduplicates, nothing new is created.
    h.respond_json(409, r#"{"code":"RESOURCE_ALREADY_EXIST","message":"Duplicated reference id. Creation of resource failed."}"#);
    expect_status(&mut h);
    // Acknowledged now: a 404 is MoMo catching up and is polled again.
    h.respond_json(
        404,
        r#"{"code":"RESOURCE_NOT_FOUND","message":"Requested resource was not found."}"#,
    );
    expect_status(&mut h);
    let reference = h.flow.reference_id();
    h.respond_json(200, &status(reference, "SUCCESSFUL", ""));
    assert_eq!(h.expect_done().money(), Money::Charged);
    let posts = h
        .transcript
        .iter()
        .filter(|l| *l == "send POST /collection/v2_0/payment")
        .count();
    assert_eq!(posts, 2, "{:?}", h.transcript);
}

#[test]
fn unsent_create_is_repeated_with_the_same_reference() {
    for failure in [TransportFailure::Connect, TransportFailure::BeforeWrite] {
        let cfg = config();
        let mut tokens = TokenCache::new();
        let flow = Payment::new(
            &cfg,
            &mut tokens,
            request("46733123453"),
            0,
            start_now(),
            &mut rng(5),
        );
        let mut h = Harness::new(flow, start_now());
        expect_token(&mut h);
        let first = expect_create(&mut h);
        h.fail(failure);
        let second = expect_create(&mut h);
        assert_eq!(first.body, second.body);
        assert_eq!(
            first.head.header(HeaderName::XReferenceId),
            second.head.header(HeaderName::XReferenceId)
        );
        h.respond(202, &[], b"");
        expect_status(&mut h);
        let reference = h.flow.reference_id();
        h.respond_json(200, &status(reference, "SUCCESSFUL", ""));
        assert_eq!(h.expect_done().money(), Money::Charged);
    }
}

#[test]
fn service_unavailable_repeats_create_and_a_409_then_polls() {
    let cfg = config();
    let mut tokens = TokenCache::new();
    let flow = Payment::new(
        &cfg,
        &mut tokens,
        request("46733123453"),
        0,
        start_now(),
        &mut rng(6),
    );
    let mut h = Harness::new(flow, start_now());
    expect_token(&mut h);
    expect_create(&mut h);
    h.respond_json(
        503,
        r#"{"code":"SERVICE_UNAVAILABLE","message":"Try later"}"#,
    );
    expect_create(&mut h);
    // The first one did get through after all.
    h.respond_json(409, r#"{"code":"RESOURCE_ALREADY_EXIST","message":"Duplicated reference id. Creation of resource failed."}"#);
    expect_status(&mut h);
    let reference = h.flow.reference_id();
    h.respond_json(200, &status(reference, "SUCCESSFUL", ""));
    assert_eq!(h.expect_done().money(), Money::Charged);
}

#[test]
fn server_errors_and_garbage_while_polling_keep_polling() {
    let cfg = config();
    let mut tokens = TokenCache::new();
    let flow = Payment::new(
        &cfg,
        &mut tokens,
        request("46733123453"),
        0,
        start_now(),
        &mut rng(7),
    );
    let mut h = Harness::new(flow, start_now());
    expect_token(&mut h);
    expect_create(&mut h);
    h.respond_json(500, r#"{"code":"INTERNAL_PROCESSING_ERROR","message":"An internal error occurred while processing."}"#);
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let big = format!(r#"{{"status":"PENDING","x":"{}"}}"#, "a".repeat(40_000));
    for bad in [
        (500, "oops"),
        (503, ""),
        (504, ""),
        (200, "{not json"),
        (200, deep.as_str()),
        (200, big.as_str()),
        (200, r#"{"status":7}"#),
    ] {
        expect_status(&mut h);
        h.respond(bad.0, &[], bad.1.as_bytes());
    }
    expect_status(&mut h);
    h.fail(TransportFailure::AfterWrite);
    expect_status(&mut h);
    let reference = h.flow.reference_id();
    h.respond_json(200, &status(reference, "SUCCESSFUL", ""));
    assert_eq!(h.expect_done().money(), Money::Charged);
}

#[test]
fn token_expiry_in_the_middle_of_polling_fetches_a_new_one_first() {
    let cfg = config();
    let mut tokens = TokenCache::new();
    let flow = Payment::new(
        &cfg,
        &mut tokens,
        request("46733123454"),
        0,
        start_now(),
        &mut rng(8),
    );
    let mut h = Harness::new(flow, start_now());
    h.respond_json(200, "{}"); // ignored: the flow is not waiting for anything
    expect_token(&mut h);
    expect_create(&mut h);
    h.respond(202, &[], b"");
    expect_status(&mut h);
    // The token (3600 s, refreshed 60 s early) runs out while MoMo is slow.
    h.advance(3_541_000);
    let reference = h.flow.reference_id();
    h.respond_json(200, &status(reference, "PENDING", ""));
    // Polling deadline passed too, so the flow hands over to the outbox.
    let outcome = h.expect_done();
    assert_eq!(outcome.money(), Money::Pending);
    assert_eq!(h.store.len(), 1, "record kept for the outbox");

    // A fresh payment on a long deadline: the expired token is replaced
    // before the next poll.
    let mut cfg = config();
    cfg.poll_deadline = Duration::from_secs(7200);
    let mut tokens = TokenCache::new();
    let flow = Payment::new(
        &cfg,
        &mut tokens,
        request("46733123454"),
        1,
        start_now(),
        &mut rng(9),
    );
    let mut h = Harness::new(flow, start_now());
    expect_token(&mut h);
    expect_create(&mut h);
    h.respond(202, &[], b"");
    expect_status(&mut h);
    h.advance(3_541_000);
    let reference = h.flow.reference_id();
    h.respond_json(200, &status(reference, "PENDING", ""));
    expect_token(&mut h);
    expect_status(&mut h);
    // And a 401 in the middle (token revoked) is answered with one refresh.
    h.respond_json(401, r#"{"code":"NOT_ALLOWED","message":"Invalid token"}"#);
    expect_token(&mut h);
    expect_status(&mut h);
    h.respond_json(200, &status(reference, "SUCCESSFUL", ""));
    assert_eq!(h.expect_done().money(), Money::Charged);
}

#[test]
fn deadline_hands_the_payment_to_the_outbox() {
    let cfg = config();
    let mut tokens = TokenCache::new();
    let flow = Payment::new(
        &cfg,
        &mut tokens,
        request("46733123453"),
        7,
        start_now(),
        &mut rng(10),
    );
    let mut h = Harness::new(flow, start_now());
    expect_token(&mut h);
    expect_create(&mut h);
    h.respond(202, &[], b"");
    let reference = h.flow.reference_id();
    let outcome = h.until_done(|h, _sent| h.respond_json(200, &status(reference, "PENDING", "")));
    assert!(h.now.instant.as_millis() <= 60_000 + 10_000);
    match outcome {
        PaymentOutcome::Pending {
            reference_id,
            record,
        } => {
            assert_eq!(reference_id, reference);
            assert_eq!(record.key, reference);
            assert_eq!(record.seq, 7);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.store.len(), 1, "the pending record stays stored");
}

#[test]
fn refused_credentials_and_unreachable_momo_charge_nothing() {
    let cfg = config();
    let mut tokens = TokenCache::new();
    let flow = Payment::new(
        &cfg,
        &mut tokens,
        request("46733123453"),
        0,
        start_now(),
        &mut rng(11),
    );
    let mut h = Harness::new(flow, start_now());
    h.expect_send();
    h.respond_json(401, r#"{"error":"login_failed"}"#);
    assert_eq!(
        h.expect_done(),
        PaymentOutcome::Refused(Refusal::Unauthorized)
    );
    assert!(h.store.is_empty());

    let mut tokens = TokenCache::new();
    let flow = Payment::new(
        &cfg,
        &mut tokens,
        request("46733123453"),
        0,
        start_now(),
        &mut rng(12),
    );
    let mut h = Harness::new(flow, start_now());
    let outcome = h.until_done(|h, _sent| h.fail(TransportFailure::Connect));
    assert_eq!(outcome, PaymentOutcome::Refused(Refusal::Unreachable));
    assert!(
        h.store.is_empty(),
        "nothing was persisted: nothing was sent"
    );

    // Unreachable after the record was written but before CreatePayments
    // left: still provably not charged, and the record is removed.
    let mut tokens = TokenCache::new();
    let flow = Payment::new(
        &cfg,
        &mut tokens,
        request("46733123453"),
        0,
        start_now(),
        &mut rng(13),
    );
    let mut h = Harness::new(flow, start_now());
    expect_token(&mut h);
    let outcome = h.until_done(|h, _sent| h.fail(TransportFailure::BeforeWrite));
    assert_eq!(outcome, PaymentOutcome::Refused(Refusal::Unreachable));
    assert!(h.store.is_empty());
}

#[test]
fn invalid_requests_are_refused_before_anything_is_sent() {
    let cfg = config();
    let mut tokens = TokenCache::new();
    let mut req = request("46733123453");
    req.note = Some(String::try_from("Sipho's power").unwrap());
    let flow = Payment::new(&cfg, &mut tokens, req, 0, start_now(), &mut rng(14));
    let mut h = Harness::new(flow, start_now());
    assert!(matches!(
        h.expect_done(),
        PaymentOutcome::Refused(Refusal::Invalid(_))
    ));
    assert!(h.transcript == ["done"]);
}

#[test]
fn no_secret_reaches_the_debug_output_of_requests() {
    let cfg = config();
    let mut tokens = TokenCache::new();
    let flow = Payment::new(
        &cfg,
        &mut tokens,
        request("46733123453"),
        0,
        start_now(),
        &mut rng(15),
    );
    let mut h = Harness::new(flow, start_now());
    let token_req = h.expect_send();
    h.respond_json(200, TOKEN);
    let create = h.expect_send();
    let printed = format!("{:?} {:?} {:?}", token_req.head, create.head, cfg);
    for secret in ["5f1b4e8d2c7a", "a1b2c3d4e5f6", "eyJ0eXAi", "YzcyMDI1"] {
        assert!(!printed.contains(secret), "{secret} leaked: {printed}");
    }
}

#[test]
fn every_documented_reason_of_a_failed_payment_is_reported() {
    for reason in ErrorReason::KNOWN {
        let cfg = config();
        let mut tokens = TokenCache::new();
        let flow = Payment::new(
            &cfg,
            &mut tokens,
            request("46733123450"),
            0,
            start_now(),
            &mut rng(16),
        );
        let mut h = Harness::new(flow, start_now());
        expect_token(&mut h);
        expect_create(&mut h);
        h.respond(202, &[], b"");
        expect_status(&mut h);
        let reference = h.flow.reference_id();
        let extra = format!(
            r#","reason":{{"code":"{}","message":"m"}}"#,
            reason.as_str()
        );
        h.respond_json(200, &status(reference, "FAILED", &extra));
        assert_eq!(
            h.expect_done(),
            PaymentOutcome::Failed {
                reference_id: reference,
                reason: Some(reason.clone())
            }
        );
        assert!(h.store.is_empty());
    }
}
