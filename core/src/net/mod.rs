//! HTTPS for the terminal (feature `net`): our HTTP/1.1 (module
//! [`http1`]: a request head, an answer read into the caller's buffer)
//! over embedded-tls 0.19 (TLS 1.3, `TLS_AES_128_GCM_SHA256`, P-256), on
//! any [`embedded_nal_async`] TCP stack — embassy-net on the board, tokio
//! on the desktop. The same code runs on both.
//!
//! # Verification
//!
//! Certificates are checked by our own [`CryptoProvider`], never by
//! embedded-tls's (at most 3 DNS SANs of at most 64 bytes, no key usage,
//! path length, name constraints or critical extensions, and a copy of
//! the whole chain on the stack). Module `cert` reads the certificates in
//! place and checks the chain as rustls-webpki does for a TLS server:
//!
//! - a path from the leaf to the endpoint's configured CA (DER), each
//!   certificate signed (ECDSA P-256, SHA-256) by the next, the
//!   intermediates taken in any order from what the server sent;
//! - every issuer on it a CA (basicConstraints) allowed to sign
//!   certificates (keyUsage), within its pathLenConstraint and, if it
//!   lists purposes, for serverAuth; the leaf not a CA, allowed to sign
//!   (keyUsage digitalSignature) and, if it lists purposes, for
//!   serverAuth; no critical extension we do not understand;
//! - the endpoint's host name among the leaf's DNS SANs (any number, any
//!   length; the CN is never used, RFC 6125), and every DNS SAN inside the
//!   issuers' dNSName name constraints;
//! - validity against the wall clock set with [`set_wall_clock`]: until it
//!   is set, no TLS connection is opened at all;
//! - the server's CertificateVerify signature (ECDSA P-256 over the
//!   handshake transcript, RFC 8446 §4.4.3) checked with the leaf's key,
//!   the only thing kept of the Certificate message;
//! - a connection is used only if the handshake proved all of the above:
//!   embedded-tls would also accept a server that sends Finished without
//!   a Certificate or CertificateVerify.
//!
//! The records coming in pass a guard (module `guard`) that refuses those
//! TLS 1.3 does not allow where they are, ahead of two panics in
//! embedded-tls that such records reach.
//!
//! There is no switch that turns verification off.
//!
//! # Sessions and keep-alive
//!
//! [`Https`] is a [`Connect`]: each [`Session`] it opens owns at most one
//! connection, made at the session's first exchange and kept alive for the
//! next ones, so a flow run pays one handshake. A session ends when the
//! server closes, an exchange fails, or a request is for another API (whose
//! host differs); the driver then opens a new session, which reuses the
//! same TLS buffers. One buffer pair serves every API, so the board needs
//! one 16 KiB read buffer, not three.

pub(crate) mod cert;
pub(crate) mod guard;
pub mod http1;

use core::net::SocketAddr;
use core::sync::atomic::{AtomicU32, Ordering};

