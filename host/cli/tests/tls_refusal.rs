//! till's HTTPS transport (till-core feature `net`: till's HTTP/1.1 over
//! embedded-tls 0.19 with till's own verifier) refuses the certificates it
//! must refuse, and accepts the one it must accept.
//!
//! Each case drives [`Https`] exactly as the terminal does (tokio TCP and
//! DNS from till-host, the OS RNG, the real TLS buffer sizes) against a
//! TLS 1.3 server on `127.0.0.1`, reached as `localhost`:
//!
//! | server certificate                              | expected  |
//! |-------------------------------------------------|-----------|
//! | leaf for `localhost` from the configured CA     | accepted  |
//! | same leaf from another CA with the same name    | refused   |
//! | configured CA, `not_after` in the past          | refused   |
//! | configured CA, `not_before` in the future       | refused   |
//! | configured CA, SAN and CN `other.example`       | refused   |
//! | SAN `other.example`, CN `localhost`             | refused   |
//! | leaf from an intermediate CA under the CA       | accepted  |
//! | leaf from a non-CA certificate under the CA     | refused   |
//! | host as 5th of 20 SANs, beside a 200-byte SAN   | accepted  |
//! | extendedKeyUsage clientAuth only                | refused   |
//! | keyUsage without digitalSignature               | refused   |
//! | root → A (pathLen 0) → B → leaf                 | refused   |
//! | host outside an intermediate's name constraints | refused   |
//! | an unknown critical extension (leaf or CA)      | refused   |
//! | a CA certificate as the server's                | refused   |
//! | no DNS SAN, CN `localhost`                      | refused   |
//! | an issuer without keyCertSign                   | refused   |
//! | intermediates out of order, plus the root       | accepted  |
//! | the sandbox, under its own CA                   | accepted  |
//! | the sandbox, under another sandbox's CA         | refused   |
//!
//! And answers read through real TLS records: three that must fail the
//! exchange, not be taken or crash (one that begins with an interim 103, a
//! body longer than its Content-Length, a head with bare line feeds), and
//! two that must be read whole (a chunked body split across records, a
//! body that runs to the server's close_notify).
//!
//! The bad certificates are made by [`Pki::leaf`] from the same template
//! as the good one with one field changed, and served by the same server,
//! so the accepted control case shows that each refusal is for its defect
//! and not for the setup. A refusal must show everywhere the terminal
//! could notice it: the exchange fails with [`TransportFailure::Connect`]
//! (nothing was sent), the connector counts a connect failure and no
//! handshake, the server answers no request, and the transport logs that
//! the certificate was refused (not some other handshake error).
//!
//! Not tested here: "no TLS before the wall clock is set". The clock is a
//! process-global static and these tests run in parallel, so each of them
//! sets it to the system time instead; that case is tested elsewhere.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration as StdDuration, SystemTime, UNIX_EPOCH};

use rand_core::OsRng;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, KeyPair, KeyUsagePurpose,
    NameConstraints, PKCS_ECDSA_P256_SHA256,
};
use till_core::driver::{Connect, Transport};
use till_core::flow::TransportFailure;
use till_core::http::{Api, Method, RequestHead};
use till_core::net::{
    set_wall_clock, Endpoint, Endpoints, Https, NetStats, TLS_READ_BUFFER, TLS_WRITE_BUFFER,
};
use till_core::time::UnixTime;
use till_host::net::{pem_to_der, TokioDns, TokioTcp};
use till_sandbox::{Sandbox, SandboxConfig};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// The name every endpoint is reached by (embedded-tls reads DNS SANs
/// only, so never an IP address).
const HOST: &str = "localhost";

/// Subject of both test CAs: the impostor differs from the configured one
/// by its key alone, so only the signature check can tell them apart.
const CA_NAME: &str = "till tls_refusal test CA";

/// What till-core logs (at warn level) when embedded-tls says
/// `InvalidCertificate`: see `TlsFailure` in core/src/net.rs.
const REFUSED: &str = "certificate refused";

