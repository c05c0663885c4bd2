//! till-firmware: the Embassy application for payment-terminal boards.
//!
//! Placeholder until the firmware issue lands: the board glue, the operator
//! console and the TAP build come with it. Today the crate only proves that
//! the firmware side links against `till-core` without `std`.
#![no_std]
#![forbid(unsafe_code)]

pub use till_core as core_protocol;
