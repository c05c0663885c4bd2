//! The one way JSON enters and leaves the core.
//!
//! [`decode`] reads a body through [`Reader`], a pull reader whose grammar
//! exists once in the image; each wire type's [`Decode`] (derived with
//! `#[derive(Decode)]` from `till-json-derive`, or written by hand for
//! text-encoded values) is a table of its JSON names and one closure, not
//! a serde visitor per type. The body is capped at [`MAX_BODY_LEN`] bytes,
//! every `{`/`[` entered — decoded or skipped — counts against
//! [`MAX_DEPTH`], and skipping an unknown member never recurses. Escaped
//! strings are decoded (`\"`, `\u00e9`, surrogate pairs). Every failure is
//! a typed [`DecodeError`]; nothing from the network can make it panic.
//!
//! [`encode`] writes through [`Writer`] into the caller's buffer and
//! reports a short buffer as [`EncodeError::BufferTooSmall`].

use core::fmt;
use core::str::FromStr;

use heapless::{String, Vec};

mod flat;
mod read;
mod write;

pub use flat::{Flat, FLAT_CAP, FLAT_KEY_CAP, FLAT_PATH_CAP};
pub use read::{Kind, Reader};
pub use till_json_derive::{Decode, Encode};
pub use write::Writer;

/// Largest response body accepted, in bytes. The largest message the
/// terminal expects is an Electrum product list or MSISDN lookup at the
/// capacity limits of [`crate::electrum::wire`] (about 24 KB); anything
/// beyond 32 KiB is refused before parsing.
pub const MAX_BODY_LEN: usize = 32 * 1024;

/// Deepest nesting accepted. The deepest documented message (an Electrum
/// purchase response: root → product → productValues → amount) nests five
/// levels; free-form objects such as `detailMessage.formatErrors[]` add
/// two or three. Sixteen leaves headroom; decoding recurses only as deep
/// as the wire types nest, and skipping does not recurse at all.
pub const MAX_DEPTH: usize = 16;

/// Longest string that may contain escapes: the unescape scratch buffer.
/// The longest text field the terminal keeps is 512 bytes (a Conductor
/// product description); unescaped text never grows.
pub const UNESCAPE_SCRATCH_LEN: usize = 512;

/// What was wrong with the JSON text itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SyntaxError {
    /// The body ended in the middle of a value (or was empty).
    UnexpectedEnd,
    /// A `:` was expected after an object key.
    ExpectedColon,
    /// A `,` or closing bracket was expected.
    ExpectedCommaOrEnd,
    /// A value was expected.
    ExpectedValue,
    /// `true`, `false` or `null` was misspelled.
    ExpectedLiteral,
    /// A number was malformed or out of range for its field.
    InvalidNumber,
    /// A string escape was malformed.
    InvalidEscape,
    /// A `\u` escape was not a valid code point (surrogate pairs included).
    InvalidUnicode,
    /// An object key was not a string.
    KeyMustBeAString,
    /// A comma before a closing bracket (`[1,]`): JSON forbids it.
    TrailingComma,
    /// A control character (below U+0020) inside a string: JSON forbids it.
    ControlCharacter,
    /// Something other than whitespace after the value.
    TrailingCharacters,
}

/// Why a body could not be decoded.
///
/// Kept to a byte or two (the limits are the constants, not fields): every
/// reader returns `Result<_, DecodeError>`, and with an error this small
/// a `Result<(), _>` or `Result<&str, _>` comes back in registers, not
/// through memory, at each of the decoders' `?`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// The body is larger than [`MAX_BODY_LEN`] (its length is logged
    /// with the refusal, by [`decode_in`]).
    TooLarge,
    /// Objects and arrays nest deeper than [`MAX_DEPTH`].
    TooDeep,
    /// The text is not JSON.
    Syntax(SyntaxError),
    /// A value has the wrong JSON type for its field (a string where a
    /// number belongs, …).
    WrongType,
    /// A value failed validation (unknown format, bad UUID, bad amount,
    /// bad currency code, missing required field) or does not fit its
    /// fixed capacity.
    Invalid,
    /// A string with escapes is longer than [`UNESCAPE_SCRATCH_LEN`].
    StringTooLong,
}

