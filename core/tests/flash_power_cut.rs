//! The outbox's flash store against power cuts, the way sequential-storage
//! tests itself: random operations on a flash that loses power at a random
//! byte of a write or a random point of an erase, then a reboot (a new
//! `FlashStore::open` over the same memory) and a check against a model.
//!
//! After every reboot:
//! - every key whose put completed and that was not removed since holds
//!   exactly its last completed value;
//! - the key of the operation the power cut (only that one) holds its
//!   value from before or from after that operation — and keeps it on
//!   every later boot;
//! - no removed key comes back, and no unknown key appears.
//!
//! The flash enforces write-once words (STM32H7 ECC) throughout.
//!
//! `TILL_FLASH_SEED=<n>` replays a run; `TILL_FLASH_CUTS=<n>` changes the
//! number of power cuts (default 10,000). `TILL_FLASH_BULK_ERASE=1` models
//! a cut erase as every cell of the page part way to erased instead of an
//! ordered erase: sequential-storage's recovery assumes the latter, and
//! fails under the former (see `flash_support`).
#![cfg(all(feature = "flash", feature = "std"))]

mod flash_support;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

use flash_support::{block_on, CutError, CutFlash};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use till_core::flash::{FlashStore, FlashStoreError};
use till_core::id::Uuid;
use till_core::outbox::{Store, RECORD_MAX_LEN, STORE_CAPACITY};

/// 8 KiB pages of 32-byte words (the H7's word): three largest records
/// per page, and small enough that a reboot's scan stays fast in debug.
const PAGE: usize = 8192;
const WORD: usize = 32;
type Flash = CutFlash<PAGE, WORD>;
/// The fewest pages `FlashStore::open` accepts on this geometry: the
/// tightest garbage collection.
const PAGES: usize = 11;
/// Power cuts in all (split over [`RUNS`] histories).
const CUTS: u64 = 10_000;
/// Shortest and longest record: a small status check to the largest the
/// outbox allows.
const RECORD_LEN: std::ops::RangeInclusive<usize> = 50..=RECORD_MAX_LEN;

/// Boots between checks of `get` for every key.
const GET_ALL_EVERY: u64 = 50;

type Model = BTreeMap<Uuid, Vec<u8>>;

/// The operation the power cut: its key's value before and after it.
#[derive(Debug)]
struct InFlight {
    op: &'static str,
    key: Uuid,
    before: Option<Vec<u8>>,
    after: Option<Vec<u8>>,
}

