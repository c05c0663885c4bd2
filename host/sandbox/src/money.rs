//! Money as integer minor units. Conductor and MoMo carry decimal strings
//! (`"395.50"`, `"20"`); Electrum carries minor units already. No floats.

/// Parses a non-negative decimal string with at most `max_fraction` fraction
/// digits into minor units with `exponent` digits (2 for ZAR, NGN, EUR…).
///
/// Returns `None` for anything else: signs, exponents, spaces, empty parts,
/// too many fraction digits, overflow.
pub fn parse_decimal(s: &str, exponent: u32) -> Option<i64> {
    let (int_part, frac_part) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: i64 = 0;
    for b in int_part.bytes() {
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    let mut frac_digits = 0u32;
    if let Some(f) = frac_part {
        if f.is_empty() || f.len() > exponent as usize || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        for b in f.bytes() {
            value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
            frac_digits += 1;
        }
    }
    for _ in frac_digits..exponent {
        value = value.checked_mul(10)?;
    }
    Some(value)
}

/// Formats minor units as a decimal string with `exponent` fraction digits.
pub fn format_minor(minor: i64, exponent: u32) -> String {
    if exponent == 0 {
        return minor.to_string();
    }
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let div = 10u64.pow(exponent);
    format!(
        "{sign}{}.{:0width$}",
        abs / div,
        abs % div,
        width = exponent as usize
    )
}

/// True for an ISO 4217 alphabetic code shape (three upper-case letters).
pub fn is_alpha_currency(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// Fraction digits of the alphabetic currencies the sandbox knows; others
/// are treated as two.
pub fn exponent_of(currency: &str) -> u32 {
    match currency {
        "UGX" | "XOF" | "XAF" | "GNF" | "RWF" | "JPY" => 0,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_strings() {
        assert_eq!(parse_decimal("395.50", 2), Some(39550));
        assert_eq!(parse_decimal("20", 2), Some(2000));
        assert_eq!(parse_decimal("0.5", 2), Some(50));
        assert_eq!(parse_decimal("1900", 0), Some(1900));
        for bad in [
            "",
            "-1",
            "+1",
            "1.",
            ".5",
            "1.234",
            "1e3",
            " 1",
            "abc",
            "99999999999999999999",
        ] {
            assert_eq!(parse_decimal(bad, 2), None, "{bad}");
        }
    }

    #[test]
    fn formats_minor_units() {
        assert_eq!(format_minor(39550, 2), "395.50");
        assert_eq!(format_minor(5, 2), "0.05");
        assert_eq!(format_minor(-120, 2), "-1.20");
        assert_eq!(format_minor(1900, 0), "1900");
    }
}
