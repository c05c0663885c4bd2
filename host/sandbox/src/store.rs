//! All sandbox state behind one struct: in memory, and — when a state file
//! is given — written through to SQLite (rusqlite, bundled library) on every
//! change, so a restarted sandbox still knows every earlier transaction.
//!
//! Records are JSON documents in named tables (`records(tbl, key, value)`);
//! the ledger is a real table with columns, for `sqlite3 state.db 'select *
//! from ledger'`. Every read-modify-write happens inside [`Store::with`],
//! under one lock, so checks and updates are atomic.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::clock::{rfc3339, Clock};
use crate::ledger::{LedgerEntry, NewEntry};

/// Table names (one place, so the SQLite file is easy to read).
pub mod table {
    /// Conductor idempotency records, keyed `partner|key`.
    pub const CONDUCTOR_IDEMPOTENCY: &str = "conductor_idempotency";
    /// Conductor transactions, keyed by id.
    pub const CONDUCTOR_TRANSACTIONS: &str = "conductor_transactions";
    /// Conductor external references, keyed `partner|external_reference`.
    pub const CONDUCTOR_EXTERNAL_REFS: &str = "conductor_external_refs";
    /// Conductor orders, keyed by id.
    pub const CONDUCTOR_ORDERS: &str = "conductor_orders";
    /// MoMo API users, keyed by id.
    pub const MOMO_USERS: &str = "momo_users";
    /// MoMo access tokens, keyed by token.
    pub const MOMO_TOKENS: &str = "momo_tokens";
    /// MoMo payments, keyed by X-Reference-Id.
    pub const MOMO_PAYMENTS: &str = "momo_payments";
    /// Electrum purchases, keyed by request id.
    pub const ELECTRUM_PURCHASES: &str = "electrum_purchases";
    /// Electrum vouchers, keyed by request id.
    pub const ELECTRUM_VOUCHERS: &str = "electrum_vouchers";
    /// Electrum request ids reversed before they were seen (404 reversals).
    pub const ELECTRUM_TOMBSTONES: &str = "electrum_tombstones";
    /// Sandbox metadata (the CA, so a restarted sandbox keeps its identity).
    pub const META: &str = "meta";
}

/// A storage failure (SQLite or JSON).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A record did not (de)serialize.
    #[error("record encoding: {0}")]
    Json(#[from] serde_json::Error),
    /// The operation's writes did not commit and were undone: nothing of it
    /// took effect.
    #[error("the change could not be committed and was rolled back")]
    RolledBack,
}

/// The state, shared by all handlers.
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Tables>,
    clock: Arc<Clock>,
}

/// The tables, reachable only inside [`Store::with`].
pub struct Tables {
    records: HashMap<String, BTreeMap<String, serde_json::Value>>,
    ledger: Vec<LedgerEntry>,
    db: Option<Connection>,
    clock: Arc<Clock>,
    /// A SQLite write failed inside the current [`Store::with`]: the whole
    /// batch is rolled back, in SQLite and in memory.
    failed: bool,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tables")
            .field("tables", &self.records.len())
            .field("ledger", &self.ledger.len())
            .field("sqlite", &self.db.is_some())
            .finish()
    }
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS records (
    tbl   TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tbl, key)
);
CREATE TABLE IF NOT EXISTS ledger (
    seq          INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    api          TEXT NOT NULL,
    kind         TEXT NOT NULL,
    reference    TEXT NOT NULL,
    related      TEXT,
    amount_minor INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    detail       TEXT NOT NULL
);
";

impl Store {
    /// State in memory only.
    pub fn in_memory(clock: Arc<Clock>) -> Self {
        Self {
            inner: Mutex::new(Tables {
                records: HashMap::new(),
                ledger: Vec::new(),
                db: None,
                clock: clock.clone(),
                failed: false,
            }),
            clock,
        }
    }

    /// State kept in the SQLite file at `path` (created if missing); loads
    /// everything recorded there before.
    pub fn open(path: &Path, clock: Arc<Clock>) -> Result<Self, StoreError> {
        let db = Connection::open(path)?;
        // Wait out another process's lock (say `sqlite3` writing) instead of
        // failing the write at once.
        db.busy_timeout(BUSY_TIMEOUT)?;
        db.execute_batch(SCHEMA)?;
        let mut records: HashMap<String, BTreeMap<String, serde_json::Value>> = HashMap::new();
        {
            let mut stmt = db.prepare("SELECT tbl, key, value FROM records")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            for row in rows {
                let (tbl, key, value) = row?;
                records
                    .entry(tbl)
                    .or_default()
                    .insert(key, serde_json::from_str(&value)?);
            }
        }
        let ledger = load_ledger(&db)?;
        Ok(Self {
            inner: Mutex::new(Tables {
                records,
                ledger,
                db: Some(db),
                clock: clock.clone(),
                failed: false,
            }),
            clock,
        })
    }

