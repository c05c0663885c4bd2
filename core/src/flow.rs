//! The sans-IO contract every flow follows.
//!
//! A flow ("sell airtime", "pay a bill", "MoMo payment") is a state machine
//! that never reads a clock, an RNG, a socket or flash. The driver feeds it
//! time and answers, and acts on what it asks for:
//!
//! ```text
//! loop {
//!     match flow.poll(now, &mut body_buf)? {
//!         Output::Persist(op) => store.apply(op).await?,   // durable BEFORE the send it protects
//!         Output::Send(tx)    => {
//!             let input = transport.exchange(&tx.head, &body_buf[..tx.body_len], &mut resp_buf).await;
//!             flow.handle(input, now);
//!         }
//!         Output::Wait(until) => clock.sleep_until(until).await,
//!         Output::Done => return,                      // flow.outcome() holds it
//!     }
//! }
//! ```
//!
//! **Outcomes stay in the flow.** `Done` carries nothing: the outcome (an
//! Electrum sale's is 11 KB) is read where it was made, through
//! [`Flow::outcome`], or moved out once with [`Flow::take_outcome`]. A value
//! returned through every poll function it passes would be copied into
//! each one's stack frame.
//!
//! **Drain order.** After construction and after every `handle`, call
//! `poll` until it returns `Send`, `Wait` or `Done`; `Persist` outputs come
//! first and must be completed (written durably) before the next `poll`.
//! `poll` never returns a `Send` for a request that moves money unless the
//! `Persist` that can finish or undo it came before.
//!
//! [`crate::driver`] implements this loop once for firmware and host.

use core::fmt;

use crate::http::{RequestHead, ResponseHead};
use crate::outbox::StoreOp;
use crate::time::{Instant, UnixTime};

/// The two clocks a flow is given at every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Now {
    /// Monotonic time, for timeouts, backoff and polling.
    pub instant: Instant,
    /// Wall-clock time, for the `time` fields of messages. The terminal
    /// starts no sale before it knows the time (SNTP on the board).
    pub unix: UnixTime,
}

/// A request the flow wants sent: the head, and the length of the body it
/// encoded into the caller's buffer (`0` for GET and empty POSTs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Method, path and headers.
    pub head: RequestHead,
    /// Bytes of the body at the start of the caller's buffer.
    pub body_len: usize,
}

/// How an exchange failed without an HTTP answer, and whether the request
/// may have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TransportFailure {
    /// No connection (DNS, TCP connect, TLS handshake): nothing was sent.
    Connect,
    /// The connection failed before the request was fully written: the
    /// server cannot have acted on it.
    BeforeWrite,
    /// The request was written, but no complete answer came (timeout,
    /// reset, truncated response): the server may have acted on it.
    AfterWrite,
}

impl TransportFailure {
    /// Whether the server may have received (and acted on) the request.
    pub const fn may_have_reached(self) -> bool {
        matches!(self, Self::AfterWrite)
    }
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "could not connect",
            Self::BeforeWrite => "failed before the request was sent",
            Self::AfterWrite => "no answer after the request was sent",
        })
    }
}

/// What the transport brings back for one [`Transmit`].
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// An HTTP answer: head and body bytes (possibly not JSON at all).
    Response {
        /// Status and the headers the core reads.
        head: &'a ResponseHead,
        /// The body as received.
        body: &'a [u8],
    },
    /// No HTTP answer.
    Failed(TransportFailure),
}

/// What a flow asks of its driver (borrowing the flow for a record).
// No heap to box into: a request head (2.4 KB) is moved once and consumed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Output<'a> {
    /// Write (or remove) an outbox record durably, then poll again.
    Persist(StoreOp<'a>),
    /// Send this request, then `handle` what comes back.
    Send(Transmit),
    /// Nothing to do before this instant (backoff, polling interval).
    Wait(Instant),
    /// The flow is over: [`Flow::outcome`] says how.
    Done,
}

/// A flow could not produce its next output: a bug or a configuration
/// problem on this side, never caused by what the server sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FlowError {
    /// The body buffer is too small for the request.
    BufferTooSmall {
        /// Size of the buffer given.
        capacity: usize,
    },
    /// A path or header did not fit its capacity.
    Head(crate::http::HeadError),
    /// `poll` was called after `Done` and the outcome was taken, or the
    /// flow's state did not allow the step (a bug).
    Finished,
    /// `poll` was called while the flow waits for the answer to its `Send`.
    AwaitingInput,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { capacity } => {
                write!(f, "request body does not fit {capacity} bytes")
            }
            Self::Head(e) => write!(f, "request head: {e}"),
            Self::Finished => f.write_str("flow already finished"),
            Self::AwaitingInput => f.write_str("flow is waiting for the answer to its request"),
        }
    }
}

impl core::error::Error for FlowError {}

impl From<crate::http::HeadError> for FlowError {
    fn from(e: crate::http::HeadError) -> Self {
        Self::Head(e)
    }
}

