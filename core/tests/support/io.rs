//! Deterministic stand-ins for the driver's traits: a scripted transport, a
//! virtual clock, and a `block_on` for futures that never wait on real I/O.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use till_core::driver::{Clock, Transport};
use till_core::flow::{Now, TransportFailure};
use till_core::http::{RequestHead, ResponseHead, Status};
use till_core::time::{Instant, UnixTime};

/// Run a future whose every await is ready at once (the test doubles
/// never block). Panics if it would wait.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("future did not complete");
}

pub type Reply = Result<(u16, Vec<(String, String)>, Vec<u8>), TransportFailure>;

/// Answers requests from a script, asserting each request line.
#[derive(Default)]
pub struct ScriptedTransport {
    script: VecDeque<(String, Reply)>,
    /// Every request sent: head and body.
    pub sent: Vec<(RequestHead, Vec<u8>)>,
}

impl ScriptedTransport {
    /// Expect `line` (`"GET /path"`, or a prefix of it) and answer `reply`.
    pub fn expect(&mut self, line: &str, reply: Reply) -> &mut Self {
        self.script.push_back((line.to_string(), reply));
        self
    }

    pub fn json(status: u16, body: &str) -> Reply {
        Ok((
            status,
            vec![("Content-Type".into(), "application/json".into())],
            body.as_bytes().to_vec(),
        ))
    }

    pub fn is_done(&self) -> bool {
        self.script.is_empty()
    }
}

impl Transport for ScriptedTransport {
    async fn exchange(
        &mut self,
        head: &RequestHead,
        body: &[u8],
        response: &mut [u8],
    ) -> Result<(ResponseHead, usize), TransportFailure> {
        let line = format!("{} {}", head.method(), head.path());
        assert!(
            head.api().is_some(),
            "{line} carries no API: a transport could not route it"
        );
        let (expected, reply) = self
            .script
            .pop_front()
            .unwrap_or_else(|| panic!("unexpected request {line}"));
        assert!(
            line.starts_with(&expected),
            "expected {expected}, got {line}"
        );
        self.sent.push((head.clone(), body.to_vec()));
        let (status, headers, bytes) = reply?;
        let mut head = ResponseHead::new(Status(status));
        for (name, value) in &headers {
            head.header(name, value);
        }
        let n = bytes.len().min(response.len());
        response[..n].copy_from_slice(&bytes[..n]);
        Ok((head, n))
    }
}

/// A clock that jumps to whatever instant it is asked to sleep until.
pub struct VirtualClock {
    pub now: Now,
}

impl VirtualClock {
    pub fn new(now: Now) -> Self {
        Self { now }
    }

    pub fn advance(&mut self, ms: u64) {
        self.now.instant = Instant::from_millis(self.now.instant.as_millis() + ms);
        self.now.unix = UnixTime::from_millis(self.now.unix.as_millis() + ms);
    }
}

impl Clock for VirtualClock {
    fn now(&mut self) -> Now {
        self.now
    }

    async fn sleep_until(&mut self, until: Instant) {
        if until > self.now.instant {
            let ms = until.as_millis() - self.now.instant.as_millis();
            self.advance(ms);
        }
    }
}

/// A reboot: the records the harness stored are written to a fresh
/// [`MemoryStore`] and restored into a new outbox.
pub fn reboot(
    stored: &std::collections::BTreeMap<till_core::id::Uuid, Vec<u8>>,
) -> (till_core::outbox::MemoryStore, till_core::outbox::Outbox) {
    use till_core::outbox::{self, MemoryStore, Outbox, Store, RECORD_MAX_LEN};
    let mut disk = MemoryStore::new();
    for (key, bytes) in stored {
        block_on(disk.put(*key, bytes)).unwrap();
    }
    let mut outbox = Outbox::new();
    let mut buf = vec![0u8; RECORD_MAX_LEN];
    let report = block_on(outbox::restore(
        &mut disk,
        &mut outbox,
        &mut buf,
        Instant::ZERO,
    ))
    .unwrap();
    assert_eq!(report.restored, stored.len());
    assert_eq!(report.unreadable, 0);
    (disk, outbox)
}

/// The driver's buffers, owned.
pub struct Bufs {
    body: Vec<u8>,
    response: Vec<u8>,
    record: Vec<u8>,
}

impl Bufs {
    pub fn new() -> Self {
        Self {
            body: vec![0; 4096],
            response: vec![0; till_core::json::MAX_BODY_LEN],
            record: vec![0; till_core::outbox::RECORD_MAX_LEN],
        }
    }

    pub fn get(&mut self) -> till_core::driver::Buffers<'_> {
        till_core::driver::Buffers {
            body: &mut self.body,
            response: &mut self.response,
            record: &mut self.record,
        }
    }
}
