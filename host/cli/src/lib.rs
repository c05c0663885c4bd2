//! till-host: the desktop terminal behind the `till` command.
//!
//! The terminal runs till-core's flows through till-core's driver, with
//! till-core's HTTPS transport (feature `net`, the firmware's) over tokio
//! TCP and till-core's flash outbox store (feature `flash`, the firmware's)
//! over a file that emulates the board's NorFlash. Nothing here
//! re-implements a flow.
//!
//! - [`config`]: `till.toml`, validated with errors that name the field;
//! - [`net`]: tokio TCP/DNS for the core transport, the rustls alternative,
//!   and the per-API choice between them;
//! - [`terminal`]: store, outbox, clocks, RNG and buffers around the driver;
//! - [`slip`]: what the customer gets printed (rendered by till-core);
//! - [`output`]: tables, JSON and exit codes of the `till` command;
//!
//! The operations themselves (pay a bill, MoMo, airtime, voucher) are
//! `till_core::ops`, called on the [`terminal::Terminal`] — the same
//! functions the firmware's console calls.
//! - [`demo`]: `till demo`, the whole tour against an in-process sandbox.
#![forbid(unsafe_code)]

/// `println!` that does not panic when stdout is gone (`till … | head`):
/// what cannot be written is dropped; the exit status still tells.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

pub mod config;
pub mod demo;
pub mod net;
pub mod output;
pub mod slip;
pub mod terminal;