/// What till-core's verifier logs when the host is not among the leaf's
/// DNS SANs (checked before the chain, so it says nothing about the CA).
const NAME_MISMATCH: &str = "is not among the certificate's DNS names";

/// What till-core's verifier logs when a certificate that signs another in
/// the chain is not a CA.
const NOT_A_CA: &str = "a certificate in the chain is not a CA";

/// Per connect, read and write, so a hung handshake fails the test fast.
const IO_TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// What the mini servers answer to any request.
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";

// ---------------------------------------------------------------------------
// Certificates

/// A CA (ECDSA P-256) that issues leaves: a root, or a certificate under
/// one.
struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    /// What the server sends after the leaf: this issuer's certificate and
    /// those above it, up to (not including) the root.
    chain: Vec<CertificateDer<'static>>,
}

/// The fields of a leaf certificate the tests vary.
struct LeafSpec {
    /// DNS SANs.
    names: Vec<String>,
    /// Subject CN (never used for the name check: RFC 6125).
    common_name: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    /// extendedKeyUsage purposes (serverAuth in the good one).
    purposes: Vec<ExtendedKeyUsagePurpose>,
    /// keyUsage (digitalSignature in the good one).
    key_usages: Vec<KeyUsagePurpose>,
    /// basicConstraints (not a CA in the good one).
    is_ca: IsCa,
    /// Extra extensions (none in the good one).
    extensions: Vec<CustomExtension>,
}

impl LeafSpec {
    /// A certificate the transport must accept: `localhost`, valid from
    /// yesterday for a month.
    fn good() -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            names: vec![HOST.to_owned()],
            common_name: HOST.to_owned(),
            not_before: now - Duration::days(1),
            not_after: now + Duration::days(30),
            purposes: vec![ExtendedKeyUsagePurpose::ServerAuth],
            key_usages: vec![KeyUsagePurpose::DigitalSignature],
            is_ca: IsCa::ExplicitNoCa,
            extensions: vec![],
        }
    }
}

/// A private extension (1.3.6.1.4.1.55555.1, NULL) marked critical: no
/// verifier understands it, so none may accept it.
fn unknown_critical_extension() -> CustomExtension {
    let mut extension =
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![0x05, 0x00]);
    extension.set_criticality(true);
    extension
}

/// A leaf certificate with the chain above it, and its key, DER.
struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Pki {
    /// A new self-signed CA named [`CA_NAME`], valid for ten years.
    fn new() -> Self {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, CA_NAME);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("CA key");
        let ca = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        Self { ca, chain: vec![] }
    }

    /// A certificate issued by this CA that issues leaves in turn: marked
    /// as a CA (basicConstraints `cA: TRUE`) or, with `ca == false`, an
    /// ordinary end-entity certificate whose key signs anyway.
    fn intermediate(&self, ca: bool) -> Self {
        self.intermediate_with(|params| {
            if !ca {
                params.is_ca = IsCa::ExplicitNoCa;
                params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            }
        })
    }

    /// An intermediate CA (basicConstraints `cA`, keyCertSign) as `edit`
    /// leaves it.
    fn intermediate_with(&self, edit: impl FnOnce(&mut CertificateParams)) -> Self {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "till tls_refusal intermediate");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        edit(&mut params);
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(365);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("intermediate key");
        let issuer = CertifiedIssuer::signed_by(params, key, &self.ca).expect("intermediate");
        let mut chain = vec![issuer.der().clone()];
        chain.extend(self.chain.iter().cloned());
        Self { ca: issuer, chain }
    }

    /// The CA certificate, DER: what an endpoint is configured with.
    fn ca_der(&self) -> Vec<u8> {
        self.ca.der().to_vec()
    }

    /// A server certificate (ECDSA P-256, digitalSignature, serverAuth)
    /// issued by this CA.
    fn leaf(&self, spec: &LeafSpec) -> Leaf {
        let mut params = CertificateParams::new(spec.names.clone()).expect("SANs");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, spec.common_name.as_str());
        params.distinguished_name = dn;
        params.is_ca = spec.is_ca;
        params.key_usages = spec.key_usages.clone();
        params.extended_key_usages = spec.purposes.clone();
        params.custom_extensions = spec.extensions.clone();
        params.use_authority_key_identifier_extension = true;
        params.not_before = spec.not_before;
        params.not_after = spec.not_after;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("leaf key");
        let cert = params.signed_by(&key, &self.ca).expect("leaf certificate");
        let mut chain = vec![cert.der().clone()];
        chain.extend(self.chain.iter().cloned());
        Leaf {
            chain,
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }
}