    /// Runs `f` with exclusive access to all tables, as one transaction:
    /// with `--state`, every write of `f` (records and ledger rows) commits
    /// together or not at all, so a state change and its ledger entry are
    /// never split by a failed write or a kill.
    ///
    /// The answer says whether the change is really there: when `f`
    /// succeeded but its writes were rolled back (a write failed and `f`
    /// went on, the transaction could not begin, or `COMMIT` failed), the
    /// result is [`StoreError::RolledBack`], never `f`'s success.
    pub fn with<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Tables) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut t = self.lock();
        if t.db.is_none() {
            return f(&mut t);
        }
        let records = t.records.clone();
        let ledger_len = t.ledger.len();
        t.failed = false;
        let began =
            t.db.as_ref()
                .is_some_and(|db| db.execute_batch("BEGIN IMMEDIATE").is_ok());
        // Without a transaction each write would commit on its own: keep
        // SQLite out of `f` then, so the rollback below undoes everything.
        let detached = if began { None } else { t.db.take() };
        let out = f(&mut t);
        if detached.is_some() {
            t.db = detached;
        }
        let committed = began
            && !t.failed
            && t.db
                .as_ref()
                .is_some_and(|db| db.execute_batch("COMMIT").is_ok());
        t.failed = false;
        if committed {
            return out;
        }
        if let Some(db) = t.db.as_ref() {
            let _ = db.execute_batch("ROLLBACK");
        }
        tracing::error!("state write failed; the change was rolled back");
        t.records = records;
        t.ledger.truncate(ledger_len);
        match out {
            // `f`'s own error (often the failed write itself) says more.
            Err(e) => Err(e),
            Ok(_) => Err(StoreError::RolledBack.into()),
        }
    }

    /// A copy of the ledger.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.lock().ledger.clone()
    }

    /// The sandbox clock this store stamps entries with.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave a half-written record
        // behind in a way that matters more than a dead sandbox would.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How long a connection waits for another one's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The ledger of the state file at `path`, oldest first, read through a
/// read-only connection — also while a sandbox is running on that file (the
/// file is in WAL mode and the sandbox commits every operation, so a reader
/// sees each committed operation and never blocks the sandbox).
pub fn read_ledger(path: &Path) -> Result<Vec<LedgerEntry>, StoreError> {
    let db = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    db.busy_timeout(BUSY_TIMEOUT)?;
    load_ledger(&db)
}

/// Every ledger row of `db`, in `seq` order (one statement, so one snapshot).
fn load_ledger(db: &Connection) -> Result<Vec<LedgerEntry>, StoreError> {
    let mut ledger = Vec::new();
    let mut stmt = db.prepare(
        "SELECT seq, at, api, kind, reference, related, amount_minor, currency, detail
         FROM ledger ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, i64>(6)?,
            r.get::<_, String>(7)?,
            r.get::<_, String>(8)?,
        ))
    })?;
    for row in rows {
        let (seq, at, api, kind, reference, related, amount_minor, currency, detail) = row?;
        ledger.push(LedgerEntry {
            seq,
            at,
            api,
            kind,
            reference,
            related,
            amount_minor,
            currency,
            detail: serde_json::from_str(&detail)?,
        });
    }
    Ok(ledger)
}

impl Tables {
    /// Reads one record.
    pub fn get<T: DeserializeOwned>(&self, tbl: &str, key: &str) -> Result<Option<T>, StoreError> {
        match self.records.get(tbl).and_then(|t| t.get(key)) {
            Some(v) => Ok(Some(serde_json::from_value(v.clone())?)),
            None => Ok(None),
        }
    }

    /// True if a record exists.
    pub fn contains(&self, tbl: &str, key: &str) -> bool {
        self.records.get(tbl).is_some_and(|t| t.contains_key(key))
    }

    /// Writes one record (and through to SQLite).
    pub fn put<T: Serialize>(&mut self, tbl: &str, key: &str, value: &T) -> Result<(), StoreError> {
        let value = serde_json::to_value(value)?;
        if let Some(db) = &self.db {
            let written = db.execute(
                "INSERT OR REPLACE INTO records (tbl, key, value) VALUES (?1, ?2, ?3)",
                params![tbl, key, value.to_string()],
            );
            if let Err(e) = written {
                self.failed = true;
                return Err(e.into());
            }
        }
        self.records
            .entry(tbl.to_owned())
            .or_default()
            .insert(key.to_owned(), value);
        Ok(())
    }

    /// Deletes one record.
    pub fn remove(&mut self, tbl: &str, key: &str) -> Result<(), StoreError> {
        if let Some(db) = &self.db {
            let written = db.execute(
                "DELETE FROM records WHERE tbl = ?1 AND key = ?2",
                params![tbl, key],
            );
            if let Err(e) = written {
                self.failed = true;
                return Err(e.into());
            }
        }
        if let Some(t) = self.records.get_mut(tbl) {
            t.remove(key);
        }
        Ok(())
    }

