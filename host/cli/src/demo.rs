//! `till demo`: the sandbox in-process on an ephemeral port with a fresh CA,
//! and the terminal doing what a shop does in a day — every flow of the
//! three APIs, one MoMo payment the payer rejects, and one airtime sale
//! whose answer is lost so its reversal goes out from the outbox.
//!
//! Each step has an expected outcome; the demo fails (non-zero exit) when
//! any step ends otherwise, and checks the sandbox's ledger for the lost
//! sale: sold once, reversed once, nothing charged.

use std::io::{IsTerminal, Write as _};
use std::time::{Duration, Instant};

use serde::Serialize;
use till_core::flow::Money;
use till_core::money::{Amount, Currency};
use till_sandbox::{FaultKind, FaultRule, Sandbox, SandboxConfig};

use till_core::ops;
use till_core::terminal::Apis;

use crate::config::Config;
use crate::net::NetResources;
use crate::slip;
use crate::terminal::{self, HostTerminalExt, Terminal, TerminalError};

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Print JSON outcomes instead of the human tour.
    pub json: bool,
    /// How long the sandbox keeps a MoMo payment PENDING.
    pub momo_delay: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            json: false,
            momo_delay: Duration::from_millis(1500),
        }
    }
}

/// One step's result.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// What the terminal did.
    pub name: String,
    /// What should happen to the customer's money.
    pub expected: String,
    /// What did.
    pub outcome: String,
    /// Whether the two agree (and any extra check passed).
    pub ok: bool,
    /// Wall time of the step.
    pub millis: u64,
    /// HTTP requests the step made.
    pub requests: u32,
    /// TLS handshakes the step made.
    pub handshakes: u32,
    /// The slip or receipt.
    pub slip: Vec<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// Every step in order.
    pub steps: Vec<StepReport>,
    /// Whether every step ended as expected.
    pub ok: bool,
    /// Wall time of the run, sandbox start included.
    pub millis: u64,
}

fn money_word(money: Money) -> &'static str {
    match money {
        Money::Charged => "charged",
        Money::NotCharged => "not charged",
        Money::Pending => "pending",
    }
}

/// A spinner on stderr while a step runs (only on a terminal).
struct Spinner {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Spinner {
    fn start(label: &str, enabled: bool) -> Self {
        if !enabled {
            return Self { task: None };
        }
        let label = label.to_string();
        let task = tokio::spawn(async move {
            const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
            let mut i = 0usize;
            loop {
                eprint!("\r  {} {label}", FRAMES[i % FRAMES.len()]);
                let _ = std::io::stderr().flush();
                i += 1;
                tokio::time::sleep(Duration::from_millis(120)).await;
            }
        });
        Self { task: Some(task) }
    }

