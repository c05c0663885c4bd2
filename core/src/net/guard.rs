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
//!
//! A third panic needs the record keys: after the handshake, embedded-tls
//! parses a decrypted handshake message and reaches `unimplemented!()` on
//! any but a NewSessionTicket (a KeyUpdate it refuses cleanly). The
//! guard cannot read inside encrypted records, so [`GuardedAes`] — the
//! cipher of [`Suite`], our TLS_AES_128_GCM_SHA256 — looks at each
//! record's plaintext right after decrypting it, and fails the decryption
//! (the connection then ends with a crypto error) on a handshake message
//! where TLS 1.3 allows none: after the Finished under the handshake keys,
//! or under application keys anything but a NewSessionTicket or a
//! KeyUpdate. Which keys a cipher holds it tells from its first record:
//! the handshake keys' first message is always EncryptedExtensions. (A
//! server that sends an EncryptedExtensions as its first record under the
//! application keys is not caught; only the authenticated server itself
//! can, and on the board that panic now resets the terminal, whose outbox
//! makes it money-safe.)

use core::cell::Cell;

use aes_gcm::aead::{self, AeadCore, AeadInPlace, KeyInit, KeySizeUser};
use aes_gcm::Aes128Gcm;
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_tls::{Aes128GcmSha256, TlsCipherSuite};

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

/// TLS_AES_128_GCM_SHA256 with [`GuardedAes`] as its cipher.
pub(crate) struct Suite;

impl TlsCipherSuite for Suite {
    const CODE_POINT: u16 = Aes128GcmSha256::CODE_POINT;
    type Cipher = GuardedAes;
    type KeyLen = <Aes128GcmSha256 as TlsCipherSuite>::KeyLen;
    type IvLen = <Aes128GcmSha256 as TlsCipherSuite>::IvLen;
    type Hash = <Aes128GcmSha256 as TlsCipherSuite>::Hash;
    type LabelBufferSize = <Aes128GcmSha256 as TlsCipherSuite>::LabelBufferSize;
}

/// Handshake message types (RFC 8446 §4).
const NEW_SESSION_TICKET: u8 = 4;
const ENCRYPTED_EXTENSIONS: u8 = 8;
const FINISHED: u8 = 20;
const KEY_UPDATE: u8 = 24;

/// What a cipher's records have shown of its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// Nothing decrypted yet.
    Fresh,
    /// The handshake keys (the first message was EncryptedExtensions),
    /// before their Finished.
    Handshake,
    /// The handshake keys after their Finished: nothing more may come.
    HandshakeDone,
    /// Application keys.
    Application,
}

/// AES-128-GCM that refuses the decrypted handshake messages embedded-tls
/// would panic on (see the module docs).
pub(crate) struct GuardedAes {
    aes: Aes128Gcm,
    keys: Cell<Keys>,
}

impl GuardedAes {
    /// Follow the handshake messages of a decrypted record (`plaintext`:
    /// content, content type, zero padding); `false` if one is not
    /// allowed under these keys.
    fn admits(&self, plaintext: &[u8]) -> bool {
        let Some(end) = plaintext.iter().rposition(|&b| b != 0) else {
            return true; // no content type: embedded-tls refuses it
        };
        let (content, kind) = (plaintext.get(..end).unwrap_or_default(), plaintext.get(end));
        if kind != Some(&HANDSHAKE) {
            if self.keys.get() == Keys::Fresh {
                self.keys.set(Keys::Application);
            }
            return true;
        }
        let mut rest = content;
        while let [message, a, b, c, body @ ..] = rest {
            let len = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
            let next = match (self.keys.get(), *message) {
                (Keys::Fresh, ENCRYPTED_EXTENSIONS) => Keys::Handshake,
                (Keys::Fresh | Keys::Application, NEW_SESSION_TICKET | KEY_UPDATE) => {
                    Keys::Application
                }
                (Keys::Handshake, FINISHED) => Keys::HandshakeDone,
                (Keys::Handshake, m) if m != ENCRYPTED_EXTENSIONS => Keys::Handshake,
                _ => return false,
            };
            self.keys.set(next);
            // A message split over records: embedded-tls refuses it.
            rest = body.get(len..).unwrap_or_default();
        }
        true
    }
}

impl KeySizeUser for GuardedAes {
    type KeySize = <Aes128Gcm as KeySizeUser>::KeySize;
}

