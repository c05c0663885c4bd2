//! Whole-exchange deadlines in the driver: a server that never finishes
//! its answer holds a flow no longer than the transport's deadline, nor
//! past the flow step's deadline (though every exchange gets
//! `MIN_EXCHANGE_TIME`); what the transport says about how far it got
//! becomes the flow's lost answer. On a virtual clock, so the figures are
//! exact.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use support::fixtures::conductor_config;
use support::harness::{rng, start_now};
use support::io::{block_on, Bufs};
use support::samples::conductor;
use till_core::conductor::flow::{BillOutcome, BillPayment, Settle};
use till_core::conductor::wire::PaymentMethod;
use till_core::driver::{self, Clock, Transport, MIN_EXCHANGE_TIME};
use till_core::flow::{Money, Now, TransportFailure};
use till_core::http::{RequestHead, ResponseHead};
use till_core::outbox::MemoryStore;
use till_core::time::{Duration, Instant, UnixTime};

/// A virtual clock the transport can read.
#[derive(Clone)]
struct SharedClock(Rc<Cell<Now>>);

impl Clock for SharedClock {
    fn now(&mut self) -> Now {
        self.0.get()
    }

    async fn sleep_until(&mut self, until: Instant) {
        let now = self.0.get();
        if until > now.instant {
            let ms = until.as_millis() - now.instant.as_millis();
            self.0.set(Now {
                instant: until,
                unix: UnixTime::from_millis(now.unix.as_millis() + ms),
            });
        }
    }
}

/// A server that takes every request and never finishes an answer.
struct Silent {
    /// The transport's deadline (`None`: the default).
    deadline: Option<Duration>,
    /// How far the transport says it got when the driver gives up.
    got_to: TransportFailure,
    clock: SharedClock,
    /// When each exchange started and when the driver ended it.
    log: RefCell<Vec<(Instant, Option<Instant>)>>,
}

impl Transport for Silent {
    async fn exchange(
        &mut self,
        _: &RequestHead,
        _: &[u8],
        _: &mut [u8],
    ) -> Result<(ResponseHead, usize), TransportFailure> {
        self.log
            .borrow_mut()
            .push((self.clock.0.get().instant, None));
        core::future::pending().await
    }

    fn deadline(&self, _: &RequestHead) -> Duration {
        self.deadline.unwrap_or(driver::EXCHANGE_DEADLINE)
    }

    fn interrupted(&mut self) -> TransportFailure {
        if let Some(last) = self.log.borrow_mut().last_mut() {
            last.1 = Some(self.clock.0.get().instant);
        }
        self.got_to
    }
}

/// A primitive bill payment (30 s step deadline) against `transport`:
/// its outcome and each exchange's (start, end) in ms from the start.
fn pay(deadline: Option<Duration>, got_to: TransportFailure) -> (BillOutcome, Vec<(u64, u64)>) {
    let clock = SharedClock(Rc::new(Cell::new(start_now())));
    let cfg = conductor_config();
    let mut flow = BillPayment::primitive(
        &cfg,
        conductor::bill_request(),
        Settle::Complete(PaymentMethod::Cash),
        0,
        start_now(),
        &mut rng(1),
    );
    let mut transport = Silent {
        deadline,
        got_to,
        clock: clock.clone(),
        log: RefCell::new(Vec::new()),
    };
    let mut store = MemoryStore::new();
    let mut bufs = Bufs::new();
    let outcome = block_on(driver::run(
        &mut flow,
        &mut transport,
        &mut store,
        &mut clock.clone(),
        bufs.get(),
    ))
    .expect("an outcome");
    let t0 = start_now().instant.as_millis();
    let log = transport
        .log
        .into_inner()
        .into_iter()
        .map(|(start, end)| {
            let end = end.expect("every exchange was ended by the driver");
            (start.as_millis() - t0, end.as_millis() - t0)
        })
        .collect();
    (outcome, log)
}

#[test]
fn a_silent_server_holds_a_step_no_longer_than_its_deadline() {
    // Transport deadline 60 s, the step's 30 s: the create is cut at 30 s;
    // a repeat after that still gets MIN_EXCHANGE_TIME, no more.
    let (outcome, log) = pay(None, TransportFailure::Connect);
    assert!(!log.is_empty());
    let step = 30_000;
    for (start, end) in &log {
        let allowed = (step.max(start + MIN_EXCHANGE_TIME.as_millis())).min(start + 60_000);
        assert_eq!(*end, allowed, "exchange from {start} ms: {log:?}");
    }
    assert!(
        log.iter()
            .all(|(_, end)| *end <= step + MIN_EXCHANGE_TIME.as_millis()),
        "{log:?}"
    );
    // Never connected: nothing can have been created.
    assert!(
        matches!(outcome, BillOutcome::Refused { status: None, .. }),
        "{outcome:?}"
    );
    assert_eq!(outcome.money(), Money::NotCharged);
}

#[test]
fn a_short_transport_deadline_cuts_each_exchange() {
    let (outcome, log) = pay(Some(Duration::from_secs(2)), TransportFailure::AfterWrite);
    assert!(log.len() > 1, "repeated within the step: {log:?}");
    for (start, end) in &log {
        assert_eq!(end - start, 2_000, "{log:?}");
    }
    // The create may have arrived every time, but a primitive create moves
    // no money until it is completed: the payment stops, not charged.
    assert_eq!(outcome.money(), Money::NotCharged, "{outcome:?}");
    assert!(log.last().unwrap().1 <= 30_000 + 2_000);
}
