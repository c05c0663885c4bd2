//! Electrum sales: airtime/data purchases and vouchers, with the
//! confirmation or reversal that settles each.
//!
//! ```text
//! PersistingOrder → Ordering → PersistingConfirm → Confirming → Removing → Final
//!                      │ unknown (500, 504, lost answer, unreadable 2xx)
//!                      ├──────────→ PersistingReversal → Reversing → Removing → Final
//!                      │ (provider not reversible)
//!                      └──────────→ Checking (status) → PersistingConfirm …
//! ```
//!
//! - Before the purchase (or voucher request) leaves, the record that can
//!   undo it is persisted: a reversal carrying the request's `id` (or, for
//!   a provider that cannot reverse, a status check). One record per sale,
//!   under the sale's key, so replacing it with the confirmation once the
//!   purchase succeeds is a single atomic overwrite.
//! - Outcome rules (Electrum's protocol guide, as [`super::outcome`]
//!   states them): 2xx is success; 500, 504 and no answer are unknown;
//!   400, 404, 501, 503 and anything else failed. A confirmation or
//!   reversal refused for good settles nothing: its record is set aside
//!   for an operator ([`Confirmation::NeedsAttention`], or a pending
//!   outcome whose record carries its [`crate::outbox::Attention`]).
//!   400 `DUPLICATE_RECORD` on a new purchase is retried under a new id
//!   (the record is rewritten first).
//! - Advices are repeated with the same `id` until a final answer; 404 on a
//!   reversal means there was nothing to reverse. A deadline hands them to
//!   the outbox ([`crate::delivery`]) with the record still stored.
//! - The trial ([`trial`]) is a separate no-money call: a declined trial
//!   takes no tender and sends nothing else.

use core::fmt;

use heapless::String;
use rand_core::RngCore;

use super::error::{ErrorDetail, ErrorType};
use super::outcome::{self, Op, Refusal};
use super::path;
use super::wire::{
    Amounts, BasicReversal, Institution, Originator, PurchaseRequest, PurchaseResponse,
    RequestError, ReversalReason, Tenders, ThirdPartyIdentifier, ThirdPartyIdentifiers, Voucher,
    VoucherConfirmation, VoucherRequest, VoucherResponse, INSTITUTION_ID_CAP,
};
use crate::flow::{Flow, FlowError, Input, Money, Now, Output, Transmit};
use crate::fmt::Secret;
use crate::http::{Api, HeadError, RequestHead, Status};
use crate::outcome::{Answer as OutcomeAnswer, Attempt, Verdict};

use crate::id::Uuid;
use crate::json::{self, Decode as _};
use crate::outbox::{Advice, Backoff, Record, RecordSource, Retry, StoreOp};
use crate::time::{Duration, Instant, Timestamp};

/// Longest Basic-auth password kept.
pub const PASSWORD_CAP: usize = 64;

/// How often a new purchase id is tried after `DUPLICATE_RECORD` before the
/// sale is reported failed: a second collision of random v4 ids means
/// something else is wrong.
pub const MAX_DUPLICATE_RETRIES: u32 = 2;

/// Repeats of one request or advice within a sale: 1 s doubling to 10 s.
pub const RETRY_BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(1),
    max: Duration::from_secs(10),
};

/// How the terminal talks to Electrum.
#[derive(Debug, Clone)]
pub struct Config {
    /// Basic-auth user name. Electrum's test server checks it against
    /// `client.id`, the interface against the originator institution id:
    /// both are set from this one value.
    pub username: String<INSTITUTION_ID_CAP>,
    /// Basic-auth password.
    pub password: Secret<String<PASSWORD_CAP>>,
    /// This terminal: institution, terminal id, merchant.
    pub originator: Originator,
    /// The institution sending to Electrum (its `id` is `username`).
    pub client: Institution,
    /// How long one step may keep retrying before the sale reports.
    pub deadline: Duration,
}

impl Config {
    /// Basic auth, and the JSON body type when the request has a body.
    pub(crate) fn head(
        &self,
        mut head: RequestHead,
        json_body: bool,
    ) -> Result<RequestHead, HeadError> {
        head.for_api(Api::Electrum)
            .basic(&self.username, &self.password)?;
        if json_body {
            head.json_body()?;
        }
        Ok(head)
    }

    fn identifiers(&self, reference: &Uuid) -> ThirdPartyIdentifiers {
        let mut ids = ThirdPartyIdentifiers::new();
        let mut transaction_identifier = String::new();
        // 32 hex digits fit TRANSACTION_IDENTIFIER_CAP (48).
        let _ = fmt::write(
            &mut transaction_identifier,
            format_args!("{}", Hex(reference.as_bytes())),
        );
        let _ = ids.push(ThirdPartyIdentifier {
            institution_id: self.originator.institution.id.clone(),
            transaction_identifier: Some(transaction_identifier),
        });
        ids
    }
}

