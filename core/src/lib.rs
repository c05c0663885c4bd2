//! till-core: the protocol core of the till payment terminal.
//!
//! `#![no_std]`, no allocator, no `unsafe`. The same code runs in the
//! firmware (Embassy on Cortex-M), in the desktop `till` command and under
//! `cargo test`.
//!
//! # How the pieces fit
//!
//! - [`money`], [`id`], [`time`]: the value types every API shares: integer
//!   minor units with an ISO 4217 [`money::Currency`], UUID v4 request ids and
//!   idempotency keys drawn from an RNG the caller passes in, millisecond
//!   instants and RFC 3339 timestamps. Nothing here reads a clock or an RNG
//!   by itself.
//! - [`json`]: the one guarded decode entry point (a pull reader with a size
//!   cap and a nesting limit, escaped strings, derived field tables) and the
//!   one encode entry point into the caller's buffer.
//! - [`http`]: request and response heads with exactly the headers the three
//!   APIs use, and a path/query builder.
//! - [`fmt`]: the logging shim (defmt | log | nothing) and the redaction types
//!   that keep secrets and personal data out of every log.
//! - One folder per API with the same shape — [`conductor`], [`momo`],
//!   [`electrum`] — each holding `wire` (request and response types), `error`
//!   (the provider's error codes, with an `Unknown` catch-all that keeps the
//!   text), `path` (the endpoint table) and `flow` (the sans-IO state
//!   machines of that API's flows).
//! - [`flow`]: the contract every flow follows — `poll(now) -> Output
//!   {Persist, Send, Wait, Done}` and `handle(input, now)` — and a generic
//!   [`flow::Call`] for requests that move no money.
//! - [`outbox`]: durable records (persisted before the request they protect),
//!   the [`outbox::Store`] trait, and the scheduling index with capacity,
//!   per-sale order and backoff; [`delivery`] makes one attempt at a record.
//! - [`driver`]: the one async loop over small `Transport`, `Store` and
//!   `Clock` traits, shared by firmware and host, plus the outbox flush.
//! - [`terminal`], [`ops`], [`slip`]: what an application holds (connector,
//!   store, outbox, clock, RNG, buffers), what an operator does with it (pay
//!   a bill, MoMo, airtime, voucher…) and what the customer gets printed —
//!   the desktop `till` and the firmware's console call the same functions.
//! - [`net`] (feature `net`): HTTPS over any embedded-nal-async stack with
//!   our own certificate verification; [`flash`] (feature `flash`): the
//!   outbox store on any NorFlash.
//! - [`sntp`]: the checks an SNTP reply must pass and a wall clock that
//!   never goes before the build or back; [`provision`]: the tags that
//!   authenticate a configuration change from a console.
//! - `fuzz` (feature `fuzz`, hidden): the parsers' entry points for the
//!   fuzz targets in the repository's `fuzz/`.
//!
//! Every fixed capacity is a named constant next to the type that uses it,
//! with the reason for its size.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo
    )
)]

#[cfg(all(feature = "defmt", feature = "log"))]
compile_error!("till-core: enable at most one of the `defmt` and `log` features");

#[cfg(any(test, feature = "std"))]
extern crate std;

// `#[derive(Decode, Encode)]` names `::till_core::json`, here as elsewhere.
extern crate self as till_core;

#[macro_use]
pub mod fmt;

pub mod code;
pub mod conductor;
pub mod delivery;
pub mod driver;
pub mod electrum;
#[cfg(feature = "flash")]
pub mod flash;
pub mod flow;
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod fuzz;
pub mod http;
pub mod id;
pub mod json;
pub mod momo;
pub mod money;
#[cfg(feature = "net")]
pub mod net;
pub mod ops;
pub mod outbox;
pub mod outcome;
pub mod provision;
pub mod slip;
pub mod sntp;
pub mod terminal;
pub mod time;

/// The version of this crate, for banners and user agents.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
