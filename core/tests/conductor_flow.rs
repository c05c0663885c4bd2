//! Conductor flow scenarios on a virtual clock, against a scripted Conductor.

mod support;

use heapless::{String, Vec};
use support::harness::{rng, start_now, Harness, Sent};
use till_core::conductor::error::Code;
use till_core::conductor::flow::{
    self, AmountError, BillOutcome, BillPayment, OrderError, Settle, Step as BillStep,
};
use till_core::conductor::wire::*;
use till_core::flow::{CallError, Money as MoneyOutcome, TransportFailure};
use till_core::http::{HeaderName, Status};
use till_core::json;
use till_core::money::{Amount, Currency};
use till_core::outbox::{Advice, ConductorTarget};

use support::samples::conductor::{
    bill_request, error, partner_request, transaction, EXT_REF, TX_ID,
};

use support::fixtures::conductor_config as config;

fn assert_auth(sent: &Sent) {
    assert_eq!(
        sent.head.header(HeaderName::Authorization),
        Some("Bearer sk_test_RhKeWM4c1mB32CjwIdpfuqDJ")
    );
}

fn key(sent: &Sent) -> std::string::String {
    sent.head
        .header(HeaderName::IdempotencyKey)
        .expect("POST carries a key")
        .to_string()
}

#[test]
fn primitive_flow_enquiry_create_complete() {
    let cfg = config();
    // Account enquiry (no money).
    let enquiry = AccountEnquiryRequest {
        biller_code: String::try_from("za_dstv").unwrap(),
        identifier: CustomerIdentifier::Search(
            IdentifierValue::try_from_str("8604275423086").unwrap(),
        ),
        reference: Some(String::try_from("SUBS").unwrap()),
    };
    let call = flow::account_enquiry::<till_core::conductor::wire::AccountEnquiryResponse>(
        &cfg,
        &enquiry,
        start_now(),
        &mut rng(1),
    )
    .unwrap();
    let mut h = Harness::new(call, start_now());
    let sent = h.expect_send();
    assert_eq!(sent.line(), "POST /conductor/v1/accounts");
    assert_eq!(
        sent.head.header(HeaderName::RetailerId),
        Some("retailer_001")
    );
    assert_eq!(sent.json()["identifier"], "8604275423086");
    let body = String::<2048>::try_from(
        std::str::from_utf8(&support::data("conductor/account_enquiry_response.json")).unwrap(),
    )
    .unwrap();
    h.respond_json(200, &body);
    let account = h.expect_done().unwrap();
    let bills = account.bills.unwrap();
    let bill = &bills[0];
    let amount = Amount::from_minor(39550, Currency::ZAR);
    flow::validate_bill_amount(bill, amount).unwrap();

    // Create, then complete: the complete record is stored before it goes.
    let pay = BillPayment::primitive(
        &cfg,
        bill_request(),
        Settle::Complete(PaymentMethod::Cash),
        0,
        start_now(),
        &mut rng(2),
    );
    let mut h = Harness::new(pay, start_now());
    let create = h.expect_send();
    assert_eq!(create.line(), "POST /conductor/v1/transactions");
    assert_auth(&create);
    assert_eq!(
        create.head.header(HeaderName::RetailerId),
        Some("retailer_001")
    );
    assert!(create.stored_keys.is_empty(), "create moves no money");
    assert_eq!(create.json()["complete"], false);
    assert_eq!(
        create.json()["meta_data"]["pos_data"]["store_id"],
        "store_yJhb8jBgyh"
    );
    let create_key = key(&create);
    h.respond_json(201, &transaction("ACTIVE"));
    let complete = h.expect_send();
    assert_eq!(
        complete.line(),
        format!("POST /conductor/v1/transactions/{TX_ID}/complete")
    );
    assert_eq!(
        complete.stored_keys.len(),
        1,
        "complete record persisted first"
    );
    assert_ne!(
        key(&complete),
        create_key,
        "a new logical POST gets a new key"
    );
    assert_eq!(complete.json()["payment_method"], "CASH");
    let record = &h.records()[0];
    match &record.advice {
        Advice::ConductorComplete {
            target,
            idempotency_key,
            payment_method,
        } => {
            assert_eq!(
                target,
                &ConductorTarget::Transaction(String::try_from(TX_ID).unwrap())
            );
            assert_eq!(idempotency_key.to_string(), key(&complete));
            assert_eq!(payment_method, &PaymentMethod::Cash);
        }
        other => panic!("{other:?}"),
    }
    h.respond_json(200, &transaction("COMPLETED"));
    let outcome = h.expect_done();
    assert_eq!(outcome.money(), MoneyOutcome::Charged);
    assert!(matches!(outcome, BillOutcome::Completed(ref t) if t.id.as_str() == TX_ID));
    assert!(h.store.is_empty());
    assert_eq!(
        h.transcript,
        [
            "send POST /conductor/v1/transactions",
            "answer 201",
            &format!("persist put {}", record.key),
            &format!("send POST /conductor/v1/transactions/{TX_ID}/complete"),
            "answer 200",
            &format!("persist remove {}", record.key),
            "done",
        ]
    );
}

