//! The ledger: one row per financial effect (bill paid, payment succeeded,
//! airtime sold, voucher issued, reversal applied), with the identifiers a
//! test needs to prove "charged exactly once or not at all".

use serde::{Deserialize, Serialize};

/// Which API produced an entry.
pub mod api {
    /// Moment Conductor.
    pub const CONDUCTOR: &str = "conductor";
    /// MTN MoMo Collection.
    pub const MOMO: &str = "momo";
    /// Electrum Airtime.
    pub const ELECTRUM: &str = "electrum";
}

/// What happened. Reversals carry a negative amount.
pub mod kind {
    /// A Conductor transaction reached COMPLETED.
    pub const BILL_PAID: &str = "bill_paid";
    /// A MoMo payment reached SUCCESSFUL.
    pub const PAYMENT_SUCCEEDED: &str = "payment_succeeded";
    /// An Electrum purchase was approved (201).
    pub const AIRTIME_SOLD: &str = "airtime_sold";
    /// An Electrum voucher was provisioned (201).
    pub const VOUCHER_ISSUED: &str = "voucher_issued";
    /// An Electrum purchase or voucher was reversed (negative amount).
    pub const REVERSAL_APPLIED: &str = "reversal_applied";
}

/// One financial effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Position in the ledger, from 1.
    pub seq: i64,
    /// Sandbox-clock time, RFC 3339.
    pub at: String,
    /// `conductor`, `momo` or `electrum`.
    pub api: String,
    /// See [`kind`].
    pub kind: String,
    /// The primary identifier: Conductor transaction id, MoMo X-Reference-Id,
    /// Electrum request id.
    pub reference: String,
    /// A secondary identifier: Conductor external_reference, MoMo
    /// externalTransactionId, Electrum reversal id.
    pub related: Option<String>,
    /// Signed amount in minor units (reversals are negative).
    pub amount_minor: i64,
    /// Currency as the API carries it (`ZAR`, `EUR`, `710`).
    pub currency: String,
    /// Free-form details (biller, MSISDN, product, partner…).
    pub detail: serde_json::Value,
}

/// An entry before it has a position and a time.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// See [`LedgerEntry::api`].
    pub api: &'static str,
    /// See [`LedgerEntry::kind`].
    pub kind: &'static str,
    /// See [`LedgerEntry::reference`].
    pub reference: String,
    /// See [`LedgerEntry::related`].
    pub related: Option<String>,
    /// See [`LedgerEntry::amount_minor`].
    pub amount_minor: i64,
    /// See [`LedgerEntry::currency`].
    pub currency: String,
    /// See [`LedgerEntry::detail`].
    pub detail: serde_json::Value,
}

/// The ledger of a sandbox state file (`--state` / `state_path`), oldest
/// first, read through a read-only SQLite connection. Works while the
/// sandbox that owns the file is still running, in this process or another:
/// every operation is committed before it is answered, so the ledger read
/// after a response includes that response's effect.
pub fn read_state(path: &std::path::Path) -> Result<Vec<LedgerEntry>, crate::SandboxError> {
    Ok(crate::store::read_ledger(path)?)
}
