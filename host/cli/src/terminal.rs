//! The desktop terminal: till-core's [`Terminal`](CoreTerminal) over the
//! host's connector, the outbox on a file that emulates the board's
//! NorFlash (the firmware's store code path), the system clocks and the OS
//! CSPRNG.
//!
//! Everything money-related happens in till-core (`ops`, `driver`,
//! `outbox`); this module only wires the platform to it, as the firmware
//! does: `till_core::ops::pay_bill(&mut terminal, …)` is the operation.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rand_core::OsRng;
use till_core::driver::{Clock, DriveError, FlushReport};
use till_core::flash::file::{HostFlash, HOST_PAGE_COUNT};
use till_core::flash::{FlashStore, FlashStoreError};
use till_core::flow::Now;
use till_core::json;
use till_core::net::NetStats;
use till_core::ops::OpError;
use till_core::outbox::{self, Record, RestoreReport};
use till_core::terminal::{Apis, Terminal as CoreTerminal, TerminalBuffers};
use till_core::time::{Instant, UnixTime};

use crate::config::{Config, ConfigError};
use crate::net::{HostConnect, NetError, NetResources};

/// The file-emulated flash's store, as on the board.
pub type HostStore = FlashStore<HostFlash>;

/// The store's error.
pub type HostStoreError =
    FlashStoreError<<HostFlash as embedded_storage_async::nor_flash::ErrorType>::Error>;

/// The core terminal as the desktop builds it.
pub type HostTerminal<'a> = CoreTerminal<'a, HostConnect<'a>, HostStore, HostClock, OsRng>;

/// Why the terminal could not do what was asked. Nothing was charged.
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
    /// An operation stopped before an outcome.
    #[error("{0}")]
    Op(String),
    /// Something around the terminal failed (the sandbox, a file).
    #[error("{0}")]
    Other(String),
}

impl From<OpError<HostStoreError>> for TerminalError {
    fn from(e: OpError<HostStoreError>) -> Self {
        Self::Op(e.to_string())
    }
}

impl From<DriveError<HostStoreError>> for TerminalError {
    fn from(e: DriveError<HostStoreError>) -> Self {
        Self::Op(e.to_string())
    }
}

/// The API credentials from the configuration, as till-core wants them.
pub fn apis(config: &Config) -> Result<Apis, ConfigError> {
    Ok(Apis {
        conductor: config.conductor_core()?,
        momo: config.momo_core()?,
        tokens: Default::default(),
        electrum: config.electrum_core()?,
    })
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

/// The desktop terminal: till-core's terminal with the host's parts.
pub type Terminal<'a> = HostTerminal<'a>;

/// Open the outbox at `outbox_path` (created if missing), restore its
/// pending records, and connect through `resources`.
pub async fn open<'a>(
    resources: &'a mut NetResources,
    outbox_path: &Path,
) -> Result<(Terminal<'a>, RestoreReport), TerminalError> {
    let file_error = |reason: String| TerminalError::OutboxFile {
        path: outbox_path.display().to_string(),
        reason,
    };
    let flash =
        HostFlash::open(outbox_path, HOST_PAGE_COUNT).map_err(|e| file_error(e.to_string()))?;
    let range = flash.range();
    let store = FlashStore::open(flash, range)
        .await
        .map_err(|e| file_error(e.to_string()))?;
    let (connect, buffers) = HostConnect::new(resources)?;
    CoreTerminal::open(connect, store, HostClock::new(), OsRng, buffers)
        .await
        .map_err(|e| file_error(format!("{e:?}")))
}

/// What the desktop adds to the core terminal.
#[allow(async_fn_in_trait)]
pub trait HostTerminalExt {
    /// Flush until the outbox is empty or `deadline` passes.
    async fn drain_for(
        &mut self,
        apis: &mut Apis,
        deadline: std::time::Duration,
    ) -> Result<FlushReport, TerminalError>;

    /// Deliver every due record once.
    async fn flush_due(&mut self, apis: &mut Apis) -> Result<FlushReport, TerminalError>;

    /// Every record in the store, decoded (unreadable ones as their key).
    async fn records(&mut self) -> Result<Vec<Result<Record, till_core::id::Uuid>>, TerminalError>;

    /// TLS handshakes and HTTP requests so far.
    fn net_stats(&self) -> NetStats;
}

impl HostTerminalExt for Terminal<'_> {
    async fn drain_for(
        &mut self,
        apis: &mut Apis,
        deadline: std::time::Duration,
    ) -> Result<FlushReport, TerminalError> {
        let until = self.now().instant
            + till_core::time::Duration::from_millis(deadline.as_millis() as u64);
        // Boxed: the driver's future holds a TLS session and is larger than
        // a test thread's stack wants to carry.
        Ok(Box::pin(self.drain(apis, until)).await?)
    }

    async fn flush_due(&mut self, apis: &mut Apis) -> Result<FlushReport, TerminalError> {
        Ok(Box::pin(self.flush(apis)).await?)
    }

    async fn records(&mut self) -> Result<Vec<Result<Record, till_core::id::Uuid>>, TerminalError> {
        let mut found = Vec::new();
        self.for_each_record(&mut |key, bytes| {
            found.push(json::decode::<Record>(bytes).map_err(|_| key));
        })
        .await
        .map_err(|e| TerminalError::Other(format!("outbox store: {e:?}")))?;
        Ok(found)
    }

    fn net_stats(&self) -> NetStats {
        self.connect.stats()
    }
}

/// Buffers for [`TerminalBuffers`]: request bodies (the largest the
/// flows encode, an Electrum purchase with tenders, is under 4 KiB),
/// responses (till-core's JSON cap) and records.
pub(crate) struct HostBuffers {
    body: Vec<u8>,
    response: Vec<u8>,
    record: Vec<u8>,
}

impl HostBuffers {
    pub(crate) fn new() -> Self {
        Self {
            body: vec![0; 8 * 1024],
            response: vec![0; json::MAX_BODY_LEN],
            record: vec![0; outbox::RECORD_MAX_LEN],
        }
    }

    pub(crate) fn lend(&mut self) -> TerminalBuffers<'_> {
        TerminalBuffers {
            body: &mut self.body,
            response: &mut self.response,
            record: &mut self.record,
        }
    }
}