// Small enough that a reader's result travels in registers (see above).
const _: () = assert!(core::mem::size_of::<DecodeError>() <= 2);
const _: () =
    assert!(core::mem::size_of::<Result<&str, DecodeError>>() == core::mem::size_of::<&str>());

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnexpectedEnd => "unexpected end of body",
            Self::ExpectedColon => "expected ':'",
            Self::ExpectedCommaOrEnd => "expected ',' or a closing bracket",
            Self::ExpectedValue => "expected a value",
            Self::ExpectedLiteral => "expected true, false or null",
            Self::InvalidNumber => "invalid number",
            Self::InvalidEscape => "invalid string escape",
            Self::InvalidUnicode => "invalid unicode escape",
            Self::KeyMustBeAString => "object key is not a string",
            Self::TrailingComma => "trailing comma",
            Self::ControlCharacter => "control character in a string",
            Self::TrailingCharacters => "characters after the value",
        })
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => write!(f, "body larger than {MAX_BODY_LEN} bytes"),
            Self::TooDeep => write!(f, "JSON nests deeper than {MAX_DEPTH} levels"),
            Self::Syntax(e) => write!(f, "malformed JSON: {e}"),
            Self::WrongType => f.write_str("a field has the wrong JSON type"),
            Self::Invalid => f.write_str("a field is missing, invalid or too long"),
            Self::StringTooLong => write!(
                f,
                "an escaped string is longer than {UNESCAPE_SCRATCH_LEN} bytes"
            ),
        }
    }
}

impl core::error::Error for DecodeError {}

/// A value read from JSON: the one decoding trait of the core.
pub trait Decode: Sized {
    /// Read one value.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Read one value over `place`: how a large answer is built where it
    /// is kept (a struct's members straight into its fields), without a
    /// copy per level. On error `place` holds a mix of old and new: the
    /// caller discards it ([`decode_into`] does).
    fn decode_in(r: &mut Reader<'_>, place: &mut Self) -> Result<(), DecodeError> {
        *place = Self::decode(r)?;
        Ok(())
    }

    /// A value for [`Decode::decode_in`] to read over: never shown to
    /// anyone, every field is overwritten or refused.
    fn placeholder() -> Self;

    /// What a member that is absent from its object means: `Option`s are
    /// `None`, everything else is required ([`DecodeError::Invalid`]).
    fn absent() -> Result<Self, DecodeError> {
        Err(DecodeError::Invalid)
    }
}

/// A value written as JSON: the one encoding trait of the core.
pub trait Encode {
    /// Write one value.
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;
}

/// A body that must read as `T`, checked and then dropped: for answers
/// whose verdict needs them read but whose content nothing uses (a trial
/// purchase's 8 KB response). The `T` lives only in the decoder's frame,
/// never in the flow that waits for the answer.
pub struct Checked<T>(core::marker::PhantomData<fn() -> T>);

impl<T> fmt::Debug for Checked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Checked")
    }
}

impl<T> Clone for Checked<T> {
    fn clone(&self) -> Self {
        Self(core::marker::PhantomData)
    }
}

impl<T> PartialEq for Checked<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T: Decode> Decode for Checked<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut place = T::placeholder();
        T::decode_in(r, &mut place)?;
        Ok(Self(core::marker::PhantomData))
    }

    fn placeholder() -> Self {
        Self(core::marker::PhantomData)
    }
}

/// Decode one JSON body into `T`: the only JSON entry point of the core
/// (with [`decode_into`], for large answers).
pub fn decode<T: Decode>(body: &[u8]) -> Result<T, DecodeError> {
    let mut slot = None;
    decode_into(body, &mut slot)?;
    slot.ok_or(DecodeError::Invalid)
}

/// [`decode`] into `slot`: the answer is built where the caller keeps it
/// (a flow's state, say) instead of being returned through each level.
/// On error `slot` holds `None`.
pub fn decode_into<T: Decode>(body: &[u8], slot: &mut Option<T>) -> Result<(), DecodeError> {
    let result = decode_in(body, slot.get_or_insert_with(T::placeholder));
    if result.is_err() {
        *slot = None;
    }
    result
}

