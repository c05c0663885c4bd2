//! Conductor bill payment flows: the primitive flows (transactions API) and
//! the composite flows (partner API).
//!
//! ```text
//! primitive / composite 2:  Creating → PersistingSettle → Settling → Removing → Final
//! primitive 1 / composite 1 (one call): PersistingCreate → Creating → Removing → Final
//! ```
//!
//! Idempotency, client side: every logical POST gets a fresh key (drawn
//! from the caller's RNG at construction) and every repeat of it reuses the
//! key. A replayed answer (`Idempotent-Replayed: true`) is treated as the
//! original. 409 (the first request is still in flight) → back off and
//! repeat with the same key. 422 (the key was used with other parameters)
//! is a bug on this side: logged as an error and reported, never retried.
//! A lost answer → repeat with the same key. Conductor stores a 500 under
//! the key, so after a 500 on complete or cancel the flow asks for the
//! transaction instead, and starts a new attempt (new key) only if it is
//! still ACTIVE.
//!
//! What each answer means is [`super::outcome`]'s to say; a complete
//! answered with a transaction still `IN_PROCESSING` is read again until
//! it is final.
//!
//! Money moves on complete (and on a partner create with `complete: true`):
//! the record that can finish it is persisted before that request leaves,
//! and removed only on a final answer.

use core::fmt;

use heapless::String;
use rand_core::RngCore;

use super::error::{Code, ErrorResponse};
use super::outcome::{self, Op, Standing};
use super::path;
use super::wire::{
    CancelTransactionRequest, CompleteTransactionRequest, CreateTransactionRequest, MetaData,
    PartnerCreateTransactionRequest, PaymentMethod, Transaction, TransactionResponse, ID_CAP,
    REASON_CAP,
};
use crate::flow::{Flow, FlowError, Input, Money, Now, Output, Transmit};
use crate::fmt::Secret;
use crate::http::{Api, HeadError, HeaderName, RequestHead, Status};
use crate::id::{ExternalReference, IdempotencyKey, Uuid};
use crate::json;
use crate::outbox::{Advice, Backoff, ConductorTarget, Record, RecordSource, Retry, StoreOp};
use crate::outcome::{Answer as OutcomeAnswer, Attempt, Verdict};
use crate::time::{Duration, Instant};

/// Longest secret key kept (`sk_test_…`): Conductor's are about 30 bytes.
pub const SECRET_KEY_CAP: usize = 128;
/// Longest `Retailer-Id` (ids issued by Moment).
pub const RETAILER_ID_CAP: usize = 64;

/// Repeats of one POST: 500 ms doubling to 8 s. A 409 means the first
/// request is still running on Conductor's side: seconds, not minutes.
pub const RETRY_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(500),
    max: Duration::from_secs(8),
};

/// How the terminal talks to Conductor.
#[derive(Debug, Clone)]
pub struct Config {
    /// `Authorization: Bearer sk_…`.
    pub secret_key: Secret<String<SECRET_KEY_CAP>>,
    /// `Retailer-Id` where the document requires it.
    pub retailer_id: String<RETAILER_ID_CAP>,
    /// `meta_data` sent with every create, complete and cancel.
    pub meta_data: Option<MetaData>,
    /// How long one step may keep retrying before the flow reports.
    pub deadline: Duration,
}

impl Config {
    /// Bearer; for a POST also the JSON body type and its idempotency key.
    pub(crate) fn head(
        &self,
        mut head: RequestHead,
        post_key: Option<&Uuid>,
    ) -> Result<RequestHead, HeadError> {
        head.for_api(Api::Conductor).bearer(&self.secret_key)?;
        if let Some(key) = post_key {
            head.json_body()?;
            head.set(
                HeaderName::IdempotencyKey,
                IdempotencyKey::from_uuid(key).as_str(),
            )?;
        }
        Ok(head)
    }

    /// A create (`path` of the transactions or partner API) under `key`,
    /// with the `Retailer-Id` the document requires there.
    pub(crate) fn create_transmit(
        &self,
        path: RequestHead,
        key: &Uuid,
        body_len: usize,
    ) -> Result<Transmit, FlowError> {
        let mut head = self.head(path, Some(key))?;
        head.set(HeaderName::RetailerId, &self.retailer_id)?;
        Ok(Transmit { head, body_len })
    }

