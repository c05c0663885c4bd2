//! The core issue's fault matrix, replayed against real sandbox faults over
//! real TLS: every money-moving step of every flow meets every kind of
//! fault once (a refused connection, an answer lost after the operation
//! took effect, 5xx before and after the effect, a truncated, malformed or
//! oversized answer, one beyond the client's capacities, an answer lost
//! and its repeat refused with 401, 429, 503 or a gateway's 404 page, a
//! Conductor transaction still IN_PROCESSING). The terminal runs the sale,
//! then drains its outbox.
//! The sandbox's ledger must then say the customer was charged exactly
//! once or not at all — and agree with what the terminal told the shop.

mod support;

use std::time::Duration as StdDuration;

use support::{Rig, Sale};
use till_host::terminal::HostTerminalExt;
use till_sandbox::{FaultKind, FaultRule, SandboxConfig};

/// One fault of the matrix: the rules it installs on the route, each
/// firing once (`nth`: on the n-th request to the route).
struct Fault {
    name: &'static str,
    rules: Vec<(u64, FaultKind)>,
}

impl Fault {
    fn once(name: &'static str, kind: FaultKind) -> Self {
        Self {
            name,
            rules: vec![(1, kind)],
        }
    }

    /// The answer to the first request is lost after it took effect; the
    /// repeat is answered `then`.
    fn lost_then(name: &'static str, then: FaultKind) -> Self {
        Self {
            name,
            rules: vec![(1, FaultKind::ProcessThenClose), (2, then)],
        }
    }
}

/// The faults: every sale meets each on every route.
fn faults(sale: Sale) -> Vec<Fault> {
    let status = |status, process| FaultKind::Status { status, process };
    let mut faults = vec![
        Fault::once("refused before reading", FaultKind::CloseBeforeRead),
        Fault::once("answer lost after the effect", FaultKind::ProcessThenClose),
        Fault::once("503 without effect", status(503, false)),
        Fault::once("500 after the effect", status(500, true)),
        Fault::once("truncated answer", FaultKind::TruncatedBody),
        Fault::once("answer not JSON", FaultKind::InvalidJson),
        Fault::once(
            "answer larger than any buffer",
            FaultKind::OversizedBody { bytes: 256 * 1024 },
        ),
        Fault::once(
            "answer beyond the client's capacities",
            FaultKind::OverCapacity,
        ),
        Fault::lost_then("answer lost, then 401 on the repeat", status(401, false)),
        Fault::lost_then("answer lost, then 429 on the repeat", status(429, false)),
        Fault::lost_then("answer lost, then 503 on the repeat", status(503, false)),
        Fault::lost_then(
            "answer lost, then a gateway's 404 page on the repeat",
            FaultKind::GatewayPage {
                status: 404,
                process: false,
            },
        ),
    ];
    if matches!(
        sale,
        Sale::BillPrimitive | Sale::BillComposite | Sale::BillOneCall | Sale::PartnerOneCall
    ) {
        faults.push(Fault::once(
            "answered while still IN_PROCESSING",
            FaultKind::Processing,
        ));
    }
    faults
}

/// Run one cell of the matrix; returns a line describing a violation.
async fn cell(sale: Sale, route: &str, fault: &Fault) -> Option<String> {
    let mut rig = Rig::with(SandboxConfig {
        momo_delay: StdDuration::from_millis(100),
        ..SandboxConfig::default()
    })
    .await;
    // Short step deadlines keep the matrix fast; the outbox finishes what
    // a deadline leaves pending.
    if let Some(c) = rig.apis.conductor.as_mut() {
        c.deadline = till_core::time::Duration::from_secs(3);
    }
    if let Some(c) = rig.apis.electrum.as_mut() {
        c.deadline = till_core::time::Duration::from_secs(3);
    }
    if let Some(c) = rig.apis.momo.as_mut() {
        c.poll_deadline = till_core::time::Duration::from_secs(3);
    }
    for (nth, kind) in &fault.rules {
        rig.sandbox
            .add_fault(FaultRule::new(route, kind.clone()).nth(*nth).times(1));
    }
    let told = sale
        .run(&mut rig.term, &mut rig.apis)
        .await
        .expect("the terminal reports an outcome, not an error");
    rig.term
        .drain_for(&mut rig.apis, StdDuration::from_secs(20))
        .await
        .expect("outbox drains");
    let pending = rig.term.pending();
    let set_aside = rig.term.attention().len();

    let case = format!("{sale:?} / {route} / {}", fault.name);
    support::money_rule(sale, Some(told), pending, set_aside, &rig.sandbox.ledger())
        .map(|p| format!("{case}: {p}"))
}

/// A sale's futures hold a TLS session, a flow and its records: in a
/// debug build their polls need more than a test thread's 2 MiB of stack
/// (the `till` binary runs them on the main thread's 8 MiB).
const TEST_STACK: usize = 16 * 1024 * 1024;

fn on_a_large_stack<F: std::future::Future<Output = ()>>(
    test: impl FnOnce() -> F + Send + 'static,
) {
    std::thread::Builder::new()
        .stack_size(TEST_STACK)
        .spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(test())
        })
        .expect("test thread")
        .join()
        .expect("matrix");
}

async fn matrix(sale: Sale) {
    let mut failures = Vec::new();
    let mut cells = 0;
    for route in sale.routes() {
        for fault in faults(sale) {
            cells += 1;
            if let Some(failure) = cell(sale, route, &fault).await {
                failures.push(failure);
            }
        }
    }
    println!("fault matrix, {sale:?}: {cells} cells");
    assert!(
        cells >= 12 * sale.routes().len(),
        "the matrix covers every route and fault"
    );
    assert!(
        failures.is_empty(),
        "{} of {cells} cells broke the money rule:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn conductor_primitive_bill_payment_under_every_fault() {
    on_a_large_stack(|| matrix(Sale::BillPrimitive));
}

#[test]
fn conductor_composite_bill_payment_under_every_fault() {
    on_a_large_stack(|| matrix(Sale::BillComposite));
}

#[test]
fn conductor_one_call_bill_payment_under_every_fault() {
    on_a_large_stack(|| matrix(Sale::BillOneCall));
}

#[test]
fn conductor_one_call_partner_payment_under_every_fault() {
    on_a_large_stack(|| matrix(Sale::PartnerOneCall));
}

#[test]
fn momo_payment_under_every_fault() {
    on_a_large_stack(|| matrix(Sale::Momo));
}

#[test]
fn electrum_airtime_under_every_fault() {
    on_a_large_stack(|| matrix(Sale::Airtime));
}

#[test]
fn electrum_voucher_under_every_fault() {
    on_a_large_stack(|| matrix(Sale::Voucher));
}