/// [`decode`] over `place`, a value the caller keeps (a flow's state):
/// nothing is copied. On error `place` is left half-read; discard it.
pub fn decode_in<T: Decode>(body: &[u8], place: &mut T) -> Result<(), DecodeError> {
    let result = decode_guarded(body, &mut |r| T::decode_in(r, place));
    if let Err(e) = &result {
        debug!("json: body of {} bytes refused: {}", body.len(), e);
    }
    result
}

/// The guards around one body's reading: one function in the image for
/// every wire type (`read` is the type's own part).
#[inline(never)]
fn decode_guarded(
    body: &[u8],
    read: &mut dyn FnMut(&mut Reader<'_>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    if body.len() > MAX_BODY_LEN {
        return Err(DecodeError::TooLarge);
    }
    let mut r = Reader::new(body);
    let value = read(&mut r).and_then(|()| r.finish());
    match value {
        Err(DecodeError::WrongType | DecodeError::Invalid | DecodeError::StringTooLong) => {
            // A body that is not JSON says so, whatever field it broke
            // first: read it once more as any value (off the happy path).
            let mut any = Reader::new(body);
            any.skip().and_then(|()| any.finish())?;
            value
        }
        other => other,
    }
}

/// Read a JSON string through `T`'s `FromStr`: the one reader behind every
/// text-encoded value type (amounts, codes, ids, timestamps). A string
/// that does not parse is [`DecodeError::Invalid`].
pub(crate) fn decode_from_str<T: FromStr>(r: &mut Reader<'_>) -> Result<T, DecodeError> {
    r.str()?.parse().map_err(|_| DecodeError::Invalid)
}

impl Decode for bool {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.bool()
    }
    fn placeholder() -> Self {
        false
    }
}

impl Encode for bool {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.bool(*self)
    }
}

macro_rules! integers {
    ($read:ident, $write:ident, $wide:ty: $($t:ty),*) => {$(
        impl Decode for $t {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                <$t>::try_from(r.$read()?).map_err(|_| DecodeError::Syntax(SyntaxError::InvalidNumber))
            }
            fn placeholder() -> Self {
                0
            }
        }
        impl Encode for $t {
            fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                w.$write(<$wide>::from(*self))
            }
        }
    )*};
}
integers!(u64, u64, u64: u8, u16, u32, u64);
integers!(i64, i64, i64: i8, i16, i32, i64);

impl<const N: usize> Decode for String<N> {
    /// Longer text than `N` bytes is [`DecodeError::Invalid`].
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut place = String::new();
        decode_text(r, place.as_mut_view())?;
        Ok(place)
    }
    fn decode_in(r: &mut Reader<'_>, place: &mut Self) -> Result<(), DecodeError> {
        decode_text(r, place.as_mut_view())
    }
    fn placeholder() -> Self {
        String::new()
    }
}

/// [`String`]'s reader for every capacity: one function in the image.
#[inline(never)]
fn decode_text(
    r: &mut Reader<'_>,
    place: &mut heapless::string::StringView,
) -> Result<(), DecodeError> {
    place.clear();
    place.push_str(r.str()?).map_err(|_| DecodeError::Invalid)
}

impl<const N: usize> Encode for String<N> {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.str(self)
    }
}

impl Encode for str {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.str(self)
    }
}

impl<T: Decode, const N: usize> Decode for Vec<T, N> {
    /// More than `N` elements is [`DecodeError::Invalid`].
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut out = Vec::new();
        Self::decode_in(r, &mut out)?;
        Ok(out)
    }
    fn decode_in(r: &mut Reader<'_>, place: &mut Self) -> Result<(), DecodeError> {
        place.clear();
        r.array(&mut |r| {
            place
                .push(T::placeholder())
                .map_err(|_| DecodeError::Invalid)?;
            match place.last_mut() {
                Some(item) => T::decode_in(r, item),
                None => Err(DecodeError::Invalid),
            }
        })
    }
    fn placeholder() -> Self {
        Vec::new()
    }
}