struct Hex<'a>(&'a [u8]);
impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A trial purchase: no financial effect, decides whether to take tender.
/// Its answer must read as a purchase response, and is not kept.
pub type Trial<'a> =
    crate::flow::Call<'a, PurchaseRequest, json::Checked<PurchaseResponse>, ErrorDetail>;

/// Why a trial was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TrialError {
    /// The request breaks Electrum's rules.
    Invalid(RequestError),
    /// The request head could not be built (credentials too long).
    Head(HeadError),
}

/// Fill a voucher request's `id`, `time`, originator, client and
/// identifiers, and check it against Electrum's rules.
fn prepare_voucher(
    config: &Config,
    request: &mut VoucherRequest,
    now: Now,
    rng: &mut impl RngCore,
) -> Result<(), RequestError> {
    request.id = Uuid::new_v4(rng);
    request.time = now.unix.to_timestamp();
    request.originator = config.originator.clone();
    request.client = config.client.clone();
    request.third_party_identifiers = config.identifiers(&request.id);
    request.validate()
}

/// Give `request` a fresh `id`, the time, and this terminal's originator,
/// client and identifiers, then check it against Electrum's rules. A trial
/// and the purchase after it each get their own id.
pub fn prepare(
    config: &Config,
    request: &mut PurchaseRequest,
    now: Now,
    rng: &mut impl RngCore,
) -> Result<(), RequestError> {
    request.id = Uuid::new_v4(rng);
    request.time = now.unix.to_timestamp();
    request.originator = config.originator.clone();
    request.client = config.client.clone();
    request.third_party_identifiers = config.identifiers(&request.id);
    request.validate()
}

/// The trial of a [`prepare`]d request.
pub fn trial<'a>(
    config: &Config,
    request: &'a PurchaseRequest,
    now: Now,
    rng: &mut impl RngCore,
) -> Result<Trial<'a>, TrialError> {
    request.validate().map_err(TrialError::Invalid)?;
    let head = path::purchase_trial()
        .and_then(|h| config.head(h, true))
        .map_err(TrialError::Head)?;
    Ok(crate::flow::Call::new(
        head,
        Some(request),
        now,
        config.deadline,
        rng.next_u32(),
    ))
}

/// What is being sold.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // no heap; one per sale
enum Order {
    Airtime(PurchaseRequest),
    Voucher(VoucherRequest),
}

impl Order {
    fn id(&self) -> Uuid {
        match self {
            Self::Airtime(r) => r.id,
            Self::Voucher(r) => r.id,
        }
    }
    fn identifiers(&self) -> &ThirdPartyIdentifiers {
        match self {
            Self::Airtime(r) => &r.third_party_identifiers,
            Self::Voucher(r) => &r.third_party_identifiers,
        }
    }
    fn amounts(&self) -> Option<&Amounts> {
        match self {
            Self::Airtime(r) => r.amounts.as_ref(),
            Self::Voucher(r) => r.amounts.as_ref(),
        }
    }
    fn tenders(&self) -> Option<&Tenders> {
        match self {
            Self::Airtime(r) => r.tenders.as_ref(),
            Self::Voucher(r) => r.tenders.as_ref(),
        }
    }
}

/// What Electrum answered to the sale.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // no heap; one per sale
pub enum Sold {
    /// A purchase (airtime, data, or a PIN-on-purchase product).
    Purchase(PurchaseResponse),
    /// A voucher: its PIN, serial number and slip.
    Voucher(VoucherResponse),
}

/// Whether the confirmation of a sale is done.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // no heap; one per sale
pub enum Confirmation {
    /// Electrum accepted it.
    Confirmed,
    /// Not final by the deadline: the outbox repeats it.
    Pending(Record),
    /// Electrum refused it with a final answer: the sale stands, and the
    /// record is set aside for an operator ([`crate::outbox::Attention`]).
    NeedsAttention(Record),
}

/// Why nothing was sold.
#[derive(Debug, Clone, PartialEq)]
pub enum NotSold {
    /// Electrum (or the provider) refused: the status and its error type.
    Declined(Status, Option<ErrorType>),
    /// The outcome was unknown and the reversal was accepted.
    Reversed,
    /// Electrum could not be reached; nothing was sent that could sell.
    Unreachable,
    /// The request breaks Electrum's rules; nothing was sent.
    Invalid(RequestError),
}

/// How a sale ended.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // no heap; one per sale
pub enum SaleOutcome {
    /// Sold: give the customer the slip (and the voucher PIN).
    Sold {
        /// The answer, with slip data and voucher.
        sold: Sold,
        /// Where the confirmation stands.
        confirmation: Confirmation,
    },
    /// Nothing sold: return the tender.
    NotSold(NotSold),
    /// Unknown, with the reversal or status check that will settle it in
    /// the outbox. Keep the tender until it does. A record set aside
    /// ([`Record::attention`]) will not settle by itself: an operator must.
    Pending(Record),
}

