//! The store-and-forward outbox: advices and reversals that must reach the
//! provider, repeated with the same identity until a final answer.
//!
//! This module holds the scheduling half, which is pure bookkeeping:
//!
//! - an index of pending entries (key, sale, creation order, attempts,
//!   next attempt) of fixed capacity [`OUTBOX_CAPACITY`]: new sales are
//!   refused when it cannot take their advices, never by dropping one;
//! - order per sale: only the oldest pending entry of a sale is ever due,
//!   so a sale's advices arrive in the order they were made;
//! - bounded exponential backoff with jitter ([`Backoff`]); entries never
//!   expire on their own;
//! - restore on boot from what the [`Store`] holds.
//!
//! The records themselves live in the [`Store`]; the index keeps only what
//! scheduling needs, so RAM does not grow with record size.

use core::fmt;

use crate::json::{Decode, Encode};
use heapless::{String, Vec};

use crate::conductor::wire::{PaymentMethod, ID_CAP, REASON_CAP};
use crate::id::{ExternalReference, Uuid};
use crate::time::{Duration, Instant, Timestamp};

/// Pending advices the terminal holds at once. Each one is a sale whose
/// outcome is not yet settled with the provider; sixteen of them means the
/// link has been down for a while, and selling more would only pile up
/// customers waiting for their money. The terminal stops selling instead.
pub const OUTBOX_CAPACITY: usize = 16;

/// Entries one sale may add: an Electrum purchase can need its reversal and,
/// for a provider that cannot reverse, a status check; a voucher a
/// confirmation or a reversal. A sale starts only if this many are free.
pub const ENTRIES_PER_SALE: usize = 2;

/// Records set aside for an operator ([`Attention`]) that the terminal
/// holds at once. Each is a sale the provider settled in a way the terminal
/// cannot finish (a final refusal of an advice): the shop must call the
/// provider about it. They do not block sales the way pending advices do,
/// but eight unacknowledged means nobody is reading the slips; the
/// terminal then stops selling until they are acknowledged.
pub const ATTENTION_CAPACITY: usize = 8;

/// Records a [`Store`] must be able to hold: every pending advice and
/// every record set aside.
pub const STORE_CAPACITY: usize = OUTBOX_CAPACITY + ATTENTION_CAPACITY;

/// Largest encoded record: an Electrum confirmation with two tenders and
/// all amounts is about 900 bytes of JSON; 2 KiB leaves headroom and still
/// fits a flash page of the smallest supported part.
pub const RECORD_MAX_LEN: usize = 2048;

/// What a Conductor advice is about: a transaction by id, or a partner
/// transaction by external reference.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum ConductorTarget {
    /// `/conductor/v1/transactions/{id}`
    Transaction(String<ID_CAP>),
    /// `/conductor/v1/partners/transactions/{external_reference}`
    Partner(ExternalReference),
}

