//! Wiring: shared state, the router, and the [`Sandbox`] handle tests use.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::clock::Clock;
use crate::faults::{FaultRule, Faults};
use crate::ledger::LedgerEntry;
use crate::store::{table, Store, StoreError};
use crate::tls::{self, CaMaterial, TlsError};
use crate::{admin, conductor, electrum, momo, server, sntp};

/// Default request body limit (64 KiB): far above any real message of the
/// three APIs, far below what would hurt the sandbox.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// How a sandbox is started. `Debug` leaves the credentials out.
#[derive(Clone)]
pub struct SandboxConfig {
    /// TLS listener (`127.0.0.1:0` picks an ephemeral port).
    pub listen: SocketAddr,
    /// Optional plain-HTTP listener for debugging.
    pub plain_listen: Option<SocketAddr>,
    /// Extra SANs for the server certificate (DNS names or IP addresses).
    pub extra_names: Vec<String>,
    /// Where to write the CA certificate (PEM).
    pub ca_out: Option<PathBuf>,
    /// SQLite state file; `None` keeps state in memory.
    pub state_path: Option<PathBuf>,
    /// Faults installed at start.
    pub faults: Vec<FaultRule>,
    /// How long a MoMo payment stays PENDING before it becomes final.
    pub momo_delay: Duration,
    /// Largest request body accepted.
    pub body_limit: usize,
    /// Optional SNTP (RFC 4330) responder on this UDP address, answering
    /// from the system clock (not the advanceable sandbox clock).
    pub sntp_listen: Option<SocketAddr>,
    /// The Conductor secret keys accepted, each its own partner (default:
    /// [`CONDUCTOR_TEST_KEY`]); any other key is 401.
    pub conductor_keys: Vec<String>,
    /// The Electrum Basic-auth password (default [`ELECTRUM_PASSWORD`]); the
    /// user name must equal the request's `client.id`.
    pub electrum_password: String,
    /// Pins MoMo's `Ocp-Apim-Subscription-Key` to one value, as production
    /// does; `None` (the default) accepts any non-empty key, as MTN's
    /// sandbox does.
    pub momo_subscription_key: Option<String>,
    /// The token `/_sandbox/*` requires (`Authorization: Bearer …`); `None`
    /// generates one at start ([`Sandbox::admin_token`]).
    pub admin_token: Option<String>,
    /// Timeouts and connection caps against slow or greedy clients.
    pub limits: Limits,
}

/// The default Conductor secret key (a test key, `sk_test_…`).
pub const CONDUCTOR_TEST_KEY: &str = "sk_test_till_terminal_0003";

/// The default Electrum Basic-auth password.
pub const ELECTRUM_PASSWORD: &str = "sandbox";

/// What a client may hold of the sandbox, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The TLS handshake must finish within this.
    pub handshake_timeout: Duration,
    /// A request's headers must arrive whole within this from when the
    /// sandbox starts waiting for them (also how long an idle keep-alive
    /// connection stays open): a client that trickles its headers is dropped.
    pub header_read_timeout: Duration,
    /// A request body must arrive whole within this.
    pub body_read_timeout: Duration,
    /// A connection on which no byte moves either way for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections from one IP address.
    pub max_connections_per_addr: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            // hyper's own default, and long enough for a terminal that keeps
            // its connection between the steps of a flow.
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            // nginx's keep-alive default.
            idle_timeout: Duration::from_secs(75),
            max_connections: 512,
            max_connections_per_addr: 64,
        }
    }
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("listen", &self.listen)
            .field("plain_listen", &self.plain_listen)
            .field("extra_names", &self.extra_names)
            .field("ca_out", &self.ca_out)
            .field("state_path", &self.state_path)
            .field("faults", &self.faults.len())
            .field("momo_delay", &self.momo_delay)
            .field("body_limit", &self.body_limit)
            .field("sntp_listen", &self.sntp_listen)
            .field(
                "conductor_keys",
                &format_args!("{} key(s)", self.conductor_keys.len()),
            )
            .field("electrum_password", &format_args!("<redacted>"))
            .field(
                "momo_subscription_key_pinned",
                &self.momo_subscription_key.is_some(),
            )
            .field("admin_token", &format_args!("<redacted>"))
            .field("limits", &self.limits)
            .finish()
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("body_limit", &self.body_limit)
            .field("momo_delay_ms", &self.momo_delay_ms)
            .field(
                "conductor_keys",
                &format_args!("{} key(s)", self.conductor_keys.len()),
            )
            .field(
                "momo_subscription_key_pinned",
                &self.momo_subscription_key.is_some(),
            )
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            plain_listen: None,
            extra_names: Vec::new(),
            ca_out: None,
            state_path: None,
            faults: Vec::new(),
            momo_delay: Duration::from_secs(2),
            body_limit: DEFAULT_BODY_LIMIT,
            sntp_listen: None,
            conductor_keys: vec![CONDUCTOR_TEST_KEY.to_owned()],
            electrum_password: ELECTRUM_PASSWORD.to_owned(),
            momo_subscription_key: None,
            admin_token: None,
            limits: Limits::default(),
        }
    }
}

