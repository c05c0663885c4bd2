//! Authenticated provisioning: a change to the terminal's trust anchor,
//! endpoints or credentials from its console is taken only with a tag
//! made with the terminal's provisioning key.
//!
//! The key (32 random bytes) is written into the terminal's configuration
//! area at the factory, and kept by whoever may reconfigure the fleet; the
//! console never takes or shows it. A change comes as the change itself,
//! a counter and a tag:
//!
//! ```text
//! tag = HMAC-SHA256(key, "till-provision-v1" ‖ 0x00 ‖ what ‖ 0x00 ‖ counter (u32 BE) ‖ value)
//! ```
//!
//! `what` names the setting (`ca`, …), so that a tag for one setting is
//! not one for another. The terminal keeps the counter of the last change
//! it took and takes only a higher one: a change recorded off the console
//! line cannot be replayed later (say, to bring back a CA that was
//! replaced). Without a key, every change is refused.
//!
//! Sans-IO: [`authorize`] takes the stored key and counter and returns
//! the counter to store; storing it is the caller's.

use core::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::fmt::Secret;

/// Bytes of the provisioning key: HMAC-SHA256's block-sized key strength
/// (256 bits).
pub const KEY_LEN: usize = 32;

/// Bytes of a tag: a whole HMAC-SHA256 output (never truncated).
pub const TAG_LEN: usize = 32;

/// The domain of every tag (its version: a new layout changes it).
const DOMAIN: &[u8] = b"till-provision-v1";

/// A terminal's provisioning key. `Debug` never shows it.
#[derive(Clone)]
pub struct ProvisioningKey(Secret<[u8; KEY_LEN]>);

impl ProvisioningKey {
    /// The key from its bytes.
    pub const fn new(bytes: [u8; KEY_LEN]) -> Self {
        Self(Secret::new(bytes))
    }

    /// The key from 64 hex digits (surrounding ASCII whitespace ignored): the
    /// form a factory's key file holds.
    pub fn from_hex(hex: &str) -> Result<Self, ProvisionError> {
        parse_hex32(hex.trim_ascii()).map(Self::new)
    }

    /// The key's bytes, for the configuration area that stores it.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        self.0.expose()
    }

    fn mac(&self, what: Setting, counter: u32, value: &[u8]) -> Hmac<Sha256> {
        // HMAC pads a key shorter than the hash's block with zeros: the
        // key padded here is the same key, and keying cannot fail.
        let mut block = [0u8; 64];
        let (head, _) = block.split_at_mut(KEY_LEN);
        head.copy_from_slice(self.0.expose());
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
        mac.update(DOMAIN);
        mac.update(&[0]);
        mac.update(what.name().as_bytes());
        mac.update(&[0]);
        mac.update(&counter.to_be_bytes());
        mac.update(value);
        mac
    }

    /// The tag of changing `what` to `value` as change number `counter`
    /// (for the tool that makes changes; the terminal only checks them).
    pub fn tag(&self, what: Setting, counter: u32, value: &[u8]) -> [u8; TAG_LEN] {
        self.mac(what, counter, value)
            .finalize()
            .into_bytes()
            .into()
    }
}

impl fmt::Debug for ProvisioningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProvisioningKey(<redacted>)")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ProvisioningKey {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "ProvisioningKey(<redacted>)")
    }
}

/// A setting a provisioning change may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Setting {
    /// The trust anchor: the CA certificate (DER).
    Ca,
}

impl Setting {
    /// The setting's name in the tag.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ca => "ca",
        }
    }
}

/// Why a change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ProvisionError {
    /// The terminal holds no provisioning key: it was not provisioned at
    /// the factory, and takes no change from its console.
    NoKey,
    /// The counter is not above the last change's: a replay.
    Replayed {
        /// The counter of the last change taken.
        last: u32,
    },
    /// The tag is not this terminal's for this change.
    BadTag,
    /// The tag (or a key) is not 32 bytes of hex.
    Malformed,
}

impl fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoKey => f.write_str(
                "this terminal has no provisioning key (it is written at the factory): changes are refused",
            ),
            Self::Replayed { last } => write!(
                f,
                "change counter not above the last change's ({last}): a replay, refused"
            ),
            Self::BadTag => f.write_str("the tag is not this terminal's for this change: refused"),
            Self::Malformed => write!(f, "a tag or key is {} hex digits", 2 * TAG_LEN),
        }
    }
}

impl core::error::Error for ProvisionError {}

/// Check a change of `what` to `value`, number `counter`, with `tag_hex`
/// (hex), against the stored `key` and the `last` counter taken. `Ok`
/// holds the counter to store with the change (in the same write, or
/// before it: never after).
pub fn authorize(
    key: Option<&ProvisioningKey>,
    last: u32,
    what: Setting,
    counter: u32,
    value: &[u8],
    tag_hex: &str,
) -> Result<u32, ProvisionError> {
    let key = key.ok_or(ProvisionError::NoKey)?;
    let tag = parse_hex32(tag_hex)?;
    if counter <= last {
        return Err(ProvisionError::Replayed { last });
    }
    // Constant-time comparison (the MAC's own `verify`).
    key.mac(what, counter, value)
        .verify_slice(&tag)
        .map_err(|_| ProvisionError::BadTag)?;
    Ok(counter)
}

