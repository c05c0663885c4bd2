//! The TLS path's peak stack on an emulated Cortex-M.
//!
//! 1. Record: the firmware TAP test's three sales (a bill payment, a MoMo
//!    payment, an airtime sale) against the sandbox on the host, through
//!    till-core's `Https` over real TCP, keeping what the server sent
//!    ([`till_qemu::record::RecordingTcp`]); each must charge.
//! 2. Build `till-qemu` (release, thumbv7em-none-eabihf, the board's
//!    profile) with that recording built in.
//! 3. Run it on `qemu-system-arm -machine mps2-an386`: the same sales,
//!    replayed, must charge there too — the Cortex-M build of the TLS,
//!    HTTP, flow and JSON code — and it reports the peak stack used while
//!    polling them.
//!
//! The figure goes to `target/tmp/till-qemu-stack.txt` (printed by
//! `.ci/run`). Without `qemu-system-arm` or the thumbv7em-none-eabihf
//! target the test says SKIPPED and what to install, and passes;
//! `TILL_REQUIRE_QEMU=1` (set by `.ci/run`) makes that a failure.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use till_core::flow::Money;
use till_host::net::{pem_to_der, TokioDns, TokioTcp};
use till_qemu::record::RecordingTcp;
use till_qemu::{sales, BoardBuffers, Recording, Site};
use till_sandbox::{Sandbox, SandboxConfig};

mod support;

/// The recorder's thread stack (a debug build of the sales).
const RECORDER_STACK: usize = 64 << 20;

/// QEMU runs the replay in well under a second; a hung run is cut here.
const QEMU_TIMEOUT: Duration = Duration::from_secs(120);

/// Make the three sales against a fresh sandbox, recording the server's
/// bytes: the recording and how many connections it holds.
fn record() -> (Vec<u8>, usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        // MoMo answers SUCCESSFUL at once: the replay's clock does not
        // wait, so a payment kept PENDING in real time would run out of
        // polls before it settled.
        let sandbox = Sandbox::start(SandboxConfig {
            momo_delay: Duration::ZERO,
            ..SandboxConfig::default()
        })
        .await
        .expect("sandbox starts");
        let ca_der = pem_to_der(sandbox.ca_pem()).expect("sandbox CA");
        let unix_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let site = Site {
            unix_secs,
            host: "localhost",
            port: sandbox.addr().port(),
            ca_der: &ca_der,
        };
        let tcp = RecordingTcp::new(TokioTcp::default());
        let mut bufs = Box::new(BoardBuffers::new());
        // Boxed: the sales' future is tens of KiB.
        let sold = Box::pin(sales(&tcp, &TokioDns, &site, &mut bufs))
            .await
            .expect("the recorded sales run");
        assert_eq!(
            [sold.bill, sold.momo, sold.airtime],
            [Money::Charged; 3],
            "the recorded sales charge: {sold:?}"
        );
        let received = tcp.received();
        // A session per operation: the bill (enquiry and payment), MoMo,
        // the airtime sale (trial and sale); more if the sandbox closed a
        // connection.
        assert!(received.len() >= 3, "{} connections", received.len());
        (Recording::encode(&site, &received), received.len())
    })
}

/// What a terminal MCU of the 256 KiB class can give the stack: 48 KiB.
/// The replay is deterministic (fixed seeds, a stepping clock, the same
/// image): a figure above it is a regression, not noise.
const STACK_BUDGET: usize = 48 * 1024;

#[test]
fn the_tls_path_runs_on_cortex_m_and_its_peak_stack_is_measured() {
    if !support::ready() {
        return;
    }
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let recording = tmp.join("till-qemu-replay.bin");
    // Unoptimised futures of three sales are copied around on the stack:
    // more than a test thread's 2 MiB.
    let (bytes, connections) = std::thread::Builder::new()
        .stack_size(RECORDER_STACK)
        .spawn(record)
        .expect("recorder thread")
        .join()
        .expect("the recording runs");
    std::fs::write(&recording, bytes).expect("write the recording");
    let elf = support::build("till-qemu", &[("TILL_REPLAY", &recording)]);
    let (ok, printed) = support::run(&elf, QEMU_TIMEOUT);
    assert!(ok, "the replayed sales charge on QEMU:\n{printed}");
    for sale in ["bill", "momo", "airtime"] {
        assert!(printed.contains(&format!("{sale}: charged")), "{printed}");
    }
    assert!(
        printed.contains(&format!("connections: {connections}")),
        "the replay opens the recorded connections ({connections}):\n{printed}"
    );
    let peak: usize = printed
        .lines()
        .find_map(|l| l.strip_prefix("peak stack: "))
        .and_then(|l| l.strip_suffix(" bytes"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak stack reported:\n{printed}"));
    // Painting works (something was used) and the figure is a stack's, not
    // the whole RAM's (4 MiB here).
    assert!(peak > 1024 && peak < 1024 * 1024, "peak stack {peak} B");
    let verdict = if peak <= STACK_BUDGET {
        "within the budget".to_string()
    } else {
        format!("OVER by {} B", peak - STACK_BUDGET)
    };
    let report = format!(
        "peak stack of the TLS path ({connections} TLS sessions: a bill \
         payment, a MoMo payment and an airtime sale with its trial), \
         Cortex-M4F release build on QEMU mps2-an386: {peak} bytes \
         (budget {STACK_BUDGET} B: {verdict})\n"
    );
    std::fs::write(tmp.join("till-qemu-stack.txt"), &report).expect("write the report");
    eprint!("{report}");
    assert!(
        peak <= STACK_BUDGET,
        "peak stack {peak} B is over the budget of {STACK_BUDGET} B"
    );
}