// ---------------------------------------------------------------------------
// A TLS 1.3 server that presents one certificate

/// Serves [`ANSWER`] over TLS 1.3 with one leaf (alone, as the sandbox
/// sends it, or with its intermediates) on `127.0.0.1`, and counts the
/// requests it answered.
struct Server {
    port: u16,
    answered: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

/// Presents one certificate chain, whatever it holds.
#[derive(Debug)]
struct FixedCert(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for FixedCert {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

impl Server {
    async fn start(leaf: Leaf) -> Self {
        Self::answering(leaf, &[ANSWER], false).await
    }

    /// A server that answers every request with the parts of `answer`,
    /// each in TLS records of its own, and with `close`, then hangs up.
    async fn answering(leaf: Leaf, answer: &'static [&'static [u8]], close: bool) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // A fixed resolver, not `with_single_cert`: rustls would refuse to
        // serve some of the bad certificates (an unknown critical
        // extension), and serving them is the point.
        let key = provider
            .key_provider
            .load_private_key(leaf.key)
            .expect("server key");
        let certified = Arc::new(rustls::sign::CertifiedKey::new(leaf.chain, key));
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(FixedCert(certified)));
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let answered = Arc::new(AtomicUsize::new(0));
        let counter = answered.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    // A refused certificate ends here: the client hangs up.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut chunk = [0u8; 1024];
                    loop {
                        match tls.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&chunk[..n]),
                        }
                        // Bodies are empty here: the head is the request.
                        if request.windows(4).any(|w| w == b"\r\n\r\n") {
                            request.clear();
                            counter.fetch_add(1, Ordering::SeqCst);
                            for part in answer {
                                if tls.write_all(part).await.is_err() || tls.flush().await.is_err()
                                {
                                    return;
                                }
                            }
                            if close {
                                let _ = tls.shutdown().await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        Self {
            port,
            answered,
            task,
        }
    }

    /// Requests answered so far.
    fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------
// Log capture

/// Collects the warn and error records logged on the current thread while
/// [`capture_logs`] is active. `log` has one process-global logger, but a
/// `#[tokio::test]` runs its client on its own test thread, so per-thread
/// buffers keep parallel tests apart.
struct Capture;

thread_local! {
    static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            CAPTURED.with(|captured| {
                if let Some(lines) = captured.borrow_mut().as_mut() {
                    lines.push(format!("{}: {}", record.target(), record.args()));
                }
            });
        }
    }

    fn flush(&self) {}
}

static LOGGER: Capture = Capture;

/// Start capturing this thread's log records (installs the logger once).
fn capture_logs() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&LOGGER).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Warn);
    });
    CAPTURED.with(|captured| *captured.borrow_mut() = Some(Vec::new()));
}

/// Stop capturing; what was captured.
fn captured_logs() -> Vec<String> {
    CAPTURED.with(|captured| captured.borrow_mut().take().unwrap_or_default())
}

// ---------------------------------------------------------------------------
// The terminal's side

/// Set the TLS wall clock to the system time: every test does, first
/// (the clock is process-global; all tests set it to the same "now").
fn set_clock_to_now() {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock after 1970");
    let millis = u64::try_from(since_epoch.as_millis()).expect("system clock before 2554");
    set_wall_clock(UnixTime::from_millis(millis));
}

