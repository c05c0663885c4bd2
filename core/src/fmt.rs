//! Logging shim and redaction types.
//!
//! # Logging
//!
//! One set of macros (`trace!`, `debug!`, `info!`, `warn!`, `error!`) that
//! forwards to `defmt` on the firmware, to `log` on the host, or compiles to
//! nothing. Enabling both features is a compile error. Arguments must
//! implement both `core::fmt::Display` and `defmt::Format`; every type in
//! this crate that is meant to be logged does.
//!
//! # Redaction
//!
//! Secrets ([`Secret`]) never print: `Debug`, `Display` and `defmt::Format`
//! all write `<redacted>`. Personal data prints masked ([`Masked`]): an
//! MSISDN or account number shows its last four characters, a card number
//! at most its first six and last four, a voucher PIN nothing. Only
//! `expose()` / `as_str()` gives the real value, for the one place that must
//! put it on the wire or on a slip.

use core::fmt;
use core::marker::PhantomData;

use crate::json::{Decode, DecodeError, Encode, EncodeError, Reader, Writer};
use heapless::String;

#[cfg(not(any(feature = "defmt", feature = "log")))]
#[allow(unused_macros)]
macro_rules! till_log {
    ($level:ident, $($arg:expr),* $(,)?) => {{
        // Evaluate nothing at run time but keep the arguments "used".
        if false {
            $( let _ = &$arg; )*
        }
    }};
}

#[cfg(feature = "defmt")]
#[allow(unused_macros)]
macro_rules! till_log {
    ($level:ident, $($arg:expr),* $(,)?) => { ::defmt::$level!($($arg),*) };
}

#[cfg(feature = "log")]
#[allow(unused_macros)]
macro_rules! till_log {
    ($level:ident, $($arg:expr),* $(,)?) => { ::log::$level!($($arg),*) };
}

/// Log at trace level through the configured backend.
#[allow(unused_macros)]
macro_rules! trace { ($($arg:expr),* $(,)?) => { till_log!(trace, $($arg),*) }; }
/// Log at debug level through the configured backend.
#[allow(unused_macros)]
macro_rules! debug { ($($arg:expr),* $(,)?) => { till_log!(debug, $($arg),*) }; }
/// Log at info level through the configured backend.
#[allow(unused_macros)]
macro_rules! info { ($($arg:expr),* $(,)?) => { till_log!(info, $($arg),*) }; }
/// Log at warn level through the configured backend.
#[allow(unused_macros)]
macro_rules! warn { ($($arg:expr),* $(,)?) => { till_log!(warn, $($arg),*) }; }
/// Log at error level through the configured backend.
#[allow(unused_macros)]
macro_rules! error { ($($arg:expr),* $(,)?) => { till_log!(error, $($arg),*) }; }

const REDACTED: &str = "<redacted>";

/// A secret (API key, bearer token, password, `sk_` key) that never prints.
///
/// Serialization is transparent: the wire gets the real value, logs never do.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wrap a secret value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The real value, for the one place that puts it on the wire.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(feature = "defmt")]
impl<T> defmt::Format for Secret<T> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "<redacted>")
    }
}

impl<T: Encode> Encode for Secret<T> {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.0.encode(w)
    }
}

impl<T: Decode> Decode for Secret<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        T::decode(r).map(Self)
    }
    fn placeholder() -> Self {
        Self(T::placeholder())
    }
}

/// How much of a personal value may be shown.
pub trait MaskPolicy {
    /// Characters shown at the start when the value is long enough.
    const HEAD: usize;
    /// Characters shown at the end when the value is long enough.
    const TAIL: usize;
}

/// MSISDNs: the last four digits identify the number to the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsisdnMask {}
impl MaskPolicy for MsisdnMask {
    const HEAD: usize = 0;
    const TAIL: usize = 4;
}

/// Account and customer numbers: last four, as on a bank statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountMask {}
impl MaskPolicy for AccountMask {
    const HEAD: usize = 0;
    const TAIL: usize = 4;
}

/// Card numbers: at most the BIN (first six) and the last four (PCI DSS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardMask {}
impl MaskPolicy for CardMask {
    const HEAD: usize = 6;
    const TAIL: usize = 4;
}

/// Voucher PINs: the PIN is the value itself; nothing is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinMask {}
impl MaskPolicy for PinMask {
    const HEAD: usize = 0;
    const TAIL: usize = 0;
}

/// Personal data held in a fixed-capacity string that prints masked.
///
/// At least half of a value stays hidden, so a short value is never
/// printed whole: `27821234567` prints as `*******4567`, `1234` as `****`.
pub struct Masked<const N: usize, P> {
    value: String<N>,
    policy: PhantomData<P>,
}

