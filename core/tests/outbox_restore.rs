//! Power loss and restore: records written before a send survive a reboot,
//! are restored into the outbox, and are delivered with the same identity
//! until a final answer — through the real driver loop.

mod support;

use heapless::{String, Vec};
use support::fixtures::{conductor_config, momo_config, MOMO_TOKEN};
use support::harness::{rng, start_now, Harness};
use support::io::{block_on, reboot, Bufs, ScriptedTransport, VirtualClock};
use till_core::conductor::flow::{BillPayment, Settle};
use till_core::conductor::wire::*;
use till_core::delivery::Context;
use till_core::driver::{self, FlushReport};
use till_core::flow::Money as MoneyOutcome;
use till_core::http::HeaderName;
use till_core::id::ExternalReference;
use till_core::json;
use till_core::momo::flow::{Payment, PaymentRequest, TokenCache};
use till_core::momo::wire::CustomerReference;
use till_core::money::{Amount, Currency};
use till_core::outbox::{self, Advice, MemoryStore, Outbox, Record, Store, RECORD_MAX_LEN};
use till_core::time::Instant;

const TX_ID: &str = "e37d07ed-1899-418a-868c-1a1c72645223";

fn momo_request() -> PaymentRequest {
    PaymentRequest {
        amount: Amount::from_minor(2500, Currency::EUR),
        customer: CustomerReference::try_from_str("46733123453").unwrap(),
        provider: String::try_from("Electricity Inc.").unwrap(),
        external_id: None,
        note: None,
    }
}

