//! The QA binary end to end: flags, the start-up banner, `--state` across a
//! hard kill between a purchase and its reversal, the admin ledger.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// The child process, killed when the test ends (also on a panic).
struct Running(Child);

impl Running {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts the binary and returns it with its base URL (read from the banner).
fn spawn(dir: &Path) -> (Running, String) {
    let (running, banner) = spawn_with(dir, &[]);
    (
        running,
        banner_value(&banner, "base URL").expect("base URL in the banner"),
    )
}

/// The first word after `label` on its banner line.
fn banner_value(banner: &str, label: &str) -> Option<String> {
    banner.lines().find_map(|line| {
        let rest = line.trim().strip_prefix(label)?;
        rest.split_whitespace().next().map(str::to_owned)
    })
}

/// Starts the binary with `extra` flags; returns it with its banner.
fn spawn_with(dir: &Path, extra: &[&str]) -> (Running, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_till-sandbox"))
        .args(["--listen", "127.0.0.1:0", "--ca-out"])
        .arg(dir.join("ca.pem"))
        .arg("--state")
        .arg(dir.join("state.db"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("stdout");
    let mut banner = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("banner line");
        banner.push_str(&line);
        banner.push('\n');
        if line.trim_start().starts_with("test inputs") {
            break;
        }
    }
    assert!(banner.contains(till_sandbox::PRESET_API_USER), "{banner}");
    assert!(banner.contains("README.md#test-inputs"), "{banner}");
    (running, banner)
}

fn http(dir: &Path) -> reqwest::Client {
    let pem = std::fs::read(dir.join("ca.pem")).expect("CA file written");
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .use_rustls_tls()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test]
async fn binary_keeps_state_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, base) = spawn(dir.path());
    assert!(base.starts_with("https://localhost:"));
    let c = http(dir.path());
    let id = new_id();
    let resp = c
        .post(format!("{base}/airtime/v5/purchases"))
        .basic_auth(CLIENT_ID, Some(till_sandbox::ELECTRUM_PASSWORD))
        .json(&purchase_request(&id, "89", Some("27821234567")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    first.kill();

    let (mut second, banner) = spawn_with(dir.path(), &[]);
    let base = banner_value(&banner, "base URL").expect("base URL");
    // The admin token is generated at start and printed.
    let token = banner_value(&banner, "Authorization: Bearer").expect("admin token in the banner");
    let c = http(dir.path());
    let resp = c
        .post(format!("{base}/airtime/v5/purchases/reversals"))
        .basic_auth(CLIENT_ID, Some(till_sandbox::ELECTRUM_PASSWORD))
        .json(&advice(&new_id(), &id, true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let refused = c
        .get(format!("{base}/_sandbox/ledger"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401, "admin paths need the token");
    let ledger: Value = c
        .get(format!("{base}/_sandbox/ledger"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let amounts: Vec<i64> = ledger
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["amount_minor"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [1000, -1000]);
    second.kill();
}

/// What a firmware-in-the-loop test sees of a sandbox in another process:
/// the SNTP address in the banner, SNTP answers, and the ledger read from
/// the state file while the sandbox runs.
#[tokio::test]
async fn binary_serves_sntp_and_its_state_file_is_readable_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, banner) = spawn_with(dir.path(), &["--sntp-listen", "127.0.0.1:0"]);
    let base = banner_value(&banner, "base URL").expect("base URL");
    let sntp: std::net::SocketAddr = banner_value(&banner, "SNTP")
        .unwrap_or_else(|| panic!("SNTP line in the banner: {banner}"))
        .parse()
        .expect("SNTP address");
    assert_ne!(sntp.port(), 0, "the bound port is printed");

    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut request = [0u8; 48];
    request[0] = (4 << 3) | 3;
    request[40..48].copy_from_slice(&[9, 8, 7, 6, 5, 4, 3, 2]);
    socket.send_to(&request, sntp).await.unwrap();
    let mut reply = [0u8; 64];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut reply))
        .await
        .expect("an SNTP reply")
        .unwrap();
    assert_eq!((n, reply[0], reply[1]), (48, (4 << 3) | 4, 1));
    assert_eq!(reply[24..32], request[40..48]);

    let state = dir.path().join("state.db");
    assert_eq!(till_sandbox::ledger::read_state(&state).unwrap(), []);
    let c = http(dir.path());
    let id = new_id();
    let resp = c
        .post(format!("{base}/airtime/v5/purchases"))
        .basic_auth(CLIENT_ID, Some(till_sandbox::ELECTRUM_PASSWORD))
        .json(&purchase_request(&id, "89", Some("27821234567")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let ledger = till_sandbox::ledger::read_state(&state).unwrap();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(
        (
            ledger[0].kind.as_str(),
            ledger[0].reference.as_str(),
            ledger[0].amount_minor
        ),
        ("airtime_sold", id.as_str(), 1000)
    );
    running.kill();
}
