//! What `till` prints: a human table by default, JSON with `--json`.
//!
//! A provider's answer is first written as JSON by till-core's own encoder
//! (the wire types are the only description of an answer), then either
//! printed as is or flattened into a two-column table: one row per value,
//! named by its path (`amount_due.amount.value  395.50`).

use serde_json::Value;

/// The exit codes of `till` (also in `till --help` and the README).
pub mod exit {
    /// The operation succeeded; for a sale: the customer was charged.
    pub const OK: u8 = 0;
    /// Refused or unreachable; for a sale: the customer was NOT charged.
    pub const NOT_CHARGED: u8 = 1;
    /// A usage, configuration or local error: nothing was sent.
    pub const USAGE: u8 = 2;
    /// A sale whose outcome is not final: the outbox settles it, keep the
    /// tender until then.
    pub const PENDING: u8 = 3;
}

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Printer {
    /// JSON on stdout instead of tables and slips.
    pub json: bool,
}

impl Printer {
    /// Print `value`: as JSON, or as a table of its leaves.
    pub fn value(&self, value: &Value) {
        if self.json {
            say!("{value:#}");
        } else {
            for line in table(value) {
                say!("{line}");
            }
        }
    }
}

/// The rows of `value`'s table: each leaf by its path, the paths padded
/// to one column.
pub fn table(value: &Value) -> Vec<String> {
    let mut rows = Vec::new();
    flatten(value, String::new(), &mut rows);
    let width = rows.iter().map(|(path, _)| path.len()).max().unwrap_or(0);
    rows.into_iter()
        .map(|(path, leaf)| format!("{path:width$}  {leaf}"))
        .collect()
}

fn flatten(value: &Value, path: String, rows: &mut Vec<(String, String)>) {
    match value {
        Value::Object(members) if !members.is_empty() => {
            for (name, member) in members {
                let child = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                flatten(member, child, rows);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                flatten(item, format!("{path}[{i}]"), rows);
            }
        }
        Value::String(text) => rows.push((path, text.clone())),
        other => rows.push((path, other.to_string())),
    }
}

/// `value` as a JSON value, through till-core's encoder.
pub fn encoded<T: till_core::json::Encode + ?Sized>(value: &T) -> Result<Value, String> {
    let mut buf = vec![0u8; till_core::json::MAX_BODY_LEN];
    let len = till_core::json::encode(value, &mut buf).map_err(|e| e.to_string())?;
    serde_json::from_slice(&buf[..len]).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_names_every_leaf_by_its_path() {
        let value = serde_json::json!({
            "id": "t1",
            "amount": {"value": "395.50", "currency": "ZAR"},
            "items": [{"id": "b1"}, {"id": "b2"}],
            "complete": true,
            "empty": {},
        });
        assert_eq!(
            table(&value),
            [
                "amount.currency  ZAR",
                "amount.value     395.50",
                "complete         true",
                "empty            {}",
                "id               t1",
                "items[0].id      b1",
                "items[1].id      b2",
            ]
        );
    }
}
