//! The one way JSON enters and leaves the core.
//!
//! [`decode`] guards serde-json-core, which has no nesting limit and would
//! otherwise recurse once per `[` or `{` of an ignored field: the body is
//! capped at [`MAX_BODY_LEN`] bytes and pre-scanned for nesting deeper than
//! [`MAX_DEPTH`] before the parser sees it. Escaped strings are decoded
//! (`\"`, `\u00e9`) whenever the body contains a backslash. Every failure is
//! a typed [`DecodeError`]; nothing from the network can make it panic.
//!
//! [`encode`] writes into the caller's buffer and reports a short buffer as
//! [`EncodeError::BufferTooSmall`].

use core::fmt;
use core::marker::PhantomData;
use core::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json_core::de::Error as SjcDeError;
use serde_json_core::ser::Error as SjcSerError;

/// Largest response body accepted, in bytes. The largest message the
/// terminal expects is an Electrum product list or MSISDN lookup at the
/// capacity limits of [`crate::electrum::wire`] (about 24 KB); anything
/// beyond 32 KiB is refused before parsing.
pub const MAX_BODY_LEN: usize = 32 * 1024;

/// Deepest nesting accepted. The deepest documented message (an Electrum
/// purchase response: root → product → productValues → amount) nests five
/// levels; free-form objects such as `detailMessage.formatErrors[]` add
/// two or three. Sixteen leaves headroom while bounding serde-json-core's
/// recursion to a few kilobytes of stack.
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
    /// Something other than whitespace after the value.
    TrailingCharacters,
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// The body is larger than [`MAX_BODY_LEN`].
    TooLarge {
        /// Bytes received.
        len: usize,
        /// Bytes allowed.
        max: usize,
    },
    /// Objects and arrays nest deeper than [`MAX_DEPTH`].
    TooDeep {
        /// Levels allowed.
        max: usize,
    },
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
    /// The target type asks for something serde-json-core cannot do; a bug
    /// in till-core, never caused by the input alone.
    Unsupported,
}

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
            Self::TrailingCharacters => "characters after the value",
        })
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max } => write!(f, "body of {len} bytes exceeds {max}"),
            Self::TooDeep { max } => write!(f, "JSON nests deeper than {max} levels"),
            Self::Syntax(e) => write!(f, "malformed JSON: {e}"),
            Self::WrongType => f.write_str("a field has the wrong JSON type"),
            Self::Invalid => f.write_str("a field is missing, invalid or too long"),
            Self::StringTooLong => write!(
                f,
                "an escaped string is longer than {UNESCAPE_SCRATCH_LEN} bytes"
            ),
            Self::Unsupported => f.write_str("type not supported by the decoder"),
        }
    }
}

impl core::error::Error for DecodeError {}

impl From<SjcDeError> for DecodeError {
    fn from(e: SjcDeError) -> Self {
        use SyntaxError as S;
        match e {
            SjcDeError::EofWhileParsingList
            | SjcDeError::EofWhileParsingObject
            | SjcDeError::EofWhileParsingString
            | SjcDeError::EofWhileParsingNumber
            | SjcDeError::EofWhileParsingValue => Self::Syntax(S::UnexpectedEnd),
            SjcDeError::ExpectedColon => Self::Syntax(S::ExpectedColon),
            SjcDeError::ExpectedListCommaOrEnd | SjcDeError::ExpectedObjectCommaOrEnd => {
                Self::Syntax(S::ExpectedCommaOrEnd)
            }
            SjcDeError::ExpectedSomeIdent => Self::Syntax(S::ExpectedLiteral),
            SjcDeError::ExpectedSomeValue => Self::Syntax(S::ExpectedValue),
            SjcDeError::InvalidNumber => Self::Syntax(S::InvalidNumber),
            SjcDeError::InvalidEscapeSequence => Self::Syntax(S::InvalidEscape),
            SjcDeError::InvalidUnicodeCodePoint => Self::Syntax(S::InvalidUnicode),
            SjcDeError::KeyMustBeAString => Self::Syntax(S::KeyMustBeAString),
            SjcDeError::TrailingComma => Self::Syntax(S::TrailingComma),
            SjcDeError::TrailingCharacters => Self::Syntax(S::TrailingCharacters),
            SjcDeError::InvalidType => Self::WrongType,
            SjcDeError::EscapedStringIsTooLong => Self::StringTooLong,
            SjcDeError::AnyIsUnsupported | SjcDeError::BytesIsUnsupported => Self::Unsupported,
            _ => Self::Invalid,
        }
    }
}

