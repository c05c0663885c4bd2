//! HTTP heads: exactly the methods, headers and status handling the three
//! APIs need, in fixed capacity.
//!
//! A [`RequestHead`] is what a flow hands the transport next to the body it
//! encoded into the caller's buffer; a [`ResponseHead`] is what the
//! transport hands back, holding only the headers the core reads. Header
//! values that carry credentials (`Authorization`,
//! `Ocp-Apim-Subscription-Key`) print as `<redacted>`.

use core::fmt;

use heapless::{String, Vec};

use crate::fmt::Secret;

/// Why a head could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HeadError {
    /// The path and query do not fit [`PATH_CAP`].
    PathTooLong,
    /// A header value does not fit [`HEADER_VALUE_CAP`].
    ValueTooLong,
    /// A header value holds a character HTTP forbids (CR, LF, NUL, …).
    InvalidValue,
    /// More headers than [`MAX_HEADERS`].
    TooManyHeaders,
    /// Path and header values together do not fit [`HEAD_TEXT_CAP`].
    HeadTooLong,
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PathTooLong => "request path too long",
            Self::ValueTooLong => "header value too long",
            Self::InvalidValue => "header value contains a forbidden character",
            Self::TooManyHeaders => "too many request headers",
            Self::HeadTooLong => "request head too long",
        })
    }
}

impl core::error::Error for HeadError {}

/// The methods the three APIs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
}

impl Method {
    /// The method token.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest path + query: the longest templated path
/// (`/conductor/v1/partners/transactions/{ref}/complete`, a 255-byte
/// reference) plus the longest Electrum query (five percent-encoded
/// parameters) fits in 384 bytes.
pub const PATH_CAP: usize = 384;

/// Longest ordinary header value: an `Idempotency-Key` (255 bytes) or a
/// callback URL.
pub const HEADER_VALUE_CAP: usize = 256;

/// Longest `Authorization` value: `Bearer ` and a MoMo access token (a JWT,
/// see [`crate::momo::wire::ACCESS_TOKEN_CAP`]). Kept apart from the other
/// headers so only one slot is this large.
pub const AUTHORIZATION_CAP: usize = crate::momo::wire::ACCESS_TOKEN_CAP + 16;

/// Most request headers besides `Authorization`: Content-Type, Accept and
/// the four MoMo sends (reference id, environment, callback, subscription
/// key) are six; two spare.
pub const MAX_HEADERS: usize = 8;

/// The request headers the APIs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HeaderName {
    /// `Authorization` (Bearer or Basic): a credential.
    Authorization,
    /// `Content-Type`
    ContentType,
    /// `Accept`
    Accept,
    /// Conductor `Idempotency-Key`
    IdempotencyKey,
    /// Conductor `Retailer-Id`
    RetailerId,
    /// MoMo `X-Reference-Id`
    XReferenceId,
    /// MoMo `X-Target-Environment`
    XTargetEnvironment,
    /// MoMo `X-Callback-Url`
    XCallbackUrl,
    /// MoMo `Ocp-Apim-Subscription-Key`: a credential.
    OcpApimSubscriptionKey,
}

impl HeaderName {
    /// The header name as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Authorization => "Authorization",
            Self::ContentType => "Content-Type",
            Self::Accept => "Accept",
            Self::IdempotencyKey => "Idempotency-Key",
            Self::RetailerId => "Retailer-Id",
            Self::XReferenceId => "X-Reference-Id",
            Self::XTargetEnvironment => "X-Target-Environment",
            Self::XCallbackUrl => "X-Callback-Url",
            Self::OcpApimSubscriptionKey => "Ocp-Apim-Subscription-Key",
        }
    }

    /// Whether the value is a credential that must never be logged.
    pub const fn is_secret(self) -> bool {
        matches!(self, Self::Authorization | Self::OcpApimSubscriptionKey)
    }
}

/// `application/json`, the only body type the APIs use.
pub const APPLICATION_JSON: &str = "application/json";

/// Which of the three APIs a request is for: the transport picks the
/// endpoint (host, port, base path) by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Api {
    /// Moment Conductor (bills).
    Conductor,
    /// MTN MoMo Collection (payments).
    MoMo,
    /// Electrum Airtime (airtime, data, vouchers).
    Electrum,
}

impl Api {
    /// All three, in a fixed order (for endpoint tables).
    pub const ALL: [Self; 3] = [Self::Conductor, Self::MoMo, Self::Electrum];

