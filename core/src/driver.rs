//! The one driver loop, shared by firmware and host.
//!
//! Firmware and host implement three small traits — [`Transport`] (one
//! HTTPS exchange), [`crate::outbox::Store`] (durable records) and [`Clock`]
//! (both clocks and a timer) — and call [`drive`] (or [`run`]). They never
//! re-implement a flow.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::flow::{Flow, FlowError, Input, Now, Output, Steps, TransportFailure};
use crate::http::{RequestHead, ResponseHead};
use crate::json;
use crate::outbox::{Record, RecordSource, Store, StoreOp};
use crate::time::{Duration, Instant};

/// One HTTP exchange over whatever connection the platform has.
///
/// A transport value is one *session*: for HTTPS, at most one TCP + TLS
/// connection, opened at the first exchange and kept alive for the next
/// ones, so a flow pays one handshake. When a session cannot carry the next
/// request (its connection closed, or the request is for another API's
/// host) it says so through [`Transport::accepts`], and the driver opens a
/// new session from the [`Connect`] it was given.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// Send `head` and `body`, read the answer's head and its body into
    /// `response`. Returns the head and the body length. An answer that
    /// does not fit `response` could not be read: it is
    /// [`TransportFailure::AfterWrite`] (the server may have acted).
    async fn exchange(
        &mut self,
        head: &RequestHead,
        body: &[u8],
        response: &mut [u8],
    ) -> Result<(ResponseHead, usize), TransportFailure>;

    /// Whether this session can carry `head`; `false` makes the driver
    /// drop it and send `head` on a fresh one. Stateless transports keep
    /// the default.
    fn accepts(&self, head: &RequestHead) -> bool {
        let _ = head;
        true
    }

    /// How long the whole exchange of `head` may take, connection and
    /// handshake included, until the last byte of the answer: the driver
    /// ends it then (see [`drive`]).
    fn deadline(&self, head: &RequestHead) -> Duration {
        let _ = head;
        EXCHANGE_DEADLINE
    }

    /// The driver ended an exchange at its deadline (its future was
    /// dropped): how far it got, and forget the connection, whose state is
    /// now unknown. Transports that cannot tell keep the default: the
    /// request may have reached the server.
    fn interrupted(&mut self) -> TransportFailure {
        TransportFailure::AfterWrite
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    async fn exchange(
        &mut self,
        head: &RequestHead,
        body: &[u8],
        response: &mut [u8],
    ) -> Result<(ResponseHead, usize), TransportFailure> {
        (**self).exchange(head, body, response).await
    }

    fn accepts(&self, head: &RequestHead) -> bool {
        (**self).accepts(head)
    }

    fn deadline(&self, head: &RequestHead) -> Duration {
        (**self).deadline(head)
    }

    fn interrupted(&mut self) -> TransportFailure {
        (**self).interrupted()
    }
}

/// The longest one exchange may take unless the transport says otherwise:
/// Electrum's "no response within the timeout (default 60 s)" is a lost
/// answer, and the same bound serves Conductor and MoMo.
pub const EXCHANGE_DEADLINE: Duration = Duration::from_secs(60);

/// The least time an exchange gets even when its flow's step is nearly
/// out of time: a handshake and a round trip on a slow mobile link. A
/// step may overrun its deadline by at most this.
pub const MIN_EXCHANGE_TIME: Duration = Duration::from_secs(5);

pin_project_lite::pin_project! {
    /// `work`, or `None` once `timer` fires first. The work is polled
    /// first, so an answer that is ready wins over a timer that is too. A
    /// struct, not an `async fn`, for the reason of [`outlined`]: the
    /// exchange's future is held once, not beside a copy of itself.
    struct Within<W, T> {
        #[pin]
        work: W,
        #[pin]
        timer: T,
    }
}

impl<W: Future, T: Future<Output = ()>> Future for Within<W, T> {
    type Output = Option<W::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.work.poll(cx) {
            return Poll::Ready(Some(out));
        }
        match this.timer.poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Opens transport sessions. Every [`Transport`] is its own `Connect`
/// (its session is itself); the HTTPS transport of the `net` feature opens
/// one connection per session over buffers it lends to that session.
pub trait Connect {
    /// One session, borrowing the connector.
    type Session<'s>: Transport
    where
        Self: 's;

    /// A new session; opening it does no I/O (the connection is made at
    /// its first exchange).
    fn session(&mut self) -> Self::Session<'_>;
}

impl<T: Transport> Connect for T {
    type Session<'s>
        = &'s mut T
    where
        Self: 's;