    /// Complete or cancel `target` under `key`, the body encoded into `body`.
    pub(crate) fn settle_transmit(
        &self,
        target: &ConductorTarget,
        settle: &Settle,
        key: &Uuid,
        body: &mut [u8],
    ) -> Result<Transmit, FlowError> {
        let (path, body_len) = match settle {
            Settle::Complete(method) => {
                let len = json::encode(
                    &CompleteTransactionRequest {
                        payment_method: method.clone(),
                        meta_data: self.meta_data.clone(),
                    },
                    body,
                )?;
                let path = match target {
                    ConductorTarget::Transaction(id) => path::complete_transaction(id)?,
                    ConductorTarget::Partner(r) => path::partner_complete_transaction(r.as_str())?,
                };
                (path, len)
            }
            Settle::Cancel(reason) => {
                let len = json::encode(
                    &CancelTransactionRequest {
                        reason: reason.clone(),
                        meta_data: self.meta_data.clone(),
                    },
                    body,
                )?;
                let path = match target {
                    ConductorTarget::Transaction(id) => path::cancel_transaction(id)?,
                    ConductorTarget::Partner(r) => path::partner_cancel_transaction(r.as_str())?,
                };
                (path, len)
            }
        };
        Ok(Transmit {
            head: self.head(path, Some(key))?,
            body_len,
        })
    }

    /// `GET` the transaction (by id, or by external reference).
    pub(crate) fn transaction_head(
        &self,
        target: &ConductorTarget,
    ) -> Result<RequestHead, HeadError> {
        let path = match target {
            ConductorTarget::Transaction(id) => path::get_transaction(id)?,
            ConductorTarget::Partner(r) => path::partner_get_transaction(r.as_str())?,
        };
        self.head(path, None)
    }
}

/// How the sale ends once the transaction exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// The tender was collected: complete with this method.
    Complete(PaymentMethod),
    /// The tender failed or the customer walked away: cancel.
    Cancel(Option<String<REASON_CAP>>),
}

/// Which step of the flow an outcome speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Step {
    /// Creating the transaction.
    Create,
    /// Completing it.
    Complete,
    /// Cancelling it.
    Cancel,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Create => "create",
            Self::Complete => "complete",
            Self::Cancel => "cancel",
        })
    }
}

/// How a bill payment ended.
#[derive(Debug, Clone, PartialEq)]
pub enum BillOutcome {
    /// Completed: the biller is paid.
    Completed(Transaction),
    /// Cancelled: nothing was paid.
    Cancelled(Transaction),
    /// Refused or failed at a step: nothing was paid.
    Refused {
        /// Where.
        step: Step,
        /// HTTP status of the refusal (`None`: never reached Conductor).
        status: Option<Status>,
        /// Conductor's code, when the body had one.
        code: Option<Code>,
    },
    /// Not final by the deadline: the record in the outbox finishes it.
    Pending(Record),
}

impl BillOutcome {
    /// What happened to the customer's money.
    pub fn money(&self) -> Money {
        match self {
            Self::Completed(_) => Money::Charged,
            Self::Cancelled(_) | Self::Refused { .. } => Money::NotCharged,
            Self::Pending(_) => Money::Pending,
        }
    }
}

/// What to create.
// No heap to box into; one value per flow.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Create {
    Transaction(CreateTransactionRequest),
    Partner(PartnerCreateTransactionRequest),
}

