//! till-tests: integration tests across crates.
//!
//! The scenarios (host against sandbox over real TLS, the firmware over TAP)
//! arrive with the host, sandbox and firmware issues; each will live in its
//! own file under `tests/`.
#![forbid(unsafe_code)]