    fn session(&mut self) -> &mut T {
        self
    }
}

/// Both clocks, and a timer.
#[allow(async_fn_in_trait)]
pub trait Clock {
    /// Monotonic and wall-clock time now.
    fn now(&mut self) -> Now;

    /// Return at or after `until`.
    async fn sleep_until(&mut self, until: Instant);
}

/// The buffers one flow run uses; all owned by the caller.
pub struct Buffers<'a> {
    /// Request bodies are encoded here.
    pub body: &'a mut [u8],
    /// Response bodies are read here.
    pub response: &'a mut [u8],
    /// Records are encoded here before they are stored.
    pub record: &'a mut [u8],
}

pin_project_lite::pin_project! {
    /// A future polled by a function of its own that is never inlined, so
    /// the temporaries of its state machine live in that function's frame
    /// while it runs — not in the frame of every future that awaits it,
    /// where LLVM adds them to those of everything else inlined there (a
    /// console command's poll function reached 119 KB of stack that way).
    /// Made by [`outlined`].
    pub struct Outlined<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Outlined<F> {
    type Output = F::Output;

    #[inline(never)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().future.poll(cx)
    }
}

/// `future`, polled through [`Outlined`]. (A struct, not an `async fn`: an
/// async fn would keep its argument beside its pinned copy.)
pub fn outlined<F: Future>(future: F) -> Outlined<F> {
    Outlined { future }
}

/// Why a run stopped without an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveError<E> {
    /// A record could not be stored. The request it protects was NOT sent.
    Store(E),
    /// A record could not be encoded (a buffer too small: a bug).
    Record(json::EncodeError),
    /// The flow could not build its next request (a bug or bad config).
    Flow(FlowError),
}

impl<E: fmt::Display> fmt::Display for DriveError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(e) => write!(f, "store failed ({e}); the protected request was not sent"),
            Self::Record(e) => write!(f, "record could not be encoded: {e}"),
            Self::Flow(e) => write!(f, "flow: {e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for DriveError<E> {}

/// A store operation with its record already encoded: what is left of a
/// [`StoreOp`] (kilobytes) once its bytes are in the record buffer.
enum Write {
    /// Store the first `len` bytes of the record buffer under `key`.
    Put { key: crate::id::Uuid, len: usize },
    /// Remove `key`.
    Remove(crate::id::Uuid),
}

impl Write {
    fn encode<E>(op: StoreOp<'_>, record_buf: &mut [u8]) -> Result<Self, DriveError<E>> {
        match op {
            StoreOp::Put(record) => Self::put(record, record_buf),
            StoreOp::Build(source) => Self::build(source, record_buf),
            StoreOp::Remove(key) => Ok(Self::Remove(key)),
        }
    }

    fn put<E>(record: &Record, record_buf: &mut [u8]) -> Result<Self, DriveError<E>> {
        Ok(Self::Put {
            key: record.key,
            len: json::encode(record, record_buf).map_err(DriveError::Record)?,
        })
    }

    /// The built record lives in this frame only, while it is encoded.
    #[inline(never)]
    fn build<E>(source: &dyn RecordSource, record_buf: &mut [u8]) -> Result<Self, DriveError<E>> {
        let record = source
            .record()
            .ok_or(DriveError::Flow(FlowError::Finished))?;
        Self::put(&record, record_buf)
    }

    async fn apply<S: Store>(
        self,
        store: &mut S,
        record_buf: &[u8],
    ) -> Result<(), DriveError<S::Error>> {
        match self {
            Self::Put { key, len } => {
                let bytes = record_buf.get(..len).unwrap_or_default();
                store.put(key, bytes).await.map_err(DriveError::Store)
            }
            Self::Remove(key) => store.remove(key).await.map_err(DriveError::Store),
        }
    }
}

/// Drive `flow` to its outcome and take it: [`drive`], then
/// [`Flow::take_outcome`]. For outcomes of a few hundred bytes; larger ones
/// are read in place after [`drive`] (a value returned through a poll
/// function is a temporary in its stack frame).
pub async fn run<F, T, S, C>(
    flow: &mut F,
    connect: &mut T,
    store: &mut S,
    clock: &mut C,
    bufs: Buffers<'_>,
) -> Result<F::Outcome, DriveError<S::Error>>
where
    F: Flow,
    T: Connect,
    S: Store,
    C: Clock,
{
    drive(flow, connect, store, clock, bufs).await?;
    flow.take_outcome()
        .ok_or(DriveError::Flow(FlowError::Finished))
}

/// Flows an operation runs one after another, each built from the
/// outcome of the one before (an account enquiry, then the payment of the
/// bill it found): [`drive_chain`] sends them all on the same sessions, so
/// the operation costs one TLS handshake, not one per flow.
pub trait Chain {
    /// The flow being driven.
    fn flow(&mut self) -> &mut dyn Steps;
    /// The flow is done: build the next one (`true`), or end the chain
    /// (`false`; what stopped it stays in the chain for its caller). `rng`
    /// is the terminal's, for the next flow's ids and keys.
    fn next(&mut self, now: Now, rng: &mut dyn rand_core::RngCore) -> bool;
}

/// A chain of one flow.
struct One<'f>(&'f mut dyn Steps);