#[test]
fn primitive_flow_cancel_branch() {
    let cfg = config();
    let reason = String::try_from("Credit card declined payment.").unwrap();
    let pay = BillPayment::primitive(
        &cfg,
        bill_request(),
        Settle::Cancel(Some(reason)),
        0,
        start_now(),
        &mut rng(3),
    );
    let mut h = Harness::new(pay, start_now());
    h.expect_send();
    h.respond_json(201, &transaction("ACTIVE"));
    let cancel = h.expect_send();
    assert_eq!(
        cancel.line(),
        format!("POST /conductor/v1/transactions/{TX_ID}/cancel")
    );
    assert_eq!(cancel.json()["reason"], "Credit card declined payment.");
    assert!(matches!(
        h.records()[0].advice,
        Advice::ConductorCancel { .. }
    ));
    h.respond_json(200, &transaction("CANCELLED"));
    let outcome = h.expect_done();
    assert!(matches!(outcome, BillOutcome::Cancelled(_)));
    assert_eq!(outcome.money(), MoneyOutcome::NotCharged);
    assert!(h.store.is_empty());
}

#[test]
fn composite_flow_one_call_persists_before_the_money_moves() {
    let cfg = config();
    let pay = BillPayment::composite_one_call(
        &cfg,
        partner_request(),
        PaymentMethod::Cash,
        0,
        start_now(),
        &mut rng(4),
    );
    let mut h = Harness::new(pay, start_now());
    let create = h.expect_send();
    assert_eq!(create.line(), "POST /conductor/v1/partners/transactions");
    assert_eq!(create.stored_keys.len(), 1);
    assert_eq!(create.json()["complete"], true);
    assert_eq!(create.json()["payment_method"], "CASH");
    assert_eq!(
        create.json()["amount"],
        serde_json::json!({"value": "1200.00", "currency": "ZAR"})
    );
    assert!(matches!(
        h.records()[0].advice,
        Advice::ConductorPartnerStatus { .. }
    ));
    h.respond_json(201, &transaction("COMPLETED"));
    assert_eq!(h.expect_done().money(), MoneyOutcome::Charged);
    assert!(h.store.is_empty());
    assert_eq!(
        h.transcript
            .iter()
            .filter(|l| l.starts_with("send"))
            .count(),
        1
    );
}

#[test]
fn composite_flow_two_calls_by_external_reference() {
    let cfg = config();
    let pay = BillPayment::composite(
        &cfg,
        partner_request(),
        Settle::Complete(PaymentMethod::DebitCard),
        0,
        start_now(),
        &mut rng(5),
    );
    let mut h = Harness::new(pay, start_now());
    let create = h.expect_send();
    assert_eq!(create.json()["complete"], false);
    h.respond_json(201, &transaction("ACTIVE"));
    let complete = h.expect_send();
    assert_eq!(
        complete.line(),
        format!("POST /conductor/v1/partners/transactions/{EXT_REF}/complete")
    );
    h.respond_json(200, &transaction("COMPLETED"));
    assert_eq!(h.expect_done().money(), MoneyOutcome::Charged);
}

