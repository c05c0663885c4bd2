//! Money: integer minor units with an ISO 4217 currency. No floats.
//!
//! Three representations meet here:
//!
//! - [`Amount`]: what the terminal computes with — minor units (`u64`) and a
//!   [`Currency`]. Amounts on these APIs are never negative.
//! - [`Decimal`]: the decimal strings of Conductor and MoMo (`"395.50"`,
//!   `"20"`, `"1200.00"`), kept exactly as written (value and number of
//!   fraction digits) so a decoded message re-encodes to the same text.
//! - Electrum's minor units with a numeric currency code
//!   (`"amount": 5000, "currency": "710"`): [`NumericCode`] and
//!   [`Amount::from_minor_numeric`].
//!
//! Conversion between them is exact or a typed [`MoneyError`].

use core::fmt;

use core::str::FromStr;
use heapless::String;

use crate::json::{Decode, DecodeError, Encode, EncodeError, Reader, Writer};

/// Why an amount could not be read or converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MoneyError {
    /// The amount is negative; amounts on these APIs never are.
    Negative,
    /// Not a decimal number (empty, letters, a sign, several points, …).
    NonNumeric,
    /// More fraction digits than the currency's minor unit allows.
    TooManyDecimals {
        /// Fraction digits the currency allows.
        allowed: u8,
    },
    /// The value does not fit the integer type used for minor units.
    Overflow,
    /// Not an ISO 4217 currency this terminal knows.
    UnknownCurrency,
    /// Two amounts in different currencies were combined.
    CurrencyMismatch,
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Negative => f.write_str("amount is negative"),
            Self::NonNumeric => f.write_str("amount is not a decimal number"),
            Self::TooManyDecimals { allowed } => {
                write!(f, "amount has more than {allowed} decimal places")
            }
            Self::Overflow => f.write_str("amount is too large"),
            Self::UnknownCurrency => f.write_str("unknown ISO 4217 currency"),
            Self::CurrencyMismatch => f.write_str("amounts are in different currencies"),
        }
    }
}

impl core::error::Error for MoneyError {}