    /// All records of a table, in key order.
    pub fn scan<T: DeserializeOwned>(&self, tbl: &str) -> Result<Vec<(String, T)>, StoreError> {
        let mut out = Vec::new();
        if let Some(t) = self.records.get(tbl) {
            for (k, v) in t {
                out.push((k.clone(), serde_json::from_value(v.clone())?));
            }
        }
        Ok(out)
    }

    /// The records of a table whose stored JSON satisfies `keep`, decoded;
    /// cheap filters run before any decoding.
    pub fn scan_where<T: DeserializeOwned>(
        &self,
        tbl: &str,
        keep: impl Fn(&serde_json::Value) -> bool,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let mut out = Vec::new();
        if let Some(t) = self.records.get(tbl) {
            for (k, v) in t.iter().filter(|(_, v)| keep(v)) {
                out.push((k.clone(), serde_json::from_value(v.clone())?));
            }
        }
        Ok(out)
    }

    /// Appends a ledger entry and returns it.
    pub fn record(&mut self, entry: NewEntry) -> Result<LedgerEntry, StoreError> {
        let seq = self.ledger.last().map_or(1, |e| e.seq + 1);
        let entry = LedgerEntry {
            seq,
            at: rfc3339(self.clock.now_ms()),
            api: entry.api.to_owned(),
            kind: entry.kind.to_owned(),
            reference: entry.reference,
            related: entry.related,
            amount_minor: entry.amount_minor,
            currency: entry.currency,
            detail: entry.detail,
        };
        if let Some(db) = &self.db {
            let written = db.execute(
                "INSERT INTO ledger (seq, at, api, kind, reference, related, amount_minor, currency, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    entry.seq,
                    entry.at,
                    entry.api,
                    entry.kind,
                    entry.reference,
                    entry.related,
                    entry.amount_minor,
                    entry.currency,
                    entry.detail.to_string()
                ],
            );
            if let Err(e) = written {
                self.failed = true;
                return Err(e.into());
            }
        }
        self.ledger.push(entry.clone());
        Ok(entry)
    }

    /// The sandbox clock, for handlers running inside [`Store::with`].
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> NewEntry {
        NewEntry {
            api: "electrum",
            kind: "airtime_sold",
            reference: "ref-1".to_owned(),
            related: None,
            amount_minor: 2900,
            currency: "710".to_owned(),
            detail: serde_json::json!({}),
        }
    }

    /// A state file whose ledger refuses every insert (a trigger installed
    /// by a second connection, as a full disk or a locked file would).
    fn failing_store(dir: &tempfile::TempDir) -> Store {
        let path = dir.path().join("state.db");
        let store = Store::open(&path, Arc::new(Clock::new())).expect("open");
        let other = Connection::open(&path).expect("second connection");
        other
            .execute_batch(
                "CREATE TRIGGER refuse BEFORE INSERT ON ledger \
                 BEGIN SELECT RAISE(ABORT, 'forced failure'); END;",
            )
            .expect("trigger");
        store
    }

    #[test]
    fn a_rolled_back_change_is_reported_even_when_the_closure_ignored_the_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = failing_store(&dir);
        let out: Result<(), StoreError> = store.with(|t| {
            t.put(table::META, "k", &1)?;
            let _ignored = t.record(entry());
            Ok(())
        });
        assert!(matches!(out, Err(StoreError::RolledBack)), "{out:?}");
        // Neither the record nor the ledger row survived, in memory or on disk.
        let reread: Result<Option<i32>, StoreError> = store.with(|t| t.get(table::META, "k"));
        assert_eq!(reread.expect("read"), None);
        assert!(store.ledger().is_empty());
        assert!(read_ledger(&dir.path().join("state.db"))
            .expect("ledger")
            .is_empty());
    }

    #[test]
    fn the_failed_write_itself_is_reported_when_the_closure_passes_it_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = failing_store(&dir);
        let out: Result<(), StoreError> = store.with(|t| {
            t.put(table::META, "k", &1)?;
            t.record(entry())?;
            Ok(())
        });
        assert!(matches!(out, Err(StoreError::Sqlite(_))), "{out:?}");
        assert!(store.ledger().is_empty());
        let reread: Result<Option<i32>, StoreError> = store.with(|t| t.get(table::META, "k"));
        assert_eq!(reread.expect("read"), None);
    }

    #[test]
    fn a_committed_change_is_reported_as_success_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let store = Store::open(&path, Arc::new(Clock::new())).expect("open");
        let out: Result<(), StoreError> = store.with(|t| {
            t.put(table::META, "k", &1)?;
            t.record(entry())?;
            Ok(())
        });
        out.expect("committed");
        assert_eq!(read_ledger(&path).expect("ledger").len(), 1);
    }
}
