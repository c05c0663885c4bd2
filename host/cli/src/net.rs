//! The desktop's network: tokio TCP and DNS behind the embedded-nal-async
//! traits, so till-core's HTTPS transport (feature `net`, the one the
//! firmware uses) runs unchanged; and the rustls alternative for endpoints
//! that need TLS 1.2 or RSA chains. [`HostConnect`] picks one per API, as
//! the configuration says.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration as StdDuration;

use embedded_io_adapters::tokio_1::FromTokio;
use embedded_io_async::{ErrorType, Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use rand_core::OsRng;
use till_core::driver::{Connect, Transport};
use till_core::flow::TransportFailure;
use till_core::http::{Api, Method, RequestHead, ResponseHead, Status};
use till_core::net::{Endpoint, Endpoints, Https, NetStats, Session};
use tokio::net::TcpStream;

use crate::config::{Config, EndpointConfig, TlsMode};

/// How long one connect, read or write may take before the exchange
/// counts as failed (the flows then recover by their own rules).
pub const IO_TIMEOUT: StdDuration = StdDuration::from_secs(15);

/// TCP over tokio, every operation bounded by a timeout.
#[derive(Debug, Clone, Copy)]
pub struct TokioTcp {
    timeout: StdDuration,
}

impl TokioTcp {
    /// With `timeout` per connect, read and write.
    pub const fn new(timeout: StdDuration) -> Self {
        Self { timeout }
    }
}

impl Default for TokioTcp {
    fn default() -> Self {
        Self::new(IO_TIMEOUT)
    }
}

impl TcpConnect for TokioTcp {
    type Error = io::Error;
    type Connection<'a> = Timed;

    async fn connect(&self, remote: SocketAddr) -> Result<Timed, io::Error> {
        let stream = timed(self.timeout, TcpStream::connect(remote)).await?;
        stream.set_nodelay(true)?;
        Ok(Timed {
            inner: FromTokio::new(stream),
            timeout: self.timeout,
        })
    }
}

/// `operation`, or `TimedOut` after `timeout`.
async fn timed<T>(
    timeout: StdDuration,
    operation: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    tokio::time::timeout(timeout, operation)
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}

/// A TCP stream whose reads and writes time out.
pub struct Timed {
    inner: FromTokio<TcpStream>,
    timeout: StdDuration,
}

impl std::fmt::Debug for Timed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timed")
            .field("peer", &self.inner.inner().peer_addr().ok())
            .finish()
    }
}

impl ErrorType for Timed {
    type Error = io::Error;
}

impl Read for Timed {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        timed(self.timeout, self.inner.read(buf)).await
    }
}

impl Write for Timed {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        timed(self.timeout, self.inner.write(buf)).await
    }

    async fn flush(&mut self) -> Result<(), io::Error> {
        timed(self.timeout, self.inner.flush()).await
    }
}

/// Name resolution through the system resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioDns;

impl Dns for TokioDns {
    type Error = io::Error;

    async fn get_host_by_name(&self, host: &str, addr_type: AddrType) -> Result<IpAddr, io::Error> {
        let wanted = |ip: &IpAddr| match addr_type {
            AddrType::IPv4 => ip.is_ipv4(),
            AddrType::IPv6 => ip.is_ipv6(),
            AddrType::Either => true,
        };
        let mut found = None;
        for addr in tokio::net::lookup_host((host, 0)).await? {
            let ip = addr.ip();
            // Prefer IPv4 for `localhost` and friends: the sandbox listens
            // on 127.0.0.1.
            if wanted(&ip) && (found.is_none() || ip.is_ipv4()) {
                found = Some(ip);
                if ip.is_ipv4() {
                    break;
                }
            }
        }
        found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
    }

    async fn get_host_by_address(
        &self,
        _addr: IpAddr,
        _result: &mut [u8],
    ) -> Result<usize, io::Error> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// What the HTTPS connections need to outlive a [`HostConnect`]: the CA
/// certificates in DER, the TLS buffers, the stack; and the terminal's
/// flow buffers.
pub struct NetResources {
    tcp: TokioTcp,
    dns: TokioDns,
    endpoints: [Option<(EndpointConfig, Vec<u8>)>; 3],
    read_buf: Vec<u8>,
    write_buf: Vec<u8>,
    buffers: crate::terminal::HostBuffers,
}

impl std::fmt::Debug for NetResources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetResources").finish_non_exhaustive()
    }
}