#[test]
fn conflict_then_success_repeats_with_the_same_key() {
    let cfg = config();
    let pay = BillPayment::primitive(
        &cfg,
        bill_request(),
        Settle::Complete(PaymentMethod::Cash),
        0,
        start_now(),
        &mut rng(6),
    );
    let mut h = Harness::new(pay, start_now());
    let first = h.expect_send();
    h.respond_json(409, &error("CONFLICT"));
    let second = h.expect_send();
    assert_eq!(key(&first), key(&second));
    assert_eq!(first.body, second.body);
    // The replay of the first answer counts as the answer.
    h.respond(
        201,
        &[
            ("Idempotent-Replayed", "true"),
            ("Content-Type", "application/json"),
        ],
        transaction("ACTIVE").as_bytes(),
    );
    let complete = h.expect_send();
    let complete_key = key(&complete);
    // Lost answer on complete: same key again.
    h.fail(TransportFailure::AfterWrite);
    let again = h.expect_send();
    assert_eq!(key(&again), complete_key);
    h.respond_json(200, &transaction("COMPLETED"));
    assert_eq!(h.expect_done().money(), MoneyOutcome::Charged);
}

#[test]
fn unprocessable_is_a_loud_client_bug_and_never_retried() {
    let cfg = config();
    let pay = BillPayment::primitive(
        &cfg,
        bill_request(),
        Settle::Complete(PaymentMethod::Cash),
        0,
        start_now(),
        &mut rng(7),
    );
    let mut h = Harness::new(pay, start_now());
    h.expect_send();
    h.respond_json(422, &error("UNPROCESSABLE_CONTENT"));
    let outcome = h.expect_done();
    assert_eq!(
        outcome,
        BillOutcome::Refused {
            step: BillStep::Create,
            status: Some(Status(422)),
            code: Some(Code::UnprocessableContent)
        }
    );
    assert_eq!(
        h.transcript
            .iter()
            .filter(|l| l.starts_with("send"))
            .count(),
        1
    );
}

#[test]
fn server_error_on_complete_is_resolved_by_reading_the_transaction() {
    let cfg = config();
    // Completed after all.
    let pay = BillPayment::primitive(
        &cfg,
        bill_request(),
        Settle::Complete(PaymentMethod::Cash),
        0,
        start_now(),
        &mut rng(8),
    );
    let mut h = Harness::new(pay, start_now());
    h.expect_send();
    h.respond_json(201, &transaction("ACTIVE"));
    h.expect_send();
    h.respond_json(500, &error("INTERNAL_SERVER_ERROR"));
    let check = h.expect_send();
    assert_eq!(
        check.line(),
        format!("GET /conductor/v1/transactions/{TX_ID}")
    );
    assert_eq!(check.head.header(HeaderName::IdempotencyKey), None);
    h.respond_json(200, &transaction("COMPLETED"));
    assert_eq!(h.expect_done().money(), MoneyOutcome::Charged);

    // Still ACTIVE: a new attempt under a new key, persisted first.
    let pay = BillPayment::primitive(
        &cfg,
        bill_request(),
        Settle::Complete(PaymentMethod::Cash),
        0,
        start_now(),
        &mut rng(9),
    );
    let mut h = Harness::new(pay, start_now());
    h.expect_send();
    h.respond_json(201, &transaction("ACTIVE"));
    let first = h.expect_send();
    h.respond_json(500, &error("INTERNAL_SERVER_ERROR"));
    h.expect_send();
    h.respond_json(200, &transaction("ACTIVE"));
    let second = h.expect_send();
    assert_ne!(
        key(&first),
        key(&second),
        "a 500 is stored under the old key"
    );
    match &h.records()[0].advice {
        Advice::ConductorComplete {
            idempotency_key, ..
        } => {
            assert_eq!(
                idempotency_key.to_string(),
                key(&second),
                "record rewritten before the send"
            );
        }
        other => panic!("{other:?}"),
    }
    h.respond_json(200, &transaction("COMPLETED"));
    assert_eq!(h.expect_done().money(), MoneyOutcome::Charged);
}