/// The pending work a record stands for: enough to rebuild the request
/// byte for byte (same ids, same idempotency key) after a power loss.
/// Credentials are not stored; they come from the configuration.
// No heap to box into; records are built, encoded and dropped one at a time.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub enum Advice {
    /// Conductor complete, repeated under the same `Idempotency-Key`.
    ConductorComplete {
        /// Which transaction.
        target: ConductorTarget,
        /// The key of the first attempt, reused on every repeat.
        idempotency_key: Uuid,
        /// How the customer paid.
        payment_method: PaymentMethod,
    },
    /// Conductor cancel, repeated under the same `Idempotency-Key`.
    ConductorCancel {
        /// Which transaction.
        target: ConductorTarget,
        /// The key of the first attempt, reused on every repeat.
        idempotency_key: Uuid,
        /// Why the money could not be collected.
        reason: Option<String<REASON_CAP>>,
    },
    /// A create with `complete: true` on the transactions API (primitive
    /// flow 1): repeated under the same key until an answer that is not a
    /// replayed 500 (Conductor has no lookup by external reference there).
    ConductorCreate {
        /// The key of the first attempt.
        idempotency_key: Uuid,
        /// The request, byte for byte the same on every repeat.
        request: crate::conductor::wire::CreateTransactionRequest,
    },
    /// A partner create with `complete: true` whose answer was lost: ask
    /// for the transaction by its external reference until it is final.
    ConductorPartnerStatus {
        /// The partner's reference.
        external_reference: ExternalReference,
    },
    /// Electrum purchase reversal (reason TIMEOUT or RESPONSE_NOT_FINAL),
    /// stored before the purchase leaves; repeated with its `id` until a
    /// final answer (404 included: nothing to reverse).
    ElectrumPurchaseReversal(crate::electrum::wire::BasicReversal),
    /// Electrum purchase confirmation with the tenders, repeated with its
    /// `id` until a final answer.
    ElectrumPurchaseConfirmation(crate::electrum::wire::TenderAdvice),
    /// A purchase from a provider that cannot reverse, outcome unknown:
    /// ask its status by the request id; confirm it if it succeeded.
    ElectrumPurchaseStatus {
        /// The purchase request's `id`.
        original_id: Uuid,
        /// The tenders, for the confirmation.
        tenders: Option<crate::electrum::wire::Tenders>,
    },
    /// Electrum voucher confirmation.
    ElectrumVoucherConfirmation(crate::electrum::wire::VoucherConfirmation),
    /// Electrum voucher reversal, stored before the voucher request leaves.
    ElectrumVoucherReversal(crate::electrum::wire::BasicReversal),
    /// A MoMo payment whose outcome is not known yet: poll its status by
    /// the X-Reference-Id until SUCCESSFUL or FAILED. Stored before the
    /// CreatePayments call leaves, so the create may never have arrived:
    /// a status 404 ("unknown") is answered by sending `create` again
    /// under the same reference — MoMo creates it then, or answers 409 if
    /// it has it — so the record always ends SUCCESSFUL or FAILED.
    MomoStatus {
        /// The X-Reference-Id of the CreatePayments call.
        reference_id: Uuid,
        /// The CreatePayments body (absent in records of earlier versions:
        /// those are only polled).
        create: Option<crate::momo::wire::CreatePaymentsRequest>,
    },
}

impl Advice {
    /// Stamp an Electrum advice with `time`, when it is sent: Electrum's
    /// `time` is "when the sender sent it", on every repeat (the `id`
    /// stays the same). Other advices carry no time.
    pub fn stamp(&mut self, time: Timestamp) {
        match self {
            Self::ElectrumPurchaseReversal(a) | Self::ElectrumVoucherReversal(a) => a.time = time,
            Self::ElectrumPurchaseConfirmation(a) => a.time = time,
            Self::ElectrumVoucherConfirmation(a) => a.time = time,
            _ => {}
        }
    }

    /// What the advice does, for operators listing the outbox.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::ConductorComplete { .. } => "conductor complete",
            Self::ConductorCancel { .. } => "conductor cancel",
            Self::ConductorCreate { .. } => "conductor create (complete: true)",
            Self::ConductorPartnerStatus { .. } => "conductor partner status",
            Self::ElectrumPurchaseReversal(_) => "electrum purchase reversal",
            Self::ElectrumPurchaseConfirmation(_) => "electrum purchase confirmation",
            Self::ElectrumPurchaseStatus { .. } => "electrum purchase status",
            Self::ElectrumVoucherConfirmation(_) => "electrum voucher confirmation",
            Self::ElectrumVoucherReversal(_) => "electrum voucher reversal",
            Self::MomoStatus { .. } => "momo status",
        }
    }
}

/// One durable outbox record.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Record {
    /// Store key and scheduling identity: the same on every repeat.
    pub key: Uuid,
    /// The sale the record belongs to.
    pub sale: Uuid,
    /// Creation order (see [`Outbox::next_seq`]).
    pub seq: u32,
    /// When it was made (wall clock), for operators listing the outbox.
    pub created: Timestamp,
    /// What to send.
    pub advice: Advice,
    /// Set when the record can no longer be delivered: it is kept (never
    /// dropped), not repeated, and shown until an operator acknowledges it.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<Attention>,
}

