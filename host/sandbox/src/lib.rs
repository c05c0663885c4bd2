//! till-sandbox: local stand-ins of the three payment APIs.
//!
//! Placeholder until the sandbox issue lands. It must never depend on
//! `till-core`: the sandbox is a second, independent reading of the specs.
#![forbid(unsafe_code)]
