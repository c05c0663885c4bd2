//! till-core's SNTP client against the sandbox's SNTP responder over real
//! UDP, with a spoofer on the same LAN racing the server: the spoofer's
//! replies (from another port, and a copy of the server's reply to an
//! earlier request) arrive first and are refused; the server's reply to
//! this request is accepted and agrees with the system clock.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand_core::OsRng;
use till_core::sntp::{Query, SntpError, WallClock, PACKET_LEN};
use till_core::time::{Instant, UnixTime};
use till_sandbox::{Sandbox, SandboxConfig};
use tokio::net::UdpSocket;

async fn receive(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 512];
    let (len, from) = tokio::time::timeout(Duration::from_secs(3), socket.recv_from(&mut buf))
        .await
        .expect("a datagram in time")
        .expect("receive");
    (buf[..len].to_vec(), from)
}

#[tokio::test]
async fn only_the_servers_reply_to_our_request_sets_the_clock() {
    let sandbox = Sandbox::start(SandboxConfig {
        sntp_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts");
    let server = sandbox.sntp_addr().expect("SNTP address");
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let spoofer = UdpSocket::bind("127.0.0.1:0").await.unwrap();

    // An earlier request's genuine reply, which the spoofer captured.
    let (earlier, request) = Query::new(server, &mut OsRng);
    client.send_to(&request, server).await.unwrap();
    let (captured, from) = receive(&client).await;
    assert!(
        earlier.accept(from, &captured).is_ok(),
        "the server is honest"
    );

    let (query, request) = Query::new(server, &mut OsRng);
    // The spoofer answers first: the server's own reply to the earlier
    // request, replayed from the spoofer's port, and a forged reply that
    // echoes our nonce (as if it saw our request) with a time in 2001.
    let mut forged = [0u8; PACKET_LEN];
    forged[0] = (4 << 3) | 4;
    forged[1] = 1;
    forged[24..32].copy_from_slice(&request[40..48]);
    forged[40..44].copy_from_slice(&3_200_000_000u32.to_be_bytes());
    let me = client.local_addr().unwrap();
    spoofer.send_to(&captured, me).await.unwrap();
    spoofer.send_to(&forged, me).await.unwrap();
    client.send_to(&request, server).await.unwrap();

    let mut refused = Vec::new();
    let time = loop {
        let (packet, from) = receive(&client).await;
        match query.accept(from, &packet) {
            Ok(time) => break time,
            Err(e) => refused.push(e),
        }
    };
    assert_eq!(
        refused,
        [SntpError::WrongSource, SntpError::WrongSource],
        "both spoofed replies refused"
    );
    // The captured reply, even from the server's address, answers another
    // request.
    assert_eq!(
        query.accept(server, &captured),
        Err(SntpError::NotOurRequest)
    );

    let system = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        time.as_millis().abs_diff(system) < 2_000,
        "the server's time ({}) is the system's ({system})",
        time.as_millis()
    );

    // The clock takes it; a 2001 time from the same server later does not.
    let mut clock = WallClock::new(UnixTime::from_secs(1_767_225_600)); // 2026-01-01
    clock.set(time, Instant::from_millis(1_000)).unwrap();
    assert_eq!(
        clock.set(
            UnixTime::from_secs(991_000_000),
            Instant::from_millis(2_000)
        ),
        Err(SntpError::BeforeBuild)
    );
}
