//! `sntp_listen`: the SNTP (RFC 4330) responder, over real UDP on 127.0.0.1.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use till_sandbox::{Sandbox, SandboxConfig};
use tokio::net::UdpSocket;

async fn start_sntp() -> (Sandbox, SocketAddr) {
    let sb = start_with(SandboxConfig {
        sntp_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..config()
    })
    .await;
    let addr = sb.sntp_addr().expect("SNTP address");
    assert!(addr.port() != 0);
    (sb, addr)
}

async fn client_socket(server: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(server).await.unwrap();
    socket
}

/// A client request (LI 0, `version`, mode 3) with a recognisable transmit
/// timestamp.
fn request(version: u8) -> [u8; 48] {
    let mut r = [0u8; 48];
    r[0] = (version << 3) | 3;
    r[2] = 4; // poll
    r[40..48].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67]);
    r
}

async fn receive(socket: &UdpSocket, within: Duration) -> Option<Vec<u8>> {
    let mut buf = [0u8; 512];
    match tokio::time::timeout(within, socket.recv(&mut buf)).await {
        Ok(Ok(n)) => Some(buf[..n].to_vec()),
        Ok(Err(e)) => panic!("receive: {e}"),
        Err(_) => None,
    }
}

/// NTP timestamp at `at` as seconds since the Unix epoch.
fn unix_secs(reply: &[u8], at: usize) -> f64 {
    let secs = u32::from_be_bytes(reply[at..at + 4].try_into().unwrap());
    let frac = u32::from_be_bytes(reply[at + 4..at + 8].try_into().unwrap());
    f64::from(secs) - 2_208_988_800.0 + f64::from(frac) / 4_294_967_296.0
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn check_reply(reply: &[u8], version: u8) {
    assert_eq!(reply.len(), 48);
    assert_eq!(reply[0] >> 6, 0, "LI 0");
    assert_eq!((reply[0] >> 3) & 7, version, "VN copied");
    assert_eq!(reply[0] & 7, 4, "mode 4 (server)");
    assert_eq!(reply[1], 1, "stratum 1");
    assert_eq!(&reply[12..16], b"LOCL", "reference id");
    assert_eq!(
        reply[24..32],
        request(version)[40..48],
        "originate = the request's transmit"
    );
    let now = now_secs();
    for (name, at) in [("reference", 16), ("receive", 32), ("transmit", 40)] {
        let t = unix_secs(reply, at);
        assert!((t - now).abs() < 5.0, "{name} {t} vs now {now}");
    }
    assert!(
        unix_secs(reply, 40) >= unix_secs(reply, 32),
        "transmit ≥ receive"
    );
}

#[tokio::test]
async fn answers_v3_and_v4_from_the_system_clock() {
    let (sb, addr) = start_sntp().await;
    // The advanceable API clock must not leak into SNTP.
    sb.advance_clock(Duration::from_secs(30 * 24 * 3600));
    let socket = client_socket(addr).await;
    for version in [4, 3] {
        socket.send(&request(version)).await.unwrap();
        let reply = receive(&socket, Duration::from_secs(5))
            .await
            .expect("an SNTP reply");
        check_reply(&reply, version);
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn garbage_gets_no_answer_and_the_responder_keeps_working() {
    let (sb, addr) = start_sntp().await;
    let socket = client_socket(addr).await;
    let mut server_mode = request(4);
    server_mode[0] = (4 << 3) | 4;
    let garbage: [&[u8]; 4] = [b"hello", &[0u8; 47], &server_mode, &[0xffu8; 48]];
    for packet in garbage {
        socket.send(packet).await.unwrap();
        assert_eq!(
            receive(&socket, Duration::from_millis(300)).await,
            None,
            "no answer to {packet:?}"
        );
    }
    socket.send(&request(4)).await.unwrap();
    let reply = receive(&socket, Duration::from_secs(5))
        .await
        .expect("still answering");
    check_reply(&reply, 4);
    sb.shutdown().await;
}

#[tokio::test]
async fn stops_on_shutdown() {
    let (sb, addr) = start_sntp().await;
    sb.shutdown().await;
    // The port is free again once the responder has stopped.
    UdpSocket::bind(addr).await.expect("SNTP port released");
}

#[tokio::test]
async fn off_by_default() {
    let sb = start().await;
    assert_eq!(sb.sntp_addr(), None);
    sb.shutdown().await;
}
