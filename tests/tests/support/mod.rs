//! The rig every end-to-end test uses: a sandbox on an ephemeral port with
//! a fresh CA, and the desktop terminal configured for it, its outbox on a
//! file-emulated NorFlash in a temporary directory.

#![allow(dead_code)] // each test file uses a different part

use std::time::Duration as StdDuration;

use rand_core::RngCore;
use till_core::driver::{Clock, Connect};
use till_core::flow::{Flow, Money, Now};
use till_core::money::{Amount, Currency};
use till_core::ops;
use till_core::outbox::Store;
use till_core::terminal::{Apis, Terminal as CoreTerminal};
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
        Self::with_config(sandbox, |_| {}).await
    }

    /// A sandbox configured as given, the terminal's configuration for it
    /// changed by `edit`.
    pub async fn with_config(sandbox: SandboxConfig, edit: impl FnOnce(&mut Config)) -> Self {
        let sandbox = Sandbox::start(sandbox).await.expect("sandbox starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_sandbox(
            sandbox.base_url(),
            sandbox.ca_pem(),
            dir.path().join("outbox.flash"),
        )
        .expect("sandbox config");
        edit(&mut config);
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

/// A sale the end-to-end fault tests run.
#[derive(Debug, Clone, Copy)]
pub enum Sale {
    BillPrimitive,
    BillComposite,
    /// Primitive flow 1: one create with `complete: true`.
    BillOneCall,
    /// Composite flow 1: one partner create with `complete: true`.
    PartnerOneCall,
    Momo,
    Airtime,
    Voucher,
}

impl Sale {
    /// Every sale, in the order the tests run them.
    pub const ALL: [Self; 7] = [
        Self::BillPrimitive,
        Self::BillComposite,
        Self::BillOneCall,
        Self::PartnerOneCall,
        Self::Momo,
        Self::Airtime,
        Self::Voucher,
    ];

    /// The routes of this sale's requests a fault may hit.
    pub fn routes(self) -> &'static [&'static str] {
        match self {
            Self::BillPrimitive => &[
                "POST /conductor/v1/transactions",
                "POST /conductor/v1/transactions/*/complete",
            ],
            Self::BillComposite => &[
                "POST /conductor/v1/partners/transactions",
                "POST /conductor/v1/partners/transactions/*/complete",
            ],
            Self::BillOneCall => &["POST /conductor/v1/transactions"],
            Self::PartnerOneCall => &["POST /conductor/v1/partners/transactions"],
            Self::Momo => &[
                "POST /collection/token/",
                "POST /collection/v2_0/payment",
                "GET /collection/v2_0/payment/*",
            ],
            Self::Airtime => &[
                "POST /airtime/v5/purchases",
                "POST /airtime/v5/purchases/confirmations",
            ],
            Self::Voucher => &[
                "POST /airtime/v5/vouchers/*",
                "POST /airtime/v5/vouchers/*/confirmations/*",
            ],
        }
    }

    /// The ledger kinds whose entries are this sale's money, and the
    /// amount of one sale in minor units.
    pub fn ledger(self) -> (&'static [&'static str], i64) {
        match self {
            Self::BillPrimitive => (&["bill_paid"], 39_550),
            Self::BillComposite | Self::PartnerOneCall => (&["bill_paid"], 190_000),
            Self::BillOneCall => (&["bill_paid"], 39_550),
            Self::Momo => (&["payment_succeeded"], 2_500),
            Self::Airtime => (&["airtime_sold", "reversal_applied"], 5_000),
            Self::Voucher => (&["voucher_issued", "reversal_applied"], 1_000),
        }
    }

    /// Run the sale on any terminal: what the shop is told, or why the
    /// terminal stopped before telling it anything.
    pub async fn run<T, S, C, R>(
        self,
        term: &mut CoreTerminal<'_, T, S, C, R>,
        apis: &mut Apis,
    ) -> Result<Money, String>
    where
        T: Connect,
        S: Store,
        C: Clock,
        R: RngCore,
    {
        let result = match self {
            Self::BillPrimitive | Self::BillOneCall => {
                ops::pay_bill(
                    term,
                    apis,
                    "za_dstv",
                    "8604275423086",
                    Some("SUBS"),
                    None,
                    matches!(self, Self::BillOneCall),
                    |o| o.money(),
                )
                .await
            }
            Self::BillComposite | Self::PartnerOneCall => {
                ops::pay_partner(
                    term,
                    apis,
                    "za_dstv",
                    "1234567890",
                    Some("SUBS"),
                    Amount::from_minor(190_000, Currency::ZAR),
                    matches!(self, Self::PartnerOneCall),
                    |o| o.money(),
                )
                .await
            }
            Self::Momo => {
                ops::momo_pay(
                    term,
                    apis,
                    "46733123999",
                    Amount::from_minor(2_500, Currency::EUR),
                    "Electricity Inc.",
                    |o| o.money(),
                )
                .await
            }
            Self::Airtime => {
                ops::airtime(
                    term,
                    apis,
                    "27821234567",
                    "759",
                    Amount::from_minor(5_000, Currency::ZAR),
                    false,
                    |o| o.money(),
                )
                .await
            }
            Self::Voucher => {
                ops::voucher(
                    term,
                    apis,
                    "VCH10",
                    Amount::from_minor(1_000, Currency::ZAR),
                    |o| o.money(),
                )
                .await
            }
        };
        result.map_err(|e| e.to_string())
    }
}

/// The money rule, once the outbox has drained: the ledger's entries for
/// `sale` show it charged exactly once or not at all, and agree with what
/// the shop was `told` (`None`: the terminal stopped before telling it
/// anything, as a power cut does; then the ledger need only be whole).
/// `None` if the rule holds, else what broke it.
pub fn money_rule(
    sale: Sale,
    told: Option<Money>,
    pending: usize,
    set_aside: usize,
    ledger: &[LedgerEntry],
) -> Option<String> {
    let (kinds, amount) = sale.ledger();
    let entries: Vec<_> = ledger
        .iter()
        .filter(|e| kinds.contains(&e.kind.as_str()))
        .collect();
    let effects = entries.iter().filter(|e| e.amount_minor > 0).count();
    let net: i64 = entries.iter().map(|e| e.amount_minor).sum();

    let problem = if pending != 0 {
        Some(format!("{pending} record(s) still pending after the drain"))
    } else if set_aside != 0 && told.is_none_or(|t| t == Money::Pending) {
        // A record set aside is fine when the shop was told the money
        // (an Electrum confirmation refused for good: the sale stands);
        // a pending or unknown sale set aside would leave the shop never
        // knowing.
        Some(format!(
            "{set_aside} record(s) set aside while the shop was told {told:?}"
        ))
    } else if effects > 1 {
        Some(format!(
            "{effects} financial effects: charged more than once"
        ))
    } else if net != 0 && net != amount {
        Some(format!("ledger nets to {net}, neither 0 nor {amount}"))
    } else {
        match told {
            Some(Money::Charged) if net != amount => {
                Some(format!("told the shop CHARGED, ledger nets to {net}"))
            }
            Some(Money::NotCharged) if net != 0 => {
                Some(format!("told the shop NOT CHARGED, ledger nets to {net}"))
            }
            // Pending or untold: the outbox settled it either way; the
            // ledger is consistent (checked above).
            _ => None,
        }
    };
    problem.map(|p| format!("{p} (told {told:?}, ledger {entries:?})"))
}