macro_rules! currencies {
    ($( $(#[$doc:meta])* $alpha:ident = $numeric:literal, $exp:literal; )*) => {
        /// An ISO 4217 currency: alphabetic code, numeric code and the
        /// exponent of its minor unit.
        ///
        /// Covers every currency in circulation in Africa, plus USD, EUR,
        /// GBP, CNY, INR and JPY (JPY appears in Electrum's samples).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[allow(clippy::upper_case_acronyms)]
        pub enum Currency {
            $( $(#[$doc])* $alpha, )*
        }

        impl Currency {
            /// Every known currency, in declaration order.
            pub const ALL: &'static [Currency] = &[$(Currency::$alpha),*];

            /// The alphabetic code, e.g. `"ZAR"`.
            pub const fn alpha(self) -> &'static str {
                match self { $( Currency::$alpha => stringify!($alpha), )* }
            }

            /// The numeric code, e.g. `710` for ZAR.
            pub const fn numeric(self) -> u16 {
                match self { $( Currency::$alpha => $numeric, )* }
            }

            /// Digits after the decimal point in the minor unit (2 for ZAR,
            /// 0 for UGX, 3 for TND).
            pub const fn exponent(self) -> u8 {
                match self { $( Currency::$alpha => $exp, )* }
            }

            /// Look up an alphabetic code (exact, upper case).
            pub fn from_alpha(code: &str) -> Result<Self, MoneyError> {
                // One search of the table, not a comparison per code.
                Self::ALL
                    .iter()
                    .find(|c| c.alpha() == code)
                    .copied()
                    .ok_or(MoneyError::UnknownCurrency)
            }

            /// Look up a numeric code.
            pub fn from_numeric(code: u16) -> Result<Self, MoneyError> {
                match code {
                    $( $numeric => Ok(Currency::$alpha), )*
                    _ => Err(MoneyError::UnknownCurrency),
                }
            }
        }
    };
}

currencies! {
    /// Algerian dinar
    DZD = 12, 2;
    /// Angolan kwanza
    AOA = 973, 2;
    /// Botswana pula
    BWP = 72, 2;
    /// Burundian franc
    BIF = 108, 0;
    /// Cape Verdean escudo
    CVE = 132, 2;
    /// Central African CFA franc
    XAF = 950, 0;
    /// Comorian franc
    KMF = 174, 0;
    /// Congolese franc
    CDF = 976, 2;
    /// Djiboutian franc
    DJF = 262, 0;
    /// Egyptian pound
    EGP = 818, 2;
    /// Eritrean nakfa
    ERN = 232, 2;
    /// Swazi lilangeni
    SZL = 748, 2;
    /// Ethiopian birr
    ETB = 230, 2;
    /// Gambian dalasi
    GMD = 270, 2;
    /// Ghanaian cedi
    GHS = 936, 2;
    /// Guinean franc
    GNF = 324, 0;
    /// Kenyan shilling
    KES = 404, 2;
    /// Lesotho loti
    LSL = 426, 2;
    /// Liberian dollar
    LRD = 430, 2;
    /// Libyan dinar
    LYD = 434, 3;
    /// Malagasy ariary (ISO 4217 lists exponent 2)
    MGA = 969, 2;
    /// Malawian kwacha
    MWK = 454, 2;
    /// Mauritanian ouguiya
    MRU = 929, 2;
    /// Mauritian rupee
    MUR = 480, 2;
    /// Moroccan dirham
    MAD = 504, 2;
    /// Mozambican metical
    MZN = 943, 2;
    /// Namibian dollar
    NAD = 516, 2;
    /// Nigerian naira
    NGN = 566, 2;
    /// Rwandan franc
    RWF = 646, 0;
    /// Saint Helena pound
    SHP = 654, 2;
    /// São Tomé and Príncipe dobra
    STN = 930, 2;
    /// Seychellois rupee
    SCR = 690, 2;
    /// Sierra Leonean leone
    SLE = 925, 2;
    /// Sierra Leonean leone (old, still quoted by some providers)
    SLL = 694, 2;
    /// Somali shilling
    SOS = 706, 2;
    /// South African rand
    ZAR = 710, 2;
    /// South Sudanese pound
    SSP = 728, 2;
    /// Sudanese pound
    SDG = 938, 2;
    /// Tanzanian shilling
    TZS = 834, 2;
    /// Tunisian dinar
    TND = 788, 3;
    /// Ugandan shilling
    UGX = 800, 0;
    /// West African CFA franc
    XOF = 952, 0;
    /// Zambian kwacha
    ZMW = 967, 2;
    /// Zimbabwe gold
    ZWG = 924, 2;
    /// Zimbabwean dollar (withdrawn 2024, still seen in old records)
    ZWL = 932, 2;
    /// United States dollar
    USD = 840, 2;
    /// Euro
    EUR = 978, 2;
    /// Pound sterling
    GBP = 826, 2;
    /// Chinese yuan
    CNY = 156, 2;
    /// Indian rupee
    INR = 356, 2;
    /// Japanese yen
    JPY = 392, 0;
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.alpha())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        Self::from_alpha(s)
    }
}

/// `10^exp` for the exponents in the currency table.
const fn pow10(exp: u8) -> u64 {
    let mut value = 1u64;
    let mut i = 0;
    while i < exp {
        value *= 10;
        i += 1;
    }
    value
}

/// An amount of money: non-negative minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Amount {
    minor: u64,
    currency: Currency,
}

impl Amount {
    /// An amount from minor units (cents for ZAR).
    pub const fn from_minor(minor: u64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Self {
        Self::from_minor(0, currency)
    }

    /// Minor units.
    pub const fn minor(self) -> u64 {
        self.minor
    }

    /// The currency.
    pub const fn currency(self) -> Currency {
        self.currency
    }

    /// Parse a decimal string such as `"395.50"` in `currency`.
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        Self::from_decimal(Decimal::parse(text)?, currency)
    }