use digest::Digest as _;
use embedded_io_async::{ErrorType, Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use embedded_tls::{
    CertificateEntryRef, CertificateRef, CertificateVerifyRef, CryptoProvider, CryptoRng,
    CryptoRngCore, SignatureScheme, TlsConfig, TlsConnection, TlsContext, TlsError, TlsVerifier,
};
use heapless::Vec;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::VerifyingKey;
use rand_core::RngCore;

use crate::driver::{Connect, Transport};
use crate::flow::TransportFailure;
use crate::http::{Api, RequestHead, ResponseHead};
use crate::time::UnixTime;
use guard::RecordGuard;

/// TLS record read buffer: one full TLS record (16 KiB of plaintext plus
/// the record overhead). Real servers send full-size records; anything
/// smaller fails on them.
pub const TLS_READ_BUFFER: usize = 16_640;

/// TLS record write buffer: the ClientHello (~0.3 KiB) and our requests'
/// records. A request larger than one record goes out as several records
/// (embedded-tls flushes a full record and takes the rest in the next), so
/// 2 KiB costs one record per 2 KiB of request, nothing more.
pub const TLS_WRITE_BUFFER: usize = 2_048;

/// Longest endpoint host name: each endpoint keeps its name in a buffer
/// of this size (the providers' API hosts are far shorter). Certificates'
/// DNS names may be of any length: they are read in place.
pub const HOST_CAP: usize = 64;

/// Longest base path in front of an API's paths (`/api/v2`, …).
pub const BASE_PATH_CAP: usize = 64;

/// Seconds since 1970 as last set by the platform; 0 = not known yet.
/// A `u32` (good until 2106) because Cortex-M has no 64-bit atomics.
static WALL_CLOCK: AtomicU32 = AtomicU32::new(0);

/// Tell the TLS layer what time it is (SNTP on the board, the system clock
/// on the desktop). Certificates are checked against it; no connection is
/// opened before it is first set.
pub fn set_wall_clock(now: UnixTime) {
    let secs = u32::try_from(now.as_millis() / 1000).unwrap_or(u32::MAX);
    WALL_CLOCK.store(secs, Ordering::Relaxed);
}

/// Whether [`set_wall_clock`] has been called.
pub fn wall_clock_known() -> bool {
    WALL_CLOCK.load(Ordering::Relaxed) != 0
}

/// Where one API lives and whom to trust for it.
#[derive(Clone, Copy)]
pub struct Endpoint<'a> {
    /// DNS name: connected to, sent as SNI and `Host`, matched against the
    /// certificate's SANs. IP addresses cannot be verified (embedded-tls
    /// reads DNS SANs only): use a name (`localhost` for a local sandbox).
    pub host: &'a str,
    /// TCP port (443 for production).
    pub port: u16,
    /// Prefix in front of every path of the API (`""` for none).
    pub base_path: &'a str,
    /// The CA certificate (DER) the server's chain must lead to.
    pub ca_der: &'a [u8],
    /// How long one exchange with it may take, connection included
    /// ([`crate::driver::Transport::deadline`]; usually
    /// [`crate::driver::EXCHANGE_DEADLINE`]).
    pub deadline: crate::time::Duration,
}

/// How far an exchange got: what an interruption at its deadline means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Resolving, connecting, handshaking: nothing was sent.
    Connecting,
    /// Writing the request: the server cannot act on part of it.
    Writing,
    /// Reading the answer: the server may have acted.
    Reading,
}

impl core::fmt::Debug for Endpoint<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "https://{}:{}{}", self.host, self.port, self.base_path)
    }
}

/// One endpoint per API; an API without one cannot be reached.
#[derive(Debug, Clone, Copy, Default)]
pub struct Endpoints<'a> {
    /// Moment Conductor.
    pub conductor: Option<Endpoint<'a>>,
    /// MTN MoMo Collection.
    pub momo: Option<Endpoint<'a>>,
    /// Electrum Airtime.
    pub electrum: Option<Endpoint<'a>>,
}

impl<'a> Endpoints<'a> {
    /// The endpoint of `api`.
    pub const fn get(&self, api: Api) -> Option<&Endpoint<'a>> {
        match api {
            Api::Conductor => self.conductor.as_ref(),
            Api::MoMo => self.momo.as_ref(),
            Api::Electrum => self.electrum.as_ref(),
        }
    }
}

/// Counters for reports: handshakes and requests per flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NetStats {
    /// TLS handshakes completed.
    pub handshakes: u32,
    /// Connections that failed (DNS, TCP or TLS) before a request.
    pub connect_failures: u32,
    /// HTTP requests written.
    pub requests: u32,
}

/// The HTTPS connector: TCP stack, name resolver, CSPRNG, endpoints and
/// the TLS buffers its sessions borrow in turn.
pub struct Https<'a, T, D, R> {
    tcp: &'a T,
    dns: &'a D,
    rng: R,
    endpoints: Endpoints<'a>,
    read_buf: &'a mut [u8],
    write_buf: &'a mut [u8],
    stats: NetStats,
}

impl<T, D, R> core::fmt::Debug for Https<'_, T, D, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Https")
            .field("endpoints", &self.endpoints)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<'a, T, D, R> Https<'a, T, D, R>