/// Why the network could not be set up from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A CA file held no certificate.
    #[error("{api}.ca_file: no PEM certificate found")]
    NoCertificate {
        /// Which API's section.
        api: Api,
    },
    /// The rustls client could not be built.
    #[error("{api}: cannot set up rustls: {reason}")]
    Rustls {
        /// Which API's section.
        api: Api,
        /// What reqwest said.
        reason: String,
    },
}

fn index(api: Api) -> usize {
    match api {
        Api::Conductor => 0,
        Api::MoMo => 1,
        Api::Electrum => 2,
    }
}

impl NetResources {
    /// From the configured endpoints.
    pub fn new(config: &Config) -> Result<Self, NetError> {
        let mut endpoints: [Option<(EndpointConfig, Vec<u8>)>; 3] = [None, None, None];
        for api in Api::ALL {
            let Some(endpoint) = config.endpoint(api) else {
                continue;
            };
            let der = match &endpoint.ca_pem {
                Some(pem) => pem_to_der(pem).ok_or(NetError::NoCertificate { api })?,
                None => Vec::new(),
            };
            endpoints[index(api)] = Some((endpoint.clone(), der));
        }
        Ok(Self {
            tcp: TokioTcp::default(),
            dns: TokioDns,
            endpoints,
            read_buf: vec![0; till_core::net::TLS_READ_BUFFER],
            write_buf: vec![0; till_core::net::TLS_WRITE_BUFFER],
            buffers: crate::terminal::HostBuffers::new(),
        })
    }
}

/// The first certificate of a PEM text, as DER.
pub fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let start = pem.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = start + pem.get(start..)?.find("-----END CERTIFICATE-----")?;
    let body: String = pem.get(start..end)?.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

type EmbeddedHttps<'a> = Https<'a, TokioTcp, TokioDns, OsRng>;

/// The terminal's connector: till-core's HTTPS for the APIs configured
/// with `tls = "embedded"`, rustls for those with `tls = "rustls"`.
pub struct HostConnect<'a> {
    embedded: EmbeddedHttps<'a>,
    rustls: [Option<RustlsTransport>; 3],
    rustls_requests: u32,
}

impl std::fmt::Debug for HostConnect<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostConnect")
            .field("embedded", &self.embedded)
            .finish_non_exhaustive()
    }
}

impl<'a> HostConnect<'a> {
    /// Over `resources`; also lends the terminal its flow buffers.
    pub fn new(
        resources: &'a mut NetResources,
    ) -> Result<(Self, till_core::terminal::TerminalBuffers<'a>), NetError> {
        let NetResources {
            tcp,
            dns,
            endpoints: configured,
            read_buf,
            write_buf,
            buffers,
        } = resources;
        let mut endpoints = Endpoints::default();
        let mut rustls: [Option<RustlsTransport>; 3] = [None, None, None];
        for api in Api::ALL {
            let Some((config, der)) = configured.get(index(api)).and_then(Option::as_ref) else {
                continue;
            };
            match config.tls {
                TlsMode::Embedded => {
                    let endpoint = Endpoint {
                        host: &config.host,
                        port: config.port,
                        base_path: &config.base_path,
                        ca_der: der,
                        deadline: config.exchange_deadline,
                    };
                    match api {
                        Api::Conductor => endpoints.conductor = Some(endpoint),
                        Api::MoMo => endpoints.momo = Some(endpoint),
                        Api::Electrum => endpoints.electrum = Some(endpoint),
                    }
                }
                TlsMode::Rustls => {
                    rustls[index(api)] = Some(RustlsTransport::new(api, config)?);
                }
            }
        }
        Ok((
            Self {
                embedded: Https::new(tcp, dns, OsRng, endpoints, read_buf, write_buf),
                rustls,
                rustls_requests: 0,
            },
            buffers.lend(),
        ))
    }

    /// Handshakes and requests of the embedded TLS path, plus the requests
    /// that went over rustls.
    pub fn stats(&self) -> NetStats {
        let mut stats = self.embedded.stats();
        stats.requests += self.rustls_requests;
        stats
    }
}

impl Connect for HostConnect<'_> {
    type Session<'s>
        = HostSession<'s>
    where
        Self: 's;

    fn session(&mut self) -> HostSession<'_> {
        HostSession {
            embedded: self.embedded.session(),
            rustls: &mut self.rustls,
            rustls_requests: &mut self.rustls_requests,
            last_rustls: false,
        }
    }
}

/// One session: the embedded HTTPS session, or a rustls client, per API.
pub struct HostSession<'s> {
    embedded: Session<'s, TokioTcp, TokioDns, OsRng>,
    rustls: &'s mut [Option<RustlsTransport>; 3],
    rustls_requests: &'s mut u32,
    /// The last exchange went over rustls.
    last_rustls: bool,
}

