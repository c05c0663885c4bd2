//! `till-tap`: the firmware app on the host — Embassy's std executor,
//! embassy-net over a TAP device (embassy-net-tuntap), the console on
//! stdin/stdout, the outbox and the configuration area on file-emulated
//! NorFlash. The app code is the board's, unchanged.
//!
//! ```text
//! till-tap --tap tap0 --ip 192.168.69.2/24 --state-dir DIR \
//!          [--ca ca.pem] [--host sandbox.till=192.168.69.100] [--sntp 192.168.69.100:123]
//!          [--provisioning-key-file key.hex] [--momo-callback URL]
//! ```
//!
//! `--ca`, `--host`, `--sntp`, `--momo-callback` (MoMo's
//! `X-Callback-Url`) and `--provisioning-key-file` (64 hex
//! digits: the key console changes are tagged with) provision the configuration area (as a
//! factory would) before the app starts; without them the app uses what
//! the area holds, or the development settings. Needs a TAP device (root,
//! or CAP_NET_ADMIN); see `tests/firmware_tap.rs` for the network
//! namespace it runs in under test.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;

use embassy_executor::Spawner;
use embassy_net::{Ipv4Address, Ipv4Cidr, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::pipe::Pipe;
use heapless::Vec;
use rand_core::{OsRng, RngCore};
use static_cell::StaticCell;
use till_core::flash::file::{HostFlash, HOST_PAGE_COUNT};
use till_core::provision::ProvisioningKey;
use till_firmware::config::{ConfigArea, HostEntry, Settings, CA_DER_CAP};
use till_firmware::Parts;

/// Sockets: DHCP is off here; DNS, one TCP (HTTPS), one UDP (SNTP), spare.
const SOCKETS: usize = 4;
/// Console input waiting to be read.
const CONSOLE_PIPE: usize = 4096;

static STDIN: Pipe<CriticalSectionRawMutex, CONSOLE_PIPE> = Pipe::new();

/// Stdin (through the pipe a reader thread fills) and stdout.
struct StdConsole;

impl embedded_io_async::ErrorType for StdConsole {
    type Error = embedded_io_async::ErrorKind;
}

impl embedded_io_async::Read for StdConsole {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(STDIN.read(buf).await)
    }
}

impl embedded_io_async::Write for StdConsole {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        std::io::stdout()
            .write_all(buf)
            .map_err(|_| embedded_io_async::ErrorKind::Other)?;
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        std::io::stdout()
            .flush()
            .map_err(|_| embedded_io_async::ErrorKind::Other)
    }
}

