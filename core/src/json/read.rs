//! The pull reader: JSON text in, values out, one token at a time.
//!
//! Every decoder of the core (derived or written by hand) reads through
//! these few non-generic methods, so the grammar — strings and their
//! escapes, numbers, literals, commas, nesting — exists once in the image.
//! Objects are walked by [`Reader::object`] against a table of a type's
//! JSON names; unknown members are skipped without recursion
//! ([`Reader::skip`] counts brackets), and every `{`/`[` entered, whether
//! decoded or skipped, counts against [`MAX_DEPTH`].

use super::{DecodeError, SyntaxError, MAX_DEPTH, UNESCAPE_SCRATCH_LEN};

/// The JSON type of the next value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{`
    Object,
    /// `[`
    Array,
    /// `"`
    String,
    /// `-` or a digit
    Number,
    /// `true` or `false`
    Bool,
    /// `null`
    Null,
}

/// Most members one object walk tracks for duplicates: the widest wire
/// type has 24 fields; a `u64` mask is one register pair on Cortex-M.
const MAX_FIELDS: usize = 64;

/// What [`Reader::members`] calls for each member: the reader at the
/// value, and the key (`None` when it does not fit the key buffer).
pub type Member<'f, 'a> = dyn FnMut(&mut Reader<'a>, Option<&str>) -> Result<(), DecodeError> + 'f;

fn syntax(e: SyntaxError) -> DecodeError {
    DecodeError::Syntax(e)
}

/// A reader over one JSON body. Build it with [`Reader::new`], read one
/// value, then call [`Reader::finish`].
pub struct Reader<'a> {
    body: &'a [u8],
    pos: usize,
    depth: usize,
    scratch: [u8; UNESCAPE_SCRATCH_LEN],
}

impl<'a> Reader<'a> {
    /// A reader at the start of `body`.
    pub fn new(body: &'a [u8]) -> Self {
        Self {
            body,
            pos: 0,
            depth: 0,
            scratch: [0; UNESCAPE_SCRATCH_LEN],
        }
    }

    /// Only whitespace may follow the value.
    pub fn finish(&mut self) -> Result<(), DecodeError> {
        match self.next_byte() {
            None => Ok(()),
            Some(_) => Err(syntax(SyntaxError::TrailingCharacters)),
        }
    }

    /// Skip whitespace; the next byte, not consumed.
    fn next_byte(&mut self) -> Option<u8> {
        while let Some(&b) = self.body.get(self.pos) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    /// Consume `b` (after whitespace) or fail with `e`.
    fn expect(&mut self, b: u8, e: SyntaxError) -> Result<(), DecodeError> {
        match self.next_byte() {
            Some(x) if x == b => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(syntax(e)),
            None => Err(syntax(SyntaxError::UnexpectedEnd)),
        }
    }

    /// The type of the next value.
    pub fn peek(&mut self) -> Result<Kind, DecodeError> {
        Ok(match self.next_byte() {
            None => return Err(syntax(SyntaxError::UnexpectedEnd)),
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b'-' | b'0'..=b'9') => Kind::Number,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            Some(_) => return Err(syntax(SyntaxError::ExpectedValue)),
        })
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), DecodeError> {
        let end = self.pos + word.len();
        match self.body.get(self.pos..end) {
            Some(w) if w == word => {
                self.pos = end;
                Ok(())
            }
            Some(_) => Err(syntax(SyntaxError::ExpectedLiteral)),
            None => Err(syntax(SyntaxError::UnexpectedEnd)),
        }
    }

    /// Consume a `null` if one is next: `Option`'s question.
    pub fn null(&mut self) -> Result<bool, DecodeError> {
        if self.peek()? == Kind::Null {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// A `true` or `false`.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.peek()? {
            Kind::Bool if self.body.get(self.pos) == Some(&b't') => {
                self.literal(b"true").map(|()| true)
            }
            Kind::Bool => self.literal(b"false").map(|()| false),
            _ => Err(DecodeError::WrongType),
        }
    }

