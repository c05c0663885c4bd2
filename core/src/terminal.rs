//! The terminal: one value holding what every platform wires together —
//! a [`Connect`] (HTTPS sessions), a [`Store`] (the outbox's records), a
//! [`Clock`], a CSPRNG, the outbox index and the caller's buffers — with
//! the few things an application does with them: run a flow, hand a
//! pending record to the outbox, flush the outbox.
//!
//! The desktop `till` and the firmware both build one of these and call
//! [`crate::ops`] on it; neither re-implements a flow or the outbox.

use rand_core::RngCore;

use crate::delivery::Context;
use crate::driver::{self, Buffers, Clock, Connect, DriveError, FlushReport};
use crate::flow::{Flow, Now, Steps};
use crate::momo::flow::TokenCache;
use crate::outbox::{self, Outbox, OutboxError, Record, RestoreReport, Store};
use crate::time::Instant;
use crate::{conductor, electrum, momo};

/// The three APIs' credentials, as configured; `None` = not configured.
/// MoMo's bearer token lives here too, kept between payments.
#[derive(Debug, Clone, Default)]
pub struct Apis {
    /// Moment Conductor.
    pub conductor: Option<conductor::flow::Config>,
    /// MTN MoMo Collection.
    pub momo: Option<momo::flow::Config>,
    /// MoMo's bearer token cache.
    pub tokens: TokenCache,
    /// Electrum Airtime.
    pub electrum: Option<electrum::flow::Config>,
}

impl Apis {
    /// What outbox deliveries need.
    pub fn context(&mut self) -> Context<'_> {
        Context {
            conductor: self.conductor.as_ref(),
            momo: self.momo.as_ref().map(|c| (c, &mut self.tokens)),
            electrum: self.electrum.as_ref(),
        }
    }
}

/// The buffers a terminal runs flows with (see [`Buffers`]).
pub struct TerminalBuffers<'b> {
    /// Request bodies.
    pub body: &'b mut [u8],
    /// Response bodies.
    pub response: &'b mut [u8],
    /// Records, at least [`outbox::RECORD_MAX_LEN`].
    pub record: &'b mut [u8],
}

impl TerminalBuffers<'_> {
    /// The buffers for one drive.
    fn reborrow(&mut self) -> Buffers<'_> {
        Buffers {
            body: &mut *self.body,
            response: &mut *self.response,
            record: &mut *self.record,
        }
    }
}

/// Connector, store, outbox, clock, RNG and buffers (see the module docs).
pub struct Terminal<'b, T, S, C, R> {
    /// Opens HTTPS sessions.
    pub connect: T,
    /// Holds the outbox's records.
    pub store: S,
    /// Which records are pending, and when each is due.
    pub outbox: Outbox,
    /// Both clocks and a timer.
    pub clock: C,
    /// The CSPRNG for ids, keys and jitter.
    pub rng: R,
    bufs: TerminalBuffers<'b>,
}

impl<T, S, C, R> core::fmt::Debug for Terminal<'_, T, S, C, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Terminal")
            .field("pending", &self.outbox.len())
            .finish_non_exhaustive()
    }
}