    /// A short lower-case name (`conductor`, `momo`, `electrum`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Conductor => "conductor",
            Self::MoMo => "momo",
            Self::Electrum => "electrum",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Path, `Authorization` and every other header value of one request,
/// packed into one buffer. The largest request is a MoMo create: a path of
/// ~40 bytes, `Bearer` and a token of up to 1.5 KiB, a callback URL of up to
/// 256 bytes and four short values — about 2 KiB. (Every field at its own
/// cap would be 4 KiB, and a head is copied into each pending request.)
pub const HEAD_TEXT_CAP: usize = 2_304;

// A path and a token always fit; every offset fits a u16.
const _: () = assert!(PATH_CAP + AUTHORIZATION_CAP <= HEAD_TEXT_CAP);
const _: () = assert!(HEAD_TEXT_CAP <= u16::MAX as usize);

/// Where one header's value lies in a [`RequestHead`]'s text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    name: HeaderName,
    start: u16,
    end: u16,
}

/// Method, path with query, and headers of one request. `Debug` redacts
/// credentials; `Display` and defmt show the method and the path with
/// query values masked.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestHead {
    api: Option<Api>,
    method: Method,
    /// The path, then the header values in `slots` order.
    text: String<HEAD_TEXT_CAP>,
    path_len: u16,
    /// The headers in the order added; `Authorization` among them.
    slots: Vec<Slot, { MAX_HEADERS + 1 }>,
}

impl RequestHead {
    /// A request for `path` (already built with [`PathBuilder`] or a
    /// constant).
    pub fn new(method: Method, path: &str) -> Result<Self, HeadError> {
        if path.len() > PATH_CAP {
            return Err(HeadError::PathTooLong);
        }
        let mut text = String::new();
        text.push_str(path).map_err(|_| HeadError::PathTooLong)?;
        Ok(Self {
            api: None,
            method,
            text,
            // PATH_CAP < u16::MAX, checked above.
            path_len: path.len() as u16,
            slots: Vec::new(),
        })
    }

    /// The API this request is for; set by that API's `Config` when it
    /// adds credentials, so every request a flow sends carries it.
    pub const fn api(&self) -> Option<Api> {
        self.api
    }

    /// Mark the request as one for `api`.
    pub fn for_api(&mut self, api: Api) -> &mut Self {
        self.api = Some(api);
        self
    }

    /// The method.
    pub const fn method(&self) -> Method {
        self.method
    }

    /// Path and query, relative to the API's base URL.
    pub fn path(&self) -> &str {
        self.text.get(..usize::from(self.path_len)).unwrap_or("")
    }

    fn value(&self, slot: &Slot) -> &str {
        self.text
            .get(usize::from(slot.start)..usize::from(slot.end))
            .unwrap_or("")
    }

    /// The `Authorization` value, for the transport only.
    pub fn authorization(&self) -> Option<&str> {
        self.header(HeaderName::Authorization)
    }

