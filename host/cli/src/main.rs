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
use till_host::output::{self, exit, Printer};
use till_host::terminal::{self, HostStoreError, HostTerminalExt, TerminalError};
use till_host::{say, slip};

/// The till payment terminal on the desktop.
#[derive(Debug, Parser)]
#[command(name = "till", version, about, after_help = EXIT_CODES)]
struct Cli {
    /// Print answers and outcomes as JSON instead of tables and slips.
    #[arg(long, global = true)]
    json: bool,
    /// More logging on stderr: -v debug, -vv trace (secrets are redacted).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// The configuration file.
    #[arg(long, global = true, env = "TILL_CONFIG", default_value = "till.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

/// What the exit status says (the README's table).
const EXIT_CODES: &str = "\
Exit status:
  0  done; for a sale: the customer was CHARGED
  1  refused or unreachable; for a sale: NOT CHARGED (return the tender)
  2  usage, configuration or local error: nothing was sent
  3  a sale not final yet: PENDING (the outbox settles it; keep the tender)";

#[derive(Debug, Subcommand)]
// Parsed once per run: the sandbox's options are the largest, and boxing
// them would only move one allocation around.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Start a sandbox in-process and run every flow against it, as a shop would.
    Demo,
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
        /// Primitive flow 1: one create with `complete: true` (no second call).
        #[arg(long)]
        one_call: bool,
        #[command(flatten)]
        slip: SlipArgs,
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
        /// Composite flow 1: one partner create with `complete: true`.
        #[arg(long)]
        one_call: bool,
        #[command(flatten)]
        slip: SlipArgs,
    },
    /// Cancel a transaction (by id) or a partner transaction (by external
    /// reference): stored in the outbox first, repeated until final.
    Cancel {
        /// Conductor's transaction id.
        #[arg(
            long,
            conflicts_with = "reference",
            required_unless_present = "reference"
        )]
        id: Option<String>,
        /// The partner's external reference.
        #[arg(long)]
        reference: Option<String>,
        /// Why (sent to Conductor).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Single operation: an order, by id.
    GetOrder {
        /// The order's id (from `till conductor order`).
        #[arg(long)]
        id: String,
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
        #[command(flatten)]
        slip: SlipArgs,
    },
}

#[derive(Debug, Args)]
struct SlipArgs {
    /// Also write the slip as ESC/POS printer bytes to this file.
    #[arg(long, value_name = "FILE")]
    slip_escpos: Option<PathBuf>,
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
        #[command(flatten)]
        slip: SlipArgs,
    },
    /// Single operation: where a payment stands, by its X-Reference-Id.
    Status {
        /// The payment's reference (on its receipt).
        #[arg(long)]
        reference: String,
    },
    /// Single operation: get an access token (checks the API user and
    /// key; the token itself is never printed).
    Token,
}