#[test]
fn already_completed_on_a_repeat_is_charged_already_cancelled_is_not() {
    let cfg = config();
    for (code, tx_status, money) in [
        ("ALREADY_COMPLETED", "COMPLETED", MoneyOutcome::Charged),
        ("ALREADY_CANCELLED", "CANCELLED", MoneyOutcome::NotCharged),
    ] {
        let pay = BillPayment::primitive(
            &cfg,
            bill_request(),
            Settle::Complete(PaymentMethod::Cash),
            0,
            start_now(),
            &mut rng(10),
        );
        let mut h = Harness::new(pay, start_now());
        h.expect_send();
        h.respond_json(201, &transaction("ACTIVE"));
        h.expect_send();
        h.respond_json(400, &error(code));
        let check = h.expect_send();
        assert!(check.line().starts_with("GET "));
        h.respond_json(200, &transaction(tx_status));
        assert_eq!(h.expect_done().money(), money, "{code}");
        assert!(h.store.is_empty());
    }
}

#[test]
fn unanswered_complete_is_pending_with_its_record_kept() {
    let cfg = config();
    let pay = BillPayment::primitive(
        &cfg,
        bill_request(),
        Settle::Complete(PaymentMethod::Cash),
        0,
        start_now(),
        &mut rng(11),
    );
    let mut h = Harness::new(pay, start_now());
    h.expect_send();
    h.respond_json(201, &transaction("ACTIVE"));
    let outcome = h.until_done(|h, _sent| h.fail(TransportFailure::AfterWrite));
    assert_eq!(outcome.money(), MoneyOutcome::Pending);
    let BillOutcome::Pending(record) = outcome else {
        panic!()
    };
    assert_eq!(h.records(), vec![record]);
}

#[test]
fn every_documented_error_code_on_create_is_not_charged() {
    let cfg = config();
    for code in Code::KNOWN.iter().filter(|c| **c != Code::Success) {
        let status = code.documented_status().unwrap();
        if status == Status::CONFLICT || status.0 >= 500 {
            continue; // retried; covered by their own scenarios
        }
        let pay = BillPayment::primitive(
            &cfg,
            bill_request(),
            Settle::Complete(PaymentMethod::Cash),
            0,
            start_now(),
            &mut rng(12),
        );
        let mut h = Harness::new(pay, start_now());
        h.expect_send();
        h.respond_json(status.0, &error(code.as_str()));
        let outcome = h.expect_done();
        assert_eq!(
            outcome,
            BillOutcome::Refused {
                step: BillStep::Create,
                status: Some(status),
                code: Some(code.clone())
            },
            "{code}"
        );
        assert!(h.store.is_empty());
    }
}

