//! A `till` process killed in the middle of a purchase, and started again:
//! the reversal it stored before the purchase left is still on its
//! (file-emulated) flash, and the next start delivers it. The sandbox's
//! ledger proves the customer ends up not charged.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use till_host::config;
use till_sandbox::{FaultKind, FaultRule, Sandbox, SandboxConfig};

fn till(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_till"));
    command
        .current_dir(dir)
        .arg("--config")
        .arg(dir.join("till.toml"))
        .env_remove("TILL_LOG");
    for (name, value) in config::sandbox_env() {
        command.env(name, value);
    }
    command
}

fn net(ledger: &[till_sandbox::LedgerEntry]) -> (usize, usize, i64) {
    let sold = ledger.iter().filter(|e| e.kind == "airtime_sold").count();
    let reversed = ledger
        .iter()
        .filter(|e| e.kind == "reversal_applied")
        .count();
    let net = ledger
        .iter()
        .filter(|e| e.kind == "airtime_sold" || e.kind == "reversal_applied")
        .map(|e| e.amount_minor)
        .sum();
    (sold, reversed, net)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_till_killed_mid_purchase_delivers_the_reversal_on_its_next_start() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("ca.pem"), sandbox.ca_pem()).expect("CA file");
    let init = till(dir.path())
        .args([
            "config",
            "init",
            "--url",
            sandbox.base_url(),
            "--ca-file",
            "ca.pem",
        ])
        .output()
        .expect("till config init");
    assert!(init.status.success(), "{init:?}");

    // The purchase takes effect, then its answer trickles out so slowly
    // that the till is killed while it waits.
    sandbox.add_fault(
        FaultRule::new(
            "POST /airtime/v5/purchases",
            FaultKind::SlowTrickle {
                chunk: 1,
                interval_ms: 2_000,
            },
        )
        .times(1),
    );
    let mut child = till(dir.path())
        .args([
            "electrum",
            "airtime",
            "--msisdn",
            "27821234567",
            "--product",
            "759",
            "--amount",
            "50.00",
            "--no-trial",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("till electrum airtime");
    let started = Instant::now();
    while net(&sandbox.ledger()).0 == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the purchase never reached the sandbox"
        );
        assert!(
            child.try_wait().expect("child").is_none(),
            "till ended before it could be killed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("kill -9");
    let status = child.wait().expect("reaped");
    assert!(!status.success(), "killed, not finished: {status:?}");
    assert_eq!(
        net(&sandbox.ledger()),
        (1, 0, 5_000),
        "sold, not reversed yet"
    );

    // What the killed till left on its flash.
    let list = till(dir.path())
        .args(["outbox", "list"])
        .output()
        .expect("till outbox list");
    let listed = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(list.status.success(), "{list:?}");
    assert!(
        listed.contains("electrum purchase reversal"),
        "the reversal survived the kill: {listed}"
    );

    // The next start delivers it.
    let flush = till(dir.path())
        .args(["outbox", "flush", "--wait", "20"])
        .output()
        .expect("till outbox flush");
    let report = String::from_utf8_lossy(&flush.stdout).to_string();
    assert!(flush.status.success(), "{flush:?}");
    assert!(report.contains("0 pending"), "{report}");
    let (sold, reversed, net) = net(&sandbox.ledger());
    assert_eq!((sold, reversed), (1, 1), "sold once, reversed once");
    assert_eq!(net, 0, "the customer is not charged");

    let list = till(dir.path())
        .args(["outbox", "list"])
        .output()
        .expect("till outbox list");
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("outbox empty"),
        "{list:?}"
    );
    sandbox.shutdown().await;
}