where
    T: TcpConnect,
    D: Dns,
    R: RngCore + CryptoRng,
{
    /// A connector. `read_buf` should be [`TLS_READ_BUFFER`] bytes and
    /// `write_buf` [`TLS_WRITE_BUFFER`]; `rng` must be a CSPRNG (the TRNG
    /// on the board, the OS on the desktop).
    pub fn new(
        tcp: &'a T,
        dns: &'a D,
        rng: R,
        endpoints: Endpoints<'a>,
        read_buf: &'a mut [u8],
        write_buf: &'a mut [u8],
    ) -> Self {
        Self {
            tcp,
            dns,
            rng,
            endpoints,
            read_buf,
            write_buf,
            stats: NetStats::default(),
        }
    }

    /// What the connector has done so far.
    pub const fn stats(&self) -> NetStats {
        self.stats
    }
}

impl<'a, T, D, R> Connect for Https<'a, T, D, R>
where
    T: TcpConnect,
    D: Dns,
    R: RngCore + CryptoRng,
{
    type Session<'s>
        = Session<'s, T, D, R>
    where
        Self: 's;

    fn session(&mut self) -> Session<'_, T, D, R> {
        Session {
            tcp: self.tcp,
            dns: self.dns,
            rng: &mut self.rng,
            endpoints: self.endpoints,
            buffers: Some((&mut *self.read_buf, &mut *self.write_buf)),
            connection: None,
            phase: Phase::Connecting,
            stats: &mut self.stats,
        }
    }
}

/// One keep-alive connection's worth of exchanges (see the module docs).
pub struct Session<'s, T: TcpConnect + 's, D, R> {
    tcp: &'s T,
    dns: &'s D,
    rng: &'s mut R,
    endpoints: Endpoints<'s>,
    /// The TLS buffers until the connection takes them.
    buffers: Option<(&'s mut [u8], &'s mut [u8])>,
    /// The open connection and the API it serves.
    connection: Option<(Api, Conn<'s, RecordGuard<T::Connection<'s>>>)>,
    /// Where the current exchange is.
    phase: Phase,
    stats: &'s mut NetStats,
}

impl<T: TcpConnect, D, R> core::fmt::Debug for Session<'_, T, D, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("api", &self.connection.as_ref().map(|(api, _)| *api))
            .field("fresh", &self.buffers.is_some())
            .finish_non_exhaustive()
    }
}

impl<'s, T, D, R> Session<'s, T, D, R>
where
    T: TcpConnect,
    D: Dns,
    R: RngCore + CryptoRng,
{
    /// Resolve, connect and handshake for `api`.
    async fn open(&mut self, api: Api) -> Result<(), TransportFailure> {
        let Some(endpoint) = self.endpoints.get(api).copied() else {
            error!("https: no endpoint configured for {}", api);
            return Err(TransportFailure::Connect);
        };
        if !wall_clock_known() {
            error!("https: refusing TLS to {}: the time is not known yet", api);
            return Err(TransportFailure::Connect);
        }
        let Some((read_buf, write_buf)) = self.buffers.take() else {
            // accepts() said no; the driver should have opened a new session.
            return Err(TransportFailure::Connect);
        };
        let ip = match self
            .dns
            .get_host_by_name(endpoint.host, AddrType::Either)
            .await
        {
            Ok(ip) => ip,
            Err(_) => {
                warn!("https: {}: cannot resolve {}", api, endpoint.host);
                self.stats.connect_failures += 1;
                return Err(TransportFailure::Connect);
            }
        };
        let socket = match self.tcp.connect(SocketAddr::new(ip, endpoint.port)).await {
            Ok(socket) => socket,
            Err(_) => {
                warn!(
                    "https: {}: cannot connect to {}:{}",
                    api, endpoint.host, endpoint.port
                );
                self.stats.connect_failures += 1;
                return Err(TransportFailure::Connect);
            }
        };
        let mut tls = TlsConnection::new(RecordGuard::new(socket), read_buf, write_buf);
        let config = TlsConfig::new().with_server_name(endpoint.host);
        let mut provider = Provider {
            rng: &mut *self.rng,
            verifier: Verifier {
                host: endpoint.host,
                ca_der: endpoint.ca_der,
                proof: Proof::None,
            },
        };
        // Lent, not given: what it proved is read after the handshake.
        let opened = tls.open(TlsContext::new(&config, &mut provider)).await;
        if let Err(e) = opened {
            warn!(
                "https: {}: TLS handshake with {} failed: {}",
                api,
                endpoint.host,
                TlsFailure(e)
            );
            self.stats.connect_failures += 1;
            return Err(TransportFailure::Connect);
        }
        if !matches!(provider.verifier.proof, Proof::Proven) {
            warn!(
                "https: {}: {} finished the handshake without proving its certificate",
                api, endpoint.host
            );
            self.stats.connect_failures += 1;
            return Err(TransportFailure::Connect);
        }
        self.stats.handshakes += 1;
        debug!("https: {}: connected to {}", api, endpoint.host);
        self.connection = Some((api, Conn(tls)));
        Ok(())
    }
}