    fn stop(self) {
        if let Some(task) = self.task {
            task.abort();
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}

struct Tour<'t, 'a> {
    term: &'t mut Terminal<'a>,
    apis: Apis,
    sandbox: &'t Sandbox,
    options: DemoOptions,
    steps: Vec<StepReport>,
    spinner: bool,
}

impl Tour<'_, '_> {
    /// Run one step: `body` returns (outcome money, slip, extra check).
    async fn step<F>(&mut self, name: &str, expected: Money, body: F)
    where
        F: AsyncFnOnce(
            &mut Terminal<'_>,
            &mut Apis,
            &Sandbox,
        ) -> Result<(Money, Vec<String>, Option<String>), TerminalError>,
    {
        if !self.options.json {
            say!("\n> {name}");
        }
        let before = self.term.net_stats();
        let started = Instant::now();
        let spinner = Spinner::start(name, self.spinner);
        let result = body(self.term, &mut self.apis, self.sandbox).await;
        spinner.stop();
        let after = self.term.net_stats();
        let (outcome, ok, slip) = match result {
            Ok((money, slip, problem)) => match problem {
                None => (money_word(money).to_string(), money == expected, slip),
                Some(problem) => (format!("{} ({problem})", money_word(money)), false, slip),
            },
            Err(e) => (format!("error: {e}"), false, Vec::new()),
        };
        let report = StepReport {
            name: name.to_string(),
            expected: money_word(expected).to_string(),
            outcome,
            ok,
            millis: started.elapsed().as_millis() as u64,
            requests: after.requests - before.requests,
            handshakes: after.handshakes - before.handshakes,
            slip,
        };
        if !self.options.json {
            for line in &report.slip {
                say!("    {line}");
            }
            say!(
                "  {} {} — {} ({} requests, {} TLS handshake{}, {} ms)",
                if report.ok { "ok" } else { "UNEXPECTED" },
                report.name,
                report.outcome,
                report.requests,
                report.handshakes,
                if report.handshakes == 1 { "" } else { "s" },
                report.millis
            );
        }
        self.steps.push(report);
    }
}

/// Run the demo; the report says whether every outcome was the expected one.
pub async fn run(options: DemoOptions) -> Result<DemoReport, TerminalError> {
    let started = Instant::now();
    let sandbox = Sandbox::start(SandboxConfig {
        momo_delay: options.momo_delay,
        ..SandboxConfig::default()
    })
    .await
    .map_err(|e| TerminalError::Other(format!("sandbox: {e}")))?;
    let dir = std::env::temp_dir().join(format!("till-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| TerminalError::OutboxFile {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let outbox_path = dir.join("outbox.flash");
    let _ = std::fs::remove_file(&outbox_path);
    let config = Config::for_sandbox(sandbox.base_url(), sandbox.ca_pem(), outbox_path)?;
    if !options.json {
        say!(
            "till demo — sandbox at {} (fresh CA), outbox on emulated flash in {}",
            sandbox.base_url(),
            dir.display()
        );
    }
    let mut resources = NetResources::new(&config)?;
    let (mut term, _) = terminal::open(&mut resources, &config.outbox_path).await?;
    let mut apis = terminal::apis(&config)?;
    // A short step deadline, so the sale whose answer is lost hands its
    // reversal to the outbox within seconds instead of retrying inline.
    if let Some(electrum) = apis.electrum.as_mut() {
        electrum.deadline = till_core::time::Duration::from_secs(3);
    }
    let spinner = !options.json && std::io::stderr().is_terminal();
    let mut tour = Tour {
        term: &mut term,
        apis,
        sandbox: &sandbox,
        options: options.clone(),
        steps: Vec::new(),
        spinner,
    };
    tour_steps(&mut tour).await;
    let steps = std::mem::take(&mut tour.steps);
    drop(tour);
    drop(term);
    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    let ok = steps.iter().all(|s| s.ok);
    let report = DemoReport {
        steps,
        ok,
        millis: started.elapsed().as_millis() as u64,
    };
    if options.json {
        say!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print_summary(&report);
    }
    Ok(report)
}

async fn tour_steps(tour: &mut Tour<'_, '_>) {
    tour.step(
        "DStv bill payment (Conductor primitive flow)",
        Money::Charged,
        async |term, apis, _| {
            let outcome = ops::pay_bill(
                term,
                apis,
                "za_dstv",
                "8604275423086",
                Some("SUBS"),
                None,
                false,
                Clone::clone,
            )
            .await?;
            Ok((
                outcome.money(),
                slip::bill("DStv ZA — Sihle Gambu", &outcome).lines,
                None,
            ))
        },
    )
    .await;
    tour.step(
        "Partner payment (Conductor composite flow)",
        Money::Charged,
        async |term, apis, _| {
            let amount = Amount::from_minor(190_000, Currency::ZAR);
            let outcome = ops::pay_partner(
                term,
                apis,
                "za_dstv",
                "1234567890",
                Some("SUBS"),
                amount,
                false,
                Clone::clone,
            )
            .await?;
            Ok((
                outcome.money(),
                slip::bill("DStv ZA partner payment", &outcome).lines,
                None,
            ))
        },
    )
    .await;
    tour.step(
        "Catalogue order (Conductor order + transaction)",
        Money::Charged,
        async |term, apis, _| {
            let outcome = ops::order(
                term,
                apis,
                "ng_dstv",
                "customer_number=1234567890",
                "ng_entertainment_cabletv_dstv",
                "ng_dstv_compe36",
                1,
                Clone::clone,
            )
            .await?;
            Ok((
                outcome.money(),
                slip::bill("DStv NG — Compact order", &outcome).lines,
                None,
            ))
        },
    )
    .await;
    tour.step(
        "MoMo payment polled to SUCCESSFUL",
        Money::Charged,
        async |term, apis, _| {
            let amount = Amount::from_minor(2500, Currency::EUR);
            let outcome = ops::momo_pay(
                term,
                apis,
                "46733123999",
                amount,
                "Electricity Inc.",
                Clone::clone,
            )
            .await?;
            Ok((outcome.money(), slip::momo(&outcome).lines, None))
        },
    )
    .await;
    tour.step(
        "MoMo payment the payer rejects (FAILED)",
        Money::NotCharged,
        async |term, apis, _| {
            let amount = Amount::from_minor(2500, Currency::EUR);
            let outcome = ops::momo_pay(
                term,
                apis,
                "46733123451",
                amount,
                "Electricity Inc.",
                Clone::clone,
            )
            .await?;
            let problem = match &outcome {
                till_core::momo::flow::PaymentOutcome::Failed {
                    reason: Some(_), ..
                } => None,
                _ => Some("expected FAILED with a reason".to_string()),
            };
            Ok((outcome.money(), slip::momo(&outcome).lines, problem))
        },
    )
    .await;
    tour.step(
        "Airtime with trial and confirmation (Electrum)",
        Money::Charged,
        async |term, apis, _| {
            let amount = Amount::from_minor(5000, Currency::ZAR);
            let outcome =
                ops::airtime(term, apis, "27821234567", "759", amount, true, Clone::clone).await?;
            Ok((
                outcome.money(),
                slip::sale("Airtime R50.00", &outcome).lines,
                None,
            ))
        },
    )
    .await;
    tour.step(
        "Voucher sale (Electrum)",
        Money::Charged,
        async |term, apis, _| {
            let amount = Amount::from_minor(1000, Currency::ZAR);
            let outcome = ops::voucher(term, apis, "VCH10", amount, Clone::clone).await?;
            Ok((
                outcome.money(),
                slip::sale("Voucher R10.00", &outcome).lines,
                None,
            ))
        },
    )
    .await;
    tour.step(
        "Airtime whose answer is lost: reversal from the outbox",
        Money::NotCharged,
        async |term, apis, sandbox| {
            // The purchase takes effect upstream but its answer never
            // arrives, and the reversal meets 504 (an outcome Electrum's
            // rules call unknown) while the sale runs: the sale ends
            // pending with its reversal in the outbox.
            sandbox.add_fault(
                FaultRule::new("POST /airtime/v5/purchases", FaultKind::ProcessThenClose).times(1),
            );
            sandbox.add_fault(
                FaultRule::new(
                    "POST /airtime/v5/purchases/reversals",
                    FaultKind::Status {
                        status: 504,
                        process: false,
                    },
                )
                .times(1_000),
            );
            let ledger_before = sandbox.ledger().len();
            let amount = Amount::from_minor(5000, Currency::ZAR);
            let outcome = ops::airtime(
                term,
                apis,
                "27821234567",
                "759",
                amount,
                false,
                Clone::clone,
            )
            .await?;
            let mut lines = slip::sale("Airtime R50.00", &outcome).lines;
            let till_core::electrum::flow::SaleOutcome::Pending(_) = &outcome else {
                return Ok((
                    outcome.money(),
                    lines,
                    Some("expected the sale to end pending".into()),
                ));
            };
            // The network is back: the outbox delivers the reversal.
            sandbox.clear_faults();
            let report = term.drain_for(apis, Duration::from_secs(30)).await?;
            lines.push(format!(
                "Outbox      {} settled, {} retried, {} pending",
                report.settled,
                report.retried,
                term.pending()
            ));
            // What the sandbox's ledger recorded during this step.
            let ledger = sandbox.ledger();
            let step = ledger.get(ledger_before..).unwrap_or_default();
            let sold: i64 = step
                .iter()
                .filter(|e| e.kind == "airtime_sold")
                .map(|e| e.amount_minor)
                .sum();
            let reversed: i64 = step
                .iter()
                .filter(|e| e.kind == "reversal_applied")
                .map(|e| e.amount_minor)
                .sum();
            lines.push(format!(
                "Ledger       sold {sold}, reversed {reversed} (minor units)"
            ));
            if term.pending() != 0 || report.settled == 0 {
                return Ok((
                    till_core::flow::Money::Pending,
                    lines,
                    Some("the reversal was not delivered".into()),
                ));
            }
            if sold == 0 || sold + reversed != 0 {
                return Ok((
                    till_core::flow::Money::Charged,
                    lines,
                    Some("the ledger does not net to zero".into()),
                ));
            }
            Ok((till_core::flow::Money::NotCharged, lines, None))
        },
    )
    .await;
}

fn print_summary(report: &DemoReport) {
    say!(
        "\n{:<56} {:<12} {:<12} {:>5} {:>4} {:>7}",
        "step",
        "expected",
        "outcome",
        "reqs",
        "tls",
        "ms"
    );
    for s in &report.steps {
        say!(
            "{:<56} {:<12} {:<12} {:>5} {:>4} {:>7}{}",
            s.name,
            s.expected,
            s.outcome.chars().take(12).collect::<String>(),
            s.requests,
            s.handshakes,
            s.millis,
            if s.ok { "" } else { "  <- UNEXPECTED" }
        );
    }
    say!(
        "\n{} in {} ms",
        if report.ok {
            "all outcomes as expected"
        } else {
            "SOME OUTCOMES DIFFER FROM THE EXPECTED ONES"
        },
        report.millis
    );
}
