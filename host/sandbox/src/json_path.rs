//! A small validator over `serde_json::Value` that names failures by JSON
//! path, the way Electrum's test server does (`"originator.merchant.
//! merchantName.city may not be null"`). Working on `Value` instead of typed
//! structs keeps the path of every wrong type or missing field exact.

use serde_json::{Map, Value};

/// Collects format errors while walking a document.
#[derive(Debug, Default)]
pub struct Check {
    errors: Vec<String>,
}

/// `parent.field`, or `field` at the top level: how paths are named.
pub fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

impl Check {
    /// A fresh check.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one error.
    pub fn fail(&mut self, msg: impl Into<String>) {
        self.errors.push(msg.into());
    }

    /// The errors found, if any.
    pub fn finish(self) -> Result<(), Vec<String>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }

    fn field<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        parent: &str,
        field: &str,
        required: bool,
    ) -> Option<&'v Value> {
        match obj.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.fail(format!("{} may not be null", join(parent, field)));
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    /// An object member that must (or may) be an object.
    pub fn object<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        parent: &str,
        field: &str,
        required: bool,
    ) -> Option<&'v Map<String, Value>> {
        let v = self.field(obj, parent, field, required)?;
        match v.as_object() {
            Some(o) => Some(o),
            None => {
                self.fail(format!("{} must be an object", join(parent, field)));
                None
            }
        }
    }

    /// An object member that must (or may) be an array.
    pub fn array<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        parent: &str,
        field: &str,
        required: bool,
    ) -> Option<&'v Vec<Value>> {
        let v = self.field(obj, parent, field, required)?;
        match v.as_array() {
            Some(a) => Some(a),
            None => {
                self.fail(format!("{} must be an array", join(parent, field)));
                None
            }
        }
    }

    /// An object member that must (or may) be a string, with a size range.
    pub fn string<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        parent: &str,
        field: &str,
        required: bool,
        size: Option<(usize, usize)>,
    ) -> Option<&'v str> {
        let v = self.field(obj, parent, field, required)?;
        let Some(s) = v.as_str() else {
            self.fail(format!("{} must be a string", join(parent, field)));
            return None;
        };
        if let Some((min, max)) = size {
            let n = s.chars().count();
            if n < min || n > max {
                self.fail(format!(
                    "{} size must be between {min} and {max}",
                    join(parent, field)
                ));
            }
        }
        Some(s)
    }

    /// A string member that must match `ok`; `pattern` is quoted in the error.
    pub fn pattern(
        &mut self,
        value: Option<&str>,
        parent: &str,
        field: &str,
        pattern: &str,
        ok: impl Fn(&str) -> bool,
    ) {
        if let Some(s) = value {
            if !ok(s) {
                self.fail(format!("{} must match \"{pattern}\"", join(parent, field)));
            }
        }
    }

    /// An object member that must (or may) be an integer.
    pub fn integer(
        &mut self,
        obj: &Map<String, Value>,
        parent: &str,
        field: &str,
        required: bool,
    ) -> Option<i64> {
        let v = self.field(obj, parent, field, required)?;
        match v.as_i64() {
            Some(n) => Some(n),
            None => {
                self.fail(format!("{} must be an integer", join(parent, field)));
                None
            }
        }
    }

    /// A string member that must be one of `allowed`.
    pub fn one_of(&mut self, value: Option<&str>, parent: &str, field: &str, allowed: &[&str]) {
        if let Some(s) = value {
            if !allowed.contains(&s) {
                self.fail(format!(
                    "{} must be one of [{}]",
                    join(parent, field),
                    allowed.join(", ")
                ));
            }
        }
    }
}

/// `[0-9]{n}` exactly.
pub fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// `^\+?[1-9]\d{1,14}$` (ITU E.164).
pub fn is_msisdn(s: &str) -> bool {
    let s = s.strip_prefix('+').unwrap_or(s);
    let b = s.as_bytes();
    (2..=15).contains(&b.len())
        && b.first().is_some_and(|c| (b'1'..=b'9').contains(c))
        && b.iter().all(u8::is_ascii_digit)
}

/// The canonical 8-4-4-4-12 hexadecimal UUID form.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// `[0-9A-Za-z]{min,max}`.
pub fn alnum(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns() {
        assert!(is_msisdn("27749670999") && is_msisdn("+27749670999"));
        assert!(!is_msisdn("01821234567") && !is_msisdn("2") && !is_msisdn("27a"));
        assert!(is_uuid("e0059f9a-5792-f6cb-62a1-abe1b1918541"));
        assert!(!is_uuid("e0059f9a5792f6cb62a1abe1b1918541"));
        assert!(alnum("productId123", 1, 20) && !alnum("bad id", 1, 20));
    }

    #[test]
    fn errors_name_the_path() {
        let root = json!({ "a": { "b": 5 } });
        let root = root.as_object().unwrap();
        let mut c = Check::new();
        let a = c.object(root, "", "a", true).unwrap();
        c.string(a, "a", "b", true, None);
        c.string(a, "a", "c", true, None);
        c.object(root, "", "d", false);
        assert_eq!(
            c.finish().unwrap_err(),
            ["a.b must be a string", "a.c may not be null"]
        );
    }
}