impl SaleOutcome {
    /// What happened to the customer's money.
    pub fn money(&self) -> Money {
        match self {
            Self::Sold { .. } => Money::Charged,
            Self::NotSold(_) => Money::NotCharged,
            Self::Pending(_) => Money::Pending,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum State {
    PersistingOrder,
    Ordering {
        at: Instant,
    },
    AwaitingOrder,
    PersistingConfirm,
    Confirming {
        at: Instant,
    },
    AwaitingConfirm,
    PersistingReversal,
    Reversing {
        at: Instant,
    },
    AwaitingReversal,
    Checking {
        at: Instant,
    },
    AwaitingCheck,
    /// Write the record set aside for an operator, then report.
    SettingAside,
    Removing,
    Final,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PersistingOrder => "PersistingOrder",
            Self::Ordering { .. } => "Ordering",
            Self::AwaitingOrder => "AwaitingOrder",
            Self::PersistingConfirm => "PersistingConfirm",
            Self::Confirming { .. } => "Confirming",
            Self::AwaitingConfirm => "AwaitingConfirm",
            Self::PersistingReversal => "PersistingReversal",
            Self::Reversing { .. } => "Reversing",
            Self::AwaitingReversal => "AwaitingReversal",
            Self::Checking { .. } => "Checking",
            Self::AwaitingCheck => "AwaitingCheck",
            Self::SettingAside => "SettingAside",
            Self::Removing => "Removing",
            Self::Final => "Final",
        })
    }
}

/// One sale: purchase or voucher, settled by confirmation or reversal.
pub struct Sale<'a> {
    config: &'a Config,
    order: Order,
    reversible: bool,
    sale: Uuid,
    seq: u32,
    created: Timestamp,
    /// The advice ids: the same on every repeat.
    confirmation_id: Uuid,
    reversal_id: Uuid,
    reversal_reason: ReversalReason,
    state: State,
    step_started: Instant,
    persisted: bool,
    /// What the sale has come to, changed in place as it goes on. Once
    /// Electrum's answer is read: `Sold`, with the confirmation `Pending`
    /// on the record that confirms it (what the outcome is if the sale
    /// ends there); then the final outcome, which [`Flow::outcome`] shows
    /// in the `Final` state. The answer (8 KB) is decoded here and never
    /// moved: each copy would be stack the TLS session cannot use.
    outcome: Option<SaleOutcome>,
    duplicates: u32,
    retry: Retry,
    /// Fresh ids for `DUPLICATE_RECORD` retries, drawn at construction.
    spare_ids: [Uuid; MAX_DUPLICATE_RETRIES as usize],
}

impl<'a> Sale<'a> {
    fn new(
        config: &'a Config,
        order: Order,
        reversible: bool,
        seq: u32,
        now: Now,
        rng: &mut impl RngCore,
    ) -> Self {
        Self {
            config,
            order,
            reversible,
            sale: Uuid::new_v4(rng),
            seq,
            created: now.unix.to_timestamp(),
            confirmation_id: Uuid::new_v4(rng),
            reversal_id: Uuid::new_v4(rng),
            reversal_reason: ReversalReason::Timeout,
            state: State::PersistingOrder,
            step_started: now.instant,
            persisted: false,
            outcome: None,
            duplicates: 0,
            retry: Retry::new(rng.next_u32()),
            spare_ids: [Uuid::new_v4(rng), Uuid::new_v4(rng)],
        }
    }

    /// `check`'s refusal, if any, ends the sale before it begins (in
    /// place: a sale is 17 KB, and each move of it is a copy on the stack).
    fn refuse_if(&mut self, check: Result<(), RequestError>) {
        if let Err(e) = check {
            self.outcome = Some(SaleOutcome::NotSold(NotSold::Invalid(e)));
            self.state = State::Final;
        }
    }

    /// Buy airtime or data. `request` carries the product, amounts,
    /// tenders and MSISDNs; its `id`, `time`, originator, client and
    /// identifiers are set here. `reversible: false` for providers that
    /// cannot reverse: an unknown outcome is then settled by status checks.
    pub fn airtime(
        config: &'a Config,
        mut request: PurchaseRequest,
        reversible: bool,
        seq: u32,
        now: Now,
        rng: &mut impl RngCore,
    ) -> Self {
        let check = prepare(config, &mut request, now, rng);
        let mut sale = Self::new(config, Order::Airtime(request), reversible, seq, now, rng);
        sale.refuse_if(check);
        sale
    }

