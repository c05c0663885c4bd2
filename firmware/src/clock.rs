//! The terminal's clocks: embassy-time for the monotonic clock and timers,
//! and a wall clock set by SNTP (the `time` fields of Electrum and the
//! certificate expiry check). Until SNTP answers, the wall clock is
//! unknown and till-core opens no TLS connection.

use core::net::{Ipv4Addr, SocketAddrV4};

use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::Stack;
use embassy_time::{with_timeout, Duration as EmbassyDuration, Timer};
use till_core::driver::Clock;
use till_core::flow::Now;
use till_core::time::{Instant, UnixTime};

/// Seconds from 1900 (NTP's epoch) to 1970.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// An SNTP packet.
const SNTP_LEN: usize = 48;
/// How long to wait for an SNTP answer.
const SNTP_TIMEOUT: EmbassyDuration = EmbassyDuration::from_secs(3);

/// embassy-time plus the SNTP offset.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbassyClock {
    /// Unix milliseconds at embassy's instant zero, once SNTP answered.
    offset_ms: Option<u64>,
}

impl EmbassyClock {
    /// Whether SNTP has set the wall clock.
    pub const fn synced(&self) -> bool {
        self.offset_ms.is_some()
    }

    /// Set the wall clock from an SNTP answer received at `at`.
    pub fn set(&mut self, unix: UnixTime, at: embassy_time::Instant) {
        self.offset_ms = Some(unix.as_millis().saturating_sub(at.as_millis()));
        till_core::net::set_wall_clock(unix);
    }
}

impl Clock for EmbassyClock {
    fn now(&mut self) -> Now {
        let ms = embassy_time::Instant::now().as_millis();
        let unix = UnixTime::from_millis(self.offset_ms.map_or(0, |o| o + ms));
        if self.offset_ms.is_some() {
            till_core::net::set_wall_clock(unix);
        }
        Now {
            instant: Instant::from_millis(ms),
            unix,
        }
    }

    async fn sleep_until(&mut self, until: Instant) {
        Timer::at(embassy_time::Instant::from_millis(until.as_millis())).await;
    }
}

/// Why SNTP gave no time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SntpError {
    /// The socket could not be bound or the request not sent.
    Socket,
    /// No answer in time.
    Timeout,
    /// The answer is not a usable server reply.
    Invalid,
}

/// Ask `server` for the time (RFC 4330 client request, NTPv4).
pub async fn sntp(stack: Stack<'_>, server: Ipv4Addr, port: u16) -> Result<UnixTime, SntpError> {
    let mut rx_meta = [PacketMetadata::EMPTY; 1];
    let mut tx_meta = [PacketMetadata::EMPTY; 1];
    let mut rx = [0u8; SNTP_LEN * 2];
    let mut tx = [0u8; SNTP_LEN * 2];
    let mut socket = UdpSocket::new(stack, &mut rx_meta, &mut rx, &mut tx_meta, &mut tx);
    socket.bind(0).map_err(|_| SntpError::Socket)?;
    let mut request = [0u8; SNTP_LEN];
    // LI 0, VN 4, mode 3 (client).
    request[0] = 0x23;
    socket
        .send_to(&request, SocketAddrV4::new(server, port))
        .await
        .map_err(|_| SntpError::Socket)?;
    let mut answer = [0u8; SNTP_LEN];
    let (len, _) = with_timeout(SNTP_TIMEOUT, socket.recv_from(&mut answer))
        .await
        .map_err(|_| SntpError::Timeout)?
        .map_err(|_| SntpError::Invalid)?;
    parse(answer.get(..len).ok_or(SntpError::Invalid)?)
}

/// The transmit timestamp of a server reply, as Unix time.
fn parse(answer: &[u8]) -> Result<UnixTime, SntpError> {
    let mode = answer.first().map(|b| b & 0x07);
    let stratum = answer.get(1).copied();
    let (Some(4), Some(1..=15), Some(seconds), Some(fraction)) =
        (mode, stratum, answer.get(40..44), answer.get(44..48))
    else {
        return Err(SntpError::Invalid);
    };
    let seconds = u64::from(u32::from_be_bytes(
        seconds.try_into().map_err(|_| SntpError::Invalid)?,
    ));
    let fraction = u64::from(u32::from_be_bytes(
        fraction.try_into().map_err(|_| SntpError::Invalid)?,
    ));
    // NTP era 0 ends in 2036; later values wrap, so seconds below the 1970
    // offset belong to era 1.
    let seconds = if seconds >= NTP_UNIX_OFFSET {
        seconds - NTP_UNIX_OFFSET
    } else {
        seconds + (1 << 32) - NTP_UNIX_OFFSET
    };
    Ok(UnixTime::from_millis(
        seconds * 1000 + ((fraction * 1000) >> 32),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(seconds: u32, fraction: u32) -> [u8; 48] {
        let mut r = [0u8; 48];
        r[0] = 0x24;
        r[1] = 1;
        r[40..44].copy_from_slice(&seconds.to_be_bytes());
        r[44..48].copy_from_slice(&fraction.to_be_bytes());
        r
    }

    #[test]
    fn a_server_reply_gives_unix_time() {
        // 2026-11-30T00:00:00Z = 1_796_083_200 Unix.
        let ntp = (1_796_083_200u64 + NTP_UNIX_OFFSET) as u32;
        let t = parse(&reply(ntp, 1 << 31)).unwrap();
        assert_eq!(t.as_millis(), 1_796_083_200_500);
    }

    #[test]
    fn after_2036_the_era_wraps() {
        let t = parse(&reply(10, 0)).unwrap();
        assert_eq!(t.as_millis() / 1000, (1u64 << 32) + 10 - NTP_UNIX_OFFSET);
    }

    #[test]
    fn anything_but_a_server_reply_is_refused() {
        let mut r = reply(4_000_000_000, 0);
        r[0] = 0x23;
        assert_eq!(parse(&r), Err(SntpError::Invalid));
        let mut r = reply(4_000_000_000, 0);
        r[1] = 0; // kiss-o'-death
        assert_eq!(parse(&r), Err(SntpError::Invalid));
        assert_eq!(parse(&[0x24, 1, 0]), Err(SntpError::Invalid));
    }
}