impl<T, D, R> Transport for Session<'_, T, D, R>
where
    T: TcpConnect,
    D: Dns,
    R: RngCore + CryptoRng,
{
    fn accepts(&self, head: &RequestHead) -> bool {
        match &self.connection {
            Some((api, _)) => Some(*api) == head.api(),
            None => self.buffers.is_some(),
        }
    }

    fn deadline(&self, head: &RequestHead) -> crate::time::Duration {
        head.api()
            .and_then(|api| self.endpoints.get(api))
            .map_or(crate::driver::EXCHANGE_DEADLINE, |e| e.deadline)
    }

    fn interrupted(&mut self) -> TransportFailure {
        // Half a handshake or half an answer: never reuse the connection.
        self.connection = None;
        match self.phase {
            Phase::Connecting => {
                self.stats.connect_failures += 1;
                TransportFailure::Connect
            }
            Phase::Writing => TransportFailure::BeforeWrite,
            Phase::Reading => TransportFailure::AfterWrite,
        }
    }

    async fn exchange(
        &mut self,
        head: &RequestHead,
        body: &[u8],
        response: &mut [u8],
    ) -> Result<(ResponseHead, usize), TransportFailure> {
        let Some(api) = head.api() else {
            error!("https: {} carries no API: cannot route it", head);
            return Err(TransportFailure::Connect);
        };
        self.phase = Phase::Connecting;
        if self.connection.is_none() {
            self.open(api).await?;
        }
        let Some(endpoint) = self.endpoints.get(api).copied() else {
            return Err(TransportFailure::Connect);
        };
        let Some((_, conn)) = self.connection.as_mut() else {
            return Err(TransportFailure::Connect);
        };
        self.stats.requests += 1;
        self.phase = Phase::Writing;
        let result = exchange(conn, &endpoint, head, body, response, &mut self.phase).await;
        match result {
            Ok((head, len, keep)) => {
                if !keep {
                    self.connection = None;
                }
                Ok((head, len))
            }
            Err(failure) => {
                // The connection is in an unknown state: never reuse it.
                self.connection = None;
                Err(failure)
            }
        }
    }
}

/// Write one request and read its answer. The bool says whether the
/// connection may carry another request.
async fn exchange<S: Read + Write>(
    conn: &mut Conn<'_, S>,
    endpoint: &Endpoint<'_>,
    head: &RequestHead,
    body: &[u8],
    response: &mut [u8],
    phase: &mut Phase,
) -> Result<(ResponseHead, usize, bool), TransportFailure> {
    let target = (endpoint.base_path, head.path());
    let host = (endpoint.host, endpoint.port);
    let written = http1::write_head(conn, target, host, head, body.len()).await;
    if written.is_err() || conn.write_all(body).await.is_err() || conn.flush().await.is_err() {
        return Err(TransportFailure::BeforeWrite);
    }
    trace!("https: {} written", head);
    *phase = Phase::Reading;

    let answer = http1::read_response(conn, response).await.map_err(|e| {
        warn!("https: {}: no answer ({})", head, HttpFailure(e));
        TransportFailure::AfterWrite
    })?;
    // An interim answer (1xx, 103 Early Hints) is not the answer: the real
    // one would be left to be read as the next request's.
    if answer.head.status.0 < 200 {
        warn!(
            "https: {}: an interim answer ({}): connection dropped",
            head, answer.head.status.0
        );
        return Err(TransportFailure::AfterWrite);
    }
    Ok((answer.head, answer.len, answer.keep))
}

/// The TLS connection as the HTTP layer sees it: a TLS close_notify is the
/// end of the stream (`Ok(0)`), as a TCP FIN would be.
struct Conn<'a, S: Read + Write + 'a>(TlsConnection<'a, S, guard::Suite>);

impl<'a, S: Read + Write + 'a> ErrorType for Conn<'a, S> {
    type Error = TlsError;
}