    /// Exact conversion from a decimal value; fails if it has more fraction
    /// digits than the currency allows.
    pub fn from_decimal(value: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let exp = currency.exponent();
        if value.scale > exp {
            return Err(MoneyError::TooManyDecimals { allowed: exp });
        }
        let minor = value
            .digits
            .checked_mul(pow10(exp - value.scale))
            .ok_or(MoneyError::Overflow)?;
        Ok(Self { minor, currency })
    }

    /// The decimal form with exactly the currency's number of fraction
    /// digits (`"395.50"`, `"20.00"`, `"1000"` for UGX).
    pub const fn to_decimal(self) -> Decimal {
        Decimal {
            digits: self.minor,
            scale: self.currency.exponent(),
        }
    }

    /// Electrum's form: minor units and a numeric currency code.
    pub fn from_minor_numeric(minor: i64, currency: NumericCode) -> Result<Self, MoneyError> {
        let currency = Currency::from_numeric(currency.value())?;
        let minor = u64::try_from(minor).map_err(|_| MoneyError::Negative)?;
        Ok(Self { minor, currency })
    }

    /// Minor units as Electrum's signed integer; fails above `i64::MAX`.
    pub fn minor_i64(self) -> Result<i64, MoneyError> {
        i64::try_from(self.minor).map_err(|_| MoneyError::Overflow)
    }

    /// The numeric code of the currency, as Electrum writes it.
    pub fn numeric_code(self) -> NumericCode {
        NumericCode::from_currency(self.currency)
    }

    /// Sum of two amounts in the same currency.
    pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch);
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Self { minor, ..self })
    }

    /// `self * factor` (a quantity), or `Overflow`.
    pub fn checked_mul(self, factor: u64) -> Result<Self, MoneyError> {
        let minor = self.minor.checked_mul(factor).ok_or(MoneyError::Overflow)?;
        Ok(Self { minor, ..self })
    }
}

impl fmt::Display for Amount {
    /// `ZAR 395.50`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.currency, self.to_decimal())
    }
}

/// Most digits in a decimal amount string: `u64::MAX` has 20 digits, plus a
/// point. Longer input is [`MoneyError::Overflow`] without being read.
pub const DECIMAL_MAX_LEN: usize = 21;

/// The most fraction digits any decimal amount may carry. ISO 4217's largest
/// exponent is 4 (CLF, UYW); MoMo and Conductor never send more than 2.
pub const DECIMAL_MAX_SCALE: u8 = 4;

/// A non-negative decimal number as written on the wire: `digits` without
/// the point and `scale` fraction digits, so `"395.50"` is `39550` scale 2
/// and `"20"` is `20` scale 0.
///
/// Two decimals are equal only if they are written the same way; compare
/// amounts through [`Amount`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Decimal {
    digits: u64,
    scale: u8,
}

impl Decimal {
    /// A decimal from its unscaled digits and fraction digit count.
    pub fn new(digits: u64, scale: u8) -> Result<Self, MoneyError> {
        if scale > DECIMAL_MAX_SCALE {
            return Err(MoneyError::TooManyDecimals {
                allowed: DECIMAL_MAX_SCALE,
            });
        }
        Ok(Self { digits, scale })
    }

    /// The digits without the point.
    pub const fn digits(self) -> u64 {
        self.digits
    }

    /// Number of fraction digits as written.
    pub const fn scale(self) -> u8 {
        self.scale
    }