impl Create {
    /// `complete` and `payment_method` for a one-call create (or their
    /// absence), and the configured `meta_data` unless the caller set one.
    fn prepare(&mut self, one_call: Option<PaymentMethod>, meta: Option<&MetaData>) {
        let (complete, method, meta_data) = match self {
            Self::Transaction(r) => (&mut r.complete, &mut r.payment_method, &mut r.meta_data),
            Self::Partner(r) => (&mut r.complete, &mut r.payment_method, &mut r.meta_data),
        };
        *complete = Some(one_call.is_some());
        *method = one_call;
        if meta_data.is_none() {
            *meta_data = meta.cloned();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum State {
    /// Composite flow 1: persist the status record before the create that
    /// moves money.
    PersistingCreate,
    Creating {
        at: Instant,
    },
    AwaitingCreate,
    PersistingSettle,
    Settling {
        at: Instant,
    },
    AwaitingSettle,
    /// After a 500 on settle: ask for the transaction.
    Checking {
        at: Instant,
    },
    AwaitingCheck,
    Removing,
    Final,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PersistingCreate => "PersistingCreate",
            Self::Creating { .. } => "Creating",
            Self::AwaitingCreate => "AwaitingCreate",
            Self::PersistingSettle => "PersistingSettle",
            Self::Settling { .. } => "Settling",
            Self::AwaitingSettle => "AwaitingSettle",
            Self::Checking { .. } => "Checking",
            Self::AwaitingCheck => "AwaitingCheck",
            Self::Removing => "Removing",
            Self::Final => "Final",
        })
    }
}

/// What one answer to an idempotent POST means, by the outcome table.
// No heap to box into; consumed at once.
#[allow(clippy::large_enum_variant)]
enum Answer {
    /// 2xx with a readable transaction.
    Done(Transaction),
    /// Repeat with the same key after a backoff.
    Repeat,
    /// Not final, and a repeat cannot tell (a stored 500, a transaction
    /// processing or already settled): read the transaction.
    Unknown(Status, Option<Code>),
    /// A final refusal.
    Refused(Status, Option<Code>),
}

/// Ask the outcome table about `input` to `op`; after an attempt that may
/// have reached Conductor, the next one is a repeat.
fn classify(op: Op, attempt: &mut Attempt, input: Input<'_>) -> Answer {
    if let Input::Response { head, .. } = input {
        if head.idempotent_replayed {
            debug!("conductor: replayed answer {}", head.status);
        }
    }
    let mut answer = OutcomeAnswer::<TransactionResponse, ErrorResponse>::read(input);
    if answer.value.as_ref().is_some_and(|r| r.data.is_none()) {
        answer.value = None;
    }
    let verdict = outcome::verdict(op, *attempt, &answer.reply());
    if !matches!(input, Input::Failed(f) if !f.may_have_reached()) {
        *attempt = Attempt::Repeat;
    }
    match verdict {
        Verdict::Success => match answer.value.and_then(|r| r.data) {
            Some(transaction) => Answer::Done(transaction),
            None => Answer::Repeat,
        },
        Verdict::Refused => {
            let code = answer.error.map(|e| e.status.code);
            if code == Some(Code::UnprocessableContent) {
                error!(
                    "conductor: 422 — idempotency key reused with other parameters (a bug in till)"
                );
            }
            Answer::Refused(answer.status.unwrap_or(Status(0)), code)
        }
        Verdict::Repeat | Verdict::Renew => Answer::Repeat,
        Verdict::Resolve => Answer::Unknown(
            answer.status.unwrap_or(Status(0)),
            answer.error.map(|e| e.status.code),
        ),
    }
}

/// One bill payment through the transactions or the partner API.
pub struct BillPayment<'a> {
    config: &'a Config,
    create: Create,
    settle: Option<Settle>,
    sale: Uuid,
    seq: u32,
    create_key: Uuid,
    settle_key: Uuid,
    transaction_id: Option<String<ID_CAP>>,
    state: State,
    /// When the sale started: the `created` of every record it writes, so
    /// a record reported in an outcome is the one in the store.
    created: crate::time::Timestamp,
    step_started: Instant,
    persisted: bool,
    /// Whether the current step's request may already have reached
    /// Conductor under its key.
    attempt: Attempt,
    retry: Retry,
    outcome: Option<BillOutcome>,
}

