//! Every operation of the three API documents is reachable from `till`.
//!
//! The operations are listed here from the documents (the tables of
//! `../shared/specs/README.md`), not from till-core's endpoint tables, so a
//! path or an operation missing on the client side fails this test. Each
//! is reached by running the `till` binary as a QA engineer would, against
//! an in-process sandbox, and proven by the sandbox's own request log; the
//! reversals, which a terminal sends only when an answer is lost, are
//! reached by losing one with a sandbox fault. Every command's exit status
//! is the documented one.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use till_host::config;
use till_sandbox::{FaultKind, FaultRule, Sandbox, SandboxConfig};

/// (document, operation, method, path with `{parameter}` segments).
const OPERATIONS: &[(&str, &str, &str, &str)] = &[
    ("conductor", "healthcheck", "POST", "/healthcheck"),
    (
        "conductor",
        "account enquiry",
        "POST",
        "/conductor/v1/accounts",
    ),
    (
        "conductor",
        "create transaction",
        "POST",
        "/conductor/v1/transactions",
    ),
    (
        "conductor",
        "get transaction",
        "GET",
        "/conductor/v1/transactions/{transaction_id}",
    ),
    (
        "conductor",
        "complete transaction",
        "POST",
        "/conductor/v1/transactions/{transaction_id}/complete",
    ),
    (
        "conductor",
        "cancel transaction",
        "POST",
        "/conductor/v1/transactions/{transaction_id}/cancel",
    ),
    (
        "conductor",
        "partner create",
        "POST",
        "/conductor/v1/partners/transactions",
    ),
    (
        "conductor",
        "partner get",
        "GET",
        "/conductor/v1/partners/transactions/{external_reference}",
    ),
    (
        "conductor",
        "partner complete",
        "POST",
        "/conductor/v1/partners/transactions/{external_reference}/complete",
    ),
    (
        "conductor",
        "partner cancel",
        "POST",
        "/conductor/v1/partners/transactions/{external_reference}/cancel",
    ),
    ("conductor", "get catalogs", "GET", "/conductor/v1/catalogs"),
    ("conductor", "create order", "POST", "/conductor/v1/orders"),
    (
        "conductor",
        "get order",
        "GET",
        "/conductor/v1/orders/{order_id}",
    ),
    ("momo", "token", "POST", "/collection/token/"),
    ("momo", "CreatePayments", "POST", "/collection/v2_0/payment"),
    (
        "momo",
        "payment status",
        "GET",
        "/collection/v2_0/payment/{referenceId}",
    ),
    ("electrum", "lookupMsisdn", "GET", "/airtime/v5/msisdn"),
    ("electrum", "listProducts", "GET", "/airtime/v5/products"),
    (
        "electrum",
        "purchaseTrial",
        "POST",
        "/airtime/v5/purchases/trials",
    ),
    ("electrum", "purchase", "POST", "/airtime/v5/purchases"),
    (
        "electrum",
        "purchaseConfirmation",
        "POST",
        "/airtime/v5/purchases/confirmations",
    ),
    (
        "electrum",
        "purchaseReversal",
        "POST",
        "/airtime/v5/purchases/reversals",
    ),
    (
        "electrum",
        "purchaseStatus",
        "GET",
        "/airtime/v5/purchases/status",
    ),
    (
        "electrum",
        "provisionVoucher",
        "POST",
        "/airtime/v5/vouchers/{requestId}",
    ),
    (
        "electrum",
        "confirmVoucher",
        "POST",
        "/airtime/v5/vouchers/{requestId}/confirmations/{confirmationId}",
    ),
    (
        "electrum",
        "reverseVoucher",
        "POST",
        "/airtime/v5/vouchers/{requestId}/reversals/{reversalId}",
    ),
];

fn path_is(template: &str, path: &str) -> bool {
    let want: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    want.len() == got.len()
        && want
            .iter()
            .zip(&got)
            .all(|(w, g)| (w.starts_with('{') && !g.is_empty()) || w == g)
}

struct Qa<'s> {
    sandbox: &'s Sandbox,
    dir: tempfile::TempDir,
    /// (command, operations the sandbox saw while it ran).
    log: Vec<(String, Vec<String>)>,
}

