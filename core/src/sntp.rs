//! Time you can trust: an SNTP client (RFC 4330) as a sans-IO query, and
//! the guard every wall-clock setting passes.
//!
//! The wall clock decides certificate expiry, so a terminal on a LAN
//! nobody controls must not take its time from whoever answers first. A
//! reply is accepted only if
//!
//! - it comes from the configured server's address and port;
//! - it answers *our* request: its originate timestamp is the transmit
//!   timestamp we sent, which is [`NONCE_LEN`] random bytes, not our time
//!   (RFC 4330 §5 lets the client put anything there; a spoofer off the
//!   path cannot guess it);
//! - it is a server's reply (mode 4) of version 3 or 4, from a
//!   synchronised server (leap indicator not 3, stratum 1 to 15: 0 is a
//!   kiss-o'-death) with a transmit timestamp;
//!
//! and the time it gives is set only through a [`WallClock`], which
//! refuses a time before the firmware was built and, once set, a step
//! backwards beyond [`BACKWARD_SLACK`].
//!
//! Nothing here reads a socket or a clock: the caller sends
//! [`Query::new`]'s packet, passes each datagram it receives to
//! [`Query::accept`] (a refused one is ignored and the next one waited
//! for, so a spoofer cannot stop the real answer), and hands the result to
//! [`WallClock::set`].

use core::fmt;
use core::net::SocketAddr;

use rand_core::RngCore;

use crate::time::{Duration, Instant, UnixTime};

/// An NTP packet without extension fields.
pub const PACKET_LEN: usize = 48;

/// Seconds from 1900-01-01 (NTP's era 0) to 1970-01-01.
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// The random bytes in our request's transmit timestamp (all of it).
pub const NONCE_LEN: usize = 8;

/// How far back a reply may move a clock already set: the round trip of
/// the exchange and the monotonic clock's drift between two syncs stay
/// well inside it; a spoofed "earlier" time that would revive an expired
/// certificate does not.
pub const BACKWARD_SLACK: Duration = Duration::from_secs(2);

const MODE_CLIENT: u8 = 3;
const MODE_SERVER: u8 = 4;
const VERSION: u8 = 4;
const LI_UNSYNCHRONISED: u8 = 3;

/// Why a reply, or a time, was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SntpError {
    /// Shorter than an NTP packet.
    Truncated,
    /// Not from the configured server's address and port.
    WrongSource,
    /// Not a server's reply (the mode).
    NotAServer(u8),
    /// A version other than 3 or 4.
    Version(u8),
    /// The server says its clock is not synchronised (leap indicator 3).
    Unsynchronised,
    /// Stratum 0 (a kiss-o'-death: the server refuses us) or above 15.
    Stratum(u8),
    /// Its originate timestamp is not the one we sent: not an answer to
    /// our request.
    NotOurRequest,
    /// No transmit timestamp.
    NoTime,
    /// Earlier than the firmware's build time.
    BeforeBuild,
    /// Earlier than the clock already shows (by more than
    /// [`BACKWARD_SLACK`]).
    Backwards,
}

impl fmt::Display for SntpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("reply shorter than an NTP packet"),
            Self::WrongSource => f.write_str("reply not from the configured server"),
            Self::NotAServer(mode) => write!(f, "not a server reply (mode {mode})"),
            Self::Version(v) => write!(f, "NTP version {v} (3 or 4 expected)"),
            Self::Unsynchronised => f.write_str("server clock not synchronised"),
            Self::Stratum(0) => f.write_str("kiss-o'-death (stratum 0)"),
            Self::Stratum(s) => write!(f, "stratum {s} (1 to 15 expected)"),
            Self::NotOurRequest => f.write_str("reply to another request (originate timestamp)"),
            Self::NoTime => f.write_str("no transmit timestamp"),
            Self::BeforeBuild => f.write_str("time before the firmware's build"),
            Self::Backwards => f.write_str("time earlier than the clock already shows"),
        }
    }
}

impl core::error::Error for SntpError {}

/// One request to one server, and the checks its reply must pass.
#[derive(Clone, Copy)]
pub struct Query {
    server: SocketAddr,
    nonce: [u8; NONCE_LEN],
}

impl fmt::Debug for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Query {
    /// A request to `server`: the query that checks the reply, and the
    /// packet to send (client mode, version 4, a random transmit
    /// timestamp).
    pub fn new(server: SocketAddr, rng: &mut impl RngCore) -> (Self, [u8; PACKET_LEN]) {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut packet = [0u8; PACKET_LEN];
        packet[0] = (VERSION << 3) | MODE_CLIENT;
        packet[40..48].copy_from_slice(&nonce);
        (Self { server, nonce }, packet)
    }