    /// [`Sale::airtime`], built in `slot`: where the caller keeps it (a
    /// sale is 17 KB; returned by value it is copied on the stack).
    pub fn airtime_in<'s>(
        slot: &'s mut Option<Self>,
        config: &'a Config,
        mut request: PurchaseRequest,
        reversible: bool,
        seq: u32,
        now: Now,
        rng: &mut impl RngCore,
    ) -> &'s mut Self {
        let check = prepare(config, &mut request, now, rng);
        let order = Order::Airtime(request);
        let sale = slot.insert(Self::new(config, order, reversible, seq, now, rng));
        sale.refuse_if(check);
        sale
    }

    /// Provision a voucher (vouchers are always reversible).
    pub fn voucher(
        config: &'a Config,
        mut request: VoucherRequest,
        seq: u32,
        now: Now,
        rng: &mut impl RngCore,
    ) -> Self {
        let check = prepare_voucher(config, &mut request, now, rng);
        let mut sale = Self::new(config, Order::Voucher(request), true, seq, now, rng);
        sale.refuse_if(check);
        sale
    }

    /// [`Sale::voucher`], built in `slot` (see [`Sale::airtime_in`]).
    pub fn voucher_in<'s>(
        slot: &'s mut Option<Self>,
        config: &'a Config,
        mut request: VoucherRequest,
        seq: u32,
        now: Now,
        rng: &mut impl RngCore,
    ) -> &'s mut Self {
        let check = prepare_voucher(config, &mut request, now, rng);
        let order = Order::Voucher(request);
        let sale = slot.insert(Self::new(config, order, true, seq, now, rng));
        sale.refuse_if(check);
        sale
    }

    /// The `id` of the purchase or voucher request (as last sent).
    pub fn request_id(&self) -> Uuid {
        self.order.id()
    }

    fn set_state(&mut self, new: State) {
        if self.state != new {
            debug!("electrum sale: {} => {}", self.state, new);
        }
        self.state = new;
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

    /// The reversal, stamped `time` (when it is sent).
    fn reversal(&self, time: Timestamp) -> BasicReversal {
        BasicReversal {
            id: self.reversal_id,
            request_id: self.order.id(),
            time,
            third_party_identifiers: self.order.identifiers().clone(),
            stan: None,
            rrn: None,
            amounts: self.order.amounts().cloned(),
            reversal_reason: self.reversal_reason.clone(),
        }
    }

    /// The record that undoes (or resolves) the order if its outcome is
    /// never learned.
    fn undo_record(&self) -> Record {
        match (&self.order, self.reversible) {
            (Order::Airtime(_), true) => self.record(Advice::ElectrumPurchaseReversal(
                self.reversal(self.created),
            )),
            (Order::Airtime(r), false) => self.record(Advice::ElectrumPurchaseStatus {
                original_id: r.id,
                tenders: r.tenders.clone(),
            }),
            (Order::Voucher(_), _) => {
                self.record(Advice::ElectrumVoucherReversal(self.reversal(self.created)))
            }
        }
    }

    /// The record that confirms what Electrum sold.
    fn confirm_record(&self) -> Option<Record> {
        let Some(SaleOutcome::Sold { sold, .. }) = &self.outcome else {
            return None;
        };
        let advice = match sold {
            Sold::Purchase(response) => {
                let mut advice = response.confirmation(
                    self.confirmation_id,
                    self.order.id(),
                    self.created,
                    self.order.tenders().cloned(),
                );
                advice.amounts = advice.amounts.or_else(|| self.order.amounts().cloned());
                Advice::ElectrumPurchaseConfirmation(advice)
            }
            Sold::Voucher(response) => Advice::ElectrumVoucherConfirmation(VoucherConfirmation {
                id: self.confirmation_id,
                request_id: self.order.id(),
                time: self.created,
                third_party_identifiers: response.third_party_identifiers.clone(),
                stan: response.stan.clone(),
                rrn: response.rrn.clone(),
                amounts: response
                    .amounts
                    .clone()
                    .or_else(|| self.order.amounts().cloned()),
                tenders: self.order.tenders().cloned(),
                // VoucherConfirmation requires the voucher confirmed, by its
                // serial number; the PIN stays off flash and off the wire a
                // second time, and the instructions are the customer's.
                voucher: Some(Voucher {
                    pin: None,
                    expiry_date: response.voucher.expiry_date,
                    serial_number: response.voucher.serial_number.clone(),
                    batch_number: response.voucher.batch_number.clone(),
                    redeem_instructions: None,
                }),
            }),
        };
        Some(self.record(advice))
    }

    /// End with nothing sold.
    fn not_sold(&mut self, why: NotSold) {
        self.outcome = Some(SaleOutcome::NotSold(why));
        self.finished();
    }

    /// End with the outcome as it stands: set its record aside, remove the
    /// sale's record, or report.
    fn finished(&mut self) {
        let next = match &self.outcome {
            Some(
                SaleOutcome::Pending(r)
                | SaleOutcome::Sold {
                    confirmation: Confirmation::Pending(r) | Confirmation::NeedsAttention(r),
                    ..
                },
            ) if r.attention.is_some() => State::SettingAside,
            Some(
                SaleOutcome::Pending(_)
                | SaleOutcome::Sold {
                    confirmation: Confirmation::Pending(_),
                    ..
                },
            ) => State::Final,
            _ if self.persisted => State::Removing,
            _ => State::Final,
        };
        if let Some(outcome) = &self.outcome {
            info!("electrum sale {}: {}", self.order.id(), outcome.money());
        }
        self.set_state(next);
    }

    /// The record the outcome set aside, if any.
    fn set_aside_record(&self) -> Option<&Record> {
        match &self.outcome {
            Some(
                SaleOutcome::Pending(r)
                | SaleOutcome::Sold {
                    confirmation: Confirmation::Pending(r) | Confirmation::NeedsAttention(r),
                    ..
                },
            ) => Some(r).filter(|r| r.attention.is_some()),
            _ => None,
        }
    }

    /// Where the confirmation of what was sold stands.
    fn confirmation(&mut self) -> Option<&mut Confirmation> {
        match &mut self.outcome {
            Some(SaleOutcome::Sold { confirmation, .. }) => Some(confirmation),
            _ => None,
        }
    }

    /// The record that confirms the sale, while the confirmation runs.
    fn pending_confirmation(&self) -> Option<&Record> {
        match &self.outcome {
            Some(SaleOutcome::Sold {
                confirmation: Confirmation::Pending(record),
                ..
            }) => Some(record),
            _ => None,
        }
    }

    fn start_step(&mut self, state: State, now: Now) {
        self.retry.reset();
        self.step_started = now.instant;
        self.set_state(state);
    }

    /// Repeat after a backoff, or `at_deadline` when the step is out of time.
    fn repeat(
        &mut self,
        now: Now,
        again: fn(Instant) -> State,
        at_deadline: impl FnOnce(&mut Self),
    ) {
        let at = now.instant + self.retry.next_delay(RETRY_BACKOFF);
        if at > self.step_started + self.config.deadline {
            at_deadline(self);
        } else {
            self.set_state(again(at));
        }
    }

    /// The order's outcome is unknown: reverse it, or check its status.
    fn unknown(&mut self, reason: ReversalReason, now: Now) {
        if self.reversible {
            self.reversal_reason = reason;
            self.start_step(State::PersistingReversal, now);
        } else {
            self.start_step(State::Checking { at: now.instant }, now);
        }
    }

    fn pending(&mut self) {
        self.outcome = Some(SaleOutcome::Pending(self.undo_record()));
        self.finished();
    }

    /// Read what Electrum sold from `body` into `self.outcome`, decoded
    /// where it is kept (see [`Sale::outcome`](Self)), with the
    /// confirmation pending on its record. `false`, and no outcome, when
    /// it cannot be read.
    fn read_sold(&mut self, body: &[u8]) -> bool {
        // Confirmed for the moment of decoding only: the record that
        // confirms it replaces it below, or the outcome is cleared.
        self.outcome = Some(SaleOutcome::Sold {
            sold: match self.order {
                Order::Airtime(_) => Sold::Purchase(PurchaseResponse::placeholder()),
                Order::Voucher(_) => Sold::Voucher(VoucherResponse::placeholder()),
            },
            confirmation: Confirmation::Confirmed,
        });
        let read = match &mut self.outcome {
            Some(SaleOutcome::Sold {
                sold: Sold::Purchase(p),
                ..
            }) => json::decode_in(body, p).is_ok(),
            Some(SaleOutcome::Sold {
                sold: Sold::Voucher(v),
                ..
            }) => json::decode_in(body, v).is_ok(),
            _ => false,
        };
        match self.confirm_record().filter(|_| read) {
            Some(record) => {
                if let Some(confirmation) = self.confirmation() {
                    *confirmation = Confirmation::Pending(record);
                }
                true
            }
            None => {
                self.outcome = None;
                false
            }
        }
    }

    fn on_order(&mut self, input: Input<'_>, now: Now) {
        let answer = OutcomeAnswer::<(), ErrorDetail>::status_only(input);
        let verdict = outcome::verdict(Op::Purchase, Attempt::First, &answer.reply());
        let reason = match input {
            Input::Failed(_) => ReversalReason::Timeout,
            Input::Response { .. } => ReversalReason::ResponseNotFinal,
        };
        match verdict {
            Verdict::Success => {
                let read = match input {
                    Input::Response { body, .. } => self.read_sold(body),
                    Input::Failed(_) => false,
                };
                if read {
                    self.start_step(State::PersistingConfirm, now);
                } else {
                    warn!("electrum: unreadable answer to the sale");
                    self.unknown(ReversalReason::ResponseNotFinal, now);
                }
            }
            Verdict::Resolve => self.unknown(reason, now),
            // Never reached Electrum: the same request again.
            Verdict::Repeat | Verdict::Renew => self.repeat(
                now,
                |at| State::Ordering { at },
                |s| s.not_sold(NotSold::Unreachable),
            ),
            Verdict::Refused => {
                let status = answer.status.unwrap_or(Status(0));
                if outcome::refusal(answer.error.as_ref()) == Refusal::Duplicate
                    && self.duplicates < MAX_DUPLICATE_RETRIES
                {
                    self.new_id(now);
                    return;
                }
                warn!("electrum: sale declined with {}", status);
                let error = answer.error.map(|e| e.error_type);
                self.not_sold(NotSold::Declined(status, error));
            }
        }
    }

    /// `DUPLICATE_RECORD`: a new attempt needs a new id; its undo record is
    /// rewritten before it goes out.
    fn new_id(&mut self, now: Now) {
        let fresh = self
            .spare_ids
            .get(self.duplicates as usize)
            .copied()
            .unwrap_or(self.sale);
        self.duplicates += 1;
        warn!("electrum: DUPLICATE_RECORD, retrying as {}", fresh);
        match &mut self.order {
            Order::Airtime(r) => {
                r.id = fresh;
                r.third_party_identifiers = self.config.identifiers(&fresh);
            }
            Order::Voucher(r) => {
                r.id = fresh;
                r.third_party_identifiers = self.config.identifiers(&fresh);
            }
        }
        self.start_step(State::PersistingOrder, now);
    }

    fn on_confirm(&mut self, input: Input<'_>, now: Now) {
        let answer = OutcomeAnswer::<(), ErrorDetail>::status_only(input);
        match outcome::verdict(Op::Confirm, Attempt::Repeat, &answer.reply()) {
            Verdict::Success => {
                if let Some(confirmation) = self.confirmation() {
                    *confirmation = Confirmation::Confirmed;
                    self.finished();
                }
            }
            Verdict::Refused if outcome::refusal(answer.error.as_ref()) == Refusal::Settled => {
                // Reversed meanwhile: a reversed purchase cannot be confirmed.
                error!("electrum: confirmation refused, the sale was reversed");
                self.not_sold(NotSold::Reversed);
            }
            Verdict::Refused => {
                // Final: the sale stands unconfirmed; an operator must see it.
                let status = answer.status.unwrap_or(Status(0));
                error!(
                    "electrum: confirmation refused with {}; needs attention",
                    status
                );
                if let Some(c @ Confirmation::Pending(_)) = self.confirmation() {
                    if let Confirmation::Pending(record) =
                        core::mem::replace(c, Confirmation::Confirmed)
                    {
                        *c = Confirmation::NeedsAttention(record.set_aside(status));
                    }
                    self.finished();
                }
            }
            // At the deadline the confirmation stays pending: the outbox
            // repeats it.
            Verdict::Repeat | Verdict::Resolve | Verdict::Renew => {
                self.repeat(now, |at| State::Confirming { at }, Self::finished)
            }
        }
    }

    fn on_reversal(&mut self, input: Input<'_>, now: Now) {
        let answer = OutcomeAnswer::<(), ErrorDetail>::status_only(input);
        match outcome::verdict(Op::Reverse, Attempt::Repeat, &answer.reply()) {
            Verdict::Success => self.not_sold(NotSold::Reversed),
            Verdict::Refused if outcome::refusal(answer.error.as_ref()) == Refusal::Settled => {
                // Already confirmed: final, the sale stands — but this
                // terminal has no slip for it. Say so loudly and leave the
                // record to the outbox, which settles it as charged.
                error!("electrum: reversal refused, the purchase was already settled");
                self.pending();
            }
            Verdict::Refused => {
                // Final, and nothing settled: the sale's outcome is unknown
                // and no repeat will change it. Set aside for an operator.
                let status = answer.status.unwrap_or(Status(0));
                error!(
                    "electrum: reversal refused with {}; needs attention",
                    status
                );
                self.outcome = Some(SaleOutcome::Pending(self.undo_record().set_aside(status)));
                self.finished();
            }
            // Not final: the same reversal again; at the deadline the
            // outbox keeps it.
            Verdict::Repeat | Verdict::Resolve | Verdict::Renew => {
                self.repeat(now, |at| State::Reversing { at }, Self::pending)
            }
        }
    }

    fn on_check(&mut self, input: Input<'_>, now: Now) {
        // The purchase, decoded where the sale keeps it (see `read_sold`).
        let answer =
            OutcomeAnswer::<(), ErrorDetail>::read_with(input, |body| self.read_sold(body));
        match outcome::verdict(Op::Status, Attempt::Repeat, &answer.reply()) {
            Verdict::Success if answer.value.is_some() => {
                self.start_step(State::PersistingConfirm, now);
                return;
            }
            Verdict::Success => {}
            Verdict::Refused => {
                // Electrum has no such purchase: it never arrived.
                let status = answer.status.unwrap_or(Status(0));
                self.not_sold(NotSold::Declined(status, None));
                return;
            }
            Verdict::Repeat | Verdict::Resolve | Verdict::Renew => {}
        }
        // Not final: what was read (a 2xx the table doubts) is not kept.
        self.outcome = None;
        self.repeat(now, |at| State::Checking { at }, Self::pending);
    }

    /// The steps of [`Flow::poll`], never inlined into it.
    #[inline(never)]
    fn persist_undo(&self) -> Result<Output<'_>, FlowError> {
        Ok(Output::Persist(StoreOp::Build(self)))
    }

    #[inline(never)]
    fn send_order(&mut self, body: &mut [u8]) -> Result<Output<'_>, FlowError> {
        let (head, len) = match &self.order {
            Order::Airtime(r) => (path::purchase()?, json::encode(r, body)?),
            Order::Voucher(r) => (path::provision_voucher(&r.id)?, json::encode(r, body)?),
        };
        let head = self.config.head(head, true)?;
        Ok(self.send(head, len, State::AwaitingOrder))
    }

    #[inline(never)]
    fn persist_confirmation(&self) -> Result<Output<'_>, FlowError> {
        let record = self.pending_confirmation().ok_or(FlowError::Finished)?;
        Ok(Output::Persist(StoreOp::Put(record)))
    }

    #[inline(never)]
    fn send_confirmation(&mut self, now: Now, body: &mut [u8]) -> Result<Output<'_>, FlowError> {
        // Sent stamped with the time it is sent; the record keeps the
        // time it was stored with (stamped for the encoding only: a copy
        // of the record is kilobytes of stack).
        let time = now.unix.to_timestamp();
        let Some(Confirmation::Pending(record)) = self.confirmation() else {
            return Err(FlowError::Finished);
        };
        let (head, len) = match &mut record.advice {
            Advice::ElectrumPurchaseConfirmation(a) => {
                let stored = core::mem::replace(&mut a.time, time);
                let len = json::encode(&*a, body);
                a.time = stored;
                (path::purchase_confirmation()?, len?)
            }
            Advice::ElectrumVoucherConfirmation(a) => {
                let stored = core::mem::replace(&mut a.time, time);
                let len = json::encode(&*a, body);
                a.time = stored;
                (path::confirm_voucher(&a.request_id, &a.id)?, len?)
            }
            _ => return Err(FlowError::Finished),
        };
        let head = self.config.head(head, true)?;
        Ok(self.send(head, len, State::AwaitingConfirm))
    }

    #[inline(never)]
    fn send_reversal(&mut self, now: Now, body: &mut [u8]) -> Result<Output<'_>, FlowError> {
        let reversal = self.reversal(now.unix.to_timestamp());
        let head = match &self.order {
            Order::Airtime(_) => path::purchase_reversal()?,
            Order::Voucher(r) => path::reverse_voucher(&r.id, &reversal.id)?,
        };
        let len = json::encode(&reversal, body)?;
        let head = self.config.head(head, true)?;
        Ok(self.send(head, len, State::AwaitingReversal))
    }

    #[inline(never)]
    fn send_check(&mut self) -> Result<Output<'_>, FlowError> {
        let head = self
            .config
            .head(path::purchase_status(&self.order.id())?, false)?;
        Ok(self.send(head, 0, State::AwaitingCheck))
    }

    #[inline(never)]
    fn persist_set_aside(&self) -> Result<Output<'_>, FlowError> {
        let record = self.set_aside_record().ok_or(FlowError::Finished)?;
        Ok(Output::Persist(StoreOp::Put(record)))
    }

    fn send(&mut self, head: RequestHead, body_len: usize, next: State) -> Output<'static> {
        self.set_state(next);
        Output::Send(Transmit { head, body_len })
    }
}