impl From<crate::json::EncodeError> for FlowError {
    fn from(e: crate::json::EncodeError) -> Self {
        match e {
            crate::json::EncodeError::BufferTooSmall { capacity } => {
                Self::BufferTooSmall { capacity }
            }
            crate::json::EncodeError::Unsupported => Self::BufferTooSmall { capacity: 0 },
        }
    }
}

/// One sans-IO state machine.
pub trait Flow {
    /// What the flow reports when it is over.
    type Outcome;

    /// The next thing to do. Encodes a request body into `body` when it
    /// returns [`Output::Send`]. Once it returned [`Output::Done`] it
    /// keeps returning it while the outcome is in the flow.
    fn poll(&mut self, now: Now, body: &mut [u8]) -> Result<Output<'_>, FlowError>;

    /// The outcome, once `poll` returned [`Output::Done`] (and until it is
    /// taken).
    fn outcome(&self) -> Option<&Self::Outcome>;

    /// Move the outcome out of the flow (once).
    fn take_outcome(&mut self) -> Option<Self::Outcome>;

    /// Feed the answer (or failure) for the last `Send`.
    fn handle(&mut self, input: Input<'_>, now: Now);

    /// When the current step must be over (monotonic): the driver ends an
    /// exchange still unanswered then as a lost answer
    /// ([`crate::driver::drive`]). `None`: only the transport's deadline.
    fn deadline(&self) -> Option<Instant> {
        None
    }
}

/// The part of a [`Flow`] its driver needs, without the outcome's type.
/// [`crate::driver::drive`] takes a `&mut dyn Steps`: its loop (persist,
/// wait, send, feed the answer) is one function in the image, not one per
/// flow type (eight flow types on the board, each with its own copy of the
/// loop, its persists and its exchange).
pub trait Steps {
    /// [`Flow::poll`].
    fn poll_step(&mut self, now: Now, body: &mut [u8]) -> Result<Output<'_>, FlowError>;
    /// [`Flow::handle`].
    fn handle_step(&mut self, input: Input<'_>, now: Now);
    /// [`Flow::deadline`].
    fn step_deadline(&self) -> Option<Instant>;
}

impl<F: Flow> Steps for F {
    fn poll_step(&mut self, now: Now, body: &mut [u8]) -> Result<Output<'_>, FlowError> {
        self.poll(now, body)
    }
    fn handle_step(&mut self, input: Input<'_>, now: Now) {
        self.handle(input, now)
    }
    fn step_deadline(&self) -> Option<Instant> {
        self.deadline()
    }
}

/// What happened to the customer's money, in the words a shop owner uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Money {
    /// The provider took the payment: give the customer the receipt.
    Charged,
    /// Nothing was taken (declined, failed, or reversed): give the money
    /// back or do not take it.
    NotCharged,
    /// Not known yet: an advice in the outbox will settle it. Keep the
    /// tender until it does.
    Pending,
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Charged => "charged",
            Self::NotCharged => "not charged",
            Self::Pending => "pending",
        })
    }
}

/// Why a [`Call`] ended without a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError<E> {
    /// A final refusal: the status, and the error body when it could be read.
    Refused(crate::http::Status, Option<E>),
    /// No usable answer before the deadline.
    Unreachable,
}

/// Retry policy of [`Call`]: 500 ms doubling to 8 s.
pub const CALL_BACKOFF: crate::outbox::Backoff = crate::outbox::Backoff {
    base: crate::time::Duration::from_millis(500),
    max: crate::time::Duration::from_secs(8),
};

/// A request that moves no money (a lookup, a catalogue, an order, a
/// status): sent, and repeated until `deadline` while its API's outcome
/// table ([`crate::outcome::QueryTable`]) says the answer is not final; a
/// 2xx body is decoded as `T`, any other final answer's body as `E`.
pub struct Call<'a, R, T, E> {
    core: CallCore,
    request: Option<&'a R>,
    outcome: Option<Result<T, CallError<E>>>,
}

/// What a [`Call`] is, whatever it sends and reads: its request head, its
/// deadline and its retries. Its steps are written once, here, not once
/// per type of answer.
struct CallCore {
    head: RequestHead,
    deadline: Instant,
    state: CallState,
    retry: crate::outbox::Retry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum CallState {
    Sending { at: Instant },
    Awaiting,
    Final,
}

impl fmt::Display for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// How an answer ended a [`Call`], when it did.
enum CallEnd {
    /// Not ended: sent again later, or the value was read.
    Not,
    /// Refused with this status.
    Refused(crate::http::Status),
    /// No final answer before the deadline.
    Unreachable,
}

impl CallCore {
    fn set_state(&mut self, new: CallState) {
        if self.state != new {
            trace!("{}: {} => {}", self.head, self.state, new);
        }
        self.state = new;
    }

