//! `till-sandbox`: the three API sandboxes for QA.
//!
//! ```text
//! cargo run -p till-sandbox -- --listen 127.0.0.1:8443 --ca-out ca.pem
//! ```

use std::process::ExitCode;

use clap::Parser;
use till_sandbox::cli::{self, ServeArgs};

/// Local stand-ins of the Conductor, MoMo and Electrum APIs over real TLS.
#[derive(Debug, Parser)]
#[command(name = "till-sandbox", version)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
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
    let args = Cli::parse().serve;
    let sandbox = match cli::start(&args).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("till-sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", cli::banner(&sandbox, &args));
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("till-sandbox: cannot wait for Ctrl-C: {e}");
    }
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}
