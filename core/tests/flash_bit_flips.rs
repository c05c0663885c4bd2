//! The outbox's flash store against bit flips in its newest items, checked
//! against a model: a flip may cost a record, but never silently.
//!
//! Each round runs random puts and removes (as the outbox does: new
//! records, replaced records, removals), then flips one bit in the bytes
//! of the newest writes (the last data items, their headers and the commit
//! items after them), reboots (a new `FlashStore::open` over the same
//! memory) and checks:
//!
//! - every record `for_each` reports is the model's value of its key: never
//!   an older value, never a removed key;
//! - every model record that is missing is counted by `damaged()` (no
//!   record disappears unreported), and damage is never reported with
//!   nothing missing beyond what the flip could hide;
//! - after the operator's acknowledgement (`clear_damaged`) the store
//!   takes new records; the lost ones leave the model.
//!
//! `TILL_FLIP_SEED=<n>` replays a run; `TILL_FLIPS=<n>` changes the number
//! of flips (default 2,000).
#![cfg(all(feature = "flash", feature = "std"))]

mod flash_support;

use std::collections::BTreeMap;

use flash_support::{block_on, CutFlash};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use till_core::flash::{FlashStore, SlotState};
use till_core::id::Uuid;
use till_core::outbox::{Store, RECORD_MAX_LEN, STORE_CAPACITY};

/// The power-cut test's geometry: 8 KiB pages of the H7's 32-byte words,
/// the fewest pages `open` accepts, so garbage collection runs often.
const PAGE: usize = 8192;
const WORD: usize = 32;
type Flash = CutFlash<PAGE, WORD>;
const PAGES: usize = 11;
/// Flips in all, split over two tests that run on parallel threads.
const FLIPS: u64 = 2_000;
/// The newest writes a flip lands in: the last two operations (each is an
/// item header and its data, then the commit item's header and data).
const NEWEST_WRITES: usize = 8;

type Model = BTreeMap<Uuid, Vec<u8>>;

#[derive(Debug, Default)]
struct Counts {
    ops: u64,
    /// Flips that cost a record, and were reported.
    damage_reported: u64,
    /// Records lost to a flip (all reported).
    records_lost: u64,
    /// Flips that changed nothing a reader sees (an older value, a commit
    /// item, padding).
    harmless: u64,
}

#[test]
fn bit_flips_1() {
    run(1);
}

#[test]
fn bit_flips_2() {
    run(2);
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

fn run(n: u64) {
    let base = env_u64("TILL_FLIP_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1)
    });
    let seed = base.wrapping_add(n);
    let flips = env_u64("TILL_FLIPS").unwrap_or(FLIPS).div_ceil(2);
    println!("seed {seed}: rerun with TILL_FLIP_SEED={base}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut flash = Flash::new(PAGES, seed);
    let range = flash.range();
    let mut model = Model::new();
    let mut counts = Counts::default();

    for round in 0..flips {
        let ctx = format!("seed {seed}, round {round}");
        {
            let mut store = block_on(FlashStore::open(&mut flash, range.clone()))
                .unwrap_or_else(|e| panic!("{ctx}: open: {e:?}"));
            for _ in 0..rng.gen_range(1..12) {
                operate(&mut store, &mut rng, &mut model, &ctx);
                counts.ops += 1;
            }
        }
        // One bit of the newest writes flips while the terminal is off.
        let newest: Vec<(usize, usize)> = flash
            .writes
            .iter()
            .rev()
            .take(NEWEST_WRITES)
            .copied()
            .collect();
        let total: usize = newest.iter().map(|(_, len)| len).sum();
        let mut pick = rng.gen_range(0..total);
        let byte = newest
            .iter()
            .find_map(|&(at, len)| {
                if pick < len {
                    Some(at + pick)
                } else {
                    pick -= len;
                    None
                }
            })
            .expect("a byte of the newest writes");
        flash.flip(byte, rng.gen_range(0..8));

        let mut store = block_on(FlashStore::open(&mut flash, range.clone()))
            .unwrap_or_else(|e| panic!("{ctx}: open after a flip at {byte}: {e:?}"));
        let seen = observe(&mut store, &ctx);
        for (key, value) in &seen {
            assert_eq!(
                model.get(key),
                Some(value),
                "{ctx}: {key} reported with a value it no longer has (flip at {byte})"
            );
        }
        let lost: Vec<Uuid> = model
            .keys()
            .filter(|k| !seen.contains_key(k))
            .copied()
            .collect();
        let damaged = store.damaged();
        assert!(
            lost.len() <= damaged,
            "{ctx}: {} record(s) gone, {damaged} reported (flip at {byte})",
            lost.len()
        );
        // A reported slot names the record it held before, if any: the
        // operator's lead to the sale.
        for state in store.slots() {
            if let SlotState::Damaged {
                previous: Some(key),
            } = state
            {
                assert!(
                    !seen.contains_key(key),
                    "{ctx}: a damaged slot names a record still reported"
                );
            }
        }
        if damaged == 0 {
            counts.harmless += 1;
            continue;
        }
        counts.damage_reported += 1;
        counts.records_lost += lost.len() as u64;
        // Damage blocks sales until acknowledged; then the slots are free.
        let cleared = block_on(store.clear_damaged()).expect("clear damage");
        assert_eq!(cleared, damaged, "{ctx}");
        assert_eq!(store.damaged(), 0, "{ctx}");
        for key in lost {
            model.remove(&key);
        }
        let mut store = block_on(FlashStore::open(&mut flash, range.clone())).expect("reopen");
        assert_eq!(store.damaged(), 0, "{ctx}: acknowledged damage came back");
        assert_eq!(
            observe(&mut store, &ctx),
            model,
            "{ctx}: after acknowledgement"
        );
    }
    println!("seed {seed}: {flips} flips, {counts:?}");
    assert!(
        counts.damage_reported > 0 && counts.harmless > 0,
        "{counts:?}"
    );
}

/// A random operation, applied to the model when it succeeds.
fn operate(store: &mut FlashStore<&mut Flash>, rng: &mut StdRng, model: &mut Model, ctx: &str) {
    let mut value = vec![0u8; rng.gen_range(50..=RECORD_MAX_LEN)];
    rng.fill(&mut value[..]);
    let n = model.len();
    let existing = |rng: &mut StdRng| *model.keys().nth(rng.gen_range(0..n)).expect("in range");
    let roll: f64 = rng.gen();
    if n == 0 || (n < STORE_CAPACITY && roll < 0.4) {
        let key = Uuid::new_v4(rng);
        block_on(store.put(key, &value)).unwrap_or_else(|e| panic!("{ctx}: put: {e:?}"));
        model.insert(key, value);
    } else if roll < 0.75 {
        let key = existing(rng);
        block_on(store.put(key, &value)).unwrap_or_else(|e| panic!("{ctx}: replace: {e:?}"));
        model.insert(key, value);
    } else {
        let key = existing(rng);
        block_on(store.remove(key)).unwrap_or_else(|e| panic!("{ctx}: remove: {e:?}"));
        model.remove(&key);
    }
}

fn observe(store: &mut FlashStore<&mut Flash>, ctx: &str) -> Model {
    let mut seen = Model::new();
    block_on(store.for_each(&mut [], &mut |key, bytes| {
        assert!(seen.insert(key, bytes.to_vec()).is_none(), "{key} twice");
    }))
    .unwrap_or_else(|e| panic!("{ctx}: for_each: {e:?}"));
    seen
}