/// Why a sandbox could not start (or a state file could not be read).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Binding or writing a file failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The state file could not be opened or read.
    #[error("state: {0}")]
    Store(#[from] StoreError),
    /// Certificates or TLS configuration.
    #[error("tls: {0}")]
    Tls(#[from] TlsError),
    /// A setting is unusable; names the setting.
    #[error("config: {0}")]
    Config(String),
}

/// A credential setting must be non-empty printable ASCII without spaces
/// (it travels in an HTTP header).
fn check_credential(name: &str, value: &str) -> Result<(), SandboxError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SandboxError::Config(format!(
            "{name} must be non-empty printable ASCII without spaces"
        )));
    }
    Ok(())
}

impl SandboxConfig {
    fn check(&self) -> Result<(), SandboxError> {
        if self.conductor_keys.is_empty() {
            return Err(SandboxError::Config(
                "conductor_keys: at least one Conductor secret key is needed".to_owned(),
            ));
        }
        for key in &self.conductor_keys {
            check_credential("conductor_keys", key)?;
        }
        check_credential("electrum_password", &self.electrum_password)?;
        if let Some(k) = &self.momo_subscription_key {
            check_credential("momo_subscription_key", k)?;
        }
        if let Some(t) = &self.admin_token {
            check_credential("admin_token", t)?;
        }
        let l = &self.limits;
        if l.max_connections == 0 || l.max_connections_per_addr == 0 {
            return Err(SandboxError::Config(
                "limits: connection caps must be at least 1".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Settings handlers read. `Debug` leaves the credentials out.
#[derive(Clone)]
pub(crate) struct Settings {
    pub body_limit: usize,
    pub momo_delay_ms: i64,
    pub conductor_keys: Vec<String>,
    pub electrum_password: String,
    pub momo_subscription_key: Option<String>,
    pub admin_token: String,
    pub limits: Limits,
}

/// Requests the log keeps: a long QA session's worth; older ones are
/// dropped first, so `till sandbox` running for days stays bounded.
pub const REQUEST_LOG_CAP: usize = 10_000;

/// One request the sandbox served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string (empty when none).
    pub query: String,
    /// The status answered; `None` when a fault dropped the connection.
    pub status: Option<u16>,
}

/// State shared by all handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub store: Store,
    pub clock: Arc<Clock>,
    pub faults: Faults,
    pub settings: Settings,
    /// Conductor idempotency keys whose first request is still executing,
    /// with the fingerprint of that request.
    pub conductor_in_flight: Mutex<HashMap<String, String>>,
    /// Conductor transactions with a complete/cancel executing right now.
    pub conductor_processing: Mutex<HashSet<String>>,
    /// Every request served, in arrival order (QA: which operations a
    /// client reached, and what each got).
    pub requests: Mutex<Vec<RequestRecord>>,
    /// For best-effort MoMo callbacks.
    pub http: reqwest::Client,
    /// `https://localhost:PORT`, for the admin info page.
    pub base_url: String,
}

pub(crate) type App = Arc<Shared>;

/// A running sandbox. Dropping it stops the listeners.
#[derive(Debug)]
pub struct Sandbox {
    shared: App,
    addr: SocketAddr,
    plain_addr: Option<SocketAddr>,
    sntp_addr: Option<SocketAddr>,
    base_url: String,
    ca_pem: String,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds the listeners, loads or creates the state, issues the
    /// certificates and starts serving.
    pub async fn start(config: SandboxConfig) -> Result<Self, SandboxError> {
        config.check()?;
        let clock = Arc::new(Clock::new());
        let store = match &config.state_path {
            Some(path) => Store::open(path, clock.clone())?,
            None => Store::in_memory(clock.clone()),
        };

        // A restarted sandbox keeps its CA, so terminals keep trusting it.
        let ca = match store.with(|t| t.get::<CaMaterial>(table::META, "ca"))? {
            Some(ca) => ca,
            None => {
                let ca = tls::generate_ca()?;
                store.with(|t| t.put(table::META, "ca", &ca))?;
                ca
            }
        };
        let identity = tls::issue_server_cert(&ca, &config.extra_names)?;
        let tls_config = tls::server_config(&identity)?;
        if let Some(path) = &config.ca_out {
            std::fs::write(path, &ca.cert_pem)?;
        }

        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("https://localhost:{}", addr.port());
        let plain = match config.plain_listen {
            Some(a) => Some(TcpListener::bind(a).await?),
            None => None,
        };
        let plain_addr = match &plain {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let sntp = match config.sntp_listen {
            Some(a) => Some(UdpSocket::bind(a).await?),
            None => None,
        };
        let sntp_addr = match &sntp {
            Some(s) => Some(s.local_addr()?),
            None => None,
        };

        let faults = Faults::default();
        for rule in &config.faults {
            faults.add(rule.clone());
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let shared = Arc::new(Shared {
            store,
            clock,
            faults,
            settings: Settings {
                body_limit: config.body_limit,
                momo_delay_ms: i64::try_from(config.momo_delay.as_millis()).unwrap_or(i64::MAX),
                conductor_keys: config.conductor_keys.clone(),
                electrum_password: config.electrum_password.clone(),
                momo_subscription_key: config.momo_subscription_key.clone(),
                admin_token: config
                    .admin_token
                    .clone()
                    .unwrap_or_else(|| format!("adm_{}", uuid::Uuid::new_v4().simple())),
                limits: config.limits,
            },
            conductor_in_flight: Mutex::new(HashMap::new()),
            conductor_processing: Mutex::new(HashSet::new()),
            requests: Mutex::new(Vec::new()),
            http,
            base_url: base_url.clone(),
        });
        momo::ensure_preset_user(&shared)?;

        let router = router(shared.clone());
        let (shutdown, rx) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(server::serve(
            listener,
            Some(TlsAcceptor::from(tls_config)),
            shared.clone(),
            router.clone(),
            rx.clone(),
        ))];
        if let Some(plain) = plain {
            tasks.push(tokio::spawn(server::serve(
                plain,
                None,
                shared.clone(),
                router,
                rx.clone(),
            )));
        }
        if let Some(sntp) = sntp {
            tasks.push(tokio::spawn(sntp::serve(sntp, rx.clone())));
        }
        tasks.push(tokio::spawn(momo::finalizer(shared.clone(), rx)));

        Ok(Self {
            shared,
            addr,
            plain_addr,
            sntp_addr,
            base_url,
            ca_pem: ca.cert_pem,
            shutdown,
            tasks,
        })
    }

    /// `https://localhost:PORT` — the base URL of all three APIs.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `http://127.0.0.1:PORT` of the debug listener, if started.
    pub fn plain_base_url(&self) -> Option<String> {
        self.plain_addr.map(|a| format!("http://{a}"))
    }

    /// The SNTP responder's UDP address, if started.
    pub fn sntp_addr(&self) -> Option<SocketAddr> {
        self.sntp_addr
    }

    /// The TLS listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token `/_sandbox/*` requires (`Authorization: Bearer …`).
    pub fn admin_token(&self) -> &str {
        &self.shared.settings.admin_token
    }

    /// The CA certificate (PEM) that issued the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Every financial effect so far.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.shared.store.ledger()
    }

    /// Every request served so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Installs a fault; returns its id.
    pub fn add_fault(&self, rule: FaultRule) -> u64 {
        self.shared.faults.add(rule)
    }

    /// Removes all faults.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Moves the sandbox clock forward (idempotency expiry, token expiry,
    /// MoMo payment progress).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// Stops the listeners and background tasks and waits for them.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn router(app: App) -> Router {
    Router::new()
        .merge(conductor::routes())
        .merge(momo::routes())
        .merge(electrum::routes())
        .merge(admin::routes())
        .fallback(fallback)
        .with_state(app)
}

async fn fallback(uri: axum::http::Uri) -> Response {
    let status = StatusCode::NOT_FOUND;
    (status, axum::Json(api_error_body(uri.path(), status))).into_response()
}

/// Which API a path belongs to, for error bodies outside any handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Conductor,
    Momo,
    Electrum,
    Admin,
}

pub(crate) fn api_of(path: &str) -> Api {
    if path.starts_with("/airtime") {
        Api::Electrum
    } else if path.starts_with("/collection") || path.starts_with("/v1_0") {
        Api::Momo
    } else if path.starts_with("/_sandbox") {
        Api::Admin
    } else {
        Api::Conductor
    }
}

/// The error body each API would send with `status` (used for 404s outside
/// any route and for injected 500/503/504).
pub(crate) fn api_error_body(path: &str, status: StatusCode) -> Value {
    match api_of(path) {
        Api::Conductor => {
            let (code, message) = match status.as_u16() {
                404 => ("NOT_FOUND", "The requested resource doesn't exist."),
                503 => ("SERVICE_UNAVAILABLE", "Service unavailable"),
                504 => ("GATEWAY_TIMEOUT", "Gateway timeout"),
                _ => (
                    "INTERNAL_SERVER_ERROR",
                    "Something went wrong on Conductor's end",
                ),
            };
            conductor::error_body(code, message)
        }
        // The token endpoint speaks OAuth: `{"error": …}` (specs README:
        // 401 `{"error"}`, 500 `{"error":"login_failed"}`).
        Api::Momo if path.starts_with("/collection/token") => {
            json!({ "error": if status.as_u16() == 401 { "invalid_client" } else { "login_failed" } })
        }
        Api::Momo => {
            let (code, message) = match status.as_u16() {
                404 => ("RESOURCE_NOT_FOUND", "Requested resource was not found."),
                503 => ("SERVICE_UNAVAILABLE", "Service unavailable."),
                _ => (
                    "INTERNAL_PROCESSING_ERROR",
                    "An internal error occurred while processing.",
                ),
            };
            json!({ "code": code, "message": message })
        }
        Api::Electrum => {
            let (error_type, message) = match status.as_u16() {
                404 => ("UNABLE_TO_LOCATE_RECORD", "Unable to locate record."),
                503 => ("UPSTREAM_UNAVAILABLE", "Upstream unavailable."),
                504 => ("OUTCOME_UNKNOWN", "Upstream did not answer in time."),
                _ => ("SYSTEM_MALFUNCTION", "General system error"),
            };
            json!({
                "id": uuid::Uuid::new_v4().to_string(),
                "errorType": error_type,
                "errorMessage": message,
                "requestType": electrum::request_type_of(path),
                "detailMessage": {}
            })
        }
        Api::Admin => json!({ "error": status.canonical_reason().unwrap_or("error") }),
    }
}