impl Chain for One<'_> {
    fn flow(&mut self) -> &mut dyn Steps {
        &mut *self.0
    }
    fn next(&mut self, _: Now, _: &mut dyn rand_core::RngCore) -> bool {
        false
    }
}

/// Drive `flow` until it is done: the loop of the module docs of
/// [`crate::flow`]. Every `Persist` is completed before the next `poll`.
/// Requests go out on sessions of `connect`: one session for as long as it
/// [accepts](Transport::accepts) the next request, then a fresh one. The
/// outcome stays in the flow ([`Flow::outcome`]).
pub async fn drive<T, S, C>(
    flow: &mut dyn Steps,
    connect: &mut T,
    store: &mut S,
    clock: &mut C,
    bufs: Buffers<'_>,
) -> Result<(), DriveError<S::Error>>
where
    T: Connect,
    S: Store,
    C: Clock,
{
    drive_chain(&mut One(flow), connect, store, clock, bufs, None).await
}

/// Drive every flow of `chain` in turn, as [`drive`] drives one: a flow
/// that is done hands over to the next on the same session. `rng` builds
/// the next flows (a chain of one needs none).
pub async fn drive_chain<T, S, C>(
    chain: &mut dyn Chain,
    connect: &mut T,
    store: &mut S,
    clock: &mut C,
    bufs: Buffers<'_>,
    mut rng: Option<&mut dyn rand_core::RngCore>,
) -> Result<(), DriveError<S::Error>>
where
    T: Connect,
    S: Store,
    C: Clock,
{
    // The request to send next: the flow's latest `Send`, kept when a
    // session refuses it so that the next session sends it first.
    let mut pending: Option<crate::flow::Transmit> = None;
    loop {
        let mut session = connect.session();
        loop {
            if pending.is_none() {
                // Persists and waits happen in `advance`, whose future is
                // never alive beside the exchange's: the store record and
                // the flow's output stay out of this future's resident part.
                let next = advance(
                    chain.flow(),
                    store,
                    clock,
                    bufs.body,
                    bufs.record,
                    &mut pending,
                );
                if outlined(next).await? {
                    let now = clock.now();
                    let more = match rng.as_deref_mut() {
                        Some(rng) => chain.next(now, rng),
                        None => false,
                    };
                    if more {
                        continue;
                    }
                    return Ok(());
                }
            }
            let Some(tx) = pending.as_ref() else {
                continue;
            };
            if !session.accepts(&tx.head) {
                break;
            }
            let body = bufs.body.get(..tx.body_len).unwrap_or_default();
            // The whole exchange by the transport's deadline, and by the
            // flow step's (but never less than MIN_EXCHANGE_TIME).
            let start = clock.now().instant;
            let mut until = start + session.deadline(&tx.head);
            if let Some(step) = chain.flow().step_deadline() {
                until = until.min(step.max(start + MIN_EXCHANGE_TIME));
            }
            let result = outlined(Within {
                work: session.exchange(&tx.head, body, bufs.response),
                timer: clock.sleep_until(until),
            })
            .await;
            if result.is_none() {
                warn!("driver: {} unanswered at its deadline", tx.head);
            }
            pending = None;
            let now = clock.now();
            match result {
                Some(Ok((head, len))) => {
                    let body = bufs.response.get(..len).unwrap_or_default();
                    chain
                        .flow()
                        .handle_step(Input::Response { head: &head, body }, now);
                }
                Some(Err(failure)) => chain.flow().handle_step(Input::Failed(failure), now),
                None => {
                    let failure = session.interrupted();
                    chain.flow().handle_step(Input::Failed(failure), now);
                    // Its connection is gone: the next request gets a new
                    // session.
                    break;
                }
            }
        }
    }
}