/// Why a record needs an operator: the provider's final answer settled
/// nothing this terminal can finish (a refused advice, a stored failure
/// with no way to look the sale up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Attention {
    /// The HTTP status of the final answer.
    pub status: u16,
}

impl fmt::Display for Attention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "needs attention: final answer {}", self.status)
    }
}

impl Record {
    /// This record, set aside after the final answer `status`.
    pub fn set_aside(mut self, status: crate::http::Status) -> Self {
        self.attention = Some(Attention { status: status.0 });
        self
    }
}

/// A change to the durable store, requested by a flow through
/// [`crate::flow::Output::Persist`]. It borrows the flow: a record (3 KB)
/// is never returned by value through the flow's `poll`, nor cloned to
/// be handed over; the driver encodes it before it awaits anything.
#[derive(Clone, Copy)]
pub enum StoreOp<'a> {
    /// Write (or overwrite) this record, which the flow keeps, under
    /// `record.key`.
    Put(&'a Record),
    /// Write the record that protects the flow's current step, which the
    /// flow does not keep: [`RecordSource::record`] builds it in the
    /// driver's frame, to be encoded there.
    Build(&'a dyn RecordSource),
    /// Remove the record with this key (a final answer arrived).
    Remove(Uuid),
}

/// A flow whose current step is protected by a record it does not keep
/// (a Conductor create or settle, a MoMo status, an Electrum undo).
pub trait RecordSource {
    /// The record that protects the step the flow is in; `None` when the
    /// flow is in no such step (a bug, reported as
    /// [`crate::flow::FlowError::Finished`]).
    fn record(&self) -> Option<Record>;
}

impl fmt::Debug for StoreOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Put(record) => write!(f, "Put({})", record.key),
            Self::Build(_) => f.write_str("Build"),
            Self::Remove(key) => write!(f, "Remove({key})"),
        }
    }
}

/// Durable key-value storage for records: flash (sequential-storage) on the
/// board and on the host, memory in tests. Writes must be durable when the
/// future completes; a put replaces the earlier record of the same key
/// atomically.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Why the store failed (`Display` for the operator and the logs).
    type Error: fmt::Debug + fmt::Display;

    /// Write `bytes` (an encoded [`Record`]) under `key`.
    async fn put(&mut self, key: Uuid, bytes: &[u8]) -> Result<(), Self::Error>;

    /// Read the record under `key` into `buf`; returns its length.
    async fn get(&mut self, key: Uuid, buf: &mut [u8]) -> Result<Option<usize>, Self::Error>;

    /// Remove `key`; removing a missing key is not an error.
    async fn remove(&mut self, key: Uuid) -> Result<(), Self::Error>;

    /// Read every stored record, in any order, calling `each` with its key
    /// and bytes (valid only during the call).
    async fn for_each(
        &mut self,
        buf: &mut [u8],
        each: &mut dyn FnMut(Uuid, &[u8]),
    ) -> Result<(), Self::Error>;

    /// Records the store knows it lost: places whose newest value could
    /// not be read back (flash damage). Their older values are not
    /// reported by [`Self::for_each`] (that would bring back a settled
    /// record, or hide a pending one), and the terminal refuses new sales
    /// until an operator acknowledges them ([`Self::clear_damaged`]).
    fn damaged(&self) -> usize {
        0
    }

    /// Each damaged place (a slot number) with the key of the newest
    /// record it still holds readably, if any: an older value, never
    /// reported as a record, but the operator's lead to the sale.
    fn for_each_damaged(&self, _each: &mut dyn FnMut(usize, Option<Uuid>)) {}

    /// An operator has dealt with the damage (called the provider about
    /// the sales it may hide): the damaged places are freed, durably, and
    /// [`Self::damaged`] is zero. Returns how many were freed.
    async fn clear_damaged(&mut self) -> Result<usize, Self::Error> {
        Ok(0)
    }
}