    /// The server's time if `packet`, received from `from`, is the
    /// server's reply to this request.
    pub fn accept(&self, from: SocketAddr, packet: &[u8]) -> Result<UnixTime, SntpError> {
        if from != self.server {
            return Err(SntpError::WrongSource);
        }
        let packet: &[u8; PACKET_LEN] = packet
            .get(..PACKET_LEN)
            .and_then(|p| p.try_into().ok())
            .ok_or(SntpError::Truncated)?;
        let [first, stratum, ..] = *packet;
        let (leap, version, mode) = (first >> 6, (first >> 3) & 0b111, first & 0b111);
        if mode != MODE_SERVER {
            return Err(SntpError::NotAServer(mode));
        }
        if !(3..=4).contains(&version) {
            return Err(SntpError::Version(version));
        }
        if leap == LI_UNSYNCHRONISED {
            return Err(SntpError::Unsynchronised);
        }
        if !(1..=15).contains(&stratum) {
            return Err(SntpError::Stratum(stratum));
        }
        if packet[24..32] != self.nonce {
            return Err(SntpError::NotOurRequest);
        }
        let mut seconds = [0u8; 4];
        let mut fraction = [0u8; 4];
        seconds.copy_from_slice(&packet[40..44]);
        fraction.copy_from_slice(&packet[44..48]);
        let (seconds, fraction) = (u32::from_be_bytes(seconds), u32::from_be_bytes(fraction));
        if seconds == 0 && fraction == 0 {
            return Err(SntpError::NoTime);
        }
        Ok(unix_time(seconds, fraction))
    }
}

/// An NTP timestamp as Unix time. Era 0 ends in 2036; seconds below the
/// 1970 offset belong to era 1 (RFC 4330 §3).
fn unix_time(seconds: u32, fraction: u32) -> UnixTime {
    let seconds = u64::from(seconds);
    let seconds = if seconds >= NTP_UNIX_OFFSET {
        seconds - NTP_UNIX_OFFSET
    } else {
        seconds + (1 << 32) - NTP_UNIX_OFFSET
    };
    UnixTime::from_millis(seconds * 1000 + ((u64::from(fraction) * 1000) >> 32))
}

/// The wall clock as an offset from the monotonic clock, set only to a
/// time it can believe.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WallClock {
    not_before: UnixTime,
    /// Unix milliseconds at monotonic instant zero, once set.
    offset_ms: Option<u64>,
}

impl WallClock {
    /// An unset clock that will never show a time before `not_before`
    /// (the firmware's build time).
    pub const fn new(not_before: UnixTime) -> Self {
        Self {
            not_before,
            offset_ms: None,
        }
    }

    /// Whether the clock has been set.
    pub const fn is_set(&self) -> bool {
        self.offset_ms.is_some()
    }

    /// The time at monotonic instant `at`, once set.
    pub fn at(&self, at: Instant) -> Option<UnixTime> {
        self.offset_ms
            .map(|offset| UnixTime::from_millis(offset.saturating_add(at.as_millis())))
    }

    /// Set the clock to `time` at monotonic instant `at`, unless `time` is
    /// before the build, or earlier than the clock already shows by more
    /// than [`BACKWARD_SLACK`]. A refused time changes nothing.
    pub fn set(&mut self, time: UnixTime, at: Instant) -> Result<(), SntpError> {
        if time < self.not_before {
            return Err(SntpError::BeforeBuild);
        }
        if let Some(shown) = self.at(at) {
            if time.as_millis().saturating_add(BACKWARD_SLACK.as_millis()) < shown.as_millis() {
                return Err(SntpError::Backwards);
            }
        }
        self.offset_ms = Some(time.as_millis().saturating_sub(at.as_millis()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};

    /// 2026-11-30T00:00:00Z.
    const NOV_30: u64 = 1_796_083_200;
    const BUILD: UnixTime = UnixTime::from_secs(NOV_30 - 86_400);

    fn server() -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 123)
    }

    struct Counter(u8);

