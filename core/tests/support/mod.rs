//! Shared helpers for the wire sample tests: decode a sample with till-core,
//! re-encode it, and compare both as JSON values (not as strings).
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;
use till_core::json::{self, DecodeError};
use till_core::json::{Decode as DeserializeOwned, Encode as Serialize};

/// The samples copied from `../shared/specs` (see `data/*/SOURCES.txt`).
pub fn data(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("read {}: {e}", full.display()))
}

/// Bytes encoded into a buffer as large as the decoder accepts.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut buf = vec![0u8; json::MAX_BODY_LEN];
    let n = json::encode(value, &mut buf).expect("re-encode");
    buf.truncate(n);
    buf
}

/// Make two JSON readings comparable:
/// - `null` members are dropped (an absent optional and a `null` one mean the
///   same to every API here, and the encoder omits absent optionals);
/// - numbers with an integral value compare as integers (`1.0` == `1`);
/// - the members named in `ignored` (dotted paths, `[]` for every element of
///   an array) are removed: free-form objects the core skips by design and
///   fields that are not part of the schema.
pub fn normalize(value: &Value, ignored: &[&str]) -> Value {
    let mut v = value.clone();
    for path in ignored {
        remove_path(&mut v, &path.split('.').collect::<Vec<_>>());
    }
    canonical(&v)
}

fn remove_path(v: &mut Value, path: &[&str]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if let Some(name) = first.strip_suffix("[]") {
        let target = if name.is_empty() {
            Some(v)
        } else {
            v.get_mut(name)
        };
        if let Some(Value::Array(items)) = target {
            for item in items {
                remove_path(item, rest);
            }
        }
        return;
    }
    if rest.is_empty() {
        if let Value::Object(map) = v {
            map.remove(*first);
        }
    } else if let Some(child) = v.get_mut(*first) {
        remove_path(child, rest);
    }
}

fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), canonical(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => v.clone(),
        },
        other => other.clone(),
    }
}

/// Decode `path` as `T`, re-encode it, and assert the two are equivalent
/// JSON after [`normalize`]. Returns the decoded value for further checks.
#[track_caller]
pub fn round_trip<T: DeserializeOwned + Serialize>(path: &str, ignored: &[&str]) -> T {
    let bytes = data(path);
    let decoded: T = json::decode(&bytes)
        .unwrap_or_else(|e| panic!("{path}: till-core could not decode it: {e} ({e:?})"));
    let encoded = encode(&decoded);
    let original: Value = serde_json::from_slice(&bytes).expect("sample is JSON");
    let again: Value = serde_json::from_slice(&encoded).expect("re-encoded is JSON");
    assert_eq!(
        normalize(&again, &[]),
        normalize(&original, ignored),
        "{path}: re-encoded JSON differs from the sample\nre-encoded: {}",
        String::from_utf8_lossy(&encoded)
    );
    decoded
}

/// Decode `path` as `T` and return the error it must fail with.
#[track_caller]
pub fn decode_err<T: DeserializeOwned + std::fmt::Debug>(path: &str) -> DecodeError {
    let bytes = data(path);
    match json::decode::<T>(&bytes) {
        Ok(v) => panic!("{path}: expected a decode error, got {v:?}"),
        Err(e) => e,
    }
}
pub mod fixtures;
pub mod harness;
pub mod io;
pub mod samples;
