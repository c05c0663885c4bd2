//! till-tests: integration tests across crates, in `tests/`:
//!
//! - `core_against_sandbox.rs`: till-core's flows through the desktop
//!   terminal (till-core's own HTTPS transport and flash outbox store)
//!   against till-sandbox over real TLS, checked against its ledger;
//! - `fault_matrix.rs`: every money-moving request of every sale meets
//!   every kind of sandbox fault; after the outbox drains, the ledger must
//!   show the customer charged exactly once or not at all, as told.
//!
//! The `till` binary's own tests are in `host/cli/tests/`, the firmware's
//! TAP test in `firmware/tests/`.
#![forbid(unsafe_code)]