/// What one attempt of the terminal came to.
#[derive(Debug)]
struct Outcome {
    /// The HTTP status, or why the exchange failed.
    result: Result<u16, TransportFailure>,
    /// The answer's body (empty when it failed).
    body: Vec<u8>,
    /// The connector's counters afterwards.
    stats: NetStats,
    /// Warn and error log lines of the attempt.
    logs: Vec<String>,
}

impl Outcome {
    /// Whether a log line contains `text`.
    fn logged(&self, text: &str) -> bool {
        self.logs.iter().any(|line| line.contains(text))
    }
}

/// Conductor's `POST /healthcheck` through the core transport to
/// `localhost:port`, trusting `ca_der`.
async fn healthcheck(port: u16, ca_der: &[u8]) -> Outcome {
    let tcp = TokioTcp::new(IO_TIMEOUT);
    let dns = TokioDns;
    let endpoints = Endpoints {
        conductor: Some(Endpoint {
            host: HOST,
            port,
            base_path: "",
            ca_der,
            deadline: till_core::driver::EXCHANGE_DEADLINE,
        }),
        ..Endpoints::default()
    };
    let mut read_buf = vec![0u8; TLS_READ_BUFFER];
    let mut write_buf = vec![0u8; TLS_WRITE_BUFFER];
    let mut https = Https::new(&tcp, &dns, OsRng, endpoints, &mut read_buf, &mut write_buf);
    let mut head = RequestHead::new(Method::Post, "/healthcheck").expect("request head");
    head.for_api(Api::Conductor);
    let mut response = [0u8; 1024];

    capture_logs();
    let (result, body) = {
        let mut session = https.session();
        match session.exchange(&head, b"", &mut response).await {
            Ok((head, len)) => (Ok(head.status.0), response[..len].to_vec()),
            Err(failure) => (Err(failure), Vec::new()),
        }
    };
    let logs = captured_logs();
    Outcome {
        result,
        body,
        stats: https.stats(),
        logs,
    }
}

/// The control: one handshake, one request, 200.
fn assert_accepted(outcome: &Outcome) {
    assert_eq!(outcome.result, Ok(200), "{outcome:#?}");
    assert_eq!(
        outcome.stats,
        NetStats {
            handshakes: 1,
            connect_failures: 0,
            requests: 1,
        },
        "{outcome:#?}"
    );
    assert!(!outcome.logged(REFUSED), "{outcome:#?}");
}

/// A refusal: no handshake, one connect failure, nothing sent, and the
/// log says it was the certificate.
fn assert_refused(outcome: &Outcome) {
    assert_eq!(
        outcome.result,
        Err(TransportFailure::Connect),
        "{outcome:#?}"
    );
    assert_eq!(
        outcome.stats,
        NetStats {
            handshakes: 0,
            connect_failures: 1,
            requests: 0,
        },
        "{outcome:#?}"
    );
    assert!(outcome.logged(REFUSED), "{outcome:#?}");
}

/// Serve a leaf made by `issuer` from `spec`, connect trusting `trusted`.
async fn attempt(issuer: &Pki, spec: &LeafSpec, trusted: &Pki) -> (Outcome, usize) {
    let server = Server::start(issuer.leaf(spec)).await;
    let outcome = healthcheck(server.port, &trusted.ca_der()).await;
    (outcome, server.answered())
}

// ---------------------------------------------------------------------------
// The cases

#[tokio::test]
async fn accepts_a_good_certificate_from_the_configured_ca() {
    set_clock_to_now();
    let pki = Pki::new();
    let (outcome, answered) = attempt(&pki, &LeafSpec::good(), &pki).await;
    assert_accepted(&outcome);
    assert_eq!(answered, 1);
}

#[tokio::test]
async fn refuses_a_certificate_from_another_ca() {
    set_clock_to_now();
    let configured = Pki::new();
    // Same subject name, different key: only the signature can tell.
    let impostor = Pki::new();
    let (outcome, answered) = attempt(&impostor, &LeafSpec::good(), &configured).await;
    assert_refused(&outcome);
    assert!(!outcome.logged(NAME_MISMATCH), "{outcome:#?}");
    assert_eq!(answered, 0);
}

