//! Delivery of one outbox record: one attempt, as a sans-IO flow.
//!
//! The outbox ([`crate::outbox::Outbox`]) decides *when*; a [`Delivery`]
//! makes one attempt at a record and says whether it is settled (remove
//! it; here is what happened to the money) or must be repeated later (the
//! outbox backs off). The request is rebuilt from the record alone, with
//! the same identity every time: same Electrum advice id, same Conductor
//! idempotency key, same MoMo reference.
//!
//! What each answer means comes from the API's outcome table
//! ([`crate::conductor::outcome`], [`crate::momo::outcome`],
//! [`crate::electrum::outcome`]); every delivery is a repeat.
//!
//! A settled record is removed (`Persist(Remove)`) before `Done`, so a
//! power loss after the final answer at worst repeats an advice the
//! provider already has — which every advice here tolerates. A final
//! answer that settles nothing (a refused advice) writes the record back
//! set aside ([`crate::outbox::Attention`]): kept, shown, never repeated.

use core::fmt;

use crate::conductor::error::{Code as ConductorCode, ErrorResponse};
use crate::conductor::flow::Settle;
use crate::conductor::outcome as conductor;
use crate::conductor::wire::{Transaction, TransactionResponse};
use crate::electrum::error::ErrorDetail;
use crate::electrum::outcome as electrum;
use crate::electrum::wire::PurchaseResponse;
use crate::flow::{Flow, FlowError, Input, Money, Now, Output, Transmit};
use crate::http::{RequestHead, Status};
use crate::json;
use crate::momo::error::ErrorBody;
use crate::momo::outcome as momo;
use crate::momo::wire::{PaymentStatus, TokenResponse};
use crate::outbox::{Advice, Attention, ConductorTarget, Record, StoreOp};
use crate::outcome::{Answer, Attempt, Verdict};

/// The configuration a delivery may need; a record of an API without
/// configuration is left pending (and logged), never dropped.
pub struct Context<'a> {
    /// Conductor credentials.
    pub conductor: Option<&'a crate::conductor::flow::Config>,
    /// MoMo credentials and the token cache.
    pub momo: Option<(
        &'a crate::momo::flow::Config,
        &'a mut crate::momo::flow::TokenCache,
    )>,
    /// Electrum credentials.
    pub electrum: Option<&'a crate::electrum::flow::Config>,
}

/// What one attempt achieved.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Delivered {
    /// Final: the record was removed; this is what happened to the money.
    Settled(Money),
    /// Not final: repeat later. If the record had to change (a new
    /// Conductor key after a stored 500), the new one was persisted.
    Retry,
    /// The record cannot be sent: no configuration for its API. It stays.
    Unconfigured,
    /// Final, but nothing this terminal can settle: the record was written
    /// back set aside for an operator and is never repeated.
    NeedsAttention(Attention),
}

impl fmt::Display for Delivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Settled(money) => write!(f, "settled ({money})"),
            Self::Retry => f.write_str("not final, will repeat"),
            Self::Unconfigured => f.write_str("no configuration for this API"),
            Self::NeedsAttention(a) => write!(f, "{a}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum State {
    Start,
    AwaitingToken,
    Sending,
    Awaiting,
    /// A complete or cancel was not final: read the transaction.
    Checking,
    AwaitingCheck,
    /// MoMo does not know the payment's reference: send its
    /// CreatePayments again, same reference.
    Recreating,
    AwaitingRecreate,
    /// Write the record back (new key) before reporting.
    Rewriting,
    /// Write the record back set aside for an operator.
    SettingAside,
    Removing(Money),
    Final,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// One attempt at one record.
pub struct Delivery<'a> {
    record: Record,
    context: Context<'a>,
    state: State,
    /// The transaction to read in [`State::Checking`].
    check_target: Option<ConductorTarget>,
    outcome: Option<Delivered>,
}

impl<'a> Delivery<'a> {
    /// An attempt at `record` (read back from the store).
    pub fn new(record: Record, context: Context<'a>) -> Self {
        Self {
            record,
            context,
            state: State::Start,
            check_target: None,
            outcome: None,
        }
    }

    /// The record as it now stands (its key may have been renewed).
    pub fn record(&self) -> &Record {
        &self.record
    }

    fn set_state(&mut self, new: State) {
        if self.state != new {
            trace!("outbox {}: {} => {}", self.record.key, self.state, new);
        }
        self.state = new;
    }

    fn done(&mut self, outcome: Delivered) {
        debug!("outbox {}: {}", self.record.key, outcome);
        self.outcome = Some(outcome);
        self.set_state(State::Final);
    }