impl<'a> BillPayment<'a> {
    fn new(
        config: &'a Config,
        mut create: Create,
        settle: Option<Settle>,
        one_call: Option<PaymentMethod>,
        seq: u32,
        now: Now,
        rng: &mut impl RngCore,
    ) -> Self {
        create.prepare(one_call, config.meta_data.as_ref());
        let state = match (&create, &settle) {
            (_, None) => State::PersistingCreate,
            _ => State::Creating { at: now.instant },
        };
        Self {
            config,
            create,
            settle,
            sale: Uuid::new_v4(rng),
            seq,
            create_key: Uuid::new_v4(rng),
            settle_key: Uuid::new_v4(rng),
            transaction_id: None,
            state,
            created: now.unix.to_timestamp(),
            step_started: now.instant,
            persisted: false,
            attempt: Attempt::First,
            retry: Retry::new(rng.next_u32()),
            outcome: None,
        }
    }

    /// Primitive flow 2: create the transaction for `request.items`, then
    /// complete or cancel it. `request.complete` is forced off; the money
    /// moves on the complete, which is persisted first.
    pub fn primitive(
        config: &'a Config,
        request: CreateTransactionRequest,
        settle: Settle,
        seq: u32,
        now: Now,
        rng: &mut impl RngCore,
    ) -> Self {
        let create = Create::Transaction(request);
        Self::new(config, create, Some(settle), None, seq, now, rng)
    }

    /// Primitive flow 1: one create with `complete: true` and the payment
    /// method. It moves money, so the request and its key are persisted
    /// first: a lost answer is settled by repeating it under the same key.
    pub fn primitive_one_call(
        config: &'a Config,
        request: CreateTransactionRequest,
        method: PaymentMethod,
        seq: u32,
        now: Now,
        rng: &mut impl RngCore,
    ) -> Self {
        let create = Create::Transaction(request);
        Self::new(config, create, None, Some(method), seq, now, rng)
    }

    /// Composite flow 2: partner create, then complete or cancel by
    /// external reference.
    pub fn composite(
        config: &'a Config,
        request: PartnerCreateTransactionRequest,
        settle: Settle,
        seq: u32,
        now: Now,
        rng: &mut impl RngCore,
    ) -> Self {
        let create = Create::Partner(request);
        Self::new(config, create, Some(settle), None, seq, now, rng)
    }

    /// Composite flow 1: one partner create with `complete: true` and the
    /// payment method. It moves money, so a record that can learn its
    /// outcome (by external reference) is persisted first.
    pub fn composite_one_call(
        config: &'a Config,
        request: PartnerCreateTransactionRequest,
        method: PaymentMethod,
        seq: u32,
        now: Now,
        rng: &mut impl RngCore,
    ) -> Self {
        let create = Create::Partner(request);
        Self::new(config, create, None, Some(method), seq, now, rng)
    }

    /// The idempotency key of the create.
    pub fn create_key(&self) -> IdempotencyKey {
        IdempotencyKey::from_uuid(&self.create_key)
    }

    fn set_state(&mut self, new: State) {
        if self.state != new {
            debug!("conductor bill: {} => {}", self.state, new);
        }
        self.state = new;
    }

    fn external_reference(&self) -> &ExternalReference {
        match &self.create {
            Create::Transaction(r) => &r.external_reference,
            Create::Partner(r) => &r.external_reference,
        }
    }

    fn target(&self) -> Option<ConductorTarget> {
        match &self.create {
            Create::Partner(r) => Some(ConductorTarget::Partner(r.external_reference.clone())),
            Create::Transaction(_) => self
                .transaction_id
                .clone()
                .map(ConductorTarget::Transaction),
        }
    }

    fn settle_record(&self) -> Option<Record> {
        let target = self.target()?;
        let advice = match self.settle.as_ref()? {
            Settle::Complete(method) => Advice::ConductorComplete {
                target,
                idempotency_key: self.settle_key,
                payment_method: method.clone(),
            },
            Settle::Cancel(reason) => Advice::ConductorCancel {
                target,
                idempotency_key: self.settle_key,
                reason: reason.clone(),
            },
        };
        Some(self.record(advice))
    }

    fn record(&self, advice: Advice) -> Record {
        Record {
            key: self.sale,
            sale: self.sale,
            seq: self.seq,
            created: self.created,
            advice,
            attention: None,
        }
    }

