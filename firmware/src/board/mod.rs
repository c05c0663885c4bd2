//! Board support: everything that differs between boards lives in one
//! module per board, and this file picks the one being built.
//!
//! A board module provides:
//! - `paint_stack()`: called first thing in `main`, before the executor
//!   starts, so that [`stack_high_water`] can measure the peak stack;
//! - `stack_high_water() -> Option<usize>`: the deepest stack use so far;
//! - `init(spawner) -> Parts<..>`: clocks, network (runner task spawned),
//!   flash areas, RNG and console, ready for `till_firmware::run`.
//!
//! A second board is a new `board/<name>.rs` with the same three items and
//! a `cfg`-selected `pub use` below.

mod nucleo_h743zi;

pub use nucleo_h743zi::*;