    fn settle(&mut self, money: Money) {
        self.set_state(State::Removing(money));
    }

    /// The request for this record, encoded into `body`.
    fn request(&mut self, now: Now, body: &mut [u8]) -> Result<Option<Transmit>, FlowError> {
        // Electrum's `time` is when the advice is sent, on every repeat.
        self.record.advice.stamp(now.unix.to_timestamp());
        let tx = match &self.record.advice {
            Advice::ConductorCreate {
                idempotency_key,
                request,
            } => {
                let Some(config) = self.context.conductor else {
                    return Ok(None);
                };
                let body_len = json::encode(request, body)?;
                config.create_transmit(
                    crate::conductor::path::create_transaction()?,
                    idempotency_key,
                    body_len,
                )?
            }
            Advice::ConductorComplete {
                target,
                idempotency_key,
                payment_method,
            } => {
                let Some(config) = self.context.conductor else {
                    return Ok(None);
                };
                let settle = Settle::Complete(payment_method.clone());
                config.settle_transmit(target, &settle, idempotency_key, body)?
            }
            Advice::ConductorCancel {
                target,
                idempotency_key,
                reason,
            } => {
                let Some(config) = self.context.conductor else {
                    return Ok(None);
                };
                let settle = Settle::Cancel(reason.clone());
                config.settle_transmit(target, &settle, idempotency_key, body)?
            }
            Advice::ConductorPartnerStatus { external_reference } => {
                let Some(config) = self.context.conductor else {
                    return Ok(None);
                };
                let target = ConductorTarget::Partner(external_reference.clone());
                Transmit {
                    head: config.transaction_head(&target)?,
                    body_len: 0,
                }
            }
            Advice::ElectrumPurchaseReversal(a) => {
                let len = json::encode(a, body)?;
                return self.electrum(crate::electrum::path::purchase_reversal()?, len);
            }
            Advice::ElectrumPurchaseConfirmation(a) => {
                let len = json::encode(a, body)?;
                return self.electrum(crate::electrum::path::purchase_confirmation()?, len);
            }
            Advice::ElectrumVoucherConfirmation(a) => {
                let len = json::encode(a, body)?;
                let head = crate::electrum::path::confirm_voucher(&a.request_id, &a.id)?;
                return self.electrum(head, len);
            }
            Advice::ElectrumVoucherReversal(a) => {
                let len = json::encode(a, body)?;
                let head = crate::electrum::path::reverse_voucher(&a.request_id, &a.id)?;
                return self.electrum(head, len);
            }
            Advice::ElectrumPurchaseStatus { original_id, .. } => {
                return self.electrum(crate::electrum::path::purchase_status(original_id)?, 0);
            }
            Advice::MomoStatus { reference_id, .. } => {
                let Some((config, tokens)) = self.context.momo.as_ref() else {
                    return Ok(None);
                };
                let path = crate::momo::path::get_payment_status(reference_id)?;
                Transmit {
                    head: config.api_head(path, tokens, now.instant)?,
                    body_len: 0,
                }
            }
        };
        Ok(Some(tx))
    }

    fn electrum(&self, path: RequestHead, body_len: usize) -> Result<Option<Transmit>, FlowError> {
        let Some(config) = self.context.electrum else {
            return Ok(None);
        };
        let head = config.head(path, body_len > 0)?;
        Ok(Some(Transmit { head, body_len }))
    }

    fn needs_momo_token(&self, now: Now) -> bool {
        matches!(self.record.advice, Advice::MomoStatus { .. })
            && self
                .context
                .momo
                .as_ref()
                .is_some_and(|(_, tokens)| tokens.valid_at(now.instant).is_none())
    }

    fn token_request(&self) -> Result<Option<Transmit>, FlowError> {
        let Some((config, _)) = self.context.momo.as_ref() else {
            return Ok(None);
        };
        Ok(Some(Transmit {
            head: config.token_head()?,
            body_len: 0,
        }))
    }

    /// Set the record aside for an operator: written back with its
    /// [`Attention`], never dropped, never repeated.
    fn set_aside(&mut self, status: Option<Status>) {
        let status = status.unwrap_or(Status(0));
        error!(
            "outbox {}: final answer {} settles nothing; needs attention",
            self.record.key, status
        );
        self.record.attention = Some(Attention { status: status.0 });
        self.set_state(State::SettingAside);
    }

