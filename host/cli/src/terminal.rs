//! The desktop terminal: till-core's driver over the host's connector, the
//! outbox on a file that emulates the board's NorFlash (the firmware's
//! store code path), the system clocks and the OS CSPRNG.
//!
//! Everything money-related happens in till-core; this module only wires
//! the platform to it, exactly as the firmware does.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rand_core::OsRng;
use till_core::delivery::Context;
use till_core::driver::{self, Buffers, Clock, DriveError, FlushReport};
use till_core::flash::file::{HostFlash, HOST_PAGE_COUNT};
use till_core::flash::{FlashStore, FlashStoreError};
use till_core::flow::{Flow, Now};
use till_core::json;
use till_core::momo::flow::TokenCache;
use till_core::net::NetStats;
use till_core::outbox::{self, Outbox, OutboxError, Record, RestoreReport, Store};
use till_core::time::{Instant, UnixTime};
use till_core::{conductor, electrum, momo};

use crate::config::{Config, ConfigError};
use crate::net::{HostConnect, NetError, NetResources};

/// The file-emulated flash's store, as on the board.
pub type HostStore = FlashStore<HostFlash>;

/// The store's error.
pub type HostStoreError =
    FlashStoreError<<HostFlash as embedded_storage_async::nor_flash::ErrorType>::Error>;

/// Why the terminal could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The network could not be set up.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The outbox file could not be opened.
    #[error("outbox {path}: {reason}")]
    OutboxFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The outbox store failed; the request it protects was not sent.
    #[error("outbox store: {0}")]
    Store(String),
    /// A flow could not run (a bug or a bad configuration).
    #[error("flow: {0}")]
    Flow(String),
    /// The outbox is full: no new sale until it drains.
    #[error("outbox: {0}")]
    Outbox(OutboxError),
    /// The API is not configured.
    #[error("{0} is not configured (add a [{0}] section to till.toml)")]
    NotConfigured(&'static str),
}

impl From<DriveError<HostStoreError>> for TerminalError {
    fn from(e: DriveError<HostStoreError>) -> Self {
        match e {
            DriveError::Store(e) => Self::Store(format!("{e:?}")),
            other => Self::Flow(other.to_string()),
        }
    }
}

/// The API credentials as till-core wants them, and MoMo's token cache.
#[derive(Debug)]
pub struct Apis {
    /// Conductor, if configured.
    pub conductor: Option<conductor::flow::Config>,
    /// MoMo, if configured.
    pub momo: Option<momo::flow::Config>,
    /// MoMo's bearer token, kept between payments.
    pub tokens: TokenCache,
    /// Electrum, if configured.
    pub electrum: Option<electrum::flow::Config>,
}

impl Apis {
    /// From the configuration.
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        Ok(Self {
            conductor: config
                .conductor
                .as_ref()
                .map(|c| c.core_config(&config.terminal))
                .transpose()?,
            momo: config.momo.as_ref().map(|c| c.core_config()).transpose()?,
            tokens: TokenCache::new(),
            electrum: config
                .electrum
                .as_ref()
                .map(|c| c.core_config(&config.terminal))
                .transpose()?,
        })
    }

    /// What outbox deliveries need.
    pub fn context(&mut self) -> Context<'_> {
        Context {
            conductor: self.conductor.as_ref(),
            momo: self.momo.as_ref().map(|c| (c, &mut self.tokens)),
            electrum: self.electrum.as_ref(),
        }
    }

    /// Conductor's configuration, or why not.
    pub fn conductor(&self) -> Result<&conductor::flow::Config, TerminalError> {
        self.conductor
            .as_ref()
            .ok_or(TerminalError::NotConfigured("conductor"))
    }

    /// Electrum's configuration, or why not.
    pub fn electrum(&self) -> Result<&electrum::flow::Config, TerminalError> {
        self.electrum
            .as_ref()
            .ok_or(TerminalError::NotConfigured("electrum"))
    }

    /// MoMo's configuration and token cache, or why not.
    pub fn momo(&mut self) -> Result<(&momo::flow::Config, &mut TokenCache), TerminalError> {
        match self.momo.as_ref() {
            Some(config) => Ok((config, &mut self.tokens)),
            None => Err(TerminalError::NotConfigured("momo")),
        }
    }
}

/// The system clocks. Every reading also tells the TLS layer the time, so
/// certificates are checked against the real clock.
#[derive(Debug, Clone, Copy)]
pub struct HostClock {
    start: std::time::Instant,
}

impl HostClock {
    /// Monotonic time counts from now.
    pub fn new() -> Self {
        let mut clock = Self {
            start: std::time::Instant::now(),
        };
        clock.now();
        clock
    }
}

impl Default for HostClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for HostClock {
    fn now(&mut self) -> Now {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let unix = UnixTime::from_millis(unix);
        till_core::net::set_wall_clock(unix);
        Now {
            instant: Instant::from_millis(self.start.elapsed().as_millis() as u64),
            unix,
        }
    }

    async fn sleep_until(&mut self, until: Instant) {
        let now = self.start.elapsed().as_millis() as u64;
        let ms = until.as_millis().saturating_sub(now);
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

/// The terminal: connector, store, outbox, clock, RNG and buffers.
pub struct Terminal<'a> {
    connect: HostConnect<'a>,
    store: HostStore,
    outbox: Outbox,
    clock: HostClock,
    /// The CSPRNG for ids, keys and jitter.
    pub rng: OsRng,
    body: Vec<u8>,
    response: Vec<u8>,
    record: Vec<u8>,
}

impl std::fmt::Debug for Terminal<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminal")
            .field("outbox", &self.outbox.len())
            .finish_non_exhaustive()
    }
}