/// Poll `flow`, completing every `Persist` and `Wait` it asks for, until it
/// is done (`true`) or has a request to send (into `pending`, `false`
/// returned). The request is stored, not returned: a `Transmit` moved
/// through the future's `Poll` is copied word by word (80 KiB of code).
async fn advance<S, C>(
    flow: &mut dyn Steps,
    store: &mut S,
    clock: &mut C,
    body: &mut [u8],
    record: &mut [u8],
    pending: &mut Option<crate::flow::Transmit>,
) -> Result<bool, DriveError<S::Error>>
where
    S: Store,
    C: Clock,
{
    loop {
        let now = clock.now();
        // The flow's output is taken apart before anything is awaited: it
        // can hold a record (kilobytes), which must not stay alive in this
        // future across an await. A record is encoded into the record
        // buffer first; only its key is kept.
        let next = match flow.poll_step(now, body).map_err(DriveError::Flow)? {
            Output::Done => return Ok(true),
            Output::Send(tx) => {
                *pending = Some(tx);
                return Ok(false);
            }
            Output::Persist(op) => Next::Write(Write::encode(op, record)?),
            Output::Wait(until) => Next::Wait(until),
        };
        match next {
            Next::Write(write) => write.apply(store, record).await?,
            Next::Wait(until) => clock.sleep_until(until).await,
        }
    }
}

/// What [`advance`] awaits next: small, without the flow's output.
enum Next {
    Write(Write),
    Wait(Instant),
}

/// What one [`flush`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FlushReport {
    /// Records settled (final answer, removed).
    pub settled: usize,
    /// Attempts that were not final (rescheduled with backoff).
    pub retried: usize,
    /// Records set aside for an operator (final, but nothing to settle).
    pub attention: usize,
}

/// Deliver every outbox entry that is due now, one attempt each, in order.
/// Settled entries are removed from store and index; the others are
/// rescheduled with [`crate::outbox::Backoff::ADVICE`] and jitter from
/// `rng`. Returns when nothing more is due; [`Outbox::next_wakeup`] says
/// when to call again.
///
/// [`Outbox::next_wakeup`]: crate::outbox::Outbox::next_wakeup
pub async fn flush<T, S, C>(
    outbox: &mut crate::outbox::Outbox,
    store: &mut S,
    connect: &mut T,
    clock: &mut C,
    providers: &mut crate::delivery::Context<'_>,
    bufs: Buffers<'_>,
    rng: &mut impl rand_core::RngCore,
) -> Result<FlushReport, DriveError<S::Error>>
where
    T: Connect,
    S: Store,
    C: Clock,
{
    use crate::delivery::{Context, Delivered, Delivery};
    use crate::outbox::{Backoff, Record};

    let mut report = FlushReport::default();
    let mut last: Option<crate::id::Uuid> = None;
    while let Some(entry) = outbox.due(clock.now().instant) {
        if last == Some(entry.key) {
            // Rescheduled into the past by a stalled clock: wait for the
            // next call rather than spin.
            break;
        }
        last = Some(entry.key);
        let Some(len) = store
            .get(entry.key, bufs.record)
            .await
            .map_err(DriveError::Store)?
        else {
            // Removed already (a flow settled it): forget it here too.
            let _ = outbox.settle(entry.key);
            continue;
        };
        let record = match json::decode::<Record>(bufs.record.get(..len).unwrap_or_default()) {
            Ok(record) => record,
            Err(e) => {
                error!(
                    "outbox {}: unreadable record ({}); kept in the store",
                    entry.key, e
                );
                let _ = outbox.settle(entry.key);
                continue;
            }
        };
        let context = Context {
            conductor: providers.conductor,
            momo: providers
                .momo
                .as_mut()
                .map(|(config, tokens)| (*config, &mut **tokens)),
            electrum: providers.electrum,
        };
        let mut delivery = Delivery::new(record, context);
        let outcome = run(
            &mut delivery,
            connect,
            store,
            clock,
            Buffers {
                body: &mut *bufs.body,
                response: &mut *bufs.response,
                record: &mut *bufs.record,
            },
        )
        .await?;
        match outcome {
            Delivered::Settled(money) => {
                info!("outbox {}: settled, {}", entry.key, money);
                let _ = outbox.settle(entry.key);
                report.settled += 1;
            }
            Delivered::NeedsAttention(attention) => {
                warn!("outbox {}: {}", entry.key, attention);
                let _ = outbox.set_aside(entry.key);
                report.attention += 1;
            }
            Delivered::Retry | Delivered::Unconfigured => {
                let now = clock.now().instant;
                let _ = outbox.retry(entry.key, now, Backoff::ADVICE, rng.next_u32());
                report.retried += 1;
            }
        }
    }
    Ok(report)
}
