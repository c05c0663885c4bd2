//! Power cuts in the middle of real sales, on the flash outbox store.
//!
//! The terminal runs each kind of sale against the sandbox over real TLS,
//! its outbox on the same `FlashStore` code the board runs, over an
//! in-memory NOR flash that loses power at a chosen byte of a write or
//! erase (`core/tests/flash_support`: torn words, partly erased pages,
//! STM32H7's write-once words). For each cut point the terminal dies
//! there, boots again over the same memory, and drains its outbox; then:
//!
//! - the store reports no damage (a cut is not corruption);
//! - nothing is left pending, and nothing that was pending is set aside
//!   without the shop having been told its money;
//! - the sandbox's ledger shows the sale charged exactly once or not at
//!   all, and agrees with what the terminal told the shop if it told it
//!   anything before the cut.
//!
//! `TILL_SALE_CUTS` sets the cut points per sale (default 64: about one per 32-byte word a sale writes), spread over
//! the bytes a clean sale writes and erases; `TILL_SALE_CUT_SEED` moves
//! them.

#[path = "../../core/tests/flash_support/mod.rs"]
mod flash_support;
mod support;

use flash_support::CutFlash;
use rand_core::OsRng;
use support::Sale;
use till_core::flash::FlashStore;
use till_core::terminal::{Apis, Terminal as CoreTerminal};
use till_core::time::Duration;
use till_host::config::Config;
use till_host::net::{HostConnect, NetResources};
use till_host::terminal::{self, HostClock};
use till_sandbox::{Sandbox, SandboxConfig};

/// The desktop's flash geometry (4 KiB pages, 32-byte words, as the file
/// flash), at the fewest pages the store accepts plus room to collect
/// garbage.
type Flash = CutFlash<4096, 32>;
const PAGES: usize = 32;

/// How long a reboot's drain may take: the outbox's retries back off
/// from one second.
const DRAIN: Duration = Duration::from_secs(30);

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Boot over `flash`: open the store and the terminal. `None` if the power
/// is already gone during the boot.
async fn boot<'a>(
    resources: &'a mut NetResources,
    flash: &'a mut Flash,
) -> Option<CoreTerminal<'a, HostConnect<'a>, FlashStore<&'a mut Flash>, HostClock, OsRng>> {
    let range = flash.range();
    let store = FlashStore::open(flash, range).await.ok()?;
    let (connect, buffers) = HostConnect::new(resources).expect("connector");
    let (term, _) = CoreTerminal::open(connect, store, HostClock::new(), OsRng, buffers)
        .await
        .ok()?;
    Some(term)
}

/// One sale with the power going after `fuel` bytes of flash work (`None`:
/// never). What the shop was told, if anything.
async fn sale_until_cut(
    sale: Sale,
    resources: &mut NetResources,
    flash: &mut Flash,
    apis: &mut Apis,
    fuel: Option<u64>,
) -> Option<till_core::flow::Money> {
    flash.reboot(fuel);
    let mut term = boot(resources, flash).await?;
    Box::pin(sale.run(&mut term, apis)).await.ok()
}

/// After the cut: boot again with power for good, drain, and judge.
async fn reboot_and_judge(
    resources: &mut NetResources,
    flash: &mut Flash,
    apis: &mut Apis,
) -> Result<(usize, usize), String> {
    flash.reboot(None);
    let mut term = boot(resources, flash)
        .await
        .ok_or("the store does not open after a power cut")?;
    if term.damaged() != 0 {
        return Err(format!(
            "the store reports {} damaged record(s) after a power cut",
            term.damaged()
        ));
    }
    let until = term.now().instant + DRAIN;
    Box::pin(term.drain(apis, until))
        .await
        .map_err(|e| format!("drain: {e}"))?;
    Ok((term.pending(), term.attention().len()))
}

async fn cuts(sale: Sale) {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::for_sandbox(
        sandbox.base_url(),
        sandbox.ca_pem(),
        dir.path().join("unused.flash"),
    )
    .expect("sandbox config");
    let mut resources = NetResources::new(&config).expect("net");
    let mut apis = terminal::apis(&config).expect("apis");
    let mut flash = Flash::new(PAGES, env("TILL_SALE_CUT_SEED", 7));

    // A clean sale: how many bytes of flash work one takes.
    const PLENTY: u64 = 1 << 40;
    let told = sale_until_cut(sale, &mut resources, &mut flash, &mut apis, Some(PLENTY)).await;
    let work = PLENTY - flash.fuel_left().expect("the power never went");
    assert_eq!(
        told,
        Some(till_core::flow::Money::Charged),
        "a clean {sale:?} is charged"
    );
    assert!(work > 0, "a {sale:?} writes its records to flash");

    let points = env("TILL_SALE_CUTS", 64).max(1);
    let shift = env("TILL_SALE_CUT_SEED", 7) % work.max(1);
    let mut failures = Vec::new();
    let mut untold = 0;
    let mut charged = 0;
    for i in 0..points {
        // Spread over the clean sale's work; a later sale may also collect
        // garbage, so a point past its writes is still a cut somewhere.
        let fuel = (i * work / points + shift) % work;
        let before = sandbox.ledger().len();
        let told = sale_until_cut(sale, &mut resources, &mut flash, &mut apis, Some(fuel)).await;
        untold += usize::from(told.is_none());
        let judged = match reboot_and_judge(&mut resources, &mut flash, &mut apis).await {
            Ok((pending, set_aside)) => {
                let ledger = sandbox.ledger();
                let this_sale = ledger.get(before..).unwrap_or_default();
                let (kinds, _) = sale.ledger();
                let net: i64 = this_sale
                    .iter()
                    .filter(|e| kinds.contains(&e.kind.as_str()))
                    .map(|e| e.amount_minor)
                    .sum();
                charged += usize::from(net != 0);
                support::money_rule(sale, told, pending, set_aside, this_sale)
            }
            Err(problem) => Some(problem),
        };
        if let Some(problem) = judged {
            failures.push(format!(
                "{sale:?}, cut after {fuel} of {work} bytes: {problem}"
            ));
        }
    }
    println!(
        "power cuts, {sale:?}: {points} cuts over {work} bytes of flash work, \
         {untold} before the shop was told; {charged} ended charged, {} not",
        points as usize - charged
    );
    assert!(
        untold > 0,
        "some cuts land before the sale's outcome (the test cuts something)"
    );
    assert!(
        charged > 0 && charged < points as usize,
        "cuts land both before the provider took the money and after"
    );
    assert!(
        failures.is_empty(),
        "{} of {points} cuts broke the money rule:\n{}",
        failures.len(),
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
                .block_on(cuts(sale))
        })
        .expect("test thread")
        .join()
        .expect("power cuts");
}

#[test]
fn conductor_primitive_bill_payment_survives_power_cuts() {
    on_a_large_stack(Sale::BillPrimitive);
}

#[test]
fn conductor_composite_bill_payment_survives_power_cuts() {
    on_a_large_stack(Sale::BillComposite);
}

#[test]
fn conductor_one_call_bill_payment_survives_power_cuts() {
    on_a_large_stack(Sale::BillOneCall);
}

#[test]
fn conductor_one_call_partner_payment_survives_power_cuts() {
    on_a_large_stack(Sale::PartnerOneCall);
}

#[test]
fn momo_payment_survives_power_cuts() {
    on_a_large_stack(Sale::Momo);
}

#[test]
fn electrum_airtime_survives_power_cuts() {
    on_a_large_stack(Sale::Airtime);
}

#[test]
fn electrum_voucher_survives_power_cuts() {
    on_a_large_stack(Sale::Voucher);
}
