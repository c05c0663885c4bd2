//! The terminal's clocks: embassy-time for the monotonic clock and timers,
//! and a wall clock set by SNTP (the `time` fields of Electrum and the
//! certificate expiry check). Until SNTP answers, the wall clock is
//! unknown and till-core opens no TLS connection.

use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpAddress, Stack};
use embassy_time::{with_deadline, Duration as EmbassyDuration, Timer};
use rand_core::RngCore;
use till_core::driver::Clock;
use till_core::flow::Now;
use till_core::sntp::{Query, WallClock, PACKET_LEN};
use till_core::time::{Instant, UnixTime};

/// How long to wait for the server's answer; datagrams that fail the
/// checks meanwhile are ignored, not taken as the end of the wait.
const SNTP_TIMEOUT: EmbassyDuration = EmbassyDuration::from_secs(3);

/// When this firmware was built (`build.rs`: `SOURCE_DATE_EPOCH`, or the
/// time of the build): the wall clock never shows an earlier time.
pub fn build_time() -> UnixTime {
    UnixTime::from_secs(env!("TILL_BUILD_UNIX").parse().unwrap_or(0))
}

/// embassy-time plus a wall clock set by SNTP.
#[derive(Debug, Clone, Copy)]
pub struct EmbassyClock {
    wall: WallClock,
}

impl Default for EmbassyClock {
    fn default() -> Self {
        Self {
            wall: WallClock::new(build_time()),
        }
    }
}

impl EmbassyClock {
    /// Whether SNTP has set the wall clock.
    pub const fn synced(&self) -> bool {
        self.wall.is_set()
    }

    /// Set the wall clock from an SNTP answer received at `at`, unless it
    /// is before the build or a step back from a clock already set.
    pub fn set(
        &mut self,
        unix: UnixTime,
        at: embassy_time::Instant,
    ) -> Result<(), till_core::sntp::SntpError> {
        self.wall.set(unix, Instant::from_millis(at.as_millis()))?;
        till_core::net::set_wall_clock(unix);
        Ok(())
    }
}

impl Clock for EmbassyClock {
    fn now(&mut self) -> Now {
        // Every flow and driver step reads the clock: the watchdog's
        // progress mark.
        crate::watchdog::progress();
        let instant = Instant::from_millis(embassy_time::Instant::now().as_millis());
        let unix = self.wall.at(instant);
        if let Some(unix) = unix {
            till_core::net::set_wall_clock(unix);
        }
        Now {
            instant,
            unix: unix.unwrap_or_default(),
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
    /// No acceptable answer in time; the last refused one, if any.
    Timeout(Option<till_core::sntp::SntpError>),
    /// The answer was refused by the wall clock (before the build, or a
    /// step back).
    Refused(till_core::sntp::SntpError),
}

/// Ask `server` for the time (RFC 4330 client request, NTPv4). Only its
/// reply to this request counts ([`till_core::sntp::Query::accept`]).
pub async fn sntp(
    stack: Stack<'_>,
    server: Ipv4Addr,
    port: u16,
    rng: &mut impl RngCore,
) -> Result<UnixTime, SntpError> {
    let mut rx_meta = [PacketMetadata::EMPTY; 2];
    let mut tx_meta = [PacketMetadata::EMPTY; 1];
    let mut rx = [0u8; PACKET_LEN * 2];
    let mut tx = [0u8; PACKET_LEN];
    let mut socket = UdpSocket::new(stack, &mut rx_meta, &mut rx, &mut tx_meta, &mut tx);
    socket.bind(0).map_err(|_| SntpError::Socket)?;
    let target = SocketAddr::V4(SocketAddrV4::new(server, port));
    let (query, request) = Query::new(target, rng);
    socket
        .send_to(&request, SocketAddrV4::new(server, port))
        .await
        .map_err(|_| SntpError::Socket)?;
    let deadline = embassy_time::Instant::now() + SNTP_TIMEOUT;
    let mut last = None;
    loop {
        let mut answer = [0u8; PACKET_LEN];
        let Ok(received) = with_deadline(deadline, socket.recv_from(&mut answer)).await else {
            return Err(SntpError::Timeout(last));
        };
        // A datagram longer than the buffer is truncated to it: only the
        // header is read.
        let Ok((len, meta)) = received else { continue };
        let from = match meta.endpoint.addr {
            IpAddress::Ipv4(ip) => SocketAddr::new(IpAddr::V4(ip), meta.endpoint.port),
            #[allow(unreachable_patterns)]
            _ => continue,
        };
        match query.accept(from, answer.get(..len).unwrap_or_default()) {
            Ok(time) => return Ok(time),
            Err(e) => {
                warn!("sntp: ignored a reply: {}", e);
                last = Some(e);
            }
        }
    }
}
