//! Link scripts for the board binaries.
//!
//! Only for bare-metal builds (`target_os = "none"`) and only for the bins:
//! the library, its tests and the host binaries (`till-tap`) link normally.
//! `link.x` comes from cortex-m-rt (it includes `memory.x`, which
//! embassy-stm32's `memory-x` feature generates for the chip), `defmt.x`
//! from defmt.

use std::env;
use std::fs;
use std::path::PathBuf;

/// `TILL_BUILD_UNIX`: the floor of the wall clock (SNTP never sets an
/// earlier time). `SOURCE_DATE_EPOCH` for reproducible builds, else now.
/// Cargo reruns this script only when it or that variable changes, so the
/// floor may be older than the binary: a weaker floor, never a wrong one.
fn build_time() {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let secs = env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    println!("cargo:rustc-env=TILL_BUILD_UNIX={secs}");
}

/// Where the NUCLEO-H743ZI2's data areas start (flash bank 2); must match
/// `BANK2` in `src/board/nucleo_h743zi.rs`. The generated memory.x gives
/// the linker all 2 MiB of flash, so without this check a program that
/// grew past bank 1 would link fine and then erase itself.
const NUCLEO_H743ZI_DATA_START: u32 = 0x0810_0000;

/// `TILL_DEV_HOST`: the host of the development settings (`sandbox.till`
/// unless set), passed on as `TILL_DEV_HOST_OR_DEFAULT` for `concat!`.
fn dev_host() {
    println!("cargo:rerun-if-env-changed=TILL_DEV_HOST");
    let host = env::var("TILL_DEV_HOST").unwrap_or_else(|_| "sandbox.till".to_string());
    println!("cargo:rustc-env=TILL_DEV_HOST_OR_DEFAULT={host}");
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    build_time();
    dev_host();
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "none" {
        return;
    }
    println!("cargo:rustc-link-arg-bins=--nmagic");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    // Identical code folding: monomorphs that compile to the same
    // instructions (a `heapless` clone per capacity, a decoder per
    // element type) are kept once (-1.5 KB). Code only: lld folds no
    // data under `--icf=all` without `--ignore-data-address-equality`,
    // so vtables and statics keep their addresses (embassy compares
    // waker vtables); Rust promises no distinct addresses for distinct
    // functions. The QEMU replay links the same way.
    println!("cargo:rustc-link-arg-bins=--icf=all");

    if env::var_os("CARGO_FEATURE_BOARD").is_some() {
        // Symbols from cortex-m-rt's link.x: the flash image ends with the
        // load image of .data (at __sidata) or the veneers, whichever is
        // later.
        let guard = format!(
            "ASSERT(__sidata + (__edata - __sdata) <= {end:#010x} && __veneer_limit <= {end:#010x},\n\
             \"till-board: the program reaches flash bank 2 ({end:#010x}..), which holds the outbox and configuration areas\");\n",
            end = NUCLEO_H743ZI_DATA_START
        );
        let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
        fs::write(out.join("till-flash-guard.x"), guard).expect("write till-flash-guard.x");
        println!("cargo:rustc-link-search={}", out.display());
        println!("cargo:rustc-link-arg-bins=-Ttill-flash-guard.x");
    }
}