/// The record that undoes (or looks up) the order, before it is sent.
impl RecordSource for Sale<'_> {
    fn record(&self) -> Option<Record> {
        Some(self.undo_record())
    }
}

impl Flow for Sale<'_> {
    type Outcome = SaleOutcome;

    fn outcome(&self) -> Option<&SaleOutcome> {
        self.outcome.as_ref().filter(|_| self.state == State::Final)
    }

    fn take_outcome(&mut self) -> Option<SaleOutcome> {
        match self.state {
            State::Final => self.outcome.take(),
            _ => None,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        Some(self.step_started + self.config.deadline)
    }

    #[inline(never)]
    fn poll(&mut self, now: Now, body: &mut [u8]) -> Result<Output<'_>, FlowError> {
        // Each step in a function of its own: a record, a head and a body
        // are kilobytes each, and one frame holding every step's would add
        // them up.
        match self.state {
            State::PersistingOrder => {
                self.persisted = true;
                self.set_state(State::Ordering { at: now.instant });
                self.persist_undo()
            }
            State::Ordering { at } if now.instant < at => Ok(Output::Wait(at)),
            State::Ordering { .. } => self.send_order(body),
            State::PersistingConfirm => {
                self.set_state(State::Confirming { at: now.instant });
                self.persist_confirmation()
            }
            State::Confirming { at } if now.instant < at => Ok(Output::Wait(at)),
            State::Confirming { .. } => self.send_confirmation(now, body),
            State::PersistingReversal => {
                self.set_state(State::Reversing { at: now.instant });
                self.persist_undo()
            }
            State::Reversing { at } if now.instant < at => Ok(Output::Wait(at)),
            State::Reversing { .. } => self.send_reversal(now, body),
            State::Checking { at } if now.instant < at => Ok(Output::Wait(at)),
            State::Checking { .. } => self.send_check(),
            State::SettingAside => {
                self.set_state(State::Final);
                self.persist_set_aside()
            }
            State::Removing => {
                self.set_state(State::Final);
                Ok(Output::Persist(StoreOp::Remove(self.sale)))
            }
            State::Final => match self.outcome {
                Some(_) => Ok(Output::Done),
                None => Err(FlowError::Finished),
            },
            State::AwaitingOrder
            | State::AwaitingConfirm
            | State::AwaitingReversal
            | State::AwaitingCheck => Err(FlowError::AwaitingInput),
        }
    }

    fn handle(&mut self, input: Input<'_>, now: Now) {
        match self.state {
            State::AwaitingOrder => self.on_order(input, now),
            State::AwaitingConfirm => self.on_confirm(input, now),
            State::AwaitingReversal => self.on_reversal(input, now),
            State::AwaitingCheck => self.on_check(input, now),
            other => warn!("electrum sale: input ignored in state {}", other),
        }
    }
}

