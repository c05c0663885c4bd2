//! till-firmware: the terminal application for boards, and the same
//! application on the host over TAP.
//!
//! [`run`] is the whole app: given a network stack, two flash areas, a
//! CSPRNG and a console, it syncs the wall clock by SNTP, restores the
//! outbox, and serves operator commands, flushing the outbox when it is
//! due and running the healthcheck between commands. Board binaries (`till-board`)
//! and the host TAP binary (`till-tap`) only build the [`Parts`].
#![no_std]
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

#[macro_use]
mod fmt;

pub mod app;
pub mod clock;
pub mod config;
pub mod console;
pub mod net;
pub mod watchdog;

use core::ops::Range;

/// What a board (or the TAP host) hands the app.
pub struct Parts<OF, CF, R, C> {
    /// The network stack (its runner task is the board's).
    pub stack: embassy_net::Stack<'static>,
    /// Flash holding the outbox (sequential-storage map).
    pub outbox_flash: OF,
    /// The outbox's range inside `outbox_flash`.
    pub outbox_range: Range<u32>,
    /// Flash holding the configuration area.
    pub config_flash: CF,
    /// The configuration area's range inside `config_flash`.
    pub config_range: Range<u32>,
    /// A CSPRNG (the TRNG on the board).
    pub rng: R,
    /// The operator console (USART3 on the NUCLEO board, stdin/stdout on
    /// the host).
    pub console: C,
    /// Peak stack use so far, in bytes, when the platform measures it.
    pub stack_high_water: fn() -> Option<usize>,
}

/// Run the terminal forever.
pub async fn run<OF, CF, R, C>(parts: Parts<OF, CF, R, C>) -> !
where
    OF: embedded_storage_async::nor_flash::NorFlash,
    CF: embedded_storage_async::nor_flash::NorFlash,
    R: rand_core::RngCore + rand_core::CryptoRng,
    C: embedded_io_async::Read + embedded_io_async::Write,
{
    app::run(parts).await
}