    fn on_answer(&mut self, input: Input<'_>) {
        match &self.record.advice {
            Advice::ConductorCreate { .. } => {
                let answer = Answer::<TransactionResponse, ErrorResponse>::read(input);
                match conductor::verdict(conductor::Op::Create, Attempt::Repeat, &answer.reply()) {
                    Verdict::Success => match answer.value.and_then(|r| r.data) {
                        Some(t) => self
                            .on_transaction(&t, Some(ConductorTarget::Transaction(t.id.clone()))),
                        None => self.done(Delivered::Retry),
                    },
                    // Still processing: the replay brings the same answer
                    // until it is final.
                    Verdict::Resolve
                        if answer.error.as_ref().map(|e| e.code())
                            == Some(&ConductorCode::InProcessing) =>
                    {
                        self.done(Delivered::Retry)
                    }
                    // A stored 500 (or a settled state) under the key, and
                    // the transactions API has no lookup by reference.
                    Verdict::Resolve | Verdict::Refused => self.set_aside(answer.status.ok()),
                    Verdict::Repeat | Verdict::Renew => self.done(Delivered::Retry),
                }
            }
            Advice::ConductorComplete { target, .. } | Advice::ConductorCancel { target, .. } => {
                let target = target.clone();
                let answer = Answer::<TransactionResponse, ErrorResponse>::read(input);
                match conductor::verdict(conductor::Op::Settle, Attempt::Repeat, &answer.reply()) {
                    Verdict::Success => match answer.value.and_then(|r| r.data) {
                        Some(t) => self.on_transaction(&t, Some(target)),
                        None => self.check(target),
                    },
                    Verdict::Resolve => self.check(target),
                    Verdict::Refused => self.set_aside(answer.status.ok()),
                    Verdict::Repeat | Verdict::Renew => self.done(Delivered::Retry),
                }
            }
            Advice::ConductorPartnerStatus { external_reference } => {
                let target = ConductorTarget::Partner(external_reference.clone());
                self.on_check(input, target);
            }
            Advice::ElectrumPurchaseReversal(_) | Advice::ElectrumVoucherReversal(_) => {
                let answer = Answer::<(), ErrorDetail>::status_only(input);
                match electrum::verdict(electrum::Op::Reverse, Attempt::Repeat, &answer.reply()) {
                    Verdict::Success => self.settle(Money::NotCharged),
                    Verdict::Refused
                        if electrum::refusal(answer.error.as_ref())
                            == electrum::Refusal::Settled =>
                    {
                        // Confirmed meanwhile: final, and the sale stands.
                        error!(
                            "outbox {}: reversal refused, already settled",
                            self.record.key
                        );
                        self.settle(Money::Charged);
                    }
                    Verdict::Refused => self.set_aside(answer.status.ok()),
                    Verdict::Repeat | Verdict::Resolve | Verdict::Renew => {
                        self.done(Delivered::Retry)
                    }
                }
            }
            Advice::ElectrumPurchaseConfirmation(_) | Advice::ElectrumVoucherConfirmation(_) => {
                let answer = Answer::<(), ErrorDetail>::status_only(input);
                match electrum::verdict(electrum::Op::Confirm, Attempt::Repeat, &answer.reply()) {
                    Verdict::Success => self.settle(Money::Charged),
                    Verdict::Refused
                        if electrum::refusal(answer.error.as_ref())
                            == electrum::Refusal::Settled =>
                    {
                        error!(
                            "outbox {}: confirmation refused, the sale was reversed",
                            self.record.key
                        );
                        self.settle(Money::NotCharged);
                    }
                    Verdict::Refused => self.set_aside(answer.status.ok()),
                    Verdict::Repeat | Verdict::Resolve | Verdict::Renew => {
                        self.done(Delivered::Retry)
                    }
                }
            }
            Advice::ElectrumPurchaseStatus {
                original_id,
                tenders,
            } => {
                let answer = Answer::<PurchaseResponse, ErrorDetail>::read(input);
                match electrum::verdict(electrum::Op::Status, Attempt::Repeat, &answer.reply()) {
                    Verdict::Success => match answer.value {
                        Some(response) => {
                            // It went through: confirm it. The record becomes
                            // the confirmation (written before it can be sent).
                            let advice = response.confirmation(
                                original_id.derive(CONFIRMATION_SALT),
                                *original_id,
                                self.record.created,
                                tenders.clone(),
                            );
                            self.record.advice = Advice::ElectrumPurchaseConfirmation(advice);
                            self.set_state(State::Rewriting);
                        }
                        None => self.done(Delivered::Retry),
                    },
                    // No such purchase: it never arrived.
                    Verdict::Refused => self.settle(Money::NotCharged),
                    Verdict::Repeat | Verdict::Resolve | Verdict::Renew => {
                        self.done(Delivered::Retry)
                    }
                }
            }
            Advice::MomoStatus { create, .. } => {
                let has_create = create.is_some();
                let answer = Answer::<PaymentStatus, ErrorBody>::read(input);
                match momo::verdict(momo::Op::Status, Attempt::Repeat, &answer.reply()) {
                    Verdict::Success => match answer.value.map(|s| momo::standing(&s.status)) {
                        Some(momo::Standing::Paid) => self.settle(Money::Charged),
                        Some(momo::Standing::Unpaid) => self.settle(Money::NotCharged),
                        _ => self.done(Delivered::Retry),
                    },
                    Verdict::Renew => {
                        if let Some((_, tokens)) = self.context.momo.as_mut() {
                            tokens.invalidate();
                        }
                        self.done(Delivered::Retry);
                    }
                    // 404: unknown to MoMo. Right after a 202 that is MoMo
                    // catching up, but the record was stored before the
                    // create left and the create may never have arrived
                    // (a power loss, a lost request): send it again under
                    // the same reference. MoMo answers 409 if it has it.
                    Verdict::Refused if has_create => self.set_state(State::Recreating),
                    Verdict::Refused | Verdict::Repeat | Verdict::Resolve => {
                        self.done(Delivered::Retry)
                    }
                }
            }
        }
    }

