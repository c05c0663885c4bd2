//! `till-sandbox`: the three API sandboxes for QA.
//!
//! ```text
//! cargo run -p till-sandbox -- --listen 127.0.0.1:8443 --ca-out ca.pem
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use till_sandbox::faults::FaultFile;
use till_sandbox::{
    Sandbox, SandboxConfig, PRESET_API_KEY, PRESET_API_USER, SUBSCRIPTION_KEY, TEST_INPUTS_DOC,
};

/// Local stand-ins of the Conductor, MoMo and Electrum APIs over real TLS.
#[derive(Debug, Parser)]
#[command(name = "till-sandbox", version)]
struct Cli {
    /// TLS listener address.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Write the CA certificate (PEM) here.
    #[arg(long, default_value = "till-sandbox-ca.pem")]
    ca_out: PathBuf,
    /// Also serve plain HTTP here (debugging only).
    #[arg(long)]
    plain_listen: Option<SocketAddr>,
    /// Extra subject alternative name for the server certificate (repeatable).
    #[arg(long = "san")]
    sans: Vec<String>,
    /// Keep state in this SQLite file (default: memory only).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Fault rules to install at start (TOML with [[fault]] tables).
    #[arg(long)]
    faults: Option<PathBuf>,
    /// One fault rule as JSON (repeatable), e.g.
    /// '{"route":"POST /airtime/v5/purchases","kind":"process_then_close","times":1}'.
    #[arg(long = "fault")]
    fault_rules: Vec<String>,
    /// Milliseconds a MoMo payment stays PENDING before it is final.
    #[arg(long, default_value_t = 2000)]
    momo_delay_ms: u64,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    body_limit: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    // Request log on stderr (method, path, status, fault; never headers,
    // bodies or query strings, so no keys, tokens or MSISDNs).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();

    let faults = match &cli.faults {
        None => Vec::new(),
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| FaultFile::parse(&text).map_err(|e| e.to_string()))
        {
            Ok(file) => file.fault,
            Err(e) => {
                eprintln!(
                    "till-sandbox: cannot read fault file {}: {e}",
                    path.display()
                );
                return ExitCode::FAILURE;
            }
        },
    };

    let mut faults = faults;
    for text in &cli.fault_rules {
        match serde_json::from_str::<till_sandbox::FaultRule>(text) {
            Ok(rule) => faults.push(rule),
            Err(e) => {
                eprintln!("till-sandbox: --fault {text}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }

    let config = SandboxConfig {
        listen: cli.listen,
        plain_listen: cli.plain_listen,
        extra_names: cli.sans.clone(),
        ca_out: Some(cli.ca_out.clone()),
        state_path: cli.state.clone(),
        faults,
        momo_delay: Duration::from_millis(cli.momo_delay_ms),
        body_limit: cli.body_limit,
    };
    let sandbox = match Sandbox::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("till-sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };

    println!("till-sandbox listening");
    println!("  base URL      {}", sandbox.base_url());
    if let Some(plain) = sandbox.plain_base_url() {
        println!("  plain HTTP    {plain}  (debugging only)");
    }
    println!("  CA cert       {}", cli.ca_out.display());
    match &cli.state {
        Some(p) => println!("  state         {} (SQLite)", p.display()),
        None => println!("  state         in memory"),
    }
    println!("  Conductor     any sk_test_… Bearer key; Retailer-Id any non-empty value");
    println!("  MoMo          apiUser {PRESET_API_USER}  apiKey {PRESET_API_KEY}");
    println!("                Ocp-Apim-Subscription-Key {SUBSCRIPTION_KEY}  X-Target-Environment sandbox");
    println!("  Electrum      Basic auth: user name = client.id, any password");
    println!(
        "  admin         {}/_sandbox/info  …/ledger  …/faults  …/clock",
        sandbox.base_url()
    );
    println!("  test inputs   {TEST_INPUTS_DOC}");

    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("till-sandbox: cannot wait for Ctrl-C: {e}");
    }
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}
