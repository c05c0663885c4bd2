//! The `till` command's configuration handling, as an operator meets it:
//! `config init` writes a file that `config check` accepts once the
//! secrets are in the environment; a wrong field is named, and nothing
//! crashes.

use std::path::Path;
use std::process::{Command, Output};

use till_host::config;

fn till(dir: &Path, args: &[&str], with_secrets: bool) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_till"));
    command
        .current_dir(dir)
        .args(args)
        .env_remove("TILL_CONFIG")
        .env_remove("TILL_LOG");
    for (name, value) in config::sandbox_env() {
        if with_secrets {
            command.env(name, value);
        } else {
            command.env_remove(name);
        }
    }
    command.output().expect("till runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn init_then_check_accepts_the_sandbox_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("till-sandbox-ca.pem"),
        "-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n",
    )
    .expect("CA");
    let init = till(dir.path(), &["config", "init"], false);
    assert!(init.status.success(), "{init:?}");
    let printed = String::from_utf8_lossy(&init.stdout);
    assert!(printed.contains("export TILL_"), "{printed}");
    assert!(dir.path().join("till.toml").exists());

    let again = till(dir.path(), &["config", "init"], false);
    assert_eq!(again.status.code(), Some(2), "refuses to overwrite");
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));

    let check = till(dir.path(), &["config", "check"], true);
    assert!(check.status.success(), "{}", stderr(&check));

    let no_secrets = till(dir.path(), &["config", "check"], false);
    assert_eq!(no_secrets.status.code(), Some(2));
    assert!(
        stderr(&no_secrets).contains("is not set"),
        "{}",
        stderr(&no_secrets)
    );
}

#[test]
fn a_wrong_field_is_named_and_nothing_crashes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let template = config::sandbox_template("https://localhost:8443", "ca.pem");
    std::fs::write(
        dir.path().join("ca.pem"),
        "-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n",
    )
    .expect("CA");
    let cases = [
        (
            template.replace("https://localhost:8443", "http://localhost:8443"),
            "conductor.url",
        ),
        (template.replace("term0001", "t1"), "terminal.terminal_id"),
        (template.replacen("url =", "urll =", 1), "urll"),
        (template.replace("\"ca.pem\"", "\"missing.pem\""), "ca_file"),
        ("this is not toml".to_string(), "till.toml"),
    ];
    for (text, field) in cases {
        std::fs::write(dir.path().join("till.toml"), &text).expect("write");
        let out = till(dir.path(), &["config", "check"], true);
        assert_eq!(out.status.code(), Some(2), "{field}: {out:?}");
        let message = stderr(&out);
        assert!(message.contains(field), "{field} not named in {message}");
        assert!(message.contains("till.toml"), "{message}");
        assert!(!message.contains("panicked"), "{message}");
    }
    // No file at all: the message says what to do.
    std::fs::remove_file(dir.path().join("till.toml")).expect("rm");
    let out = till(dir.path(), &["outbox", "list"], true);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("till config init"),
        "{}",
        stderr(&out)
    );
}

/// The single operations print the API's answer as JSON; a refusal is
/// said, with status 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_operations_print_the_answer() {
    let sandbox = till_sandbox::Sandbox::start(till_sandbox::SandboxConfig::default())
        .await
        .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("ca.pem"), sandbox.ca_pem()).expect("CA");
    let init = till(
        dir.path(),
        &[
            "config",
            "init",
            "--url",
            sandbox.base_url(),
            "--ca-file",
            "ca.pem",
        ],
        false,
    );
    assert!(init.status.success(), "{init:?}");
    let json = |args: &[&str]| -> serde_json::Value {
        let args = [&["--json"], args].concat();
        let out = till(dir.path(), &args, true);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    };
    let account = json(&[
        "conductor",
        "enquiry",
        "--biller",
        "za_dstv",
        "--customer",
        "8604275423086",
        "--reference",
        "SUBS",
    ]);
    assert_eq!(
        account["amount_due"]["amount"]["value"], "395.50",
        "{account:#}"
    );
    let health = json(&["conductor", "healthcheck"]);
    assert_eq!(health["status"]["code"], "SUCCESS", "{health:#}");
    let lookup = json(&["electrum", "lookup", "--msisdn", "27821234567"]);
    assert_eq!(lookup["msisdn"]["operator"]["name"], "MTN", "{lookup:#}");

    // The same through the rustls alternative (TLS 1.2/1.3, webpki roots
    // plus the configured CA), chosen by an environment override.
    let mut rustls = Command::new(env!("CARGO_BIN_EXE_till"));
    rustls
        .current_dir(dir.path())
        .args(["--json", "conductor", "healthcheck"])
        .env("TILL_CONDUCTOR_TLS", "rustls")
        .env_remove("TILL_CONFIG");
    for (name, value) in config::sandbox_env() {
        rustls.env(name, value);
    }
    let out = rustls.output().expect("till runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let health: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(health["status"]["code"], "SUCCESS");
    // …and rustls refuses a CA that is not the sandbox's.
    let other = till_sandbox::tls::generate_ca().expect("another CA");
    std::fs::write(dir.path().join("other.pem"), &other.cert_pem).expect("CA");
    let out = rustls
        .env("TILL_CONDUCTOR_CA_FILE", "other.pem")
        .output()
        .expect("till runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    let refused = till(
        dir.path(),
        &[
            "conductor",
            "enquiry",
            "--biller",
            "xx_nope",
            "--customer",
            "1",
        ],
        true,
    );
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stdout).contains("refused: HTTP 400"));
    sandbox.shutdown().await;
}

