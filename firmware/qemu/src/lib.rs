//! The till's HTTPS path on an emulated Cortex-M, for the one figure the
//! firmware cannot report without a board: the peak stack of the task that
//! does TLS.
//!
//! [`sales`] runs the firmware TAP test's three sales — a DStv bill
//! payment (Conductor), a MoMo payment and an airtime sale with its trial
//! (Electrum) — through till-core's own `Terminal`, `ops`, flows, JSON and
//! `Https` (embedded-tls with our verifier), with the board's development
//! credentials: the code the board runs, over a [`ReplayTcp`] that gives
//! back the server's bytes of a session recorded against the sandbox.
//!
//! A TLS session replays only if the client says exactly what it said when
//! it was recorded. So the client here is deterministic: its random numbers
//! come from ChaCha20 with fixed seeds ([`replay_rng`]) and its clock steps
//! one millisecond per reading from the recording's wall-clock time
//! ([`StepClock`]). Recorded on the host (feature `std`:
//! `record::RecordingTcp` around a real TCP connection), replayed on
//! QEMU's `mps2-an386` (`src/main.rs`), the client makes the same
//! ClientHello and the same requests, so the recorded server flight
//! completes the handshake and the recorded answers decrypt and verify.
//!
//! Never use these parts outside this measurement: fixed seeds make TLS
//! keys predictable.

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

use core::cell::Cell;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use embedded_nal_async::{AddrType, Dns, TcpConnect};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use till_core::driver::{outlined, Clock};
use till_core::flow::{Money, Now};
use till_core::money::{Amount, Currency};
use till_core::net::{Endpoint, Endpoints, Https, TLS_READ_BUFFER, TLS_WRITE_BUFFER};
use till_core::ops::{self, OpError};
use till_core::outbox::{MemoryStore, MemoryStoreError, RECORD_MAX_LEN};
use till_core::terminal::{Terminal, TerminalBuffers};
use till_core::time::{Instant, UnixTime};
use till_firmware::app::{BODY_BUFFER, RESPONSE_BUFFER};
use till_firmware::config::Settings;

#[cfg(feature = "std")]
pub mod record;

/// The recording's first bytes.
const MAGIC: &[u8; 8] = b"TILLRPL1";

/// Where and when a session ran: the wall-clock time (the replay's clock,
/// so that the certificates are valid), the sandbox's host name and port
/// (sent in SNI and `Host`) and its CA.
#[derive(Debug, Clone, Copy)]
pub struct Site<'a> {
    /// Wall-clock time at the start, Unix seconds.
    pub unix_secs: u64,
    /// The sandbox's host name.
    pub host: &'a str,
    /// The sandbox's port.
    pub port: u16,
    /// The sandbox's CA certificate (DER).
    pub ca_der: &'a [u8],
}

/// A session recorded against the sandbox: its [`Site`] and the bytes the
/// server sent on each TCP connection, in order.
///
/// Layout, integers little-endian: `TILLRPL1`, `u64` Unix seconds, `u16`
/// port, `u32`-length-prefixed host, CA DER, then each connection's bytes.
#[derive(Debug, Clone, Copy)]
pub struct Recording<'a> {
    /// Where and when.
    pub site: Site<'a>,
    /// The connections: `u32` length and bytes, each.
    connections: &'a [u8],
}

fn take<'a>(input: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    let (head, rest) = input.split_at_checked(len)?;
    *input = rest;
    Some(head)
}

fn take_u32(input: &mut &[u8]) -> Option<u32> {
    take(input, 4)?.try_into().ok().map(u32::from_le_bytes)
}

fn take_prefixed<'a>(input: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = take_u32(input)?;
    take(input, usize::try_from(len).ok()?)
}