impl Qa<'_> {
    /// Run `till args`, assert its exit status, note what it reached.
    #[track_caller]
    fn till(&mut self, args: &[&str], status: i32) -> Output {
        let before = self.sandbox.requests().len();
        let mut command = Command::new(env!("CARGO_BIN_EXE_till"));
        command
            .current_dir(self.dir.path())
            .args(args)
            .env_remove("TILL_CONFIG")
            .env_remove("TILL_LOG");
        for (name, value) in config::sandbox_env() {
            command.env(name, value);
        }
        let out = command.output().expect("till runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(status),
            "till {args:?}\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        let reached = self.sandbox.requests()[before..]
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        self.log.push((args.join(" "), reached));
        out
    }

    /// `till --json args`, its JSON.
    #[track_caller]
    fn json(&mut self, args: &[&str], status: i32) -> Value {
        let args = [&["--json"], args].concat();
        let out = self.till(&args, status);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "till {args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
}

fn write_config(dir: &Path, sandbox: &Sandbox) {
    std::fs::write(dir.join("ca.pem"), sandbox.ca_pem()).expect("CA");
    std::fs::write(
        dir.join("till.toml"),
        config::sandbox_template(sandbox.base_url(), "ca.pem"),
    )
    .expect("till.toml");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_of_the_three_documents_is_reachable_from_till() {
    let sandbox = Sandbox::start(SandboxConfig {
        momo_delay: std::time::Duration::from_millis(0),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp dir");
    write_config(dir.path(), &sandbox);
    let mut qa = Qa {
        sandbox: &sandbox,
        dir,
        log: Vec::new(),
    };
    let dstv = [
        "--biller",
        "za_dstv",
        "--customer",
        "8604275423086",
        "--reference",
        "SUBS",
    ];

    // Conductor.
    qa.till(&["conductor", "healthcheck"], 0);
    qa.till(&[&["conductor", "enquiry"][..], &dstv].concat(), 0);
    qa.till(
        &[
            "conductor",
            "catalog",
            "--category",
            "ng_entertainment_cabletv_dstv",
        ],
        0,
    );
    let paid = qa.json(&[&["conductor", "pay"][..], &dstv].concat(), 0);
    assert_eq!(paid["money"], "charged", "{paid:#}");
    let transaction = text(&paid["detail"]["id"]).to_owned();
    let one_call = qa.json(
        &[&["conductor", "pay", "--one-call"][..], &dstv].concat(),
        0,
    );
    assert_eq!(one_call["detail"]["status"], "COMPLETED", "{one_call:#}");
    let partner = [
        "--biller",
        "za_dstv",
        "--customer",
        "1234567890",
        "--reference",
        "SUBS",
        "--amount",
        "100",
    ];
    let paid = qa.json(&[&["conductor", "partner"][..], &partner].concat(), 0);
    let reference = text(&paid["detail"]["external_reference"]).to_owned();
    qa.json(
        &[&["conductor", "partner", "--one-call"][..], &partner].concat(),
        0,
    );
    let read = qa.json(&["conductor", "transaction", "--id", &transaction], 0);
    assert_eq!(read["data"]["status"], "COMPLETED", "{read:#}");
    let read = qa.json(&["conductor", "transaction", "--reference", &reference], 0);
    assert_eq!(
        read["data"]["external_reference"],
        reference.as_str(),
        "{read:#}"
    );
    // A cancel of a completed transaction is answered finally (it stays
    // completed: the ledger keeps the payment).
    let cancelled = qa.json(&["conductor", "cancel", "--id", &transaction], 0);
    assert_eq!(
        cancelled["transaction"]["data"]["status"], "COMPLETED",
        "{cancelled:#}"
    );
    qa.json(
        &[
            "conductor",
            "cancel",
            "--reference",
            &reference,
            "--reason",
            "QA",
        ],
        0,
    );
    // An unknown transaction: refused, told at once, nothing left behind.
    let refused = qa.json(
        &["conductor", "cancel", "--reference", "no-such-reference"],
        1,
    );
    assert_eq!(refused["status"], 404, "{refused:#}");
    let order = qa.json(
        &[
            "conductor",
            "order",
            "--biller",
            "ng_dstv",
            "--customer",
            "customer_number=1234567890",
            "--category",
            "ng_entertainment_cabletv_dstv",
            "--product",
            "ng_dstv_compe36",
        ],
        0,
    );
    let order_id = text(&order["detail"]["items"][0]["id"]).to_owned();
    let read = qa.json(&["conductor", "get-order", "--id", &order_id], 0);
    assert_eq!(read["data"]["id"], order_id.as_str(), "{read:#}");

    // MoMo.
    let token = qa.json(&["momo", "token"], 0);
    assert_eq!(token["expires_in"], 3600, "{token:#}");
    assert!(!token.to_string().contains("access_token\":"), "{token}");
    let paid = qa.json(
        &["momo", "pay", "--msisdn", "256772123456", "--amount", "5"],
        0,
    );
    let momo_reference = text(&paid["detail"]["reference_id"]).to_owned();
    let status = qa.json(&["momo", "status", "--reference", &momo_reference], 0);
    assert_eq!(status["status"], "SUCCESSFUL", "{status:#}");
    qa.till(&["momo", "status", "--reference", "not-a-uuid"], 2);

    // Electrum.
    qa.json(
        &[
            "electrum",
            "lookup",
            "--msisdn",
            "27749670999",
            "--product-type",
            "DATA",
            "--channel",
            "POS",
        ],
        0,
    );
    qa.json(&["electrum", "products", "--channel", "POS"], 0);
    let sold = qa.json(
        &[
            "electrum",
            "airtime",
            "--msisdn",
            "27821234567",
            "--product",
            "759",
            "--amount",
            "50",
        ],
        0,
    );
    let id = text(&sold["detail"]["id"]).to_owned();
    let status = qa.json(&["electrum", "status", "--original-msg-id", &id], 0);
    assert_eq!(status["id"], id.as_str(), "{status:#}");
    let provider_ref = sold["detail"]["thirdPartyIdentifiers"]
        .as_array()
        .and_then(|ids| ids.iter().find(|i| i["institutionId"] == "44444444"))
        .map(|i| text(&i["transactionIdentifier"]).to_owned())
        .expect("the provider's reference");
    qa.json(
        &[
            "electrum",
            "status",
            "--purchase-reference",
            &provider_ref,
            "--provider",
            "44444444",
        ],
        0,
    );
    qa.json(
        &[
            "electrum",
            "voucher",
            "--product",
            "VCH10",
            "--amount",
            "10",
        ],
        0,
    );
    // Lost answers: the purchase and the voucher are reversed.
    sandbox.add_fault(
        FaultRule::new("POST /airtime/v5/purchases", FaultKind::ProcessThenClose).times(1),
    );
    let reversed = qa.json(
        &[
            "electrum",
            "airtime",
            "--no-trial",
            "--msisdn",
            "27821234567",
            "--product",
            "759",
            "--amount",
            "50",
        ],
        1,
    );
    assert_eq!(reversed["money"], "not charged", "{reversed:#}");
    sandbox.add_fault(
        FaultRule::new("POST /airtime/v5/vouchers/*", FaultKind::ProcessThenClose).times(1),
    );
    qa.json(
        &[
            "electrum",
            "voucher",
            "--product",
            "VCH10",
            "--amount",
            "10",
        ],
        1,
    );
    let outbox = qa.json(&["outbox", "list"], 0);
    assert_eq!(outbox["records"], serde_json::json!([]), "{outbox:#}");

    let seen = sandbox.requests();
    let missing: Vec<String> = OPERATIONS
        .iter()
        .filter(|(_, _, method, template)| {
            !seen
                .iter()
                .any(|r| r.method == *method && path_is(template, &r.path) && r.status.is_some())
        })
        .map(|(api, op, method, path)| format!("{api} {op} ({method} {path})"))
        .collect();
    let log: Vec<String> = qa
        .log
        .iter()
        .map(|(command, reached)| format!("till {command}: {reached:?}"))
        .collect();
    assert!(
        missing.is_empty(),
        "not reached from till: {missing:#?}\n{}",
        log.join("\n")
    );
    assert_eq!(OPERATIONS.len(), 13 + 3 + 10);
    sandbox.shutdown().await;
}
