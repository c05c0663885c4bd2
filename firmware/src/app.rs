//! The app: boot (configuration, network, SNTP, outbox), then one loop in
//! which the operator console, the outbox flusher (at the outbox's next
//! due time) and the periodic healthcheck take turns on one terminal.

use core::cell::RefCell;

use embassy_futures::select::{select3, Either3};
use embassy_net::tcp::client::{TcpClient, TcpClientState};
use embassy_time::{Duration, Timer};
use embedded_io_async::{Read, Write};
use embedded_storage_async::nor_flash::NorFlash;
use heapless::Vec;
use rand_core::{CryptoRng, RngCore};
use till_core::driver::{outlined, Clock};
use till_core::flash::FlashStore;
#[cfg(not(feature = "board"))]
use till_core::id::ExternalReference;
use till_core::id::Uuid;
use till_core::money::{Amount, Currency};
use till_core::net::{Endpoint, Endpoints, Https, TLS_READ_BUFFER, TLS_WRITE_BUFFER};
use till_core::ops;
#[cfg(not(feature = "board"))]
use till_core::outbox::ConductorTarget;
use till_core::outbox::{Record, RECORD_MAX_LEN};
use till_core::slip::{BillSlip, MomoSlip, SaleSlip};
use till_core::terminal::{Apis, Terminal, TerminalBuffers};

use crate::clock::{self, EmbassyClock};
use crate::config::{self, ConfigArea, EndpointSettings, Settings, CA_DER_CAP};
use crate::console::{self, Answer, Command, LineReader, ParseError};
use crate::net::Resolver;
use crate::Parts;

/// TCP connections at once: one HTTPS session at a time.
const TCP_SOCKETS: usize = 1;
/// TCP receive buffer: a TLS record arrives in pieces anyway; 4 KiB keeps
/// a train of full-size segments in flight.
const TCP_RX: usize = 4096;
/// TCP send buffer: requests are a few KiB, written as TLS records of at
/// most `TLS_WRITE_BUFFER` bytes, which wait for the buffer to drain; 1 KiB
/// sends a 2 KiB record in two windows (requests are under 4 KiB: a few
/// round trips at most), and leaves the RAM to the sales' futures.
const TCP_TX: usize = 1024;
/// Request bodies: an Electrum purchase with tenders is under 3 KiB.
pub const BODY_BUFFER: usize = 4096;
/// Response bodies: the terminal's answers (slips included) stay under
/// 8 KiB (the samples' largest is 2.3 KiB); 12 KiB leaves half again.
/// Answers larger than this are refused by the transport (the flows then
/// recover: a lookup fails, a sale is reversed).
pub const RESPONSE_BUFFER: usize = 12 * 1024;
/// How often the healthcheck runs.
const HEALTHCHECK_PERIOD: Duration = Duration::from_secs(60);
/// How long to wait between SNTP attempts before the time is known.
const SNTP_RETRY: Duration = Duration::from_secs(5);
/// When nothing is pending, the flusher still looks this often.
const FLUSH_IDLE: Duration = Duration::from_secs(30);
/// How often the wait for a network (DHCP, link) marks progress for the
/// watchdog: well inside `watchdog::PROGRESS_LIMIT_MS`.
const NETWORK_WAIT_MARK: Duration = Duration::from_secs(10);

/// One CSPRNG shared by the TLS layer and the terminal (ids, keys,
/// jitter). Each call borrows it briefly; no borrow spans an await.
struct SharedRng<'r, R>(&'r RefCell<R>);

impl<R: RngCore> RngCore for SharedRng<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.borrow_mut().next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.borrow_mut().next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.borrow_mut().fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.borrow_mut().try_fill_bytes(dest)
    }
}

impl<R: CryptoRng> CryptoRng for SharedRng<'_, R> {}

/// Counters of the HTTPS connector, for `status`.
pub trait NetStatsSource {
    /// Handshakes, requests, failed connects so far.
    fn net_stats(&self) -> till_core::net::NetStats;
}

impl<T, D, R> NetStatsSource for Https<'_, T, D, R>
where
    T: embedded_nal_async::TcpConnect,
    D: embedded_nal_async::Dns,
    R: RngCore + CryptoRng,
{
    fn net_stats(&self) -> till_core::net::NetStats {
        self.stats()
    }
}