fn is_cut(e: &FlashStoreError<CutError>) -> bool {
    matches!(
        e,
        FlashStoreError::Flash(sequential_storage::Error::Storage {
            value: CutError::PowerCut,
            ..
        })
    )
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

#[derive(Debug, Default)]
struct Counts {
    boots: u64,
    ops: u64,
    full_refusals: u64,
    resolved_old: u64,
    resolved_new: u64,
    cut_in_boot: u64,
}

/// Four independent histories of a quarter of the cuts each, so the test
/// harness runs them on parallel threads.
#[test]
fn power_cuts_1() {
    run(1);
}

#[test]
fn power_cuts_2() {
    run(2);
}

#[test]
fn power_cuts_3() {
    run(3);
}

#[test]
fn power_cuts_4() {
    run(4);
}

/// Histories the cuts are split over (the tests above).
const RUNS: u64 = 4;

fn run(n: u64) {
    // One base seed for all the runs of a test binary.
    static BASE: OnceLock<u64> = OnceLock::new();
    let base = *BASE.get_or_init(|| {
        env_u64("TILL_FLASH_SEED").unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
    });
    let seed = base.wrapping_add(n);
    let target = env_u64("TILL_FLASH_CUTS").unwrap_or(CUTS).div_ceil(RUNS);
    // Shown when the test fails.
    println!("seed {seed}: rerun with TILL_FLASH_SEED={base}");

    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut flash = Flash::new(PAGES, seed ^ 0x9E37_79B9_7F4A_7C15);
    flash.bulk_erase = std::env::var_os("TILL_FLASH_BULK_ERASE").is_some();
    let mut model = Model::new();
    let mut in_flight: Option<InFlight> = None;
    let mut counts = Counts::default();

    while flash.stats.in_write + flash.stats.in_erase < target {
        counts.boots += 1;
        // Most boots lose power again within a record or two, the others
        // run long enough to fill pages and collect garbage.
        let fuel = if rng.gen_bool(0.6) {
            rng.gen_range(0..2_500)
        } else {
            rng.gen_range(0..30_000)
        };
        flash.reboot(Some(fuel));
        let ctx = format!("seed {seed}, boot {}", counts.boots);
        session(
            &mut flash,
            &mut rng,
            &mut model,
            &mut in_flight,
            &mut counts,
            &ctx,
        );
        assert_eq!(flash.stats.ecc_violations, 0, "{ctx}: word written twice");
    }

    // A last clean boot: everything that completed is there.
    flash.reboot(None);
    let range = flash.range();
    let mut store = block_on(FlashStore::open(&mut flash, range)).expect("final open");
    assert_eq!(store.damaged(), 0, "final: a power cut read as damage");
    let seen = observe(&mut store).expect("final read");
    resolve(
        &mut model,
        &mut in_flight,
        &seen,
        &format!("seed {seed}, final"),
    );

    println!(
        "seed {seed}: {} power cuts ({} in writes, {} in erases, {} during boot), {counts:?}, {:.1} s",
        flash.stats.in_write + flash.stats.in_erase,
        flash.stats.in_write,
        flash.stats.in_erase,
        counts.cut_in_boot,
        started.elapsed().as_secs_f64()
    );
    assert!(counts.resolved_old > 0 && counts.ops > 0);
}

/// Boot, check, then run random operations until the power goes.
fn session(
    flash: &mut Flash,
    rng: &mut StdRng,
    model: &mut Model,
    in_flight: &mut Option<InFlight>,
    counts: &mut Counts,
    ctx: &str,
) {
    let range = flash.range();
    let mut store = match block_on(FlashStore::open(&mut *flash, range)) {
        Ok(store) => store,
        Err(e) if is_cut(&e) => {
            counts.cut_in_boot += 1;
            return;
        }
        Err(e) => panic!("{ctx}: open failed: {e:?}\n{}", flash.describe_pages()),
    };
    let seen = match observe(&mut store) {
        Ok(seen) => seen,
        Err(e) if is_cut(&e) => {
            counts.cut_in_boot += 1;
            return;
        }
        Err(e) => panic!("{ctx}: for_each failed: {e:?}"),
    };
    assert_eq!(store.damaged(), 0, "{ctx}: a power cut read as damage");
    let last_key = in_flight.as_ref().map(|f| f.key);
    if let Some(f) = in_flight.as_ref() {
        if seen.get(&f.key) == f.after.as_ref() {
            counts.resolved_new += 1;
        } else {
            counts.resolved_old += 1;
        }
    }
    resolve(model, in_flight, &seen, ctx);
    assert_eq!(store.len(), model.len(), "{ctx}: index length");

    // `get` agrees with `for_each`: for the key the cut hit, and on every
    // [`GET_ALL_EVERY`]th boot for all keys (a lookup scans the map while
    // its key cache is cold after a boot: all keys on every boot would
    // double the test's time).
    let mut buf = vec![0u8; RECORD_MAX_LEN];
    let mut keys: Vec<Uuid> = last_key.into_iter().collect();
    if counts.boots.is_multiple_of(GET_ALL_EVERY) {
        keys.extend(model.keys());
    }
    for key in keys {
        let expected = model.get(&key);
        match block_on(store.get(key, &mut buf)) {
            Ok(found) => assert_eq!(
                found.map(|n| &buf[..n]),
                expected.map(|v| &v[..]),
                "{ctx}: get {key}"
            ),
            Err(e) if is_cut(&e) => return,
            Err(e) => panic!("{ctx}: get {key}: {e:?}"),
        }
    }

    loop {
        let (op, key, value) = next_op(rng, model);
        let before = model.get(&key).cloned();
        let result = match &value {
            Some(value) => block_on(store.put(key, value)),
            None => block_on(store.remove(key)),
        };
        match result {
            Ok(()) => {
                counts.ops += 1;
                match value {
                    Some(value) => model.insert(key, value),
                    None => model.remove(&key),
                };
            }
            Err(FlashStoreError::Full) => {
                assert!(
                    model.len() == STORE_CAPACITY && before.is_none(),
                    "{ctx}: Full with {} records",
                    model.len()
                );
                counts.full_refusals += 1;
            }
            Err(e) if is_cut(&e) => {
                *in_flight = Some(InFlight {
                    op,
                    key,
                    before,
                    after: value,
                });
                return;
            }
            Err(e) => panic!("{ctx}: {op} {key} failed: {e:?}"),
        }
    }
}

/// Every record `for_each` reports; each key at most once.
fn observe(store: &mut FlashStore<&mut Flash>) -> Result<Model, FlashStoreError<CutError>> {
    let mut seen = Model::new();
    let mut duplicate = None;
    block_on(store.for_each(&mut [], &mut |key, bytes| {
        if seen.insert(key, bytes.to_vec()).is_some() {
            duplicate = Some(key);
        }
    }))?;
    assert_eq!(duplicate, None, "a key reported twice");
    Ok(seen)
}

/// Check what the store holds against the model; settle the operation the
/// power cut to the value found.
fn resolve(model: &mut Model, in_flight: &mut Option<InFlight>, seen: &Model, ctx: &str) {
    if let Some(f) = in_flight.take() {
        let found = seen.get(&f.key);
        assert!(
            found == f.before.as_ref() || found == f.after.as_ref(),
            "{ctx}: {} {} cut by power: found {}, expected before {} or after {}",
            f.op,
            f.key,
            describe(found),
            describe(f.before.as_ref()),
            describe(f.after.as_ref()),
        );
        match found {
            Some(v) => model.insert(f.key, v.clone()),
            None => model.remove(&f.key),
        };
    }
    for (key, value) in seen {
        match model.get(key) {
            None => panic!(
                "{ctx}: {key} is on flash ({}) but was removed or never stored",
                describe(Some(value))
            ),
            Some(expected) => assert!(
                expected == value,
                "{ctx}: {key} holds {}, expected {}",
                describe(Some(value)),
                describe(Some(expected))
            ),
        }
    }
    for key in model.keys() {
        assert!(seen.contains_key(key), "{ctx}: {key} lost");
    }
}

fn describe(v: Option<&Vec<u8>>) -> String {
    match v {
        None => "nothing".into(),
        Some(v) => format!("{} bytes {:02x?}…", v.len(), &v[..v.len().min(4)]),
    }
}

/// A random operation: put of a new key, replace, remove (sometimes of a
/// key that is not there), and, when the outbox is full, sometimes a put
/// that must be refused. `None` as the value is a remove.
fn next_op(rng: &mut StdRng, model: &Model) -> (&'static str, Uuid, Option<Vec<u8>>) {
    let value = |rng: &mut StdRng| {
        let len = rng.gen_range(RECORD_LEN);
        let mut v = vec![0u8; len];
        rng.fill(&mut v[..]);
        v
    };
    let n = model.len();
    let roll: f64 = rng.gen();
    let existing = |rng: &mut StdRng| {
        let i = rng.gen_range(0..n);
        *model.keys().nth(i).expect("index in range")
    };
    if n == 0 || (n < STORE_CAPACITY && roll < 0.4) || (n == STORE_CAPACITY && roll < 0.05) {
        let key = Uuid::new_v4(rng);
        ("put new", key, Some(value(rng)))
    } else if roll < 0.7 {
        let key = existing(rng);
        ("replace", key, Some(value(rng)))
    } else if roll < 0.72 {
        ("remove missing", Uuid::new_v4(rng), None)
    } else {
        ("remove", existing(rng), None)
    }
}