/// An MSISDN lookup: operator, products and promotion for a number (read
/// as `T`: [`MsisdnInfoResponse`](super::wire::MsisdnInfoResponse), or
/// [`crate::json::Flat`] for a console).
pub type Lookup<T = super::wire::MsisdnInfoResponse> =
    crate::flow::Call<'static, (), T, ErrorDetail>;

/// `GET msisdn?msisdn=…` (any 2xx is success: the publisher's test server
/// answers 202).
pub fn lookup_msisdn<T: crate::json::Decode>(
    config: &Config,
    msisdn: &str,
    filters: &path::LookupFilters<'_>,
    now: Now,
    rng: &mut impl RngCore,
) -> Result<Lookup<T>, HeadError> {
    let head = config.head(path::lookup_msisdn(msisdn, filters)?, false)?;
    Ok(crate::flow::Call::new(
        head,
        None,
        now,
        config.deadline,
        rng.next_u32(),
    ))
}

/// The product catalogue of a channel (read as `T`, like [`Lookup`]).
pub type Products<T = super::wire::ProductList> = crate::flow::Call<'static, (), T, ErrorDetail>;

/// `GET products?channelName=…`.
pub fn list_products<T: crate::json::Decode>(
    config: &Config,
    channel_name: &str,
    now: Now,
    rng: &mut impl RngCore,
) -> Result<Products<T>, HeadError> {
    let head = config.head(path::list_products(channel_name)?, false)?;
    Ok(crate::flow::Call::new(
        head,
        None,
        now,
        config.deadline,
        rng.next_u32(),
    ))
}