/// What the pre-scan learned about a body.
struct Scan {
    has_escapes: bool,
}

/// Walk the body once, tracking strings, and refuse nesting deeper than
/// [`MAX_DEPTH`]. Unbalanced brackets are left for the parser to report.
///
/// The walk must see strings where serde-json-core sees them, or brackets
/// hidden in a "string" of ours would reach its recursion uncounted. The
/// parser skips an ignored scalar by consuming bytes up to the next `,`,
/// `}` or `]` — quotes included — so in `{"x":0","y":[[[…` it reads no
/// string where a plain quote tracker reads one. JSON places a string only
/// where a value or key begins: first, or after `{`, `[`, `,` or `:`. A
/// quote anywhere else is refused here, which keeps both readings of every
/// accepted body in step.
fn pre_scan(body: &[u8]) -> Result<Scan, DecodeError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut has_escapes = false;
    // The last byte outside strings and whitespace (`"` for a string end).
    let mut last: Option<u8> = None;
    for &b in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
                has_escapes = true;
            } else if b == b'"' {
                in_string = false;
                last = Some(b'"');
            }
            continue;
        }
        match b {
            b'"' => {
                if !matches!(last, None | Some(b'{' | b'[' | b',' | b':')) {
                    return Err(DecodeError::Syntax(SyntaxError::ExpectedCommaOrEnd));
                }
                in_string = true;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(DecodeError::TooDeep { max: MAX_DEPTH });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'"') {
            last = Some(b);
        }
    }
    Ok(Scan { has_escapes })
}

/// Decode one JSON body into `T`: the only JSON entry point of the core.
#[inline]
pub fn decode<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    let result = decode_guarded(body);
    if let Err(e) = &result {
        debug!("json: body of {} bytes refused: {}", body.len(), e);
    }
    result
}

#[inline]
fn decode_guarded<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    if body.len() > MAX_BODY_LEN {
        return Err(DecodeError::TooLarge {
            len: body.len(),
            max: MAX_BODY_LEN,
        });
    }
    let scan = pre_scan(body)?;
    let (value, _) = if scan.has_escapes {
        let mut scratch = [0u8; UNESCAPE_SCRATCH_LEN];
        serde_json_core::from_slice_escaped(body, &mut scratch)?
    } else {
        // No backslash anywhere: nothing to unescape, skip the copy.
        serde_json_core::from_slice(body)?
    };
    Ok(value)
}