    /// A number's text, checked against JSON's grammar
    /// (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`).
    pub fn number(&mut self) -> Result<&'a str, DecodeError> {
        if self.peek()? != Kind::Number {
            return Err(DecodeError::WrongType);
        }
        let start = self.pos;
        let body = self.body;
        let at = |i: usize| body.get(i).copied().unwrap_or(0);
        let digits = |mut i: usize| {
            let from = i;
            while at(i).is_ascii_digit() {
                i += 1;
            }
            (i, i - from)
        };
        let mut i = start;
        if at(i) == b'-' {
            i += 1;
        }
        let (end, n) = digits(i);
        if n == 0 || (n > 1 && at(i) == b'0') {
            return Err(syntax(SyntaxError::InvalidNumber));
        }
        i = end;
        if at(i) == b'.' {
            let (end, n) = digits(i + 1);
            if n == 0 {
                return Err(syntax(SyntaxError::InvalidNumber));
            }
            i = end;
        }
        if matches!(at(i), b'e' | b'E') {
            i += 1;
            if matches!(at(i), b'+' | b'-') {
                i += 1;
            }
            let (end, n) = digits(i);
            if n == 0 {
                return Err(syntax(SyntaxError::InvalidNumber));
            }
            i = end;
        }
        self.pos = i;
        // ASCII by construction.
        core::str::from_utf8(body.get(start..i).unwrap_or_default())
            .map_err(|_| syntax(SyntaxError::InvalidNumber))
    }

    /// An integer that fits `u64`: no fraction, no exponent, no sign.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let text = self.number()?;
        let mut v: u64 = 0;
        for b in text.bytes() {
            let d = match b {
                b'0'..=b'9' => u64::from(b - b'0'),
                _ => return Err(syntax(SyntaxError::InvalidNumber)),
            };
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(d))
                .ok_or(syntax(SyntaxError::InvalidNumber))?;
        }
        Ok(v)
    }

    /// An integer that fits `i64`.
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        let negative = self.next_byte() == Some(b'-');
        if negative {
            self.pos += 1;
            if self.peek()? != Kind::Number {
                return Err(syntax(SyntaxError::InvalidNumber));
            }
        }
        let magnitude = self.u64()?;
        if negative {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        }
        .ok_or(syntax(SyntaxError::InvalidNumber))
    }

    /// A string, unescaped. Text without escapes is borrowed from the
    /// body; text with escapes is decoded into the reader's scratch buffer
    /// and may be at most [`UNESCAPE_SCRATCH_LEN`] bytes.
    pub fn str(&mut self) -> Result<&str, DecodeError> {
        if self.peek()? != Kind::String {
            return Err(DecodeError::WrongType);
        }
        self.pos += 1;
        let start = self.pos;
        let body = self.body;
        let mut escaped = false;
        loop {
            // Plain text up to the next quote, backslash or control byte,
            // in one pass over the slice.
            let rest = body.get(self.pos..).unwrap_or_default();
            let plain = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(rest.len());
            self.pos += plain;
            match body.get(self.pos) {
                None => return Err(syntax(SyntaxError::UnexpectedEnd)),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 2;
                }
                Some(_) => return Err(syntax(SyntaxError::ControlCharacter)),
            }
        }
        let raw = body.get(start..self.pos).unwrap_or_default();
        self.pos += 1;
        if !escaped {
            return core::str::from_utf8(raw).map_err(|_| syntax(SyntaxError::InvalidUnicode));
        }
        let len = unescape(raw, &mut self.scratch)?;
        core::str::from_utf8(self.scratch.get(..len).unwrap_or_default())
            .map_err(|_| syntax(SyntaxError::InvalidUnicode))
    }

    /// An object key's index in `names`. A key without escapes is matched
    /// on its bytes as they stand in the body (no copy); one with escapes
    /// is unescaped first.
    fn key_index(&mut self, names: &[&str]) -> Result<Option<usize>, DecodeError> {
        let start = self.pos + 1;
        let rest = self.body.get(start..).unwrap_or_default();
        let plain = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .unwrap_or(rest.len());
        if rest.get(plain) == Some(&b'"') {
            let key = rest.get(..plain).unwrap_or_default();
            self.pos = start + plain + 1;
            return Ok(names.iter().position(|n| n.as_bytes() == key));
        }
        let key = self.str()?;
        Ok(names.iter().position(|n| *n == key))
    }

    /// A string that must be one of `names`: its index. Any other text is
    /// [`DecodeError::Invalid`].
    pub fn name(&mut self, names: &[&str]) -> Result<usize, DecodeError> {
        let text = self.str()?;
        names
            .iter()
            .position(|n| *n == text)
            .ok_or(DecodeError::Invalid)
    }

    fn enter(&mut self) -> Result<(), DecodeError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        Ok(())
    }

    /// After a member or element: `,` (and something must follow) or the
    /// closing `close`. Returns whether the container ended.
    fn after_item(&mut self, close: u8) -> Result<bool, DecodeError> {
        match self.next_byte() {
            Some(b',') => {
                self.pos += 1;
                match self.next_byte() {
                    Some(b'}' | b']') => Err(syntax(SyntaxError::TrailingComma)),
                    _ => Ok(false),
                }
            }
            Some(b) if b == close => {
                self.pos += 1;
                self.depth -= 1;
                Ok(true)
            }
            Some(_) => Err(syntax(SyntaxError::ExpectedCommaOrEnd)),
            None => Err(syntax(SyntaxError::UnexpectedEnd)),
        }
    }

    /// Walk an object. For each member whose key is in `names`, `field` is
    /// called with the key's index and must read the value; other members
    /// are skipped. A known key given twice is [`DecodeError::Invalid`].
    /// Returns which of the first 64 names were present (bit `i`).
    pub fn object(
        &mut self,
        names: &[&str],
        field: &mut dyn FnMut(&mut Self, usize) -> Result<(), DecodeError>,
    ) -> Result<u64, DecodeError> {
        if self.peek()? != Kind::Object {
            return Err(DecodeError::WrongType);
        }
        self.pos += 1;
        self.enter()?;
        let mut seen: u64 = 0;
        if self.next_byte() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(seen);
        }
        loop {
            match self.next_byte() {
                Some(b'"') => {}
                Some(_) => return Err(syntax(SyntaxError::KeyMustBeAString)),
                None => return Err(syntax(SyntaxError::UnexpectedEnd)),
            }
            let index = self.key_index(names)?;
            self.expect(b':', SyntaxError::ExpectedColon)?;
            match index {
                Some(i) => {
                    let bit = 1u64.checked_shl(i as u32).unwrap_or(0);
                    if i < MAX_FIELDS && seen & bit != 0 {
                        return Err(DecodeError::Invalid);
                    }
                    seen |= bit;
                    field(self, i)?;
                }
                None => self.skip()?,
            }
            if self.after_item(b'}')? {
                return Ok(seen);
            }
        }
    }

    /// Walk an object whose keys are data, not names (a one-member
    /// `{"smart_card_number": …}`): each key is copied into `key` and
    /// `member` is called with it — `None` when the key does not fit — and
    /// must read the value.
    pub fn members(
        &mut self,
        key: &mut [u8],
        member: &mut Member<'_, 'a>,
    ) -> Result<(), DecodeError> {
        if self.peek()? != Kind::Object {
            return Err(DecodeError::WrongType);
        }
        self.pos += 1;
        self.enter()?;
        if self.next_byte() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            match self.next_byte() {
                Some(b'"') => {}
                Some(_) => return Err(syntax(SyntaxError::KeyMustBeAString)),
                None => return Err(syntax(SyntaxError::UnexpectedEnd)),
            }
            let text = self.str()?;
            let len = text.len();
            let fits = match key.get_mut(..len) {
                Some(dst) => {
                    dst.copy_from_slice(text.as_bytes());
                    true
                }
                None => false,
            };
            self.expect(b':', SyntaxError::ExpectedColon)?;
            let name = if fits {
                key.get(..len).and_then(|k| core::str::from_utf8(k).ok())
            } else {
                None
            };
            member(self, name)?;
            if self.after_item(b'}')? {
                return Ok(());
            }
        }
    }

    /// Walk an array: `element` is called once per element and must read it.
    pub fn array(
        &mut self,
        element: &mut dyn FnMut(&mut Self) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        if self.peek()? != Kind::Array {
            return Err(DecodeError::WrongType);
        }
        self.pos += 1;
        self.enter()?;
        if self.next_byte() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            element(self)?;
            if self.after_item(b']')? {
                return Ok(());
            }
        }
    }

    /// `{"Name": …`: an externally tagged enum's opening, the index of its
    /// variant in `names`. Read the value, then [`Reader::end_tagged`].
    pub fn begin_tagged(&mut self, names: &[&str]) -> Result<usize, DecodeError> {
        if self.peek()? != Kind::Object {
            return Err(DecodeError::WrongType);
        }
        self.pos += 1;
        self.enter()?;
        match self.next_byte() {
            Some(b'"') => {}
            Some(_) => return Err(DecodeError::Invalid),
            None => return Err(syntax(SyntaxError::UnexpectedEnd)),
        }
        let i = self.name(names)?;
        self.expect(b':', SyntaxError::ExpectedColon)?;
        Ok(i)
    }

    /// The `}` closing an externally tagged enum: exactly one member.
    pub fn end_tagged(&mut self) -> Result<(), DecodeError> {
        match self.next_byte() {
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(())
            }
            Some(b',') => Err(DecodeError::Invalid),
            Some(_) => Err(syntax(SyntaxError::ExpectedCommaOrEnd)),
            None => Err(syntax(SyntaxError::UnexpectedEnd)),
        }
    }

    /// Consume one value of any shape, checking its syntax. Nesting is
    /// counted, not recursed into: a skipped value costs no stack.
    pub fn skip(&mut self) -> Result<(), DecodeError> {
        // Bit k: whether the k-th container this skip opened (and has not
        // closed) is an object. Depth is bounded by MAX_DEPTH, so `open`
        // stays below the mask's width.
        const _: () = assert!(MAX_DEPTH < 64);
        let mut objects: u64 = 0;
        let mut open = 0u32;
        loop {
            match self.peek()? {
                kind @ (Kind::Object | Kind::Array) => {
                    let is_object = kind == Kind::Object;
                    let close = if is_object { b'}' } else { b']' };
                    self.pos += 1;
                    self.enter()?;
                    if self.next_byte() == Some(close) {
                        self.pos += 1;
                        self.depth -= 1;
                    } else {
                        objects = (objects & !(1 << open)) | (u64::from(is_object) << open);
                        open += 1;
                        if is_object {
                            self.skip_key()?;
                        }
                        continue;
                    }
                }
                Kind::String => self.skip_string()?,
                Kind::Number => {
                    self.number()?;
                }
                Kind::Bool => {
                    self.bool()?;
                }
                Kind::Null => self.literal(b"null")?,
            }
            // After a value: close containers until one has a next item.
            loop {
                let Some(top) = open.checked_sub(1) else {
                    return Ok(());
                };
                let is_object = objects >> top & 1 == 1;
                if self.after_item(if is_object { b'}' } else { b']' })? {
                    open = top;
                } else {
                    if is_object {
                        self.skip_key()?;
                    }
                    break;
                }
            }
        }
    }

    fn skip_key(&mut self) -> Result<(), DecodeError> {
        match self.next_byte() {
            Some(b'"') => {}
            Some(_) => return Err(syntax(SyntaxError::KeyMustBeAString)),
            None => return Err(syntax(SyntaxError::UnexpectedEnd)),
        }
        self.skip_string()?;
        self.expect(b':', SyntaxError::ExpectedColon)
    }

    /// A string checked for syntax but not unescaped or kept.
    fn skip_string(&mut self) -> Result<(), DecodeError> {
        self.pos += 1;
        loop {
            match self.body.get(self.pos) {
                None => return Err(syntax(SyntaxError::UnexpectedEnd)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    let esc = self.body.get(self.pos + 1).copied();
                    if !matches!(
                        esc,
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' | b'u')
                    ) {
                        return Err(syntax(SyntaxError::InvalidEscape));
                    }
                    self.pos += 2;
                }
                Some(&b) if b < 0x20 => return Err(syntax(SyntaxError::ControlCharacter)),
                Some(_) => self.pos += 1,
            }
        }
    }
}