#[tokio::test]
async fn refuses_an_expired_certificate() {
    set_clock_to_now();
    let pki = Pki::new();
    let now = OffsetDateTime::now_utc();
    let spec = LeafSpec {
        not_before: now - Duration::days(30),
        not_after: now - Duration::days(1),
        ..LeafSpec::good()
    };
    let (outcome, answered) = attempt(&pki, &spec, &pki).await;
    assert_refused(&outcome);
    assert!(!outcome.logged(NAME_MISMATCH), "{outcome:#?}");
    assert_eq!(answered, 0);
}

#[tokio::test]
async fn refuses_a_certificate_not_yet_valid() {
    set_clock_to_now();
    let pki = Pki::new();
    let now = OffsetDateTime::now_utc();
    let spec = LeafSpec {
        not_before: now + Duration::days(1),
        not_after: now + Duration::days(30),
        ..LeafSpec::good()
    };
    let (outcome, answered) = attempt(&pki, &spec, &pki).await;
    assert_refused(&outcome);
    assert!(!outcome.logged(NAME_MISMATCH), "{outcome:#?}");
    assert_eq!(answered, 0);
}

#[tokio::test]
async fn refuses_a_certificate_for_another_host() {
    set_clock_to_now();
    let pki = Pki::new();
    let spec = LeafSpec {
        names: vec!["other.example".to_owned()],
        common_name: "other.example".to_owned(),
        ..LeafSpec::good()
    };
    let (outcome, answered) = attempt(&pki, &spec, &pki).await;
    assert_refused(&outcome);
    assert!(outcome.logged(NAME_MISMATCH), "{outcome:#?}");
    assert_eq!(answered, 0);
}

#[tokio::test]
async fn refuses_a_certificate_whose_sans_miss_the_host_even_if_its_cn_matches() {
    // RFC 6125: with DNS SANs present, the CN does not count. (embedded-tls's
    // own verifier would accept this one: it falls back to the CN.)
    set_clock_to_now();
    let pki = Pki::new();
    let spec = LeafSpec {
        names: vec!["other.example".to_owned()],
        common_name: HOST.to_owned(),
        ..LeafSpec::good()
    };
    let (outcome, answered) = attempt(&pki, &spec, &pki).await;
    assert_refused(&outcome);
    assert!(outcome.logged(NAME_MISMATCH), "{outcome:#?}");
    assert_eq!(answered, 0);
}

#[tokio::test]
async fn accepts_a_leaf_from_an_intermediate_ca_under_the_configured_ca() {
    set_clock_to_now();
    let root = Pki::new();
    let (outcome, answered) = attempt(&root.intermediate(true), &LeafSpec::good(), &root).await;
    assert_accepted(&outcome);
    assert_eq!(answered, 1);
}

#[tokio::test]
async fn refuses_a_leaf_signed_by_a_certificate_that_is_not_a_ca() {
    set_clock_to_now();
    let root = Pki::new();
    // Every signature in the chain is good: only basicConstraints tell.
    let (outcome, answered) = attempt(&root.intermediate(false), &LeafSpec::good(), &root).await;
    assert_refused(&outcome);
    assert!(outcome.logged(NOT_A_CA), "{outcome:#?}");
    assert_eq!(answered, 0);
}

/// What the verifier logs for each kind of refusal (core/src/net/cert.rs).
const NOT_FOR_SERVERS: &str = "its key usage does not allow a TLS server";
const PATH_TOO_LONG: &str = "more CAs in the chain than an issuer allows";
const OUTSIDE_CONSTRAINTS: &str = "outside an issuer's name constraints";
const CRITICAL: &str = "a critical extension that is not understood";
const CA_AS_LEAF: &str = "the server's certificate is a CA";

