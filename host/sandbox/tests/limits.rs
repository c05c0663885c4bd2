//! Hostile clients: a client that trickles its headers or stalls mid-body
//! is dropped within its timeout, connections over the per-address and
//! total caps are closed at once, and a normal client is served while slow
//! ones hold their places.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use till_sandbox::{Limits, Sandbox, SandboxConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;

/// How long a test waits for something the sandbox must do within a
/// configured limit, beyond that limit (slow CI machines).
const MARGIN: Duration = Duration::from_secs(4);

fn tls(sb: &Sandbox) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(sb.ca_pem().as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// A TLS connection to the sandbox from `source` (a loopback address).
async fn connect_from(sb: &Sandbox, source: Ipv4Addr) -> std::io::Result<TlsStream<TcpStream>> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    let tcp = socket.connect(sb.addr()).await?;
    let name = ServerName::try_from("localhost").unwrap();
    tls(sb).connect(name, tcp).await
}

/// Waits until the server closes `conn` (end of stream or an error).
async fn closed(conn: &mut TlsStream<TcpStream>) {
    let mut buf = [0u8; 256];
    loop {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn limits(f: impl FnOnce(&mut Limits)) -> SandboxConfig {
    let mut l = Limits::default();
    f(&mut l);
    SandboxConfig {
        limits: l,
        ..config()
    }
}

const SLOW: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const OTHER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_dropped_at_the_header_timeout() {
    let header_timeout = Duration::from_secs(1);
    let sb = start_with(limits(|l| l.header_read_timeout = header_timeout)).await;
    let mut conn = connect_from(&sb, SLOW).await.expect("TLS handshake");
    let request = format!(
        "POST /healthcheck HTTP/1.1\r\nhost: localhost\r\nx-pad: {}\r\ncontent-length: 0\r\n\r\n",
        "a".repeat(200)
    );
    let started = Instant::now();
    let mut sent = 0;
    // One byte every 100 ms: the whole header would take over 20 s.
    for byte in request.as_bytes() {
        if conn.write_all(&[*byte]).await.is_err() || conn.flush().await.is_err() {
            break;
        }
        sent += 1;
        let mut probe = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(100), conn.read(&mut probe)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => panic!("the sandbox answered a request it never fully received"),
            Err(_) => {}
        }
        assert!(
            started.elapsed() < header_timeout + MARGIN,
            "still open after {sent} bytes"
        );
    }
    let held = started.elapsed();
    assert!(
        sent < request.len(),
        "dropped before the header was complete ({sent} bytes)"
    );
    assert!(held >= header_timeout, "not before the timeout: {held:?}");
    assert!(held < header_timeout + MARGIN, "dropped after {held:?}");
}

#[tokio::test]
async fn a_client_that_stalls_mid_body_is_dropped_at_the_idle_timeout() {
    let idle = Duration::from_secs(1);
    let sb = start_with(limits(|l| {
        l.idle_timeout = idle;
        l.body_read_timeout = Duration::from_secs(30);
    }))
    .await;
    let mut conn = connect_from(&sb, SLOW).await.expect("TLS handshake");
    let head = format!(
        "POST /conductor/v1/accounts HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {SK}\r\nretailer-id: {RETAILER}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"biller_code\""
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.flush().await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(idle + MARGIN, conn.read(&mut buf))
        .await
        .expect("the stalled connection is closed");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed without an answer: {read:?}"
    );
    assert!(started.elapsed() >= idle, "{:?}", started.elapsed());
}

#[tokio::test]
async fn slow_connections_do_not_starve_a_normal_client() {
    const PER_ADDR: usize = 4;
    let header_timeout = Duration::from_secs(2);
    let sb = start_with(limits(|l| {
        l.header_read_timeout = header_timeout;
        l.max_connections_per_addr = PER_ADDR;
    }))
    .await;

    // Eight slow clients from one address: four get in and hold their
    // places with half a request; the other four are closed at once.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..2 * PER_ADDR {
        match connect_from(&sb, SLOW).await {
            Ok(mut conn) => {
                conn.write_all(b"POST /healthcheck HTTP/1.1\r\nhost: loc")
                    .await
                    .unwrap();
                conn.flush().await.unwrap();
                held.push(conn);
            }
            Err(_) => refused += 1,
        }
    }
    assert_eq!((held.len(), refused), (PER_ADDR, PER_ADDR));

    // A normal client (another address) is served meanwhile, promptly.
    let c = client(&sb);
    let started = Instant::now();
    let resp = tokio::time::timeout(MARGIN, c.post(url(&sb, "/healthcheck")).send())
        .await
        .expect("served while slow clients hold their places")
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        started.elapsed() < header_timeout,
        "{:?}",
        started.elapsed()
    );

    // The slow ones are dropped at the header timeout, and their places
    // come back.
    for conn in &mut held {
        tokio::time::timeout(header_timeout + MARGIN, closed(conn))
            .await
            .expect("a slow client is dropped");
    }
    drop(held);
    let mut again = None;
    for _ in 0..50 {
        if let Ok(conn) = connect_from(&sb, SLOW).await {
            again = Some(conn);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "the address gets its places back");
}

#[tokio::test]
async fn connections_over_the_total_cap_are_closed() {
    let sb = start_with(limits(|l| {
        l.max_connections = 2;
        l.max_connections_per_addr = 8;
    }))
    .await;
    let first = connect_from(&sb, SLOW).await.expect("first");
    let second = connect_from(&sb, OTHER).await.expect("second");
    assert!(
        connect_from(&sb, OTHER).await.is_err(),
        "third over the total cap"
    );
    drop((first, second));
    let mut served = false;
    for _ in 0..50 {
        if connect_from(&sb, OTHER).await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "places come back when connections close");
}
