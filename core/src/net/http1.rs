//! HTTP/1.1 on one connection (RFC 9112), as little as the terminal needs:
//! a request head written from a [`RequestHead`], and the answer read into
//! the caller's buffer with its body moved to the front.
//!
//! The answer's framing is taken as the RFC orders it: no body for 1xx,
//! 204 and 304; `Transfer-Encoding` ending in `chunked` (decoded in place,
//! extensions and trailers skipped); then `Content-Length`; otherwise the
//! body runs to the end of the connection. A body longer than its
//! `Content-Length`, a head or body larger than the buffer, a malformed
//! status line, header line or chunk size are typed errors, never a panic:
//! every index into the buffer is checked.
//!
//! Strict where leniency would let a wrong server pass: lines end in CRLF
//! (a bare LF is malformed), header names are tokens, obsolete line
//! folding is refused, two different `Content-Length`s are refused. A
//! message with both `Transfer-Encoding` and `Content-Length` is read as
//! chunked and its connection is not reused (RFC 9112 §6.3).

use embedded_io_async::{Read, Write};

use crate::http::{Method, ResponseHead, Status};

/// Why an answer could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HttpError<E> {
    /// The connection failed.
    Io(E),
    /// The connection ended before the answer did.
    Closed,
    /// The head, or the head and body, do not fit the buffer.
    TooLarge,
    /// Not an HTTP/1.1 answer: status line, header line, chunk framing,
    /// or a body longer than its `Content-Length`.
    Malformed,
}

impl<E: core::fmt::Debug> core::fmt::Display for HttpError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "connection failed ({e:?})"),
            Self::Closed => f.write_str("connection closed before the answer ended"),
            Self::TooLarge => f.write_str("answer larger than the buffer"),
            Self::Malformed => f.write_str("malformed HTTP/1.1 answer"),
        }
    }
}

/// An answer read by [`read_response`].
#[derive(Debug)]
pub struct Answer {
    /// Status and the headers the core reads.
    pub head: ResponseHead,
    /// Body length: the body is the buffer's first `len` bytes.
    pub len: usize,
    /// Whether the connection may carry another request.
    pub keep: bool,
}

/// Write the request head: request line, `Host`, the head's headers, its
/// `Authorization`, and `Content-Length` unless a GET has no body.
pub async fn write_head<C: Write>(
    conn: &mut C,
    target: (&str, &str),
    host: (&str, u16),
    head: &crate::http::RequestHead,
    body_len: usize,
) -> Result<(), C::Error> {
    let mut port = Decimal::default();
    let mut length = Decimal::default();
    let method = match head.method() {
        Method::Get => "GET ",
        Method::Post => "POST ",
    };
    let (base, path) = target;
    // The base path's trailing slashes (the path brings its own), by
    // bytes: no char pattern searcher for one ASCII byte.
    fn trim_slashes(mut base: &str) -> &str {
        while let Some(shorter) = base.strip_suffix('/') {
            base = shorter;
        }
        base
    }
    let start = [
        method,
        trim_slashes(base),
        path,
        " HTTP/1.1\r\nHost: ",
        host.0,
        ":",
        port.of(host.1.into()),
        "\r\n",
    ];
    let headers = head.headers().map(|(name, value)| (name.as_str(), value));
    let authorization = head.authorization().map(|value| ("Authorization", value));
    let content_length = (body_len > 0 || !matches!(head.method(), Method::Get))
        .then(|| ("Content-Length", length.of(body_len)));
    let lines = headers
        .chain(authorization)
        .chain(content_length)
        .flat_map(|(name, value)| [name, ": ", value, "\r\n"]);
    for piece in start.into_iter().chain(lines).chain(["\r\n"]) {
        conn.write_all(piece.as_bytes()).await?;
    }
    Ok(())
}

/// A number written in decimal, for a header.
#[derive(Default)]
struct Decimal([u8; 20]);