    /// Parse `"395.50"`, `"20"`, `"0.5"`. Rejected: empty, signs (a leading
    /// `-` is [`MoneyError::Negative`]), exponents, spaces, a point with no
    /// digit on either side, more than [`DECIMAL_MAX_SCALE`] fraction digits.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let bytes = text.as_bytes();
        if bytes.first() == Some(&b'-') {
            return Err(MoneyError::Negative);
        }
        if bytes.len() > DECIMAL_MAX_LEN {
            return if bytes.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
                Err(MoneyError::Overflow)
            } else {
                Err(MoneyError::NonNumeric)
            };
        }
        let (int_part, frac_part) = match text.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (text, None),
        };
        if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MoneyError::NonNumeric);
        }
        let frac = frac_part.unwrap_or("");
        if frac_part.is_some() && frac.is_empty() {
            return Err(MoneyError::NonNumeric);
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MoneyError::NonNumeric);
        }
        if frac.len() > usize::from(DECIMAL_MAX_SCALE) {
            return Err(MoneyError::TooManyDecimals {
                allowed: DECIMAL_MAX_SCALE,
            });
        }
        let mut digits: u64 = 0;
        for b in int_part.bytes().chain(frac.bytes()) {
            digits = digits
                .checked_mul(10)
                .and_then(|d| d.checked_add(u64::from(b - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        // frac.len() <= DECIMAL_MAX_SCALE, checked above.
        let scale = frac.len() as u8;
        Ok(Self { digits, scale })
    }
}

impl FromStr for Decimal {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        Self::parse(s)
    }
}

impl Decimal {
    /// The text as written on the wire (`"395.50"`), without `core::fmt`:
    /// what both `Display` and the JSON encoder write.
    pub fn to_text(&self) -> String<DECIMAL_TEXT_CAP> {
        // Digits from the last, with the point `scale` places in; at least
        // one digit before the point.
        let mut rev = [0u8; DECIMAL_TEXT_CAP];
        let mut n = 0usize;
        let mut v = self.digits;
        let scale = usize::from(self.scale);
        let min_len = if scale > 0 { scale + 2 } else { 1 };
        while n < rev.len() && (v > 0 || n < min_len) {
            if n == scale && scale > 0 {
                if let Some(slot) = rev.get_mut(n) {
                    *slot = b'.';
                }
                n += 1;
                continue;
            }
            if let Some(slot) = rev.get_mut(n) {
                *slot = b'0' + (v % 10) as u8;
            }
            v /= 10;
            n += 1;
        }
        let mut out = String::new();
        for &b in rev.get(..n).unwrap_or_default().iter().rev() {
            let _ = out.push(char::from(b));
        }
        out
    }
}

/// Longest decimal text: 20 digits of a `u64`, the point, one more.
pub const DECIMAL_TEXT_CAP: usize = 22;

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Encode for Decimal {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.str(&self.to_text())
    }
}

impl Decode for Decimal {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        crate::json::decode_from_str(r)
    }
    fn placeholder() -> Self {
        Self {
            digits: 0,
            scale: 0,
        }
    }
}

/// An ISO 4217 alphabetic code as written on the wire (three ASCII upper
/// case letters). Kept apart from [`Currency`] so a message in a currency
/// this terminal does not know still decodes; [`AlphaCode::currency`] then
/// says [`MoneyError::UnknownCurrency`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlphaCode([u8; 3]);

impl AlphaCode {
    /// Parse three upper case ASCII letters.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        match text.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(MoneyError::UnknownCurrency),
        }
    }

    /// The code of a known currency.
    pub fn from_currency(currency: Currency) -> Self {
        let mut code = [b'X'; 3];
        for (dst, src) in code.iter_mut().zip(currency.alpha().bytes()) {
            *dst = src;
        }
        Self(code)
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII upper case letters are ever stored.
        core::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// The currency, if this terminal knows it.
    pub fn currency(self) -> Result<Currency, MoneyError> {
        Currency::from_alpha(self.as_str())
    }
}

impl fmt::Debug for AlphaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for AlphaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for AlphaCode {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.as_str())
    }
}

impl FromStr for AlphaCode {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        Self::parse(s)
    }
}

impl From<Currency> for AlphaCode {
    fn from(c: Currency) -> Self {
        Self::from_currency(c)
    }
}

impl Encode for AlphaCode {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.display(self)
    }
}

impl Decode for AlphaCode {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        crate::json::decode_from_str(r)
    }
    fn placeholder() -> Self {
        Self(*b"XXX")
    }
}

/// An ISO 4217 numeric code as Electrum writes it: a string of exactly three
/// digits (`"710"`). `"ZAR"` is rejected, as Electrum's schema does.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NumericCode(u16);