#[tokio::test]
async fn accepts_the_host_as_the_fifth_of_twenty_names_beside_a_200_byte_name() {
    // embedded-tls's own verifier reads at most 3 DNS names of at most 64
    // bytes: both of these would be refused there.
    set_clock_to_now();
    let pki = Pki::new();
    let mut names: Vec<String> = (0..20).map(|i| format!("name{i}.example.com")).collect();
    names[4] = HOST.to_owned();
    let long = format!(
        "{}.{}.{}.example.com",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63)
    );
    assert!(long.len() >= 200, "{}", long.len());
    names[1] = long.clone();
    let spec = LeafSpec {
        names,
        ..LeafSpec::good()
    };
    let (outcome, answered) = attempt(&pki, &spec, &pki).await;
    assert_accepted(&outcome);
    assert_eq!(answered, 1);
    // The long name is read whole: as the only name, it does not match.
    let spec = LeafSpec {
        names: vec![long],
        ..LeafSpec::good()
    };
    let (outcome, _) = attempt(&pki, &spec, &pki).await;
    assert_refused(&outcome);
    assert!(outcome.logged(NAME_MISMATCH), "{outcome:#?}");
}

#[tokio::test]
async fn refuses_a_leaf_for_client_authentication_only() {
    set_clock_to_now();
    let pki = Pki::new();
    let spec = LeafSpec {
        purposes: vec![ExtendedKeyUsagePurpose::ClientAuth],
        ..LeafSpec::good()
    };
    let (outcome, answered) = attempt(&pki, &spec, &pki).await;
    assert_refused(&outcome);
    assert!(outcome.logged(NOT_FOR_SERVERS), "{outcome:#?}");
    assert_eq!(answered, 0);
    // Without extendedKeyUsage at all, any purpose is allowed.
    let spec = LeafSpec {
        purposes: vec![],
        ..LeafSpec::good()
    };
    assert_accepted(&attempt(&pki, &spec, &pki).await.0);
}

#[tokio::test]
async fn refuses_a_leaf_whose_key_may_not_sign() {
    set_clock_to_now();
    let pki = Pki::new();
    let spec = LeafSpec {
        key_usages: vec![KeyUsagePurpose::KeyAgreement],
        ..LeafSpec::good()
    };
    let (outcome, _) = attempt(&pki, &spec, &pki).await;
    assert_refused(&outcome);
    assert!(outcome.logged(NOT_FOR_SERVERS), "{outcome:#?}");
}

#[tokio::test]
async fn refuses_a_chain_longer_than_an_issuers_path_length() {
    set_clock_to_now();
    let root = Pki::new();
    // root → A (pathLen 0: no CA below it) → B → leaf.
    let a = root.intermediate_with(|p| p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0)));
    let (outcome, answered) = attempt(&a.intermediate(true), &LeafSpec::good(), &root).await;
    assert_refused(&outcome);
    assert!(outcome.logged(PATH_TOO_LONG), "{outcome:#?}");
    assert_eq!(answered, 0);
    // pathLen 0 still allows a leaf right below it; pathLen 1 allows B.
    assert_accepted(&attempt(&a, &LeafSpec::good(), &root).await.0);
    let a1 = root.intermediate_with(|p| p.is_ca = IsCa::Ca(BasicConstraints::Constrained(1)));
    assert_accepted(
        &attempt(&a1.intermediate(true), &LeafSpec::good(), &root)
            .await
            .0,
    );
}

#[tokio::test]
async fn refuses_a_name_outside_an_issuers_name_constraints() {
    set_clock_to_now();
    let root = Pki::new();
    let elsewhere = root.intermediate_with(|p| {
        p.name_constraints = Some(NameConstraints {
            permitted_subtrees: vec![GeneralSubtree::DnsName("example.com".to_owned())],
            excluded_subtrees: vec![],
        })
    });
    let (outcome, answered) = attempt(&elsewhere, &LeafSpec::good(), &root).await;
    assert_refused(&outcome);
    assert!(outcome.logged(OUTSIDE_CONSTRAINTS), "{outcome:#?}");
    assert_eq!(answered, 0);
    let excluded = root.intermediate_with(|p| {
        p.name_constraints = Some(NameConstraints {
            permitted_subtrees: vec![],
            excluded_subtrees: vec![GeneralSubtree::DnsName(HOST.to_owned())],
        })
    });
    let (outcome, _) = attempt(&excluded, &LeafSpec::good(), &root).await;
    assert_refused(&outcome);
    assert!(outcome.logged(OUTSIDE_CONSTRAINTS), "{outcome:#?}");
    // A constraint that permits the host lets it through.
    let here = root.intermediate_with(|p| {
        p.name_constraints = Some(NameConstraints {
            permitted_subtrees: vec![GeneralSubtree::DnsName(HOST.to_owned())],
            excluded_subtrees: vec![GeneralSubtree::DnsName("example.com".to_owned())],
        })
    });
    assert_accepted(&attempt(&here, &LeafSpec::good(), &root).await.0);
}