#[test]
fn momo_power_loss_between_persist_and_send() {
    let cfg = momo_config();
    let mut tokens = TokenCache::new();
    let flow = Payment::new(
        &cfg,
        &mut tokens,
        momo_request(),
        0,
        start_now(),
        &mut rng(1),
    );
    let mut h = Harness::new(flow, start_now());
    h.expect_send(); // token
    h.respond_json(200, MOMO_TOKEN);
    let create = h.expect_send();
    // Power is lost here: CreatePayments may or may not have left.
    let reference = create
        .head
        .header(HeaderName::XReferenceId)
        .unwrap()
        .to_string();
    let (mut disk, mut outbox) = reboot(&h.store);
    assert_eq!(outbox.len(), 1);

    // After the reboot the terminal polls the reference; MoMo never got the
    // payment (404): the record carries the create, which goes again under
    // the same reference with the same bytes; MoMo accepts it (202). Not
    // final yet: kept, polled again later.
    let mut transport = ScriptedTransport::default();
    transport
        .expect(
            "POST /collection/token/",
            ScriptedTransport::json(200, MOMO_TOKEN),
        )
        .expect(
            &format!("GET /collection/v2_0/payment/{reference}"),
            ScriptedTransport::json(404, r#"{"code":"RESOURCE_NOT_FOUND"}"#),
        )
        .expect("POST /collection/v2_0/payment", Ok((202, vec![], vec![])));
    let mut clock = VirtualClock::new(start_now());
    let mut tokens = TokenCache::new();
    let mut bufs = Bufs::new();
    let mut flush = |transport: &mut ScriptedTransport,
                     disk: &mut MemoryStore,
                     outbox: &mut Outbox,
                     clock: &mut VirtualClock,
                     seed: u64| {
        block_on(driver::flush(
            outbox,
            disk,
            transport,
            clock,
            &mut Context {
                conductor: None,
                momo: Some((&cfg, &mut tokens)),
                electrum: None,
            },
            bufs.get(),
            &mut rng(seed),
        ))
        .unwrap()
    };
    let report = flush(&mut transport, &mut disk, &mut outbox, &mut clock, 2);
    assert_eq!(
        report,
        FlushReport {
            settled: 0,
            retried: 1,
            attention: 0,
        }
    );
    assert_eq!(disk.len(), 1, "not dropped");
    assert!(transport.is_done());
    let (again, again_body) = transport.sent.last().unwrap();
    assert_eq!(
        again.header(HeaderName::XReferenceId),
        Some(reference.as_str()),
        "the same reference: MoMo answers 409 if it has it"
    );
    assert_eq!(again_body, &create.body, "the same request");

    // The customer approves: SUCCESSFUL settles it, charged.
    clock.advance(60_000);
    transport.expect(
        "GET /collection/v2_0/payment/",
        ScriptedTransport::json(
            200,
            &format!(r#"{{"referenceId":"{reference}","status":"SUCCESSFUL","financialTransactionId":"1"}}"#),
        ),
    );
    let report = flush(&mut transport, &mut disk, &mut outbox, &mut clock, 3);
    assert_eq!(report.settled, 1);
    assert!(disk.is_empty() && outbox.is_empty());
}

/// A status record of the earlier format carries no create: it can only be
/// polled, and a 404 never settles it (MoMo may yet show the payment).
#[test]
fn a_momo_record_without_its_create_is_polled_until_final() {
    let cfg = momo_config();
    let reference = till_core::id::Uuid::from_bytes([2; 16]);
    let record = Record {
        key: reference,
        sale: till_core::id::Uuid::from_bytes([1; 16]),
        seq: 3,
        created: start_now().unix.to_timestamp(),
        advice: Advice::MomoStatus {
            reference_id: reference,
            create: None,
        },
        attention: None,
    };
    let mut disk = MemoryStore::new();
    let mut buf = vec![0u8; RECORD_MAX_LEN];
    let n = json::encode(&record, &mut buf).unwrap();
    block_on(disk.put(record.key, &buf[..n])).unwrap();
    let mut outbox = Outbox::new();
    block_on(outbox::restore(
        &mut disk,
        &mut outbox,
        &mut buf,
        start_now().instant,
    ))
    .unwrap();
    let mut clock = VirtualClock::new(start_now());
    let mut tokens = TokenCache::new();
    let mut bufs = Bufs::new();
    let mut transport = ScriptedTransport::default();
    for i in 0..50 {
        clock.advance(3_000_000);
        if tokens.valid_at(clock.now.instant).is_none() {
            transport.expect(
                "POST /collection/token/",
                ScriptedTransport::json(200, MOMO_TOKEN),
            );
        }
        transport.expect(
            "GET /collection/v2_0/payment/",
            ScriptedTransport::json(404, "{}"),
        );
        block_on(driver::flush(
            &mut outbox,
            &mut disk,
            &mut transport,
            &mut clock,
            &mut Context {
                conductor: None,
                momo: Some((&cfg, &mut tokens)),
                electrum: None,
            },
            bufs.get(),
            &mut rng(i),
        ))
        .unwrap();
    }
    assert_eq!(disk.len(), 1, "kept");
    assert!(transport.is_done(), "only polled, never created");
}

fn bill_request() -> CreateTransactionRequest {
    CreateTransactionRequest {
        external_reference: ExternalReference::parse("5e4b65ba-1e15-44c8-b11f-d0beda039246")
            .unwrap(),
        items: Vec::from_slice(&[Item {
            id: String::try_from("bill_41caa5ae-369b-4646-bf06-f2673bdd08fc").unwrap(),
            reference: None,
            description: None,
            amount: Some(Money::from(Amount::from_minor(39550, Currency::ZAR))),
        }])
        .unwrap(),
        amount: None,
        complete: None,
        payment_method: None,
        meta_data: None,
    }
}

fn transaction(status: &str) -> std::string::String {
    format!(r#"{{"status":{{"code":"SUCCESS"}},"data":{{"id":"{TX_ID}","status":"{status}"}}}}"#)
}

#[test]
fn conductor_complete_after_send_before_answer_is_repeated_with_the_same_key() {
    let cfg = conductor_config();
    let pay = BillPayment::primitive(
        &cfg,
        bill_request(),
        Settle::Complete(PaymentMethod::Cash),
        0,
        start_now(),
        &mut rng(5),
    );
    let mut h = Harness::new(pay, start_now());
    h.expect_send();
    h.respond_json(201, &transaction("ACTIVE"));
    let complete = h.expect_send();
    let key = complete
        .head
        .header(HeaderName::IdempotencyKey)
        .unwrap()
        .to_string();
    // Power lost after the complete was written, before its answer.
    let (mut disk, mut outbox) = reboot(&h.store);

    let mut transport = ScriptedTransport::default();
    transport
        .expect(
            &format!("POST /conductor/v1/transactions/{TX_ID}/complete"),
            ScriptedTransport::json(500, r#"{"status":{"code":"INTERNAL_SERVER_ERROR"}}"#),
        )
        .expect(
            &format!("GET /conductor/v1/transactions/{TX_ID}"),
            ScriptedTransport::json(200, &transaction("ACTIVE")),
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
        &mut rng(6),
    ))
    .unwrap();
    assert_eq!(
        report,
        FlushReport {
            settled: 0,
            retried: 1,
            attention: 0,
        }
    );
    let (head, body) = &transport.sent[0];
    assert_eq!(
        head.header(HeaderName::IdempotencyKey),
        Some(key.as_str()),
        "same identity after reboot"
    );
    assert_eq!(body, &complete.body);
    // The stored 500 burnt that key: the record now carries a new one.
    let mut buf = vec![0u8; RECORD_MAX_LEN];
    let sale = h.records()[0].key;
    let n = block_on(disk.get(sale, &mut buf)).unwrap().unwrap();
    let rewritten: Record = json::decode(&buf[..n]).unwrap();
    let Advice::ConductorComplete {
        idempotency_key, ..
    } = rewritten.advice
    else {
        panic!()
    };
    assert_ne!(idempotency_key.to_string(), key);

    // Next attempt: new key, completed.
    clock.advance(10_000);
    transport.expect(
        &format!("POST /conductor/v1/transactions/{TX_ID}/complete"),
        ScriptedTransport::json(200, &transaction("COMPLETED")),
    );
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
        &mut rng(7),
    ))
    .unwrap();
    assert_eq!(report.settled, 1);
    assert_eq!(
        transport.sent[2].0.header(HeaderName::IdempotencyKey),
        Some(idempotency_key.to_string().as_str())
    );
    assert!(disk.is_empty());
}

#[test]
fn records_of_an_unconfigured_api_and_unreadable_records_are_kept() {
    let mut disk = MemoryStore::new();
    let record = Record {
        key: till_core::id::Uuid::from_bytes([1; 16]),
        sale: till_core::id::Uuid::from_bytes([1; 16]),
        seq: 3,
        created: start_now().unix.to_timestamp(),
        advice: Advice::MomoStatus {
            reference_id: till_core::id::Uuid::from_bytes([2; 16]),
            create: None,
        },
        attention: None,
    };
    let mut buf = vec![0u8; RECORD_MAX_LEN];
    let n = json::encode(&record, &mut buf).unwrap();
    block_on(disk.put(record.key, &buf[..n])).unwrap();
    block_on(disk.put(till_core::id::Uuid::from_bytes([9; 16]), b"{garbage")).unwrap();
    let mut outbox = Outbox::new();
    let report = block_on(outbox::restore(
        &mut disk,
        &mut outbox,
        &mut buf,
        Instant::ZERO,
    ))
    .unwrap();
    assert_eq!((report.restored, report.unreadable), (1, 1));
    assert_eq!(outbox.next_seq(), 4);
    let mut transport = ScriptedTransport::default();
    let mut clock = VirtualClock::new(start_now());
    let mut bufs = Bufs::new();
    let report = block_on(driver::flush(
        &mut outbox,
        &mut disk,
        &mut transport,
        &mut clock,
        &mut Context {
            conductor: None,
            momo: None,
            electrum: None,
        },
        bufs.get(),
        &mut rng(8),
    ))
    .unwrap();
    assert_eq!(
        report,
        FlushReport {
            settled: 0,
            retried: 1,
            attention: 0,
        }
    );
    assert_eq!(disk.len(), 2, "nothing dropped");
    assert!(transport.sent.is_empty());
}

#[test]
fn the_driver_runs_a_whole_flow_with_persist_before_send() {
    // The async driver over the same doubles: persist completes before the
    // protected request; the outcome comes back through `run`.
    let cfg = momo_config();
    let mut tokens = TokenCache::new();
    let mut flow = Payment::new(
        &cfg,
        &mut tokens,
        momo_request(),
        0,
        start_now(),
        &mut rng(9),
    );
    let reference = flow.reference_id();
    let mut transport = ScriptedTransport::default();
    transport
        .expect(
            "POST /collection/token/",
            ScriptedTransport::json(200, MOMO_TOKEN),
        )
        .expect("POST /collection/v2_0/payment", Ok((202, vec![], vec![])))
        .expect(
            "GET /collection/v2_0/payment/",
            ScriptedTransport::json(
                200,
                &format!(r#"{{"referenceId":"{reference}","status":"SUCCESSFUL"}}"#),
            ),
        );
    let mut disk = RecordingStore::default();
    let mut clock = VirtualClock::new(start_now());
    let mut bufs = Bufs::new();
    let outcome = block_on(driver::run(
        &mut flow,
        &mut transport,
        &mut disk,
        &mut clock,
        bufs.get(),
    ))
    .unwrap();
    assert_eq!(outcome.money(), MoneyOutcome::Charged);
    assert_eq!(
        disk.log,
        vec![format!("put {reference}"), format!("remove {reference}")]
    );
    assert!(transport.is_done());
}

/// A store that logs what it was asked to do.
#[derive(Default)]
struct RecordingStore {
    inner: MemoryStore,
    log: std::vec::Vec<std::string::String>,
}

impl Store for RecordingStore {
    type Error = till_core::outbox::MemoryStoreError;
    async fn put(&mut self, key: till_core::id::Uuid, bytes: &[u8]) -> Result<(), Self::Error> {
        self.log.push(format!("put {key}"));
        self.inner.put(key, bytes).await
    }
    async fn get(
        &mut self,
        key: till_core::id::Uuid,
        buf: &mut [u8],
    ) -> Result<Option<usize>, Self::Error> {
        self.inner.get(key, buf).await
    }
    async fn remove(&mut self, key: till_core::id::Uuid) -> Result<(), Self::Error> {
        self.log.push(format!("remove {key}"));
        self.inner.remove(key).await
    }
    async fn for_each(
        &mut self,
        buf: &mut [u8],
        each: &mut dyn FnMut(till_core::id::Uuid, &[u8]),
    ) -> Result<(), Self::Error> {
        self.inner.for_each(buf, each).await
    }
}

#[test]
fn a_failed_persist_stops_the_protected_send() {
    struct FullStore;
    impl Store for FullStore {
        type Error = &'static str;
        async fn put(&mut self, _: till_core::id::Uuid, _: &[u8]) -> Result<(), Self::Error> {
            Err("flash full")
        }
        async fn get(
            &mut self,
            _: till_core::id::Uuid,
            _: &mut [u8],
        ) -> Result<Option<usize>, Self::Error> {
            Ok(None)
        }
        async fn remove(&mut self, _: till_core::id::Uuid) -> Result<(), Self::Error> {
            Ok(())
        }
        async fn for_each(
            &mut self,
            _: &mut [u8],
            _: &mut dyn FnMut(till_core::id::Uuid, &[u8]),
        ) -> Result<(), Self::Error> {
            Ok(())
        }
    }
    let cfg = momo_config();
    let mut tokens = TokenCache::new();
    let mut flow = Payment::new(
        &cfg,
        &mut tokens,
        momo_request(),
        0,
        start_now(),
        &mut rng(10),
    );
    let mut transport = ScriptedTransport::default();
    transport.expect(
        "POST /collection/token/",
        ScriptedTransport::json(200, MOMO_TOKEN),
    );
    let mut clock = VirtualClock::new(start_now());
    let mut bufs = Bufs::new();
    let result = block_on(driver::run(
        &mut flow,
        &mut transport,
        &mut FullStore,
        &mut clock,
        bufs.get(),
    ));
    assert_eq!(result.err(), Some(driver::DriveError::Store("flash full")));
    // Only the token call went out; CreatePayments did not.
    assert_eq!(transport.sent.len(), 1);
}
