//! The sandbox clock: wall-clock time plus an offset that tests and QA can
//! advance (idempotency keys expire after 24 h, tokens after an hour, MoMo
//! payments become final after a delay — none of that should need waiting).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch on the sandbox clock.
pub type UnixMillis = i64;

/// Largest total advance: a hundred years, so later date arithmetic on
/// sandbox times never overflows.
pub const MAX_OFFSET_MS: i64 = 100 * 366 * 24 * 3600 * 1000;

/// Wall clock plus an adjustable offset.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// A clock that reads the wall clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> UnixMillis {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        wall.saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock forward, by at most [`MAX_OFFSET_MS`] in all: the
    /// offset saturates rather than wrapping into the past.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let _ = self
            .offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |offset| {
                Some(offset.saturating_add(ms).min(MAX_OFFSET_MS))
            });
    }

    /// How far the clock has been advanced, in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Now, as RFC 3339 with milliseconds.
    pub fn now_rfc3339(&self) -> String {
        rfc3339(self.now_ms())
    }
}

/// Formats Unix milliseconds as RFC 3339 (UTC, millisecond precision).
pub fn rfc3339(ms: UnixMillis) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    let t = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let t = t
        .replace_nanosecond(t.millisecond() as u32 * 1_000_000)
        .unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// True if `s` is an RFC 3339 date-time.
pub fn is_rfc3339(s: &str) -> bool {
    OffsetDateTime::parse(s, &Rfc3339).is_ok()
}