    /// The answer to a repeated CreatePayments. Whatever MoMo did with
    /// it, the payment's status is asked again on the next attempt; only
    /// a 400 in MoMo's shape to the same bytes is final: the request is
    /// invalid, so no attempt of it created a payment.
    fn on_recreate(&mut self, input: Input<'_>) {
        let answer = Answer::<(), ErrorBody>::status_only(input);
        match momo::verdict(momo::Op::Create, Attempt::Repeat, &answer.reply()) {
            Verdict::Refused => self.settle(Money::NotCharged),
            Verdict::Renew => {
                if let Some((_, tokens)) = self.context.momo.as_mut() {
                    tokens.invalidate();
                }
                self.done(Delivered::Retry);
            }
            Verdict::Success | Verdict::Resolve | Verdict::Repeat => self.done(Delivered::Retry),
        }
    }

    /// `POST /collection/v2_0/payment` again, from the record.
    fn recreate_request(&self, now: Now, body: &mut [u8]) -> Result<Option<Transmit>, FlowError> {
        let (
            Advice::MomoStatus {
                reference_id,
                create: Some(create),
            },
            Some((config, tokens)),
        ) = (&self.record.advice, self.context.momo.as_ref())
        else {
            return Ok(None);
        };
        let body_len = json::encode(create, body)?;
        let head = config.create_head(reference_id, tokens, now.instant)?;
        Ok(Some(Transmit { head, body_len }))
    }

    /// Read the transaction next.
    fn check(&mut self, target: ConductorTarget) {
        self.check_target = Some(target);
        self.set_state(State::Checking);
    }

    /// The answer to a transaction read.
    fn on_check(&mut self, input: Input<'_>, target: ConductorTarget) {
        let answer = Answer::<TransactionResponse, ErrorResponse>::read(input);
        match conductor::verdict(conductor::Op::Read, Attempt::Repeat, &answer.reply()) {
            Verdict::Success => match answer.value.and_then(|r| r.data) {
                Some(t) => self.on_transaction(&t, Some(target)),
                None => self.done(Delivered::Retry),
            },
            // No such transaction: a partner create that never took
            // effect; for a complete or cancel, nothing it can settle.
            Verdict::Refused => match self.record.advice {
                Advice::ConductorPartnerStatus { .. } => self.settle(Money::NotCharged),
                _ => self.set_aside(answer.status.ok()),
            },
            Verdict::Repeat | Verdict::Resolve | Verdict::Renew => self.done(Delivered::Retry),
        }
    }

    /// Settle from a transaction read back, or decide what comes next.
    fn on_transaction(&mut self, transaction: &Transaction, target: Option<ConductorTarget>) {
        match conductor::standing(&transaction.status) {
            conductor::Standing::Paid => self.settle(Money::Charged),
            conductor::Standing::Unpaid => self.settle(Money::NotCharged),
            // Processing: read it again until it is final (this attempt,
            // if it has not read it yet; the next one otherwise).
            conductor::Standing::Processing => match target {
                Some(target) if self.state == State::Awaiting => self.check(target),
                _ => self.done(Delivered::Retry),
            },
            conductor::Standing::Open if self.state == State::AwaitingCheck => {
                // Still ACTIVE after the settle was not final: the next
                // attempt needs a new key (a stored 500 replays); write it
                // before it can be used.
                if let Advice::ConductorComplete {
                    idempotency_key, ..
                }
                | Advice::ConductorCancel {
                    idempotency_key, ..
                } = &mut self.record.advice
                {
                    *idempotency_key = idempotency_key.derive(NEW_KEY_SALT);
                }
                self.set_state(State::Rewriting);
            }
            conductor::Standing::Open => match target {
                Some(target) if self.state == State::Awaiting => self.check(target),
                _ => self.done(Delivered::Retry),
            },
        }
    }
}