/// The terminal and what the console needs beside it.
struct App<'a, T, S, C, R, CF: NorFlash> {
    term: Terminal<'a, T, S, C, R>,
    // Borrowed, not owned: these live in `run` from boot on, so the task's
    // future keeps one copy of them rather than a boot-time copy beside
    // the app's.
    apis: &'a mut Apis,
    // The configuration area is opened again for `config ca` only: an
    // open area holds 4.6 KiB of buffers, needed at boot and then rarely.
    config_flash: &'a mut CF,
    config_range: core::ops::Range<u32>,
    settings: &'a Settings,
    shop: Currency,
    momo_currency: Currency,
    healthy: Option<bool>,
}

fn endpoint<'s>(e: &'s EndpointSettings, ca: &'s [u8]) -> Endpoint<'s> {
    Endpoint {
        host: &e.host,
        port: e.port,
        base_path: &e.base_path,
        ca_der: ca,
        deadline: till_core::driver::EXCHANGE_DEADLINE,
    }
}

/// Run the terminal forever (see [`crate::run`]).
pub async fn run<OF, CF, R, C>(parts: Parts<OF, CF, R, C>) -> !
where
    OF: NorFlash,
    CF: NorFlash,
    R: RngCore + CryptoRng,
    C: Read + Write,
{
    let Parts {
        stack,
        mut outbox_flash,
        outbox_range,
        mut config_flash,
        config_range,
        mut rng,
        mut console,
        stack_high_water,
    } = parts;
    let _ = console::write(&mut console, "till firmware starting\n").await;

    // Configuration: the area's, or the development default.
    let mut ca: Vec<u8, CA_DER_CAP> = Vec::new();
    let settings = load_settings_or_halt(
        &mut config_flash,
        config_range.clone(),
        &mut ca,
        &mut console,
    )
    .await;
    if ca.is_empty() {
        warn!("no CA certificate configured: every TLS connection will be refused (`config ca`)");
    }
    let shop = or_halt(settings.shop_currency(), &mut console, "configuration").await;
    let momo_currency = or_halt(settings.momo_currency(), &mut console, "configuration").await;
    let mut apis = or_halt(settings.apis(), &mut console, "configuration").await;

    // Network, then the wall clock: no TLS before the time is known.
    // Waiting for a network is progress (the watchdog must not reset a
    // terminal whose cable is out): marked every few seconds.
    while !stack.is_config_up() {
        crate::watchdog::progress();
        let _ = embassy_time::with_timeout(NETWORK_WAIT_MARK, stack.wait_config_up()).await;
    }
    let resolver = Resolver::new(stack, &settings.hosts);
    let mut clock = EmbassyClock::default();
    while !clock.synced() {
        crate::watchdog::progress();
        let synced = match sync_time(stack, &resolver, &settings, &mut rng).await {
            Ok(unix) => clock
                .set(unix, embassy_time::Instant::now())
                .map_err(clock::SntpError::Refused),
            Err(e) => Err(e),
        };
        if let Err(e) = synced {
            warn!("sntp: {:?}; retrying", e);
            Timer::after(SNTP_RETRY).await;
        }
    }
    info!("wall clock set by SNTP");

    // HTTPS and the outbox.
    let tcp_state: TcpClientState<TCP_SOCKETS, TCP_TX, TCP_RX> = TcpClientState::new();
    let mut tcp = TcpClient::new(stack, &tcp_state);
    tcp.set_timeout(Some(Duration::from_secs(15)));
    let endpoints = Endpoints {
        conductor: settings
            .conductor
            .as_ref()
            .map(|c| endpoint(&c.endpoint, &ca)),
        momo: settings.momo.as_ref().map(|c| endpoint(&c.endpoint, &ca)),
        electrum: settings
            .electrum
            .as_ref()
            .map(|c| endpoint(&c.endpoint, &ca)),
    };
    let rng = RefCell::new(rng);
    let mut tls_read = [0u8; TLS_READ_BUFFER];
    let mut tls_write = [0u8; TLS_WRITE_BUFFER];
    let https = Https::new(
        &tcp,
        &resolver,
        SharedRng(&rng),
        endpoints,
        &mut tls_read,
        &mut tls_write,
    );
    let store = or_halt(
        // Borrowed like the configuration area's flash: one instance of
        // the flash store's code serves both.
        FlashStore::open(&mut outbox_flash, outbox_range).await,
        &mut console,
        "outbox flash",
    )
    .await;
    let mut body = [0u8; BODY_BUFFER];
    let mut response = [0u8; RESPONSE_BUFFER];
    let mut record = [0u8; RECORD_MAX_LEN];
    let bufs = TerminalBuffers {
        body: &mut body,
        response: &mut response,
        record: &mut record,
    };
    let (term, report) = or_halt(
        Terminal::open(https, store, clock, SharedRng(&rng), bufs).await,
        &mut console,
        "outbox",
    )
    .await;
    if report.restored > 0 {
        info!("outbox: {} pending advice(s) restored", report.restored);
    }
    let mut app = App {
        term,
        apis: &mut apis,
        config_flash: &mut config_flash,
        config_range,
        settings: &settings,
        shop,
        momo_currency,
        healthy: None,
    };
    let mut lines = LineReader::new(console);
    let _ = console::write(lines.io_mut(), "till ready\n").await;

    // One loop, not three tasks: the console, the outbox flusher and the
    // healthcheck take turns, so only one flow's future exists at a time
    // (each holds a TLS session and a flow: tens of KiB).
    let mut next_health = embassy_time::Instant::now() + HEALTHCHECK_PERIOD;
    loop {
        crate::watchdog::progress();
        let flush_at = match app.term.next_wakeup() {
            Some(at) => embassy_time::Instant::from_millis(at.as_millis()),
            None => embassy_time::Instant::now() + FLUSH_IDLE,
        };
        let answer = match select3(lines.next(), Timer::at(flush_at), Timer::at(next_health)).await
        {
            Either3::First(line) => Some(app.command(line, stack, stack_high_water).await),
            Either3::Second(()) => {
                app.flush_outbox().await;
                None
            }
            Either3::Third(()) => {
                app.healthcheck().await;
                next_health = embassy_time::Instant::now() + HEALTHCHECK_PERIOD;
                None
            }
        };
        if let Some(answer) = answer {
            let _ = console::write(lines.io_mut(), &answer.0).await;
        }
    }
}

