//! Identifiers: UUID v4 request ids, idempotency keys, external references.
//!
//! Nothing here owns an RNG: [`Uuid::new_v4`] takes the caller's
//! `rand_core::RngCore` (the TRNG on the board, the OS RNG on the host, a
//! seeded RNG in tests).

use core::fmt;

use crate::json::{Decode, DecodeError, Encode, EncodeError, Reader, Writer};
use heapless::String;
use rand_core::RngCore;

/// Why an identifier was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IdError {
    /// Not `8-4-4-4-12` hexadecimal digits.
    MalformedUuid,
    /// Empty, or longer than the identifier allows.
    Length {
        /// The most bytes allowed.
        max: usize,
    },
    /// A character outside the identifier's alphabet.
    Character,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MalformedUuid => f.write_str("not a UUID (8-4-4-4-12 hex digits)"),
            Self::Length { max } => write!(f, "must be 1 to {max} characters"),
            Self::Character => f.write_str("contains a character that is not allowed"),
        }
    }
}

impl core::error::Error for IdError {}

/// Length of the hyphenated text form of a UUID.
pub const UUID_TEXT_LEN: usize = 36;

/// A UUID (RFC 4122). Generated ones are always version 4; parsed ones may
/// be any version (Electrum's own samples carry non-v4 ids).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid([u8; 16]);

/// The hyphenated lower-case text of a UUID.
pub type UuidText = String<UUID_TEXT_LEN>;

impl Uuid {
    /// A random version-4 UUID from the caller's RNG.
    pub fn new_v4(rng: &mut impl RngCore) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Self(bytes)
    }

    /// From raw bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// A version-4 UUID derived from this one and `salt`: the same inputs
    /// always give the same id, and the result always differs from `self`.
    /// For a new attempt's id without another RNG draw, or an id that must
    /// come out the same after a power loss (a confirmation made from a
    /// status record).
    pub fn derive(&self, salt: u32) -> Self {
        let mut out = self.0;
        for (i, b) in out.iter_mut().enumerate() {
            let salt_byte = (salt >> ((i % 4) * 8)) as u8;
            // (i * 0x9d) differs between bytes 0 and 4, so the mask is
            // never zero everywhere, whatever the salt.
            *b ^= salt_byte ^ (i as u8).wrapping_mul(0x9d);
        }
        out[6] = (out[6] & 0x0f) | 0x40;
        out[8] = (out[8] & 0x3f) | 0x80;
        Self(out)
    }

    /// Whether this is a variant-1 version-4 (random) UUID.
    pub fn is_v4(&self) -> bool {
        self.0[6] >> 4 == 4 && self.0[8] >> 6 == 0b10
    }

    /// Parse `8-4-4-4-12` hex digits, either case.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let bytes = text.as_bytes();
        if bytes.len() != UUID_TEXT_LEN {
            return Err(IdError::MalformedUuid);
        }
        let mut out = [0u8; 16];
        let mut nibbles = 0usize;
        for (i, &c) in bytes.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if c != b'-' {
                    return Err(IdError::MalformedUuid);
                }
                continue;
            }
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(IdError::MalformedUuid),
            };
            let byte = out.get_mut(nibbles / 2).ok_or(IdError::MalformedUuid)?;
            *byte = (*byte << 4) | v;
            nibbles += 1;
        }
        Ok(Self(out))
    }

    /// The hyphenated lower-case form.
    pub fn to_text(&self) -> UuidText {
        let mut out = UuidText::new();
        // 36 ASCII characters always fit UUID_TEXT_LEN.
        let _ = fmt::write(&mut out, format_args!("{self}"));
        out
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Uuid {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.to_text().as_str())
    }
}

impl core::str::FromStr for Uuid {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl Encode for Uuid {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.str(self.to_text().as_str())
    }
}

impl Decode for Uuid {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        crate::json::decode_from_str(r)
    }
    fn placeholder() -> Self {
        Self([0; 16])
    }
}

/// 1 to `N` bytes, each `allowed`.
fn bounded<const N: usize>(text: &str, allowed: fn(u8) -> bool) -> Result<String<N>, IdError> {
    if text.is_empty() {
        return Err(IdError::Length { max: N });
    }
    if !text.bytes().all(allowed) {
        return Err(IdError::Character);
    }
    String::try_from(text).map_err(|_| IdError::Length { max: N })
}

/// Longest idempotency key Conductor accepts.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

/// A Conductor `Idempotency-Key`: 1–255 characters of `[A-Za-z0-9-]`.
///
/// One key per logical POST; every retry of that POST repeats it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String<IDEMPOTENCY_KEY_MAX>);

impl IdempotencyKey {
    /// A fresh key: a random UUID v4 in text form.
    pub fn generate(rng: &mut impl RngCore) -> Self {
        Self::from_uuid(&Uuid::new_v4(rng))
    }

