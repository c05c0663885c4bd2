//! The sandbox's command line, shared by the `till-sandbox` binary and
//! `till sandbox`: the same options, the same banner.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::faults::FaultFile;
use crate::{
    FaultRule, Limits, Sandbox, SandboxConfig, CONDUCTOR_TEST_KEY, ELECTRUM_PASSWORD,
    PRESET_API_KEY, PRESET_API_USER, SUBSCRIPTION_KEY, TEST_INPUTS_DOC,
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
    /// A Conductor secret key to accept (repeatable; replaces the default
    /// test key). Each key is its own partner.
    #[arg(long = "conductor-key", value_name = "KEY")]
    pub conductor_keys: Vec<String>,
    /// The Electrum Basic-auth password (the user name is the request's
    /// `client.id`).
    #[arg(long, value_name = "PASSWORD", default_value = ELECTRUM_PASSWORD)]
    pub electrum_password: String,
    /// Accept only this MoMo `Ocp-Apim-Subscription-Key`, as production does
    /// (default: any non-empty key, as MTN's sandbox does).
    #[arg(long, value_name = "KEY")]
    pub momo_subscription_key: Option<String>,
    /// The token `/_sandbox/*` requires (default: generated at start).
    #[arg(long, value_name = "TOKEN")]
    pub admin_token: Option<String>,
    /// Seconds a request's headers may take to arrive (also the keep-alive
    /// idle limit between requests).
    #[arg(long, default_value_t = 30)]
    pub header_timeout_s: u64,
    /// Seconds a connection may stay without a byte moving either way.
    #[arg(long, default_value_t = 75)]
    pub idle_timeout_s: u64,
    /// Open connections in all.
    #[arg(long, default_value_t = 512)]
    pub max_connections: usize,
    /// Open connections from one IP address.
    #[arg(long, default_value_t = 64)]
    pub max_connections_per_addr: usize,
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
        conductor_keys: if args.conductor_keys.is_empty() {
            vec![CONDUCTOR_TEST_KEY.to_owned()]
        } else {
            args.conductor_keys.clone()
        },
        electrum_password: args.electrum_password.clone(),
        momo_subscription_key: args.momo_subscription_key.clone(),
        admin_token: args.admin_token.clone(),
        limits: Limits {
            header_read_timeout: Duration::from_secs(args.header_timeout_s),
            idle_timeout: Duration::from_secs(args.idle_timeout_s),
            max_connections: args.max_connections,
            max_connections_per_addr: args.max_connections_per_addr,
            ..Limits::default()
        },
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
    // Test credentials are printed so QA can use them; a credential given
    // on the command line is the operator's own and is not echoed.
    if args.conductor_keys.is_empty() {
        let _ = writeln!(
            out,
            "  Conductor     Bearer {CONDUCTOR_TEST_KEY}; Retailer-Id any non-empty value"
        );
    } else {
        let _ = writeln!(
            out,
            "  Conductor     the {} --conductor-key key(s); Retailer-Id any non-empty value",
            args.conductor_keys.len()
        );
    }
    let _ = writeln!(
        out,
        "  MoMo          apiUser {PRESET_API_USER}  apiKey {PRESET_API_KEY}"
    );
    if args.momo_subscription_key.is_some() {
        let _ = writeln!(
            out,
            "                Ocp-Apim-Subscription-Key: only the --momo-subscription-key key  X-Target-Environment sandbox"
        );
    } else {
        let _ = writeln!(
            out,
            "                Ocp-Apim-Subscription-Key any non-empty key (the preset user's: {SUBSCRIPTION_KEY})  X-Target-Environment sandbox"
        );
    }
    if args.electrum_password == ELECTRUM_PASSWORD {
        let _ = writeln!(
            out,
            "  Electrum      Basic auth: user name = client.id, password {ELECTRUM_PASSWORD}"
        );
    } else {
        let _ = writeln!(
            out,
            "  Electrum      Basic auth: user name = client.id, password as --electrum-password"
        );
    }
    let _ = writeln!(
        out,
        "  admin         {}/_sandbox/info  …/ledger  …/faults  …/clock",
        sandbox.base_url()
    );
    if args.admin_token.is_some() {
        let _ = writeln!(
            out,
            "                Authorization: Bearer <the --admin-token token>"
        );
    } else {
        let _ = writeln!(
            out,
            "                Authorization: Bearer {}  (generated; --admin-token sets one)",
            sandbox.admin_token()
        );
    }
    let _ = writeln!(out, "  test inputs   {TEST_INPUTS_DOC}");
    out
}
