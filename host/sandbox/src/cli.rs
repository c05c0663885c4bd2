//! The sandbox's command line, shared by the `till-sandbox` binary and
//! `till sandbox`: the same options, the same banner.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::faults::FaultFile;
use crate::{
    FaultRule, Sandbox, SandboxConfig, PRESET_API_KEY, PRESET_API_USER, SUBSCRIPTION_KEY,
    TEST_INPUTS_DOC,
};

/// Where and how to serve the sandboxes.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// TLS listener address.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Write the CA certificate (PEM) here.
    #[arg(long, default_value = "till-sandbox-ca.pem")]
    pub ca_out: PathBuf,
    /// Also serve plain HTTP here (debugging only).
    #[arg(long)]
    pub plain_listen: Option<SocketAddr>,
    /// Extra subject alternative name for the server certificate (repeatable).
    #[arg(long = "san")]
    pub sans: Vec<String>,
    /// Keep state in this SQLite file (default: memory only).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Fault rules to install at start (TOML with [[fault]] tables).
    #[arg(long)]
    pub faults: Option<PathBuf>,
    /// One fault rule as JSON (repeatable), e.g.
    /// '{"route":"POST /airtime/v5/purchases","kind":"process_then_close","times":1}'.
    #[arg(long = "fault")]
    pub fault_rules: Vec<String>,
    /// Milliseconds a MoMo payment stays PENDING before it is final.
    #[arg(long, default_value_t = 2000)]
    pub momo_delay_ms: u64,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub body_limit: usize,
    /// Also answer SNTP (RFC 4330) on this UDP address, from the system clock.
    #[arg(long)]
    pub sntp_listen: Option<SocketAddr>,
}

/// Read the fault rules of `args` (file and `--fault` JSON).
pub fn faults(args: &ServeArgs) -> Result<Vec<FaultRule>, String> {
    let mut faults = match &args.faults {
        None => Vec::new(),
        Some(path) => {
            std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|text| FaultFile::parse(&text).map_err(|e| e.to_string()))
                .map_err(|e| format!("cannot read fault file {}: {e}", path.display()))?
                .fault
        }
    };
    for text in &args.fault_rules {
        let rule =
            serde_json::from_str::<FaultRule>(text).map_err(|e| format!("--fault {text}: {e}"))?;
        faults.push(rule);
    }
    Ok(faults)
}

/// Start the sandboxes as `args` say.
pub async fn start(args: &ServeArgs) -> Result<Sandbox, String> {
    let config = SandboxConfig {
        listen: args.listen,
        plain_listen: args.plain_listen,
        extra_names: args.sans.clone(),
        ca_out: Some(args.ca_out.clone()),
        state_path: args.state.clone(),
        faults: faults(args)?,
        momo_delay: Duration::from_millis(args.momo_delay_ms),
        body_limit: args.body_limit,
        sntp_listen: args.sntp_listen,
    };
    Sandbox::start(config).await.map_err(|e| e.to_string())
}

/// What QA needs to know: base URL, CA, state, credentials, test inputs.
pub fn banner(sandbox: &Sandbox, args: &ServeArgs) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "till-sandbox listening");
    let _ = writeln!(out, "  base URL      {}", sandbox.base_url());
    if let Some(plain) = sandbox.plain_base_url() {
        let _ = writeln!(out, "  plain HTTP    {plain}  (debugging only)");
    }
    if let Some(sntp) = sandbox.sntp_addr() {
        let _ = writeln!(out, "  SNTP          {sntp}  (UDP, system clock)");
    }
    let _ = writeln!(out, "  CA cert       {}", args.ca_out.display());
    match &args.state {
        Some(p) => {
            let _ = writeln!(out, "  state         {} (SQLite)", p.display());
        }
        None => {
            let _ = writeln!(out, "  state         in memory");
        }
    }
    let _ = writeln!(
        out,
        "  Conductor     any sk_test_… Bearer key; Retailer-Id any non-empty value"
    );
    let _ = writeln!(
        out,
        "  MoMo          apiUser {PRESET_API_USER}  apiKey {PRESET_API_KEY}"
    );
    let _ = writeln!(
        out,
        "                Ocp-Apim-Subscription-Key {SUBSCRIPTION_KEY}  X-Target-Environment sandbox"
    );
    let _ = writeln!(
        out,
        "  Electrum      Basic auth: user name = client.id, any password"
    );
    let _ = writeln!(
        out,
        "  admin         {}/_sandbox/info  …/ledger  …/faults  …/clock",
        sandbox.base_url()
    );
    let _ = writeln!(out, "  test inputs   {TEST_INPUTS_DOC}");
    out
}
