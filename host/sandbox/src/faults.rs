//! Fault injection, per route and per n-th request.
//!
//! A [`FaultRule`] names a route (`"POST /airtime/v5/purchases"`, `"GET
//! /collection/v2_0/payment/*"`, `"/conductor/**"`, `"*"`), which matching
//! request it first fires on (`nth`, from 1) and how often (`times`, default:
//! every later match too). Rules come from a TOML file at start
//! ([`FaultFile`]) and from `POST /_sandbox/faults` at run time. Admin paths
//! (`/_sandbox/…`) are never faulted.
//!
//! What each [`FaultKind`] does to the exchange is implemented in
//! [`crate::server`]; "process then close" is the dangerous one: the
//! operation takes effect (the ledger is written) and the connection is
//! dropped before any response byte.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Default size of an oversized answer (1 MiB).
pub const DEFAULT_OVERSIZED_BYTES: usize = 1024 * 1024;

/// Largest oversized answer a rule may ask for: far beyond any terminal
/// buffer, and small enough that a rule cannot abort the sandbox.
pub const MAX_OVERSIZED_BYTES: usize = 64 * 1024 * 1024;

/// What to do to a matching exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Wait `ms` before handling the request (then answer normally).
    Latency {
        /// Added delay in milliseconds.
        ms: u64,
    },
    /// Drop the connection without reading the body or doing anything.
    CloseBeforeRead,
    /// Perform the operation (ledger written), then drop the connection
    /// before sending any response byte.
    ProcessThenClose,
    /// Answer `status` (500, 503, 504…) with the API's error body; with
    /// `process = true` the operation takes effect first.
    Status {
        /// HTTP status to answer.
        status: u16,
        /// Perform the operation before answering.
        #[serde(default)]
        process: bool,
    },
    /// Perform the operation, send the status, headers and half the body
    /// (Content-Length announces all of it), then drop the connection.
    TruncatedBody,
    /// Perform the operation and answer its status with a body that is not
    /// valid JSON.
    InvalidJson,
    /// Perform the operation and pad its JSON answer with whitespace to
    /// `bytes` (still valid JSON, but larger than any terminal buffer).
    OversizedBody {
        /// Size of the padded body.
        #[serde(default = "default_oversized")]
        bytes: usize,
    },
    /// Answer `status` with a gateway's HTML page instead of the API's error
    /// body (a proxy's 404, a load balancer's 503); with `process = true`
    /// the operation takes effect first.
    GatewayPage {
        /// HTTP status to answer.
        status: u16,
        /// Perform the operation before answering.
        #[serde(default)]
        process: bool,
    },
    /// Perform the operation and answer it with every list and text the
    /// documents leave unbounded made longer than a small client keeps:
    /// 12 `transactionLabels`, 25 `thirdPartyIdentifiers` and a 300-byte
    /// `basketRef` (Electrum), a 2,000-byte `status.message` and item
    /// `description` (Conductor). Still valid, still the same sale.
    OverCapacity,
    /// Perform the operation and answer with its `data.status` replaced by
    /// `IN_PROCESSING` (Conductor: the transaction is still processing; a
    /// read of it shows how it ended).
    Processing,
    /// Perform the operation and send the answer `chunk` bytes every
    /// `interval_ms`.
    SlowTrickle {
        /// Bytes per chunk.
        #[serde(default = "default_chunk")]
        chunk: usize,
        /// Pause between chunks.
        #[serde(default = "default_interval")]
        interval_ms: u64,
    },
}

fn default_oversized() -> usize {
    DEFAULT_OVERSIZED_BYTES
}
fn default_chunk() -> usize {
    16
}
fn default_interval() -> u64 {
    100
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// `"[METHOD ]PATH-PATTERN"`: `*` or `{name}` matches one segment, a
    /// trailing `**` the rest; `"*"` alone matches every API request.
    pub route: String,
    /// The first matching request (from 1) the rule fires on.
    #[serde(default)]
    pub nth: Option<u64>,
    /// How many times it fires (default: on every later match as well).
    #[serde(default)]
    pub times: Option<u64>,
    /// What it does.
    #[serde(flatten)]
    pub kind: FaultKind,
}

impl FaultRule {
    /// A rule firing on every request to `route`.
    pub fn new(route: impl Into<String>, kind: FaultKind) -> Self {
        Self {
            route: route.into(),
            nth: None,
            times: None,
            kind,
        }
    }

    /// Fires first on the `n`-th matching request (from 1).
    pub fn nth(mut self, n: u64) -> Self {
        self.nth = Some(n);
        self
    }