impl<const N: usize, P: MaskPolicy> Masked<N, P> {
    /// Wrap a value already held in a `String<N>`.
    pub const fn new(value: String<N>) -> Self {
        Self {
            value,
            policy: PhantomData,
        }
    }

    /// Copy `value` in; `None` if it is longer than `N` bytes.
    pub fn try_from_str(value: &str) -> Option<Self> {
        String::try_from(value).ok().map(Self::new)
    }

    /// The real value, for the wire or a printed slip.
    pub fn as_str(&self) -> &str {
        self.value.as_str()
    }

    /// The masked form, written into `out`.
    pub fn write_masked(&self, out: &mut impl fmt::Write) -> fmt::Result {
        write_masked::<P>(self.value.as_str(), out)
    }
}

/// Characters that stay hidden when a head is shown: PCI DSS lets a 16-digit
/// PAN show its first six and last four, which hides six.
const MIN_HIDDEN_WITH_HEAD: usize = 6;

/// Write `value` masked under policy `P`.
pub fn write_masked<P: MaskPolicy>(value: &str, out: &mut impl fmt::Write) -> fmt::Result {
    let len = value.chars().count();
    // The tail shows only if at least as much stays hidden; the head only
    // if six characters stay hidden besides (a 16-digit PAN shown 6+4).
    let tail = if 2 * P::TAIL <= len { P::TAIL } else { 0 };
    let head = if P::HEAD + tail + MIN_HIDDEN_WITH_HEAD <= len {
        P::HEAD
    } else {
        0
    };
    for (i, c) in value.chars().enumerate() {
        if i < head || i >= len - tail {
            out.write_char(c)?;
        } else {
            out.write_char('*')?;
        }
    }
    Ok(())
}

impl<const N: usize, P> Clone for Masked<N, P> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            policy: PhantomData,
        }
    }
}

impl<const N: usize, P> PartialEq for Masked<N, P> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<const N: usize, P> Eq for Masked<N, P> {}

impl<const N: usize, P: MaskPolicy> fmt::Debug for Masked<N, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        self.write_masked(f)?;
        f.write_str("\"")
    }
}

impl<const N: usize, P: MaskPolicy> fmt::Display for Masked<N, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_masked(f)
    }
}

#[cfg(feature = "defmt")]
impl<const N: usize, P: MaskPolicy> defmt::Format for Masked<N, P> {
    fn format(&self, f: defmt::Formatter<'_>) {
        let mut masked: String<N> = String::new();
        // The masked form has exactly as many characters as the value, and
        // '*' is one byte, so it fits whenever the value did.
        let _ = self.write_masked(&mut masked);
        defmt::write!(f, "{=str}", masked.as_str())
    }
}

impl<const N: usize, P> Encode for Masked<N, P> {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.str(self.value.as_str())
    }
}

impl<const N: usize, P> Decode for Masked<N, P> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        String::<N>::decode(r).map(|value| Self {
            value,
            policy: PhantomData,
        })
    }
    fn placeholder() -> Self {
        Self {
            value: String::new(),
            policy: PhantomData,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    type Msisdn = Masked<15, MsisdnMask>;
    type Card = Masked<19, CardMask>;
    type Pin = Masked<20, PinMask>;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("sk_test_abcdef");
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        assert_eq!(*s.expose(), "sk_test_abcdef");
    }

    #[test]
    fn msisdn_shows_last_four_only() {
        let m = Msisdn::try_from_str("27821234567").unwrap();
        assert_eq!(format!("{m}"), "*******4567");
        assert_eq!(format!("{m:?}"), "\"*******4567\"");
        assert_eq!(m.as_str(), "27821234567");
    }

    #[test]
    fn card_shows_at_most_bin_and_last_four() {
        let c = Card::try_from_str("4111111111111111").unwrap();
        assert_eq!(format!("{c}"), "411111******1111");
        // Too short to show the BIN as well: only the last four.
        let short = Card::try_from_str("41111111").unwrap();
        assert_eq!(format!("{short}"), "****1111");
    }

    #[test]
    fn short_values_are_never_shown_whole() {
        let m = Msisdn::try_from_str("1234").unwrap();
        assert_eq!(format!("{m}"), "****");
        let pin = Pin::try_from_str("125805293941").unwrap();
        assert_eq!(format!("{pin}"), "************");
    }

    #[test]
    fn json_is_transparent() {
        let m = Msisdn::try_from_str("27821234567").unwrap();
        let mut buf = [0u8; 32];
        let n = crate::json::encode(&m, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"\"27821234567\"");
        let back: Msisdn = crate::json::decode(&buf[..n]).unwrap();
        assert_eq!(back, m);
    }
}