    /// All headers but `Authorization` (names and real values, for the
    /// transport only), in the order added.
    pub fn headers(&self) -> impl Iterator<Item = (HeaderName, &str)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.name != HeaderName::Authorization)
            .map(|s| (s.name, self.value(s)))
    }

    /// The value of `name`, if set.
    pub fn header(&self, name: HeaderName) -> Option<&str> {
        self.slots
            .iter()
            .find(|s| s.name == name)
            .map(|s| self.value(s))
    }

    /// Add a header, replacing an earlier one of the same name. On an error
    /// the head is unchanged.
    pub fn set(&mut self, name: HeaderName, value: &str) -> Result<&mut Self, HeadError> {
        if value.bytes().any(|b| b.is_ascii_control()) {
            return Err(HeadError::InvalidValue);
        }
        let cap = match name {
            HeaderName::Authorization => AUTHORIZATION_CAP,
            _ => HEADER_VALUE_CAP,
        };
        if value.len() > cap {
            return Err(HeadError::ValueTooLong);
        }
        let others = self
            .slots
            .iter()
            .filter(|s| s.name != name && s.name != HeaderName::Authorization)
            .count();
        if name != HeaderName::Authorization && others >= MAX_HEADERS {
            return Err(HeadError::TooManyHeaders);
        }
        // Rebuilt without the old value of `name` (if any), then `value`
        // appended: values stay packed whatever is replaced.
        let mut text: String<HEAD_TEXT_CAP> = String::new();
        let mut slots: Vec<Slot, { MAX_HEADERS + 1 }> = Vec::new();
        let too_long = |_| HeadError::HeadTooLong;
        text.push_str(self.path()).map_err(too_long)?;
        for slot in self.slots.iter().filter(|s| s.name != name) {
            let start = text.len();
            text.push_str(self.value(slot)).map_err(too_long)?;
            slots
                .push(Slot {
                    name: slot.name,
                    start: start as u16,
                    end: text.len() as u16,
                })
                .map_err(|_| HeadError::TooManyHeaders)?;
        }
        let start = text.len();
        text.push_str(value).map_err(too_long)?;
        // HEAD_TEXT_CAP < u16::MAX: every offset fits.
        slots
            .push(Slot {
                name,
                start: start as u16,
                end: text.len() as u16,
            })
            .map_err(|_| HeadError::TooManyHeaders)?;
        self.text = text;
        self.slots = slots;
        Ok(self)
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(&mut self, token: &Secret<impl AsRef<str>>) -> Result<&mut Self, HeadError> {
        let mut value: String<AUTHORIZATION_CAP> = String::new();
        value
            .push_str("Bearer ")
            .and_then(|_| value.push_str(token.expose().as_ref()))
            .map_err(|_| HeadError::ValueTooLong)?;
        self.set(HeaderName::Authorization, &value)
    }

    /// `Authorization: Basic base64(user:password)`.
    pub fn basic(
        &mut self,
        user: &str,
        password: &Secret<impl AsRef<str>>,
    ) -> Result<&mut Self, HeadError> {
        let mut value: String<AUTHORIZATION_CAP> = String::new();
        value
            .push_str("Basic ")
            .map_err(|_| HeadError::ValueTooLong)?;
        let mut encoder = Base64::new(&mut value);
        encoder.push(user.as_bytes())?;
        encoder.push(b":")?;
        encoder.push(password.expose().as_ref().as_bytes())?;
        encoder.finish()?;
        self.set(HeaderName::Authorization, &value)
    }

    /// `Content-Type: application/json`.
    pub fn json_body(&mut self) -> Result<&mut Self, HeadError> {
        self.set(HeaderName::ContentType, APPLICATION_JSON)
    }
}

impl fmt::Debug for RequestHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// One header, its value redacted when it is a credential.
        struct Shown<'a>(HeaderName, &'a str);
        impl fmt::Debug for Shown<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if self.0.is_secret() {
                    write!(f, "{}: <redacted>", self.0.as_str())
                } else {
                    write!(f, "{}: {}", self.0.as_str(), self.1)
                }
            }
        }
        f.debug_struct("RequestHead")
            .field("api", &self.api)
            .field("method", &self.method)
            .field("path", &LoggedPath(self.path()))
            .field(
                "headers",
                &DebugList(|| self.slots.iter().map(|s| Shown(s.name, self.value(s)))),
            )
            .finish()
    }
}

/// A `Debug` list of the items an iterator makes.
struct DebugList<F>(F);

impl<F, I> fmt::Debug for DebugList<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries((self.0)()).finish()
    }
}

impl fmt::Display for RequestHead {
    /// `POST /conductor/v1/transactions` — the line logs show. Query
    /// values are masked: they can carry an MSISDN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, LoggedPath(self.path()))
    }
}

/// A path as logs show it: query values replaced by `*`.
struct LoggedPath<'a>(&'a str);