/// The value, or — when boot cannot go on — the reason on the console,
/// forever. (A function of its own, so the `Result` lives in its future
/// while it halts, not in the task's layout beside everything after it.)
async fn or_halt<T, E: core::fmt::Display, W: Write>(
    result: Result<T, E>,
    console: &mut W,
    what: &str,
) -> T {
    match result {
        Ok(value) => value,
        Err(e) => halt(console, what, &e).await,
    }
}

/// Through `dyn Display`: one halt in the image, whatever the error.
async fn halt<W: Write>(console: &mut W, what: &str, e: &dyn core::fmt::Display) -> ! {
    let mut answer = Answer::new();
    answer.line(format_args!("till cannot start: {what}: {e}"));
    loop {
        // Halted on purpose, for an operator: not a hang to reset from.
        crate::watchdog::progress();
        let _ = console::write(console, &answer.0).await;
        Timer::after_secs(10).await;
    }
}

/// [`load_settings`], or halt (see [`or_halt`]).
async fn load_settings_or_halt<F: NorFlash, W: Write>(
    flash: &mut F,
    range: core::ops::Range<u32>,
    ca: &mut Vec<u8, CA_DER_CAP>,
    console: &mut W,
) -> Settings {
    let loaded = load_settings(flash, range, ca).await;
    or_halt(loaded, console, "configuration").await
}

async fn load_settings<F: NorFlash>(
    flash: &mut F,
    range: core::ops::Range<u32>,
    ca: &mut Vec<u8, CA_DER_CAP>,
) -> Result<Settings, config::ConfigError> {
    let mut area = ConfigArea::open(flash, range).await?;
    area.ca(ca).await?;
    match area.settings().await? {
        Some(settings) => Ok(settings),
        None => {
            info!("configuration area empty: development settings");
            Settings::development()
        }
    }
}