impl<T: Encode> Encode for [T] {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.begin_array()?;
        for item in self {
            item.encode(w)?;
        }
        w.end_array()
    }
}

impl<T: Decode + Copy + Default, const N: usize> Decode for [T; N] {
    /// Exactly `N` elements (an IPv4 address's four octets).
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut out = [T::default(); N];
        let mut n = 0usize;
        r.array(&mut |r| {
            let slot = out.get_mut(n).ok_or(DecodeError::Invalid)?;
            *slot = T::decode(r)?;
            n += 1;
            Ok(())
        })?;
        if n != N {
            return Err(DecodeError::Invalid);
        }
        Ok(out)
    }
    fn placeholder() -> Self {
        [T::default(); N]
    }
}

impl<T: Encode, const N: usize> Encode for [T; N] {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.as_slice().encode(w)
    }
}

impl<T: Encode, const N: usize> Encode for Vec<T, N> {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.as_slice().encode(w)
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        if r.null()? {
            return Ok(None);
        }
        T::decode(r).map(Some)
    }
    fn decode_in(r: &mut Reader<'_>, place: &mut Self) -> Result<(), DecodeError> {
        if r.null()? {
            *place = None;
            return Ok(());
        }
        if place.is_none() {
            *place = Some(T::placeholder());
        }
        match place {
            Some(value) => T::decode_in(r, value),
            None => Err(DecodeError::Invalid),
        }
    }
    fn placeholder() -> Self {
        None
    }
    fn absent() -> Result<Self, DecodeError> {
        Ok(None)
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            Some(v) => v.encode(w),
            None => w.null(),
        }
    }
}

