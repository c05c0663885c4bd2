//! `till`: the desktop terminal, the sandbox runner and the QA tool.
//!
//! ```text
//! till demo                      the whole tour against an in-process sandbox
//! till sandbox                   serve the three sandboxes for QA
//! till config init               write a till.toml pointing at a local sandbox
//! till conductor pay …           one bill payment against the configured endpoint
//! till momo pay …                one MoMo payment
//! till electrum airtime …        one airtime sale
//! till outbox list | flush       the pending advices on the emulated flash
//! till outbox ack <key> | ack-damage   acknowledge what needs an operator
//! till provision new-key FILE    a terminal's provisioning key (factory)
//! till provision ca FILE.pem --key-file K --counter N
//!                                the console line that changes a terminal's CA
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use till_core::money::{Amount, Currency};
use till_core::ops;
use till_host::config::{self, Config};
use till_host::demo::{self, DemoOptions};
use till_host::net::NetResources;
use till_host::terminal::{self, HostStoreError, HostTerminalExt, TerminalError};
use till_host::{say, slip};

/// The till payment terminal on the desktop.
#[derive(Debug, Parser)]
#[command(name = "till", version, about)]
struct Cli {
    /// More logging on stderr: -v debug, -vv trace (secrets are redacted).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// The configuration file.
    #[arg(long, global = true, env = "TILL_CONFIG", default_value = "till.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
// Parsed once per run: the sandbox's options are the largest, and boxing
// them would only move one allocation around.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Start a sandbox in-process and run every flow against it, as a shop would.
    Demo {
        /// Print machine-readable outcomes (JSON) instead of the tour.
        #[arg(long)]
        json: bool,
    },
    /// Serve the Conductor, MoMo and Electrum sandboxes for QA.
    Sandbox(till_sandbox::cli::ServeArgs),
    /// Write or check till.toml.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Moment Conductor: bills.
    #[command(subcommand)]
    Conductor(ConductorCommand),
    /// MTN MoMo Collection: payments.
    #[command(subcommand)]
    Momo(MomoCommand),
    /// Electrum Airtime: airtime, data, vouchers.
    #[command(subcommand)]
    Electrum(ElectrumCommand),
    /// The outbox of pending advices (reversals, confirmations, completes).
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Authenticated changes to a board's configuration from its console.
    #[command(subcommand)]
    Provision(ProvisionCommand),
}