/// A [`Store`] in memory, for tests and for hosts without a disk.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    records: Vec<(Uuid, Vec<u8, RECORD_MAX_LEN>), STORE_CAPACITY>,
}

/// Why the memory store refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MemoryStoreError {
    /// More than [`STORE_CAPACITY`] records.
    Full,
    /// A record longer than [`RECORD_MAX_LEN`].
    TooLarge,
}

impl fmt::Display for MemoryStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => "memory store full",
            Self::TooLarge => "record too large",
        })
    }
}

impl MemoryStore {
    /// An empty store.
    pub const fn new() -> Self {
        Self {
            records: Vec::new(),
        }
    }

    /// Number of records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The bytes stored under `key`.
    pub fn bytes(&self, key: Uuid) -> Option<&[u8]> {
        self.records
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_slice())
    }
}

impl Store for MemoryStore {
    type Error = MemoryStoreError;

    async fn put(&mut self, key: Uuid, bytes: &[u8]) -> Result<(), Self::Error> {
        let value = Vec::from_slice(bytes).map_err(|_| MemoryStoreError::TooLarge)?;
        if let Some((_, v)) = self.records.iter_mut().find(|(k, _)| *k == key) {
            *v = value;
            return Ok(());
        }
        self.records
            .push((key, value))
            .map_err(|_| MemoryStoreError::Full)
    }

    async fn get(&mut self, key: Uuid, buf: &mut [u8]) -> Result<Option<usize>, Self::Error> {
        let Some(bytes) = self.bytes(key) else {
            return Ok(None);
        };
        let dst = buf
            .get_mut(..bytes.len())
            .ok_or(MemoryStoreError::TooLarge)?;
        dst.copy_from_slice(bytes);
        Ok(Some(bytes.len()))
    }

    async fn remove(&mut self, key: Uuid) -> Result<(), Self::Error> {
        self.records.retain(|(k, _)| *k != key);
        Ok(())
    }

    async fn for_each(
        &mut self,
        _buf: &mut [u8],
        each: &mut dyn FnMut(Uuid, &[u8]),
    ) -> Result<(), Self::Error> {
        for (k, v) in &self.records {
            each(*k, v);
        }
        Ok(())
    }
}

/// What [`restore`] found in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RestoreReport {
    /// Records now pending in the outbox.
    pub restored: usize,
    /// Records that could not be read. They stay in the store untouched
    /// (never silently dropped) and are logged for the operator.
    pub unreadable: usize,
    /// Records that did not fit the index (more than [`OUTBOX_CAPACITY`]).
    /// They stay in the store and are picked up once others settle.
    pub deferred: usize,
    /// Records set aside for an operator ([`Attention`]).
    pub attention: usize,
    /// Records the store lost to damage ([`Store::damaged`]): new sales
    /// are refused until an operator acknowledges them.
    pub damaged: usize,
}

/// Rebuild the outbox index from the store on boot: every stored record
/// becomes a pending entry due at `now`, in its original order.
pub async fn restore<S: Store>(
    store: &mut S,
    outbox: &mut Outbox,
    buf: &mut [u8],
    now: Instant,
) -> Result<RestoreReport, S::Error> {
    let mut report = RestoreReport::default();
    store
        .for_each(
            buf,
            &mut |key, bytes| match crate::json::decode::<Record>(bytes) {
                Ok(record) if record.key == key && record.attention.is_some() => {
                    match outbox.set_aside(record.key) {
                        Ok(()) => report.attention += 1,
                        Err(OutboxError::Duplicate) => {}
                        Err(_) => report.deferred += 1,
                    }
                }
                Ok(record) if record.key == key => {
                    let entry = Entry {
                        key: record.key,
                        sale: record.sale,
                        seq: record.seq,
                        attempts: 0,
                        next_at: now,
                    };
                    match outbox.restore(entry) {
                        Ok(()) => report.restored += 1,
                        Err(OutboxError::Duplicate) => {}
                        Err(_) => report.deferred += 1,
                    }
                }
                _ => {
                    error!("outbox: stored record {} is unreadable; kept", key);
                    report.unreadable += 1;
                }
            },
        )
        .await?;
    report.damaged = store.damaged();
    if report.damaged > 0 {
        error!(
            "outbox: {} record(s) lost to flash damage; new sales refused until acknowledged",
            report.damaged
        );
    }
    Ok(report)
}