    fn step(&self) -> Step {
        match (&self.state, &self.settle) {
            (State::Creating { .. } | State::AwaitingCreate | State::PersistingCreate, _) => {
                Step::Create
            }
            (_, Some(Settle::Cancel(_))) => Step::Cancel,
            _ => Step::Complete,
        }
    }

    fn finish(&mut self, outcome: BillOutcome) {
        info!(
            "conductor bill {}: {}",
            self.external_reference(),
            outcome.money()
        );
        let settled = !matches!(outcome, BillOutcome::Pending(_));
        self.outcome = Some(outcome);
        self.set_state(if settled && self.persisted {
            State::Removing
        } else {
            State::Final
        });
    }

    /// Repeat the current step later, or report at the deadline.
    fn repeat(&mut self, now: Now, again: impl FnOnce(Instant) -> State, at_deadline: BillOutcome) {
        let at = now.instant + self.retry.next_delay(RETRY_BACKOFF);
        if at > self.step_started + self.config.deadline {
            self.finish(at_deadline);
        } else {
            self.set_state(again(at));
        }
    }

    /// The record of a one-call create: for the partner API, a status
    /// check by external reference; for the transactions API (no lookup by
    /// reference), the request itself, repeated under its key.
    fn create_record(&self) -> Record {
        match &self.create {
            Create::Partner(r) => self.record(Advice::ConductorPartnerStatus {
                external_reference: r.external_reference.clone(),
            }),
            Create::Transaction(r) => self.record(Advice::ConductorCreate {
                idempotency_key: self.create_key,
                request: r.clone(),
            }),
        }
    }

    fn pending(&self) -> BillOutcome {
        match RecordSource::record(self) {
            Some(record) => BillOutcome::Pending(record),
            // Nothing was persisted, so nothing can have moved money.
            None => BillOutcome::Refused {
                step: self.step(),
                status: None,
                code: None,
            },
        }
    }

    fn start_step(&mut self, state: State, now: Now) {
        self.retry.reset();
        self.attempt = Attempt::First;
        self.step_started = now.instant;
        self.set_state(state);
    }

    fn on_create(&mut self, input: Input<'_>, now: Now) {
        let one_call = self.settle.is_none();
        match classify(Op::Create, &mut self.attempt, input) {
            Answer::Done(transaction) => {
                if one_call {
                    if self.transaction_id.is_none() {
                        self.transaction_id = Some(transaction.id.clone());
                    }
                    self.on_transaction(transaction, now);
                } else {
                    self.transaction_id = Some(transaction.id.clone());
                    self.start_step(State::PersistingSettle, now);
                }
            }
            Answer::Repeat => {
                let deadline = if one_call {
                    self.pending()
                } else {
                    // The transaction may exist, ACTIVE; without a complete
                    // it never takes money.
                    BillOutcome::Refused {
                        step: Step::Create,
                        status: None,
                        code: None,
                    }
                };
                self.repeat(now, |at| State::Creating { at }, deadline);
            }
            Answer::Unknown(..) if one_call => {
                let outcome = self.pending();
                self.finish(outcome);
            }
            // The transaction may exist, ACTIVE: without a complete it
            // never takes money.
            Answer::Unknown(status, code) => self.finish(BillOutcome::Refused {
                step: Step::Create,
                status: Some(status),
                code,
            }),
            Answer::Refused(status, code) => self.finish(BillOutcome::Refused {
                step: Step::Create,
                status: Some(status),
                code,
            }),
        }
    }

    fn on_settle(&mut self, input: Input<'_>, now: Now) {
        match classify(Op::Settle, &mut self.attempt, input) {
            Answer::Done(transaction) => self.on_transaction(transaction, now),
            Answer::Repeat => {
                let deadline = self.pending();
                self.repeat(now, |at| State::Settling { at }, deadline);
            }
            Answer::Unknown(..) => {
                debug!("conductor: settle not final, checking the transaction");
                self.set_state(State::Checking { at: now.instant });
            }
            Answer::Refused(status, code) => {
                let step = self.step();
                self.finish(BillOutcome::Refused {
                    step,
                    status: Some(status),
                    code,
                });
            }
        }
    }