impl<'a, S: Read + Write + 'a> Read for Conn<'a, S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, TlsError> {
        match self.0.read(buf).await {
            Err(TlsError::ConnectionClosed) => Ok(0),
            other => other,
        }
    }
}

impl<'a, S: Read + Write + 'a> Write for Conn<'a, S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, TlsError> {
        self.0.write(buf).await
    }

    async fn flush(&mut self) -> Result<(), TlsError> {
        self.0.flush().await
    }
}

/// Our CryptoProvider: the caller's CSPRNG and a verifier against the
/// endpoint's CA with the real clock.
struct Provider<'r, R> {
    rng: &'r mut R,
    verifier: Verifier<'r>,
}

/// Our chain check (module `cert`: path to the configured CA, CA and key
/// usage rules, validity, host name, name constraints, critical
/// extensions), then our CertificateVerify check with the leaf's key.
///
/// embedded-tls accepts the server's encrypted handshake messages in any
/// order and none of them is required: a server (or a man in the middle,
/// who knows the handshake keys it agreed with us) could send Finished
/// without a Certificate or a CertificateVerify, and no check would run.
/// So the verifier keeps [`Proof`] of what it checked, and a connection is
/// used only if the handshake ended [`Proof::Proven`].
struct Verifier<'r> {
    host: &'r str,
    ca_der: &'r [u8],
    proof: Proof,
}

/// How far the server has proven who it is.
enum Proof {
    /// Nothing checked (yet).
    None,
    /// A verified Certificate message: the leaf's key and the transcript
    /// hash up to that message, for the CertificateVerify check.
    Certified(VerifyingKey, TranscriptHash),
    /// The CertificateVerify signature was made with the certified key
    /// over this handshake: the server holds the key.
    Proven,
}

/// The handshake transcript's running hash (SHA-256).
type TranscriptHash = <guard::Suite as embedded_tls::TlsCipherSuite>::Hash;

/// RFC 8446 §4.4.3: what the server's CertificateVerify signs is 64 spaces,
/// this context string (with its terminating 0) and the transcript hash.
const SERVER_CONTEXT: &[u8] = b"TLS 1.3, server CertificateVerify\x00";

/// The signed content: 64 + 34 + 32 bytes.
const SIGNED_LEN: usize = 64 + SERVER_CONTEXT.len() + 32;

impl TlsVerifier<guard::Suite> for Verifier<'_> {
    fn set_hostname_verification(&mut self, _hostname: &str) -> Result<(), TlsError> {
        // `host` is the endpoint's, given at construction: the same name.
        Ok(())
    }

    fn verify_certificate(
        &mut self,
        transcript: &TranscriptHash,
        cert: CertificateRef,
    ) -> Result<(), TlsError> {
        self.proof = Proof::None;
        // A Certificate message beyond `MAX_ENTRIES` entries: the rest
        // cannot be on a path our bound allows, and is not read.
        let mut entries: Vec<&[u8], { cert::MAX_ENTRIES }> = Vec::new();
        for entry in cert.entries.iter() {
            let CertificateEntryRef::X509(der) = entry else {
                return Err(TlsError::InvalidCertificate);
            };
            if entries.push(der).is_err() {
                break;
            }
        }
        let now = match WALL_CLOCK.load(Ordering::Relaxed) {
            0 => return Err(TlsError::InvalidCertificate),
            secs => u64::from(secs),
        };
        let leaf = cert::verify(&entries, self.ca_der, self.host, now).map_err(|refusal| {
            warn!("https: {}: {}", self.host, refusal.text());
            TlsError::InvalidCertificate
        })?;
        let key = leaf
            .p256_key()
            .and_then(|key| VerifyingKey::from_sec1_bytes(key).ok())
            .ok_or_else(|| {
                warn!("https: the key of {} is not a P-256 key", self.host);
                TlsError::InvalidCertificate
            })?;
        self.proof = Proof::Certified(key, transcript.clone());
        Ok(())
    }

    fn verify_signature(&mut self, verify: CertificateVerifyRef) -> Result<(), TlsError> {
        // Never without a verified certificate first; once only.
        let Proof::Certified(key, transcript) = core::mem::replace(&mut self.proof, Proof::None)
        else {
            return Err(TlsError::InvalidCertificate);
        };
        if !matches!(
            verify.signature_scheme,
            SignatureScheme::EcdsaSecp256r1Sha256
        ) {
            return Err(TlsError::InvalidSignatureScheme);
        }
        let mut signed: Vec<u8, SIGNED_LEN> = Vec::new();
        signed
            .extend_from_slice(&[0x20; 64])
            .and_then(|()| signed.extend_from_slice(SERVER_CONTEXT))
            .and_then(|()| signed.extend_from_slice(&transcript.finalize()))
            .map_err(|_| TlsError::EncodeError)?;
        let signature = cert::ecdsa_signature(verify.signature).ok_or(TlsError::DecodeError)?;
        key.verify(&signed, &signature).map_err(|_| {
            warn!("https: {}: the handshake signature is wrong", self.host);
            TlsError::InvalidSignature
        })?;
        self.proof = Proof::Proven;
        Ok(())
    }
}