/// Why the outbox refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OutboxError {
    /// No room: settle the pending advices before selling more.
    Full,
    /// An entry with this key is already pending.
    Duplicate,
    /// No pending entry has this key.
    UnknownKey,
    /// [`ATTENTION_CAPACITY`] records wait for an operator: acknowledge
    /// them before selling more.
    AttentionFull,
    /// The store lost a record to damage ([`Store::damaged`]): an
    /// operator must acknowledge it before selling more.
    StoreDamaged,
}

impl fmt::Display for OutboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => "outbox full: pending advices must be delivered before new sales",
            Self::Duplicate => "an advice with this id is already pending",
            Self::UnknownKey => "no pending advice with this id",
            Self::AttentionFull => "records need attention: acknowledge them before new sales",
            Self::StoreDamaged => {
                "the outbox store lost a record to flash damage: acknowledge it before new sales"
            }
        })
    }
}

impl core::error::Error for OutboxError {}

/// Bounded exponential backoff with jitter.
///
/// Attempt `n` (from 0) waits `min(base * 2^n, max)`, then jitter takes it
/// down to a uniformly chosen point of its upper half, so terminals that
/// lost the link together do not return together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Backoff {
    /// Delay before the first repeat.
    pub base: Duration,
    /// Longest delay between repeats.
    pub max: Duration,
}

impl Backoff {
    /// Advices: 2 s doubling to 5 min. Electrum asks for repeats until a
    /// final answer; five minutes keeps a terminal that is offline for hours
    /// from hammering the provider when it returns.
    pub const ADVICE: Self = Self {
        base: Duration::from_secs(2),
        max: Duration::from_secs(300),
    };

    /// The un-jittered delay before attempt `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u64.checked_shl(attempt.min(63)).unwrap_or(u64::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The delay before attempt `attempt`, with `jitter` (any `u32`, from
    /// the caller's RNG) choosing a point in the upper half.
    pub fn delay(&self, attempt: u32, jitter: u32) -> Duration {
        let ceiling = self.ceiling(attempt).as_millis();
        let half = ceiling / 2;
        let spread = ceiling - half;
        // (spread * jitter) / 2^32 without overflow: spread fits 40 bits.
        let offset = ((u128::from(spread) * u128::from(jitter)) >> 32) as u64;
        Duration::from_millis(half + offset)
    }
}

/// The attempts of one step and the jitter for its next delay: the jitter
/// is drawn once from the caller's RNG and varied per attempt, so a flow
/// never reads an RNG after construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Retry {
    attempts: u32,
    jitter: u32,
}

impl Retry {
    /// No attempt yet; `jitter` from the caller's RNG.
    pub const fn new(jitter: u32) -> Self {
        Self {
            attempts: 0,
            jitter,
        }
    }

    /// The delay before the next attempt under `backoff`; counts it.
    pub fn next_delay(&mut self, backoff: Backoff) -> Duration {
        let delay = backoff.delay(self.attempts, self.jitter);
        self.attempts = self.attempts.saturating_add(1);
        self.jitter = self.jitter.rotate_left(7) ^ 0x9e37_79b9;
        delay
    }

    /// A new step starts: its first repeat waits the shortest delay again.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// The current jitter, as a salt for ids derived per attempt.
    pub const fn jitter(&self) -> u32 {
        self.jitter
    }
}

