//! Delivery of one outbox record: one attempt, as a sans-IO flow.
//!
//! The outbox ([`crate::outbox::Outbox`]) decides *when*; a [`Delivery`]
//! makes one attempt at a record and says whether it is settled (remove
//! it; here is what happened to the money) or must be repeated later (the
//! outbox backs off). The request is rebuilt from the record alone, with
//! the same identity every time: same Electrum advice id, same Conductor
//! idempotency key, same MoMo reference.
//!
//! A settled record is removed (`Persist(Remove)`) before `Done`, so a
//! power loss after the final answer at worst repeats an advice the
//! provider already has — which every advice here tolerates.

use core::fmt;

use crate::conductor::error::ErrorResponse;
use crate::conductor::flow::Settle;
use crate::conductor::wire::{TransactionResponse, TransactionStatus};
use crate::electrum::error::{ErrorDetail, ErrorType};
use crate::electrum::wire::PurchaseResponse;
use crate::flow::{Flow, FlowError, Input, Money, Now, Output, Transmit};
use crate::http::{RequestHead, Status, StatusClass};
use crate::json;
use crate::momo::wire::{PaymentStatus, PaymentStatusCode, TokenResponse};
use crate::outbox::{Advice, ConductorTarget, Record, StoreOp};

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
}

impl fmt::Display for Delivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Settled(money) => write!(f, "settled ({money})"),
            Self::Retry => f.write_str("not final, will repeat"),
            Self::Unconfigured => f.write_str("no configuration for this API"),
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
    /// Conductor answered 500 to complete/cancel: read the transaction.
    Checking,
    AwaitingCheck,
    /// Write the record back (new key) before reporting.
    Rewriting,
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
    outcome: Option<Delivered>,
}