impl<'a> Recording<'a> {
    /// Read a recording; `None` if `bytes` is not one.
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        let mut rest = bytes;
        if take(&mut rest, MAGIC.len())? != MAGIC {
            return None;
        }
        let unix_secs = u64::from_le_bytes(take(&mut rest, 8)?.try_into().ok()?);
        let port = u16::from_le_bytes(take(&mut rest, 2)?.try_into().ok()?);
        let host = core::str::from_utf8(take_prefixed(&mut rest)?).ok()?;
        let ca_der = take_prefixed(&mut rest)?;
        Some(Self {
            site: Site {
                unix_secs,
                host,
                port,
                ca_der,
            },
            connections: rest,
        })
    }

    /// The recording's bytes.
    #[cfg(feature = "std")]
    pub fn encode(site: &Site<'_>, connections: &[std::vec::Vec<u8>]) -> std::vec::Vec<u8> {
        fn prefixed(out: &mut std::vec::Vec<u8>, bytes: &[u8]) {
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(bytes);
        }
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&site.unix_secs.to_le_bytes());
        out.extend_from_slice(&site.port.to_le_bytes());
        prefixed(&mut out, site.host.as_bytes());
        prefixed(&mut out, site.ca_der);
        for connection in connections {
            prefixed(&mut out, connection);
        }
        out
    }
}

/// Why a replayed connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// The client opened more connections than were recorded.
    NoMoreConnections,
    /// The recording is cut short.
    Truncated,
}

impl embedded_io_async::Error for ReplayError {
    fn kind(&self) -> embedded_io_async::ErrorKind {
        embedded_io_async::ErrorKind::Other
    }
}

impl core::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NoMoreConnections => "more connections than recorded",
            Self::Truncated => "recording cut short",
        })
    }
}

impl core::error::Error for ReplayError {}

/// TCP that replays a [`Recording`]: each connect opens the next recorded
/// connection, whose reads return the server's bytes (then end of stream)
/// and whose writes are accepted and dropped.
pub struct ReplayTcp<'a> {
    rest: Cell<&'a [u8]>,
    opened: Cell<u32>,
}

impl<'a> ReplayTcp<'a> {
    /// The connections of `recording`, from the first.
    pub fn new(recording: &Recording<'a>) -> Self {
        Self {
            rest: Cell::new(recording.connections),
            opened: Cell::new(0),
        }
    }

    /// Connections opened so far.
    pub fn opened(&self) -> u32 {
        self.opened.get()
    }
}

impl<'a> TcpConnect for ReplayTcp<'a> {
    type Error = ReplayError;
    type Connection<'m>
        = ReplayConnection<'a>
    where
        Self: 'm;

    async fn connect<'m>(
        &'m self,
        _remote: SocketAddr,
    ) -> Result<ReplayConnection<'a>, ReplayError> {
        let mut rest = self.rest.get();
        if rest.is_empty() {
            return Err(ReplayError::NoMoreConnections);
        }
        let server = take_prefixed(&mut rest).ok_or(ReplayError::Truncated)?;
        self.rest.set(rest);
        self.opened.set(self.opened.get() + 1);
        Ok(ReplayConnection { server })
    }
}

/// One replayed connection.
pub struct ReplayConnection<'a> {
    server: &'a [u8],
}

impl embedded_io_async::ErrorType for ReplayConnection<'_> {
    type Error = ReplayError;
}

impl embedded_io_async::Read for ReplayConnection<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ReplayError> {
        let n = buf.len().min(self.server.len());
        let (now, later) = self.server.split_at(n);
        if let Some(out) = buf.get_mut(..n) {
            out.copy_from_slice(now);
        }
        self.server = later;
        Ok(n)
    }
}

impl embedded_io_async::Write for ReplayConnection<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ReplayError> {
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ReplayError> {
        Ok(())
    }
}

/// Every name is 127.0.0.1 (the sandbox's address when recorded; a replay
/// connects nowhere).
pub struct Loopback;

impl Dns for Loopback {
    type Error = core::convert::Infallible;