fn hex4(raw: &[u8], at: usize) -> Result<u32, DecodeError> {
    let digits = raw
        .get(at..at + 4)
        .ok_or(syntax(SyntaxError::InvalidEscape))?;
    let mut v = 0u32;
    for &d in digits {
        let n = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(syntax(SyntaxError::InvalidEscape)),
        };
        v = v * 16 + u32::from(n);
    }
    Ok(v)
}

/// Decode the escapes of a string's raw bytes into `out`; its length.
fn unescape(raw: &[u8], out: &mut [u8]) -> Result<usize, DecodeError> {
    let mut n = 0usize;
    let mut i = 0usize;
    let mut put = |n: &mut usize, bytes: &[u8]| -> Result<(), DecodeError> {
        let dst = out
            .get_mut(*n..*n + bytes.len())
            .ok_or(DecodeError::StringTooLong)?;
        dst.copy_from_slice(bytes);
        *n += bytes.len();
        Ok(())
    };
    while let Some(&b) = raw.get(i) {
        if b != b'\\' {
            put(&mut n, &[b])?;
            i += 1;
            continue;
        }
        let e = raw.get(i + 1).copied().unwrap_or(0);
        i += 2;
        let byte = match e {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let mut cp = hex4(raw, i)?;
                i += 4;
                if (0xD800..0xDC00).contains(&cp) {
                    // A high surrogate must be followed by `\u` and a low one.
                    if raw.get(i..i + 2) != Some(b"\\u") {
                        return Err(syntax(SyntaxError::InvalidUnicode));
                    }
                    let low = hex4(raw, i + 2)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(syntax(SyntaxError::InvalidUnicode));
                    }
                    i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                }
                let c = char::from_u32(cp).ok_or(syntax(SyntaxError::InvalidUnicode))?;
                let mut utf8 = [0u8; 4];
                put(&mut n, c.encode_utf8(&mut utf8).as_bytes())?;
                continue;
            }
            _ => return Err(syntax(SyntaxError::InvalidEscape)),
        };
        put(&mut n, &[byte])?;
    }
    Ok(n)
}
