//! A fault resets the terminal and the next boot restores its outbox, on
//! QEMU's Cortex-M4F (`src/bin/reset.rs`): a panic right after a pending
//! record was stored resets the system, the next boot restores the record;
//! a loop that never feeds the watchdog ends in the watchdog's reset, and
//! the boot after it restores the record again.
//!
//! Needs `qemu-system-arm` and the thumbv7em-none-eabihf target; without
//! either it says SKIPPED and what to install, and `TILL_REQUIRE_QEMU=1`
//! makes that a failure.

use std::time::Duration;

mod support;

/// Three boots take well under a second of emulation; a reset that never
/// comes (the program hanging in its loop) is cut here.
const QEMU_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn a_panic_and_a_hang_reset_the_terminal_and_its_outbox_is_restored() {
    if !support::ready() {
        return;
    }
    let elf = support::build("till-qemu-reset", &[]);
    let (ok, printed) = support::run(&elf, QEMU_TIMEOUT);
    eprintln!("{printed}");
    let expected = [
        "boot 1",
        "boot 1: pending record stored; now a fault",
        "panic: a bug after the record was stored; resetting",
        "boot 2",
        "boot 2: restored 1 pending, the record among them",
        "boot 2: watchdog armed; now a loop that never feeds it",
        "boot 3",
        "boot 3: restored 1 pending, the record among them",
        "boot 3: after the watchdog's reset",
    ];
    let lines: Vec<&str> = printed.lines().map(str::trim).collect();
    let mut at = 0;
    for want in expected {
        match lines[at..].iter().position(|l| *l == want) {
            Some(i) => at += i + 1,
            None => panic!("{want:?} missing (in this order):\n{printed}"),
        }
    }
    assert!(ok, "the third boot exits with success:\n{printed}");
}
