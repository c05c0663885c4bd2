//! Provider codes: string enums that never fail on a value we have not seen.
//!
//! [`code_enum!`](crate::code_enum) declares an enum of the documented
//! codes plus `Unknown(String<N>)`, which keeps the text of any other code
//! (truncated to `N` bytes) so it can be logged and shown. Serialization
//! writes the code back exactly; decoding never fails on an unknown code.

/// Declare a string code enum with an `Unknown` catch-all.
///
/// ```ignore
/// code_enum! {
///     /// Doc for the enum.
///     pub enum TenderType(UNKNOWN_CAP) {
///         /// Doc for the variant.
///         Cash = "CASH",
///         Other = "OTHER",
///     }
/// }
/// ```
#[macro_export]
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident($cap:expr) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A code not in the documents, kept as received (truncated to
            /// the capacity).
            Unknown(::heapless::String<{ $cap }>),
        }

        impl $name {
            /// Every documented code.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),*];

            /// The documented codes' texts, in the order of [`Self::KNOWN`].
            const TEXTS: &'static [&'static str] = &[$($text),*];

            /// The code as written on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Unknown(text) => text.as_str(),
                }
            }

            /// Read a code; anything undocumented becomes `Unknown`.
            pub fn from_code(code: &str) -> Self {
                // One search of a table, not a comparison per code.
                // (The index is matched, not looked up in `KNOWN`: that
                // table would hold a whole `Unknown`-sized value per code.)
                if let Some(index) = $crate::code::position(Self::TEXTS, code) {
                    let mut _i = 0usize;
                    $(
                        if _i == index {
                            return $name::$variant;
                        }
                        _i += 1;
                    )*
                }
                let mut text = ::heapless::String::new();
                $crate::code::truncate_into(text.as_mut_view(), code);
                $name::Unknown(text)
            }

            /// Whether this is a documented code.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[cfg(feature = "defmt")]
        impl ::defmt::Format for $name {
            fn format(&self, f: ::defmt::Formatter<'_>) {
                ::defmt::write!(f, "{=str}", self.as_str())
            }
        }

        impl $crate::json::Encode for $name {
            fn encode(&self, w: &mut $crate::json::Writer<'_>) -> Result<(), $crate::json::EncodeError> {
                w.str(self.as_str())
            }
        }

        impl $crate::json::Decode for $name {
            fn decode(r: &mut $crate::json::Reader<'_>) -> Result<Self, $crate::json::DecodeError> {
                Ok($name::from_code(r.str()?))
            }
            fn placeholder() -> Self {
                $name::Unknown(::core::default::Default::default())
            }
        }
    };
}

/// Where `code` is in `texts`: the one lookup behind every code enum.
#[doc(hidden)]
#[inline(never)]
pub fn position(texts: &[&str], code: &str) -> Option<usize> {
    texts.iter().position(|t| *t == code)
}

/// Append as much of `text` as fits `out`, cut at a character boundary;
/// whether anything was cut.
#[doc(hidden)]
#[inline(never)]
pub fn truncate_into(out: &mut heapless::string::StringView, text: &str) -> bool {
    for c in text.chars() {
        if out.push(c).is_err() {
            return true;
        }
    }
    false
}

/// Capacity of the text kept for an unknown code: the longest documented
/// code (`MORE_THAN_ONE_FINANCIAL_SCOPE_NOT_SUPPORTED`, 43 bytes) rounded up.
pub const UNKNOWN_CODE_CAP: usize = 48;

#[cfg(test)]
mod tests {
    use heapless::String;

    crate::code_enum! {
        /// Test codes.
        pub enum Fruit(8) {
            /// An apple.
            Apple = "APPLE",
            /// A pear.
            Pear = "PEAR",
        }
    }

    #[test]
    fn known_and_unknown_codes_round_trip() {
        let f: Fruit = crate::json::decode(br#""PEAR""#).unwrap();
        assert_eq!(f, Fruit::Pear);
        let f: Fruit = crate::json::decode(br#""DRAGONFRUIT""#).unwrap();
        assert_eq!(f, Fruit::Unknown(String::try_from("DRAGONFR").unwrap()));
        assert!(!f.is_known());
        let f: Fruit = crate::json::decode(br#""kiwi""#).unwrap();
        let mut buf = [0u8; 16];
        let n = crate::json::encode(&f, &mut buf).unwrap();
        assert_eq!(&buf[..n], br#""kiwi""#);
        assert_eq!(Fruit::KNOWN.len(), 2);
    }
}
