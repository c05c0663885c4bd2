//! till-sandbox: local stand-ins of the three payment APIs the till terminal
//! talks to — Moment Conductor 2.3, MTN MoMo Collection v2 and Electrum
//! Airtime v5 — served over real TLS, with fault injection and a ledger.
//!
//! The sandbox is written from `../shared/specs` only. It must never depend
//! on `till-core`: two independent readings of the same documents meet over a
//! real TLS socket, so a wrong field name on one side fails a test instead of
//! agreeing with itself.
//!
//! How the pieces fit:
//!
//! - [`server`] accepts TCP connections (TLS through [`tls`], optionally plain
//!   HTTP), and hands each request to the fault layer ([`faults`]) which may
//!   delay, drop, corrupt or replace the answer of the axum router.
//! - The router mounts [`conductor`], [`momo`] and [`electrum`] under their
//!   production paths, and [`admin`] under `/_sandbox/`.
//! - All state lives in one [`store::Store`]: in memory, written through to
//!   SQLite when a state file is given, so a restarted sandbox still knows every
//!   earlier transaction. Every financial effect is appended to the [`ledger`].
//! - [`sntp`] optionally answers SNTP on UDP from the system clock, for a
//!   terminal that sets its clock before checking certificates.
//! - [`clock::Clock`] is the sandbox clock (idempotency expiry, token expiry,
//!   MoMo payment progress); tests advance it instead of waiting.
//!
//! Start one from a test with [`Sandbox::start`]; QA runs the `till-sandbox`
//! binary (see `README.md` for every test input).
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

pub mod admin;
pub mod cli;
pub mod clock;
pub mod conductor;
pub mod electrum;
pub mod faults;
pub mod ledger;
pub mod momo;
pub mod money;
pub mod server;
pub mod sntp;
pub mod store;
pub mod tls;

mod app;
mod body;
mod json_path;
mod query;

pub use app::{
    Limits, RequestRecord, Sandbox, SandboxConfig, SandboxError, CONDUCTOR_TEST_KEY,
    ELECTRUM_PASSWORD, REQUEST_LOG_CAP,
};
pub use faults::{FaultKind, FaultRule};
pub use ledger::LedgerEntry;
pub use momo::{PRESET_API_KEY, PRESET_API_USER, SUBSCRIPTION_KEY};

/// Where QA finds every test input (identifiers, MSISDNs, references,
/// credentials); printed at start.
pub const TEST_INPUTS_DOC: &str = "host/sandbox/README.md#test-inputs";