impl NumericCode {
    /// Parse exactly three ASCII digits.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        match text.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_digit()) => Ok(Self(
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'),
            )),
            _ => Err(MoneyError::UnknownCurrency),
        }
    }

    /// The code of a known currency.
    pub const fn from_currency(currency: Currency) -> Self {
        Self(currency.numeric())
    }

    /// The numeric value (`710`).
    pub const fn value(self) -> u16 {
        self.0
    }

    /// The currency, if this terminal knows it.
    pub fn currency(self) -> Result<Currency, MoneyError> {
        Currency::from_numeric(self.0)
    }
}

impl fmt::Debug for NumericCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{:03}\"", self.0)
    }
}

impl fmt::Display for NumericCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for NumericCode {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=u16:03}", self.0)
    }
}

impl FromStr for NumericCode {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        Self::parse(s)
    }
}

impl From<Currency> for NumericCode {
    fn from(c: Currency) -> Self {
        Self::from_currency(c)
    }
}

impl Encode for NumericCode {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.display(self)
    }
}

impl Decode for NumericCode {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        crate::json::decode_from_str(r)
    }
    fn placeholder() -> Self {
        Self(0)
    }
}

/// The `{ "value": "395.50", "currency": "ZAR" }` object of Conductor, and
/// the `{ "amount": "100", "currency": "EUR" }` of MoMo share this pair.
impl Amount {
    /// The wire pair (decimal text, alphabetic code).
    pub fn to_wire(self) -> (Decimal, AlphaCode) {
        (self.to_decimal(), AlphaCode::from_currency(self.currency))
    }