impl<'a> Delivery<'a> {
    /// An attempt at `record` (read back from the store).
    pub fn new(record: Record, context: Context<'a>) -> Self {
        Self {
            record,
            context,
            state: State::Start,
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
            Advice::MomoStatus { reference_id } => {
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

    fn on_answer(&mut self, input: Input<'_>) {
        let Input::Response { head, body } = input else {
            // No answer: the same request goes again later.
            self.done(Delivered::Retry);
            return;
        };
        let status = head.status;
        match &self.record.advice {
            Advice::ConductorCreate { .. } => {
                if status.is_success() {
                    self.settle(Money::Charged);
                } else if status == Status::INTERNAL_SERVER_ERROR {
                    // Conductor replays a stored 500 for this key forever,
                    // and the transactions API has no lookup by reference:
                    // kept, and loud, for the operator.
                    error!(
                        "outbox {}: create answered 500 under its key; needs an operator",
                        self.record.key
                    );
                    self.done(Delivered::Retry);
                } else if status == Status::CONFLICT || status.class() == StatusClass::ServerError {
                    self.done(Delivered::Retry);
                } else {
                    // Refused: the transaction was never created.
                    self.settle(Money::NotCharged);
                }
            }
            Advice::ConductorComplete { .. } | Advice::ConductorCancel { .. } => {
                let completing = matches!(self.record.advice, Advice::ConductorComplete { .. });
                let paid = if completing {
                    Money::Charged
                } else {
                    Money::NotCharged
                };
                if status.is_success() {
                    self.settle(paid);
                    return;
                }
                if status == Status::INTERNAL_SERVER_ERROR {
                    self.set_state(State::Checking);
                    return;
                }
                if status == Status::CONFLICT || status.class() == StatusClass::ServerError {
                    self.done(Delivered::Retry);
                    return;
                }
                let code = json::decode::<ErrorResponse>(body)
                    .ok()
                    .map(|e| e.status.code);
                match code {
                    Some(c) if c.is_already_final() => self.set_state(State::Checking),
                    _ => {
                        // A final refusal: the transaction was not completed
                        // by this advice. Completing → not charged.
                        error!("outbox {}: refused with {}", self.record.key, status);
                        self.settle(Money::NotCharged);
                    }
                }
            }
            Advice::ConductorPartnerStatus { .. } => {
                if status == Status::NOT_FOUND {
                    // The create never took effect.
                    self.settle(Money::NotCharged);
                    return;
                }
                self.on_transaction(status, body);
            }
            Advice::ElectrumPurchaseReversal(_) | Advice::ElectrumVoucherReversal(_) => {
                if status.is_success() || status == Status::NOT_FOUND {
                    self.settle(Money::NotCharged);
                } else if electrum_error(body) == Some(ErrorType::AccountAlreadySettled) {
                    // Confirmed meanwhile: final, and the sale stands.
                    error!(
                        "outbox {}: reversal refused, already settled",
                        self.record.key
                    );
                    self.settle(Money::Charged);
                } else {
                    self.done(Delivered::Retry);
                }
            }
            Advice::ElectrumPurchaseConfirmation(_) | Advice::ElectrumVoucherConfirmation(_) => {
                if status.is_success() {
                    self.settle(Money::Charged);
                } else if status.class() == StatusClass::ClientError {
                    if electrum_error(body) == Some(ErrorType::AccountAlreadySettled) {
                        error!(
                            "outbox {}: confirmation refused, the sale was reversed",
                            self.record.key
                        );
                        self.settle(Money::NotCharged);
                    } else {
                        error!(
                            "outbox {}: confirmation refused with {}",
                            self.record.key, status
                        );
                        self.settle(Money::Charged);
                    }
                } else {
                    self.done(Delivered::Retry);
                }
            }
            Advice::ElectrumPurchaseStatus {
                original_id,
                tenders,
            } => {
                if status == Status::NOT_FOUND {
                    self.settle(Money::NotCharged);
                    return;
                }
                let response = if status.is_success() {
                    json::decode::<PurchaseResponse>(body).ok()
                } else {
                    None
                };
                match response {
                    Some(response) => {
                        // It went through: confirm it. The record becomes the
                        // confirmation (written before it can be sent).
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
                }
            }
            Advice::MomoStatus { .. } => {
                if status == Status::UNAUTHORIZED {
                    if let Some((_, tokens)) = self.context.momo.as_mut() {
                        tokens.invalidate();
                    }
                    self.done(Delivered::Retry);
                    return;
                }
                let final_status = if status == Status::OK {
                    json::decode::<PaymentStatus>(body).ok().map(|s| s.status)
                } else {
                    None
                };
                match final_status {
                    Some(PaymentStatusCode::Successful) => self.settle(Money::Charged),
                    Some(PaymentStatusCode::Failed) => self.settle(Money::NotCharged),
                    _ => self.done(Delivered::Retry),
                }
            }
        }
    }

    /// Settle from a transaction read back, or decide what comes next.
    fn on_transaction(&mut self, status: Status, body: &[u8]) {
        let transaction = if status.is_success() {
            json::decode::<TransactionResponse>(body)
                .ok()
                .and_then(|r| r.data)
        } else {
            None
        };
        match transaction.map(|t| t.status) {
            Some(TransactionStatus::Completed | TransactionStatus::Accepted) => {
                self.settle(Money::Charged)
            }
            Some(TransactionStatus::Cancelled | TransactionStatus::Rejected) => {
                self.settle(Money::NotCharged)
            }
            Some(_) if self.state == State::AwaitingCheck => {
                // Still ACTIVE after a stored 500: the next attempt needs a
                // new key; write it before it can be used.
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
            _ => self.done(Delivered::Retry),
        }
    }
}

fn electrum_error(body: &[u8]) -> Option<ErrorType> {
    json::decode::<ErrorDetail>(body).ok().map(|e| e.error_type)
}

/// Salt of the confirmation id derived from a purchase id, so a status
/// record that turns into a confirmation gets the same confirmation id
/// however often that happens (a power loss between the two writes too).
const CONFIRMATION_SALT: u32 = 0x5a5a_c0f1;

/// Salt of a Conductor key renewed after a stored 500.
const NEW_KEY_SALT: u32 = 0x0000_0500;

impl Flow for Delivery<'_> {
    type Outcome = Delivered;

    #[inline(never)]
    fn poll(&mut self, now: Now, body: &mut [u8]) -> Result<Output<Delivered>, FlowError> {
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
            State::Checking => {
                let ((Some(config), Advice::ConductorComplete { target, .. })
                | (Some(config), Advice::ConductorCancel { target, .. })) =
                    (self.context.conductor, &self.record.advice)
                else {
                    return Err(FlowError::Finished);
                };
                let head = config.transaction_head(target)?;
                self.set_state(State::AwaitingCheck);
                Ok(Output::Send(Transmit { head, body_len: 0 }))
            }
            State::Rewriting => {
                self.done(Delivered::Retry);
                Ok(Output::Persist(StoreOp::Put(self.record.clone())))
            }
            State::Removing(money) => {
                self.done(Delivered::Settled(money));
                Ok(Output::Persist(StoreOp::Remove(self.record.key)))
            }
            State::Final => self
                .outcome
                .take()
                .map(Output::Done)
                .ok_or(FlowError::Finished),
            State::AwaitingToken | State::Awaiting | State::AwaitingCheck => {
                Err(FlowError::AwaitingInput)
            }
        }
    }

    fn handle(&mut self, input: Input<'_>, now: Now) {
        match self.state {
            State::AwaitingToken => match input {
                Input::Response { head, body } if head.status == Status::OK => {
                    match (
                        json::decode::<TokenResponse>(body),
                        self.context.momo.as_mut(),
                    ) {
                        (Ok(token), Some((_, tokens))) => {
                            tokens.store(token, now.instant);
                            self.set_state(State::Sending);
                        }
                        _ => self.done(Delivered::Retry),
                    }
                }
                _ => self.done(Delivered::Retry),
            },
            State::Awaiting => self.on_answer(input),
            State::AwaitingCheck => match input {
                Input::Response { head, body } => self.on_transaction(head.status, body),
                Input::Failed(_) => self.done(Delivered::Retry),
            },
            _ => {}
        }
    }
}
