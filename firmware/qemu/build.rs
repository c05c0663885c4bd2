//! The recording to replay (`TILL_REPLAY`, a file written by the stack
//! test) goes into the binary; for bare-metal builds, the memory map of
//! QEMU's mps2-an386 and cortex-m-rt's link script.

use std::env;
use std::fs;
use std::path::PathBuf;

/// mps2-an386 (QEMU): 4 MiB of code memory at 0, 4 MiB of RAM at
/// 0x2000_0000.
const MEMORY_X: &str = "MEMORY
{
  FLASH : ORIGIN = 0x00000000, LENGTH = 4M
  RAM   : ORIGIN = 0x20000000, LENGTH = 4M
}
";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TILL_REPLAY");
    let replay = match env::var_os("TILL_REPLAY") {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", path.to_string_lossy());
            fs::read(&path)
                .unwrap_or_else(|e| panic!("TILL_REPLAY={}: {e}", path.to_string_lossy()))
        }
        None => Vec::new(),
    };
    fs::write(out.join("replay.bin"), replay).expect("write replay.bin");

    if env::var("CARGO_CFG_TARGET_OS").unwrap_or_default() == "none" {
        fs::write(out.join("memory.x"), MEMORY_X).expect("write memory.x");
        println!("cargo:rustc-link-search={}", out.display());
        println!("cargo:rustc-link-arg-bins=-Tlink.x");
        // As the board links (see firmware/build.rs).
        println!("cargo:rustc-link-arg-bins=--icf=all");
    }
}