impl Decimal {
    fn of(&mut self, mut n: usize) -> &str {
        let mut at = self.0.len();
        loop {
            at -= 1;
            if let Some(digit) = self.0.get_mut(at) {
                *digit = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || at == 0 {
                break;
            }
        }
        core::str::from_utf8(self.0.get(at..).unwrap_or_default()).unwrap_or_default()
    }
}

/// How the answer's body ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(usize),
    Chunked,
    ToEnd,
}

/// Read one answer into `buf` (see the module docs).
pub async fn read_response<C: Read>(
    conn: &mut C,
    buf: &mut [u8],
) -> Result<Answer, HttpError<C::Error>> {
    let mut filled = 0;
    // Where the search for the head's end resumes: each byte is looked at
    // a bounded number of times, however the answer is cut.
    let mut from = 0;
    let head_len = loop {
        let seen = buf.get(from..filled).unwrap_or_default();
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break from + end + 4;
        }
        from = filled.saturating_sub(3);
        filled += more(conn, buf, filled).await?;
    };
    let (head, framing, mut keep) =
        parse_head(buf.get(..head_len).unwrap_or_default()).ok_or(HttpError::Malformed)?;
    // The body's first bytes, read with the head, to the front.
    buf.copy_within(head_len..filled, 0);
    filled -= head_len;
    let len = match framing {
        Framing::Empty => {
            keep &= filled == 0;
            0
        }
        Framing::Length(n) => {
            if n > buf.len() {
                return Err(HttpError::TooLarge);
            }
            // Read into all of the buffer, not just what is declared: a
            // longer body shows as more than `n` bytes.
            while filled < n {
                filled += more(conn, buf, filled).await?;
            }
            if filled > n {
                return Err(HttpError::Malformed);
            }
            n
        }
        Framing::Chunked => {
            let (len, rest) = dechunk(conn, buf, filled).await?;
            keep &= rest == 0;
            len
        }
        Framing::ToEnd => {
            keep = false;
            loop {
                match more(conn, buf, filled).await {
                    Ok(n) => filled += n,
                    Err(HttpError::Closed) => break filled,
                    Err(e) => return Err(e),
                }
            }
        }
    };
    Ok(Answer { head, len, keep })
}

/// Read more of the answer into `buf[filled..]`: how many bytes came.
async fn more<C: Read>(
    conn: &mut C,
    buf: &mut [u8],
    filled: usize,
) -> Result<usize, HttpError<C::Error>> {
    let free = match buf.get_mut(filled..) {
        Some(free) if !free.is_empty() => free,
        _ => return Err(HttpError::TooLarge),
    };
    let room = free.len();
    match conn.read(free).await {
        Ok(0) => Err(HttpError::Closed),
        Ok(n) => Ok(n.min(room)),
        Err(e) => Err(HttpError::Io(e)),
    }
}

/// Decode a chunked body in place: `buf[..filled]` holds its first raw
/// bytes. Returns the body's length and how many raw bytes came after the
/// last chunk (a pipelined answer: the connection is not reused).
async fn dechunk<C: Read>(
    conn: &mut C,
    buf: &mut [u8],
    mut filled: usize,
) -> Result<(usize, usize), HttpError<C::Error>> {
    // buf[..out]: the body so far; buf[pos..filled]: raw bytes not yet read.
    let mut out = 0;
    let mut pos = 0;
    // Chunk size lines, then (after the last chunk) trailer lines.
    let mut trailers = false;
    // How much of the line at `pos` was searched for its CRLF already.
    let mut searched = 0;
    loop {
        let line = match line_at(buf, pos + searched, filled) {
            Some(line) => line,
            None => {
                searched = (filled - pos).saturating_sub(1);
                // Make room after the body, then read more.
                buf.copy_within(pos..filled, out);
                filled -= pos - out;
                pos = out;
                filled += more(conn, buf, filled).await?;
                continue;
            }
        };
        let text = buf.get(pos..line).unwrap_or_default();
        pos = line + 2;
        searched = 0;
        if trailers {
            if text.is_empty() {
                return Ok((out, filled - pos));
            }
            continue;
        }
        let size = chunk_size(text).ok_or(HttpError::Malformed)?;
        if size == 0 {
            trailers = true;
            continue;
        }
        // The chunk's data and its CRLF, after the body so far.
        let need = out
            .checked_add(size)
            .and_then(|n| n.checked_add(2))
            .ok_or(HttpError::TooLarge)?;
        if need > buf.len() {
            return Err(HttpError::TooLarge);
        }
        if filled < pos + size + 2 {
            buf.copy_within(pos..filled, out);
            filled -= pos - out;
            pos = out;
            while filled < need {
                filled += more(conn, buf, filled).await?;
            }
        }
        let end = pos + size;
        if buf.get(end..end + 2) != Some(b"\r\n".as_slice()) {
            return Err(HttpError::Malformed);
        }
        buf.copy_within(pos..end, out);
        out += size;
        pos = end + 2;
    }
}