/// Deserialize a JSON string through `T`'s `FromStr`: the one visitor behind
/// every text-encoded value type (amounts, codes, ids, timestamps). A string
/// that does not parse is [`DecodeError::Invalid`].
pub(crate) fn deserialize_from_str<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
{
    struct FromStrVisitor<T>(&'static str, PhantomData<T>);
    impl<T: FromStr> Visitor<'_> for FromStrVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            v.parse()
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }
    deserializer.deserialize_str(FromStrVisitor(expecting, PhantomData))
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
pub fn encode<T: Serialize + ?Sized>(value: &T, buf: &mut [u8]) -> Result<usize, EncodeError> {
    serde_json_core::to_slice(value, buf).map_err(|e| match e {
        SjcSerError::BufferFull => EncodeError::BufferTooSmall {
            capacity: buf.len(),
        },
        _ => EncodeError::Unsupported,
    })
}

/// Readers for fields whose capacity must never make an answer unreadable:
/// display text is cut to fit, lists keep what fits, echoed references
/// are skipped when too long. Fields that decide money (ids, amounts,
/// statuses, PINs, serials) never use these: they stay strict.
pub(crate) mod lenient {
    use core::fmt;
    use core::marker::PhantomData;

    use heapless::{String, Vec};
    use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
    use serde::{Deserialize, Deserializer};

    /// Copy as much of `text` as fits `N` bytes, cutting at a character
    /// boundary. Returns the copy and whether anything was cut.
    pub(crate) fn truncate_text<const N: usize>(text: &str) -> (String<N>, bool) {
        let mut out = String::new();
        for c in text.chars() {
            if out.push(c).is_err() {
                return (out, true);
            }
        }
        (out, false)
    }

    /// Visitor for display text of any JSON shape: a string is kept (cut to
    /// `N` bytes); any other value is consumed and read as absent.
    struct AnyTextVisitor<const N: usize>;

    impl<'de, const N: usize> Visitor<'de> for AnyTextVisitor<N> {
        type Value = Option<String<N>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(truncate_text(v).0))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_ignored_any(self)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }

    /// `deserialize_with` for optional display text that must never fail a
    /// message: `null`, absent or a non-string value is `None`, a string is
    /// kept and cut to the capacity.
    pub(crate) fn lenient_text<'de, D, const N: usize>(d: D) -> Result<Option<String<N>>, D::Error>
    where
        D: Deserializer<'de>,
    {
        d.deserialize_option(AnyTextVisitor::<N>)
    }

    /// `deserialize_with` for required display text: a string, cut to the
    /// capacity rather than refused.
    pub(crate) fn truncated_text<'de, D, const N: usize>(d: D) -> Result<String<N>, D::Error>
    where
        D: Deserializer<'de>,
    {
        struct V<const N: usize>;
        impl<const N: usize> Visitor<'_> for V<N> {
            type Value = String<N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String<N>, E> {
                Ok(truncate_text(v).0)
            }
        }
        d.deserialize_str(V::<N>)
    }

    /// `deserialize_with` for a list whose capacity holds what the
    /// terminal uses of it (labels, third-party identifiers): the first
    /// `N` elements are kept, the rest read and dropped, so a longer list
    /// never makes a paid answer unreadable.
    pub(crate) fn capped_vec<'de, D, T, const N: usize>(d: D) -> Result<Vec<T, N>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        struct V<T, const N: usize>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for V<T, N> {
            type Value = Vec<T, N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while !out.is_full() {
                    match seq.next_element::<T>()? {
                        Some(item) => {
                            let _ = out.push(item);
                        }
                        None => return Ok(out),
                    }
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(out)
            }
        }
        d.deserialize_seq(V::<T, N>(PhantomData))
    }

    /// [`capped_vec`] for an optional list.
    pub(crate) fn capped_vec_opt<'de, D, T, const N: usize>(
        d: D,
    ) -> Result<Option<Vec<T, N>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        struct V<T, const N: usize>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for V<T, N> {
            type Value = Option<Vec<T, N>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array or null")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                capped_vec(d).map(Some)
            }
        }
        d.deserialize_option(V::<T, N>(PhantomData))
    }

    /// `deserialize_with` for an optional reference that is echoed back
    /// (a `basketRef`): kept whole when it fits, skipped (`None`) when it
    /// does not — a cut reference would be a wrong one.
    pub(crate) fn short_text<'de, D, const N: usize>(d: D) -> Result<Option<String<N>>, D::Error>
    where
        D: Deserializer<'de>,
    {
        struct V<const N: usize>;
        impl<'de, const N: usize> Visitor<'de> for V<N> {
            type Value = Option<String<N>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match truncate_text::<N>(v) {
                    (text, false) => Ok(Some(text)),
                    (_, true) => Ok(None),
                }
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_str(self)
            }
        }
        d.deserialize_option(V::<N>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heapless::String;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Note {
        text: String<32>,
        #[serde(default)]
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
        // serde-json-core skips an ignored scalar up to the next `,`, `}` or
        // `]`, quotes included: each body below would reach its recursion
        // with the brackets uncounted by a plain quote tracker.
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
        assert_eq!(
            decode::<Note>(&body),
            Err(DecodeError::TooDeep { max: MAX_DEPTH })
        );
        // Brackets inside strings do not count.
        let ok: Note = decode(br#"{"text":"[[[[[[[[[[[[[[[[[[[[[["}"#).unwrap();
        assert_eq!(ok.text.len(), 22);
    }

    #[test]
    fn refuses_large_bodies() {
        let body = std::vec![b' '; MAX_BODY_LEN + 1];
        assert_eq!(
            decode::<Note>(&body),
            Err(DecodeError::TooLarge {
                len: MAX_BODY_LEN + 1,
                max: MAX_BODY_LEN
            })
        );
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
        #[derive(serde::Serialize)]
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