impl std::fmt::Debug for HostSession<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostSession")
            .field("embedded", &self.embedded)
            .finish_non_exhaustive()
    }
}

impl HostSession<'_> {
    fn rustls_for(&mut self, head: &RequestHead) -> Option<&mut RustlsTransport> {
        let api = head.api()?;
        self.rustls.get_mut(index(api))?.as_mut()
    }
}

impl Transport for HostSession<'_> {
    async fn exchange(
        &mut self,
        head: &RequestHead,
        body: &[u8],
        response: &mut [u8],
    ) -> Result<(ResponseHead, usize), TransportFailure> {
        self.last_rustls = self.rustls_for(head).is_some();
        if self.last_rustls {
            *self.rustls_requests += 1;
        }
        match self.rustls_for(head) {
            Some(rustls) => rustls.exchange(head, body, response).await,
            None => self.embedded.exchange(head, body, response).await,
        }
    }

    fn deadline(&self, head: &RequestHead) -> till_core::time::Duration {
        let rustls = head
            .api()
            .and_then(|api| self.rustls.get(index(api)))
            .and_then(Option::as_ref);
        match rustls {
            Some(rustls) => rustls.deadline,
            None => self.embedded.deadline(head),
        }
    }

    fn interrupted(&mut self) -> TransportFailure {
        if self.last_rustls {
            // reqwest drops the connection with the future; how far the
            // request got is unknown.
            TransportFailure::AfterWrite
        } else {
            self.embedded.interrupted()
        }
    }

    fn accepts(&self, head: &RequestHead) -> bool {
        let rustls = head
            .api()
            .and_then(|api| self.rustls.get(index(api)))
            .is_some_and(Option::is_some);
        rustls || self.embedded.accepts(head)
    }
}

/// HTTPS over rustls (through reqwest): TLS 1.2 and 1.3, RSA and ECDSA
/// chains, verified against the webpki roots plus the configured CA.
/// reqwest keeps connections alive in its pool.
pub struct RustlsTransport {
    client: reqwest::Client,
    base: String,
    deadline: till_core::time::Duration,
}

impl std::fmt::Debug for RustlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RustlsTransport")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl RustlsTransport {
    /// For one endpoint.
    pub fn new(api: Api, endpoint: &EndpointConfig) -> Result<Self, NetError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_webpki_certs(true)
            .connect_timeout(IO_TIMEOUT)
            .timeout(IO_TIMEOUT * 2);
        if let Some(pem) = &endpoint.ca_pem {
            let ca =
                reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| NetError::Rustls {
                    api,
                    reason: e.to_string(),
                })?;
            builder = builder.add_root_certificate(ca);
        }
        let client = builder.build().map_err(|e| NetError::Rustls {
            api,
            reason: e.to_string(),
        })?;
        Ok(Self {
            client,
            base: endpoint.url().trim_end_matches('/').to_string(),
            deadline: endpoint.exchange_deadline,
        })
    }
}

impl Transport for RustlsTransport {
    async fn exchange(
        &mut self,
        head: &RequestHead,
        body: &[u8],
        response: &mut [u8],
    ) -> Result<(ResponseHead, usize), TransportFailure> {
        let method = match head.method() {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base, head.path()));
        if let Some(auth) = head.authorization() {
            request = request.header("Authorization", auth);
        }
        for (name, value) in head.headers() {
            request = request.header(name.as_str(), value);
        }
        if !body.is_empty() || head.method() == Method::Post {
            request = request.body(body.to_vec());
        }
        let answer = request.send().await.map_err(|e| {
            tracing::warn!("rustls: {head}: {e}");
            if e.is_connect() {
                TransportFailure::Connect
            } else {
                TransportFailure::AfterWrite
            }
        })?;
        let mut result = ResponseHead::new(Status(answer.status().as_u16()));
        for (name, value) in answer.headers() {
            result.header(name.as_str(), value.to_str().unwrap_or(""));
        }
        let bytes = answer
            .bytes()
            .await
            .map_err(|_| TransportFailure::AfterWrite)?;
        if bytes.len() > response.len() {
            tracing::warn!(
                "rustls: {head}: answer of {} bytes does not fit",
                bytes.len()
            );
            return Err(TransportFailure::AfterWrite);
        }
        let n = bytes.len();
        response
            .get_mut(..n)
            .ok_or(TransportFailure::AfterWrite)?
            .copy_from_slice(&bytes);
        Ok((result, n))
    }
}
