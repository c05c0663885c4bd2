//! What the QEMU tests need from the machine, checked before they start:
//! `qemu-system-arm` and the `thumbv7em-none-eabihf` target. Without
//! either a test says SKIPPED and what to install, and passes;
//! `TILL_REQUIRE_QEMU=1` (set by `.ci/run`) makes that a failure.

use std::path::Path;
use std::process::{Command, Stdio};

pub const QEMU: &str = "qemu-system-arm";

/// The board's target.
pub const TARGET: &str = "thumbv7em-none-eabihf";

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
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Ok(out) = Command::new("rustc")
        .current_dir(&workspace)
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
