//! A fault resets the terminal and the next boot restores its outbox, on
//! QEMU's Cortex-M4F (`src/bin/reset.rs`): a panic right after a pending
//! record was stored resets the system, the next boot restores the record;
//! a loop that never feeds the watchdog ends in the watchdog's reset, and
//! the boot after it restores the record again.
//!
//! Needs `qemu-system-arm` and the thumbv7em-none-eabihf target; without
//! either it says SKIPPED and what to install, and `TILL_REQUIRE_QEMU=1`
//! makes that a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::QEMU;

/// Three boots take well under a second of emulation; a reset that never
/// comes (the program hanging in its loop) is cut here.
const QEMU_TIMEOUT: Duration = Duration::from_secs(60);

fn build() -> PathBuf {
    // The stack test's target directory (its own, not the outer cargo's).
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("qemu-target");
    let status = Command::new(env!("CARGO"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .args([
            "build",
            "--release",
            "-p",
            "till-qemu",
            "--bin",
            "till-qemu-reset",
            "--target",
            "thumbv7em-none-eabihf",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "till-qemu-reset builds");
    target_dir.join("thumbv7em-none-eabihf/release/till-qemu-reset")
}

#[test]
fn a_panic_and_a_hang_reset_the_terminal_and_its_outbox_is_restored() {
    if !support::ready() {
        return;
    }
    let elf = build();
    let mut child = Command::new(QEMU)
        .args([
            "-cpu",
            "cortex-m4",
            "-machine",
            "mps2-an386",
            "-nographic",
            "-monitor",
            "none",
            "-semihosting-config",
            "enable=on,target=native",
            "-kernel",
        ])
        .arg(&elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu starts");
    let started = Instant::now();
    while child.try_wait().expect("qemu status").is_none() {
        if started.elapsed() > QEMU_TIMEOUT {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("qemu output");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
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
    assert!(
        output.status.success(),
        "the third boot exits with success:\n{printed}"
    );
}