impl fmt::Display for LoggedPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (path, query) = match self.0.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (self.0, None),
        };
        f.write_str(path)?;
        if let Some(query) = query {
            for (i, pair) in query.split('&').enumerate() {
                let name = pair.split_once('=').map_or(pair, |(n, _)| n);
                write!(f, "{}{name}=*", if i == 0 { '?' } else { '&' })?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for LoggedPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for RequestHead {
    fn format(&self, f: defmt::Formatter<'_>) {
        let mut logged: String<PATH_CAP> = String::new();
        // The logged form is never longer than the path.
        let _ = fmt::write(&mut logged, format_args!("{}", LoggedPath(self.path())));
        defmt::write!(f, "{} {=str}", self.method, logged.as_str())
    }
}

/// Streaming base64 (RFC 4648, padded) into a fixed-capacity string.
struct Base64<'a, const N: usize> {
    out: &'a mut String<N>,
    pending: [u8; 3],
    len: usize,
}

impl<'a, const N: usize> Base64<'a, N> {
    const ALPHABET: &'static [u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    fn new(out: &'a mut String<N>) -> Self {
        Self {
            out,
            pending: [0; 3],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), HeadError> {
        for &b in bytes {
            if let Some(slot) = self.pending.get_mut(self.len) {
                *slot = b;
            }
            self.len += 1;
            if self.len == 3 {
                self.emit(3)?;
            }
        }
        Ok(())
    }

    fn emit(&mut self, n: usize) -> Result<(), HeadError> {
        let [a, b, c] = self.pending;
        let triple = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
        for i in 0..4 {
            let ch = if i <= n {
                let idx = (triple >> (18 - 6 * i)) & 0x3f;
                Self::ALPHABET.get(idx as usize).copied().unwrap_or(b'=')
            } else {
                b'='
            };
            self.out
                .push(char::from(ch))
                .map_err(|_| HeadError::ValueTooLong)?;
        }
        self.pending = [0; 3];
        self.len = 0;
        Ok(())
    }

    fn finish(mut self) -> Result<(), HeadError> {
        if self.len > 0 {
            let n = self.len;
            self.emit(n)?;
        }
        Ok(())
    }
}

/// Builds a path with percent-encoded segments and query parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathBuilder {
    path: String<PATH_CAP>,
    has_query: bool,
}

impl PathBuilder {
    /// Start from a literal path prefix such as `/conductor/v1/transactions`.
    pub fn new(prefix: &str) -> Result<Self, HeadError> {
        Ok(Self {
            path: String::try_from(prefix).map_err(|_| HeadError::PathTooLong)?,
            has_query: false,
        })
    }

    /// Append a literal (trusted) piece such as `/complete`.
    pub fn literal(mut self, text: &str) -> Result<Self, HeadError> {
        self.path
            .push_str(text)
            .map_err(|_| HeadError::PathTooLong)?;
        Ok(self)
    }

    /// Append `/` and one percent-encoded path segment.
    pub fn segment(mut self, value: &str) -> Result<Self, HeadError> {
        self.path.push('/').map_err(|_| HeadError::PathTooLong)?;
        self.encode(value)?;
        Ok(self)
    }

    /// Append `?name=value` or `&name=value`, percent-encoded.
    pub fn query(mut self, name: &str, value: &str) -> Result<Self, HeadError> {
        let sep = if self.has_query { '&' } else { '?' };
        self.has_query = true;
        self.path.push(sep).map_err(|_| HeadError::PathTooLong)?;
        self.encode(name)?;
        self.path.push('=').map_err(|_| HeadError::PathTooLong)?;
        self.encode(value)?;
        Ok(self)
    }

    /// Append a query parameter only when a value is given.
    pub fn query_opt(self, name: &str, value: Option<&str>) -> Result<Self, HeadError> {
        match value {
            Some(v) => self.query(name, v),
            None => Ok(self),
        }
    }

    fn encode(&mut self, value: &str) -> Result<(), HeadError> {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                self.path
                    .push(char::from(b))
                    .map_err(|_| HeadError::PathTooLong)?;
            } else {
                for c in [
                    b'%',
                    HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
                    HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'),
                ] {
                    self.path
                        .push(char::from(c))
                        .map_err(|_| HeadError::PathTooLong)?;
                }
            }
        }
        Ok(())
    }

    /// The finished path and query.
    pub fn as_str(&self) -> &str {
        self.path.as_str()
    }

    /// A request head for this path.
    pub fn into_head(self, method: Method) -> RequestHead {
        let mut text = String::new();
        // PATH_CAP < HEAD_TEXT_CAP: the path always fits.
        let _ = text.push_str(&self.path);
        RequestHead {
            api: None,
            method,
            path_len: text.len() as u16,
            text,
            slots: Vec::new(),
        }
    }
}

/// The class of an HTTP status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StatusClass {
    /// 1xx
    Informational,
    /// 2xx
    Success,
    /// 3xx
    Redirection,
    /// 4xx
    ClientError,
    /// 5xx
    ServerError,
    /// Outside 100–599: the server is not speaking HTTP properly.
    Invalid,
}

/// An HTTP status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Status(pub u16);

