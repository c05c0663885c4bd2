//! What the QEMU tests need from the machine, checked before they start:
//! `qemu-system-arm` and the `thumbv7em-none-eabihf` target. Without
//! either a test says SKIPPED and what to install, and passes;
//! `TILL_REQUIRE_QEMU=1` (set by `.ci/run`) makes that a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const QEMU: &str = "qemu-system-arm";

/// The board's target.
pub const TARGET: &str = "thumbv7em-none-eabihf";

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Build the till-qemu binary `bin` (release, the board's target) with
/// `env` set; the ELF's path.
pub fn build(bin: &str, env: &[(&str, &Path)]) -> PathBuf {
    // A target directory of its own: the outer `cargo test` holds ours.
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("qemu-target");
    let status = Command::new(env!("CARGO"))
        .current_dir(workspace())
        .args([
            "build",
            "--release",
            "-p",
            "till-qemu",
            "--bin",
            bin,
            "--target",
            TARGET,
        ])
        .envs(env.iter().copied())
        .env("CARGO_TARGET_DIR", &target_dir)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "{bin} builds for {TARGET}");
    target_dir.join(TARGET).join("release").join(bin)
}

/// Run `elf` on QEMU's mps2-an386 (cut after `timeout`): whether it
/// exited with success, and what it printed.
pub fn run(elf: &Path, timeout: Duration) -> (bool, String) {
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
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu starts");
    let started = Instant::now();
    while child.try_wait().expect("qemu status").is_none() {
        if started.elapsed() > timeout {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("qemu output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn qemu_available() -> bool {
    Command::new(QEMU)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the toolchain of this workspace (rust-toolchain.toml) has the
/// board's standard library.
fn target_installed() -> bool {
    let Ok(out) = Command::new("rustc")
        .current_dir(workspace())
        .args(["--print", "sysroot"])
        .output()
    else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib")
        .is_dir()
}

/// `true` if the test can run; otherwise it says why (or fails, under
/// `TILL_REQUIRE_QEMU=1`).
pub fn ready() -> bool {
    let missing = match (qemu_available(), target_installed()) {
        (true, true) => return true,
        (false, _) => format!("{QEMU} not installed (apt-get install qemu-system-arm)"),
        (true, false) => {
            format!("the {TARGET} target is not installed (rustup target add {TARGET})")
        }
    };
    assert!(
        std::env::var_os("TILL_REQUIRE_QEMU").is_none(),
        "TILL_REQUIRE_QEMU is set but {missing}"
    );
    eprintln!("SKIPPED: {missing}");
    false
}