/// Where the first CRLF at or after `from` is, if it is in `buf[..filled]`.
fn line_at(buf: &[u8], from: usize, filled: usize) -> Option<usize> {
    let seen = buf.get(from..filled)?;
    let at = seen.windows(2).position(|w| w == b"\r\n")?;
    Some(from + at)
}

/// A chunk size line: hex digits, then extensions after `;` (ignored).
fn chunk_size(line: &[u8]) -> Option<usize> {
    let digits = line.split(|&b| b == b';').next()?;
    let digits = trim(digits);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &b| {
        let d = (b as char).to_digit(16)?;
        Some(n * 16 + d as usize)
    })
}

/// Status line and header lines (without the final empty line's CRLF
/// pair: `head` ends with it).
fn parse_head(head: &[u8]) -> Option<(ResponseHead, Framing, bool)> {
    let mut lines = head.split(|&b| b == b'\n');
    let status_line = crlf_line(lines.next()?)?;
    let (version, rest) = status_line.split_at_checked(9)?;
    let keep_default = match version {
        b"HTTP/1.1 " => true,
        b"HTTP/1.0 " => false,
        _ => return None,
    };
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || !matches!(rest.get(3), None | Some(b' ')) {
        return None;
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    let mut result = ResponseHead::new(Status(status));
    let mut keep = keep_default;
    let mut length: Option<usize> = None;
    let mut chunked = None;
    for raw in lines {
        if raw.is_empty() {
            // After the final CRLF.
            break;
        }
        let line = crlf_line(raw)?;
        if line.is_empty() {
            continue;
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let (name, value) = line.split_at(colon);
        let value = trim(value.get(1..)?);
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return None;
        }
        if value.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
            return None;
        }
        let name = core::str::from_utf8(name).ok()?;
        let text = core::str::from_utf8(value).unwrap_or("");
        if name.eq_ignore_ascii_case("content-length") {
            let n = decimal(value)?;
            if length.is_some_and(|m| m != n) {
                return None;
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // The last coding decides.
            let last = match text.bytes().rposition(|b| b == b',') {
                Some(comma) => text.get(comma + 1..).unwrap_or_default(),
                None => text,
            }
            .trim_ascii();
            chunked = Some(last.eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("connection")
            && text
                .split(',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case("close"))
        {
            keep = false;
        }
        result.header(name, text);
    }
    // Framing only (RFC 9112 §6.3: these answers never carry a body); what
    // a status means for the sale is the outcome tables' to say.
    let framing = if status < 200 || status == 204 || status == 304 {
        Framing::Empty
    } else if let Some(chunked) = chunked {
        // Transfer-Encoding overrides Content-Length; both at once is
        // suspect: read it, but do not reuse the connection.
        keep &= length.is_none();
        if chunked {
            Framing::Chunked
        } else {
            keep = false;
            Framing::ToEnd
        }
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::ToEnd
    };
    Some((result, framing, keep))
}

/// A line split at `\n`, which must end in `\r` (removed).
fn crlf_line(raw: &[u8]) -> Option<&[u8]> {
    match raw.split_last() {
        Some((b'\r', line)) if !line.contains(&b'\r') => Some(line),
        _ => None,
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let Some((b' ' | b'\t', rest)) = s.split_first() {
        s = rest;
    }
    while let Some((b' ' | b'\t', rest)) = s.split_last() {
        s = rest;
    }
    s
}

/// A `Content-Length`: digits only, within `usize`.
fn decimal(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    s.iter().try_fold(0usize, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + usize::from(b - b'0'))
    })
}

/// RFC 9110 `tchar`: what a header name is made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::future::Future;
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    /// The answer in the pieces the connection hands out.
    struct Pieces<'a>(&'a [&'a [u8]], usize);

    impl embedded_io_async::ErrorType for Pieces<'_> {
        type Error = core::convert::Infallible;
    }

    impl Read for Pieces<'_> {
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let Some(piece) = self.0.first() else {
                return Ok(0);
            };
            let n = buf.len().min(piece.len() - self.1);
            buf[..n].copy_from_slice(&piece[self.1..self.1 + n]);
            self.1 += n;
            if self.1 == piece.len() {
                self.0 = &self.0[1..];
                self.1 = 0;
            }
            Ok(n)
        }
    }

    fn ready<F: Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("in-memory reads never wait"),
        }
    }

    /// Read `pieces` into a buffer of `cap` bytes: the body and keep-alive.
    fn read(
        pieces: &[&[u8]],
        cap: usize,
    ) -> Result<(u16, std::vec::Vec<u8>, bool), HttpError<core::convert::Infallible>> {
        let mut buf = std::vec![0u8; cap];
        let answer = ready(read_response(&mut Pieces(pieces, 0), &mut buf))?;
        Ok((
            answer.head.status.0,
            buf[..answer.len].to_vec(),
            answer.keep,
        ))
    }

    #[test]
    fn a_content_length_body_split_anywhere_is_read_whole() {
        let whole: &[u8] = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nLocation: /p/1\r\nContent-Length: 11\r\n\r\n{\"a\":\"bcd\"}";
        for cut in 1..whole.len() {
            let (a, b) = whole.split_at(cut);
            let (status, body, keep) = read(&[a, b], 256).unwrap();
            assert_eq!(
                (status, body.as_slice(), keep),
                (201, &b"{\"a\":\"bcd\"}"[..], true)
            );
        }
        let mut buf = [0u8; 256];
        let answer = ready(read_response(&mut Pieces(&[whole], 0), &mut buf)).unwrap();
        assert_eq!(answer.head.location.as_deref(), Some("/p/1"));
        assert!(answer.head.is_json());
    }

    #[test]
    fn a_chunked_body_is_decoded_in_place_across_pieces() {
        let whole: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4;ext=1\r\n{\"a\"\r\nA\r\n:\"bcdefgh\"\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n";
        for cut in 1..whole.len() {
            let (a, b) = whole.split_at(cut);
            let (status, body, keep) = read(&[a, b], 96).unwrap();
            assert_eq!(
                (status, body.as_slice(), keep),
                (200, &br#"{"a":"bcdefgh"}"#[..], true),
                "cut at {cut}"
            );
        }
        // One byte at a time.
        let bytes: std::vec::Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(read(&bytes, 96).unwrap().1, br#"{"a":"bcdefgh"}"#);
    }

    #[test]
    fn a_chunked_body_fills_the_buffer_exactly() {
        // The head (47 bytes) must fit whole; the body then starts at the
        // front and the chunk framing is compacted away.
        let answer: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n";
        let pieces: std::vec::Vec<&[u8]> = answer.chunks(7).collect();
        assert_eq!(read(&pieces, 48).unwrap().1, b"0123456789abcdef");
        assert_eq!(read(&pieces, 47).unwrap().1, b"0123456789abcdef");
        assert_eq!(read(&pieces, 46), Err(HttpError::TooLarge));
    }

    #[test]
    fn a_body_to_the_end_of_the_connection_ends_it() {
        let (status, body, keep) = read(&[b"HTTP/1.1 200 OK\r\n\r\n{}", b"[]"], 64).unwrap();
        assert_eq!((status, body.as_slice(), keep), (200, &b"{}[]"[..], false));
        let (_, _, keep) = read(
            &[b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n"],
            128,
        )
        .unwrap();
        assert!(!keep);
        let (_, _, keep) = read(&[b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"], 64).unwrap();
        assert!(!keep);
    }

    #[test]
    fn no_body_for_204_304_and_interim_answers() {
        assert_eq!(
            read(&[b"HTTP/1.1 204 No Content\r\n\r\n"], 64).unwrap(),
            (204, std::vec![], true)
        );
        assert_eq!(
            read(&[b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"], 64)
                .unwrap()
                .0,
            103
        );
        // Bytes after a body-less answer: not reused.
        assert!(!read(&[b"HTTP/1.1 204 No Content\r\n\r\nxx"], 64).unwrap().2);
    }

    #[test]
    fn refuses_what_a_wrong_server_sends() {
        type E = HttpError<core::convert::Infallible>;
        let cases: &[(&[&[u8]], E)] = &[
            (&[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", b"{}{}{"], E::Malformed),
            (&[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}{"], E::Malformed),
            (&[b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}"], E::Closed),
            (&[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"], E::Malformed),
            (&[b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}"], E::Malformed),
            (&[b"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n{}"], E::TooLarge),
            (&[b"HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\n{}"], E::Malformed),
            (&[b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n"], E::Malformed),
            (&[b"HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n"], E::Malformed),
            (&[b"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n"], E::Malformed),
            (&[b"HTTP/2 200\r\n\r\n"], E::Malformed),
            (&[b"HTTP/1.1 2000 OK\r\n\r\n"], E::Malformed),
            (&[b"HTTP/1.1 20x OK\r\n\r\n"], E::Malformed),
            (&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"], E::Malformed),
            (&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n"], E::Malformed),
            (&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n"], E::TooLarge),
            (&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n"], E::Closed),
            (&[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"], E::Closed),
            (&[b"HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"], E::TooLarge),
        ];
        for (pieces, error) in cases {
            assert_eq!(read(pieces, 64).map(|_| ()), Err(*error), "{pieces:?}");
        }
    }

    #[test]
    fn both_framings_read_as_chunked_and_end_the_connection() {
        let (_, body, keep) = read(
            &[b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"],
            128,
        )
        .unwrap();
        assert_eq!((body.as_slice(), keep), (&b"{}"[..], false));
    }

    /// What the request head looks like on the wire.
    struct Captured(std::vec::Vec<u8>);

    impl embedded_io_async::ErrorType for Captured {
        type Error = core::convert::Infallible;
    }

    impl Write for Captured {
        async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        async fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    #[test]
    fn the_request_head_is_written_as_http_1_1() {
        use crate::http::{HeaderName, RequestHead};
        let mut head = RequestHead::new(Method::Post, "/v1/payments").unwrap();
        head.set(HeaderName::ContentType, "application/json")
            .unwrap();
        let mut out = Captured(std::vec::Vec::new());
        ready(write_head(
            &mut out,
            ("/api/", "/v1/payments"),
            ("pay.example", 8443),
            &head,
            17,
        ))
        .unwrap();
        assert_eq!(
            core::str::from_utf8(&out.0).unwrap(),
            "POST /api/v1/payments HTTP/1.1\r\nHost: pay.example:8443\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n"
        );
        let head = RequestHead::new(Method::Get, "/v1/x?a=1").unwrap();
        let mut out = Captured(std::vec::Vec::new());
        ready(write_head(&mut out, ("", "/v1/x?a=1"), ("h", 0), &head, 0)).unwrap();
        assert_eq!(
            core::str::from_utf8(&out.0).unwrap(),
            "GET /v1/x?a=1 HTTP/1.1\r\nHost: h:0\r\n\r\n"
        );
    }
}