impl Status {
    /// 200 OK
    pub const OK: Self = Self(200);
    /// 201 Created
    pub const CREATED: Self = Self(201);
    /// 202 Accepted
    pub const ACCEPTED: Self = Self(202);
    /// 400 Bad Request
    pub const BAD_REQUEST: Self = Self(400);
    /// 401 Unauthorized
    pub const UNAUTHORIZED: Self = Self(401);
    /// 404 Not Found
    pub const NOT_FOUND: Self = Self(404);
    /// 409 Conflict
    pub const CONFLICT: Self = Self(409);
    /// 422 Unprocessable Content
    pub const UNPROCESSABLE: Self = Self(422);
    /// 500 Internal Server Error
    pub const INTERNAL_SERVER_ERROR: Self = Self(500);
    /// 501 Not Implemented
    pub const NOT_IMPLEMENTED: Self = Self(501);
    /// 503 Service Unavailable
    pub const SERVICE_UNAVAILABLE: Self = Self(503);
    /// 504 Gateway Timeout
    pub const GATEWAY_TIMEOUT: Self = Self(504);

    /// The class of this status.
    pub const fn class(self) -> StatusClass {
        match self.0 {
            100..=199 => StatusClass::Informational,
            200..=299 => StatusClass::Success,
            300..=399 => StatusClass::Redirection,
            400..=499 => StatusClass::ClientError,
            500..=599 => StatusClass::ServerError,
            _ => StatusClass::Invalid,
        }
    }

    /// 2xx.
    pub const fn is_success(self) -> bool {
        matches!(self.class(), StatusClass::Success)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Longest `Location` kept: an Electrum purchase URL
/// (`/airtime/v5/purchases/{uuid}` on a long host name).
pub const LOCATION_CAP: usize = 256;

/// Longest `Content-Type` kept (`application/json; charset=utf-8` and
/// parameters).
pub const CONTENT_TYPE_CAP: usize = 64;

/// The parts of a response head the core reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code.
    pub status: Status,
    /// Conductor's `Idempotent-Replayed: true`: this is a replay of the
    /// first response to the same key.
    pub idempotent_replayed: bool,
    /// `Location` (Electrum 201 on purchase), if present and not too long.
    pub location: Option<String<LOCATION_CAP>>,
    /// `Content-Type`, if present and not too long.
    pub content_type: Option<String<CONTENT_TYPE_CAP>>,
}

impl ResponseHead {
    /// A head with only a status; headers are added with [`Self::header`].
    pub const fn new(status: Status) -> Self {
        Self {
            status,
            idempotent_replayed: false,
            location: None,
            content_type: None,
        }
    }

    /// Record one received header (name compared case-insensitively);
    /// headers the core does not read are ignored. A value too long for
    /// its field is dropped rather than truncated.
    pub fn header(&mut self, name: &str, value: &str) {
        let value = value.trim_ascii();
        if name.eq_ignore_ascii_case("Idempotent-Replayed") {
            self.idempotent_replayed = value.eq_ignore_ascii_case("true");
        } else if name.eq_ignore_ascii_case("Location") {
            self.location = String::try_from(value).ok();
        } else if name.eq_ignore_ascii_case("Content-Type") {
            self.content_type = String::try_from(value).ok();
        }
    }

    /// Whether the body is declared as JSON (`application/json`, any
    /// parameters, any case).
    pub fn is_json(&self) -> bool {
        self.content_type.as_ref().is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(APPLICATION_JSON))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn basic_auth_is_rfc4648_base64() {
        let mut head = RequestHead::new(Method::Post, "/collection/token/").unwrap();
        head.basic("Aladdin", &Secret::new("open sesame")).unwrap();
        assert_eq!(
            head.header(HeaderName::Authorization),
            Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
        );
        for (input, out) in [("a", "YQ=="), ("ab", "YWI="), ("abc", "YWJj"), ("", "")] {
            let mut s: String<16> = String::new();
            let mut enc = Base64::new(&mut s);
            enc.push(input.as_bytes()).unwrap();
            enc.finish().unwrap();
            assert_eq!(s.as_str(), out);
        }
    }