    /// From the wire pair; the currency must be known and the decimals fit.
    pub fn from_wire(value: Decimal, currency: AlphaCode) -> Result<Self, MoneyError> {
        Self::from_decimal(value, currency.currency()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    #[test]
    fn parses_the_strings_conductor_and_momo_send() {
        let zar = Currency::ZAR;
        assert_eq!(Amount::parse_decimal("395.50", zar).unwrap().minor(), 39550);
        assert_eq!(Amount::parse_decimal("20", zar).unwrap().minor(), 2000);
        assert_eq!(
            Amount::parse_decimal("1200.00", zar).unwrap().minor(),
            120000
        );
        assert_eq!(Amount::parse_decimal("0.5", zar).unwrap().minor(), 50);
        assert_eq!(
            Amount::parse_decimal("1000", Currency::UGX)
                .unwrap()
                .minor(),
            1000
        );
        assert_eq!(
            Amount::parse_decimal("1.234", Currency::TND)
                .unwrap()
                .minor(),
            1234
        );
    }

    #[test]
    fn rejects_bad_amounts_with_typed_errors() {
        let zar = Currency::ZAR;
        assert_eq!(Amount::parse_decimal("-1", zar), Err(MoneyError::Negative));
        assert_eq!(
            Amount::parse_decimal("-0.01", zar),
            Err(MoneyError::Negative)
        );
        for bad in [
            "", "abc", "1,00", "1.2.3", ".5", "5.", "+5", " 5", "1e3", "٣",
        ] {
            assert_eq!(
                Amount::parse_decimal(bad, zar),
                Err(MoneyError::NonNumeric),
                "{bad:?}"
            );
        }
        assert_eq!(
            Amount::parse_decimal("1.005", zar),
            Err(MoneyError::TooManyDecimals { allowed: 2 })
        );
        assert_eq!(
            Amount::parse_decimal("100.00", Currency::UGX),
            Err(MoneyError::TooManyDecimals { allowed: 0 })
        );
        assert_eq!(
            Amount::parse_decimal("18446744073709551616", zar),
            Err(MoneyError::Overflow)
        );
        // Fits u64 as written, but not once scaled to cents.
        assert_eq!(
            Amount::parse_decimal("184467440737095517", zar),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Amount::parse_decimal("123456789012345678901234", zar),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Currency::from_alpha("ZZZ"),
            Err(MoneyError::UnknownCurrency)
        );
        assert_eq!(
            Currency::from_numeric(999),
            Err(MoneyError::UnknownCurrency)
        );
    }

    #[test]
    fn formats_with_the_currency_exponent() {
        let fmt = |m, c| Amount::from_minor(m, c).to_decimal().to_string();
        assert_eq!(fmt(39550, Currency::ZAR), "395.50");
        assert_eq!(fmt(2000, Currency::ZAR), "20.00");
        assert_eq!(fmt(5, Currency::ZAR), "0.05");
        assert_eq!(fmt(1000, Currency::UGX), "1000");
        assert_eq!(fmt(1, Currency::TND), "0.001");
        assert_eq!(
            Amount::from_minor(39550, Currency::ZAR).to_string(),
            "ZAR 395.50"
        );
    }

    #[test]
    fn decimal_keeps_the_written_form() {
        for text in [
            "20",
            "20.00",
            "395.50",
            "0.5",
            "0",
            "1900",
            "0.0005",
            "0.00",
            "18446744073709551615",
            "1844674407370955.1615",
        ] {
            assert_eq!(Decimal::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn electrum_minor_units_with_numeric_currency() {
        let a = Amount::from_minor_numeric(5000, NumericCode::parse("710").unwrap()).unwrap();
        assert_eq!(a, Amount::from_minor(5000, Currency::ZAR));
        assert_eq!(a.numeric_code().to_string(), "710");
        assert_eq!(a.to_decimal().to_string(), "50.00");
        // Conductor/MoMo → Electrum → Conductor is exact.
        let b = Amount::parse_decimal("50.00", Currency::ZAR).unwrap();
        assert_eq!(b.minor_i64().unwrap(), 5000);
        assert_eq!(
            Amount::from_minor_numeric(-1, NumericCode::from(Currency::ZAR)),
            Err(MoneyError::Negative)
        );
        assert_eq!(NumericCode::parse("ZAR"), Err(MoneyError::UnknownCurrency));
        assert_eq!(
            Amount::from_minor_numeric(1, NumericCode::parse("999").unwrap()),
            Err(MoneyError::UnknownCurrency)
        );
        assert_eq!(
            NumericCode::parse("072").unwrap().currency(),
            Ok(Currency::BWP)
        );
        assert_eq!(NumericCode::from(Currency::DZD).to_string(), "012");
    }

    #[test]
    fn currency_table_is_consistent() {
        for (i, c) in Currency::ALL.iter().enumerate() {
            assert_eq!(Currency::from_alpha(c.alpha()), Ok(*c));
            assert_eq!(Currency::from_numeric(c.numeric()), Ok(*c));
            assert!(c.exponent() <= DECIMAL_MAX_SCALE);
            for other in &Currency::ALL[i + 1..] {
                assert_ne!(c.numeric(), other.numeric(), "{c} and {other}");
            }
        }
        assert!(Currency::ALL.len() >= 50);
    }

    fn any_currency() -> impl Strategy<Value = Currency> {
        proptest::sample::select(Currency::ALL)
    }

    proptest! {
        #[test]
        fn amount_format_parse_round_trip(minor in any::<u64>(), currency in any_currency()) {
            let a = Amount::from_minor(minor, currency);
            let text = a.to_decimal().to_string();
            prop_assert_eq!(Amount::parse_decimal(&text, currency), Ok(a));
        }

        #[test]
        fn decimal_parse_format_round_trip(int in 0u64..1_000_000_000_000, frac in proptest::option::of("[0-9]{1,4}")) {
            let text = match &frac {
                Some(f) => std::format!("{int}.{f}"),
                None => int.to_string(),
            };
            let d = Decimal::parse(&text).unwrap();
            prop_assert_eq!(d.to_string(), text);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = Amount::parse_decimal(&text, Currency::ZAR);
        }

        #[test]
        fn electrum_and_decimal_agree(minor in 0i64..i64::MAX, currency in any_currency()) {
            let a = Amount::from_minor_numeric(minor, NumericCode::from(currency)).unwrap();
            let back = Amount::from_wire(a.to_decimal(), AlphaCode::from(currency)).unwrap();
            prop_assert_eq!(back.minor_i64(), Ok(minor));
        }
    }
}