#[derive(Debug, Subcommand)]
enum ElectrumCommand {
    /// Single operation: look up an MSISDN's operator and products.
    Lookup {
        /// The MSISDN.
        #[arg(long)]
        msisdn: String,
        /// Ask this operator (provider).
        #[arg(long)]
        operator: Option<String>,
        /// Only products of this type (AIRTIME, DATA, SMS, …).
        #[arg(long)]
        product_type: Option<String>,
        /// Only products listed on this channel.
        #[arg(long)]
        channel: Option<String>,
        /// Only products of this category.
        #[arg(long)]
        category: Option<String>,
    },
    /// Single operation: a purchase's status, by its request id or by the
    /// provider's reference.
    Status {
        /// The purchase request's id (`originalMsgId`).
        #[arg(long, conflicts_with_all = ["purchase_reference", "provider"], required_unless_present = "purchase_reference")]
        original_msg_id: Option<String>,
        /// The provider's purchase reference.
        #[arg(long, requires = "provider")]
        purchase_reference: Option<String>,
        /// The provider's name.
        #[arg(long)]
        provider: Option<String>,
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
        /// Skip the trial purchase (for providers that answer 501 to trials).
        #[arg(long)]
        no_trial: bool,
        #[command(flatten)]
        slip: SlipArgs,
    },
    /// Sell a voucher; the slip carries the PIN.
    Voucher {
        /// Product id.
        #[arg(long)]
        product: String,
        /// Amount (decimal, in the shop's currency).
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        slip: SlipArgs,
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
            ExitCode::from(exit::USAGE)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, TerminalError> {
    match cli.command {
        Command::Demo => {
            let report = demo::run(DemoOptions {
                json: cli.json,
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
            terminal_command(&config, command, Printer { json: cli.json }).await
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

fn bad(flag: &str, why: &dyn std::fmt::Display) -> TerminalError {
    TerminalError::Other(format!("{flag}: {why}"))
}

/// What a sale left for the operator: the money, its slip, and (for
/// `--json`) the identities to look it up by.
struct Sale {
    money: till_core::flow::Money,
    slip: slip::Printed,
    detail: serde_json::Value,
}

impl Sale {
    fn bill(title: &str, o: &till_core::conductor::flow::BillOutcome) -> Self {
        use till_core::conductor::flow::BillOutcome;
        let detail = match o {
            BillOutcome::Completed(t) | BillOutcome::Cancelled(t) => {
                output::encoded(t).unwrap_or_default()
            }
            BillOutcome::Pending(r) => serde_json::json!({"record": r.key.to_string()}),
            BillOutcome::Refused { .. } => serde_json::Value::Null,
        };
        Self {
            money: o.money(),
            slip: slip::bill(title, o),
            detail,
        }
    }

    fn momo(o: &till_core::momo::flow::PaymentOutcome) -> Self {
        use till_core::momo::flow::PaymentOutcome;
        let detail = match o {
            PaymentOutcome::Successful { reference_id, .. }
            | PaymentOutcome::Failed { reference_id, .. }
            | PaymentOutcome::Pending { reference_id, .. } => {
                serde_json::json!({"reference_id": reference_id.to_string()})
            }
            PaymentOutcome::Refused(_) => serde_json::Value::Null,
        };
        Self {
            money: o.money(),
            slip: slip::momo(o),
            detail,
        }
    }

    /// An Electrum sale: its message id and the parties' identifiers (not
    /// the whole answer: it holds the MSISDN).
    fn electrum(title: &str, o: &till_core::electrum::flow::SaleOutcome) -> Self {
        use till_core::electrum::flow::{SaleOutcome, Sold};
        let answer = match o {
            SaleOutcome::Sold {
                sold: Sold::Purchase(p),
                ..
            } => output::encoded(p).ok(),
            SaleOutcome::Sold {
                sold: Sold::Voucher(v),
                ..
            } => output::encoded(v).ok(),
            _ => None,
        };
        let detail = match (answer, o) {
            (Some(answer), _) => serde_json::json!({
                "id": answer["id"],
                "thirdPartyIdentifiers": answer["thirdPartyIdentifiers"],
            }),
            (None, SaleOutcome::Pending(r)) => serde_json::json!({"record": r.key.to_string()}),
            (None, _) => serde_json::Value::Null,
        };
        Self {
            money: o.money(),
            slip: slip::sale(title, o),
            detail,
        }
    }
}

/// Show a sale: its slip (or, with `--json`, the outcome), the printer
/// bytes to `--slip-escpos`; the exit code says what happened to the money.
fn report_sale(
    printer: Printer,
    operation: &str,
    sale: &Sale,
    args: &SlipArgs,
) -> Result<ExitCode, TerminalError> {
    use till_core::flow::Money;
    if let Some(file) = &args.slip_escpos {
        std::fs::write(file, &sale.slip.escpos)
            .map_err(|e| TerminalError::Other(format!("{}: {e}", file.display())))?;
    }
    let (word, code) = match sale.money {
        Money::Charged => ("charged", exit::OK),
        Money::NotCharged => ("not charged", exit::NOT_CHARGED),
        Money::Pending => ("pending", exit::PENDING),
    };
    if printer.json {
        printer.value(&serde_json::json!({
            "operation": operation,
            "money": word,
            "exit": code,
            "detail": sale.detail,
            "slip": sale.slip.lines,
        }));
    } else {
        for line in &sale.slip.lines {
            say!("{line}");
        }
    }
    Ok(ExitCode::from(code))
}

async fn terminal_command(
    config: &Config,
    command: Command,
    printer: Printer,
) -> Result<ExitCode, TerminalError> {
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
    if let Some(code) = single_operation(&mut term, &mut apis, &command, printer).await? {
        return Ok(code);
    }
    if let Command::Outbox(command) = command {
        return outbox_command(&mut term, &mut apis, command, printer).await;
    }
    let (operation, sale, args) = sale(&mut term, &mut apis, config, command).await?;
    let code = report_sale(printer, operation, &sale, &args)?;
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
    Ok(code)
}

/// The money-moving commands: run the operation, keep its slip.
async fn sale(
    term: &mut terminal::Terminal<'_>,
    apis: &mut till_core::terminal::Apis,
    config: &Config,
    command: Command,
) -> Result<(&'static str, Sale, SlipArgs), TerminalError> {
    let shop = config.terminal.currency;
    let bill = Sale::bill;
    let electrum = Sale::electrum;
    Ok(match command {
        Command::Conductor(ConductorCommand::Pay {
            bill: b,
            amount: a,
            one_call,
            slip,
        }) => {
            let a = a.map(|a| amount(&a, shop)).transpose()?;
            let sale = ops::pay_bill(
                term,
                apis,
                &b.biller,
                &b.customer,
                b.reference.as_deref(),
                a,
                one_call,
                |o| bill("Bill payment", o),
            )
            .await?;
            ("conductor pay", sale, slip)
        }
        Command::Conductor(ConductorCommand::Partner {
            bill: b,
            amount: a,
            currency: c,
            one_call,
            slip,
        }) => {
            let c = c.map(|c| currency(&c)).transpose()?.unwrap_or(shop);
            let sale = ops::pay_partner(
                term,
                apis,
                &b.biller,
                &b.customer,
                b.reference.as_deref(),
                amount(&a, c)?,
                one_call,
                |o| bill("Bill payment", o),
            )
            .await?;
            ("conductor partner", sale, slip)
        }
        Command::Conductor(ConductorCommand::Order {
            biller,
            customer,
            category,
            product,
            quantity,
            slip,
        }) => {
            let sale = ops::order(
                term,
                apis,
                &biller,
                &customer,
                &category,
                &product,
                quantity,
                |o| bill("Order", o),
            )
            .await?;
            ("conductor order", sale, slip)
        }
        Command::Momo(MomoCommand::Pay {
            msisdn,
            amount: a,
            currency: c,
            provider,
            slip,
        }) => {
            let c = match c {
                Some(c) => currency(&c)?,
                None => config.momo.as_ref().map(|m| m.currency).unwrap_or(shop),
            };
            let sale =
                ops::momo_pay(term, apis, &msisdn, amount(&a, c)?, &provider, Sale::momo).await?;
            ("momo pay", sale, slip)
        }
        Command::Electrum(ElectrumCommand::Airtime {
            msisdn,
            product,
            amount: a,
            no_trial,
            slip,
        }) => {
            let sale = ops::airtime(
                term,
                apis,
                &msisdn,
                &product,
                amount(&a, shop)?,
                !no_trial,
                |o| electrum("Airtime", o),
            )
            .await?;
            ("electrum airtime", sale, slip)
        }
        Command::Electrum(ElectrumCommand::Voucher {
            product,
            amount: a,
            slip,
        }) => {
            let sale = ops::voucher(term, apis, &product, amount(&a, shop)?, |o| {
                electrum("Voucher", o)
            })
            .await?;
            ("electrum voucher", sale, slip)
        }
        other => {
            return Err(TerminalError::Other(format!(
                "not a sale: {other:?} (a bug in till)"
            )))
        }
    })
}

async fn outbox_command(
    term: &mut terminal::Terminal<'_>,
    apis: &mut till_core::terminal::Apis,
    command: OutboxCommand,
    printer: Printer,
) -> Result<ExitCode, TerminalError> {
    match command {
        OutboxCommand::List => {
            let records = term.records().await?;
            let mut damaged = Vec::new();
            term.for_each_damaged(&mut |slot, previous| damaged.push((slot, previous)));
            if printer.json {
                let records: Vec<serde_json::Value> = records
                    .iter()
                    .map(|record| match record {
                        Ok(r) => serde_json::json!({
                            "key": r.key.to_string(),
                            "sale": r.sale.to_string(),
                            "seq": r.seq,
                            "created": r.created.to_string(),
                            "advice": r.advice.kind(),
                            "attention": r.attention.map(|a| a.status),
                        }),
                        Err(key) => serde_json::json!({"key": key.to_string(), "unreadable": true}),
                    })
                    .collect();
                let damaged: Vec<serde_json::Value> = damaged
                    .iter()
                    .map(|(slot, previous)| {
                        serde_json::json!({"slot": slot, "before": previous.map(|k| k.to_string())})
                    })
                    .collect();
                printer.value(&serde_json::json!({"records": records, "damaged": damaged}));
                return Ok(ExitCode::SUCCESS);
            }
            if records.is_empty() && damaged.is_empty() {
                say!("outbox empty");
            }
            for (slot, previous) in damaged {
                let before = previous.map_or(String::new(), |key| format!(" (before it: {key})"));
                say!(
                    "slot {slot}  DAMAGED: newest record unreadable{before}; check the sale with the provider, then `till outbox ack-damage`"
                );
            }
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
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Ack { key } => {
            let Ok(uuid) = till_core::id::Uuid::parse(&key) else {
                eprintln!("till: `{key}` is not a record key (a UUID from `till outbox list`)");
                return Ok(ExitCode::from(exit::USAGE));
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
            Ok(ExitCode::from(exit::USAGE))
        }
        OutboxCommand::AckDamage => {
            let cleared = term
                .acknowledge_damage()
                .await
                .map_err(|e| TerminalError::Other(format!("outbox store: {e}")))?;
            if cleared == 0 {
                eprintln!("till: the outbox has no damage to acknowledge");
                return Ok(ExitCode::from(exit::USAGE));
            }
            say!("{cleared} damaged record(s) acknowledged: sales resume");
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Flush { wait } => {
            let report = term.drain_for(apis, Duration::from_secs(wait)).await?;
            let (pending, attention) = (term.pending(), term.attention().len());
            if printer.json {
                printer.value(&serde_json::json!({
                    "settled": report.settled,
                    "retried": report.retried,
                    "pending": pending,
                    "attention": attention,
                }));
            } else {
                say!(
                    "outbox: {} settled, {} retried, {pending} pending, {attention} need attention",
                    report.settled,
                    report.retried,
                );
            }
            Ok(if pending == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Print a single operation's answer (or why there is none).
async fn answer<F, T, E>(
    term: &mut terminal::Terminal<'_>,
    call: &mut F,
    printer: Printer,
) -> Result<ExitCode, TerminalError>
where
    F: till_core::flow::Flow<Outcome = Result<T, till_core::flow::CallError<E>>>,
    T: till_core::json::Encode,
    E: till_core::json::Encode,
{
    let outcome = Box::pin(term.run(call)).await?;
    show_answer(outcome, printer, |value| {
        output::encoded(value).map_err(|e| TerminalError::Other(format!("answer: {e}")))
    })
}

/// Show an answer through `encode` (the value's JSON), or the refusal.
fn show_answer<T, E: till_core::json::Encode>(
    outcome: Result<T, till_core::flow::CallError<E>>,
    printer: Printer,
    encode: impl FnOnce(&T) -> Result<serde_json::Value, TerminalError>,
) -> Result<ExitCode, TerminalError> {
    match outcome {
        Ok(value) => {
            printer.value(&encode(&value)?);
            Ok(ExitCode::from(exit::OK))
        }
        Err(till_core::flow::CallError::Refused(status, body)) => {
            let error = body.as_ref().and_then(|b| output::encoded(b).ok());
            if printer.json {
                printer.value(&serde_json::json!({"refused": status.0, "error": error}));
            } else {
                say!("refused: HTTP {}", status.0);
                if let Some(error) = &error {
                    printer.value(error);
                }
            }
            Ok(ExitCode::from(exit::NOT_CHARGED))
        }
        Err(till_core::flow::CallError::Unreachable) => {
            if printer.json {
                printer.value(&serde_json::json!({"unreachable": true}));
            } else {
                say!("no answer before the deadline");
            }
            Ok(ExitCode::from(exit::NOT_CHARGED))
        }
    }
}

/// The single operations (no money moves); `None` for anything else.
async fn single_operation(
    term: &mut terminal::Terminal<'_>,
    apis: &mut till_core::terminal::Apis,
    command: &Command,
    printer: Printer,
) -> Result<Option<ExitCode>, TerminalError> {
    use till_core::conductor::flow as conductor;
    use till_core::electrum::flow as electrum;
    use till_core::momo::flow as momo;
    let flow_error = |e: &dyn std::fmt::Display| TerminalError::Other(format!("request: {e}"));
    let now = term.now();
    let conductor_cfg = ops::conductor_config::<HostStoreError>(apis);
    let electrum_cfg = ops::electrum_config::<HostStoreError>(apis);
    let code = match command {
        Command::Conductor(ConductorCommand::Enquiry { bill }) => {
            let request = till_core::conductor::wire::AccountEnquiryRequest {
                biller_code: heapless::String::try_from(bill.biller.as_str())
                    .map_err(|_| bad("--biller", &"too long"))?,
                identifier: ops::identifier::<HostStoreError>(&bill.customer)?,
                reference: bill
                    .reference
                    .as_deref()
                    .map(heapless::String::try_from)
                    .transpose()
                    .map_err(|_| bad("--reference", &"too long"))?,
            };
            let mut call = conductor::account_enquiry::<
                till_core::conductor::wire::AccountEnquiryResponse,
            >(conductor_cfg?, &request, now, &mut term.rng)
            .map_err(|e| flow_error(&e))?;
            answer(term, &mut call, printer).await?
        }
        Command::Conductor(ConductorCommand::Catalog { category, depth }) => {
            let mut call = conductor::get_catalogs::<till_core::conductor::wire::CatalogResponse>(
                conductor_cfg?,
                category.as_deref(),
                *depth,
                now,
                &mut term.rng,
            )
            .map_err(|e| flow_error(&e))?;
            answer(term, &mut call, printer).await?
        }
        Command::Conductor(ConductorCommand::Transaction { id, reference }) => {
            let target = target(id.as_deref(), reference.as_deref())?;
            let mut call = conductor::get_transaction::<
                till_core::conductor::wire::TransactionResponse,
            >(conductor_cfg?, &target, now, &mut term.rng)
            .map_err(|e| flow_error(&e))?;
            answer(term, &mut call, printer).await?
        }
        Command::Conductor(ConductorCommand::GetOrder { id }) => {
            let mut call = conductor::get_order(conductor_cfg?, id, now, &mut term.rng)
                .map_err(|e| flow_error(&e))?;
            answer(term, &mut call, printer).await?
        }
        Command::Conductor(ConductorCommand::Healthcheck) => {
            let mut call = conductor::healthcheck(conductor_cfg?, now, &mut term.rng)
                .map_err(|e| flow_error(&e))?;
            answer(term, &mut call, printer).await?
        }
        Command::Conductor(ConductorCommand::Cancel {
            id,
            reference,
            reason,
        }) => {
            let target = target(id.as_deref(), reference.as_deref())?;
            cancel(term, apis, target, reason.as_deref(), printer).await?
        }
        Command::Electrum(ElectrumCommand::Lookup {
            msisdn,
            operator,
            product_type,
            channel,
            category,
        }) => {
            let product_type = product_type
                .as_deref()
                .map(till_core::electrum::wire::ProductType::from_code);
            let filters = till_core::electrum::path::LookupFilters {
                operator: operator.as_deref(),
                product_type: product_type.as_ref(),
                channel_name: channel.as_deref(),
                product_category: category.as_deref(),
            };
            let mut call = electrum::lookup_msisdn::<till_core::electrum::MsisdnInfoResponse>(
                electrum_cfg?,
                msisdn,
                &filters,
                now,
                &mut term.rng,
            )
            .map_err(|e| flow_error(&e))?;
            answer(term, &mut call, printer).await?
        }
        Command::Electrum(ElectrumCommand::Products { channel }) => {
            let mut call = electrum::list_products::<till_core::electrum::ProductList>(
                electrum_cfg?,
                channel,
                now,
                &mut term.rng,
            )
            .map_err(|e| flow_error(&e))?;
            answer(term, &mut call, printer).await?
        }
        Command::Electrum(ElectrumCommand::Status {
            original_msg_id,
            purchase_reference,
            provider,
        }) => {
            let id = original_msg_id
                .as_deref()
                .map(till_core::id::Uuid::parse)
                .transpose()
                .map_err(|_| bad("--original-msg-id", &"not a UUID"))?;
            let query = match (&id, purchase_reference, provider) {
                (Some(id), _, _) => electrum::StatusQuery::OriginalMessage(id),
                (None, Some(purchase_reference), Some(provider)) => {
                    electrum::StatusQuery::Reference {
                        purchase_reference,
                        provider,
                    }
                }
                _ => {
                    return Err(bad(
                        "electrum status",
                        &"give --original-msg-id, or --purchase-reference with --provider",
                    ))
                }
            };
            let mut call = electrum::purchase_status::<till_core::electrum::PurchaseResponse>(
                electrum_cfg?,
                query,
                now,
                &mut term.rng,
            )
            .map_err(|e| flow_error(&e))?;
            answer(term, &mut call, printer).await?
        }
        Command::Momo(MomoCommand::Token) => {
            let cfg = apis.momo.as_ref().ok_or_else(not_configured)?;
            let mut call =
                momo::access_token(cfg, now, &mut term.rng).map_err(|e| flow_error(&e))?;
            let outcome = Box::pin(term.run(&mut call)).await?;
            // The token is a secret: only what it is and how long it lasts.
            show_answer(outcome, printer, |token| {
                Ok(serde_json::json!({
                    "token_type": token.token_type.as_ref().map(|t| t.as_str()),
                    "expires_in": token.expires_in,
                }))
            })?
        }
        Command::Momo(MomoCommand::Status { reference }) => {
            let reference = till_core::id::Uuid::parse(reference).map_err(|_| {
                bad(
                    "--reference",
                    &"not a UUID (the X-Reference-Id on the receipt)",
                )
            })?;
            let till_core::terminal::Apis { momo, tokens, .. } = apis;
            let cfg = momo.as_ref().ok_or_else(not_configured)?;
            if tokens.valid_at(now.instant).is_none() {
                let mut call =
                    momo::access_token(cfg, now, &mut term.rng).map_err(|e| flow_error(&e))?;
                match Box::pin(term.run(&mut call)).await? {
                    Ok(token) => tokens.store(token, term.now().instant),
                    refused => {
                        return show_answer(refused, printer, |_| Ok(serde_json::Value::Null))
                            .map(Some)
                    }
                }
            }
            let now = term.now();
            let mut call = momo::payment_status::<till_core::momo::wire::PaymentStatus>(
                cfg,
                tokens,
                &reference,
                now,
                &mut term.rng,
            )
            .map_err(|e| flow_error(&e))?;
            answer(term, &mut call, printer).await?
        }
        _ => return Ok(None),
    };
    Ok(Some(code))
}

fn not_configured() -> TerminalError {
    TerminalError::Other("momo: not configured in till.toml".into())
}

/// A Conductor transaction: by id, or a partner transaction by reference.
fn target(
    id: Option<&str>,
    reference: Option<&str>,
) -> Result<till_core::outbox::ConductorTarget, TerminalError> {
    use till_core::outbox::ConductorTarget;
    match (id, reference) {
        (Some(id), _) => Ok(ConductorTarget::Transaction(
            heapless::String::try_from(id).map_err(|_| bad("--id", &"too long"))?,
        )),
        (None, Some(r)) => Ok(ConductorTarget::Partner(
            till_core::id::ExternalReference::parse(r)
                .map_err(|e| bad("--reference", &format!("{e:?}")))?,
        )),
        (None, None) => Err(TerminalError::Other("give --id or --reference".into())),
    }
}

/// `till conductor cancel`: the cancel goes through the outbox; then the
/// transaction as Conductor has it now.
async fn cancel(
    term: &mut terminal::Terminal<'_>,
    apis: &mut till_core::terminal::Apis,
    target: till_core::outbox::ConductorTarget,
    reason: Option<&str>,
    printer: Printer,
) -> Result<ExitCode, TerminalError> {
    use ops::Cancelled;
    let (key, state) = ops::cancel(term, apis, target.clone(), reason).await?;
    let (word, code) = match state {
        Cancelled::Final => ("final", exit::OK),
        Cancelled::Refused(_) => ("refused", exit::NOT_CHARGED),
        Cancelled::Pending => ("pending", exit::PENDING),
    };
    let now = term.now();
    let cfg = ops::conductor_config::<HostStoreError>(apis)?;
    let mut call = till_core::conductor::flow::get_transaction::<
        till_core::conductor::wire::TransactionResponse,
    >(cfg, &target, now, &mut term.rng)
    .map_err(|e| TerminalError::Other(format!("request: {e}")))?;
    let transaction = match Box::pin(term.run(&mut call)).await? {
        Ok(t) => output::encoded(&t).ok(),
        Err(_) => None,
    };
    if printer.json {
        let status = match state {
            Cancelled::Refused(status) => Some(status),
            _ => None,
        };
        printer.value(&serde_json::json!({
            "cancel": word,
            "status": status,
            "record": key.to_string(),
            "transaction": transaction,
        }));
    } else {
        match state {
            Cancelled::Final => say!("cancel: answered (record {key} settled)"),
            Cancelled::Refused(status) => say!("cancel: REFUSED by Conductor (HTTP {status})"),
            Cancelled::Pending => say!(
                "cancel: not final yet; record {key} stays in the outbox (`till outbox flush`)"
            ),
        }
        if let Some(transaction) = &transaction {
            printer.value(transaction);
        }
    }
    Ok(ExitCode::from(code))
}
