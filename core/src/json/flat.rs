//! Any JSON answer as lines of `path: value`, for a console: what an
//! operator reads of an answer that has no slip (an enquiry, a catalogue,
//! a lookup, a status). One decoder for every such answer, so each console
//! command costs the board its request, not a reader and a printer of its
//! own.
//!
//! Personal and secret values are masked by their member's name: an MSISDN,
//! an account, card, customer, party or external number, a phone number
//! or an e-mail address shows its last four
//! characters at most; a PIN, token, key, secret or password shows none.

use core::fmt::Write as _;

use heapless::String;

use super::{Decode, DecodeError, Kind, Reader};
use crate::fmt::{write_masked, AccountMask, PinMask};

/// The text kept: a console answer holds 2 KiB (`ANSWER_CAP` in the
/// firmware), and the command's own lines come around it.
pub const FLAT_CAP: usize = 1536;
/// Longest path kept (`items[3].billers[0].name`); a deeper one is cut,
/// which shows as a shortened path, never a lost value.
pub const FLAT_PATH_CAP: usize = 80;
/// Longest member name read as a name; a longer one shows as `?`.
pub const FLAT_KEY_CAP: usize = 40;

/// Member names (ASCII, any case) whose values are personal: the last
/// four characters show at most.
const PERSONAL: &[&str] = &[
    "msisdn",
    "account",
    "card",
    "customer",
    "identifier",
    "party",
    "number",
    "payer",
    "payee",
    "external",
    "phone",
    "email",
];
/// Member names whose values are secret: nothing shows.
const SECRET: &[&str] = &["pin", "token", "key", "secret", "password"];

/// A JSON value as `path: value` lines (a top-level scalar has the path
/// `.`). When the lines do not fit [`FLAT_CAP`], those that fit are kept
/// and `cut` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flat {
    /// The lines, each ending in `\n`.
    pub text: String<FLAT_CAP>,
    /// Lines were left out for want of room.
    pub cut: bool,
}

impl Decode for Flat {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut flat = Self::placeholder();
        Self::decode_in(r, &mut flat)?;
        Ok(flat)
    }

    fn decode_in(r: &mut Reader<'_>, place: &mut Self) -> Result<(), DecodeError> {
        place.text.clear();
        place.cut = false;
        let mut path = String::new();
        place.value(r, &mut path, Shown::Plain)
    }

    fn placeholder() -> Self {
        Self {
            text: String::new(),
            cut: false,
        }
    }
}

/// How a member's value may be shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shown {
    Plain,
    Personal,
    Secret,
}

fn contains_ascii(name: &str, part: &str) -> bool {
    name.as_bytes()
        .windows(part.len())
        .any(|w| w.eq_ignore_ascii_case(part.as_bytes()))
}

impl Shown {
    /// A member's: its parent's, or stricter by its own name.
    fn of(name: &str, parent: Self) -> Self {
        if parent == Self::Secret || SECRET.iter().any(|s| contains_ascii(name, s)) {
            Self::Secret
        } else if parent == Self::Personal || PERSONAL.iter().any(|s| contains_ascii(name, s)) {
            Self::Personal
        } else {
            Self::Plain
        }
    }
}

