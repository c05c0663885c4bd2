//! Decoding never panics on input from the network: arbitrary bytes, and
//! every sample mutated at random (bytes flipped, cut, spliced, brackets
//! piled up), decoded as every message type. Errors are fine; panics,
//! stack overflows and hangs are not. (The `json` fuzz target, run as a
//! property test with mutations aimed at JSON.)

use proptest::prelude::*;
use till_fuzz::json as decode_all;

/// Every sample file, as the seeds for mutation.
fn samples() -> &'static [Vec<u8>] {
    static SAMPLES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SAMPLES.get_or_init(load_samples)
}

fn load_samples() -> Vec<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/data");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("data dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(std::fs::read(&path).expect("sample"));
            }
        }
    }
    assert!(out.len() >= 50, "only {} samples found", out.len());
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, byte: u8 },
    Cut { at: usize, len: usize },
    Splice { at: usize, text: String },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Cut { at, len }),
        (
            any::<usize>(),
            prop_oneof![
                Just("[".repeat(200)),
                Just("{\"a\":".repeat(100)),
                Just("\\u".to_string()),
                Just("\"\\ud800\"".to_string()),
                Just("-".to_string()),
                Just("99999999999999999999999".to_string()),
                Just("null".to_string()),
                "[\\[\\]{}\":,0-9a-z\\\\ .-]{1,16}",
            ]
        )
            .prop_map(|(at, text)| Mutation::Splice { at, text }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Flip { at, byte } => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b = *byte;
                }
            }
            Mutation::Cut { at, len: n } => {
                let start = (at % len).min(bytes.len());
                let end = (start + n).min(bytes.len());
                bytes.drain(start..end);
            }
            Mutation::Splice { at, text } => {
                let at = (at % len).min(bytes.len());
                bytes.splice(at..at, text.bytes());
            }
            Mutation::Truncate { at } => bytes.truncate(at % len),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        decode_all(&bytes);
    }

    #[test]
    fn mutated_samples(seed in any::<proptest::sample::Index>(), mutations in proptest::collection::vec(mutation(), 1..6)) {
        let all = samples();
        let sample = all[seed.index(all.len())].clone();
        decode_all(&apply(sample, &mutations));
    }
}

/// Nesting far beyond the limit, in every position a value can take.
#[test]
fn deep_nesting_everywhere() {
    for sample in samples() {
        for at in (0..sample.len()).step_by(37) {
            // Deep but under the body cap, so the depth pre-scan is what stops it.
            let mut bytes = sample.clone();
            bytes.splice(at..at, std::iter::repeat_n(b'[', 1000));
            decode_all(&bytes);
        }
    }
}