#[test]
fn transport_and_server_faults_on_every_post() {
    use TransportFailure::*;
    let cfg = config();
    type Fault = dyn Fn(&mut Harness<BillPayment<'_>>);
    let faults: [&Fault; 8] = [
        &|h| h.fail(Connect),
        &|h| h.fail(BeforeWrite),
        &|h| h.fail(AfterWrite),
        &|h| h.respond(503, &[], b""),
        &|h| h.respond(504, &[], b""),
        &|h| h.respond(200, &[], b"{\"status\":"),
        &|h| h.respond(200, &[], "[".repeat(10_000).as_bytes()),
        &|h| h.respond(200, &[], &vec![b' '; 40_000]),
    ];
    for (i, fault) in faults.iter().enumerate() {
        // On the create: repeated with the same key, then fine.
        let pay = BillPayment::primitive(
            &cfg,
            bill_request(),
            Settle::Complete(PaymentMethod::Cash),
            0,
            start_now(),
            &mut rng(13),
        );
        let mut h = Harness::new(pay, start_now());
        let first = h.expect_send();
        fault(&mut h);
        let again = h.expect_send();
        assert_eq!(key(&first), key(&again), "fault {i}");
        h.respond_json(201, &transaction("ACTIVE"));
        // On the complete: repeated with the same key, record kept
        // meanwhile; an unreadable 2xx (faults 5..) is settled by reading
        // the transaction (the replay would bring the same body).
        let complete = h.expect_send();
        fault(&mut h);
        let again = h.expect_send();
        if i >= 5 {
            assert!(
                again.line().starts_with("GET /conductor/v1/transactions/"),
                "fault {i}: {}",
                again.line()
            );
        } else {
            assert_eq!(key(&complete), key(&again), "fault {i}");
        }
        assert_eq!(again.stored_keys.len(), 1);
        h.respond_json(200, &transaction("COMPLETED"));
        assert_eq!(h.expect_done().money(), MoneyOutcome::Charged, "fault {i}");
        assert!(h.store.is_empty());
    }
}

#[test]
fn catalogue_flow_validates_the_order_before_sending() {
    let cfg = config();
    let call = flow::get_catalogs::<till_core::conductor::wire::CatalogResponse>(
        &cfg,
        Some("ng_entertainment_cabletv"),
        Some(1),
        start_now(),
        &mut rng(14),
    )
    .unwrap();
    let mut h = Harness::new(call, start_now());
    let sent = h.expect_send();
    assert_eq!(
        sent.line(),
        "GET /conductor/v1/catalogs?category_code=ng_entertainment_cabletv&depth=1"
    );
    h.respond_json(503, "");
    h.expect_send();
    let body =
        std::string::String::from_utf8(support::data("conductor/get_catalogs_response.json"))
            .unwrap();
    h.respond_json(200, &body);
    let catalog = h.expect_done().unwrap().data.unwrap();

    let order = |code: &str, quantity: u32| CreateOrderRequest {
        biller_code: String::try_from("ng_dstv").unwrap(),
        identifier: CustomerIdentifier::Keyed(
            IdentifierKind::SmartCardNumber,
            IdentifierValue::try_from_str("1234567890").unwrap(),
        ),
        products: Vec::from_slice(&[OrderProductItem {
            code: String::try_from(code).unwrap(),
            quantity,
        }])
        .unwrap(),
    };
    let too_many = order("ng_dstv_compe36", 13);
    assert!(matches!(
        flow::create_order(&cfg, &catalog, &too_many, start_now(), &mut rng(15)),
        Err(OrderError::Quantity { quantity: 13, .. })
    ));
    let unknown = order("ng_dstv_premium", 1);
    assert!(matches!(
        flow::create_order(&cfg, &catalog, &unknown, start_now(), &mut rng(15)),
        Err(OrderError::UnknownProduct(_))
    ));
    let good = order("ng_dstv_compe36", 2);
    let call = flow::create_order(&cfg, &catalog, &good, start_now(), &mut rng(15)).unwrap();
    let mut h = Harness::new(call, start_now());
    let sent = h.expect_send();
    assert_eq!(sent.line(), "POST /conductor/v1/orders");
    assert!(sent.head.header(HeaderName::IdempotencyKey).is_some());
    assert_eq!(
        sent.json()["identifier"],
        serde_json::json!({"smart_card_number": "1234567890"})
    );
    h.respond_json(400, &error("INVALID_PRODUCTS"));
    match h.expect_done() {
        Err(CallError::Refused(status, Some(e))) => {
            assert_eq!(status, Status(400));
            assert_eq!(e.status.code, Code::InvalidProducts);
        }
        other => panic!("{other:?}"),
    }

    // Then the order is paid as a transaction item, like a bill.
    let order_body =
        std::string::String::from_utf8(support::data("conductor/create_order_response.json"))
            .unwrap();
    let order: OrderResponse = json::decode(order_body.as_bytes()).unwrap();
    let order = order.data.unwrap();
    let mut request = bill_request();
    request.items = Vec::from_slice(&[Item {
        id: order.id.clone(),
        reference: None,
        description: None,
        amount: order.amount,
    }])
    .unwrap();
    let pay = BillPayment::primitive(
        &cfg,
        request,
        Settle::Complete(PaymentMethod::Cash),
        0,
        start_now(),
        &mut rng(16),
    );
    let mut h = Harness::new(pay, start_now());
    let create = h.expect_send();
    assert_eq!(create.json()["items"][0]["id"], "order_qwertyuiop");
    h.respond_json(201, &transaction("ACTIVE"));
    h.expect_send();
    h.respond_json(200, &transaction("COMPLETED"));
    assert_eq!(h.expect_done().money(), MoneyOutcome::Charged);
}

#[test]
fn bill_amounts_are_checked_against_the_rules() {
    let body = support::data("conductor/account_enquiry_response.json");
    let account: AccountEnquiryResponse = json::decode(&body).unwrap();
    let bill = &account.bills.unwrap()[0];
    let zar = |m| Amount::from_minor(m, Currency::ZAR);
    assert_eq!(
        flow::validate_bill_amount(bill, zar(1999)),
        Err(AmountError::OutsideRules)
    );
    assert_eq!(
        flow::validate_bill_amount(bill, zar(1_500_001)),
        Err(AmountError::OutsideRules)
    );
    assert_eq!(
        flow::validate_bill_amount(bill, zar(0)),
        Err(AmountError::OutsideRules)
    );
    assert!(flow::validate_bill_amount(bill, zar(2000)).is_ok());
    assert!(matches!(
        flow::validate_bill_amount(bill, Amount::from_minor(2000, Currency::NGN)),
        Err(AmountError::Money(_))
    ));
}

#[test]
fn primitive_flow_one_call_persists_the_request_and_repeats_it_under_its_key() {
    use support::io::{block_on, reboot, Bufs, ScriptedTransport, VirtualClock};
    use till_core::delivery::Context;
    use till_core::driver;

    let cfg = config();
    // Happy path: one request moves the money.
    let pay = BillPayment::primitive_one_call(
        &cfg,
        bill_request(),
        PaymentMethod::Cash,
        0,
        start_now(),
        &mut rng(17),
    );
    let mut h = Harness::new(pay, start_now());
    let create = h.expect_send();
    assert_eq!(create.line(), "POST /conductor/v1/transactions");
    assert_eq!(
        create.stored_keys.len(),
        1,
        "persisted before the money moves"
    );
    assert_eq!(create.json()["complete"], true);
    assert_eq!(create.json()["payment_method"], "CASH");
    h.respond_json(201, &transaction("COMPLETED"));
    assert_eq!(h.expect_done().money(), MoneyOutcome::Charged);
    assert!(h.store.is_empty());

    // Every answer lost: pending, and the outbox repeats the same request
    // under the same key after a reboot.
    let pay = BillPayment::primitive_one_call(
        &cfg,
        bill_request(),
        PaymentMethod::Cash,
        0,
        start_now(),
        &mut rng(18),
    );
    let mut h = Harness::new(pay, start_now());
    let first = h.expect_send();
    h.fail(TransportFailure::AfterWrite);
    let outcome = h.until_done(|h, _sent| h.fail(TransportFailure::AfterWrite));
    assert_eq!(outcome.money(), MoneyOutcome::Pending);
    let (mut disk, mut outbox) = reboot(&h.store);
    let mut transport = ScriptedTransport::default();
    transport.expect(
        "POST /conductor/v1/transactions",
        ScriptedTransport::json(200, &transaction("COMPLETED")),
    );
    let mut clock = VirtualClock::new(start_now());
    let mut bufs = Bufs::new();
    let report = block_on(driver::flush(
        &mut outbox,
        &mut disk,
        &mut transport,
        &mut clock,
        &mut Context {
            conductor: Some(&cfg),
            momo: None,
            electrum: None,
        },
        bufs.get(),
        &mut rng(19),
    ))
    .unwrap();
    assert_eq!(report.settled, 1);
    let (head, sent_body) = &transport.sent[0];
    assert_eq!(
        head.header(HeaderName::IdempotencyKey),
        Some(key(&first).as_str())
    );
    assert_eq!(head.header(HeaderName::RetailerId), Some("retailer_001"));
    assert_eq!(sent_body, &first.body, "byte for byte the same request");
    assert!(disk.is_empty());
}