    impl RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            rand_core::impls::next_u32_via_fill(self)
        }
        fn next_u64(&mut self) -> u64 {
            rand_core::impls::next_u64_via_fill(self)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    /// What an honest server answers to `request` at Unix second `unix`
    /// plus half a second.
    fn honest(request: &[u8; PACKET_LEN], unix: u64) -> [u8; PACKET_LEN] {
        let mut r = [0u8; PACKET_LEN];
        r[0] = (4 << 3) | 4;
        r[1] = 2;
        r[24..32].copy_from_slice(&request[40..48]);
        r[40..44].copy_from_slice(&((unix + NTP_UNIX_OFFSET) as u32).to_be_bytes());
        r[44..48].copy_from_slice(&(1u32 << 31).to_be_bytes());
        r
    }

    #[test]
    fn the_request_is_a_version_4_client_packet_with_a_random_transmit_timestamp() {
        let (_, a) = Query::new(server(), &mut Counter(0));
        let (_, b) = Query::new(server(), &mut Counter(100));
        assert_eq!(a[0], 0x23);
        assert!(a[1..40].iter().all(|b| *b == 0));
        assert_ne!(a[40..48], b[40..48]);
    }

    #[test]
    fn the_servers_reply_to_our_request_gives_its_time() {
        let (query, request) = Query::new(server(), &mut Counter(0));
        let t = query.accept(server(), &honest(&request, NOV_30)).unwrap();
        assert_eq!(t.as_millis(), NOV_30 * 1000 + 500);
        // Version 3 servers, and extension fields after the header.
        let mut v3 = [0u8; 64];
        v3[..48].copy_from_slice(&honest(&request, NOV_30));
        v3[0] = (3 << 3) | 4;
        assert!(query.accept(server(), &v3).is_ok());
    }

    #[test]
    fn after_2036_the_era_wraps() {
        assert_eq!(
            unix_time(10, 0).as_secs(),
            (1u64 << 32) + 10 - NTP_UNIX_OFFSET
        );
    }

    #[test]
    fn every_spoof_is_refused() {
        let (query, request) = Query::new(server(), &mut Counter(0));
        let good = honest(&request, NOV_30);
        let with = |edit: fn(&mut [u8; PACKET_LEN])| {
            let mut r = good;
            edit(&mut r);
            query.accept(server(), &r)
        };
        let other_host = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 66)), 123);
        let other_port = SocketAddr::new(server().ip(), 1123);
        assert_eq!(query.accept(other_host, &good), Err(SntpError::WrongSource));
        assert_eq!(query.accept(other_port, &good), Err(SntpError::WrongSource));
        assert_eq!(
            query.accept(server(), &good[..47]),
            Err(SntpError::Truncated)
        );
        assert_eq!(query.accept(server(), &[]), Err(SntpError::Truncated));
        // Our own request reflected back, a broadcast, a symmetric peer.
        assert_eq!(
            query.accept(server(), &request),
            Err(SntpError::NotAServer(3))
        );
        assert_eq!(with(|r| r[0] = (4 << 3) | 5), Err(SntpError::NotAServer(5)));
        assert_eq!(with(|r| r[0] = (4 << 3) | 1), Err(SntpError::NotAServer(1)));
        assert_eq!(with(|r| r[0] = (2 << 3) | 4), Err(SntpError::Version(2)));
        assert_eq!(with(|r| r[0] = (5 << 3) | 4), Err(SntpError::Version(5)));
        assert_eq!(
            with(|r| r[0] = (3 << 6) | (4 << 3) | 4),
            Err(SntpError::Unsynchronised)
        );
        assert_eq!(with(|r| r[1] = 0), Err(SntpError::Stratum(0)));
        assert_eq!(with(|r| r[1] = 16), Err(SntpError::Stratum(16)));
        // A reply to someone else's request, or with our time guessed.
        assert_eq!(with(|r| r[31] ^= 1), Err(SntpError::NotOurRequest));
        assert_eq!(with(|r| r[24..32].fill(0)), Err(SntpError::NotOurRequest));
        assert_eq!(with(|r| r[40..48].fill(0)), Err(SntpError::NoTime));
        // A fresh query does not accept the previous query's reply.
        let (next, _) = Query::new(server(), &mut Counter(50));
        assert_eq!(next.accept(server(), &good), Err(SntpError::NotOurRequest));
        // Leap indicators 1 and 2 announce a leap second: still a time.
        assert!(with(|r| r[0] = (1 << 6) | (4 << 3) | 4).is_ok());
    }

    #[test]
    fn the_clock_never_shows_a_time_before_the_build() {
        let mut clock = WallClock::new(BUILD);
        assert_eq!(clock.at(Instant::from_millis(5)), None);
        let before = UnixTime::from_secs(NOV_30 - 2 * 86_400);
        assert_eq!(
            clock.set(before, Instant::from_millis(5)),
            Err(SntpError::BeforeBuild)
        );
        assert!(!clock.is_set());
        clock.set(BUILD, Instant::from_millis(5)).unwrap();
        assert_eq!(
            clock.at(Instant::from_millis(1005)),
            Some(UnixTime::from_millis(BUILD.as_millis() + 1000))
        );
    }

    #[test]
    fn once_set_the_clock_refuses_to_step_back() {
        let mut clock = WallClock::new(BUILD);
        let t0 = Instant::from_millis(10_000);
        clock.set(UnixTime::from_secs(NOV_30), t0).unwrap();
        // An hour later, a reply a day in the past: refused, unchanged.
        let t1 = Instant::from_millis(10_000 + 3_600_000);
        let shown = clock.at(t1).unwrap();
        assert_eq!(
            clock.set(UnixTime::from_secs(NOV_30 - 86_400), t1),
            Err(SntpError::Backwards)
        );
        assert_eq!(clock.at(t1), Some(shown));
        // A small correction inside the slack, either way, and any step
        // forward are taken.
        let slightly_back = UnixTime::from_millis(shown.as_millis() - 1_500);
        clock.set(slightly_back, t1).unwrap();
        assert_eq!(clock.at(t1), Some(slightly_back));
        let forward = UnixTime::from_secs(NOV_30 + 86_400);
        clock.set(forward, t1).unwrap();
        assert_eq!(clock.at(t1), Some(forward));
    }
}