    #[test]
    fn credentials_never_print() {
        let mut head = RequestHead::new(Method::Post, "/conductor/v1/transactions").unwrap();
        head.bearer(&Secret::new("sk_test_123456")).unwrap();
        head.set(HeaderName::OcpApimSubscriptionKey, "subkey-9876")
            .unwrap();
        head.set(HeaderName::IdempotencyKey, "k-1").unwrap();
        let printed = format!("{head:?} {head}");
        assert!(!printed.contains("sk_test"), "{printed}");
        assert!(!printed.contains("subkey"), "{printed}");
        assert!(printed.contains("Idempotency-Key: k-1"));
        let lookup = PathBuilder::new("/airtime/v5/msisdn")
            .unwrap()
            .query("msisdn", "27749670999")
            .unwrap()
            .query("channelName", "USSD")
            .unwrap()
            .into_head(Method::Get);
        let printed = format!("{lookup} {lookup:?}");
        assert!(!printed.contains("27749670999"), "{printed}");
        assert!(printed.contains("GET /airtime/v5/msisdn?msisdn=*&channelName=*"));
        assert_eq!(
            head.header(HeaderName::Authorization),
            Some("Bearer sk_test_123456")
        );
    }

    #[test]
    fn replaced_values_stay_packed_and_a_refused_value_changes_nothing() {
        let mut head = RequestHead::new(Method::Post, "/p").unwrap();
        head.set(HeaderName::IdempotencyKey, "first").unwrap();
        head.bearer(&Secret::new("tok")).unwrap();
        head.set(HeaderName::RetailerId, "r-1").unwrap();
        head.set(HeaderName::IdempotencyKey, "second-key").unwrap();
        assert_eq!(head.path(), "/p");
        assert_eq!(head.authorization(), Some("Bearer tok"));
        assert_eq!(
            head.headers().collect::<std::vec::Vec<_>>(),
            [
                (HeaderName::RetailerId, "r-1"),
                (HeaderName::IdempotencyKey, "second-key")
            ]
        );

        // A token at its cap, then 256-byte values until the head is full.
        let token = "t".repeat(AUTHORIZATION_CAP - "Bearer ".len());
        head.bearer(&Secret::new(token.as_str())).unwrap();
        let value = "v".repeat(HEADER_VALUE_CAP);
        head.set(HeaderName::XCallbackUrl, &value).unwrap();
        head.set(HeaderName::XReferenceId, &value).unwrap();
        let full = head.clone();
        assert_eq!(
            head.set(HeaderName::XTargetEnvironment, &value).err(),
            Some(HeadError::HeadTooLong)
        );
        assert_eq!(head, full);
        assert_eq!(head.header(HeaderName::XTargetEnvironment), None);
        assert_eq!(head.header(HeaderName::XCallbackUrl), Some(value.as_str()));
    }

    #[test]
    fn header_injection_is_refused() {
        let mut head = RequestHead::new(Method::Get, "/").unwrap();
        assert_eq!(
            head.set(HeaderName::RetailerId, "a\r\nX-Evil: 1").err(),
            Some(HeadError::InvalidValue)
        );
        let long = "x".repeat(HEADER_VALUE_CAP + 1);
        assert_eq!(
            head.set(HeaderName::RetailerId, &long).err(),
            Some(HeadError::ValueTooLong)
        );
    }

    #[test]
    fn paths_are_percent_encoded() {
        let p = PathBuilder::new("/airtime/v5/msisdn")
            .unwrap()
            .query("msisdn", "+27749670999")
            .unwrap()
            .query_opt("operator", None)
            .unwrap()
            .query("channelName", "APP+IBank x")
            .unwrap();
        assert_eq!(
            p.as_str(),
            "/airtime/v5/msisdn?msisdn=%2B27749670999&channelName=APP%2BIBank%20x"
        );
        let p = PathBuilder::new("/x")
            .unwrap()
            .segment("a/b")
            .unwrap()
            .literal("/complete")
            .unwrap();
        assert_eq!(p.as_str(), "/x/a%2Fb/complete");
    }

    #[test]
    fn response_heads() {
        let mut head = ResponseHead::new(Status(201));
        head.header("idempotent-replayed", " TRUE ");
        head.header("location", "/airtime/v5/purchases/abc");
        head.header("content-type", "Application/JSON; charset=utf-8");
        head.header("x-other", "ignored");
        assert!(head.idempotent_replayed);
        assert_eq!(head.location.as_deref(), Some("/airtime/v5/purchases/abc"));
        assert!(head.is_json());
        assert_eq!(head.status.class(), StatusClass::Success);
        assert_eq!(Status(409).class(), StatusClass::ClientError);
        assert_eq!(Status(503).class(), StatusClass::ServerError);
        assert_eq!(Status(42).class(), StatusClass::Invalid);
    }
}
