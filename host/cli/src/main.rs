//! `till`: the desktop build of the terminal.
//!
//! The commands (`demo`, `sandbox`, per-API commands, `outbox`) arrive with
//! the host issue. Until then the binary says so plainly and exits non-zero,
//! so no script mistakes it for a working terminal.

use std::process::ExitCode;

fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_default();
    eprintln!(
        "till {}: `{}` is not available yet: the host commands land with the host issue \
         (see README.md). The protocol core is till-core {}.",
        env!("CARGO_PKG_VERSION"),
        if command.is_empty() {
            "<no command>"
        } else {
            &command
        },
        till_core::VERSION,
    );
    ExitCode::from(2)
}