    fn on_check(&mut self, input: Input<'_>, now: Now) {
        let answer = OutcomeAnswer::<TransactionResponse, ErrorResponse>::read(input);
        let transaction = match outcome::verdict(Op::Read, Attempt::Repeat, &answer.reply()) {
            Verdict::Success => answer.value.and_then(|r| r.data),
            _ => None,
        };
        match transaction {
            Some(transaction) => self.on_transaction(transaction, now),
            None => {
                let deadline = self.pending();
                self.repeat(now, |at| State::Checking { at }, deadline);
            }
        }
    }

    /// The transaction as a settle or a check returned it.
    fn on_transaction(&mut self, transaction: Transaction, now: Now) {
        match outcome::standing(&transaction.status) {
            Standing::Paid => self.finish(BillOutcome::Completed(transaction)),
            Standing::Unpaid => self.finish(BillOutcome::Cancelled(transaction)),
            Standing::Processing | Standing::Open if self.settle.is_none() => {
                // A one-call create not final yet: read it again.
                let deadline = self.pending();
                self.repeat(now, |at| State::Checking { at }, deadline);
            }
            Standing::Processing => {
                // Not final yet: read it again after a backoff.
                let deadline = self.pending();
                self.repeat(now, |at| State::Checking { at }, deadline);
            }
            Standing::Open if self.state == State::AwaitingCheck => {
                // Still ACTIVE: the attempt did nothing visible. A new
                // attempt gets a new key; the record is rewritten with it
                // before it goes out.
                self.settle_key = self.settle_key.derive(self.retry.jitter());
                self.start_step(State::PersistingSettle, now);
            }
            Standing::Open => self.set_state(State::Checking { at: now.instant }),
        }
    }

    fn send(&mut self, head: RequestHead, body_len: usize, next: State) -> Output<'static> {
        self.set_state(next);
        Output::Send(Transmit { head, body_len })
    }

    fn settle_request(&self, body: &mut [u8]) -> Result<Transmit, FlowError> {
        match (self.target(), &self.settle) {
            (Some(target), Some(settle)) => {
                self.config
                    .settle_transmit(&target, settle, &self.settle_key, body)
            }
            _ => Err(FlowError::Finished),
        }
    }

    fn check_request(&self) -> Result<RequestHead, FlowError> {
        let target = self.target().ok_or(FlowError::Finished)?;
        Ok(self.config.transaction_head(&target)?)
    }
}

/// The record that protects the step: the create's until the settlement
/// is chosen, then the settlement's.
impl RecordSource for BillPayment<'_> {
    fn record(&self) -> Option<Record> {
        match &self.settle {
            None => Some(self.create_record()),
            Some(_) => self.settle_record(),
        }
    }
}

impl Flow for BillPayment<'_> {
    type Outcome = BillOutcome;

    fn outcome(&self) -> Option<&BillOutcome> {
        self.outcome.as_ref()
    }

    fn take_outcome(&mut self) -> Option<BillOutcome> {
        self.outcome.take()
    }

    fn deadline(&self) -> Option<Instant> {
        Some(self.step_started + self.config.deadline)
    }

    #[inline(never)]
    fn poll(&mut self, now: Now, body: &mut [u8]) -> Result<Output<'_>, FlowError> {
        match self.state {
            State::PersistingCreate => {
                self.persisted = true;
                self.start_step(State::Creating { at: now.instant }, now);
                // The create record: `settle` is not chosen yet.
                Ok(Output::Persist(StoreOp::Build(self)))
            }
            State::Creating { at } => {
                if now.instant < at {
                    return Ok(Output::Wait(at));
                }
                let (path, len) = match &self.create {
                    Create::Transaction(r) => (path::create_transaction()?, json::encode(r, body)?),
                    Create::Partner(r) => {
                        (path::partner_create_transaction()?, json::encode(r, body)?)
                    }
                };
                let tx = self.config.create_transmit(path, &self.create_key, len)?;
                Ok(self.send(tx.head, tx.body_len, State::AwaitingCreate))
            }
            State::PersistingSettle => {
                if self.settle.is_none() || self.target().is_none() {
                    return Err(FlowError::Finished);
                }
                self.persisted = true;
                self.set_state(State::Settling { at: now.instant });
                // The settle record (`settle` is chosen).
                Ok(Output::Persist(StoreOp::Build(self)))
            }
            State::Settling { at } => {
                if now.instant < at {
                    return Ok(Output::Wait(at));
                }
                let tx = self.settle_request(body)?;
                Ok(self.send(tx.head, tx.body_len, State::AwaitingSettle))
            }
            State::Checking { at } => {
                if now.instant < at {
                    return Ok(Output::Wait(at));
                }
                let head = self.check_request()?;
                Ok(self.send(head, 0, State::AwaitingCheck))
            }
            State::Removing => {
                self.set_state(State::Final);
                Ok(Output::Persist(StoreOp::Remove(self.sale)))
            }
            State::Final => self
                .outcome
                .as_ref()
                .map(|_| Output::Done)
                .ok_or(FlowError::Finished),
            State::AwaitingCreate | State::AwaitingSettle | State::AwaitingCheck => {
                Err(FlowError::AwaitingInput)
            }
        }
    }

    fn handle(&mut self, input: Input<'_>, now: Now) {
        match self.state {
            State::AwaitingCreate => self.on_create(input, now),
            State::AwaitingSettle => self.on_settle(input, now),
            State::AwaitingCheck => self.on_check(input, now),
            other => warn!("conductor bill: input ignored in state {}", other),
        }
    }
}

