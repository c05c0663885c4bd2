//! The MoMo payment flow: token → CreatePayments → status polling.
//!
//! ```text
//! [Token] → Persisting → Creating → Polling ⟲ → Settling → Final
//!    ↑ 401 (once) ↙          ↘ 400: not charged
//! ```
//!
//! - The access token is cached in a [`TokenCache`] the caller keeps
//!   between payments; it is refreshed [`TOKEN_REFRESH_MARGIN`] before
//!   expiry, and once when a call answers 401.
//! - Before CreatePayments goes out, a [`Advice::MomoStatus`] record with the
//!   fresh `X-Reference-Id` is persisted: whatever happens next, the
//!   terminal can learn the outcome by polling that reference.
//! - A lost answer to CreatePayments is never repeated blindly: the flow
//!   polls the same reference instead. CreatePayments is repeated (same
//!   reference) only when it cannot have reached MoMo, or after 401.
//! - Polling backs off up to [`POLL_BACKOFF`]`.max` and stops at the
//!   configured deadline; a 404 right after the 202 is polled again.
//! - A 404 for a reference MoMo never acknowledged (the create's answer
//!   was lost, or a 5xx) means the create did not arrive: CreatePayments is
//!   repeated with the same reference. MoMo deduplicates by
//!   `X-Reference-Id` (409 if it exists by then), so this cannot create a
//!   second payment.
//! - The status record carries the CreatePayments body, so the outbox can
//!   do the same after a power loss or the flow's deadline: a reference
//!   MoMo still does not know is created again, never left polled forever.
//! - The outcome is `Charged` only on SUCCESSFUL, `NotCharged` only on
//!   FAILED, a 400, or when CreatePayments provably never reached MoMo;
//!   anything else is `Pending`, and the record stays in the outbox.

use core::fmt;

use heapless::String;
use rand_core::RngCore;

use super::error::{ErrorBody, ErrorReason};
use super::outcome::{self, Op, Standing};
use super::path;
use super::wire::{
    CreatePaymentsRequest, CustomerReference, Money as WireMoney, PaymentStatus, TokenResponse,
    ACCESS_TOKEN_CAP, API_KEY_CAP, FINANCIAL_TRANSACTION_ID_CAP, NOTE_CAP, PROVIDER_NAME_CAP,
    REFERENCE_CAP, TARGET_ENVIRONMENT_CAP,
};
use crate::flow::{Flow, FlowError, Input, Money, Now, Output, Transmit};
use crate::fmt::Secret;
use crate::http::{Api, HeadError, HeaderName, RequestHead};
use crate::id::Uuid;
use crate::json;
use crate::money::Amount;
use crate::outbox::{Advice, Backoff, Record, RecordSource, Retry, StoreOp};
use crate::outcome::{Answer as OutcomeAnswer, Attempt, Verdict};
use crate::time::{Duration, Instant};

/// Refresh the token this long before MoMo says it expires, so a token
/// never runs out between being checked and being used.
pub const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Status polling: 1 s doubling to 10 s. MoMo approvals take seconds to a
/// minute (the customer confirms on the phone).
pub const POLL_BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(1),
    max: Duration::from_secs(10),
};

/// Longest subscription key (`Ocp-Apim-Subscription-Key`): 32 hex digits.
pub const SUBSCRIPTION_KEY_CAP: usize = 64;

/// Longest callback URL sent in `X-Callback-Url`.
pub const CALLBACK_URL_CAP: usize = crate::http::HEADER_VALUE_CAP;

/// How the terminal talks to MoMo.
#[derive(Debug, Clone)]
pub struct Config {
    /// `Ocp-Apim-Subscription-Key`.
    pub subscription_key: Secret<String<SUBSCRIPTION_KEY_CAP>>,
    /// The API user (a UUID), Basic user name for the token.
    pub api_user: Uuid,
    /// The API key, Basic password for the token.
    pub api_key: Secret<String<API_KEY_CAP>>,
    /// `X-Target-Environment` (`sandbox`, `mtnuganda`, …).
    pub target_environment: String<TARGET_ENVIRONMENT_CAP>,
    /// `X-Callback-Url`, if the terminal can receive callbacks (behind NAT
    /// it cannot, and polls instead).
    pub callback_url: Option<String<CALLBACK_URL_CAP>>,
    /// How long to poll before handing the payment to the outbox.
    pub poll_deadline: Duration,
}

