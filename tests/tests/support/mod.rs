//! The rig every end-to-end test uses: a sandbox on an ephemeral port with
//! a fresh CA, and the desktop terminal configured for it, its outbox on a
//! file-emulated NorFlash in a temporary directory.

#![allow(dead_code)] // each test file uses a different part

use std::time::Duration as StdDuration;

use till_core::flow::{Flow, Now};
use till_core::terminal::Apis;
use till_host::config::Config;
use till_host::net::NetResources;
use till_host::terminal::{self, HostTerminalExt, Terminal};
use till_sandbox::{LedgerEntry, Sandbox, SandboxConfig};

/// Sandbox, terminal and the API credentials.
pub struct Rig {
    pub sandbox: Sandbox,
    pub term: Terminal<'static>,
    pub apis: Apis,
    pub config: Config,
    _dir: tempfile::TempDir,
}

impl Rig {
    /// A sandbox whose MoMo payments stay PENDING for 200 ms.
    pub async fn start() -> Self {
        Self::with(SandboxConfig {
            momo_delay: StdDuration::from_millis(200),
            ..SandboxConfig::default()
        })
        .await
    }

    /// A sandbox configured as given.
    pub async fn with(sandbox: SandboxConfig) -> Self {
        let sandbox = Sandbox::start(sandbox).await.expect("sandbox starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config::for_sandbox(
            sandbox.base_url(),
            sandbox.ca_pem(),
            dir.path().join("outbox.flash"),
        )
        .expect("sandbox config");
        // The terminal borrows its network resources for its whole life;
        // a test's rig lives as long as the test.
        let resources = Box::leak(Box::new(NetResources::new(&config).expect("net")));
        let (term, _) = terminal::open(resources, &config.outbox_path)
            .await
            .expect("terminal opens");
        let apis = terminal::apis(&config).expect("apis");
        Self {
            sandbox,
            term,
            apis,
            config,
            _dir: dir,
        }
    }

    pub fn now(&mut self) -> Now {
        self.term.now()
    }

    pub async fn run<F: Flow>(&mut self, flow: &mut F) -> F::Outcome {
        // Boxed: the driver's future holds a TLS session, too large for a
        // test thread's stack.
        Box::pin(self.term.run(flow)).await.expect("driver")
    }

    /// Whether the outbox store holds no record.
    pub async fn store_is_empty(&mut self) -> bool {
        self.term.records().await.expect("records").is_empty()
    }

    pub fn ledger(&self, kind: &str) -> Vec<LedgerEntry> {
        self.sandbox
            .ledger()
            .into_iter()
            .filter(|e| e.kind == kind)
            .collect()
    }
}