#[tokio::test]
async fn refuses_an_unknown_critical_extension() {
    set_clock_to_now();
    let pki = Pki::new();
    let spec = LeafSpec {
        extensions: vec![unknown_critical_extension()],
        ..LeafSpec::good()
    };
    let (outcome, answered) = attempt(&pki, &spec, &pki).await;
    assert_refused(&outcome);
    assert!(outcome.logged(CRITICAL), "{outcome:#?}");
    assert_eq!(answered, 0);
    // The same extension, not critical, is ignored.
    let mut quiet = unknown_critical_extension();
    quiet.set_criticality(false);
    let spec = LeafSpec {
        extensions: vec![quiet],
        ..LeafSpec::good()
    };
    assert_accepted(&attempt(&pki, &spec, &pki).await.0);
    // On an intermediate too.
    let root = Pki::new();
    let odd = root.intermediate_with(|p| p.custom_extensions = vec![unknown_critical_extension()]);
    let (outcome, _) = attempt(&odd, &LeafSpec::good(), &root).await;
    assert_refused(&outcome);
    assert!(outcome.logged(CRITICAL), "{outcome:#?}");
}

#[tokio::test]
async fn refuses_a_ca_certificate_as_the_servers_own() {
    set_clock_to_now();
    let pki = Pki::new();
    let spec = LeafSpec {
        is_ca: IsCa::Ca(BasicConstraints::Unconstrained),
        key_usages: vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
        ],
        ..LeafSpec::good()
    };
    let (outcome, answered) = attempt(&pki, &spec, &pki).await;
    assert_refused(&outcome);
    assert!(outcome.logged(CA_AS_LEAF), "{outcome:#?}");
    assert_eq!(answered, 0);
}

#[tokio::test]
async fn refuses_a_leaf_without_dns_names_whatever_its_cn() {
    set_clock_to_now();
    let pki = Pki::new();
    let spec = LeafSpec {
        names: vec![],
        ..LeafSpec::good()
    };
    let (outcome, _) = attempt(&pki, &spec, &pki).await;
    assert_refused(&outcome);
    assert!(outcome.logged(NAME_MISMATCH), "{outcome:#?}");
}

#[tokio::test]
async fn refuses_an_issuer_whose_key_may_not_sign_certificates() {
    set_clock_to_now();
    let root = Pki::new();
    let signer = root.intermediate_with(|p| p.key_usages = vec![KeyUsagePurpose::DigitalSignature]);
    let (outcome, _) = attempt(&signer, &LeafSpec::good(), &root).await;
    assert_refused(&outcome);
    assert!(outcome.logged(NOT_A_CA), "{outcome:#?}");
}

#[tokio::test]
async fn accepts_intermediates_in_any_order_and_a_copy_of_the_ca() {
    set_clock_to_now();
    let root = Pki::new();
    let b = root.intermediate(true).intermediate(true);
    let mut leaf = b.leaf(&LeafSpec::good());
    // leaf, B, A → leaf, A, B, root.
    leaf.chain[1..].reverse();
    leaf.chain.push(CertificateDer::from(root.ca_der()));
    let server = Server::start(leaf).await;
    let outcome = healthcheck(server.port, &root.ca_der()).await;
    assert_accepted(&outcome);
}