impl Encode for () {
    /// No body: `null`, as serde wrote it.
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.null()
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        (**self).encode(w)
    }
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// The caller's buffer is too small for the encoded value.
    BufferTooSmall {
        /// Size of the buffer that was too small.
        capacity: usize,
    },
    /// The value cannot be represented in JSON (a bug in till-core).
    Unsupported,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { capacity } => {
                write!(f, "encoded JSON does not fit {capacity} bytes")
            }
            Self::Unsupported => f.write_str("value cannot be encoded as JSON"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// Encode `value` into `buf`; returns the number of bytes written.
pub fn encode<T: Encode + ?Sized>(value: &T, buf: &mut [u8]) -> Result<usize, EncodeError> {
    encode_with(buf, &|w| value.encode(w))
}

/// [`encode`]'s writer: one function in the image for every wire type.
#[inline(never)]
fn encode_with(
    buf: &mut [u8],
    write: &dyn Fn(&mut Writer<'_>) -> Result<(), EncodeError>,
) -> Result<usize, EncodeError> {
    let mut w = Writer::new(buf);
    write(&mut w)?;
    Ok(w.len())
}

/// Readers for fields whose capacity must never make an answer unreadable:
/// display text is cut to fit, lists keep what fits, echoed references
/// are skipped when too long. Fields that decide money (ids, amounts,
/// statuses, PINs, serials) never use these: they stay strict.
///
/// Each reader reads over the caller's field (`decode_with`'s signature):
/// a kept text or list is never returned through a `Result` and copied
/// into place.
pub(crate) mod lenient {
    use heapless::{String, Vec};

    use super::{Decode, DecodeError, Kind, Reader};
    use crate::code::truncate_into;

    /// Copy as much of `text` as fits `N` bytes, cutting at a character
    /// boundary. Returns the copy and whether anything was cut.
    pub(crate) fn truncate_text<const N: usize>(text: &str) -> (String<N>, bool) {
        let mut out = String::new();
        let cut = truncate_into(out.as_mut_view(), text);
        (out, cut)
    }

    /// Optional display text that must never fail a message: `null` or a
    /// non-string value (consumed) is `None`, a string is kept and cut to
    /// the capacity.
    pub(crate) fn lenient_text<const N: usize>(
        r: &mut Reader<'_>,
        place: &mut Option<String<N>>,
    ) -> Result<(), DecodeError> {
        if r.peek()? == Kind::String {
            let text = r.str()?;
            truncate_into(place.insert(String::new()).as_mut_view(), text);
        } else {
            r.skip()?;
            *place = None;
        }
        Ok(())
    }

    /// Required display text: a string, cut to the capacity rather than
    /// refused.
    pub(crate) fn truncated_text<const N: usize>(
        r: &mut Reader<'_>,
        place: &mut String<N>,
    ) -> Result<(), DecodeError> {
        let text = r.str()?;
        place.clear();
        truncate_into(place.as_mut_view(), text);
        Ok(())
    }

    /// A list whose capacity holds what the terminal uses of it (labels,
    /// third-party identifiers): the first `N` elements are kept, the rest
    /// read and dropped, so a longer list never makes a paid answer
    /// unreadable.
    pub(crate) fn capped_vec<T: Decode, const N: usize>(
        r: &mut Reader<'_>,
        place: &mut Vec<T, N>,
    ) -> Result<(), DecodeError> {
        place.clear();
        r.array(&mut |r| {
            if place.push(T::placeholder()).is_err() {
                return r.skip();
            }
            match place.last_mut() {
                Some(item) => T::decode_in(r, item),
                None => r.skip(),
            }
        })
    }

    /// [`capped_vec`] for an optional list.
    pub(crate) fn capped_vec_opt<T: Decode, const N: usize>(
        r: &mut Reader<'_>,
        place: &mut Option<Vec<T, N>>,
    ) -> Result<(), DecodeError> {
        if r.null()? {
            *place = None;
            return Ok(());
        }
        capped_vec(r, place.get_or_insert_with(Vec::new))
    }

    /// An optional reference that is echoed back (a `basketRef`): kept
    /// whole when it fits, skipped (`None`) when it does not — a cut
    /// reference would be a wrong one.
    pub(crate) fn short_text<const N: usize>(
        r: &mut Reader<'_>,
        place: &mut Option<String<N>>,
    ) -> Result<(), DecodeError> {
        if r.null()? {
            *place = None;
            return Ok(());
        }
        let text = r.str()?;
        if place.insert(String::new()).push_str(text).is_err() {
            *place = None;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heapless::String;
    use proptest::prelude::*;

    #[derive(Debug, Decode, Encode, PartialEq)]
    struct Note {
        text: String<32>,
        #[json(default)]
        n: Option<u32>,
    }

    #[test]
    fn decodes_escaped_strings() {
        let note: Note = decode(br#"{"text":"a\"b\u00e9\n","n":3}"#).unwrap();
        assert_eq!(note.text.as_str(), "a\"b\u{e9}\n");
        assert_eq!(note.n, Some(3));
    }

    #[test]
    fn nesting_hidden_behind_a_skipped_scalar_is_refused() {
        // A lax reader that skips an ignored scalar up to the next `,`, `}`
        // or `]`, quotes included, would meet these brackets uncounted (the
        // serde-json-core of before did); the reader here refuses the
        // stray quote and counts every bracket it skips.
        let deep = "[".repeat(100_000);
        for prefix in [
            r#"{"x":0","y":"#,
            r#"{"x":true","y":"#,
            r#"{"x":0:"a,"":"#,
            r#"{"x":-1e5" ,"y":"#,
        ] {
            let body = std::format!("{prefix}{deep}");
            let r = decode::<Note>(&body.as_bytes()[..MAX_BODY_LEN.min(body.len())]);
            assert!(r.is_err(), "{prefix}");
        }
        // Brackets inside real strings still count for nothing.
        let note: Note = decode(br#"{"text":"[[[[{{{{[[[[{{{{[[[[","n":1}"#).unwrap();
        assert_eq!(note.n, Some(1));
        let note: Note = decode(b"{ \"text\" : \"a\" , \"n\" : 2 }").unwrap();
        assert_eq!(note.n, Some(2));
    }

    #[test]
    fn unknown_fields_are_skipped_at_any_depth() {
        let note: Note = decode(br#"{"extra":{"deep":[1,{"x":null}]},"text":"ok"}"#).unwrap();
        assert_eq!(note.text.as_str(), "ok");
        assert_eq!(note.n, None);
    }

    #[test]
    fn refuses_deep_nesting_before_parsing() {
        let mut body = std::vec::Vec::new();
        body.extend_from_slice(br#"{"text":"x","extra":"#);
        body.extend(core::iter::repeat_n(b'[', 10_000));
        body.extend(core::iter::repeat_n(b']', 10_000));
        body.push(b'}');
        assert_eq!(decode::<Note>(&body), Err(DecodeError::TooDeep));
        // Brackets inside strings do not count.
        let ok: Note = decode(br#"{"text":"[[[[[[[[[[[[[[[[[[[[[["}"#).unwrap();
        assert_eq!(ok.text.len(), 22);
    }

    #[test]
    fn refuses_large_bodies() {
        let body = std::vec![b' '; MAX_BODY_LEN + 1];
        assert_eq!(decode::<Note>(&body), Err(DecodeError::TooLarge));
    }

    #[test]
    fn typed_errors() {
        assert_eq!(
            decode::<Note>(b""),
            Err(DecodeError::Syntax(SyntaxError::UnexpectedEnd))
        );
        assert_eq!(
            decode::<Note>(br#"{"text":"a",}"#),
            Err(DecodeError::Syntax(SyntaxError::TrailingComma))
        );
        assert_eq!(
            decode::<Note>(br#"{"text":"a"} x"#),
            Err(DecodeError::Syntax(SyntaxError::TrailingCharacters))
        );
        assert_eq!(
            decode::<Note>(br#"{"text":5}"#),
            Err(DecodeError::WrongType)
        );
        assert_eq!(decode::<Note>(br#"{"n":5}"#), Err(DecodeError::Invalid));
        assert_eq!(
            decode::<Note>(br#"{"text":"0123456789012345678901234567890123"}"#),
            Err(DecodeError::Invalid)
        );
    }

    #[test]
    fn encode_reports_short_buffers() {
        #[derive(Encode)]
        struct Out<'a> {
            text: &'a str,
        }
        let mut buf = [0u8; 64];
        let n = encode(&Out { text: "a\"b" }, &mut buf).unwrap();
        assert_eq!(&buf[..n], br#"{"text":"a\"b"}"#);
        let mut small = [0u8; 4];
        assert_eq!(
            encode(&Out { text: "abc" }, &mut small),
            Err(EncodeError::BufferTooSmall { capacity: 4 })
        );
    }

    #[test]
    fn numbers_follow_the_json_grammar() {
        for ok in ["0", "-0", "12", "-12", "1.5", "1e5", "1E+5", "1.25e-3"] {
            let mut r = Reader::new(ok.as_bytes());
            assert_eq!(r.number(), Ok(ok), "{ok}");
        }
        for bad in ["01", "-", "1.", ".5", "1e", "1e+", "--1", "+1"] {
            let body = std::format!("[{bad}]");
            assert!(decode::<Vec<i64, 4>>(body.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(decode::<u8>(b"255"), Ok(255));
        assert_eq!(
            decode::<u8>(b"256"),
            Err(DecodeError::Syntax(SyntaxError::InvalidNumber))
        );
        assert_eq!(decode::<u64>(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            decode::<u64>(b"18446744073709551616"),
            Err(DecodeError::Syntax(SyntaxError::InvalidNumber))
        );
        assert_eq!(decode::<i64>(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            decode::<u32>(b"1.0"),
            Err(DecodeError::Syntax(SyntaxError::InvalidNumber))
        );
        assert_eq!(decode::<u32>(b"\"1\""), Err(DecodeError::WrongType));
    }

    #[test]
    fn strings_unescape_and_refuse_what_json_forbids() {
        let s: String<16> = decode(br#""\ud83d\ude00 \/\b\f\t""#).unwrap();
        assert_eq!(s.as_str(), "\u{1f600} /\u{8}\u{c}\t");
        for (body, err) in [
            (&br#""\ud83d""#[..], SyntaxError::InvalidUnicode),
            (br#""\ude00""#, SyntaxError::InvalidUnicode),
            (br#""\x""#, SyntaxError::InvalidEscape),
            (br#""\u12""#, SyntaxError::InvalidEscape),
            (b"\"a\nb\"", SyntaxError::ControlCharacter),
            (b"\"\xff\"", SyntaxError::InvalidUnicode),
            (br#""abc"#, SyntaxError::UnexpectedEnd),
        ] {
            assert_eq!(decode::<String<16>>(body), Err(DecodeError::Syntax(err)));
        }
        // The same checks hold in a skipped member.
        assert_eq!(
            decode::<Note>(b"{\"x\":\"a\tb\",\"text\":\"t\"}"),
            Err(DecodeError::Syntax(SyntaxError::ControlCharacter))
        );
        // An escaped string longer than the scratch buffer.
        let long = std::format!("\"\\n{}\"", "a".repeat(UNESCAPE_SCRATCH_LEN));
        assert_eq!(
            decode::<String<1024>>(long.as_bytes()),
            Err(DecodeError::StringTooLong)
        );
    }

    #[test]
    fn objects_skip_unknown_members_of_every_shape() {
        let note: Note = decode(
            br#"{"a":[],"b":{},"c":[[],{}],"d":{"e":[1,{"f":null}],"g":"}]"},"h":true,"i":-1.5e3,"text":"ok","j":[{"k":[{"l":{}}]}]}"#,
        )
        .unwrap();
        assert_eq!(note.text.as_str(), "ok");
        for bad in [
            &br#"{"a":[1,],"text":"x"}"#[..],
            br#"{"a":{"b":1,},"text":"x"}"#,
            br#"{"a":{"b"},"text":"x"}"#,
            br#"{"a":{1:2},"text":"x"}"#,
            br#"{"a":[1 2],"text":"x"}"#,
            br#"{"a":[}],"text":"x"}"#,
            br#"{"a":tru,"text":"x"}"#,
            br#"{"text":"x""#,
            br#"{"text":"x",}"#,
            br#"{"text" "x"}"#,
        ] {
            assert!(
                matches!(decode::<Note>(bad), Err(DecodeError::Syntax(_))),
                "{}",
                std::str::from_utf8(bad).unwrap()
            );
        }
        // A key is the same key escaped or not.
        let note: Note = decode(br#"{"te\u0078t":"esc","n":1}"#).unwrap();
        assert_eq!((note.text.as_str(), note.n), ("esc", Some(1)));
        // A known member given twice is refused, not silently replaced.
        assert_eq!(
            decode::<Note>(br#"{"text":"a","text":"b"}"#),
            Err(DecodeError::Invalid)
        );
    }

    #[derive(Debug, Decode, Encode, PartialEq)]
    enum Tagged {
        Plain,
        Wrapped(u8),
        Fields { a: u8, b: Option<u8> },
    }

    #[test]
    fn enums_are_externally_tagged() {
        let mut buf = [0u8; 64];
        for (value, text) in [
            (Tagged::Plain, &br#""Plain""#[..]),
            (Tagged::Wrapped(7), br#"{"Wrapped":7}"#),
            (
                Tagged::Fields { a: 1, b: None },
                br#"{"Fields":{"a":1,"b":null}}"#,
            ),
        ] {
            let n = encode(&value, &mut buf).unwrap();
            assert_eq!(&buf[..n], text);
            assert_eq!(decode::<Tagged>(text), Ok(value));
        }
        for bad in [
            &br#""Other""#[..],
            br#"{"Other":1}"#,
            br#"{"Wrapped":1,"Plain":2}"#,
            br#"{}"#,
            br#"{"Fields":{"b":1}}"#,
        ] {
            assert_eq!(decode::<Tagged>(bad), Err(DecodeError::Invalid));
        }
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode::<Note>(&body);
        }

        #[test]
        fn decoding_json_like_bytes_never_panics(body in "[\\[\\]{}\":,0-9a-z\\\\ .-]{0,256}") {
            let _ = decode::<Note>(body.as_bytes());
        }
    }
}