#[derive(Debug, Subcommand)]
enum ProvisionCommand {
    /// Write a new random provisioning key (64 hex digits, mode 0600): the
    /// factory stores it in the board's configuration area, and keeps it.
    NewKey {
        /// Where to write it (refused if it exists).
        file: PathBuf,
    },
    /// Print the console line that sets a board's CA: `config ca <base64
    /// DER> <counter> <tag>`, tagged with its provisioning key.
    Ca {
        /// The CA certificate (PEM).
        pem: PathBuf,
        /// The board's provisioning key file.
        #[arg(long)]
        key_file: PathBuf,
        /// The change's number: above the board's last change (its
        /// `config` command shows it).
        #[arg(long)]
        counter: u32,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Write a till.toml pointing every API at a local sandbox.
    Init {
        /// The sandbox's base URL.
        #[arg(long, default_value = "https://localhost:8443")]
        url: String,
        /// The sandbox's CA certificate (written by `till sandbox`).
        #[arg(long, default_value = "till-sandbox-ca.pem")]
        ca_file: String,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Load till.toml and report the first problem, naming the field.
    Check,
}

#[derive(Debug, Args)]
struct BillArgs {
    /// Biller code (`za_dstv`, `ng_dstv`).
    #[arg(long)]
    biller: String,
    /// Customer identifier: a value, or `smart_card_number=…` / `customer_number=…`.
    #[arg(long)]
    customer: String,
    /// Product reference at the biller (`SUBS`).
    #[arg(long)]
    reference: Option<String>,
}

#[derive(Debug, Subcommand)]
enum ConductorCommand {
    /// Single operation: account enquiry (who the customer is, what is due).
    Enquiry {
        #[command(flatten)]
        bill: BillArgs,
    },
    /// Single operation: the catalogue under a category.
    Catalog {
        /// Category code (default: the roots).
        #[arg(long)]
        category: Option<String>,
        /// Levels below the category (1–10).
        #[arg(long)]
        depth: Option<u8>,
    },
    /// Single operation: a transaction, by id or by external reference.
    Transaction {
        /// Conductor's transaction id.
        #[arg(long, conflicts_with = "reference")]
        id: Option<String>,
        /// The partner's external reference.
        #[arg(long)]
        reference: Option<String>,
    },
    /// Single operation: is Conductor up?
    Healthcheck,
    /// Primitive flow: account enquiry, pay the bill, complete with cash.
    Pay {
        #[command(flatten)]
        bill: BillArgs,
        /// Amount (decimal, in the shop's currency); default: the amount due.
        #[arg(long)]
        amount: Option<String>,
    },
    /// Composite flow: partner transaction, complete with cash.
    Partner {
        #[command(flatten)]
        bill: BillArgs,
        /// Amount (decimal, in the shop's currency).
        #[arg(long)]
        amount: String,
        /// Currency, if not the shop's.
        #[arg(long)]
        currency: Option<String>,
    },
    /// Catalogue order, paid in a transaction.
    Order {
        /// Biller code.
        #[arg(long)]
        biller: String,
        /// Customer identifier.
        #[arg(long)]
        customer: String,
        /// Catalogue category holding the product.
        #[arg(long)]
        category: String,
        /// Product code.
        #[arg(long)]
        product: String,
        /// Quantity.
        #[arg(long, default_value_t = 1)]
        quantity: u32,
    },
}

#[derive(Debug, Subcommand)]
enum MomoCommand {
    /// Request a payment from a MoMo account and poll it to a final status.
    Pay {
        /// The payer's MSISDN.
        #[arg(long)]
        msisdn: String,
        /// Amount (decimal).
        #[arg(long)]
        amount: String,
        /// Currency (default: momo.currency of till.toml).
        #[arg(long)]
        currency: Option<String>,
        /// The service provider paid.
        #[arg(long, default_value = "till")]
        provider: String,
    },
}

#[derive(Debug, Subcommand)]
enum ElectrumCommand {
    /// Single operation: look up an MSISDN's operator and products.
    Lookup {
        /// The MSISDN.
        #[arg(long)]
        msisdn: String,
    },
    /// Single operation: the products of a channel.
    Products {
        /// Channel name.
        #[arg(long, default_value = "POS")]
        channel: String,
    },
    /// Sell airtime or data: trial, purchase (reversal stored first), confirmation.
    Airtime {
        /// Recipient MSISDN.
        #[arg(long)]
        msisdn: String,
        /// Product id.
        #[arg(long)]
        product: String,
        /// Amount (decimal, in the shop's currency).
        #[arg(long)]
        amount: String,
        /// Skip the trial purchase.
        #[arg(long)]
        no_trial: bool,
    },
    /// Sell a voucher; the slip carries the PIN.
    Voucher {
        /// Product id.
        #[arg(long)]
        product: String,
        /// Amount (decimal, in the shop's currency).
        #[arg(long)]
        amount: String,
    },
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// List the pending records.
    List,
    /// Deliver what is due; with --wait, keep going until empty or timeout.
    Flush {
        /// Seconds to keep retrying.
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
    /// Acknowledge a record that needs attention (after settling the sale
    /// with the provider by hand): it leaves the outbox.
    Ack {
        /// The record's key, as `till outbox list` shows it.
        key: String,
    },
    /// Acknowledge the records the outbox lost to flash damage (after
    /// checking the sales they may hide with the provider): sales resume.
    AckDamage,
}

fn init_logging(verbose: u8) {
    // embedded-tls logs every closed connection as an error; the
    // transport reports what matters in its own words.
    let default = match verbose {
        0 => "warn,embedded_tls=off",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TILL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("till: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, TerminalError> {
    match cli.command {
        Command::Demo { json } => {
            let report = demo::run(DemoOptions {
                json,
                ..DemoOptions::default()
            })
            .await?;
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Sandbox(args) => serve(args).await,
        Command::Config(ConfigCommand::Init {
            url,
            ca_file,
            force,
        }) => {
            if cli.config.exists() && !force {
                return Err(TerminalError::Other(format!(
                    "{} exists (use --force to overwrite)",
                    cli.config.display()
                )));
            }
            std::fs::write(&cli.config, config::sandbox_template(&url, &ca_file)).map_err(|e| {
                TerminalError::Other(format!("cannot write {}: {e}", cli.config.display()))
            })?;
            say!(
                "wrote {}; the secrets come from the environment:",
                cli.config.display()
            );
            print_exports();
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Check) => {
            let config = load(&cli.config)?;
            terminal::apis(&config)?;
            say!("{}: ok", cli.config.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Provision(command) => provision(command),
        command => {
            let config = load(&cli.config)?;
            terminal_command(&config, command).await
        }
    }
}

fn provision(command: ProvisionCommand) -> Result<ExitCode, TerminalError> {
    use till_core::provision::{tag_hex, ProvisioningKey, Setting};
    let fail = |what: &Path, e: &dyn std::fmt::Display| {
        TerminalError::Other(format!("{}: {e}", what.display()))
    };
    match command {
        ProvisionCommand::NewKey { file } => {
            let mut key = [0u8; till_core::provision::KEY_LEN];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut key);
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut out = options.open(&file).map_err(|e| fail(&file, &e))?;
            std::io::Write::write_all(&mut out, format!("{hex}\n").as_bytes())
                .map_err(|e| fail(&file, &e))?;
            say!(
                "wrote a provisioning key to {} (keep it secret)",
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        ProvisionCommand::Ca {
            pem,
            key_file,
            counter,
        } => {
            let text = std::fs::read_to_string(&key_file).map_err(|e| fail(&key_file, &e))?;
            let key = ProvisioningKey::from_hex(&text).map_err(|e| fail(&key_file, &e))?;
            let pem_text = std::fs::read_to_string(&pem).map_err(|e| fail(&pem, &e))?;
            let body: String = pem_text
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::trim)
                .collect();
            let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &body)
                .map_err(|e| fail(&pem, &e))?;
            if der.is_empty() || der.len() > till_core::outbox::RECORD_MAX_LEN {
                return Err(fail(&pem, &"not a certificate of at most 2 KiB"));
            }
            let tag = tag_hex(&key.tag(Setting::Ca, counter, &der));
            println!("config ca {body} {counter} {tag}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load(path: &Path) -> Result<Config, TerminalError> {
    Ok(Config::load(path, &|name| std::env::var(name).ok())?)
}

fn print_exports() {
    for (name, value) in config::sandbox_env() {
        say!("  export {name}={value}");
    }
}

async fn serve(args: till_sandbox::cli::ServeArgs) -> Result<ExitCode, TerminalError> {
    let sandbox = till_sandbox::cli::start(&args)
        .await
        .map_err(|e| TerminalError::Other(format!("sandbox: {e}")))?;
    print!("{}", till_sandbox::cli::banner(&sandbox, &args));
    say!(
        "\nFor the terminal: `till config init --url {} --ca-file {}`, then",
        sandbox.base_url().replace("127.0.0.1", "localhost"),
        args.ca_out.display()
    );
    print_exports();
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("till: cannot wait for Ctrl-C: {e}");
    }
    sandbox.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

fn amount(text: &str, currency: Currency) -> Result<Amount, TerminalError> {
    Amount::parse_decimal(text, currency)
        .map_err(|e| TerminalError::Other(format!("--amount {text}: {e}")))
}

fn currency(text: &str) -> Result<Currency, TerminalError> {
    Currency::from_alpha(text).map_err(|e| TerminalError::Other(format!("--currency {text}: {e}")))
}

fn print(lines: &[String]) {
    for line in lines {
        say!("{line}");
    }
}

async fn terminal_command(config: &Config, command: Command) -> Result<ExitCode, TerminalError> {
    let mut resources = NetResources::new(config)?;
    let (mut term, restored) = terminal::open(&mut resources, &config.outbox_path).await?;
    let mut apis = terminal::apis(config)?;
    // Whatever a previous run left pending goes out first — except when
    // the operator only wants to see it.
    let listing = matches!(command, Command::Outbox(OutboxCommand::List));
    if restored.damaged > 0 && !matches!(command, Command::Outbox(_)) {
        eprintln!(
            "till: the outbox lost {} record(s) to flash damage: sales are refused until `till outbox ack-damage` (see `till outbox list`)",
            restored.damaged
        );
    }
    if restored.restored > 0 && !listing {
        eprintln!(
            "till: {} pending advice(s) restored from the outbox; delivering",
            restored.restored
        );
        let report = term.flush_due(&mut apis).await?;
        eprintln!(
            "till: outbox: {} settled, {} to retry",
            report.settled, report.retried
        );
    }
    let shop = config.terminal.currency;
    if let Some(code) = single_operation(&mut term, &apis, &command).await? {
        return Ok(code);
    }
    let money = match command {
        Command::Conductor(ConductorCommand::Pay { bill, amount: a }) => {
            let a = a.map(|a| amount(&a, shop)).transpose()?;
            ops::pay_bill(
                &mut term,
                &apis,
                &bill.biller,
                &bill.customer,
                bill.reference.as_deref(),
                a,
                |o| {
                    print(&slip::bill("Bill payment", o));
                    o.money()
                },
            )
            .await?
        }
        Command::Conductor(ConductorCommand::Partner {
            bill,
            amount: a,
            currency: c,
        }) => {
            let c = c.map(|c| currency(&c)).transpose()?.unwrap_or(shop);
            ops::pay_partner(
                &mut term,
                &apis,
                &bill.biller,
                &bill.customer,
                bill.reference.as_deref(),
                amount(&a, c)?,
                |o| {
                    print(&slip::bill("Bill payment", o));
                    o.money()
                },
            )
            .await?
        }
        Command::Conductor(ConductorCommand::Order {
            biller,
            customer,
            category,
            product,
            quantity,
        }) => {
            ops::order(
                &mut term,
                &apis,
                &biller,
                &customer,
                &category,
                &product,
                quantity,
                |o| {
                    print(&slip::bill("Order", o));
                    o.money()
                },
            )
            .await?
        }
        Command::Momo(MomoCommand::Pay {
            msisdn,
            amount: a,
            currency: c,
            provider,
        }) => {
            let c = match c {
                Some(c) => currency(&c)?,
                None => config.momo.as_ref().map(|m| m.currency).unwrap_or(shop),
            };
            ops::momo_pay(
                &mut term,
                &mut apis,
                &msisdn,
                amount(&a, c)?,
                &provider,
                |o| {
                    print(&slip::momo(o));
                    o.money()
                },
            )
            .await?
        }
        Command::Electrum(ElectrumCommand::Airtime {
            msisdn,
            product,
            amount: a,
            no_trial,
        }) => {
            ops::airtime(
                &mut term,
                &apis,
                &msisdn,
                &product,
                amount(&a, shop)?,
                !no_trial,
                |o| {
                    print(&slip::sale("Airtime", o));
                    o.money()
                },
            )
            .await?
        }
        Command::Electrum(ElectrumCommand::Voucher { product, amount: a }) => {
            ops::voucher(&mut term, &apis, &product, amount(&a, shop)?, |o| {
                print(&slip::sale("Voucher", o));
                o.money()
            })
            .await?
        }
        Command::Outbox(OutboxCommand::List) => {
            let records = term.records().await?;
            if records.is_empty() && term.damaged() == 0 {
                say!("outbox empty");
            }
            term.for_each_damaged(&mut |slot, previous| {
                let before = previous.map_or(String::new(), |key| format!(" (before it: {key})"));
                say!(
                    "slot {slot}  DAMAGED: newest record unreadable{before}; check the sale with the provider, then `till outbox ack-damage`"
                );
            });
            for record in records {
                match record {
                    Ok(r) => say!(
                        "{}  sale {}  seq {}  created {}  {}{}",
                        r.key,
                        r.sale,
                        r.seq,
                        r.created,
                        r.advice.kind(),
                        match r.attention {
                            Some(a) => format!(
                                "  NEEDS ATTENTION (final answer {}; `till outbox ack {}` once settled by hand)",
                                a.status, r.key
                            ),
                            None => String::new(),
                        }
                    ),
                    Err(key) => say!("{key}  UNREADABLE (kept for the operator)"),
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        Command::Outbox(OutboxCommand::Ack { key }) => {
            let Ok(uuid) = till_core::id::Uuid::parse(&key) else {
                eprintln!("till: `{key}` is not a record key (a UUID from `till outbox list`)");
                return Ok(ExitCode::from(2));
            };
            let acknowledged = term
                .acknowledge(uuid)
                .await
                .map_err(|e| TerminalError::Other(format!("outbox store: {e:?}")))?;
            if acknowledged {
                say!("{key}: acknowledged, removed from the outbox");
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!("till: no record {key} needs attention");
            return Ok(ExitCode::from(2));
        }
        Command::Outbox(OutboxCommand::AckDamage) => {
            let cleared = term
                .acknowledge_damage()
                .await
                .map_err(|e| TerminalError::Other(format!("outbox store: {e}")))?;
            if cleared == 0 {
                eprintln!("till: the outbox has no damage to acknowledge");
                return Ok(ExitCode::from(2));
            }
            say!("{cleared} damaged record(s) acknowledged: sales resume");
            return Ok(ExitCode::SUCCESS);
        }
        Command::Outbox(OutboxCommand::Flush { wait }) => {
            let report = term.drain_for(&mut apis, Duration::from_secs(wait)).await?;
            say!(
                "outbox: {} settled, {} retried, {} pending, {} need attention",
                report.settled,
                report.retried,
                term.pending(),
                term.attention().len()
            );
            return Ok(if term.pending() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        _ => return Ok(ExitCode::SUCCESS),
    };
    if term.pending() > 0 {
        // What the sale left (a confirmation, a reversal, a status check)
        // gets one attempt now; what still fails stays on the flash and
        // goes out with the next command or `till outbox flush`.
        let report = term.flush_due(&mut apis).await?;
        eprintln!(
            "till: outbox: {} settled, {} pending (kept on flash; `till outbox flush` retries)",
            report.settled,
            term.pending()
        );
    }
    let stats = term.net_stats();
    tracing::info!(
        "{} requests, {} TLS handshakes",
        stats.requests,
        stats.handshakes
    );
    Ok(match money {
        till_core::flow::Money::Charged => ExitCode::SUCCESS,
        till_core::flow::Money::NotCharged => ExitCode::from(1),
        till_core::flow::Money::Pending => ExitCode::from(3),
    })
}

/// Print a single operation's answer as JSON (or why there is none).
async fn answer<F, T, E>(
    term: &mut terminal::Terminal<'_>,
    call: &mut F,
) -> Result<ExitCode, TerminalError>
where
    F: till_core::flow::Flow<Outcome = Result<T, till_core::flow::CallError<E>>>,
    T: till_core::json::Encode,
    E: std::fmt::Debug,
{
    match Box::pin(term.run(call)).await? {
        Ok(value) => {
            let mut buf = vec![0u8; till_core::json::MAX_BODY_LEN];
            let len = till_core::json::encode(&value, &mut buf)
                .map_err(|e| TerminalError::Other(format!("answer: {e}")))?;
            let text: serde_json::Value = serde_json::from_slice(&buf[..len])
                .map_err(|e| TerminalError::Other(format!("answer: {e}")))?;
            say!("{text:#}");
            Ok(ExitCode::SUCCESS)
        }
        Err(till_core::flow::CallError::Refused(status, body)) => {
            say!("refused: HTTP {} {body:?}", status.0);
            Ok(ExitCode::from(1))
        }
        Err(till_core::flow::CallError::Unreachable) => {
            say!("no answer before the deadline");
            Ok(ExitCode::from(1))
        }
    }
}

/// The single operations (no money moves); `None` for anything else.
async fn single_operation(
    term: &mut terminal::Terminal<'_>,
    apis: &till_core::terminal::Apis,
    command: &Command,
) -> Result<Option<ExitCode>, TerminalError> {
    use till_core::conductor::flow as conductor;
    use till_core::electrum::flow as electrum;
    let flow_error = |e: &dyn std::fmt::Display| TerminalError::Other(format!("request: {e}"));
    let conductor_cfg = || ops::conductor_config::<HostStoreError>(apis);
    let electrum_cfg = || ops::electrum_config::<HostStoreError>(apis);
    let now = term.now();
    let code = match command {
        Command::Conductor(ConductorCommand::Enquiry { bill }) => {
            let request = till_core::conductor::wire::AccountEnquiryRequest {
                biller_code: heapless::String::try_from(bill.biller.as_str())
                    .map_err(|_| TerminalError::Other("--biller: too long".into()))?,
                identifier: ops::identifier::<HostStoreError>(&bill.customer)?,
                reference: bill
                    .reference
                    .as_deref()
                    .map(heapless::String::try_from)
                    .transpose()
                    .map_err(|_| TerminalError::Other("--reference: too long".into()))?,
            };
            let mut call = conductor::account_enquiry::<
                till_core::conductor::wire::AccountEnquiryResponse,
            >(conductor_cfg()?, &request, now, &mut term.rng)
            .map_err(|e| flow_error(&e))?;
            answer(term, &mut call).await?
        }
        Command::Conductor(ConductorCommand::Catalog { category, depth }) => {
            let mut call = conductor::get_catalogs(
                conductor_cfg()?,
                category.as_deref(),
                *depth,
                now,
                &mut term.rng,
            )
            .map_err(|e| flow_error(&e))?;
            answer(term, &mut call).await?
        }
        Command::Conductor(ConductorCommand::Transaction { id, reference }) => {
            let target = match (id, reference) {
                (Some(id), _) => till_core::outbox::ConductorTarget::Transaction(
                    heapless::String::try_from(id.as_str())
                        .map_err(|_| TerminalError::Other("--id: too long".into()))?,
                ),
                (None, Some(r)) => till_core::outbox::ConductorTarget::Partner(
                    till_core::id::ExternalReference::parse(r)
                        .map_err(|e| TerminalError::Other(format!("--reference: {e:?}")))?,
                ),
                (None, None) => {
                    return Err(TerminalError::Other("give --id or --reference".into()))
                }
            };
            let mut call =
                conductor::get_transaction(conductor_cfg()?, &target, now, &mut term.rng)
                    .map_err(|e| flow_error(&e))?;
            answer(term, &mut call).await?
        }
        Command::Conductor(ConductorCommand::Healthcheck) => {
            let mut call = conductor::healthcheck(conductor_cfg()?, now, &mut term.rng)
                .map_err(|e| flow_error(&e))?;
            answer(term, &mut call).await?
        }
        Command::Electrum(ElectrumCommand::Lookup { msisdn }) => {
            let filters = till_core::electrum::path::LookupFilters::default();
            let mut call =
                electrum::lookup_msisdn(electrum_cfg()?, msisdn, &filters, now, &mut term.rng)
                    .map_err(|e| flow_error(&e))?;
            answer(term, &mut call).await?
        }
        Command::Electrum(ElectrumCommand::Products { channel }) => {
            let mut call = electrum::list_products(electrum_cfg()?, channel, now, &mut term.rng)
                .map_err(|e| flow_error(&e))?;
            answer(term, &mut call).await?
        }
        _ => return Ok(None),
    };
    Ok(Some(code))
}
