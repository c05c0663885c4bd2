//! A guard on the TLS records coming in, in front of two panics in
//! embedded-tls 0.19 that bytes from the network can reach:
//!
//! - it reads a decrypted record's content type from its last byte with
//!   `unwrap()`, so a record whose ciphertext is only the 16-byte AEAD tag
//!   — an empty plaintext, which RFC 8446 §5.2 forbids (TLSInnerPlaintext
//!   holds at least its content type) — panics it. Whoever holds the
//!   record keys can send one, and during the handshake that includes a man
//!   in the middle, before the certificate is checked;
//! - after the handshake it parses plaintext records of outer type 22 and
//!   hits `unimplemented!()` on any handshake message but a
//!   NewSessionTicket — and a plaintext record needs no keys at all: anyone
//!   on the path could inject one.
//!
//! The guard follows the record framing of the bytes as they are read and
//! fails the read on a record TLS 1.3 does not allow there: an encrypted
//! record (outer type 23) shorter than 17 bytes; after the first encrypted
//! record, any record that is not encrypted; a handshake record that is not
//! the first record (the ServerHello); a record type TLS 1.3 does not
//! have. The connection then ends like any other broken one.

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};

/// A TLS record header: type, version (2), length (2).
const HEADER_LEN: usize = 5;

/// Outer record types: ChangeCipherSpec (sent once, for middleboxes),
/// Alert, Handshake (the ServerHello: the only plaintext handshake record),
/// and the outer type of every encrypted TLS 1.3 record.
const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;

/// The shortest encrypted record: the AEAD tag (16) and the content type.
const MIN_ENCRYPTED_LEN: usize = 17;

/// `inner`, with its incoming TLS records checked.
pub(crate) struct RecordGuard<S> {
    inner: S,
    header: [u8; HEADER_LEN],
    /// Header bytes collected so far.
    have: usize,
    /// Body bytes of the current record still to pass.
    body_left: usize,
    /// Records whose header has been read.
    records: usize,
    /// An encrypted record was seen: from then on, all are.
    encrypted: bool,
    /// A bad record was seen: every later read fails too.
    broken: bool,
}

impl<S> RecordGuard<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            header: [0; HEADER_LEN],
            have: 0,
            body_left: 0,
            records: 0,
            encrypted: false,
            broken: false,
        }
    }

    /// Whether TLS 1.3 allows a record of `kind` and `len` here.
    fn allowed(&self, kind: u8, len: usize) -> bool {
        match kind {
            APPLICATION_DATA => len >= MIN_ENCRYPTED_LEN,
            _ if self.encrypted => false,
            HANDSHAKE => self.records == 0,
            CHANGE_CIPHER_SPEC | ALERT => true,
            _ => false,
        }
    }

    /// Follow the framing over `bytes`; `false` at a record TLS 1.3 does
    /// not allow there (see the module docs).
    pub(crate) fn check(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() && !self.broken {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len());
                bytes = bytes.get(n..).unwrap_or_default();
                self.body_left -= n;
                continue;
            }
            let n = (HEADER_LEN - self.have).min(bytes.len());
            if let (Some(slot), Some(part)) = (
                self.header.get_mut(self.have..self.have + n),
                bytes.get(..n),
            ) {
                slot.copy_from_slice(part);
            }
            bytes = bytes.get(n..).unwrap_or_default();
            self.have += n;
            if self.have == HEADER_LEN {
                let [kind, _, _, hi, lo] = self.header;
                let len = usize::from(u16::from_be_bytes([hi, lo]));
                self.broken = !self.allowed(kind, len);
                self.encrypted |= kind == APPLICATION_DATA;
                self.records += 1;
                self.body_left = len;
                self.have = 0;
            }
        }
        !self.broken
    }
}

/// A read error, or a record refused.
#[derive(Debug)]
pub(crate) enum GuardError<E> {
    /// From the connection.
    Io(E),
    /// A record TLS 1.3 does not allow there.
    Record,
}

impl<E: core::fmt::Debug> core::fmt::Display for GuardError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e:?}"),
            Self::Record => f.write_str("a TLS record not allowed there"),
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for GuardError<E> {}

impl<E: embedded_io_async::Error> embedded_io_async::Error for GuardError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Io(e) => e.kind(),
            Self::Record => ErrorKind::InvalidData,
        }
    }
}

impl<S: ErrorType> ErrorType for RecordGuard<S> {
    type Error = GuardError<S::Error>;
}

impl<S: Read> Read for RecordGuard<S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if self.broken {
            return Err(GuardError::Record);
        }
        let n = self.inner.read(buf).await.map_err(GuardError::Io)?;
        if self.check(buf.get(..n).unwrap_or_default()) {
            Ok(n)
        } else {
            warn!("https: a TLS record TLS 1.3 does not allow there: refused");
            Err(GuardError::Record)
        }
    }
}

impl<S: Write> Write for RecordGuard<S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.inner.write(buf).await.map_err(GuardError::Io)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush().await.map_err(GuardError::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u8, len: usize) -> std::vec::Vec<u8> {
        let mut out = std::vec![kind, 3, 3];
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend(std::iter::repeat_n(0xAB, len));
        out
    }

    /// Whether the guard passes `stream` read in pieces of `piece` bytes.
    fn passes(stream: &[u8], piece: usize) -> bool {
        let mut guard = RecordGuard::new(());
        stream.chunks(piece).all(|chunk| guard.check(chunk))
    }

    #[test]
    fn a_handshake_passes_however_it_is_cut() {
        let stream = [
            record(22, 90),  // ServerHello
            record(20, 1),   // ChangeCipherSpec
            record(23, 17),  // the shortest encrypted record
            record(23, 800), // certificate, verify, finished
            record(23, 0x4011),
        ]
        .concat();
        for piece in [1, 2, 3, 5, 7, 64, 4096, stream.len()] {
            assert!(passes(&stream, piece), "in pieces of {piece}");
        }
    }

    #[test]
    fn an_encrypted_record_without_content_is_refused_and_stays_refused() {
        for len in [0, 1, 16] {
            let stream = [record(22, 90), record(23, len), record(23, 40)].concat();
            for piece in [1, 3, 5, 4096] {
                assert!(!passes(&stream, piece), "length {len}, pieces of {piece}");
            }
        }
        let mut guard = RecordGuard::new(());
        assert!(!guard.check(&record(23, 16)));
        assert!(!guard.check(&record(23, 40)), "broken for good");
    }

    #[test]
    fn after_the_first_encrypted_record_only_encrypted_ones_pass() {
        let handshake = [record(22, 90), record(20, 1), record(23, 800)].concat();
        // A plaintext EncryptedExtensions, Finished or alert injected later
        // (embedded-tls would reach `unimplemented!()` on the first two).
        for injected in [record(22, 6), record(20, 1), record(21, 2), record(24, 3)] {
            let stream = [handshake.clone(), injected, record(23, 40)].concat();
            for piece in [1, 5, 4096] {
                assert!(!passes(&stream, piece), "pieces of {piece}");
            }
        }
        // A second plaintext handshake record before encryption, too.
        assert!(!passes(&[record(22, 90), record(22, 6)].concat(), 4096));
        // A plaintext alert in place of the ServerHello is the server's
        // answer to a hello it refuses.
        assert!(passes(&record(21, 2), 4096));
    }
}