async fn sync_time(
    stack: embassy_net::Stack<'_>,
    resolver: &Resolver<'_>,
    settings: &Settings,
    rng: &mut impl RngCore,
) -> Result<till_core::time::UnixTime, clock::SntpError> {
    use embedded_nal_async::{AddrType, Dns};
    let server = match resolver
        .get_host_by_name(&settings.sntp_host, AddrType::IPv4)
        .await
    {
        Ok(core::net::IpAddr::V4(ip)) => ip,
        _ => return Err(clock::SntpError::Socket),
    };
    clock::sntp(stack, server, settings.sntp_port, rng).await
}

fn amount(text: &str, currency: Currency) -> Option<Amount> {
    Amount::parse_decimal(text, currency).ok()
}

/// What the console, the flusher and the healthcheck do with the app.
impl<T, S, C, R, CF> App<'_, T, S, C, R, CF>
where
    T: till_core::driver::Connect + NetStatsSource,
    S: till_core::outbox::Store,
    S::Error: core::fmt::Debug,
    C: Clock,
    R: RngCore,
    CF: NorFlash,
{
    /// Answer one console line.
    async fn command<E>(
        &mut self,
        line: Result<Option<&str>, E>,
        stack: embassy_net::Stack<'_>,
        stack_high_water: fn() -> Option<usize>,
    ) -> Answer {
        let mut answer = Answer::new();
        let verb = match line {
            Err(_) => {
                Timer::after_millis(100).await;
                return answer;
            }
            Ok(None) => {
                answer.line(format_args!("error: line too long"));
                "error"
            }
            Ok(Some(line)) => match Command::parse(line) {
                Err(ParseError::Empty) => return answer,
                Err(ParseError::Unknown(word)) => {
                    answer.line(format_args!("error: unknown command \"{word}\" (try help)"));
                    "error"
                }
                Err(ParseError::Usage(usage)) => {
                    answer.line(format_args!("usage: {usage}"));
                    "error"
                }
                Ok(command) => {
                    self.execute(command, &mut answer, stack, stack_high_water)
                        .await;
                    command.verb()
                }
            },
        };
        answer.line(format_args!("[done] {verb}"));
        answer
    }

    async fn execute(
        &mut self,
        command: Command<'_>,
        out: &mut Answer,
        stack: embassy_net::Stack<'_>,
        stack_high_water: fn() -> Option<usize>,
    ) {
        let App {
            term,
            apis,
            config_flash,
            config_range,
            settings,
            shop,
            momo_currency,
            healthy,
        } = self;
        match command {
            Command::Bill {
                biller,
                customer,
                reference,
                amount: a,
            } => {
                let a = match a.map(|a| amount(a, *shop)) {
                    Some(None) => {
                        return out
                            .line(format_args!("error: amount \"{}\"", a.unwrap_or_default()))
                    }
                    Some(Some(a)) => Some(a),
                    None => None,
                };
                let slip = |o: &_| out.line(format_args!("{}", BillSlip("Bill payment", o)));
                // One future, moved into `outlined` as it is made (a named
                // future would be kept beside its moved copy).
                if let Err(e) = outlined(ops::pay_bill(
                    term, apis, biller, customer, reference, a, false, slip,
                ))
                .await
                {
                    out.line(format_args!("error: {e}"));
                }
            }
            Command::Partner {
                biller,
                customer,
                reference,
                amount: a,
            } => {
                let Some(a) = amount(a, *shop) else {
                    return out.line(format_args!("error: amount \"{a}\""));
                };
                let slip = |o: &_| out.line(format_args!("{}", BillSlip("Bill payment", o)));
                // One future, moved into `outlined` as it is made (a named
                // future would be kept beside its moved copy).
                if let Err(e) = outlined(ops::pay_partner(
                    term,
                    apis,
                    biller,
                    customer,
                    Some(reference),
                    a,
                    false,
                    slip,
                ))
                .await
                {
                    out.line(format_args!("error: {e}"));
                }
            }
            Command::Momo { msisdn, amount: a } => {
                let Some(a) = amount(a, *momo_currency) else {
                    return out.line(format_args!("error: amount \"{a}\""));
                };
                let slip = |o: &_| out.line(format_args!("{}", MomoSlip(o)));
                if let Err(e) = outlined(ops::momo_pay(term, apis, msisdn, a, "till", slip)).await {
                    out.line(format_args!("error: {e}"));
                }
            }
            Command::Airtime {
                msisdn,
                product,
                amount: a,
                trial,
            } => {
                let Some(a) = amount(a, *shop) else {
                    return out.line(format_args!("error: amount \"{a}\""));
                };
                let slip = |o: &_| out.line(format_args!("{}", SaleSlip("Airtime", o)));
                // One future, moved into `outlined` as it is made (a named
                // future would be kept beside its moved copy).
                if let Err(e) =
                    outlined(ops::airtime(term, apis, msisdn, product, a, trial, slip)).await
                {
                    out.line(format_args!("error: {e}"));
                }
            }
            Command::Voucher { product, amount: a } => {
                let Some(a) = amount(a, *shop) else {
                    return out.line(format_args!("error: amount \"{a}\""));
                };
                let slip = |o: &_| out.line(format_args!("{}", SaleSlip("Voucher", o)));
                if let Err(e) = outlined(ops::voucher(term, apis, product, a, slip)).await {
                    out.line(format_args!("error: {e}"));
                }
            }
            #[cfg(not(feature = "board"))]
            Command::Enquiry {
                biller,
                customer,
                reference,
            } => {
                let query = ops::Query::Enquiry {
                    biller,
                    customer,
                    reference,
                };
                ask(term, apis, query, out).await
            }
            #[cfg(not(feature = "board"))]
            Command::Catalogue(category) => {
                ask(term, apis, ops::Query::Catalogue(category), out).await
            }
            #[cfg(not(feature = "board"))]
            Command::Transaction(id) => match target(id) {
                Some(target) => ask(term, apis, ops::Query::Transaction(&target), out).await,
                None => out.line(format_args!("error: transaction \"{id}\"")),
            },
            #[cfg(not(feature = "board"))]
            Command::Cancel(id, reason) => {
                let Some(target) = target(id) else {
                    return out.line(format_args!("error: transaction \"{id}\""));
                };
                match outlined(ops::cancel(term, apis, target, reason)).await {
                    Ok((key, ops::Cancelled::Final)) => {
                        out.line(format_args!("cancel: answered (record {key} settled)"))
                    }
                    Ok((_, ops::Cancelled::Refused(status))) => {
                        out.line(format_args!("cancel: REFUSED by Conductor (HTTP {status})"))
                    }
                    Ok((key, ops::Cancelled::Pending)) => out.line(format_args!(
                        "cancel: not final yet; record {key} stays in the outbox ('flush')"
                    )),
                    Err(e) => out.line(format_args!("error: {e}")),
                }
            }
            #[cfg(not(feature = "board"))]
            Command::MomoStatus(reference) => match Uuid::parse(reference) {
                Ok(id) => ask(term, apis, ops::Query::MomoPayment(id), out).await,
                Err(_) => out.line(format_args!(
                    "error: reference \"{reference}\" is not a UUID"
                )),
            },
            #[cfg(not(feature = "board"))]
            Command::Lookup(msisdn) => ask(term, apis, ops::Query::Lookup(msisdn), out).await,
            #[cfg(not(feature = "board"))]
            Command::Products(channel) => ask(term, apis, ops::Query::Products(channel), out).await,
            #[cfg(not(feature = "board"))]
            Command::SaleStatus(id) => match Uuid::parse(id) {
                Ok(id) => ask(term, apis, ops::Query::Purchase(id), out).await,
                Err(_) => out.line(format_args!("error: request id \"{id}\" is not a UUID")),
            },
            Command::Status => {
                match stack.config_v4() {
                    Some(c) => {
                        // Octet by octet: `Ipv4Addr`'s own `Display` (its
                        // padding buffer) would be linked for this line alone.
                        let [a, b, c3, d] = c.address.address().octets();
                        let len = c.address.prefix_len();
                        out.line(format_args!("ip           {a}.{b}.{c3}.{d}/{len}"))
                    }
                    None => out.line(format_args!("ip           (none)")),
                }
                let now = term.now();
                out.line(format_args!("wall clock   {}", now.unix.to_timestamp()));
                out.line(format_args!("outbox       {} pending", term.pending()));
                if !term.attention().is_empty() {
                    out.line(format_args!(
                        "attention    {} record(s) need an operator ('outbox')",
                        term.attention().len()
                    ));
                }
                if term.damaged() > 0 {
                    out.line(format_args!(
                        "DAMAGE       {} record(s) lost to flash damage: sales refused ('outbox')",
                        term.damaged()
                    ));
                }
                let stats = term.connect.net_stats();
                out.line(format_args!(
                    "https        {} handshakes, {} requests, {} failed connects",
                    stats.handshakes, stats.requests, stats.connect_failures
                ));
                out.line(format_args!(
                    "healthcheck  {}",
                    match healthy {
                        Some(true) => "ok",
                        Some(false) => "FAILING",
                        None => "not run yet",
                    }
                ));
                match stack_high_water() {
                    Some(bytes) => out.line(format_args!("stack peak   {bytes} bytes")),
                    None => out.line(format_args!("stack peak   (not measured here)")),
                }
            }
            Command::Outbox => {
                let mut any = false;
                let result = term
                    .for_each_record(&mut |key, bytes| {
                        any = true;
                        match till_core::json::decode::<Record>(bytes) {
                            Ok(r) => match r.attention {
                                Some(a) => out.line(format_args!(
                                    "{}  seq {}  {}  NEEDS ATTENTION (final answer {}; 'outbox ack <key>' once settled)",
                                    key,
                                    r.seq,
                                    r.advice.kind(),
                                    a.status
                                )),
                                None => out.line(format_args!(
                                    "{}  seq {}  {}",
                                    key,
                                    r.seq,
                                    r.advice.kind()
                                )),
                            },
                            Err(_) => out.line(format_args!("{key}  UNREADABLE (kept)")),
                        }
                    })
                    .await;
                if let Err(e) = result {
                    out.line(format_args!("error: outbox store: {e}"));
                } else if !any && term.damaged() == 0 {
                    out.line(format_args!("outbox empty"));
                }
                term.for_each_damaged(&mut |slot, previous| match previous {
                    Some(key) => out.line(format_args!(
                        "slot {slot}  DAMAGED: newest record unreadable (before it: {key}); check the sale with the provider, then 'outbox ack-damage'"
                    )),
                    None => out.line(format_args!(
                        "slot {slot}  DAMAGED: newest record unreadable; check the last sales with the provider, then 'outbox ack-damage'"
                    )),
                });
            }
            Command::OutboxAckDamage => match term.acknowledge_damage().await {
                Ok(0) => out.line(format_args!(
                    "error: the outbox has no damage to acknowledge"
                )),
                Ok(n) => out.line(format_args!(
                    "{n} damaged record(s) acknowledged: sales resume"
                )),
                Err(e) => out.line(format_args!("error: outbox store: {e}")),
            },
            Command::OutboxAck(key) => match Uuid::parse(key).ok() {
                None => out.line(format_args!("error: {key} is not a record key")),
                Some(uuid) => match term.acknowledge(uuid).await {
                    Ok(true) => out.line(format_args!("{key}: acknowledged")),
                    Ok(false) => out.line(format_args!("error: no record {key} needs attention")),
                    Err(e) => out.line(format_args!("error: outbox store: {e}")),
                },
            },
            Command::Flush => match term.flush(apis).await {
                Ok(r) => out.line(format_args!(
                    "outbox: {} settled, {} retried, {} pending",
                    r.settled,
                    r.retried,
                    term.pending()
                )),
                Err(e) => out.line(format_args!("error: {e}")),
            },
            Command::Config => {
                show_settings(settings, out);
                let provisioning =
                    match ConfigArea::open(&mut **config_flash, config_range.clone()).await {
                        Ok(mut area) => area.provisioning().await.map(|p| p.map(|(_, n)| n)),
                        Err(e) => Err(e),
                    };
                match provisioning {
                    Ok(Some(last)) => out.line(format_args!(
                        "provisioning key set; last change {last} (console changes need its tag)"
                    )),
                    Ok(None) => out.line(format_args!(
                        "no provisioning key: console changes are refused"
                    )),
                    Err(e) => out.line(format_args!("provisioning: {e}")),
                }
                out.line(format_args!("(secrets are never shown)"));
            }
            Command::ConfigCa {
                der: text,
                counter,
                tag,
            } => {
                // In a future of its own: the certificate's buffer lives
                // only while it runs, not beside every other command's.
                config_ca(
                    &mut **config_flash,
                    config_range.clone(),
                    text,
                    counter,
                    tag,
                    out,
                )
                .await
            }
            Command::Help => {
                out.line(format_args!("{}", console::HELP));
                #[cfg(not(feature = "board"))]
                out.line(format_args!("{}", console::QUERIES_HELP));
            }
        }
    }

    /// Deliver what is due in the outbox.
    async fn flush_outbox(&mut self) {
        let App { term, apis, .. } = self;
        if term.pending() == 0 {
            return;
        }
        match term.flush(apis).await {
            Ok(r) if r.settled + r.retried > 0 => info!(
                "outbox: {} settled, {} retried, {} pending",
                r.settled,
                r.retried,
                term.pending()
            ),
            Ok(_) => {}
            Err(e) => error!("outbox flush: {}", crate::fmt::Shown(&e)),
        }
    }

    /// Ask Conductor whether it is up; `status` shows the answer.
    async fn healthcheck(&mut self) {
        let App {
            term,
            apis,
            healthy,
            ..
        } = self;
        if apis.conductor.is_none() {
            return;
        }
        let ok = ops::healthcheck(term, apis).await.is_ok();
        if !ok {
            warn!("healthcheck: Conductor is not answering");
        }
        *healthy = Some(ok);
    }
}

