//! The writer: JSON text into the caller's buffer, one token at a time.
//!
//! Like [`super::Reader`], every encoder of the core writes through these
//! few non-generic methods; commas are placed by the writer, so an
//! encoder only says what comes next.

use core::fmt;

use super::EncodeError;

/// A writer into a fixed buffer. A value that does not fit is
/// [`EncodeError::BufferTooSmall`]; what was written before stays valid
/// bytes but not a whole document.
pub struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
    /// A value was just completed: the next key or element needs a comma.
    comma: bool,
}

impl<'b> Writer<'b> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self {
            buf,
            len: 0,
            comma: false,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let capacity = self.buf.len();
        let dst = self
            .buf
            .get_mut(self.len..self.len + bytes.len())
            .ok_or(EncodeError::BufferTooSmall { capacity })?;
        dst.copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(())
    }

    /// Before a value or key: the comma that separates it from the last.
    fn separate(&mut self) -> Result<(), EncodeError> {
        if self.comma {
            self.raw(b",")?;
        }
        Ok(())
    }

    /// `{`
    pub fn begin_object(&mut self) -> Result<(), EncodeError> {
        self.separate()?;
        self.comma = false;
        self.raw(b"{")
    }

    /// An object key; its value comes next.
    pub fn key(&mut self, key: &str) -> Result<(), EncodeError> {
        self.separate()?;
        self.quoted(key)?;
        self.comma = false;
        self.raw(b":")
    }

    /// An object key from `#[derive(Encode)]`, which checks that the name
    /// needs no escape: copied between its quotes as it is. (The bare
    /// name, not a `"name":` literal: the decoder's table holds the same
    /// text, so the image keeps each name once.)
    pub fn member(&mut self, name: &'static str) -> Result<(), EncodeError> {
        self.separate()?;
        self.comma = false;
        // One bounds check for the quotes, the name and the colon.
        let capacity = self.buf.len();
        let end = self.len + name.len() + 3;
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(EncodeError::BufferTooSmall { capacity })?;
        if let Some((open, rest)) = dst.split_first_mut() {
            *open = b'"';
            let (text, close) = rest.split_at_mut(name.len());
            text.copy_from_slice(name.as_bytes());
            close.copy_from_slice(b"\":");
        }
        self.len = end;
        Ok(())
    }

    /// `}`
    pub fn end_object(&mut self) -> Result<(), EncodeError> {
        self.comma = true;
        self.raw(b"}")
    }

    /// `[`
    pub fn begin_array(&mut self) -> Result<(), EncodeError> {
        self.separate()?;
        self.comma = false;
        self.raw(b"[")
    }

    /// `]`
    pub fn end_array(&mut self) -> Result<(), EncodeError> {
        self.comma = true;
        self.raw(b"]")
    }

    /// A string value, escaped.
    pub fn str(&mut self, text: &str) -> Result<(), EncodeError> {
        self.separate()?;
        self.quoted(text)?;
        self.comma = true;
        Ok(())
    }

    /// Raw JSON text of one scalar value (a number's digits).
    pub fn number_text(&mut self, digits: &str) -> Result<(), EncodeError> {
        self.separate()?;
        self.raw(digits.as_bytes())?;
        self.comma = true;
        Ok(())
    }

    /// An unsigned integer.
    pub fn u64(&mut self, v: u64) -> Result<(), EncodeError> {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = v;
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            i -= 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.separate()?;
        self.raw(digits.get(i..).unwrap_or_default())?;
        self.comma = true;
        Ok(())
    }

    /// A signed integer.
    pub fn i64(&mut self, v: i64) -> Result<(), EncodeError> {
        if v < 0 {
            self.separate()?;
            self.raw(b"-")?;
            self.comma = false;
        }
        self.u64(v.unsigned_abs())
    }

    /// `true` or `false`.
    pub fn bool(&mut self, v: bool) -> Result<(), EncodeError> {
        self.separate()?;
        self.raw(if v { b"true" } else { b"false" })?;
        self.comma = true;
        Ok(())
    }

    /// `null`
    pub fn null(&mut self) -> Result<(), EncodeError> {
        self.separate()?;
        self.raw(b"null")?;
        self.comma = true;
        Ok(())
    }

    /// A value's `Display` text as a JSON string, escaped.
    pub fn display(&mut self, value: &dyn fmt::Display) -> Result<(), EncodeError> {
        struct Escaping<'w, 'b> {
            w: &'w mut Writer<'b>,
            failed: Option<EncodeError>,
        }
        impl fmt::Write for Escaping<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.w.escaped(s).map_err(|e| {
                    self.failed = Some(e);
                    fmt::Error
                })
            }
        }
        self.separate()?;
        self.raw(b"\"")?;
        let mut out = Escaping {
            w: self,
            failed: None,
        };
        if fmt::write(&mut out, format_args!("{value}")).is_err() {
            let capacity = out.w.buf.len();
            return Err(out
                .failed
                .unwrap_or(EncodeError::BufferTooSmall { capacity }));
        }
        self.raw(b"\"")?;
        self.comma = true;
        Ok(())
    }

    fn quoted(&mut self, text: &str) -> Result<(), EncodeError> {
        self.raw(b"\"")?;
        self.escaped(text)?;
        self.raw(b"\"")
    }

    fn escaped(&mut self, text: &str) -> Result<(), EncodeError> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes = text.as_bytes();
        // Most text needs no escape at all: one copy.
        if !bytes.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20) {
            return self.raw(bytes);
        }
        let mut from = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0..=0x1f => &[],
                _ => continue,
            };
            self.raw(bytes.get(from..i).unwrap_or_default())?;
            if escape.is_empty() {
                let hex = |n: u8| HEX.get(usize::from(n)).copied().unwrap_or(b'0');
                self.raw(&[b'\\', b'u', b'0', b'0', hex(b >> 4), hex(b & 15)])?;
            } else {
                self.raw(escape)?;
            }
            from = i + 1;
        }
        self.raw(bytes.get(from..).unwrap_or_default())
    }
}