/// Two `till` processes on one outbox file would corrupt it: while one
/// holds it, another is refused with a message that says why, and once
/// it is released the next one runs.
#[test]
fn a_second_till_on_the_same_outbox_is_refused() {
    use till_core::flash::file::{HostFlash, HOST_PAGE_COUNT};

    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("till-sandbox-ca.pem"),
        "-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n",
    )
    .expect("CA");
    let init = till(dir.path(), &["config", "init"], false);
    assert!(init.status.success(), "{init:?}");
    let first = till(dir.path(), &["outbox", "list"], true);
    assert!(first.status.success(), "{}", stderr(&first));

    // Another process's lock: the flash file held open, as a running
    // `till` holds it.
    let held = HostFlash::open(
        dir.path().join(config::DEFAULT_OUTBOX_PATH),
        HOST_PAGE_COUNT,
    )
    .expect("hold the outbox");
    let second = till(dir.path(), &["outbox", "list"], true);
    assert!(!second.status.success(), "{second:?}");
    let message = stderr(&second);
    assert!(message.contains("in use by another process"), "{message}");
    assert!(message.contains(config::DEFAULT_OUTBOX_PATH), "{message}");
    assert!(!message.contains("panicked"), "{message}");

    drop(held);
    let third = till(dir.path(), &["outbox", "list"], true);
    assert!(third.status.success(), "{}", stderr(&third));
    assert!(String::from_utf8_lossy(&third.stdout).contains("outbox empty"));
}

/// `till provision`: a key the board can read, and a console line the
/// board's check takes exactly once.
#[test]
fn provision_writes_a_key_and_tags_a_ca_change() {
    use till_core::provision::{authorize, ProvisionError, ProvisioningKey, Setting};
    let dir = tempfile::tempdir().expect("temp dir");
    let made = till(dir.path(), &["provision", "new-key", "board.key"], false);
    assert!(made.status.success(), "{}", stderr(&made));
    let again = till(dir.path(), &["provision", "new-key", "board.key"], false);
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing key is never overwritten"
    );
    let text = std::fs::read_to_string(dir.path().join("board.key")).expect("key");
    let key = ProvisioningKey::from_hex(&text).expect("64 hex digits");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("board.key"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let der = [0x30u8, 0x03, 0x02, 0x01, 0x07];
    std::fs::write(
        dir.path().join("ca.pem"),
        "-----BEGIN CERTIFICATE-----\nMAMCAQc=\n-----END CERTIFICATE-----\n",
    )
    .expect("CA");
    let out = till(
        dir.path(),
        &[
            "provision",
            "ca",
            "ca.pem",
            "--key-file",
            "board.key",
            "--counter",
            "4",
        ],
        false,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let line = String::from_utf8_lossy(&out.stdout);
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[..4], ["config", "ca", "MAMCAQc=", "4"], "{line}");
    assert_eq!(
        authorize(Some(&key), 3, Setting::Ca, 4, &der, words[4]),
        Ok(4)
    );
    assert_eq!(
        authorize(Some(&key), 4, Setting::Ca, 4, &der, words[4]),
        Err(ProvisionError::Replayed { last: 4 })
    );

    let bad = till(
        dir.path(),
        &[
            "provision",
            "ca",
            "ca.pem",
            "--key-file",
            "ca.pem",
            "--counter",
            "5",
        ],
        false,
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("ca.pem: a tag or key is 64 hex digits"),
        "{}",
        stderr(&bad)
    );
}
