//! Every file of every target's seed corpus and regression folder, run
//! through its target: what the fuzzer once found stays fixed, and the
//! seeds still reach what they were made for.

use std::path::{Path, PathBuf};

use till_fuzz::{target, TARGETS};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("corpus entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != "README.md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The inputs of `name`: its corpus and regressions; the `json` target's
/// seeds are the API samples themselves.
fn inputs(name: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = files(&root.join("corpus").join(name));
    out.extend(files(&root.join("regressions").join(name)));
    if name == "json" {
        out.extend(
            files(&root.join("../core/tests/data"))
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "json")),
        );
    }
    out
}

#[test]
fn every_target_has_seeds() {
    for t in TARGETS {
        let n = inputs(t.name).len();
        assert!(n >= 3, "target {}: only {n} inputs", t.name);
    }
}

#[test]
fn every_input_passes_its_target() {
    let mut ran = 0;
    for t in TARGETS {
        for path in inputs(t.name) {
            let bytes = std::fs::read(&path).expect("input");
            let result = std::panic::catch_unwind(|| (t.run)(&bytes));
            assert!(result.is_ok(), "{} fails on {}", t.name, path.display());
            ran += 1;
        }
    }
    assert!(ran > 50, "only {ran} inputs");
}

/// The seeds reach past the first checks: a good chain, a record, a
/// reply and a flash image each read as what they are.
#[test]
fn the_seeds_are_what_they_claim() {
    use till_core::fuzz::{cert_read, cert_verify, flash_slot, Slot};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let read = |path: &str| std::fs::read(root.join(path)).expect("seed");

    let chain = read("cert/seed-00");
    let (len, rest) = chain.split_at(2);
    let (leaf, anchor) = rest.split_at(usize::from(u16::from_be_bytes([len[0], len[1]])));
    assert!(cert_read(leaf) && cert_read(anchor));
    assert_eq!(
        cert_verify(&[leaf], anchor, till_fuzz::CERT_HOST, till_fuzz::CERT_NOW),
        Ok(())
    );
    let client_only = read("cert/seed-03");
    let (leaf, anchor) = client_only[2..].split_at(usize::from(u16::from_be_bytes([
        client_only[0],
        client_only[1],
    ])));
    assert!(cert_verify(&[leaf], anchor, till_fuzz::CERT_HOST, till_fuzz::CERT_NOW).is_err());

    for path in files(&root.join("record")) {
        let bytes = std::fs::read(&path).expect("seed");
        assert!(
            till_core::json::decode::<till_core::outbox::Record>(&bytes).is_ok(),
            "{}",
            path.display()
        );
    }
    assert!(matches!(
        flash_slot(&read("flash_value/seed-01")),
        Slot::Used { .. }
    ));

    let (query, _) =
        till_core::sntp::Query::new(till_fuzz::sntp_server(), &mut till_fuzz::Counter(0));
    assert!(query
        .accept(till_fuzz::sntp_server(), &read("sntp/seed-00"))
        .is_ok());

    let mut flash = till_fuzz::RamFlash::new(till_fuzz::image_pages());
    flash.load(&read("flash_image/seed-02"));
    let held = till_fuzz::block_on(async {
        let range = flash.range();
        let store = till_core::flash::FlashStore::open(&mut flash, range)
            .await
            .expect("open");
        store.len()
    });
    assert_eq!(held, 1);
}

#[test]
fn every_target_is_found_by_name() {
    for t in TARGETS {
        assert!(target(t.name).is_some_and(|found| std::ptr::eq(found, t)));
    }
    assert!(target("nope").is_none());
}