/// An account enquiry, catalogue, order or transaction lookup: no money.
pub type ConductorCall<'a, R, T> = crate::flow::Call<'a, R, T, ErrorResponse>;

/// `POST /conductor/v1/accounts` (with `Retailer-Id`). The answer is
/// decoded as `T`: [`AccountEnquiryResponse`](super::wire::AccountEnquiryResponse)
/// for all of it, [`AccountBills`](super::wire::AccountBills) for what a
/// payment needs.
pub fn account_enquiry<'a, T: crate::json::Decode>(
    config: &Config,
    request: &'a super::wire::AccountEnquiryRequest,
    now: Now,
    rng: &mut impl RngCore,
) -> Result<ConductorCall<'a, super::wire::AccountEnquiryRequest, T>, FlowError> {
    let mut head = config.head(path::account_enquiry()?, None)?;
    head.json_body()?;
    head.set(HeaderName::RetailerId, &config.retailer_id)?;
    Ok(crate::flow::Call::new(
        head,
        Some(request),
        now,
        config.deadline,
        rng.next_u32(),
    ))
}

/// `GET /conductor/v1/catalogs`, read as `T`:
/// [`CatalogResponse`](super::wire::CatalogResponse), or
/// [`crate::json::Flat`] for a console.
pub fn get_catalogs<T: crate::json::Decode>(
    config: &Config,
    category_code: Option<&str>,
    depth: Option<u8>,
    now: Now,
    rng: &mut impl RngCore,
) -> Result<ConductorCall<'static, (), T>, FlowError> {
    let head = config.head(path::get_catalogs(category_code, depth)?, None)?;
    Ok(crate::flow::Call::new(
        head,
        None,
        now,
        config.deadline,
        rng.next_u32(),
    ))
}

/// `POST /healthcheck`: is Conductor up? Changes nothing.
pub fn healthcheck(
    config: &Config,
    now: Now,
    rng: &mut impl RngCore,
) -> Result<ConductorCall<'static, (), super::wire::HealthcheckResponse>, FlowError> {
    let head = config.head(path::healthcheck()?, None)?;
    Ok(crate::flow::Call::new(
        head,
        None,
        now,
        config.deadline,
        rng.next_u32(),
    ))
}

/// `POST /conductor/v1/orders` under a fresh idempotency key (repeats of
/// the call reuse it), after checking the products against the catalogue.
pub fn create_order<'a>(
    config: &Config,
    catalog: &super::wire::Catalog,
    request: &'a super::wire::CreateOrderRequest,
    now: Now,
    rng: &mut impl RngCore,
) -> Result<
    ConductorCall<'a, super::wire::CreateOrderRequest, super::wire::OrderResponse>,
    OrderError,