    /// The key for a given UUID (its text form is always a valid key).
    pub fn from_uuid(uuid: &Uuid) -> Self {
        let mut s = String::new();
        let _ = s.push_str(uuid.to_text().as_str());
        Self(s)
    }

    /// Validate a key from configuration or storage.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        bounded(text, |b| b.is_ascii_alphanumeric() || b == b'-').map(Self)
    }

    /// The key as sent in the header.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({:?})", self.as_str())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for IdempotencyKey {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.as_str())
    }
}

/// Longest Conductor `external_reference` (unique per partner).
pub const EXTERNAL_REFERENCE_MAX: usize = 255;

/// A partner's `external_reference`: 1–255 characters of the URL-unreserved
/// set `[A-Za-z0-9-._~]`, so it can stand in a path segment
/// (`/partners/transactions/{external_reference}`) without escaping.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ExternalReference(String<EXTERNAL_REFERENCE_MAX>);

impl ExternalReference {
    /// A fresh reference: a random UUID v4 in text form.
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut s = String::new();
        let _ = s.push_str(Uuid::new_v4(rng).to_text().as_str());
        Self(s)
    }

    /// Validate a reference.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        bounded(text, |b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
        })
        .map(Self)
    }

    /// The reference as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for ExternalReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ExternalReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExternalReference({:?})", self.as_str())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ExternalReference {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.as_str())
    }
}

impl core::str::FromStr for ExternalReference {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl Encode for ExternalReference {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.str(self.as_str())
    }
}

impl Decode for ExternalReference {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        crate::json::decode_from_str(r)
    }
    fn placeholder() -> Self {
        Self(String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::string::ToString;

    #[test]
    fn generated_uuids_are_v4_and_round_trip() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let u = Uuid::new_v4(&mut rng);
            assert!(u.is_v4());
            let text = u.to_string();
            assert_eq!(text.len(), 36);
            assert_eq!(text.as_bytes()[14], b'4');
            assert!(matches!(text.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
            assert_eq!(Uuid::parse(&text), Ok(u));
            assert!(seen.insert(u));
        }
    }

    #[test]
    fn derived_ids_are_stable_v4_and_new() {
        let mut rng = StdRng::seed_from_u64(3);
        for salt in [0, 1, 0x9d9d_9d9d, u32::MAX] {
            let u = Uuid::new_v4(&mut rng);
            let d = u.derive(salt);
            assert!(d.is_v4());
            assert_ne!(d, u);
            assert_eq!(u.derive(salt), d);
        }
    }

    #[test]
    fn parses_sample_ids() {
        let u = Uuid::parse("E83E28A3-2FBE-4265-9543-EFA66F37869C").unwrap();
        assert_eq!(u.to_string(), "e83e28a3-2fbe-4265-9543-efa66f37869c");
        assert!(u.is_v4());
        // Electrum's test pack uses a non-v4 id: parsed, but not v4.
        let old = Uuid::parse("749dfae4-ea5e-03fc-7ef8-ec087fb9f82b").unwrap();
        assert!(!old.is_v4());
        for bad in [
            "",
            "e83e28a3-2fbe-4265-9543-efa66f37869",
            "e83e28a3x2fbe-4265-9543-efa66f37869c",
            "g83e28a3-2fbe-4265-9543-efa66f37869c",
            "e83e28a32fbe42659543efa66f37869cabcd",
        ] {
            assert_eq!(Uuid::parse(bad), Err(IdError::MalformedUuid), "{bad}");
        }
    }

    #[test]
    fn idempotency_keys() {
        let mut rng = StdRng::seed_from_u64(1);
        let k = IdempotencyKey::generate(&mut rng);
        assert_eq!(IdempotencyKey::parse(k.as_str()).unwrap(), k);
        // The document's own sample key (not a valid UUID, a valid key).
        assert!(IdempotencyKey::parse("g6378cb0-62b0-11ee-8c99-0242ac120003").is_ok());
        assert_eq!(IdempotencyKey::parse(""), Err(IdError::Length { max: 255 }));
        let long = "a".repeat(256);
        assert_eq!(
            IdempotencyKey::parse(&long),
            Err(IdError::Length { max: 255 })
        );
        assert!(IdempotencyKey::parse(&long[..255]).is_ok());
        assert_eq!(IdempotencyKey::parse("a_b"), Err(IdError::Character));
        assert_eq!(IdempotencyKey::parse("a b"), Err(IdError::Character));
    }

    #[test]
    fn external_references() {
        assert!(ExternalReference::parse("jvboay10o2").is_ok());
        assert!(ExternalReference::parse("5e4b65ba-1e15-44c8-b11f-d0beda039246").is_ok());
        assert_eq!(ExternalReference::parse("a/b"), Err(IdError::Character));
        assert_eq!(
            ExternalReference::parse(""),
            Err(IdError::Length { max: 255 })
        );
    }
}