/// Salt of the confirmation id derived from a purchase id, so a status
/// record that turns into a confirmation gets the same confirmation id
/// however often that happens (a power loss between the two writes too).
const CONFIRMATION_SALT: u32 = 0x5a5a_c0f1;

/// Salt of a Conductor key renewed after a stored 500.
const NEW_KEY_SALT: u32 = 0x0000_0500;

impl Flow for Delivery<'_> {
    type Outcome = Delivered;

    fn outcome(&self) -> Option<&Delivered> {
        self.outcome.as_ref()
    }

    fn take_outcome(&mut self) -> Option<Delivered> {
        self.outcome.take()
    }

    #[inline(never)]
    fn poll(&mut self, now: Now, body: &mut [u8]) -> Result<Output<'_>, FlowError> {
        match self.state {
            State::Start => {
                if self.needs_momo_token(now) {
                    let Some(tx) = self.token_request()? else {
                        self.done(Delivered::Unconfigured);
                        return self.poll(now, body);
                    };
                    self.set_state(State::AwaitingToken);
                    return Ok(Output::Send(tx));
                }
                self.set_state(State::Sending);
                self.poll(now, body)
            }
            State::Sending => match self.request(now, body)? {
                Some(tx) => {
                    self.set_state(State::Awaiting);
                    Ok(Output::Send(tx))
                }
                None => {
                    warn!(
                        "outbox {}: no configuration for its API; kept",
                        self.record.key
                    );
                    self.done(Delivered::Unconfigured);
                    self.poll(now, body)
                }
            },
            State::Recreating => match self.recreate_request(now, body)? {
                Some(tx) => {
                    warn!(
                        "outbox {}: payment unknown to MoMo; repeating CreatePayments",
                        self.record.key
                    );
                    self.set_state(State::AwaitingRecreate);
                    Ok(Output::Send(tx))
                }
                None => {
                    self.done(Delivered::Retry);
                    self.poll(now, body)
                }
            },
            State::Checking => {
                let (Some(config), Some(target)) = (self.context.conductor, &self.check_target)
                else {
                    return Err(FlowError::Finished);
                };
                let head = config.transaction_head(target)?;
                self.set_state(State::AwaitingCheck);
                Ok(Output::Send(Transmit { head, body_len: 0 }))
            }
            State::Rewriting => {
                self.done(Delivered::Retry);
                Ok(Output::Persist(StoreOp::Put(&self.record)))
            }
            State::SettingAside => {
                let attention = self.record.attention.unwrap_or(Attention { status: 0 });
                self.done(Delivered::NeedsAttention(attention));
                Ok(Output::Persist(StoreOp::Put(&self.record)))
            }
            State::Removing(money) => {
                self.done(Delivered::Settled(money));
                Ok(Output::Persist(StoreOp::Remove(self.record.key)))
            }
            State::Final => self
                .outcome
                .as_ref()
                .map(|_| Output::Done)
                .ok_or(FlowError::Finished),
            State::AwaitingToken
            | State::Awaiting
            | State::AwaitingCheck
            | State::AwaitingRecreate => Err(FlowError::AwaitingInput),
        }
    }

    fn handle(&mut self, input: Input<'_>, now: Now) {
        match self.state {
            State::AwaitingToken => {
                let answer = Answer::<TokenResponse, ErrorBody>::read(input);
                let verdict = momo::verdict(momo::Op::Token, Attempt::First, &answer.reply());
                match (verdict, answer.value, self.context.momo.as_mut()) {
                    (Verdict::Success, Some(token), Some((_, tokens))) => {
                        tokens.store(token, now.instant);
                        self.set_state(State::Sending);
                    }
                    _ => self.done(Delivered::Retry),
                }
            }
            State::Awaiting => self.on_answer(input),
            State::AwaitingRecreate => self.on_recreate(input),
            State::AwaitingCheck => match self.check_target.clone() {
                Some(target) => self.on_check(input, target),
                None => self.done(Delivered::Retry),
            },
            _ => {}
        }
    }
}