impl Config {
    /// The headers of every call but the token one: subscription key,
    /// target environment, and the bearer token if one is valid at `now`.
    pub(crate) fn api_head(
        &self,
        mut head: RequestHead,
        tokens: &TokenCache,
        now: Instant,
    ) -> Result<RequestHead, HeadError> {
        head.for_api(Api::MoMo).set(
            HeaderName::OcpApimSubscriptionKey,
            self.subscription_key.expose(),
        )?;
        head.set(HeaderName::XTargetEnvironment, &self.target_environment)?;
        if let Some(token) = tokens.valid_at(now) {
            head.bearer(token)?;
        }
        Ok(head)
    }

    /// `POST /collection/v2_0/payment` for `reference_id` (the same on
    /// every repeat: MoMo answers 409 to a reference it already has), with
    /// the callback URL if one is configured. The flow and the outbox's
    /// delivery both send it this way.
    pub(crate) fn create_head(
        &self,
        reference_id: &Uuid,
        tokens: &TokenCache,
        now: Instant,
    ) -> Result<RequestHead, HeadError> {
        let mut head = self.api_head(path::create_payments()?, tokens, now)?;
        head.set(HeaderName::XReferenceId, &reference_id.to_text())?;
        if let Some(url) = &self.callback_url {
            head.set(HeaderName::XCallbackUrl, url)?;
        }
        head.json_body()?;
        Ok(head)
    }

    /// `POST /collection/token/` with Basic apiUser:apiKey.
    pub(crate) fn token_head(&self) -> Result<RequestHead, HeadError> {
        let mut head = path::create_access_token()?;
        head.for_api(Api::MoMo)
            .basic(&self.api_user.to_text(), &self.api_key)?;
        head.set(
            HeaderName::OcpApimSubscriptionKey,
            self.subscription_key.expose(),
        )?;
        Ok(head)
    }
}

/// The bearer token, kept between payments.
#[derive(Debug, Clone, Default)]
pub struct TokenCache {
    token: Option<(Secret<String<ACCESS_TOKEN_CAP>>, Instant)>,
}

impl TokenCache {
    /// An empty cache.
    pub const fn new() -> Self {
        Self { token: None }
    }

    /// The token, if it is still good at `now`.
    pub fn valid_at(&self, now: Instant) -> Option<&Secret<String<ACCESS_TOKEN_CAP>>> {
        self.token
            .as_ref()
            .filter(|(_, refresh_at)| now < *refresh_at)
            .map(|(t, _)| t)
    }

    /// Forget the token (after a 401).
    pub fn invalidate(&mut self) {
        self.token = None;
    }

    /// Keep the token of `response`, received at `now`.
    pub fn store(&mut self, response: TokenResponse, now: Instant) {
        let lifetime = Duration::from_secs(u64::from(response.expires_in));
        let usable = Duration::from_millis(
            lifetime
                .as_millis()
                .saturating_sub(TOKEN_REFRESH_MARGIN.as_millis()),
        );
        self.token = Some((response.access_token, now + usable));
    }
}

/// What the customer wants to pay.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    /// The amount.
    pub amount: Amount,
    /// The customer at the provider (an MSISDN); printed masked.
    pub customer: CustomerReference,
    /// The service provider being paid.
    pub provider: String<PROVIDER_NAME_CAP>,
    /// The terminal's own reference for the payment.
    pub external_id: Option<String<REFERENCE_CAP>>,
    /// A note for the customer's history.
    pub note: Option<String<NOTE_CAP>>,
}

/// Why a payment was refused before MoMo took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// MoMo answered 400 (with its reason, when the body said).
    BadRequest(Option<ErrorReason>),
    /// The credentials were refused (401 on the token, or twice on a call).
    Unauthorized,
    /// The request would be refused (note too long, apostrophe, zero).
    Invalid(super::wire::PaymentRequestError),
    /// MoMo could not be reached before the deadline; nothing was taken.
    Unreachable,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadRequest(Some(reason)) => write!(f, "bad request ({reason})"),
            Self::BadRequest(None) => f.write_str("bad request"),
            Self::Unauthorized => f.write_str("credentials refused"),
            Self::Invalid(e) => write!(f, "invalid request ({e})"),
            Self::Unreachable => f.write_str("MoMo unreachable"),
        }
    }
}

