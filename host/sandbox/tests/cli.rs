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
    let child = Command::new(env!("CARGO_BIN_EXE_till-sandbox"))
        .args(["--listen", "127.0.0.1:0", "--ca-out"])
        .arg(dir.join("ca.pem"))
        .arg("--state")
        .arg(dir.join("state.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("stdout");
    let mut base = None;
    let mut banner = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("banner line");
        banner.push_str(&line);
        banner.push('\n');
        if let Some(url) = line.trim().strip_prefix("base URL") {
            base = Some(url.trim().to_owned());
        }
        if line.trim_start().starts_with("test inputs") {
            break;
        }
    }
    assert!(banner.contains(till_sandbox::PRESET_API_USER), "{banner}");
    assert!(banner.contains("README.md#test-inputs"), "{banner}");
    (running, base.expect("base URL in the banner"))
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
        .basic_auth(CLIENT_ID, Some("x"))
        .json(&purchase_request(&id, "89", Some("27821234567")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    first.kill();

    let (mut second, base) = spawn(dir.path());
    let c = http(dir.path());
    let resp = c
        .post(format!("{base}/airtime/v5/purchases/reversals"))
        .basic_auth(CLIENT_ID, Some("x"))
        .json(&advice(&new_id(), &id, true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let ledger: Value = c
        .get(format!("{base}/_sandbox/ledger"))
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