impl Flat {
    fn value(
        &mut self,
        r: &mut Reader<'_>,
        path: &mut String<FLAT_PATH_CAP>,
        shown: Shown,
    ) -> Result<(), DecodeError> {
        let len = path.len();
        match r.peek()? {
            Kind::Object => {
                let mut key = [0u8; FLAT_KEY_CAP];
                r.members(&mut key, &mut |r, name| {
                    let name = name.unwrap_or("?");
                    if len > 0 {
                        let _ = path.push('.');
                    }
                    let _ = path.push_str(name);
                    let read = self.value(r, path, Shown::of(name, shown));
                    path.truncate(len);
                    read
                })
            }
            Kind::Array => {
                let mut index = 0u32;
                r.array(&mut |r| {
                    let _ = write!(path, "[{index}]");
                    index += 1;
                    let read = self.value(r, path, shown);
                    path.truncate(len);
                    read
                })
            }
            Kind::String => {
                let text = r.str()?;
                self.line(path, text, shown);
                Ok(())
            }
            Kind::Number => {
                let number = r.number()?;
                self.line(path, number, shown);
                Ok(())
            }
            Kind::Bool => {
                let value = if r.bool()? { "true" } else { "false" };
                self.line(path, value, Shown::Plain);
                Ok(())
            }
            Kind::Null => {
                r.null()?;
                self.line(path, "null", Shown::Plain);
                Ok(())
            }
        }
    }

    fn line(&mut self, path: &str, value: &str, shown: Shown) {
        if self.cut {
            return;
        }
        let before = self.text.len();
        let path = if path.is_empty() { "." } else { path };
        let written = (|| {
            write!(self.text, "{path}: ")?;
            match shown {
                Shown::Plain => self.text.write_str(value)?,
                Shown::Personal => write_masked::<AccountMask>(value, &mut self.text)?,
                Shown::Secret => write_masked::<PinMask>(value, &mut self.text)?,
            }
            self.text.write_char('\n')
        })();
        if written.is_err() {
            // Whole lines only: the one that did not fit goes.
            self.text.truncate(before);
            self.cut = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use std::format;

    #[test]
    fn an_answer_reads_as_paths_and_values() {
        let flat: Flat = json::decode(
            br#"{"status":{"code":"SUCCESS"},"items":[{"amount_due":"150.00","paid":false},{"note":null}],"count":2}"#,
        )
        .unwrap();
        assert_eq!(
            flat.text.as_str(),
            "status.code: SUCCESS\nitems[0].amount_due: 150.00\nitems[0].paid: false\n\
             items[1].note: null\ncount: 2\n"
        );
        assert!(!flat.cut);
        let scalar: Flat = json::decode(br#""up""#).unwrap();
        assert_eq!(scalar.text.as_str(), ".: up\n");
    }

    #[test]
    fn personal_and_secret_values_are_masked_by_name() {
        let flat: Flat = json::decode(
            br#"{"msisdn":{"msisdn":"27821234567","country":"ZA"},"customer_number":"8604275423086",
                "voucher":{"pin":"1234567890","serialNumber":"SN123456"},"access_token":"eyJhbGciOi"}"#,
        )
        .unwrap();
        let text = flat.text.as_str();
        assert!(text.contains("msisdn.msisdn: *******4567\n"), "{text}");
        // Below a personal member, everything is personal.
        assert!(text.contains("msisdn.country: **\n"), "{text}");
        assert!(text.contains("customer_number: *********3086\n"), "{text}");
        assert!(text.contains("voucher.pin: **********\n"), "{text}");
        assert!(text.contains("voucher.serialNumber: ****3456\n"), "{text}");
        assert!(text.contains("access_token: **********\n"), "{text}");
        for secret in ["27821234567", "8604275423086", "1234567890", "eyJhbGciOi"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn what_does_not_fit_is_cut_at_a_line_and_marked() {
        let mut body = std::string::String::from("[");
        for i in 0..200 {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&format!("{{\"name\":\"product number {i}\"}}"));
        }
        body.push(']');
        let flat: Flat = json::decode(body.as_bytes()).unwrap();
        assert!(flat.cut);
        assert!(flat.text.len() <= FLAT_CAP);
        assert!(flat.text.ends_with('\n'));
        assert!(flat.text.starts_with("[0].name: product number 0\n"));
    }

    #[test]
    fn a_body_that_is_not_json_is_an_error_not_lines() {
        assert!(json::decode::<Flat>(b"<html>").is_err());
        assert!(json::decode::<Flat>(br#"{"a":1"#).is_err());
    }
}