impl<'b, T, S, C, R> Terminal<'b, T, S, C, R>
where
    T: Connect,
    S: Store,
    C: Clock,
    R: RngCore,
{
    /// A terminal over `store`, its outbox restored from what the store
    /// holds (every record due now).
    pub async fn open(
        connect: T,
        mut store: S,
        mut clock: C,
        rng: R,
        bufs: TerminalBuffers<'b>,
    ) -> Result<(Self, RestoreReport), S::Error> {
        let mut outbox = Outbox::new();
        let now = clock.now().instant;
        let report = outbox::restore(&mut store, &mut outbox, bufs.record, now).await?;
        if report.restored > 0 {
            info!(
                "outbox: {} record(s) restored, {} unreadable, {} deferred",
                report.restored, report.unreadable, report.deferred
            );
        }
        Ok((
            Self {
                connect,
                store,
                outbox,
                clock,
                rng,
                bufs,
            },
            report,
        ))
    }

    /// Both clocks now.
    pub fn now(&mut self) -> Now {
        self.clock.now()
    }

    /// The sequence number the next sale's records get.
    pub const fn next_seq(&self) -> u32 {
        self.outbox.next_seq()
    }

    /// Refuse a new sale while the outbox is full, or while the store has
    /// lost a record nobody has acknowledged.
    pub fn admits_sale(&self) -> Result<(), OutboxError> {
        if self.store.damaged() > 0 {
            return Err(OutboxError::StoreDamaged);
        }
        self.outbox.admits_sale()
    }

    /// Records the store lost to damage ([`Store::damaged`]).
    pub fn damaged(&self) -> usize {
        self.store.damaged()
    }

    /// Each damaged place and the record it held before, for the operator
    /// ([`Store::for_each_damaged`]).
    pub fn for_each_damaged(&self, each: &mut dyn FnMut(usize, Option<crate::id::Uuid>)) {
        self.store.for_each_damaged(each);
    }

    /// An operator acknowledged the records the store lost to damage:
    /// their places are freed and sales resume. Returns how many.
    pub async fn acknowledge_damage(&mut self) -> Result<usize, S::Error> {
        let cleared = self.store.clear_damaged().await?;
        if cleared > 0 {
            info!(
                "outbox: {} damaged record(s) acknowledged by the operator",
                cleared
            );
        }
        Ok(cleared)
    }

    /// Pending records.
    pub fn pending(&self) -> usize {
        self.outbox.len()
    }

    /// Records set aside for an operator ([`crate::outbox::Attention`]):
    /// kept, never repeated, shown until acknowledged.
    pub fn attention(&self) -> &[crate::id::Uuid] {
        self.outbox.attention()
    }

    /// An operator dealt with the record `key` set aside: it leaves the
    /// store, then the outbox. `Ok(false)`: no such record needs attention.
    pub async fn acknowledge(&mut self, key: crate::id::Uuid) -> Result<bool, S::Error> {
        if !self.outbox.attention().contains(&key) {
            return Ok(false);
        }
        self.store.remove(key).await?;
        let _ = self.outbox.acknowledge(key);
        info!("outbox {}: acknowledged by the operator", key);
        Ok(true)
    }

    /// When the outbox next has something due.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.outbox.next_wakeup()
    }

    /// Drive `flow` until it is done; its outcome stays in it
    /// ([`Flow::outcome`]): see [`driver::drive`].
    pub async fn drive(&mut self, flow: &mut dyn Steps) -> Result<(), DriveError<S::Error>> {
        let bufs = self.bufs.reborrow();
        driver::outlined(driver::drive(
            flow,
            &mut self.connect,
            &mut self.store,
            &mut self.clock,
            bufs,
        ))
        .await
    }

    /// Drive every flow of `chain` on the same sessions (see
    /// [`driver::drive_chain`]); the terminal's RNG builds the next flows.
    pub async fn drive_chain(
        &mut self,
        chain: &mut dyn driver::Chain,
    ) -> Result<(), DriveError<S::Error>> {
        let bufs = self.bufs.reborrow();
        driver::outlined(driver::drive_chain(
            chain,
            &mut self.connect,
            &mut self.store,
            &mut self.clock,
            bufs,
            Some(&mut self.rng),
        ))
        .await
    }

    /// Drive `flow` to its outcome and take it (small outcomes: see
    /// [`driver::run`]).
    pub async fn run<F: Flow>(&mut self, flow: &mut F) -> Result<F::Outcome, DriveError<S::Error>> {
        self.drive(flow).await?;
        flow.take_outcome()
            .ok_or(DriveError::Flow(crate::flow::FlowError::Finished))
    }

    /// Take over the record a flow left pending (already in the store);
    /// due now.
    pub fn adopt(&mut self, record: &Record) -> Result<(), OutboxError> {
        let now = self.clock.now().instant;
        match self.outbox.adopt(record, now) {
            Ok(()) | Err(OutboxError::Duplicate) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Store `record` and hand it to the outbox, due now: how an advice
    /// an operator asks for (a cancel) is kept before it is first sent,
    /// and then repeated with the same identity until a final answer.
    pub async fn enqueue(&mut self, record: &Record) -> crate::ops::OpResult<(), S::Error> {
        self.admits_sale()?;
        let len = crate::json::encode(record, self.bufs.record).map_err(DriveError::Record)?;
        let bytes = self.bufs.record.get(..len).unwrap_or_default();
        self.store
            .put(record.key, bytes)
            .await
            .map_err(DriveError::Store)?;
        Ok(self.adopt(record)?)
    }

    /// The final answer of the record `key`, if it is set aside (read
    /// from the store: the index keeps only keys).
    pub async fn attention_status(
        &mut self,
        key: crate::id::Uuid,
    ) -> Result<Option<u16>, S::Error> {
        if !self.outbox.attention().contains(&key) {
            return Ok(None);
        }
        let Some(len) = self.store.get(key, self.bufs.record).await? else {
            return Ok(None);
        };
        let bytes = self.bufs.record.get(..len).unwrap_or_default();
        Ok(crate::json::decode::<Record>(bytes)
            .ok()
            .and_then(|r| r.attention)
            .map(|a| a.status))
    }

    /// Whether `key` is still in the outbox (pending or set aside).
    pub fn holds(&self, key: crate::id::Uuid) -> bool {
        self.outbox.entries().iter().any(|e| e.key == key) || self.outbox.attention().contains(&key)
    }

    /// Deliver every due record once.
    pub async fn flush(&mut self, apis: &mut Apis) -> Result<FlushReport, DriveError<S::Error>> {
        let bufs = self.bufs.reborrow();
        let mut context = apis.context();
        driver::flush(
            &mut self.outbox,
            &mut self.store,
            &mut self.connect,
            &mut self.clock,
            &mut context,
            bufs,
            &mut self.rng,
        )
        .await
    }

    /// Flush until the outbox is empty or `until` (monotonic) passes,
    /// sleeping until each next wake-up.
    pub async fn drain(
        &mut self,
        apis: &mut Apis,
        until: Instant,
    ) -> Result<FlushReport, DriveError<S::Error>> {
        let mut total = FlushReport::default();
        loop {
            let report = self.flush(apis).await?;
            total.settled += report.settled;
            total.retried += report.retried;
            match self.outbox.next_wakeup() {
                Some(next) if next <= until => self.clock.sleep_until(next).await,
                _ => return Ok(total),
            }
        }
    }

    /// Call `each` with every stored record's key and bytes.
    pub async fn for_each_record(
        &mut self,
        each: &mut dyn FnMut(crate::id::Uuid, &[u8]),
    ) -> Result<(), S::Error> {
        self.store.for_each(self.bufs.record, each).await
    }
}