struct Args {
    tap: String,
    ip: Ipv4Cidr,
    gateway: Option<Ipv4Address>,
    state_dir: PathBuf,
    ca: Option<PathBuf>,
    hosts: std::vec::Vec<(String, [u8; 4])>,
    sntp: Option<(String, u16)>,
    momo_callback: Option<String>,
    provisioning_key: Option<ProvisioningKey>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        tap: "tap0".into(),
        ip: Ipv4Cidr::new(Ipv4Address::new(192, 168, 69, 2), 24),
        gateway: None,
        state_dir: PathBuf::from("."),
        ca: None,
        hosts: std::vec::Vec::new(),
        sntp: None,
        momo_callback: None,
        provisioning_key: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--tap" => args.tap = value()?,
            "--ip" => {
                let v = value()?;
                let (ip, prefix) = v
                    .split_once('/')
                    .ok_or(format!("--ip {v}: want a.b.c.d/n"))?;
                let ip: Ipv4Address = ip.parse().map_err(|_| format!("--ip {v}"))?;
                let prefix: u8 = prefix.parse().map_err(|_| format!("--ip {v}"))?;
                args.ip = Ipv4Cidr::new(ip, prefix);
            }
            "--gateway" => {
                let v = value()?;
                args.gateway = Some(v.parse().map_err(|_| format!("--gateway {v}"))?);
            }
            "--state-dir" => args.state_dir = PathBuf::from(value()?),
            "--ca" => args.ca = Some(PathBuf::from(value()?)),
            "--host" => {
                let v = value()?;
                let (name, ip) = v
                    .split_once('=')
                    .ok_or(format!("--host {v}: want name=a.b.c.d"))?;
                let ip: std::net::Ipv4Addr = ip.parse().map_err(|_| format!("--host {v}"))?;
                args.hosts.push((name.to_string(), ip.octets()));
            }
            "--sntp" => {
                let v = value()?;
                let (host, port) = match v.rsplit_once(':') {
                    Some((h, p)) => (h.to_string(), p.parse().map_err(|_| format!("--sntp {v}"))?),
                    None => (v.clone(), 123),
                };
                args.sntp = Some((host, port));
            }
            "--momo-callback" => args.momo_callback = Some(value()?),
            "--provisioning-key-file" => {
                let path = PathBuf::from(value()?);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("--provisioning-key-file {}: {e}", path.display()))?;
                let key = ProvisioningKey::from_hex(&text)
                    .map_err(|e| format!("--provisioning-key-file {}: {e}", path.display()))?;
                args.provisioning_key = Some(key);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// Log to stderr; level from `TILL_LOG` (error, warn, info, debug, trace).
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "{:<5} {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }
    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn app_task(parts: Parts<HostFlash, HostFlash, OsRng, StdConsole>) -> ! {
    till_firmware::run(parts).await
}

/// Write the provisioning arguments into the configuration area.
async fn provision(area: &mut ConfigArea<HostFlash>, args: &Args) -> Result<(), String> {
    if let Some(key) = &args.provisioning_key {
        // The same key again (a restart) keeps its counter: resetting it
        // would let old changes be replayed.
        let stored = area.provisioning().await.map_err(|e| format!("{e}"))?;
        let kept = stored.filter(|(k, _)| k.expose() == key.expose());
        if kept.is_none() {
            area.store_provisioning(key, 0)
                .await
                .map_err(|e| format!("--provisioning-key-file: {e}"))?;
        }
    }
    if let Some(path) = &args.ca {
        let pem =
            std::fs::read_to_string(path).map_err(|e| format!("--ca {}: {e}", path.display()))?;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let mut der: Vec<u8, CA_DER_CAP> = Vec::new();
        till_firmware::config::base64_decode(&body, &mut der)
            .ok_or(format!("--ca {}: not a PEM certificate", path.display()))?;
        area.store_ca(&der)
            .await
            .map_err(|e| format!("--ca: {e:?}"))?;
    }
    if args.hosts.is_empty() && args.sntp.is_none() && args.momo_callback.is_none() {
        return Ok(());
    }
    let mut settings = match area.settings().await.map_err(|e| format!("{e:?}"))? {
        Some(s) => s,
        None => Settings::development().map_err(|e| format!("{e:?}"))?,
    };
    for (name, ip) in &args.hosts {
        let entry = HostEntry {
            name: heapless::String::try_from(name.as_str())
                .map_err(|_| format!("--host {name}: too long"))?,
            ip: *ip,
        };
        settings.hosts.retain(|h| h.name != entry.name);
        settings
            .hosts
            .push(entry)
            .map_err(|_| "--host: too many".to_string())?;
    }
    if let Some((host, port)) = &args.sntp {
        settings.sntp_host = heapless::String::try_from(host.as_str())
            .map_err(|_| "--sntp: too long".to_string())?;
        settings.sntp_port = *port;
    }
    if let Some(url) = &args.momo_callback {
        let momo = settings
            .momo
            .as_mut()
            .ok_or("--momo-callback: MoMo is not configured")?;
        momo.callback_url = Some(
            heapless::String::try_from(url.as_str())
                .map_err(|_| "--momo-callback: too long".to_string())?,
        );
        // Checked as the app will: a wrong URL is named here, not at boot.
        settings
            .apis()
            .map_err(|e| format!("--momo-callback {url}: {e}"))?;
    }
    area.store_settings(&settings)
        .await
        .map_err(|e| format!("{e:?}"))
}

async fn start(spawner: Spawner) -> Result<(), String> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.state_dir).map_err(|e| format!("--state-dir: {e}"))?;
    let outbox = HostFlash::open(args.state_dir.join("outbox.flash"), HOST_PAGE_COUNT)
        .map_err(|e| format!("outbox flash: {e}"))?;
    let config_flash = HostFlash::open(args.state_dir.join("config.flash"), HOST_PAGE_COUNT)
        .map_err(|e| format!("config flash: {e}"))?;
    let outbox_range = outbox.range();
    let config_range = config_flash.range();
    let mut area = ConfigArea::open(config_flash, config_range.clone())
        .await
        .map_err(|e| format!("config area: {e:?}"))?;
    provision(&mut area, &args).await?;
    let config_flash = area.into_flash();

    let device =
        TunTapDevice::new(&args.tap).map_err(|e| format!("TAP device {}: {e}", args.tap))?;
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: args.ip,
        gateway: args.gateway,
        dns_servers: heapless::Vec::new(),
    });
    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        device,
        config,
        RESOURCES.init(StackResources::new()),
        OsRng.next_u64(),
    );
    spawner.spawn(net_task(runner).map_err(|e| format!("net task: {e:?}"))?);

    std::thread::spawn(|| {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(mut line) = line else { break };
            line.push('\n');
            let mut bytes = line.as_bytes();
            while !bytes.is_empty() {
                match STDIN.try_write(bytes) {
                    Ok(n) => bytes = &bytes[n..],
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        }
    });

    let parts = Parts {
        stack,
        outbox_flash: outbox,
        outbox_range,
        config_flash,
        config_range,
        rng: OsRng,
        console: StdConsole,
        stack_high_water: || None,
    };
    spawner.spawn(app_task(parts).map_err(|e| format!("app task: {e:?}"))?);
    Ok(())
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let level = match std::env::var("TILL_LOG").as_deref() {
        Ok("trace") => log::LevelFilter::Trace,
        Ok("debug") => log::LevelFilter::Debug,
        Ok("warn") => log::LevelFilter::Warn,
        Ok("error") => log::LevelFilter::Error,
        _ => log::LevelFilter::Info,
    };
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
    if let Err(e) = start(spawner).await {
        eprintln!("till-tap: {e}");
        std::process::exit(2);
    }
}
