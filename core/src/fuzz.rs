//! Entry points for the fuzz targets (feature `fuzz`; `fuzz/` in the
//! repository): the parsers that read bytes from the network or from
//! flash, including the crate-private ones, each behind one function that
//! takes arbitrary bytes. Not an API: nothing outside the fuzz targets and
//! their corpus replay should call these.
//!
//! Each function returns what it read, so that a target can check a
//! property beyond "did not panic" (see `fuzz/src/lib.rs`).

use crate::flash::FlashStoreError;
use crate::id::Uuid;
use crate::net::cert::{self, Cert};
use crate::net::guard::RecordGuard;
use crate::outbox::STORE_CAPACITY;

/// Reads `der` as a certificate: whether it is one we can read.
pub fn cert_read(der: &[u8]) -> bool {
    Cert::read(der).is_some()
}

/// Checks the chain `entries` (leaf first) for `host` against `anchor` at
/// `now`: every check the TLS verifier makes but the signature over the
/// handshake. `Err` carries the refusal's text.
pub fn cert_verify(
    entries: &[&[u8]],
    anchor: &[u8],
    host: &str,
    now: u64,
) -> Result<(), &'static str> {
    cert::verify(entries, anchor, host, now)
        .map(|_| ())
        .map_err(|refusal| refusal.text())
}

/// The TLS record guard over a stream read in pieces.
pub struct Guard(RecordGuard<()>);

impl Guard {
    /// A guard before the first record.
    pub fn new() -> Self {
        Self(RecordGuard::new(()))
    }

    /// Pass `bytes` (the next piece read): `false` once a record TLS 1.3
    /// does not allow there was seen.
    pub fn check(&mut self, bytes: &[u8]) -> bool {
        self.0.check(bytes)
    }
}

impl Default for Guard {
    fn default() -> Self {
        Self::new()
    }
}

/// A flash slot value as the store reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot<'a> {
    /// A slot holding no record.
    Free { generation: u32 },
    /// A slot holding `record` under `key`.
    Used {
        generation: u32,
        key: Uuid,
        record: &'a [u8],
    },
    /// A value of a newer format.
    Format(u8),
    /// Not a value this layout writes.
    Corrupt,
}

/// Reads `bytes` as a slot's value.
pub fn flash_slot(bytes: &[u8]) -> Slot<'_> {
    match crate::flash::parse_slot::<()>(bytes) {
        Ok(crate::flash::Stored::Free { generation }) => Slot::Free { generation },
        Ok(crate::flash::Stored::Used {
            generation,
            key,
            record,
        }) => Slot::Used {
            generation,
            key,
            record,
        },
        Err(FlashStoreError::Format { found }) => Slot::Format(found),
        Err(_) => Slot::Corrupt,
    }
}

/// Reads `bytes` as the commit item's value: every slot's generation.
pub fn flash_commit(bytes: &[u8]) -> Option<[u32; STORE_CAPACITY]> {
    crate::flash::parse_commit::<()>(bytes).ok()
}