    /// Fires `n` times.
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        let route = self.route.trim();
        if route == "*" {
            return true;
        }
        let (want_method, pattern) = match route.split_once(' ') {
            Some((m, p)) => (Some(m.trim()), p.trim()),
            None => (None, route),
        };
        if let Some(m) = want_method {
            if m != "*" && !m.eq_ignore_ascii_case(method) {
                return false;
            }
        }
        path_matches(pattern, path)
    }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let mut pat = pattern
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty());
    let mut segs = path.trim_matches('/').split('/').filter(|s| !s.is_empty());
    loop {
        match (pat.next(), segs.next()) {
            (Some("**"), _) => return true,
            (None, None) => return true,
            (Some(p), Some(s)) => {
                let wildcard = p == "*" || (p.starts_with('{') && p.ends_with('}'));
                if !wildcard && p != s {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// A fault file: `[[fault]]` tables with the fields of [`FaultRule`].
///
/// ```toml
/// [[fault]]
/// route = "POST /airtime/v5/purchases"
/// kind = "process_then_close"
/// nth = 2
/// times = 1
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FaultFile {
    /// The rules, in priority order.
    #[serde(default)]
    pub fault: Vec<FaultRule>,
}

impl FaultFile {
    /// Parses the TOML text of a fault file.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

/// A rule as installed, with its counters.
#[derive(Debug, Clone, Serialize)]
pub struct InstalledRule {
    /// Id for `DELETE /_sandbox/faults/{id}`.
    pub id: u64,
    /// The rule.
    #[serde(flatten)]
    pub rule: FaultRule,
    /// Matching requests seen so far.
    pub seen: u64,
    /// Times fired so far.
    pub fired: u64,
}

/// The installed rules.
#[derive(Debug, Default)]
pub struct Faults {
    inner: Mutex<FaultsInner>,
}

#[derive(Debug, Default)]
struct FaultsInner {
    next_id: u64,
    rules: Vec<InstalledRule>,
}

impl Faults {
    /// Installs a rule; returns its id.
    pub fn add(&self, rule: FaultRule) -> u64 {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.rules.push(InstalledRule {
            id,
            rule,
            seen: 0,
            fired: 0,
        });
        id
    }

    /// Removes one rule; false if there was none with that id.
    pub fn remove(&self, id: u64) -> bool {
        let mut inner = self.lock();
        let before = inner.rules.len();
        inner.rules.retain(|r| r.id != id);
        inner.rules.len() != before
    }

    /// Removes all rules.
    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// The installed rules with their counters.
    pub fn list(&self) -> Vec<InstalledRule> {
        self.lock().rules.clone()
    }

    /// Counts this request against every matching rule and returns the fault
    /// of the first rule that fires, if any.
    pub fn select(&self, method: &str, path: &str) -> Option<FaultKind> {
        if path.starts_with("/_sandbox") {
            return None;
        }
        let mut inner = self.lock();
        let mut chosen = None;
        for r in inner.rules.iter_mut() {
            if !r.rule.matches(method, path) {
                continue;
            }
            r.seen += 1;
            let first = r.rule.nth.unwrap_or(1).max(1);
            let within = r.rule.times.is_none_or(|t| r.fired < t);
            if chosen.is_none() && r.seen >= first && within {
                r.fired += 1;
                chosen = Some(r.rule.kind.clone());
            }
        }
        chosen
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultsInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_segments_and_methods() {
        let r = FaultRule::new("POST /airtime/v5/purchases", FaultKind::CloseBeforeRead);
        assert!(r.matches("POST", "/airtime/v5/purchases"));
        assert!(!r.matches("GET", "/airtime/v5/purchases"));
        assert!(!r.matches("POST", "/airtime/v5/purchases/reversals"));
        let r = FaultRule::new(
            "/conductor/v1/transactions/{id}/complete",
            FaultKind::CloseBeforeRead,
        );
        assert!(r.matches("POST", "/conductor/v1/transactions/abc/complete"));
        let r = FaultRule::new("* /collection/**", FaultKind::CloseBeforeRead);
        assert!(r.matches("GET", "/collection/v2_0/payment/x"));
        assert!(!r.matches("GET", "/airtime/v5/products"));
    }

    #[test]
    fn nth_and_times_count_matches() {
        let faults = Faults::default();
        faults.add(
            FaultRule::new("GET /x", FaultKind::InvalidJson)
                .nth(2)
                .times(1),
        );
        assert_eq!(faults.select("GET", "/x"), None);
        assert_eq!(faults.select("GET", "/y"), None);
        assert_eq!(faults.select("GET", "/x"), Some(FaultKind::InvalidJson));
        assert_eq!(faults.select("GET", "/x"), None);
    }

    #[test]
    fn fault_file_parses() {
        let file = FaultFile::parse(
            r#"
            [[fault]]
            route = "POST /airtime/v5/purchases"
            kind = "status"
            status = 504
            process = true
            nth = 2

            [[fault]]
            route = "*"
            kind = "latency"
            ms = 250
            "#,
        )
        .expect("valid fault file");
        assert_eq!(file.fault.len(), 2);
        assert_eq!(
            file.fault[0].kind,
            FaultKind::Status {
                status: 504,
                process: true
            }
        );
        assert_eq!(file.fault[1].kind, FaultKind::Latency { ms: 250 });
    }
}