/// A Conductor transaction's id, or `ref=` a partner transaction's
/// reference.
#[cfg(not(feature = "board"))]
fn target(text: &str) -> Option<ConductorTarget> {
    match text.strip_prefix("ref=") {
        Some(reference) => ExternalReference::parse(reference)
            .ok()
            .map(ConductorTarget::Partner),
        None => heapless::String::try_from(text)
            .ok()
            .map(ConductorTarget::Transaction),
    }
}

/// Ask a question that moves no money; its answer as `path: value` lines
/// (personal values masked).
#[cfg(not(feature = "board"))]
async fn ask<T, S, C, R>(
    term: &mut Terminal<'_, T, S, C, R>,
    apis: &mut Apis,
    query: ops::Query<'_>,
    out: &mut Answer,
) where
    T: till_core::driver::Connect,
    S: till_core::outbox::Store,
    C: Clock,
    R: RngCore,
{
    let shown = |flat: &till_core::json::Flat| {
        out.text(&flat.text);
        if flat.cut {
            out.line(format_args!(
                "(cut: the answer is longer than the console's)"
            ));
        }
    };
    if let Err(e) = outlined(ops::query(term, apis, query, shown)).await {
        out.line(format_args!("error: {e}"));
    }
}

/// `config`: what the terminal is set up with (never a secret).
fn show_settings(settings: &Settings, out: &mut Answer) {
    out.line(format_args!(
        "terminal     {}",
        settings.originator.terminal_id
    ));
    let hosts = [
        (
            "conductor    ",
            settings.conductor.as_ref().map(|c| &c.endpoint),
        ),
        ("momo         ", settings.momo.as_ref().map(|c| &c.endpoint)),
        (
            "electrum     ",
            settings.electrum.as_ref().map(|c| &c.endpoint),
        ),
    ];
    for (api, endpoint) in hosts {
        match endpoint {
            Some(e) => out.line(format_args!("{api}{}:{}", e.host, e.port)),
            None => out.line(format_args!("{api}(not configured)")),
        }
    }
    out.line(format_args!(
        "sntp         {}:{}",
        settings.sntp_host, settings.sntp_port
    ));
}

/// `config ca`: store a CA certificate, authenticated by its tag.
async fn config_ca<CF: NorFlash>(
    config_flash: &mut CF,
    config_range: core::ops::Range<u32>,
    text: &str,
    counter: u32,
    tag: &str,
    out: &mut Answer,
) {
    let mut der: Vec<u8, CA_DER_CAP> = Vec::new();
    if config::base64_decode(text, &mut der).is_none() || der.is_empty() {
        return out.line(format_args!("error: not base64 DER"));
    }
    let stored = match ConfigArea::open(&mut *config_flash, config_range).await {
        Ok(mut area) => area.change_ca(&der, counter, tag).await,
        Err(e) => Err(e),
    };
    match stored {
        Ok(()) => out.line(format_args!(
            "CA stored ({} bytes, change {counter}); restart to use it",
            der.len()
        )),
        Err(e) => {
            warn!("console: config ca refused: {}", e);
            out.line(format_args!("error: config ca refused: {e}"))
        }
    }
}
