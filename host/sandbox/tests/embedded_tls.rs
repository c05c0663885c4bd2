//! The terminal's TLS client itself (embedded-tls 0.19, rustpki verifier,
//! TLS 1.3 / AES-128-GCM / P-256, 16 640-byte read buffer, 4 KiB chain)
//! against the sandbox: the certificate parses, the chain verifies against
//! the generated CA, `localhost` matches, a wrong name or CA is refused.

mod common;

use std::time::SystemTime;

use common::*;
use embedded_io_adapters::tokio_1::FromTokio;
use embedded_tls::pki::CertVerifier;
use embedded_tls::{
    Aes128GcmSha256, Certificate, CryptoProvider, CryptoRngCore, TlsConfig, TlsConnection,
    TlsContext, TlsError, TlsVerifier,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// As measured for real servers (a 16 KiB record plus overhead).
const READ_BUFFER: usize = 16_640;
const WRITE_BUFFER: usize = 4_096;

struct Provider<'a> {
    rng: rand_core::OsRng,
    verifier: CertVerifier<'a, Aes128GcmSha256, SystemTime, 4096>,
}

impl CryptoProvider for Provider<'_> {
    type CipherSuite = Aes128GcmSha256;
    type Signature = [u8; 0];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Aes128GcmSha256>, TlsError> {
        Ok(&mut self.verifier)
    }
}

async fn healthcheck(port: u16, ca_pem: &str, server_name: &str) -> Result<String, TlsError> {
    let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA PEM");
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("tcp");
    let mut read_buf = vec![0u8; READ_BUFFER];
    let mut write_buf = vec![0u8; WRITE_BUFFER];
    let mut tls: TlsConnection<'_, _, Aes128GcmSha256> =
        TlsConnection::new(FromTokio::new(tcp), &mut read_buf, &mut write_buf);
    let config = TlsConfig::new().with_server_name(server_name);
    let provider = Provider {
        rng: rand_core::OsRng,
        verifier: CertVerifier::new(Certificate::X509(ca_der.as_ref())),
    };
    tls.open(TlsContext::new(&config, provider)).await?;
    tls.write(b"POST /healthcheck HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await?;
    tls.flush().await?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match tls.read(&mut chunk).await {
            Ok(0) | Err(TlsError::ConnectionClosed) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) => {
                if out.is_empty() {
                    return Err(e);
                }
                break;
            }
        }
        if out.windows(7).any(|w| w == b"SUCCESS") {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn the_terminal_tls_client_accepts_the_sandbox() {
    let sb = start().await;
    let answer = healthcheck(sb.addr().port(), sb.ca_pem(), "localhost")
        .await
        .expect("handshake and request");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("SUCCESS"));
}

#[tokio::test]
async fn the_terminal_tls_client_refuses_a_wrong_name_or_ca() {
    let sb = start().await;
    assert!(healthcheck(sb.addr().port(), sb.ca_pem(), "example.com")
        .await
        .is_err());
    let other = start().await;
    assert!(healthcheck(sb.addr().port(), other.ca_pem(), "localhost")
        .await
        .is_err());
}