impl<R: RngCore + CryptoRng> CryptoProvider for Provider<'_, R> {
    type CipherSuite = guard::Suite;
    type Signature = [u8; 0];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut *self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<guard::Suite>, TlsError> {
        Ok(&mut self.verifier)
    }
}

/// A TLS error for logs.
struct TlsFailure(TlsError);

impl core::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            TlsError::InvalidCertificate => f.write_str(
                "certificate refused (wrong CA, wrong host name, expired or not yet valid)",
            ),
            ref other => write!(f, "{other:?}"),
        }
    }
}

/// On the board embedded-tls is built without its defmt support (its own
/// logging and `Format` impls, 2 KB): the errors an operator can act on
/// are named, alerts by their RFC 8446 number, the rest by the variant's
/// position in embedded-tls 0.19's `TlsError` (pinned in Cargo.toml).
#[cfg(feature = "defmt")]
impl defmt::Format for TlsFailure {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self.0 {
            TlsError::InvalidCertificate => defmt::write!(
                f,
                "certificate refused (wrong CA, wrong host name, expired or not yet valid)"
            ),
            TlsError::HandshakeAborted(_, alert) | TlsError::AbortHandshake(_, alert) => {
                defmt::write!(f, "handshake aborted: TLS alert {=u8}", alert as u8)
            }
            TlsError::ConnectionClosed => defmt::write!(f, "connection closed"),
            TlsError::Io(_) | TlsError::IoError => defmt::write!(f, "connection failed"),
            ref other => defmt::write!(
                f,
                "TLS error {=u8} (embedded-tls TlsError)",
                tls_ordinal(other)
            ),
        }
    }
}

/// `error`'s position in embedded-tls 0.19's `TlsError` (from 0).
#[cfg(feature = "defmt")]
fn tls_ordinal(error: &TlsError) -> u8 {
    use TlsError as E;
    match error {
        E::ConnectionClosed => 0,
        E::Unimplemented => 1,
        E::MissingHandshake => 2,
        E::HandshakeAborted(..) => 3,
        E::AbortHandshake(..) => 4,
        E::IoError => 5,
        E::InternalError => 6,
        E::InvalidRecord => 7,
        E::UnknownContentType => 8,
        E::InvalidNonceLength => 9,
        E::InvalidTicketLength => 10,
        E::UnknownExtensionType => 11,
        E::InsufficientSpace => 12,
        E::InvalidHandshake => 13,
        E::InvalidCipherSuite => 14,
        E::InvalidSignatureScheme => 15,
        E::InvalidSignature => 16,
        E::InvalidExtensionsLength => 17,
        E::InvalidSessionIdLength => 18,
        E::InvalidSupportedVersions => 19,
        E::InvalidApplicationData => 20,
        E::InvalidKeyShare => 21,
        E::InvalidCertificate => 22,
        E::InvalidCertificateEntry => 23,
        E::InvalidCertificateRequest => 24,
        E::InvalidPrivateKey => 25,
        E::UnableToInitializeCryptoEngine => 26,
        E::ParseError(_) => 27,
        E::OutOfMemory => 28,
        E::CryptoError => 29,
        E::EncodeError => 30,
        E::DecodeError => 31,
        E::Io(_) => 32,
    }
}