    async fn get_host_by_name(&self, _: &str, _: AddrType) -> Result<IpAddr, Self::Error> {
        Ok(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    async fn get_host_by_address(&self, _: IpAddr, _: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(0)
    }
}

/// ChaCha20 with a fixed seed: the same numbers when recording and when
/// replaying. `stream` tells the terminal's RNG (ids) from the TLS one.
pub fn replay_rng(stream: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([stream; 32])
}

/// A clock that starts at the recording's wall-clock time and steps one
/// millisecond per reading; sleeping jumps to the deadline. When
/// recording (feature `std`, real sockets) a sleep also waits that long in
/// real time: the driver races each exchange against a sleep until its
/// deadline, and a sleep that ended at once would end every exchange
/// still waiting for its answer. The replay is never pending, so its
/// exchanges win that race on their first poll.
pub struct StepClock {
    start: UnixTime,
    ms: u64,
}

impl StepClock {
    /// From `unix_secs`.
    pub fn new(unix_secs: u64) -> Self {
        Self {
            start: UnixTime::from_secs(unix_secs),
            ms: 0,
        }
    }
}

impl Clock for StepClock {
    fn now(&mut self) -> Now {
        self.ms += 1;
        let unix = UnixTime::from_millis(self.start.as_millis() + self.ms);
        till_core::net::set_wall_clock(unix);
        Now {
            instant: Instant::from_millis(self.ms),
            unix,
        }
    }

    async fn sleep_until(&mut self, until: Instant) {
        #[cfg(feature = "std")]
        if let Some(wait) = until.as_millis().checked_sub(self.ms) {
            tokio::time::sleep(core::time::Duration::from_millis(wait)).await;
        }
        self.ms = self.ms.max(until.as_millis());
    }
}

/// The board's buffers: its TLS, request, response and record sizes.
pub struct BoardBuffers {
    /// TLS records in.
    pub tls_read: [u8; TLS_READ_BUFFER],
    /// TLS records out.
    pub tls_write: [u8; TLS_WRITE_BUFFER],
    /// Request bodies.
    pub body: [u8; BODY_BUFFER],
    /// Response bodies.
    pub response: [u8; RESPONSE_BUFFER],
    /// Outbox records.
    pub record: [u8; RECORD_MAX_LEN],
}

impl BoardBuffers {
    /// All zero.
    pub const fn new() -> Self {
        Self {
            tls_read: [0; TLS_READ_BUFFER],
            tls_write: [0; TLS_WRITE_BUFFER],
            body: [0; BODY_BUFFER],
            response: [0; RESPONSE_BUFFER],
            record: [0; RECORD_MAX_LEN],
        }
    }
}

impl Default for BoardBuffers {
    fn default() -> Self {
        Self::new()
    }
}

/// Why the sales could not run.
#[derive(Debug)]
pub enum ScenarioError {
    /// The development settings would not load.
    Settings,
    /// The terminal could not open its (memory) outbox.
    Open(MemoryStoreError),
    /// A sale failed: which, and why.
    Op(&'static str, OpError<MemoryStoreError>),
}

/// What each sale did with the customer's money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sold {
    /// The DStv bill payment (Conductor: enquiry, create, complete).
    pub bill: Money,
    /// The MoMo payment (token, create, status).
    pub momo: Money,
    /// The airtime sale (Electrum: trial, purchase, confirmation).
    pub airtime: Money,
}

/// The firmware TAP test's three sales at `site`, over `tcp` and `dns`,
/// with the deterministic RNGs and clock and the board's development
/// credentials: what is recorded on the host and replayed on QEMU.
pub async fn sales<T: TcpConnect, D: Dns>(
    tcp: &T,
    dns: &D,
    site: &Site<'_>,
    bufs: &mut BoardBuffers,
) -> Result<Sold, ScenarioError> {
    let endpoint = Endpoint {
        host: site.host,
        port: site.port,
        base_path: "",
        ca_der: site.ca_der,
        deadline: till_core::driver::EXCHANGE_DEADLINE,
    };
    let endpoints = Endpoints {
        conductor: Some(endpoint),
        momo: Some(endpoint),
        electrum: Some(endpoint),
    };
    let https = Https::new(
        tcp,
        dns,
        replay_rng(1),
        endpoints,
        &mut bufs.tls_read,
        &mut bufs.tls_write,
    );
    let terminal_bufs = TerminalBuffers {
        body: &mut bufs.body,
        response: &mut bufs.response,
        record: &mut bufs.record,
    };
    let clock = StepClock::new(site.unix_secs);
    let (mut term, _) = Terminal::open(
        https,
        MemoryStore::default(),
        clock,
        replay_rng(2),
        terminal_bufs,
    )
    .await
    .map_err(ScenarioError::Open)?;
    let mut apis = Settings::development()
        .and_then(|s| s.apis())
        .map_err(|_| ScenarioError::Settings)?;
    // Each sale awaited as the firmware's console awaits it.
    let bill = outlined(ops::pay_bill(
        &mut term,
        &apis,
        "za_dstv",
        "8604275423086",
        Some("SUBS"),
        None,
        false,
        |o| o.money(),
    ))
    .await
    .map_err(|e| ScenarioError::Op("bill", e))?;
    let momo = outlined(ops::momo_pay(
        &mut term,
        &mut apis,
        "46733123999",
        Amount::from_minor(2500, Currency::EUR),
        "till",
        |o| o.money(),
    ))
    .await
    .map_err(|e| ScenarioError::Op("momo", e))?;
    let airtime = outlined(ops::airtime(
        &mut term,
        &apis,
        "27821234567",
        "759",
        Amount::from_minor(5000, Currency::ZAR),
        true,
        |o| o.money(),
    ))
    .await
    .map_err(|e| ScenarioError::Op("airtime", e))?;
    Ok(Sold {
        bill,
        momo,
        airtime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_reads_back_and_cut_ones_do_not() {
        use core::future::Future as _;
        let site = Site {
            unix_secs: 1_764_000_000,
            host: "localhost",
            port: 8443,
            ca_der: &[0x30, 3, 1, 2, 3],
        };
        let bytes = Recording::encode(&site, &[vec![1, 2, 3], vec![], vec![4]]);
        let read = Recording::parse(&bytes).unwrap();
        assert_eq!(read.site.unix_secs, site.unix_secs);
        assert_eq!((read.site.host, read.site.port), ("localhost", 8443));
        assert_eq!(read.site.ca_der, site.ca_der);
        let tcp = ReplayTcp::new(&read);
        let connect = |tcp: &ReplayTcp<'_>| {
            let any = SocketAddr::from(([127, 0, 0, 1], 1));
            let mut fut = core::pin::pin!(tcp.connect(any));
            let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
            match fut.as_mut().poll(&mut cx) {
                core::task::Poll::Ready(r) => r.map(|c| c.server.to_vec()),
                core::task::Poll::Pending => panic!("replay is never pending"),
            }
        };
        assert_eq!(connect(&tcp), Ok(vec![1, 2, 3]));
        assert_eq!(connect(&tcp), Ok(vec![]));
        assert_eq!(connect(&tcp), Ok(vec![4]));
        assert_eq!(connect(&tcp), Err(ReplayError::NoMoreConnections));
        assert_eq!(tcp.opened(), 3);
        for len in 0..bytes.len() - 7 {
            // Every cut before the connections is refused.
            if len < 8 + 8 + 2 + 4 + 9 + 4 + 5 {
                assert!(Recording::parse(&bytes[..len]).is_none(), "cut at {len}");
            }
        }
    }
}

/// End the QEMU run (semihosting): exit status 0 if `ok`, 1 otherwise.
#[cfg(target_os = "none")]
pub fn exit(ok: bool) -> ! {
    use cortex_m_semihosting::debug;
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}