/// One pending advice, as the scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Entry {
    /// The advice's own identity (its id or idempotency key): the store key,
    /// and the same on every repeat.
    pub key: Uuid,
    /// The sale it belongs to; entries of one sale go out in `seq` order.
    pub sale: Uuid,
    /// Creation order across the outbox.
    pub seq: u32,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before this instant.
    pub next_at: Instant,
}

/// The index of pending advices. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    entries: Vec<Entry, OUTBOX_CAPACITY>,
    /// Keys of the records set aside for an operator: never due.
    attention: Vec<Uuid, ATTENTION_CAPACITY>,
    next_seq: u32,
}

impl Outbox {
    /// An empty outbox (before restore).
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
            attention: Vec::new(),
            next_seq: 0,
        }
    }

    /// Pending entries, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Number of pending entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keys of the records set aside for an operator.
    pub fn attention(&self) -> &[Uuid] {
        &self.attention
    }

    /// Whether a new sale may start: room for [`ENTRIES_PER_SALE`] more
    /// pending entries, and for one more record set aside (records that
    /// need attention do not count against the pending ones).
    pub fn admits_sale(&self) -> Result<(), OutboxError> {
        if self.entries.len() + ENTRIES_PER_SALE > OUTBOX_CAPACITY {
            Err(OutboxError::Full)
        } else if self.attention.is_full() {
            Err(OutboxError::AttentionFull)
        } else {
            Ok(())
        }
    }

    /// The record `key` needs an operator: it leaves the pending entries
    /// (if it was one) and is never due again until acknowledged.
    pub fn set_aside(&mut self, key: Uuid) -> Result<(), OutboxError> {
        if self.attention.contains(&key) {
            return Err(OutboxError::Duplicate);
        }
        self.attention
            .push(key)
            .map_err(|_| OutboxError::AttentionFull)?;
        self.entries.retain(|e| e.key != key);
        Ok(())
    }

    /// An operator acknowledged the record `key` set aside; the caller
    /// removes it from the store first.
    pub fn acknowledge(&mut self, key: Uuid) -> Result<(), OutboxError> {
        let at = self
            .attention
            .iter()
            .position(|k| *k == key)
            .ok_or(OutboxError::UnknownKey)?;
        self.attention.remove(at);
        Ok(())
    }

    /// The sequence number the next entry will get (stored in its record so
    /// restore keeps the order).
    pub const fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// Add a new entry, due at `due`. Returns its sequence number.
    pub fn push(&mut self, key: Uuid, sale: Uuid, due: Instant) -> Result<u32, OutboxError> {
        let seq = self.next_seq;
        self.restore(Entry {
            key,
            sale,
            seq,
            attempts: 0,
            next_at: due,
        })?;
        Ok(seq)
    }

    /// Take over the record a flow left pending (its outcome's `Pending`
    /// record, already in the store), due at `due`; a record set aside
    /// joins those that need attention.
    pub fn adopt(&mut self, record: &Record, due: Instant) -> Result<(), OutboxError> {
        if record.attention.is_some() {
            self.next_seq = self.next_seq.max(record.seq.wrapping_add(1));
            return self.set_aside(record.key);
        }
        self.restore(Entry {
            key: record.key,
            sale: record.sale,
            seq: record.seq,
            attempts: 0,
            next_at: due,
        })
    }

    /// Re-add an entry read back from the store (on boot). Entries may come
    /// in any order; the index keeps them sorted by `seq`.
    pub fn restore(&mut self, entry: Entry) -> Result<(), OutboxError> {
        if self.entries.iter().any(|e| e.key == entry.key) {
            return Err(OutboxError::Duplicate);
        }
        let at = self
            .entries
            .iter()
            .position(|e| e.seq > entry.seq)
            .unwrap_or(self.entries.len());
        self.entries
            .insert(at, entry)
            .map_err(|_| OutboxError::Full)?;
        self.next_seq = self.next_seq.max(entry.seq.wrapping_add(1));
        Ok(())
    }

    /// The entry to send now, if any: the oldest entry that is due and is
    /// the oldest pending entry of its sale.
    pub fn due(&self, now: Instant) -> Option<Entry> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                let first_of_sale = self
                    .entries
                    .iter()
                    .take(*i)
                    .all(|earlier| earlier.sale != e.sale);
                first_of_sale && e.next_at <= now
            })
            .map(|(_, e)| *e)
            .next()
    }

    /// When the next entry becomes due (`None` if nothing is pending).
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                self.entries
                    .iter()
                    .take(*i)
                    .all(|earlier| earlier.sale != e.sale)
            })
            .map(|(_, e)| e.next_at)
            .min()
    }

    /// The attempt for `key` got no final answer: schedule the next one.
    pub fn retry(
        &mut self,
        key: Uuid,
        now: Instant,
        backoff: Backoff,
        jitter: u32,
    ) -> Result<Entry, OutboxError> {
        let entry = self
            .entries
            .iter_mut()
            .find(|e| e.key == key)
            .ok_or(OutboxError::UnknownKey)?;
        let delay = backoff.delay(entry.attempts, jitter);
        entry.attempts = entry.attempts.saturating_add(1);
        entry.next_at = now + delay;
        Ok(*entry)
    }

    /// The provider gave a final answer for `key`: forget it. The caller
    /// removes the record from the store first.
    pub fn settle(&mut self, key: Uuid) -> Result<Entry, OutboxError> {
        let at = self
            .entries
            .iter()
            .position(|e| e.key == key)
            .ok_or(OutboxError::UnknownKey)?;
        Ok(self.entries.remove(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let b = Backoff::ADVICE;
        assert_eq!(b.ceiling(0), Duration::from_secs(2));
        assert_eq!(b.ceiling(3), Duration::from_secs(16));
        assert_eq!(b.ceiling(20), Duration::from_secs(300));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(300));
        for attempt in [0, 1, 5, 40] {
            let ceiling = b.ceiling(attempt);
            let low = b.delay(attempt, 0);
            let high = b.delay(attempt, u32::MAX);
            assert_eq!(low.as_millis(), ceiling.as_millis() / 2);
            assert!(high <= ceiling && high > low);
        }
    }

    #[test]
    fn sales_are_refused_when_full_never_dropped() {
        let mut outbox = Outbox::new();
        let mut n = 0u8;
        while outbox.admits_sale().is_ok() {
            outbox.push(id(n), id(n), Instant::ZERO).unwrap();
            n += 1;
        }
        assert_eq!(outbox.len(), OUTBOX_CAPACITY - ENTRIES_PER_SALE + 1);
        // A sale already under way can still record its advices.
        outbox.push(id(100), id(100), Instant::ZERO).unwrap();
        assert_eq!(outbox.admits_sale(), Err(OutboxError::Full));
        while outbox.len() < OUTBOX_CAPACITY {
            outbox.push(id(n), id(n), Instant::ZERO).unwrap();
            n += 1;
        }
        assert_eq!(
            outbox.push(id(200), id(200), Instant::ZERO),
            Err(OutboxError::Full)
        );
        // Nothing was lost to make room.
        assert_eq!(outbox.len(), OUTBOX_CAPACITY);
        assert!(outbox.entries().iter().any(|e| e.key == id(0)));
    }

    #[test]
    fn records_set_aside_leave_the_pending_ones_and_stop_sales_only_when_full() {
        let mut outbox = Outbox::new();
        outbox.push(id(1), id(1), Instant::ZERO).unwrap();
        outbox.set_aside(id(1)).unwrap();
        assert_eq!(outbox.len(), 0);
        assert_eq!(outbox.due(Instant::ZERO), None);
        assert_eq!(outbox.attention(), &[id(1)]);
        assert_eq!(outbox.set_aside(id(1)), Err(OutboxError::Duplicate));
        for n in 2..=ATTENTION_CAPACITY as u8 {
            assert!(outbox.admits_sale().is_ok());
            outbox.set_aside(id(n)).unwrap();
        }
        assert_eq!(outbox.admits_sale(), Err(OutboxError::AttentionFull));
        assert_eq!(outbox.set_aside(id(99)), Err(OutboxError::AttentionFull));
        outbox.acknowledge(id(1)).unwrap();
        assert!(outbox.admits_sale().is_ok());
        assert_eq!(outbox.acknowledge(id(1)), Err(OutboxError::UnknownKey));
    }

    #[test]
    fn order_is_kept_per_sale() {
        let mut outbox = Outbox::new();
        let sale_a = id(1);
        let sale_b = id(2);
        outbox
            .push(id(10), sale_a, Instant::from_millis(100))
            .unwrap();
        outbox.push(id(11), sale_a, Instant::ZERO).unwrap();
        outbox.push(id(20), sale_b, Instant::ZERO).unwrap();
        // id(11) is due but waits behind id(10) of the same sale.
        assert_eq!(outbox.due(Instant::ZERO).map(|e| e.key), Some(id(20)));
        assert_eq!(outbox.next_wakeup(), Some(Instant::ZERO));
        outbox.settle(id(20)).unwrap();
        assert_eq!(outbox.due(Instant::ZERO), None);
        assert_eq!(outbox.next_wakeup(), Some(Instant::from_millis(100)));
        assert_eq!(
            outbox.due(Instant::from_millis(100)).map(|e| e.key),
            Some(id(10))
        );
        outbox.settle(id(10)).unwrap();
        assert_eq!(outbox.due(Instant::ZERO).map(|e| e.key), Some(id(11)));
    }

    #[test]
    fn retries_back_off_and_never_expire() {
        let mut outbox = Outbox::new();
        outbox.push(id(1), id(1), Instant::ZERO).unwrap();
        let mut now = Instant::ZERO;
        for attempt in 0..200u32 {
            let e = outbox.due(now).expect("still pending");
            assert_eq!(e.attempts, attempt);
            let e = outbox
                .retry(e.key, now, Backoff::ADVICE, u32::MAX / 2)
                .unwrap();
            assert!(e.next_at > now);
            assert!(e.next_at - now <= Backoff::ADVICE.max);
            now = e.next_at;
        }
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox.settle(id(9)), Err(OutboxError::UnknownKey));
    }

    #[test]
    fn adopting_a_pending_record_schedules_it() {
        let mut outbox = Outbox::new();
        let record = Record {
            key: id(7),
            sale: id(8),
            seq: 41,
            created: crate::time::UnixTime::from_millis(0).to_timestamp(),
            advice: Advice::MomoStatus {
                reference_id: id(7),
                create: None,
            },
            attention: None,
        };
        outbox.adopt(&record, Instant::from_millis(5)).unwrap();
        assert_eq!(outbox.due(Instant::ZERO), None);
        assert_eq!(
            outbox.due(Instant::from_millis(5)).map(|e| e.key),
            Some(id(7))
        );
        assert_eq!(outbox.next_seq(), 42);
        assert_eq!(
            outbox.adopt(&record, Instant::ZERO),
            Err(OutboxError::Duplicate)
        );
    }

    #[test]
    fn restore_keeps_creation_order() {
        let mut outbox = Outbox::new();
        for seq in [5u32, 1, 3] {
            outbox
                .restore(Entry {
                    key: id(seq as u8),
                    sale: id(seq as u8),
                    seq,
                    attempts: 7,
                    next_at: Instant::ZERO,
                })
                .unwrap();
        }
        let order: std::vec::Vec<u32> = outbox.entries().iter().map(|e| e.seq).collect();
        assert_eq!(order, [1, 3, 5]);
        assert_eq!(outbox.next_seq(), 6);
        assert_eq!(
            outbox.restore(outbox.entries()[0]),
            Err(OutboxError::Duplicate)
        );
    }
}
