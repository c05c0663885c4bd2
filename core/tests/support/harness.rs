//! A deterministic harness for sans-IO flows: a virtual clock, an in-memory
//! store that holds records as the bytes the driver would write, and a
//! transcript of every output, so a test scripts the provider's answers and
//! asserts exactly what the flow did.

use std::collections::BTreeMap;

use till_core::flow::{Flow, Input, Now, Output, TransportFailure};
use till_core::http::{RequestHead, ResponseHead, Status};
use till_core::id::Uuid;
use till_core::json;
use till_core::outbox::{Record, StoreOp, RECORD_MAX_LEN};
use till_core::time::{Instant, UnixTime};

/// 2026-11-23T10:00:00Z: the wall clock at the start of every scenario.
pub const START_UNIX_MS: u64 = 1_795_428_000_000;

/// A request the flow sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub head: RequestHead,
    pub body: Vec<u8>,
    /// Keys in the store when it was sent: proves persist-before-send.
    pub stored_keys: Vec<Uuid>,
}

impl Sent {
    pub fn line(&self) -> String {
        format!("{} {}", self.head.method(), self.head.path())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

#[allow(clippy::large_enum_variant)]
pub enum Step<O> {
    Send(Sent),
    Done(O),
}

pub struct Harness<F: Flow> {
    pub flow: F,
    pub now: Now,
    /// Records by key, kept as encoded bytes like a real store.
    pub store: BTreeMap<Uuid, Vec<u8>>,
    /// One line per output: `persist put <key>`, `send POST /path`, …
    pub transcript: Vec<String>,
    body: Vec<u8>,
}

pub fn start_now() -> Now {
    Now {
        instant: Instant::from_millis(0),
        unix: UnixTime::from_millis(START_UNIX_MS),
    }
}

impl<F: Flow> Harness<F> {
    pub fn new(flow: F, now: Now) -> Self {
        Self {
            flow,
            now,
            store: BTreeMap::new(),
            transcript: Vec::new(),
            body: vec![0u8; json::MAX_BODY_LEN],
        }
    }

    /// Start from a store that already holds records (after a reboot).
    pub fn with_store(mut self, store: BTreeMap<Uuid, Vec<u8>>) -> Self {
        self.store = store;
        self
    }

    pub fn advance(&mut self, ms: u64) {
        self.now.instant = Instant::from_millis(self.now.instant.as_millis() + ms);
        self.now.unix = UnixTime::from_millis(self.now.unix.as_millis() + ms);
    }

    /// Poll until the flow sends or finishes; persists are applied and waits
    /// advance the virtual clock.
    #[track_caller]
    pub fn step(&mut self) -> Step<F::Outcome> {
        for _ in 0..10_000 {
            match self.flow.poll(self.now, &mut self.body).expect("poll") {
                Output::Persist(op @ (StoreOp::Put(_) | StoreOp::Build(_))) => {
                    let record = match op {
                        StoreOp::Put(record) => record.clone(),
                        StoreOp::Build(source) => source.record().expect("a record to build"),
                        StoreOp::Remove(_) => unreachable!(),
                    };
                    let mut buf = vec![0u8; RECORD_MAX_LEN];
                    let n = json::encode(&record, &mut buf).expect("record fits RECORD_MAX_LEN");
                    buf.truncate(n);
                    // The record must read back exactly as written.
                    let back: Record = json::decode(&buf).expect("record decodes");
                    assert_eq!(back, record, "record does not round-trip");
                    self.transcript.push(format!("persist put {}", record.key));
                    self.store.insert(record.key, buf);
                }
                Output::Persist(StoreOp::Remove(key)) => {
                    self.transcript.push(format!("persist remove {key}"));
                    self.store.remove(&key);
                }
                Output::Wait(until) => {
                    assert!(until > self.now.instant, "Wait must be in the future");
                    let ms = until.as_millis() - self.now.instant.as_millis();
                    self.transcript.push(format!("wait {ms}ms"));
                    self.advance(ms);
                }
                Output::Send(tx) => {
                    let sent = Sent {
                        body: self.body[..tx.body_len].to_vec(),
                        head: tx.head,
                        stored_keys: self.store.keys().copied().collect(),
                    };
                    self.transcript.push(format!("send {}", sent.line()));
                    return Step::Send(sent);
                }
                Output::Done => {
                    self.transcript.push("done".to_string());
                    let outcome = self
                        .flow
                        .take_outcome()
                        .expect("Done leaves the outcome in the flow");
                    return Step::Done(outcome);
                }
            }
        }
        panic!(
            "flow did not send or finish in 10,000 polls: {:?}",
            self.transcript
        );
    }

    #[track_caller]
    pub fn expect_send(&mut self) -> Sent {
        match self.step() {
            Step::Send(sent) => sent,
            Step::Done(_) => panic!("expected a request, flow finished: {:?}", self.transcript),
        }
    }

    #[track_caller]
    pub fn expect_done(&mut self) -> F::Outcome {
        match self.step() {
            Step::Done(outcome) => outcome,
            Step::Send(sent) => panic!(
                "expected the outcome, flow sent {}: {:?}",
                sent.line(),
                self.transcript
            ),
        }
    }

    pub fn respond(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        let mut head = ResponseHead::new(Status(status));
        for (name, value) in headers {
            head.header(name, value);
        }
        self.transcript.push(format!("answer {status}"));
        self.flow
            .handle(Input::Response { head: &head, body }, self.now);
    }

    pub fn respond_json(&mut self, status: u16, body: &str) {
        self.respond(
            status,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
    }

    pub fn fail(&mut self, failure: TransportFailure) {
        self.transcript.push(format!("fail {failure:?}"));
        self.flow.handle(Input::Failed(failure), self.now);
    }

    /// The records in the store, decoded.
    pub fn records(&self) -> Vec<Record> {
        self.store
            .values()
            .map(|b| json::decode(b).expect("stored record decodes"))
            .collect()
    }
}

/// A fixed-seed RNG so ids are the same on every run.
pub fn rng(seed: u64) -> rand::rngs::StdRng {
    use rand::SeedableRng;
    rand::rngs::StdRng::seed_from_u64(seed)
}

impl<F: Flow> Harness<F> {
    /// Answer every request with `react` until the flow finishes.
    #[track_caller]
    pub fn until_done(&mut self, mut react: impl FnMut(&mut Self, Sent)) -> F::Outcome {
        loop {
            match self.step() {
                Step::Send(sent) => react(self, sent),
                Step::Done(outcome) => return outcome,
            }
        }
    }
}