impl KeyInit for GuardedAes {
    fn new(key: &aead::Key<Self>) -> Self {
        Self {
            aes: Aes128Gcm::new(key),
            keys: Cell::new(Keys::Fresh),
        }
    }
}

impl AeadCore for GuardedAes {
    type NonceSize = <Aes128Gcm as AeadCore>::NonceSize;
    type TagSize = <Aes128Gcm as AeadCore>::TagSize;
    type CiphertextOverhead = <Aes128Gcm as AeadCore>::CiphertextOverhead;
}

impl AeadInPlace for GuardedAes {
    fn encrypt_in_place_detached(
        &self,
        nonce: &aead::Nonce<Self>,
        associated_data: &[u8],
        buffer: &mut [u8],
    ) -> aead::Result<aead::Tag<Self>> {
        self.aes
            .encrypt_in_place_detached(nonce, associated_data, buffer)
    }

    fn decrypt_in_place_detached(
        &self,
        nonce: &aead::Nonce<Self>,
        associated_data: &[u8],
        buffer: &mut [u8],
        tag: &aead::Tag<Self>,
    ) -> aead::Result<()> {
        self.aes
            .decrypt_in_place_detached(nonce, associated_data, buffer, tag)?;
        if self.admits(buffer) {
            Ok(())
        } else {
            warn!("https: a handshake message TLS 1.3 does not allow there: refused");
            Err(aead::Error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> GuardedAes {
        GuardedAes::new(&[7u8; 16].into())
    }

    /// A decrypted record: handshake messages of `types` (4 body bytes
    /// each), content type 22, two bytes of padding.
    fn handshake(types: &[u8]) -> std::vec::Vec<u8> {
        let mut out = std::vec::Vec::new();
        for &t in types {
            out.extend_from_slice(&[t, 0, 0, 4, 1, 2, 3, 4]);
        }
        out.extend_from_slice(&[HANDSHAKE, 0, 0]);
        out
    }

    const APP_DATA: &[u8] = b"HTTP/1.1 200 OK\r\n\x17";

    #[test]
    fn the_handshake_and_what_may_follow_pass() {
        let hs = cipher();
        assert!(hs.admits(&handshake(&[8, 11])));
        assert!(hs.admits(&handshake(&[15, 20])));
        let app = cipher();
        assert!(app.admits(APP_DATA));
        assert!(app.admits(&handshake(&[4, 4])));
        assert!(app.admits(&handshake(&[24])));
        let app = cipher();
        assert!(app.admits(&handshake(&[4])), "a ticket first");
        assert!(app.admits(APP_DATA));
        // All of the handshake in one record, a CertificateRequest too.
        assert!(cipher().admits(&handshake(&[8, 13, 11, 15, 20])));
    }

    #[test]
    fn handshake_messages_where_none_may_be_are_refused() {
        // Under application keys: embedded-tls's `unimplemented!()`.
        for t in [2, 8, 11, 13, 15, 20] {
            let app = cipher();
            assert!(app.admits(APP_DATA));
            assert!(!app.admits(&handshake(&[t])), "type {t} after app data");
            let app = cipher();
            assert!(!app.admits(&handshake(&[4, t])), "type {t} after a ticket");
        }
        // Under handshake keys, after their Finished, or a second
        // EncryptedExtensions.
        let hs = cipher();
        assert!(hs.admits(&handshake(&[8, 11, 15, 20])));
        assert!(!hs.admits(&handshake(&[4])));
        assert!(!cipher().admits(&handshake(&[8, 8])));
    }

    #[test]
    fn a_refused_record_fails_the_decryption() {
        let sender = cipher();
        let receiver = cipher();
        let nonce = [1u8; 12].into();
        let mut ok = APP_DATA.to_vec();
        let tag = sender
            .encrypt_in_place_detached(&nonce, b"aad", &mut ok)
            .unwrap();
        assert!(receiver
            .decrypt_in_place_detached(&nonce, b"aad", &mut ok, &tag)
            .is_ok());
        let mut bad = handshake(&[13]);
        let nonce = [2u8; 12].into();
        let tag = sender
            .encrypt_in_place_detached(&nonce, b"aad", &mut bad)
            .unwrap();
        assert_eq!(
            receiver.decrypt_in_place_detached(&nonce, b"aad", &mut bad, &tag),
            Err(aead::Error)
        );
    }

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