/// An HTTP error for logs.
struct HttpFailure(http1::HttpError<TlsError>);

impl core::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            http1::HttpError::Io(e) => TlsFailure(e).fmt(f),
            ref other => other.fmt(f),
        }
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for HttpFailure {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self.0 {
            http1::HttpError::Io(e) => defmt::write!(f, "{}", TlsFailure(e)),
            http1::HttpError::Closed => {
                defmt::write!(f, "connection closed before the answer ended")
            }
            http1::HttpError::TooLarge => defmt::write!(f, "answer larger than the buffer"),
            http1::HttpError::Malformed => defmt::write!(f, "malformed HTTP/1.1 answer"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature, SigningKey};

    /// A verifier whose certificate step passed with `key` after `seen`.
    fn verifier(key: &SigningKey, seen: &[u8]) -> Verifier<'static> {
        let mut transcript = TranscriptHash::new();
        transcript.update(seen);
        Verifier {
            host: "localhost",
            ca_der: &[],
            proof: Proof::Certified(*key.verifying_key(), transcript),
        }
    }

    /// The server's CertificateVerify signature over `seen`, as RFC 8446
    /// §4.4.3 builds it.
    fn server_signature(key: &SigningKey, seen: &[u8]) -> std::vec::Vec<u8> {
        let mut signed = std::vec![0x20u8; 64];
        signed.extend_from_slice(b"TLS 1.3, server CertificateVerify\x00");
        signed.extend_from_slice(&TranscriptHash::digest(seen));
        let signature: Signature = key.sign(&signed);
        signature.to_der().as_bytes().to_vec()
    }

    fn verify(scheme: SignatureScheme, signature: &[u8]) -> CertificateVerifyRef<'_> {
        CertificateVerifyRef {
            signature_scheme: scheme,
            signature,
        }
    }

    #[test]
    fn only_the_leafs_signature_over_this_transcript_passes() {
        let key = SigningKey::from_slice(&[7; 32]).unwrap();
        let other = SigningKey::from_slice(&[9; 32]).unwrap();
        let good = server_signature(&key, b"client hello, server hello");
        let p256 = SignatureScheme::EcdsaSecp256r1Sha256;

        let mut v = verifier(&key, b"client hello, server hello");
        assert!(!matches!(v.proof, Proof::Proven));
        assert!(v.verify_signature(verify(p256, &good)).is_ok());
        assert!(matches!(v.proof, Proof::Proven));
        // Used once: a second CertificateVerify has nothing to check
        // against, and takes the proof back.
        assert!(v.verify_signature(verify(p256, &good)).is_err());
        assert!(matches!(v.proof, Proof::None));

        let mut v = verifier(&key, b"client hello, another server hello");
        assert!(matches!(
            v.verify_signature(verify(p256, &good)),
            Err(TlsError::InvalidSignature)
        ));
        let mut v = verifier(&other, b"client hello, server hello");
        assert!(matches!(
            v.verify_signature(verify(p256, &good)),
            Err(TlsError::InvalidSignature)
        ));
        let mut v = verifier(&key, b"client hello, server hello");
        assert!(matches!(
            v.verify_signature(verify(SignatureScheme::RsaPssRsaeSha256, &good)),
            Err(TlsError::InvalidSignatureScheme)
        ));
        let mut v = verifier(&key, b"client hello, server hello");
        assert!(v.verify_signature(verify(p256, &good[..20])).is_err());
    }

    #[test]
    fn a_refused_signature_proves_nothing() {
        let key = SigningKey::from_slice(&[7; 32]).unwrap();
        let good = server_signature(&key, b"x");
        let mut v = verifier(&key, b"y");
        let p256 = SignatureScheme::EcdsaSecp256r1Sha256;
        assert!(v.verify_signature(verify(p256, &good)).is_err());
        assert!(matches!(v.proof, Proof::None));
    }

    #[test]
    fn no_signature_check_without_a_verified_certificate() {
        let key = SigningKey::from_slice(&[7; 32]).unwrap();
        let good = server_signature(&key, b"x");
        let mut v = Verifier {
            host: "localhost",
            ca_der: &[],
            proof: Proof::None,
        };
        assert!(v
            .verify_signature(verify(SignatureScheme::EcdsaSecp256r1Sha256, &good))
            .is_err());
    }
}
