//! What the board's watchdog is fed on: the app's progress.
//!
//! The board runs a hardware watchdog (the STM32H7's IWDG1: it resets the
//! MCU unless it is fed every [`HARDWARE_TIMEOUT_MS`]) from a task of its
//! own, which feeds it every [`FEED_PERIOD_MS`] **only while** the app has
//! made progress within [`PROGRESS_LIMIT_MS`]. So:
//!
//! - a panic resets the terminal at once (the board's panic handler);
//! - code that stops yielding (a busy loop) starves the feeding task, and
//!   the watchdog resets the terminal after [`HARDWARE_TIMEOUT_MS`];
//! - an await that never ends (a peer that never answers, a lost wakeup)
//!   leaves the feeding task running but the progress mark old: it stops
//!   feeding, and the watchdog resets the terminal.
//!
//! After the reset the app boots as after a power cut: the outbox is
//! restored from flash and every pending record is delivered again, with
//! the same identity (`firmware/qemu`'s reset test shows it).
//!
//! Progress is marked by every reading of the terminal's clock (each step
//! of every flow and of the driver reads it) and by each turn of the app
//! loop. The longest legitimate stretch without either is one exchange
//! awaiting its answer, which the driver ends at its deadline
//! (`till_core::driver::EXCHANGE_DEADLINE`, 60 s), or the idle loop's wait
//! (at most the healthcheck period, 60 s).

use core::sync::atomic::{AtomicU32, Ordering};

/// Longer than any legitimate stretch without progress (see the module
/// docs): twice the exchange deadline.
pub const PROGRESS_LIMIT_MS: u32 = 2 * 60_000;

/// How often the board's watchdog task feeds the hardware watchdog.
pub const FEED_PERIOD_MS: u64 = 1_000;

/// The hardware watchdog's timeout: ten missed feeds. Longer than any
/// stretch the executor runs one task without yielding (a TLS handshake's
/// P-256 operations take well under a second at 400 MHz).
pub const HARDWARE_TIMEOUT_MS: u32 = 10_000;

/// Milliseconds since boot of the last progress, wrapping (about every
/// 49 days; [`making_progress`] compares with wrapping arithmetic).
/// 32 bits: Cortex-M7 has no 64-bit atomics.
static LAST_PROGRESS_MS: AtomicU32 = AtomicU32::new(0);

/// The app made progress now.
pub fn progress() {
    LAST_PROGRESS_MS.store(now_ms(), Ordering::Relaxed);
}

/// Whether the app made progress within [`PROGRESS_LIMIT_MS`].
pub fn making_progress() -> bool {
    stale_for(now_ms()) <= PROGRESS_LIMIT_MS
}

/// Milliseconds since the last progress, at `now` (wrapping).
fn stale_for(now: u32) -> u32 {
    now.wrapping_sub(LAST_PROGRESS_MS.load(Ordering::Relaxed))
}

/// Milliseconds since boot, truncated to 32 bits (wrapping is handled by
/// the comparison).
fn now_ms() -> u32 {
    embassy_time::Instant::now().as_millis() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness_survives_the_wrap() {
        LAST_PROGRESS_MS.store(u32::MAX - 500, Ordering::Relaxed);
        assert_eq!(stale_for(499), 1_000);
        assert!(stale_for(PROGRESS_LIMIT_MS - 1_000) <= PROGRESS_LIMIT_MS);
        assert!(stale_for(PROGRESS_LIMIT_MS) > PROGRESS_LIMIT_MS);
    }
}
