//! `till demo` as a user runs it: the binary, no configuration, a sandbox
//! in-process. It must end with every outcome as expected, and its output
//! at trace level must carry no secret and no unmasked personal number.

use std::process::{Command, Output};

use till_host::config;

fn demo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_till"))
        .args(args)
        .env_remove("TILL_LOG")
        .env_remove("TILL_CONFIG")
        .output()
        .expect("till demo runs")
}

#[test]
fn the_demo_runs_every_flow_as_expected_and_logs_no_secret() {
    let out = demo(&["-vv", "demo"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("all outcomes as expected"), "{stdout}");
    for step in [
        "DStv bill payment",
        "Partner payment",
        "Catalogue order",
        "MoMo payment polled to SUCCESSFUL",
        "MoMo payment the payer rejects",
        "Airtime with trial and confirmation",
        "Voucher sale",
        "reversal from the outbox",
    ] {
        assert!(stdout.contains(step), "step {step:?} missing:\n{stdout}");
    }
    // Trace logging really was on (the check below would be empty otherwise).
    assert!(stderr.contains("TRACE"), "no trace output:\n{stderr}");
    assert!(stderr.contains("till_core::net"), "{stderr}");

    let everything = format!("{stdout}\n{stderr}");
    let mut secrets: Vec<String> = config::sandbox_env().into_iter().map(|(_, v)| v).collect();
    secrets.retain(|s| s != "sandbox"); // the Electrum password is also the MoMo environment's name
    secrets.extend([
        till_sandbox::PRESET_API_KEY.to_string(),
        till_sandbox::SUBSCRIPTION_KEY.to_string(),
        "sk_test_".to_string(),
        "Bearer ".to_string(),
        "Basic ".to_string(),
        "access_token".to_string(),
        // Base64 of the Basic credentials the terminal sends.
        "MjIyMjIyMjI6c2FuZGJveA".to_string(),
    ]);
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "secret {secret:?} in the demo's output"
        );
    }
    // MSISDNs and account numbers the demo uses, in full.
    for number in ["27821234567", "46733123999", "46733123451", "8604275423086"] {
        assert!(
            !everything.contains(number),
            "unmasked number {number} in the demo's output"
        );
    }
}

#[test]
fn the_demo_reports_json_outcomes() {
    let out = demo(&["demo", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(report["ok"], true, "{report:#}");
    let steps = report["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 8, "{report:#}");
    for step in steps {
        assert_eq!(step["ok"], true, "{step:#}");
        assert_eq!(step["outcome"], step["expected"], "{step:#}");
        assert!(step["requests"].as_u64().unwrap_or(0) >= 2, "{step:#}");
    }
}