/// The healthcheck against a server with a good certificate that answers
/// with `parts` (see [`Server::answering`]).
async fn answered_with(parts: &'static [&'static [u8]], close: bool) -> Outcome {
    set_clock_to_now();
    let pki = Pki::new();
    let server = Server::answering(pki.leaf(&LeafSpec::good()), parts, close).await;
    healthcheck(server.port, &pki.ca_der()).await
}

#[tokio::test]
async fn an_interim_answer_is_not_taken_for_the_answer() {
    // 103 Early Hints, then the real answer, in records of their own: read
    // as the answer, the 103 would leave the 200 behind for the next
    // request to read.
    const ANSWER_AFTER_HINTS: &[&[u8]] = &[
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    ];
    let outcome = answered_with(ANSWER_AFTER_HINTS, false).await;
    assert_eq!(
        outcome.result,
        Err(TransportFailure::AfterWrite),
        "{outcome:#?}"
    );
    assert!(outcome.logged("an interim answer (103)"), "{outcome:#?}");
}

#[tokio::test]
async fn a_body_longer_than_declared_fails_the_exchange_without_a_crash() {
    // Content-Length 2, then five bytes in a record of their own.
    const LONGER_THAN_DECLARED: &[&[u8]] =
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", b"{}{}{"];
    let outcome = answered_with(LONGER_THAN_DECLARED, true).await;
    assert_eq!(
        outcome.result,
        Err(TransportFailure::AfterWrite),
        "{outcome:#?}"
    );
}

#[tokio::test]
async fn a_chunked_answer_in_records_of_its_own_is_read_whole() {
    // Head, chunks (one with an extension) and the last chunk with a
    // trailer, split across TLS records wherever they fall.
    const CHUNKED: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA;x=y\r\n{\"stat",
        b"us\":\r\n6\r\n\"UP\"}\n\r",
        b"\n0\r\nX-Trailer: 1\r\n\r\n",
    ];
    let outcome = answered_with(CHUNKED, false).await;
    assert_eq!(outcome.result, Ok(200), "{outcome:#?}");
    assert_eq!(outcome.body, b"{\"status\":\"UP\"}\n", "{outcome:#?}");
}

#[tokio::test]
async fn an_answer_without_a_length_runs_to_the_close_notify() {
    const TO_THE_END: &[&[u8]] = &[b"HTTP/1.1 200 OK\r\n\r\n{\"status\"", b":\"UP\"}"];
    let outcome = answered_with(TO_THE_END, true).await;
    assert_eq!(outcome.result, Ok(200), "{outcome:#?}");
    assert_eq!(outcome.body, b"{\"status\":\"UP\"}", "{outcome:#?}");
}

#[tokio::test]
async fn an_answer_with_bare_line_feeds_fails_the_exchange() {
    const BARE_LF: &[&[u8]] = &[b"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}"];
    let outcome = answered_with(BARE_LF, true).await;
    assert_eq!(
        outcome.result,
        Err(TransportFailure::AfterWrite),
        "{outcome:#?}"
    );
}

/// Start a sandbox on an ephemeral port, with a CA of its own.
async fn start_sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts")
}

#[tokio::test]
async fn accepts_the_sandbox_under_its_own_ca() {
    set_clock_to_now();
    let sandbox = start_sandbox().await;
    let ca_der = pem_to_der(sandbox.ca_pem()).expect("sandbox CA");
    let outcome = healthcheck(sandbox.addr().port(), &ca_der).await;
    assert_accepted(&outcome);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn refuses_the_sandbox_under_another_sandboxs_ca() {
    set_clock_to_now();
    let sandbox = start_sandbox().await;
    // Its CA has the same subject as the first one's, but its own key.
    let other = start_sandbox().await;
    let other_ca_der = pem_to_der(other.ca_pem()).expect("other sandbox CA");
    let outcome = healthcheck(sandbox.addr().port(), &other_ca_der).await;
    assert_refused(&outcome);
    assert!(!outcome.logged(NAME_MISMATCH), "{outcome:#?}");
    other.shutdown().await;
    sandbox.shutdown().await;
}