    fn again(&mut self, now: Now) -> CallEnd {
        let at = now.instant + self.retry.next_delay(CALL_BACKOFF);
        if at > self.deadline {
            self.set_state(CallState::Final);
            CallEnd::Unreachable
        } else {
            self.set_state(CallState::Sending { at });
            CallEnd::Not
        }
    }

    #[inline(never)]
    fn poll(
        &mut self,
        now: Now,
        body: &mut [u8],
        request: Option<&dyn crate::json::Encode>,
        finished: bool,
    ) -> Result<Output<'_>, FlowError> {
        match self.state {
            CallState::Sending { at } if now.instant < at => Ok(Output::Wait(at)),
            CallState::Sending { .. } => {
                let len = match request {
                    Some(request) => crate::json::encode(request, body)?,
                    None => 0,
                };
                self.set_state(CallState::Awaiting);
                Ok(Output::Send(Transmit {
                    head: self.head.clone(),
                    body_len: len,
                }))
            }
            CallState::Awaiting => Err(FlowError::AwaitingInput),
            CallState::Final if finished => Ok(Output::Done),
            CallState::Final => Err(FlowError::Finished),
        }
    }

    /// The step after an answer the API's table judged `verdict`
    /// (`read`: a 2xx body was decoded).
    #[inline(never)]
    fn judged(
        &mut self,
        verdict: crate::outcome::Verdict,
        read: bool,
        status: Result<crate::http::Status, TransportFailure>,
        now: Now,
    ) -> CallEnd {
        use crate::outcome::Verdict;
        match verdict {
            Verdict::Success if read => {
                self.set_state(CallState::Final);
                CallEnd::Not
            }
            Verdict::Success => self.again(now),
            Verdict::Refused => match status {
                Ok(status) => {
                    self.set_state(CallState::Final);
                    CallEnd::Refused(status)
                }
                Err(_) => self.again(now),
            },
            Verdict::Repeat | Verdict::Resolve | Verdict::Renew => {
                if let Ok(status) = status {
                    warn!("{}: not final ({}), again", self.head, status);
                }
                self.again(now)
            }
        }
    }
}

impl<'a, R, T, E> Call<'a, R, T, E>
where
    R: crate::json::Encode,
    T: crate::json::Decode,
    E: crate::json::Decode + crate::outcome::QueryTable,
{
    /// A call of `head` with an optional JSON body, retried until
    /// `now + patience`; `jitter` comes from the caller's RNG.
    pub fn new(
        head: RequestHead,
        request: Option<&'a R>,
        now: Now,
        patience: crate::time::Duration,
        jitter: u32,
    ) -> Self {
        Self {
            core: CallCore {
                head,
                deadline: now.instant + patience,
                state: CallState::Sending { at: now.instant },
                retry: crate::outbox::Retry::new(jitter),
            },
            request,
            outcome: None,
        }
    }

    /// The same call, sending no body of its own: for a caller that keeps
    /// the request and encodes it into each request the call sends (the
    /// request can then move on once the call is answered).
    pub fn without_request(self) -> Call<'static, R, T, E> {
        Call {
            core: self.core,
            request: None,
            outcome: self.outcome,
        }
    }
}

impl<R, T, E> Flow for Call<'_, R, T, E>
where
    R: crate::json::Encode,
    T: crate::json::Decode,
    E: crate::json::Decode + crate::outcome::QueryTable,
{
    type Outcome = Result<T, CallError<E>>;

    fn poll(&mut self, now: Now, body: &mut [u8]) -> Result<Output<'_>, FlowError> {
        let request = self.request.map(|r| r as &dyn crate::json::Encode);
        self.core.poll(now, body, request, self.outcome.is_some())
    }

    fn outcome(&self) -> Option<&Self::Outcome> {
        self.outcome.as_ref()
    }

    fn take_outcome(&mut self) -> Option<Self::Outcome> {
        self.outcome.take()
    }

    fn handle(&mut self, input: Input<'_>, now: Now) {
        if self.core.state != CallState::Awaiting {
            return;
        }
        use crate::outcome::{Answer, Verdict};
        // A 2xx body is decoded where the outcome is kept (an Electrum
        // purchase is 8 KB): kept if final, cleared otherwise.
        let answer = Answer::<(), E>::read_with(input, |body| {
            match self.outcome.insert(Ok(T::placeholder())) {
                Ok(value) => crate::json::decode_in(body, value).is_ok(),
                Err(_) => false,
            }
        });
        let verdict = E::query(&answer.reply());
        let read = answer.value.is_some();
        if !(matches!(verdict, Verdict::Success) && read) {
            self.outcome = None;
        }
        match self.core.judged(verdict, read, answer.status, now) {
            CallEnd::Not => {}
            CallEnd::Refused(status) => {
                self.outcome = Some(Err(CallError::Refused(status, answer.error)))
            }
            CallEnd::Unreachable => self.outcome = Some(Err(CallError::Unreachable)),
        }
    }
}
