//! Certificates and the rustls server configuration.
//!
//! A CA is generated at start (or reloaded from the state file) and issues
//! an ECDSA P-256 server certificate with SANs `localhost` (DNS), `127.0.0.1`
//! (IP) and any extra names. The terminal's TLS client (embedded-tls) speaks
//! TLS 1.3 with TLS_AES_128_GCM_SHA256 and P-256 only, ignores IP SANs and
//! falls back to the CN, so the CN is `localhost` too and the chain sent is
//! the leaf alone (the terminal's chain buffer is 4 KiB).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// A certificate or TLS configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rcgen refused.
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// rustls refused.
    #[error("tls configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

const CA_COMMON_NAME: &str = "till-sandbox local CA";

/// The CA's certificate and key, PEM; kept in the state file so a restarted
/// sandbox is still trusted by a terminal that pinned its CA.
#[derive(Clone, Serialize, Deserialize)]
pub struct CaMaterial {
    /// CA certificate, PEM.
    pub cert_pem: String,
    /// CA private key (PKCS#8), PEM.
    pub key_pem: String,
}

impl std::fmt::Debug for CaMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaMaterial")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    dn.push(DnType::OrganizationName, "till sandbox");
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
    params
}

/// Generates a new CA (ECDSA P-256).
pub fn generate_ca() -> Result<CaMaterial, TlsError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let cert = ca_params().self_signed(&key)?;
    Ok(CaMaterial {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A server certificate and its key.
#[derive(Debug)]
pub struct ServerIdentity {
    /// Leaf certificate, DER.
    pub cert_der: CertificateDer<'static>,
    /// Leaf private key.
    pub key_der: PrivateKeyDer<'static>,
    /// Leaf certificate, PEM (for inspection).
    pub cert_pem: String,
}

/// Issues the server certificate: SANs `localhost`, `127.0.0.1` and `extra_names`.
pub fn issue_server_cert(
    ca: &CaMaterial,
    extra_names: &[String],
) -> Result<ServerIdentity, TlsError> {
    let ca_key = KeyPair::from_pem(&ca.key_pem)?;
    let issuer = Issuer::new(ca_params(), ca_key);

    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    for n in extra_names {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let mut params = CertificateParams::new(names)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(365);

    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(ServerIdentity {
        cert_der: cert.der().clone(),
        key_der: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        cert_pem: cert.pem(),
    })
}

/// The rustls server configuration: TLS 1.3 and 1.2, ring provider,
/// HTTP/1.1 over ALPN.
pub fn server_config(identity: &ServerIdentity) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(
            vec![identity.cert_der.clone()],
            identity.key_der.clone_key(),
        )?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