/// How a payment ended.
// No heap to box into: the value is moved once and then consumed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentOutcome {
    /// SUCCESSFUL: the money moved.
    Successful {
        /// The X-Reference-Id.
        reference_id: Uuid,
        /// MoMo's transaction id, for the receipt.
        financial_transaction_id: Option<String<FINANCIAL_TRANSACTION_ID_CAP>>,
    },
    /// FAILED: no money moved.
    Failed {
        /// The X-Reference-Id.
        reference_id: Uuid,
        /// Why, when MoMo said.
        reason: Option<ErrorReason>,
    },
    /// Never taken by MoMo.
    Refused(Refusal),
    /// Not final by the deadline: the outbox keeps polling the reference.
    Pending {
        /// The X-Reference-Id the outbox polls.
        reference_id: Uuid,
        /// The record that settles it.
        record: Record,
    },
}

impl PaymentOutcome {
    /// What happened to the customer's money.
    pub fn money(&self) -> Money {
        match self {
            Self::Successful { .. } => Money::Charged,
            Self::Failed { .. } | Self::Refused(_) => Money::NotCharged,
            Self::Pending { .. } => Money::Pending,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum AfterToken {
    Persist,
    Create,
    Poll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum State {
    /// Fetch a token at `at`, then go on to `then`.
    Token {
        then: AfterToken,
        at: Instant,
    },
    AwaitingToken {
        then: AfterToken,
    },
    /// Write the status record before anything can move money.
    Persisting,
    /// Send CreatePayments at `at`.
    Creating {
        at: Instant,
    },
    AwaitingCreate,
    /// Ask for the status at `at`.
    Polling {
        at: Instant,
    },
    AwaitingStatus,
    /// Remove the record (a final answer came), then report.
    Settling,
    Final,
}

impl State {
    const fn name(self) -> &'static str {
        match self {
            Self::Token { .. } => "Token",
            Self::AwaitingToken { .. } => "AwaitingToken",
            Self::Persisting => "Persisting",
            Self::Creating { .. } => "Creating",
            Self::AwaitingCreate => "AwaitingCreate",
            Self::Polling { .. } => "Polling",
            Self::AwaitingStatus => "AwaitingStatus",
            Self::Settling => "Settling",
            Self::Final => "Final",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One MoMo payment. See the module docs for the states.
pub struct Payment<'a> {
    config: &'a Config,
    tokens: &'a mut TokenCache,
    request: PaymentRequest,
    reference_id: Uuid,
    sale: Uuid,
    seq: u32,
    state: State,
    /// The `created` of the record, fixed at the start.
    created: crate::time::Timestamp,
    started: Instant,
    /// The status record is in the store.
    persisted: bool,
    /// MoMo may have created the payment (a 202, a lost answer, a 5xx, a
    /// 409): from then on only a status answer may say "not charged".
    maybe_created: bool,
    /// MoMo acknowledged the reference (202, or 409 "already exists"): a
    /// 404 from then on is MoMo catching up, not a lost create.
    acknowledged: bool,
    /// A 401 was already answered with a fresh token; a second one is final.
    refreshed_after_401: bool,
    retry: Retry,
    outcome: Option<PaymentOutcome>,
}

impl<'a> Payment<'a> {
    /// Start a payment. `seq` is the outbox's next sequence number
    /// ([`crate::outbox::Outbox::next_seq`]); the RNG draws the
    /// X-Reference-Id, the sale id and the jitter.
    pub fn new(
        config: &'a Config,
        tokens: &'a mut TokenCache,
        request: PaymentRequest,
        seq: u32,
        now: Now,
        rng: &mut impl RngCore,
    ) -> Self {
        let reference_id = Uuid::new_v4(rng);
        let sale = Uuid::new_v4(rng);
        let mut payment = Self {
            config,
            tokens,
            request,
            reference_id,
            sale,
            seq,
            state: State::Persisting,
            created: now.unix.to_timestamp(),
            started: now.instant,
            persisted: false,
            maybe_created: false,
            acknowledged: false,
            refreshed_after_401: false,
            retry: Retry::new(rng.next_u32()),
            outcome: None,
        };
        if let Err(e) = payment.body().validate() {
            payment.finish(PaymentOutcome::Refused(Refusal::Invalid(e)));
        } else if payment.tokens.valid_at(now.instant).is_none() {
            payment.state = State::Token {
                then: AfterToken::Persist,
                at: now.instant,
            };
        }
        payment
    }

    /// The X-Reference-Id of this payment.
    pub fn reference_id(&self) -> Uuid {
        self.reference_id
    }

    fn set_state(&mut self, new: State) {
        if self.state != new {
            debug!("momo payment: {} => {}", self.state, new);
        }
        self.state = new;
    }

    fn deadline(&self) -> Instant {
        self.started + self.config.poll_deadline
    }

    fn record(&self) -> Record {
        Record {
            key: self.reference_id,
            sale: self.sale,
            seq: self.seq,
            created: self.created,
            advice: Advice::MomoStatus {
                reference_id: self.reference_id,
                create: Some(self.body()),
            },
            attention: None,
        }
    }

    fn body(&self) -> CreatePaymentsRequest {
        CreatePaymentsRequest {
            external_transaction_id: self.request.external_id.clone(),
            money: WireMoney::from(self.request.amount),
            customer_reference: self.request.customer.clone(),
            service_provider_user_name: self.request.provider.clone(),
            coupon_id: None,
            product_id: None,
            product_offering_id: None,
            receiver_message: None,
            sender_note: self.request.note.clone(),
            max_number_of_retries: None,
            include_sender_charges: None,
        }
    }

    /// Headers every call but the token one carries.
    fn finish(&mut self, outcome: PaymentOutcome) {
        info!("momo payment {}: {}", self.reference_id, outcome.money());
        let settles = !matches!(outcome, PaymentOutcome::Pending { .. });
        self.outcome = Some(outcome);
        if settles && self.persisted {
            self.set_state(State::Settling);
        } else {
            self.set_state(State::Final);
        }
    }

    /// Stop trying: "not charged" only if MoMo cannot have the payment.
    fn give_up(&mut self, refusal: Refusal) {
        if self.maybe_created {
            let record = self.record();
            self.finish(PaymentOutcome::Pending {
                reference_id: self.reference_id,
                record,
            });
        } else {
            self.finish(PaymentOutcome::Refused(refusal));
        }
    }

    /// Try `state` again after a backoff, or give up at the deadline.
    fn later(&mut self, now: Now, retry: impl FnOnce(Instant) -> State) {
        let at = now.instant + self.retry.next_delay(POLL_BACKOFF);
        if at > self.deadline() {
            self.give_up(Refusal::Unreachable);
        } else {
            self.set_state(retry(at));
        }
    }

    fn after_token(&mut self, then: AfterToken, now: Now) {
        self.set_state(match then {
            AfterToken::Persist => State::Persisting,
            AfterToken::Create => State::Creating { at: now.instant },
            AfterToken::Poll => State::Polling { at: now.instant },
        });
    }

    fn on_token(&mut self, then: AfterToken, input: Input<'_>, now: Now) {
        let answer = OutcomeAnswer::<TokenResponse, ErrorBody>::read(input);
        match outcome::verdict(Op::Token, Attempt::First, &answer.reply()) {
            Verdict::Success => {
                if let Some(token) = answer.value {
                    self.tokens.store(token, now.instant);
                    self.after_token(then, now);
                    return;
                }
                self.later(now, |at| State::Token { then, at });
            }
            Verdict::Refused => {
                error!("momo token: credentials refused");
                self.give_up(Refusal::Unauthorized);
            }
            Verdict::Repeat | Verdict::Resolve | Verdict::Renew => {
                self.later(now, |at| State::Token { then, at })
            }
        }
    }

    /// The token was refused by a call: renew it once, then the call again.
    fn renew(&mut self, then: AfterToken, now: Now) {
        if self.refreshed_after_401 {
            self.give_up(Refusal::Unauthorized);
            return;
        }
        self.refreshed_after_401 = true;
        self.tokens.invalidate();
        self.set_state(State::Token {
            then,
            at: now.instant,
        });
    }

    fn on_create(&mut self, input: Input<'_>, now: Now) {
        let answer = OutcomeAnswer::<(), ErrorBody>::status_only(input);
        let verdict = outcome::verdict(Op::Create, self.create_attempt(), &answer.reply());
        if verdict != Verdict::Renew {
            self.refreshed_after_401 = false;
        }
        let reached = !matches!(input, Input::Failed(f) if !f.may_have_reached());
        match verdict {
            Verdict::Success => {
                self.maybe_created = true;
                self.acknowledged = true;
                self.retry.reset();
                self.later(now, |at| State::Polling { at });
            }
            Verdict::Renew => self.renew(AfterToken::Create, now),
            Verdict::Resolve => {
                // It may exist (a lost answer, a 5xx, a 409 for this
                // reference): learn the outcome by polling the same
                // reference, never by posting blindly.
                self.maybe_created = true;
                // "409 RESOURCE_ALREADY_EXIST": MoMo has this reference.
                if answer
                    .error
                    .as_ref()
                    .is_some_and(|e| e.code == ErrorReason::ResourceAlreadyExist)
                {
                    self.acknowledged = true;
                }
                warn!(
                    "momo: CreatePayments for {} not final; polling",
                    self.reference_id
                );
                self.retry.reset();
                self.later(now, |at| State::Polling { at });
            }
            Verdict::Repeat => {
                // Not processed (or never sent): the same reference again.
                self.maybe_created |= reached;
                self.later(now, |at| State::Creating { at });
            }
            Verdict::Refused => {
                let reason = answer.error.map(|b| b.code);
                warn!("momo: CreatePayments refused");
                self.finish(PaymentOutcome::Refused(Refusal::BadRequest(reason)));
            }
        }
    }

    /// Whether an earlier CreatePayments with this reference may have
    /// reached MoMo.
    fn create_attempt(&self) -> Attempt {
        if self.maybe_created {
            Attempt::Repeat
        } else {
            Attempt::First
        }
    }

    fn on_status(&mut self, input: Input<'_>, now: Now) {
        let answer = OutcomeAnswer::<PaymentStatus, ErrorBody>::read(input);
        let verdict = outcome::verdict(Op::Status, Attempt::Repeat, &answer.reply());
        if verdict != Verdict::Renew {
            self.refreshed_after_401 = false;
        }
        match verdict {
            Verdict::Success => {
                if let Some(status) = answer.value {
                    match outcome::standing(&status.status) {
                        Standing::Paid => {
                            self.finish(PaymentOutcome::Successful {
                                reference_id: self.reference_id,
                                financial_transaction_id: status.financial_transaction_id,
                            });
                            return;
                        }
                        Standing::Unpaid => {
                            self.finish(PaymentOutcome::Failed {
                                reference_id: self.reference_id,
                                reason: status.reason.map(|r| r.code()),
                            });
                            return;
                        }
                        Standing::Open => {}
                    }
                }
            }
            Verdict::Renew if !self.refreshed_after_401 => {
                self.renew(AfterToken::Poll, now);
                return;
            }
            Verdict::Refused if !self.acknowledged => {
                // MoMo does not know the reference and never said it did:
                // the create was lost on its way. Repeat it, same reference.
                warn!(
                    "momo: {} unknown to MoMo; repeating CreatePayments",
                    self.reference_id
                );
                self.later(now, |at| State::Creating { at });
                return;
            }
            _ => {}
        }
        // CREATED, PENDING, 404 right after the 202, 5xx, garbage: ask again.
        self.later(now, |at| State::Polling { at });
    }

    fn send(&mut self, head: RequestHead, body_len: usize, next: State) -> Output<'static> {
        self.set_state(next);
        Output::Send(Transmit { head, body_len })
    }
}

/// The status record that protects the payment's request.
impl RecordSource for Payment<'_> {
    fn record(&self) -> Option<Record> {
        Some(Payment::record(self))
    }
}

impl Flow for Payment<'_> {
    type Outcome = PaymentOutcome;

    fn outcome(&self) -> Option<&PaymentOutcome> {
        self.outcome.as_ref()
    }

    fn take_outcome(&mut self) -> Option<PaymentOutcome> {
        self.outcome.take()
    }

    fn deadline(&self) -> Option<Instant> {
        Some(Payment::deadline(self))
    }

    #[inline(never)]
    fn poll(&mut self, now: Now, body: &mut [u8]) -> Result<Output<'_>, FlowError> {
        loop {
            match self.state {
                State::Token { then, at } => {
                    if now.instant < at {
                        return Ok(Output::Wait(at));
                    }
                    let head = self.config.token_head()?;
                    return Ok(self.send(head, 0, State::AwaitingToken { then }));
                }
                State::Persisting => {
                    self.persisted = true;
                    self.set_state(State::Creating { at: now.instant });
                    return Ok(Output::Persist(StoreOp::Build(self)));
                }
                State::Creating { at } => {
                    if now.instant < at {
                        return Ok(Output::Wait(at));
                    }
                    if self.tokens.valid_at(now.instant).is_none() {
                        self.set_state(State::Token {
                            then: AfterToken::Create,
                            at: now.instant,
                        });
                        continue;
                    }
                    let len = json::encode(&self.body(), body)?;
                    let head =
                        self.config
                            .create_head(&self.reference_id, self.tokens, now.instant)?;
                    return Ok(self.send(head, len, State::AwaitingCreate));
                }
                State::Polling { at } => {
                    if now.instant < at {
                        return Ok(Output::Wait(at));
                    }
                    if self.tokens.valid_at(now.instant).is_none() {
                        self.set_state(State::Token {
                            then: AfterToken::Poll,
                            at: now.instant,
                        });
                        continue;
                    }
                    let head = self.config.api_head(
                        path::get_payment_status(&self.reference_id)?,
                        self.tokens,
                        now.instant,
                    )?;
                    return Ok(self.send(head, 0, State::AwaitingStatus));
                }
                State::Settling => {
                    self.set_state(State::Final);
                    return Ok(Output::Persist(StoreOp::Remove(self.reference_id)));
                }
                State::Final => {
                    return self
                        .outcome
                        .as_ref()
                        .map(|_| Output::Done)
                        .ok_or(FlowError::Finished);
                }
                State::AwaitingToken { .. } | State::AwaitingCreate | State::AwaitingStatus => {
                    return Err(FlowError::AwaitingInput);
                }
            }
        }
    }

    fn handle(&mut self, input: Input<'_>, now: Now) {
        match self.state {
            State::AwaitingToken { then } => self.on_token(then, input, now),
            State::AwaitingCreate => self.on_create(input, now),
            State::AwaitingStatus => self.on_status(input, now),
            other => warn!("momo payment: input ignored in state {}", other),
        }
    }
}

/// A MoMo call that moves no money: the token, a payment's status.
pub type MomoCall<T, E> = crate::flow::Call<'static, (), T, E>;

/// `POST /collection/token/`: a bearer token for the API user (kept with
/// [`TokenCache::store`]). Its refusal body is the token endpoint's own.
pub fn access_token(
    config: &Config,
    now: Now,
    rng: &mut impl RngCore,
) -> Result<MomoCall<TokenResponse, super::error::TokenError>, HeadError> {
    Ok(crate::flow::Call::new(
        config.token_head()?,
        None,
        now,
        config.poll_deadline,
        rng.next_u32(),
    ))
}

/// `GET /collection/v2_0/payment/{referenceId}` (read as `T`:
/// [`PaymentStatus`], or [`crate::json::Flat`] for a console) with the token of
/// `tokens`: where a payment stands, for an operator. A 404 (MoMo does not
/// know the reference) is a final answer here; the flow and the outbox,
/// which sent the payment, read it their own way.
pub fn payment_status<T: crate::json::Decode>(
    config: &Config,
    tokens: &TokenCache,
    reference_id: &Uuid,
    now: Now,
    rng: &mut impl RngCore,
) -> Result<MomoCall<T, ErrorBody>, HeadError> {
    let head = config.api_head(path::get_payment_status(reference_id)?, tokens, now.instant)?;
    Ok(crate::flow::Call::new(
        head,
        None,
        now,
        config.poll_deadline,
        rng.next_u32(),
    ))
}