/// Request bodies: the largest the flows encode (an Electrum purchase
/// with tenders) is under 4 KiB.
const BODY_BUFFER: usize = 8 * 1024;

impl<'a> Terminal<'a> {
    /// Open the outbox at `outbox_path` (created if missing), restore its
    /// pending records, and connect through `resources`.
    pub async fn open(
        resources: &'a mut NetResources,
        outbox_path: &Path,
    ) -> Result<(Self, RestoreReport), TerminalError> {
        let file_error = |reason: String| TerminalError::OutboxFile {
            path: outbox_path.display().to_string(),
            reason,
        };
        let flash =
            HostFlash::open(outbox_path, HOST_PAGE_COUNT).map_err(|e| file_error(e.to_string()))?;
        let range = flash.range();
        let mut store = FlashStore::open(flash, range)
            .await
            .map_err(|e| file_error(format!("{e:?}")))?;
        let mut clock = HostClock::new();
        let mut outbox = Outbox::new();
        let mut record = vec![0; outbox::RECORD_MAX_LEN];
        let report = outbox::restore(&mut store, &mut outbox, &mut record, clock.now().instant)
            .await
            .map_err(|e| file_error(format!("{e:?}")))?;
        Ok((
            Self {
                connect: HostConnect::new(resources)?,
                store,
                outbox,
                clock,
                rng: OsRng,
                body: vec![0; BODY_BUFFER],
                response: vec![0; json::MAX_BODY_LEN],
                record,
            },
            report,
        ))
    }

    /// Both clocks now.
    pub fn now(&mut self) -> Now {
        self.clock.now()
    }

    /// The sequence number the next sale's records get.
    pub fn next_seq(&self) -> u32 {
        self.outbox.next_seq()
    }

    /// Refuse a new sale when the outbox is full.
    pub fn admits_sale(&self) -> Result<(), TerminalError> {
        self.outbox.admits_sale().map_err(TerminalError::Outbox)
    }

    /// Drive `flow` to its outcome.
    pub async fn run<F: Flow>(&mut self, flow: &mut F) -> Result<F::Outcome, TerminalError> {
        let bufs = Buffers {
            body: &mut self.body,
            response: &mut self.response,
            record: &mut self.record,
        };
        // On the heap: the driver's future holds a TLS session (key
        // schedule, certificate verifier) and is larger than a test
        // thread's stack wants to carry.
        Ok(Box::pin(driver::run(
            flow,
            &mut self.connect,
            &mut self.store,
            &mut self.clock,
            bufs,
        ))
        .await?)
    }

    /// Hand a flow's pending record to the outbox (it is in the store
    /// already); due now.
    pub fn adopt(&mut self, record: &Record) -> Result<(), TerminalError> {
        let now = self.clock.now().instant;
        match self.outbox.adopt(record, now) {
            Ok(()) | Err(OutboxError::Duplicate) => Ok(()),
            Err(e) => Err(TerminalError::Outbox(e)),
        }
    }

    /// Deliver every due record once.
    pub async fn flush(&mut self, apis: &mut Apis) -> Result<FlushReport, TerminalError> {
        let bufs = Buffers {
            body: &mut self.body,
            response: &mut self.response,
            record: &mut self.record,
        };
        let mut context = apis.context();
        Ok(Box::pin(driver::flush(
            &mut self.outbox,
            &mut self.store,
            &mut self.connect,
            &mut self.clock,
            &mut context,
            bufs,
            &mut self.rng,
        ))
        .await?)
    }

    /// Flush until the outbox is empty or `deadline` passes, sleeping
    /// until each next wake-up. Returns what was settled and retried.
    pub async fn drain(
        &mut self,
        apis: &mut Apis,
        deadline: std::time::Duration,
    ) -> Result<FlushReport, TerminalError> {
        let until = std::time::Instant::now() + deadline;
        let mut total = FlushReport::default();
        loop {
            let report = self.flush(apis).await?;
            total.settled += report.settled;
            total.retried += report.retried;
            let Some(next) = self.outbox.next_wakeup() else {
                return Ok(total);
            };
            let now = self.clock.now().instant;
            let wait =
                std::time::Duration::from_millis(next.as_millis().saturating_sub(now.as_millis()));
            if std::time::Instant::now() + wait > until {
                return Ok(total);
            }
            self.clock.sleep_until(next).await;
        }
    }

    /// Pending outbox entries.
    pub fn pending(&self) -> usize {
        self.outbox.len()
    }

    /// Every record in the store, decoded (unreadable ones as their key).
    pub async fn records(
        &mut self,
    ) -> Result<Vec<Result<Record, till_core::id::Uuid>>, TerminalError> {
        let mut found = Vec::new();
        self.store
            .for_each(&mut self.record, &mut |key, bytes| {
                found.push(json::decode::<Record>(bytes).map_err(|_| key));
            })
            .await
            .map_err(|e| TerminalError::Store(format!("{e:?}")))?;
        Ok(found)
    }

    /// TLS handshakes and HTTP requests so far.
    pub fn net_stats(&self) -> NetStats {
        self.connect.stats()
    }
}