/// [`TAG_LEN`] (= [`KEY_LEN`]) bytes from hex.
fn parse_hex32(hex: &str) -> Result<[u8; TAG_LEN], ProvisionError> {
    let hex = hex.as_bytes();
    if hex.len() != 2 * TAG_LEN {
        return Err(ProvisionError::Malformed);
    }
    let mut tag = [0u8; TAG_LEN];
    for (byte, pair) in tag.iter_mut().zip(hex.chunks_exact(2)) {
        let [hi, lo] =
            [pair.first(), pair.get(1)].map(|d| d.and_then(|d| char::from(*d).to_digit(16)));
        let (Some(hi), Some(lo)) = (hi, lo) else {
            return Err(ProvisionError::Malformed);
        };
        *byte = ((hi << 4) | lo) as u8;
    }
    Ok(tag)
}

/// `tag` as lower-case hex (for the tool that makes changes).
pub fn tag_hex(tag: &[u8; TAG_LEN]) -> heapless::String<{ 2 * TAG_LEN }> {
    let mut out = heapless::String::new();
    for byte in tag {
        for nibble in [byte >> 4, byte & 0xF] {
            let digit = char::from_digit(u32::from(nibble), 16).unwrap_or('0');
            // 64 digits into a 64-byte string: always fits.
            let _ = out.push(digit);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: ProvisioningKey = ProvisioningKey::new([7; KEY_LEN]);
    const CA: &[u8] = b"\x30\x82\x01\x00 a CA";

    fn tag(counter: u32, value: &[u8]) -> heapless::String<64> {
        tag_hex(&KEY.tag(Setting::Ca, counter, value))
    }

    #[test]
    fn a_change_with_its_tag_is_taken_once() {
        let t = tag(5, CA);
        assert_eq!(authorize(Some(&KEY), 4, Setting::Ca, 5, CA, &t), Ok(5));
        // The same line again, after the terminal stored counter 5.
        assert_eq!(
            authorize(Some(&KEY), 5, Setting::Ca, 5, CA, &t),
            Err(ProvisionError::Replayed { last: 5 })
        );
        // An older change, even with its genuine tag.
        assert_eq!(
            authorize(Some(&KEY), 5, Setting::Ca, 3, CA, &tag(3, CA)),
            Err(ProvisionError::Replayed { last: 5 })
        );
    }

    #[test]
    fn a_tag_covers_the_value_the_counter_and_the_key() {
        let t = tag(1, CA);
        assert_eq!(
            authorize(Some(&KEY), 0, Setting::Ca, 1, b"another CA", &t),
            Err(ProvisionError::BadTag)
        );
        assert_eq!(
            authorize(Some(&KEY), 0, Setting::Ca, 2, CA, &t),
            Err(ProvisionError::BadTag)
        );
        let other = ProvisioningKey::new([8; KEY_LEN]);
        assert_eq!(
            authorize(Some(&other), 0, Setting::Ca, 1, CA, &t),
            Err(ProvisionError::BadTag)
        );
        assert_eq!(
            authorize(Some(&KEY), 0, Setting::Ca, 1, CA, &t.to_ascii_uppercase()),
            Ok(1)
        );
    }

    #[test]
    fn without_a_key_or_a_tag_nothing_is_taken() {
        assert_eq!(
            authorize(None, 0, Setting::Ca, 1, CA, &tag(1, CA)),
            Err(ProvisionError::NoKey)
        );
        for bad in ["", "00", &"0".repeat(63), &"g".repeat(64), &"0".repeat(65)] {
            assert_eq!(
                authorize(Some(&KEY), 0, Setting::Ca, 1, CA, bad),
                Err(ProvisionError::Malformed),
                "{bad:?}"
            );
        }
        // Multi-byte text of the right byte length is not hex either.
        let wide = "é".repeat(32);
        assert_eq!(
            authorize(Some(&KEY), 0, Setting::Ca, 1, CA, &wide),
            Err(ProvisionError::Malformed)
        );
    }

    /// Against Python's `hmac` over the layout in the module docs:
    /// `hmac.new(bytes([7]*32), b"till-provision-v1\0ca\0" +
    /// (9).to_bytes(4, "big") + CA, hashlib.sha256).hexdigest()`.
    #[test]
    fn the_tag_is_hmac_sha256_of_the_documented_message() {
        assert_eq!(
            tag(9, CA).as_str(),
            "7f0281352783a341ae97d8382052b732e9b411af1a936c85310081b7bc14ab7b"
        );
    }

    #[test]
    fn a_key_file_reads_as_hex() {
        let key = ProvisioningKey::from_hex(&std::format!("  {}\n", "07".repeat(32))).unwrap();
        assert_eq!(key.expose(), KEY.expose());
        assert_eq!(
            ProvisioningKey::from_hex("07").map(|_| ()),
            Err(ProvisionError::Malformed)
        );
    }

    #[test]
    fn the_key_is_never_shown() {
        let shown = std::format!("{KEY:?} {:?}", Some(KEY.clone()));
        assert!(!shown.contains('7'), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }
}
