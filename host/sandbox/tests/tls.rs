//! TLS facts the terminal depends on: TLS 1.3 with TLS_AES_128_GCM_SHA256
//! and P-256 only (embedded-tls), an ECDSA P-256 leaf with DNS SAN
//! `localhost` and IP SAN `127.0.0.1`; TLS 1.2 for other clients; the CA
//! file; the plain-HTTP debug listener.

mod common;

use std::sync::Arc;

use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use till_sandbox::SandboxConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn roots(pem: &str) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

/// A client shaped like embedded-tls: TLS 1.3, one suite, one group.
fn terminal_like(pem: &str) -> rustls::ClientConfig {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = vec![rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256];
    provider.kx_groups = vec![rustls::crypto::ring::kx_group::SECP256R1];
    rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots(pem))
        .with_no_client_auth()
}

async fn healthcheck_over(
    config: rustls::ClientConfig,
    port: u16,
    name: &str,
) -> std::io::Result<(
    String,
    rustls::SupportedCipherSuite,
    rustls::ProtocolVersion,
)> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let mut tls = connector.connect(server_name, tcp).await?;
    let (_, conn) = tls.get_ref();
    let suite = conn.negotiated_cipher_suite().unwrap();
    let version = conn.protocol_version().unwrap();
    tls.write_all(b"POST /healthcheck HTTP/1.1\r\nhost: localhost\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await?;
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    Ok((String::from_utf8_lossy(&out).into_owned(), suite, version))
}

#[tokio::test]
async fn terminal_shaped_tls13_client_connects_to_localhost() {
    let sb = start().await;
    let port = sb.addr().port();
    let (answer, suite, version) = healthcheck_over(terminal_like(sb.ca_pem()), port, "localhost")
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("SUCCESS"));
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(suite.suite(), rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    // The IP SAN is there for other clients.
    let (answer, _, _) = healthcheck_over(terminal_like(sb.ca_pem()), port, "127.0.0.1")
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"));
    // A name that is not in the certificate is refused.
    assert!(
        healthcheck_over(terminal_like(sb.ca_pem()), port, "example.com")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn tls12_clients_and_wrong_cas() {
    let sb = start().await;
    let tls12 = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(roots(sb.ca_pem()))
    .with_no_client_auth();
    let (answer, _, version) = healthcheck_over(tls12, sb.addr().port(), "localhost")
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"));
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_2);

    // Another sandbox's CA does not verify this one.
    let other = start().await;
    assert!(
        healthcheck_over(terminal_like(other.ca_pem()), sb.addr().port(), "localhost")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn ca_file_extra_names_and_plain_listener() {
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    let sb = start_with(SandboxConfig {
        ca_out: Some(ca_path.clone()),
        extra_names: vec!["till-sandbox.test".to_owned()],
        plain_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..config()
    })
    .await;
    let written = std::fs::read_to_string(&ca_path).unwrap();
    assert_eq!(written, sb.ca_pem());
    assert!(written.starts_with("-----BEGIN CERTIFICATE-----"));
    let (answer, _, _) = healthcheck_over(
        terminal_like(&written),
        sb.addr().port(),
        "till-sandbox.test",
    )
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"));

    let plain = sb.plain_base_url().unwrap();
    assert!(plain.starts_with("http://127.0.0.1:"));
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{plain}/healthcheck"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    // reqwest over TLS with the CA file.
    let c = client(&sb);
    let resp = c.post(url(&sb, "/healthcheck")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}