> {
    validate_order(catalog, request)?;
    let key = Uuid::new_v4(rng);
    let head = path::create_order()
        .and_then(|path| config.head(path, Some(&key)))
        .map_err(FlowError::from)?;
    Ok(crate::flow::Call::new(
        head,
        Some(request),
        now,
        config.deadline,
        rng.next_u32(),
    ))
}

/// `GET` a transaction by id or a partner transaction by reference, read
/// as `T` ([`TransactionResponse`], or [`crate::json::Flat`] for a console).
pub fn get_transaction<T: crate::json::Decode>(
    config: &Config,
    target: &ConductorTarget,
    now: Now,
    rng: &mut impl RngCore,
) -> Result<ConductorCall<'static, (), T>, FlowError> {
    let head = config.transaction_head(target)?;
    Ok(crate::flow::Call::new(
        head,
        None,
        now,
        config.deadline,
        rng.next_u32(),
    ))
}

/// `GET /conductor/v1/orders/{order_id}`: an order, as Conductor keeps it.
pub fn get_order(
    config: &Config,
    order_id: &str,
    now: Now,
    rng: &mut impl RngCore,
) -> Result<ConductorCall<'static, (), super::wire::OrderResponse>, FlowError> {
    let head = config.head(path::get_order(order_id)?, None)?;
    Ok(crate::flow::Call::new(
        head,
        None,
        now,
        config.deadline,
        rng.next_u32(),
    ))
}

/// Why an order was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderError {
    /// The order has no products.
    Empty,
    /// A product is not in the catalogue page given.
    UnknownProduct(String<{ super::wire::CODE_CAP }>),
    /// A quantity is outside the product's quantity rules.
    Quantity {
        /// The product.
        code: String<{ super::wire::CODE_CAP }>,
        /// The quantity asked for.
        quantity: u32,
    },
    /// The request could not be built.
    Flow(FlowError),
}

impl From<FlowError> for OrderError {
    fn from(e: FlowError) -> Self {
        Self::Flow(e)
    }
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("order has no products"),
            Self::UnknownProduct(code) => write!(f, "product {code} is not in the catalogue"),
            Self::Quantity { code, quantity } => {
                write!(f, "quantity {quantity} of {code} is outside its rules")
            }
            Self::Flow(e) => write!(f, "{e}"),
        }
    }
}

/// Check every product of an order against the catalogue: known, and the
/// quantity within its `quantity_rules` (at least one when there are none).
pub fn validate_order(
    catalog: &super::wire::Catalog,
    order: &super::wire::CreateOrderRequest,
) -> Result<(), OrderError> {
    if order.products.is_empty() {
        return Err(OrderError::Empty);
    }
    let products = catalog.products.as_deref().unwrap_or_default();
    for item in &order.products {
        let product = products
            .iter()
            .find(|p| p.code == item.code)
            .ok_or_else(|| OrderError::UnknownProduct(item.code.clone()))?;
        let allowed = match product.quantity_rules {
            Some(rules) => rules.allows(item.quantity),
            None => item.quantity >= 1,
        };
        if !allowed {
            return Err(OrderError::Quantity {
                code: item.code.clone(),
                quantity: item.quantity,
            });
        }
    }
    Ok(())
}

/// Why a bill amount was not accepted before sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AmountError {
    /// Outside the bill's min/max rules.
    OutsideRules,
    /// The rules or the amount could not be compared.
    Money(crate::money::MoneyError),
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutsideRules => f.write_str("outside the bill's rules"),
            Self::Money(e) => e.fmt(f),
        }
    }
}

/// Check an amount against a bill's `amount_due.rules` (no rules: any
/// positive amount).
pub fn validate_bill_amount(
    bill: &super::wire::Bill,
    amount: crate::money::Amount,
) -> Result<(), AmountError> {
    if amount.minor() == 0 {
        return Err(AmountError::OutsideRules);
    }
    match bill.amount_due.and_then(|due| due.rules) {
        Some(rules) => match rules.allows(amount) {
            Ok(true) => Ok(()),
            Ok(false) => Err(AmountError::OutsideRules),
            Err(e) => Err(AmountError::Money(e)),
        },
        None => Ok(()),
    }
}
