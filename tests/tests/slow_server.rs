//! A server that answers one byte at a time: every money-moving request of
//! every sale meets the sandbox's `SlowTrickle` fault once (the operation
//! takes effect, then its answer comes 16 bytes a second: a kilobyte takes
//! a minute). The terminal's deadlines are whole-exchange deadlines, so
//! the sale ends — charged, not charged or pending — within its step
//! deadline plus one exchange deadline, not when the last byte arrives;
//! after the outbox drains, the ledger agrees with what the shop was told.

mod support;

use std::time::{Duration as StdDuration, Instant as StdInstant};

use support::{Rig, Sale};
use till_core::time::Duration;
use till_host::terminal::HostTerminalExt;
use till_sandbox::{FaultKind, FaultRule, SandboxConfig};

/// The flows' step deadlines in this test (MoMo: the whole payment's poll).
const STEP_DEADLINE: Duration = Duration::from_secs(6);
/// Every endpoint's `exchange_timeout_secs` in this test.
const EXCHANGE_DEADLINE: Duration = Duration::from_secs(3);
/// What a sale may take beyond one step's deadline and one exchange's: its
/// other steps (fast), the handshakes, a debug build.
const MARGIN: StdDuration = StdDuration::from_secs(4);

async fn cell(sale: Sale, route: &str) -> Option<String> {
    let mut rig = Rig::with_config(
        SandboxConfig {
            momo_delay: StdDuration::from_millis(200),
            ..SandboxConfig::default()
        },
        |config| {
            if let Some(c) = config.conductor.as_mut() {
                c.deadline = STEP_DEADLINE;
                c.endpoint.exchange_deadline = EXCHANGE_DEADLINE;
            }
            if let Some(m) = config.momo.as_mut() {
                m.poll_deadline = STEP_DEADLINE;
                m.endpoint.exchange_deadline = EXCHANGE_DEADLINE;
            }
            if let Some(e) = config.electrum.as_mut() {
                e.deadline = STEP_DEADLINE;
                e.endpoint.exchange_deadline = EXCHANGE_DEADLINE;
            }
        },
    )
    .await;
    rig.sandbox.add_fault(
        FaultRule::new(
            route,
            FaultKind::SlowTrickle {
                chunk: 16,
                interval_ms: 1_000,
            },
        )
        .nth(1)
        .times(1),
    );
    let started = StdInstant::now();
    let told = sale.run(&mut rig.term, &mut rig.apis).await;
    let took = started.elapsed();
    let case = format!("{sale:?} / {route}");
    let told = match told {
        Ok(told) => told,
        Err(e) => return Some(format!("{case}: no outcome: {e}")),
    };
    let bound = StdDuration::from_millis(STEP_DEADLINE.as_millis() + EXCHANGE_DEADLINE.as_millis())
        + MARGIN;
    if took > bound {
        return Some(format!(
            "{case}: the sale took {took:?} (bound {bound:?}), told {told:?}"
        ));
    }
    rig.term
        .drain_for(&mut rig.apis, StdDuration::from_secs(30))
        .await
        .expect("drain");
    let pending = rig.term.pending();
    let set_aside = rig.term.attention().len();
    println!("{case}: told {told:?} after {took:?}");
    support::money_rule(sale, Some(told), pending, set_aside, &rig.sandbox.ledger())
        .map(|p| format!("{case}: {p}"))
}

async fn every_route(sale: Sale) {
    let mut failures = Vec::new();
    for route in sale.routes() {
        if let Some(failure) = cell(sale, route).await {
            failures.push(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} routes:\n{}",
        failures.len(),
        sale.routes().len(),
        failures.join("\n")
    );
}

/// A sale's futures hold a TLS session: more than a test thread's stack in
/// a debug build.
const TEST_STACK: usize = 16 * 1024 * 1024;

fn on_a_large_stack(sale: Sale) {
    std::thread::Builder::new()
        .stack_size(TEST_STACK)
        .spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(every_route(sale))
        })
        .expect("test thread")
        .join()
        .expect("slow server");
}

#[test]
fn conductor_primitive_bill_payment_ends_in_time_against_a_trickling_server() {
    on_a_large_stack(Sale::BillPrimitive);
}

#[test]
fn conductor_composite_bill_payment_ends_in_time_against_a_trickling_server() {
    on_a_large_stack(Sale::BillComposite);
}

#[test]
fn momo_payment_ends_in_time_against_a_trickling_server() {
    on_a_large_stack(Sale::Momo);
}

#[test]
fn electrum_airtime_ends_in_time_against_a_trickling_server() {
    on_a_large_stack(Sale::Airtime);
}

#[test]
fn electrum_voucher_ends_in_time_against_a_trickling_server() {
    on_a_large_stack(Sale::Voucher);
}