/// A purchase's status, as Electrum keeps it (read as `T`, like
/// [`Lookup`]).
pub type PurchaseStatus<T = super::wire::PurchaseResponse> =
    crate::flow::Call<'static, (), T, ErrorDetail>;

/// Which purchase [`purchase_status`] asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusQuery<'a> {
    /// By the `id` of the purchase request (`originalMsgId`).
    OriginalMessage(&'a Uuid),
    /// By the provider's reference for it (`purchaseReference`, `provider`).
    Reference {
        /// The provider's purchase reference.
        purchase_reference: &'a str,
        /// The provider's name.
        provider: &'a str,
    },
}

/// `GET purchases/status?…`: moves no money, so a [`crate::flow::Call`]
/// (the outbox's own status checks go through its delivery instead).
pub fn purchase_status<T: crate::json::Decode>(
    config: &Config,
    query: StatusQuery<'_>,
    now: Now,
    rng: &mut impl RngCore,
) -> Result<PurchaseStatus<T>, HeadError> {
    let path = match query {
        StatusQuery::OriginalMessage(id) => path::purchase_status(id)?,
        StatusQuery::Reference {
            purchase_reference,
            provider,
        } => path::purchase_status_by_reference(purchase_reference, provider)?,
    };
    let head = config.head(path, false)?;
    Ok(crate::flow::Call::new(
        head,
        None,
        now,
        config.deadline,
        rng.next_u32(),
    ))
}
