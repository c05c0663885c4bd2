//! An SNTP (RFC 4330) responder, so a terminal that sets its clock over the
//! network before checking certificates can be tested against the sandbox
//! alone (`--sntp-listen`).
//!
//! It answers from the real system clock, **not** the advanceable sandbox
//! [`crate::clock::Clock`]: the terminal checks the server certificate's
//! validity against the time it learns here, and that certificate was issued
//! on the system clock.
//!
//! Reply: 48 bytes, LI 0, VN copied from the request, mode 4 (server),
//! stratum 1, poll copied, reference id `LOCL`, originate timestamp = the
//! request's transmit timestamp, reference/receive/transmit = the system
//! clock. Requests shorter than 48 bytes, of a mode other than 3 (client) or
//! of a version outside 1–4 are ignored.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;
use tokio::sync::watch;

/// Length of an NTP header without extension fields.
pub const PACKET_LEN: usize = 48;

/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch).
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// Reference identifier of a stratum-1 server on an uncalibrated local clock.
pub const REFERENCE_ID: [u8; 4] = *b"LOCL";

const MODE_CLIENT: u8 = 3;
const MODE_SERVER: u8 = 4;
const STRATUM: u8 = 1;
/// log2 seconds: 2^-20 s ≈ 1 µs.
const PRECISION: i8 = -20;

/// `time` as a 64-bit NTP timestamp: seconds since 1900 (modulo 2^32, so
/// times after 2036 land in era 1 as RFC 4330 expects) and a 32-bit fraction.
pub fn ntp_timestamp(time: SystemTime) -> [u8; 8] {
    let since_unix = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = (since_unix.as_secs() + NTP_UNIX_OFFSET_SECS) as u32;
    let frac = ((u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000) as u32;
    let mut out = [0; 8];
    out[..4].copy_from_slice(&secs.to_be_bytes());
    out[4..].copy_from_slice(&frac.to_be_bytes());
    out
}

/// The server reply to `request`, received at `received` and sent at
/// `transmit`; `None` for a packet to ignore.
pub fn reply(request: &[u8], received: SystemTime, transmit: SystemTime) -> Option<[u8; 48]> {
    if request.len() < PACKET_LEN {
        return None;
    }
    let version = (request[0] >> 3) & 0b111;
    let mode = request[0] & 0b111;
    if mode != MODE_CLIENT || !(1..=4).contains(&version) {
        return None;
    }
    let mut out = [0u8; PACKET_LEN];
    // LI 0 (no warning), VN copied, mode 4.
    out[0] = (version << 3) | MODE_SERVER;
    out[1] = STRATUM;
    out[2] = request[2]; // poll interval, copied
    out[3] = PRECISION.to_be_bytes()[0];
    // Root delay and root dispersion: 0 (bytes 4..12).
    out[12..16].copy_from_slice(&REFERENCE_ID);
    out[16..24].copy_from_slice(&ntp_timestamp(received)); // reference
    out[24..32].copy_from_slice(&request[40..48]); // originate
    out[32..40].copy_from_slice(&ntp_timestamp(received)); // receive
    out[40..48].copy_from_slice(&ntp_timestamp(transmit)); // transmit
    Some(out)
}

/// Answers SNTP requests on `socket` until `shutdown` flips.
pub(crate) async fn serve(socket: UdpSocket, mut shutdown: watch::Receiver<bool>) {
    // Room for extension fields and a MAC; a longer datagram is truncated,
    // which does not matter: only the first 48 bytes are read.
    let mut buf = [0u8; 1024];
    loop {
        let (len, peer): (usize, SocketAddr) = tokio::select! {
            _ = shutdown.changed() => break,
            received = socket.recv_from(&mut buf) => match received {
                Ok(r) => r,
                Err(e) => {
                    // E.g. an ICMP error for an earlier reply; keep serving,
                    // without spinning should the error persist.
                    tracing::debug!("sntp: receive failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let received = SystemTime::now();
        match reply(&buf[..len], received, SystemTime::now()) {
            Some(answer) => {
                if let Err(e) = socket.send_to(&answer, peer).await {
                    tracing::debug!("sntp: reply to {peer} failed: {e}");
                }
            }
            None => tracing::debug!("sntp: ignored a {len}-byte packet from {peer}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(first: u8, transmit: [u8; 8]) -> [u8; 48] {
        let mut r = [0u8; 48];
        r[0] = first;
        r[2] = 6;
        r[40..48].copy_from_slice(&transmit);
        r
    }

    #[test]
    fn timestamp_of_the_unix_epoch_and_a_half_second() {
        let t = UNIX_EPOCH + Duration::from_millis(500);
        let ts = ntp_timestamp(t);
        assert_eq!(
            u32::from_be_bytes(ts[..4].try_into().unwrap()),
            2_208_988_800
        );
        assert_eq!(u32::from_be_bytes(ts[4..].try_into().unwrap()), 1 << 31);
    }

    #[test]
    fn timestamp_after_2036_wraps_into_era_1() {
        // 2036-02-07T06:28:16Z is NTP second 2^32, i.e. era 1 second 0.
        let t = UNIX_EPOCH + Duration::from_secs((1 << 32) - NTP_UNIX_OFFSET_SECS + 5);
        assert_eq!(ntp_timestamp(t)[..4], 5u32.to_be_bytes());
    }

    #[test]
    fn reply_fields() {
        let now = SystemTime::now();
        let origin = [1, 2, 3, 4, 5, 6, 7, 8];
        for version in [3u8, 4] {
            let r = reply(&request((version << 3) | 3, origin), now, now).unwrap();
            assert_eq!(r[0], (version << 3) | 4, "LI 0, VN copied, mode 4");
            assert_eq!(r[1], 1);
            assert_eq!(r[2], 6, "poll copied");
            assert_eq!(&r[12..16], b"LOCL");
            assert_eq!(r[24..32], origin);
            assert_eq!(r[32..40], ntp_timestamp(now));
            assert_eq!(r[40..48], ntp_timestamp(now));
        }
    }

    #[test]
    fn malformed_requests_are_ignored() {
        let now = SystemTime::now();
        assert!(reply(&[0x23; 47], now, now).is_none(), "short");
        assert!(reply(&[], now, now).is_none(), "empty");
        assert!(reply(&request(0x24, [0; 8]), now, now).is_none(), "mode 4");
        assert!(reply(&request(0x21, [0; 8]), now, now).is_none(), "mode 1");
        assert!(reply(&request(0x03, [0; 8]), now, now).is_none(), "VN 0");
        assert!(reply(&request(0x3b, [0; 8]), now, now).is_none(), "VN 7");
        // Extension fields or a MAC after the header are fine.
        assert!(reply(&[0x23; 68], now, now).is_some());
    }
}
