//! `till-board`: the till terminal on an ST NUCLEO-H743ZI2.
//!
//! Flash and run (probe-rs, runner set in `.cargo/config.toml`):
//!
//! ```text
//! cargo run --release -p till-firmware --features board \
//!     --target thumbv7em-none-eabihf --bin till-board
//! ```
//!
//! Logs go out over RTT (defmt); the operator console is the ST-LINK
//! virtual COM port (USART3, 115200 8N1). Sizes: `firmware/size-report`.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

#[path = "../board/mod.rs"]
mod board;

use core::sync::atomic::{AtomicBool, Ordering};
use defmt_rtt as _;

use embassy_executor::{Executor, Spawner};
use static_cell::StaticCell;

#[cortex_m_rt::entry]
fn main() -> ! {
    // First, before anything else runs on the stack below us: paint the
    // free stack so that `status` can report the peak stack use.
    board::paint_stack();

    static EXECUTOR: StaticCell<Executor> = StaticCell::new();
    EXECUTOR
        .init(Executor::new())
        .run(|spawner| spawner.spawn(defmt::unwrap!(app(spawner))))
}

/// A panic is a bug (till never panics on network input): it is logged,
/// then the terminal resets and boots as after a power cut — the outbox
/// is restored from flash and every pending record delivered again. (The
/// watchdog would reset it too, after its timeout; this is at once.) With
/// a debugger attached it stops instead, on a HardFault, so that probe-rs
/// prints the backtrace (the release build keeps debug info). The handler
/// does not look at the `PanicInfo` at all: formatting its message — even
/// reading its location keeps the message alive — pulls `core::fmt` in for
/// every panic message of every crate, 36 KB of flash.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    static PANICKED: AtomicBool = AtomicBool::new(false);
    cortex_m::interrupt::disable();
    if !PANICKED.swap(true, Ordering::Relaxed) {
        defmt::error!("panic: the terminal resets (pending advices are restored on boot)");
    }
    if cortex_m::peripheral::DCB::is_debugger_attached() {
        cortex_m::asm::udf()
    }
    cortex_m::peripheral::SCB::sys_reset()
}

/// The app task. The TLS handshake runs in here (on the one MSP stack).
#[embassy_executor::task]
async fn app(spawner: Spawner) -> ! {
    let parts = board::init(spawner);
    till_firmware::run(parts).await
}
