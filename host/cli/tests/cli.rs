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
