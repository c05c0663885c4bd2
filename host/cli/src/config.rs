//! `till.toml`: the desktop terminal's configuration.
//!
//! The file names the terminal (Electrum originator, Conductor retailer,
//! shop currency), where the outbox lives, and how to reach each API. An
//! API whose section is missing is not configured. Secrets never live in the
//! file: each API section names the environment variable that holds its key.
//!
//! Loading ([`Config::load`]) reads the file, applies environment overrides
//! (`TILL_<SECTION>_<FIELD>` in upper case, e.g. `TILL_CONDUCTOR_URL`,
//! `TILL_TERMINAL_TERMINAL_ID`, `TILL_OUTBOX_PATH`; an empty value is
//! ignored), then validates everything — URLs, Electrum's originator rules,
//! till-core's capacities, secrets, CA files — so a bad value is reported
//! before any request leaves. Overrides change fields of the sections the
//! file has (and of `[terminal]` / `[outbox]`); they never switch on an API
//! the file leaves out.
//!
//! Every [`ConfigError`] names the file, the field and the problem:
//!
//! ```text
//! till.toml: conductor.url: must start with https:// (got "http://localhost")
//! ```
//!
//! Relative paths (`outbox.path`, `*.ca_file`) are relative to the directory
//! of the configuration file, whether they come from the file or from an
//! override.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use till_core::conductor::flow::{RETAILER_ID_CAP, SECRET_KEY_CAP};
use till_core::electrum::flow::PASSWORD_CAP;
use till_core::electrum::wire::{
    Institution, Merchant, MerchantName, Originator, OriginatorError, COUNTRY_CAP,
    INSTITUTION_ID_CAP, INSTITUTION_NAME_CAP, MERCHANT_CITY_CAP, MERCHANT_ID_CAP,
    MERCHANT_NAME_CAP, MERCHANT_REGION_CAP, MERCHANT_TYPE_CAP, TERMINAL_ID_CAP,
};
use till_core::fmt::Secret;
use till_core::http::Api;
use till_core::id::Uuid;
use till_core::momo::flow::{CALLBACK_URL_CAP, SUBSCRIPTION_KEY_CAP};
use till_core::momo::wire::{API_KEY_CAP, TARGET_ENVIRONMENT_CAP};
use till_core::money::Currency;
use till_core::net::{BASE_PATH_CAP, HOST_CAP};
use till_core::time::Duration;

/// The file name `till` looks for and `till config init` writes.
pub const DEFAULT_FILE_NAME: &str = "till.toml";

/// The base URL of a local sandbox (`till sandbox`).
pub const SANDBOX_BASE_URL: &str = "https://localhost:8443";

/// The outbox file when `[outbox]` does not name one.
pub const DEFAULT_OUTBOX_PATH: &str = "till-outbox.flash";

/// `conductor.deadline_secs` when not given.
pub const DEFAULT_CONDUCTOR_DEADLINE_SECS: u64 = 10;
/// `momo.poll_deadline_secs` when not given.
pub const DEFAULT_MOMO_POLL_DEADLINE_SECS: u64 = 20;
/// `electrum.deadline_secs` when not given.
pub const DEFAULT_ELECTRUM_DEADLINE_SECS: u64 = 10;

/// `<api>.exchange_timeout_secs` when not given: till-core's
/// [`EXCHANGE_DEADLINE`](till_core::driver::EXCHANGE_DEADLINE).
pub const DEFAULT_EXCHANGE_TIMEOUT_SECS: u64 = till_core::driver::EXCHANGE_DEADLINE.as_secs();

/// Longest deadline accepted (a day): anything longer is a typo.
const MAX_DEADLINE_SECS: u64 = 86_400;

/// Environment variable holding the Conductor `sk_…` key by default.
pub const CONDUCTOR_SECRET_KEY_ENV: &str = "TILL_CONDUCTOR_SECRET_KEY";
/// Environment variable holding the MoMo subscription key by default.
pub const MOMO_SUBSCRIPTION_KEY_ENV: &str = "TILL_MOMO_SUBSCRIPTION_KEY";
/// Environment variable holding the MoMo API key by default.
pub const MOMO_API_KEY_ENV: &str = "TILL_MOMO_API_KEY";
/// Environment variable holding the Electrum Basic-auth password by default.
pub const ELECTRUM_PASSWORD_ENV: &str = "TILL_ELECTRUM_PASSWORD";

/// The Conductor key the sandbox accepts by default.
pub const SANDBOX_CONDUCTOR_SECRET_KEY: &str = till_sandbox::CONDUCTOR_TEST_KEY;
/// The Electrum password the sandbox accepts by default.
pub const SANDBOX_ELECTRUM_PASSWORD: &str = till_sandbox::ELECTRUM_PASSWORD;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// What kind of [`ConfigError`] it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// The configuration file does not exist.
    NotFound,
    /// The configuration file (or a file it names) cannot be read.
    Read,
    /// The file is not valid TOML, or has a key the schema does not know.
    Parse,
    /// A value is missing or wrong.
    Invalid,
}

/// A configuration problem: which file, which field, what is wrong.
///
/// Displays as `<file>: <field>: <problem>` (the file when there is one,
/// the field when the problem is about one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    kind: ConfigErrorKind,
    file: Option<PathBuf>,
    field: Option<String>,
    problem: String,
}

impl ConfigError {
    fn new(kind: ConfigErrorKind, field: Option<&str>, problem: impl Into<String>) -> Self {
        Self {
            kind,
            file: None,
            field: field.map(str::to_owned),
            problem: problem.into(),
        }
    }

    fn invalid(field: &str, problem: impl Into<String>) -> Self {
        Self::new(ConfigErrorKind::Invalid, Some(field), problem)
    }

    /// The same error, attributed to `file` (unless it already names one).
    #[must_use]
    pub fn in_file(mut self, file: Option<&Path>) -> Self {
        if self.file.is_none() {
            self.file = file.map(Path::to_path_buf);
        }
        self
    }

    /// What kind of problem it is.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The configuration file, if the configuration came from one.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The field (`conductor.url`), if the problem is about one.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// What is wrong.
    pub fn problem(&self) -> &str {
        &self.problem
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if let Some(file) = &self.file {
            out.push_str(&file.display().to_string());
            out.push_str(": ");
        }
        if let Some(field) = &self.field {
            out.push_str(field);
            out.push_str(": ");
        }
        out.push_str(&self.problem);
        out
    }
}

// ---------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------

/// A secret read from the environment. `Debug` and `Display` print
/// `<redacted>`; [`SecretString::expose`] is for the one place that sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

// ---------------------------------------------------------------------------
// The validated configuration
// ---------------------------------------------------------------------------

/// The whole configuration, validated, with secrets and CA files read.
#[derive(Debug, Clone)]
pub struct Config {
    /// Who this terminal is.
    pub terminal: Terminal,
    /// The file emulating the terminal's NorFlash outbox (resolved).
    pub outbox_path: PathBuf,
    /// Moment Conductor, if configured.
    pub conductor: Option<ConductorSection>,
    /// MTN MoMo Collection, if configured.
    pub momo: Option<MomoSection>,
    /// Electrum Airtime, if configured.
    pub electrum: Option<ElectrumSection>,
    /// The file it was loaded from (`None` when built in memory).
    pub source: Option<PathBuf>,
}

/// `[terminal]`: the identities the APIs see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminal {
    /// Electrum `terminalId` (exactly 8 characters).
    pub terminal_id: String,
    /// Electrum `merchantId` (exactly 15 characters).
    pub merchant_id: String,
    /// Merchant trading name (at most 23 characters).
    pub merchant_name: String,
    /// Merchant city (at most 13 characters).
    pub merchant_city: String,
    /// Merchant region (at most 2 characters, e.g. `WC`).
    pub merchant_region: String,
    /// Merchant country (2 letters, e.g. `ZA`).
    pub merchant_country: String,
    /// Merchant category code (4 digits).
    pub merchant_type: String,
    /// Electrum originator institution id.
    pub institution_id: String,
    /// Electrum originator institution name.
    pub institution_name: String,
    /// Conductor `Retailer-Id`.
    pub retailer_id: String,
    /// Electrum client institution id (also the Basic-auth user name).
    pub client_id: String,
    /// Electrum client institution name.
    pub client_name: String,
    /// The shop's currency (bills and airtime).
    pub currency: Currency,
}

/// How to talk TLS to an API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// The terminal's own TLS 1.3 stack (as on the board); needs a CA file.
    Embedded,
    /// rustls (TLS 1.2/1.3): system webpki roots plus the CA file if given.
    Rustls,
}

impl TlsMode {
    /// The name used in `till.toml`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Rustls => "rustls",
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an API lives and whom to trust for it.
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    /// Host name or IP address (lower case, IPv6 without brackets).
    pub host: String,
    /// TCP port (443 unless the URL names one).
    pub port: u16,
    /// Prefix in front of every API path: `""` or `/prefix` (no trailing `/`).
    pub base_path: String,
    /// TLS stack.
    pub tls: TlsMode,
    /// The CA certificate(s), PEM, from `ca_file`.
    pub ca_pem: Option<String>,
    /// How long one exchange may take, connection included, until the
    /// last byte of the answer (`exchange_timeout_secs`): then it is a
    /// lost answer.
    pub exchange_deadline: Duration,
}

impl EndpointConfig {
    /// `https://host:port/base`.
    pub fn url(&self) -> String {
        if self.host.contains(':') {
            format!("https://[{}]:{}{}", self.host, self.port, self.base_path)
        } else {
            format!("https://{}:{}{}", self.host, self.port, self.base_path)
        }
    }
}

impl fmt::Display for EndpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())
    }
}

impl fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("url", &self.url())
            .field("tls", &self.tls)
            .field(
                "ca_pem",
                &self
                    .ca_pem
                    .as_ref()
                    .map(|pem| format!("<{} bytes>", pem.len())),
            )
            .finish()
    }
}

/// `[conductor]`.
#[derive(Debug, Clone)]
pub struct ConductorSection {
    /// Where Conductor lives.
    pub endpoint: EndpointConfig,
    /// The `sk_…` key.
    pub secret_key: SecretString,
    /// The environment variable it came from.
    pub secret_key_env: String,
    /// How long one step may keep retrying.
    pub deadline: Duration,
}

/// `[momo]`.
#[derive(Debug, Clone)]
pub struct MomoSection {
    /// Where MoMo lives.
    pub endpoint: EndpointConfig,
    /// `Ocp-Apim-Subscription-Key`.
    pub subscription_key: SecretString,
    /// The environment variable it came from.
    pub subscription_key_env: String,
    /// The API user.
    pub api_user: Uuid,
    /// The API key.
    pub api_key: SecretString,
    /// The environment variable it came from.
    pub api_key_env: String,
    /// `X-Target-Environment`.
    pub target_environment: String,
    /// The currency MoMo takes in this environment (EUR in the sandbox).
    pub currency: Currency,
    /// How long to poll before handing a payment to the outbox.
    pub poll_deadline: Duration,
    /// `X-Callback-Url`, if the terminal can receive callbacks.
    pub callback_url: Option<String>,
}

/// `[electrum]`.
#[derive(Debug, Clone)]
pub struct ElectrumSection {
    /// Where Electrum lives.
    pub endpoint: EndpointConfig,
    /// Basic-auth password (the user name is `terminal.client_id`).
    pub password: SecretString,
    /// The environment variable it came from.
    pub password_env: String,
    /// How long one step may keep retrying.
    pub deadline: Duration,
}

impl Terminal {
    /// The Electrum originator: institution, terminal id, merchant. Checked
    /// against till-core's capacities and Electrum's rules.
    pub fn originator(&self) -> Result<Originator, ConfigError> {
        use OriginatorError as E;
        let originator = Originator {
            institution: Institution {
                id: fit::<INSTITUTION_ID_CAP>("terminal.institution_id", &self.institution_id)?,
                name: fit::<INSTITUTION_NAME_CAP>(
                    "terminal.institution_name",
                    &self.institution_name,
                )?,
            },
            terminal_id: self.fit_rule::<TERMINAL_ID_CAP>(E::TerminalId)?,
            merchant: Merchant {
                merchant_type: self.fit_rule::<MERCHANT_TYPE_CAP>(E::MerchantType)?,
                merchant_id: self.fit_rule::<MERCHANT_ID_CAP>(E::MerchantId)?,
                merchant_name: MerchantName {
                    name: self.fit_rule::<MERCHANT_NAME_CAP>(E::MerchantName)?,
                    city: self.fit_rule::<MERCHANT_CITY_CAP>(E::MerchantCity)?,
                    region: self.fit_rule::<MERCHANT_REGION_CAP>(E::MerchantRegion)?,
                    country: self.fit_rule::<COUNTRY_CAP>(E::MerchantCountry)?,
                },
            },
            operator_id: None,
            channel_id: None,
        };
        originator
            .validate()
            .map_err(|rule| self.rule_error(rule))?;
        Ok(originator)
    }

    /// The Electrum client institution: `{client_id, client_name}`.
    pub fn client(&self) -> Result<Institution, ConfigError> {
        Ok(Institution {
            id: fit::<INSTITUTION_ID_CAP>("terminal.client_id", &self.client_id)?,
            name: fit::<INSTITUTION_NAME_CAP>("terminal.client_name", &self.client_name)?,
        })
    }

    /// The field an Electrum originator rule is about, and its value.
    fn rule_field(&self, rule: OriginatorError) -> (&'static str, &str) {
        match rule {
            OriginatorError::TerminalId => ("terminal.terminal_id", &self.terminal_id),
            OriginatorError::MerchantType => ("terminal.merchant_type", &self.merchant_type),
            OriginatorError::MerchantId => ("terminal.merchant_id", &self.merchant_id),
            OriginatorError::MerchantName => ("terminal.merchant_name", &self.merchant_name),
            OriginatorError::MerchantCity => ("terminal.merchant_city", &self.merchant_city),
            OriginatorError::MerchantRegion => ("terminal.merchant_region", &self.merchant_region),
            OriginatorError::MerchantCountry => {
                ("terminal.merchant_country", &self.merchant_country)
            }
        }
    }

    /// Electrum's rule, as a message about the field that breaks it.
    fn rule_error(&self, rule: OriginatorError) -> ConfigError {
        let (field, value) = self.rule_field(rule);
        let n = value.chars().count();
        let problem = match rule {
            OriginatorError::TerminalId => format!("must be exactly 8 characters (got {n})"),
            OriginatorError::MerchantId => format!("must be exactly 15 characters (got {n})"),
            OriginatorError::MerchantType => format!("must be 4 digits (got {value:?})"),
            OriginatorError::MerchantName => format!("must be at most 23 characters (got {n})"),
            OriginatorError::MerchantCity => format!("must be at most 13 characters (got {n})"),
            OriginatorError::MerchantRegion => {
                format!("must be at most 2 characters (got {value:?})")
            }
            OriginatorError::MerchantCountry => {
                format!("must be a 2-letter country code (got {value:?})")
            }
        };
        ConfigError::invalid(field, problem)
    }

    /// A field Electrum has a length rule for: a value over till-core's
    /// capacity also breaks the rule, so it is reported as the rule.
    fn fit_rule<const N: usize>(
        &self,
        rule: OriginatorError,
    ) -> Result<heapless::String<N>, ConfigError> {
        let (_, value) = self.rule_field(rule);
        heapless::String::try_from(value).map_err(|_| self.rule_error(rule))
    }
}

impl ConductorSection {
    /// till-core's Conductor configuration (retailer from `terminal`).
    pub fn core_config(
        &self,
        terminal: &Terminal,
    ) -> Result<till_core::conductor::flow::Config, ConfigError> {
        Ok(till_core::conductor::flow::Config {
            secret_key: Secret::new(fit_secret::<SECRET_KEY_CAP>(
                "conductor.secret_key_env",
                &self.secret_key_env,
                &self.secret_key,
            )?),
            retailer_id: fit::<RETAILER_ID_CAP>("terminal.retailer_id", &terminal.retailer_id)?,
            meta_data: None,
            deadline: self.deadline,
        })
    }
}

impl MomoSection {
    /// till-core's MoMo configuration.
    pub fn core_config(&self) -> Result<till_core::momo::flow::Config, ConfigError> {
        Ok(till_core::momo::flow::Config {
            subscription_key: Secret::new(fit_secret::<SUBSCRIPTION_KEY_CAP>(
                "momo.subscription_key_env",
                &self.subscription_key_env,
                &self.subscription_key,
            )?),
            api_user: self.api_user,
            api_key: Secret::new(fit_secret::<API_KEY_CAP>(
                "momo.api_key_env",
                &self.api_key_env,
                &self.api_key,
            )?),
            target_environment: fit::<TARGET_ENVIRONMENT_CAP>(
                "momo.target_environment",
                &self.target_environment,
            )?,
            callback_url: self
                .callback_url
                .as_deref()
                .map(|url| fit::<CALLBACK_URL_CAP>("momo.callback_url", url))
                .transpose()?,
            poll_deadline: self.poll_deadline,
        })
    }
}

impl ElectrumSection {
    /// till-core's Electrum configuration: originator from `terminal`,
    /// client `{client_id, client_name}`, user name `client_id`.
    pub fn core_config(
        &self,
        terminal: &Terminal,
    ) -> Result<till_core::electrum::flow::Config, ConfigError> {
        Ok(till_core::electrum::flow::Config {
            username: fit::<INSTITUTION_ID_CAP>("terminal.client_id", &terminal.client_id)?,
            password: Secret::new(fit_secret::<PASSWORD_CAP>(
                "electrum.password_env",
                &self.password_env,
                &self.password,
            )?),
            originator: terminal.originator()?,
            client: terminal.client()?,
            deadline: self.deadline,
        })
    }
}

impl Config {
    /// Read `path`, apply environment overrides (looked up with `env`;
    /// `main` passes `std::env::var`), read secrets and CA files, validate.
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ConfigError::new(
                    ConfigErrorKind::NotFound,
                    None,
                    "not found (run `till config init`)",
                )
                .in_file(Some(path)))
            }
            Err(e) => {
                return Err(ConfigError::new(
                    ConfigErrorKind::Read,
                    None,
                    format!("cannot read: {e}"),
                )
                .in_file(Some(path)))
            }
        };
        let base_dir = path.parent().unwrap_or(Path::new(""));
        build(&text, base_dir, Some(path), env, &|p| {
            std::fs::read_to_string(p)
        })
    }

    /// Parse `text` as if it were a file in `base_dir` (tests, in-memory
    /// configurations). Errors name no file.
    pub fn from_toml_str(
        text: &str,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        build(text, base_dir, None, env, &|p| std::fs::read_to_string(p))
    }

    /// The configuration [`sandbox_template`] describes, built in memory for
    /// `till demo`: no file, no environment (the sandbox's credentials are
    /// filled in directly), the sandbox's CA given as PEM. A bad `base_url`
    /// or `ca_pem` is reported like any configuration error.
    pub fn for_sandbox(
        base_url: &str,
        ca_pem: &str,
        outbox_path: PathBuf,
    ) -> Result<Config, ConfigError> {
        let secrets = sandbox_env();
        let env = |name: &str| {
            secrets
                .iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| value.clone())
        };
        let mut config = build(
            &sandbox_template(base_url, "sandbox-ca.pem"),
            Path::new(""),
            None,
            &env,
            &|_| Ok(ca_pem.to_owned()),
        )?;
        config.outbox_path = outbox_path;
        Ok(config)
    }

    /// Where `api` lives, if it is configured.
    pub fn endpoint(&self, api: Api) -> Option<&EndpointConfig> {
        match api {
            Api::Conductor => self.conductor.as_ref().map(|c| &c.endpoint),
            Api::MoMo => self.momo.as_ref().map(|m| &m.endpoint),
            Api::Electrum => self.electrum.as_ref().map(|e| &e.endpoint),
        }
    }

    /// till-core's Conductor configuration, if Conductor is configured.
    pub fn conductor_core(
        &self,
    ) -> Result<Option<till_core::conductor::flow::Config>, ConfigError> {
        self.conductor
            .as_ref()
            .map(|c| c.core_config(&self.terminal))
            .transpose()
            .map_err(|e| e.in_file(self.source.as_deref()))
    }

    /// till-core's MoMo configuration, if MoMo is configured.
    pub fn momo_core(&self) -> Result<Option<till_core::momo::flow::Config>, ConfigError> {
        self.momo
            .as_ref()
            .map(MomoSection::core_config)
            .transpose()
            .map_err(|e| e.in_file(self.source.as_deref()))
    }

    /// till-core's Electrum configuration, if Electrum is configured.
    pub fn electrum_core(&self) -> Result<Option<till_core::electrum::flow::Config>, ConfigError> {
        self.electrum
            .as_ref()
            .map(|c| c.core_config(&self.terminal))
            .transpose()
            .map_err(|e| e.in_file(self.source.as_deref()))
    }
}

// ---------------------------------------------------------------------------
// Sandbox template
// ---------------------------------------------------------------------------

/// The sandbox's test identities (`host/sandbox/README.md#test-inputs`).
mod sandbox_ids {
    pub const TERMINAL_ID: &str = "term0001";
    pub const MERCHANT_ID: &str = "merchant1234567";
    pub const MERCHANT_NAME: &str = "Buy Stuff Shop";
    pub const MERCHANT_CITY: &str = "Cape Town";
    pub const MERCHANT_REGION: &str = "WC";
    pub const MERCHANT_COUNTRY: &str = "ZA";
    pub const MERCHANT_TYPE: &str = "4444";
    pub const INSTITUTION_ID: &str = "11111111";
    pub const INSTITUTION_NAME: &str = "Buy Stuff Shop";
    pub const RETAILER_ID: &str = "retailer_001";
    pub const CLIENT_ID: &str = "22222222";
    pub const CLIENT_NAME: &str = "TransAcquire Co";
    pub const CURRENCY: &str = "ZAR";
    pub const MOMO_TARGET_ENVIRONMENT: &str = "sandbox";
    pub const MOMO_CURRENCY: &str = "EUR";
}

/// A TOML basic string holding `text`.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// The `till.toml` that `till config init` writes: every API pointed at a
/// local sandbox at `base_url` (normally [`SANDBOX_BASE_URL`]) trusting
/// `ca_file` (relative to the file's directory), with the sandbox's test
/// identities. Secrets are named, not included: see [`sandbox_env`].
pub fn sandbox_template(base_url: &str, ca_file: &str) -> String {
    use sandbox_ids as ids;
    let url = toml_string(base_url);
    let ca = toml_string(ca_file);
    let q = toml_string;
    format!(
        r#"# till.toml: configuration of the `till` desktop terminal.
# Written by `till config init` for the local sandbox (`till sandbox`).
#
# Secrets are never stored here: each API section names the environment
# variable that holds its key (`till config init` prints the export lines).
# Any value can be overridden by an environment variable
# TILL_<SECTION>_<FIELD>, e.g. TILL_CONDUCTOR_URL or TILL_TERMINAL_TERMINAL_ID.
# Relative paths are relative to the directory of this file.

[terminal]
# Electrum originator: terminalId (exactly 8 characters).
terminal_id = {terminal_id}
# Card acceptor id (exactly 15 characters).
merchant_id = {merchant_id}
# Merchant name (at most 23), city (at most 13), region (at most 2),
# country (ISO 3166, 2 letters).
merchant_name = {merchant_name}
merchant_city = {merchant_city}
merchant_region = {merchant_region}
merchant_country = {merchant_country}
# Merchant category code (4 digits).
merchant_type = {merchant_type}
# Originating institution (Electrum).
institution_id = {institution_id}
institution_name = {institution_name}
# Conductor Retailer-Id.
retailer_id = {retailer_id}
# Electrum client institution; its id is also the Basic-auth user name.
client_id = {client_id}
client_name = {client_name}
# The shop's currency for bills and airtime (ISO 4217).
currency = {currency}

[outbox]
# The file that emulates the terminal's flash: payments not yet settled
# survive a restart here.
path = {outbox}

# Each API section is optional: leave one out and that API is not configured.
# url: https only; host, optional port (default 443), optional path prefix.
# tls: "embedded" (the terminal's own TLS 1.3 stack, as on the board; needs
#      ca_file) or "rustls" (TLS 1.2/1.3; system roots plus ca_file if given).
# ca_file: PEM certificate(s) of the CA to trust.
# exchange_timeout_secs: the longest one request may take, connecting
#      included, until its whole answer is in (default {exchange_timeout});
#      an answer not in by then is a lost answer.

[conductor]
url = {url}
tls = "embedded"
ca_file = {ca}
# The environment variable holding the sk_... key.
secret_key_env = {conductor_key_env}
# Seconds one step may keep retrying before the payment is reported.
deadline_secs = {conductor_deadline}

[momo]
url = {url}
tls = "embedded"
ca_file = {ca}
subscription_key_env = {momo_subscription_env}
# The API user (a UUID) and the variable holding its API key.
api_user = {api_user}
api_key_env = {momo_api_key_env}
# X-Target-Environment, and the currency MoMo takes there (EUR in the sandbox).
target_environment = {target_environment}
currency = {momo_currency}
# Seconds to poll a payment before handing it to the outbox.
poll_deadline_secs = {momo_deadline}
# X-Callback-Url, if this terminal can receive callbacks (behind NAT it
# cannot, and polls instead).
# callback_url = "https://example.com/momo/callback"

[electrum]
url = {url}
tls = "embedded"
ca_file = {ca}
# The Basic-auth password; the user name is terminal.client_id.
password_env = {electrum_password_env}
deadline_secs = {electrum_deadline}
"#,
        terminal_id = q(ids::TERMINAL_ID),
        merchant_id = q(ids::MERCHANT_ID),
        merchant_name = q(ids::MERCHANT_NAME),
        merchant_city = q(ids::MERCHANT_CITY),
        merchant_region = q(ids::MERCHANT_REGION),
        merchant_country = q(ids::MERCHANT_COUNTRY),
        merchant_type = q(ids::MERCHANT_TYPE),
        institution_id = q(ids::INSTITUTION_ID),
        institution_name = q(ids::INSTITUTION_NAME),
        retailer_id = q(ids::RETAILER_ID),
        client_id = q(ids::CLIENT_ID),
        client_name = q(ids::CLIENT_NAME),
        currency = q(ids::CURRENCY),
        outbox = q(DEFAULT_OUTBOX_PATH),
        conductor_key_env = q(CONDUCTOR_SECRET_KEY_ENV),
        conductor_deadline = DEFAULT_CONDUCTOR_DEADLINE_SECS,
        exchange_timeout = DEFAULT_EXCHANGE_TIMEOUT_SECS,
        momo_subscription_env = q(MOMO_SUBSCRIPTION_KEY_ENV),
        api_user = q(till_sandbox::PRESET_API_USER),
        momo_api_key_env = q(MOMO_API_KEY_ENV),
        target_environment = q(ids::MOMO_TARGET_ENVIRONMENT),
        momo_currency = q(ids::MOMO_CURRENCY),
        momo_deadline = DEFAULT_MOMO_POLL_DEADLINE_SECS,
        electrum_password_env = q(ELECTRUM_PASSWORD_ENV),
        electrum_deadline = DEFAULT_ELECTRUM_DEADLINE_SECS,
    )
}

/// The environment variables [`sandbox_template`] names, with the sandbox's
/// credentials: for printing `export` lines.
pub fn sandbox_env() -> Vec<(&'static str, String)> {
    vec![
        (
            CONDUCTOR_SECRET_KEY_ENV,
            SANDBOX_CONDUCTOR_SECRET_KEY.to_owned(),
        ),
        (
            MOMO_SUBSCRIPTION_KEY_ENV,
            till_sandbox::SUBSCRIPTION_KEY.to_owned(),
        ),
        (MOMO_API_KEY_ENV, till_sandbox::PRESET_API_KEY.to_owned()),
        (ELECTRUM_PASSWORD_ENV, SANDBOX_ELECTRUM_PASSWORD.to_owned()),
    ]
}

// ---------------------------------------------------------------------------
// The file as written
// ---------------------------------------------------------------------------

/// One section as the file has it: every field optional, so a missing one
/// is reported by name, and overridable from the environment.
macro_rules! raw_section {
    ($name:ident = $section:literal { $($field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $name {
            $($field: Option<$ty>,)*
        }

        impl $name {
            fn apply_env(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ConfigError> {
                $(ctx.override_field($section, stringify!($field), &mut self.$field)?;)*
                Ok(())
            }
        }
    };
}

raw_section!(RawTerminal = "terminal" {
    terminal_id: String,
    merchant_id: String,
    merchant_name: String,
    merchant_city: String,
    merchant_region: String,
    merchant_country: String,
    merchant_type: String,
    institution_id: String,
    institution_name: String,
    retailer_id: String,
    client_id: String,
    client_name: String,
    currency: String,
});

raw_section!(RawOutbox = "outbox" { path: String });

raw_section!(RawConductor = "conductor" {
    url: String,
    tls: String,
    ca_file: String,
    exchange_timeout_secs: u64,
    secret_key_env: String,
    deadline_secs: u64,
});

raw_section!(RawMomo = "momo" {
    url: String,
    tls: String,
    ca_file: String,
    exchange_timeout_secs: u64,
    subscription_key_env: String,
    api_user: String,
    api_key_env: String,
    target_environment: String,
    currency: String,
    poll_deadline_secs: u64,
    callback_url: String,
});

raw_section!(RawElectrum = "electrum" {
    url: String,
    tls: String,
    ca_file: String,
    exchange_timeout_secs: u64,
    password_env: String,
    deadline_secs: u64,
});

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    terminal: Option<RawTerminal>,
    outbox: Option<RawOutbox>,
    conductor: Option<RawConductor>,
    momo: Option<RawMomo>,
    electrum: Option<RawElectrum>,
}

/// A field type an environment override can set.
trait EnvValue: Sized {
    fn from_env(text: &str) -> Result<Self, String>;
}

impl EnvValue for String {
    fn from_env(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
}

impl EnvValue for u64 {
    fn from_env(text: &str) -> Result<Self, String> {
        text.trim()
            .parse()
            .map_err(|_| format!("must be a whole number (got {text:?})"))
    }
}

// ---------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------

type CaReader<'a> = dyn Fn(&Path) -> io::Result<String> + 'a;

/// Where values came from, for error messages.
struct Ctx<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    /// Field path → the environment variable that overrode it.
    overridden: HashMap<String, String>,
    base_dir: &'a Path,
    read_ca: &'a CaReader<'a>,
}

impl Ctx<'_> {
    fn override_field<T: EnvValue>(
        &mut self,
        section: &str,
        field: &str,
        slot: &mut Option<T>,
    ) -> Result<(), ConfigError> {
        let var = override_var(section, field);
        let Some(text) = (self.env)(&var).filter(|t| !t.is_empty()) else {
            return Ok(());
        };
        let path = format!("{section}.{field}");
        let value = T::from_env(&text)
            .map_err(|problem| ConfigError::invalid(&path, format!("{problem} (set by {var})")))?;
        *slot = Some(value);
        self.overridden.insert(path, var);
        Ok(())
    }

    /// A problem with `path`, saying where its value came from if an
    /// override set it.
    fn invalid(&self, path: &str, problem: impl Into<String>) -> ConfigError {
        let mut problem = problem.into();
        if let Some(var) = self.overridden.get(path) {
            problem.push_str(&format!(" (set by {var})"));
        }
        ConfigError::invalid(path, problem)
    }

    /// A required string: present and not blank.
    fn required(
        &self,
        section: &str,
        field: &str,
        value: Option<String>,
    ) -> Result<String, ConfigError> {
        let path = format!("{section}.{field}");
        match value {
            None => Err(self.invalid(
                &path,
                format!(
                    "missing (set it in [{section}] or with {})",
                    override_var(section, field)
                ),
            )),
            Some(v) if v.trim().is_empty() => Err(self.invalid(&path, "must not be empty")),
            Some(v) => Ok(v),
        }
    }

    fn deadline(
        &self,
        path: &str,
        secs: Option<u64>,
        default: u64,
    ) -> Result<Duration, ConfigError> {
        let secs = secs.unwrap_or(default);
        if secs == 0 || secs > MAX_DEADLINE_SECS {
            return Err(self.invalid(
                path,
                format!("must be 1 to {MAX_DEADLINE_SECS} seconds (got {secs})"),
            ));
        }
        Ok(Duration::from_secs(secs))
    }

    fn currency(&self, path: &str, code: &str) -> Result<Currency, ConfigError> {
        Currency::from_alpha(code).map_err(|_| {
            self.invalid(
                path,
                format!("not a known ISO 4217 currency code (got {code:?})"),
            )
        })
    }

    /// The name of an environment variable holding a secret.
    fn env_name(
        &self,
        path: &str,
        value: Option<String>,
        default: &str,
    ) -> Result<String, ConfigError> {
        let name = value.unwrap_or_else(|| default.to_owned());
        let valid =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(self.invalid(
                path,
                format!("not an environment variable name (got {name:?})"),
            ));
        }
        Ok(name)
    }

    /// The secret in environment variable `var` (named by field `path`).
    fn secret(&self, path: &str, var: &str) -> Result<SecretString, ConfigError> {
        match (self.env)(var) {
            None => Err(self.invalid(path, format!("environment variable {var} is not set"))),
            Some(v) if v.is_empty() => {
                Err(self.invalid(path, format!("environment variable {var} is empty")))
            }
            Some(v) if v.chars().any(char::is_control) => Err(self.invalid(
                path,
                format!("environment variable {var} contains control characters"),
            )),
            Some(v) => Ok(SecretString(v)),
        }
    }

    /// `url` + `tls` + `ca_file` of an API section.
    fn endpoint(
        &self,
        section: &str,
        url: Option<String>,
        tls: Option<String>,
        ca_file: Option<String>,
        exchange_timeout_secs: Option<u64>,
    ) -> Result<EndpointConfig, ConfigError> {
        let exchange_deadline = self.deadline(
            &format!("{section}.exchange_timeout_secs"),
            exchange_timeout_secs,
            DEFAULT_EXCHANGE_TIMEOUT_SECS,
        )?;
        let url_path = format!("{section}.url");
        let tls_path = format!("{section}.tls");
        let ca_path = format!("{section}.ca_file");
        let url = self.required(section, "url", url)?;
        let tls = match tls.as_deref() {
            None | Some("embedded") => TlsMode::Embedded,
            Some("rustls") => TlsMode::Rustls,
            Some(other) => {
                return Err(self.invalid(
                    &tls_path,
                    format!("must be \"embedded\" or \"rustls\" (got {other:?})"),
                ))
            }
        };
        let (host, port, base_path) =
            parse_url(&url).map_err(|problem| self.invalid(&url_path, problem))?;
        if tls == TlsMode::Embedded {
            if host.parse::<IpAddr>().is_ok() {
                return Err(self.invalid(
                    &url_path,
                    format!(
                        "tls \"embedded\" verifies DNS names only, not IP addresses: use a host \
                         name such as localhost, or tls = \"rustls\" (got {host:?})"
                    ),
                ));
            }
            if host.len() > HOST_CAP {
                return Err(self.invalid(
                    &url_path,
                    format!("host name too long for tls \"embedded\", at most {HOST_CAP} bytes"),
                ));
            }
            if base_path.len() > BASE_PATH_CAP {
                return Err(self.invalid(
                    &url_path,
                    format!("path prefix too long, at most {BASE_PATH_CAP} bytes"),
                ));
            }
        }
        let ca_pem = match ca_file {
            None if tls == TlsMode::Embedded => {
                return Err(self.invalid(&tls_path, "\"embedded\" needs ca_file"))
            }
            None => None,
            Some(file) if file.trim().is_empty() => {
                return Err(self.invalid(&ca_path, "must not be empty"))
            }
            Some(file) => {
                let resolved = self.base_dir.join(&file);
                let pem = (self.read_ca)(&resolved).map_err(|e| {
                    let mut err =
                        self.invalid(&ca_path, format!("cannot read {}: {e}", resolved.display()));
                    err.kind = ConfigErrorKind::Read;
                    err
                })?;
                if !pem.contains("-----BEGIN CERTIFICATE-----") {
                    return Err(self.invalid(
                        &ca_path,
                        format!("{} holds no PEM certificate", resolved.display()),
                    ));
                }
                Some(pem)
            }
        };
        Ok(EndpointConfig {
            host,
            port,
            base_path,
            tls,
            ca_pem,
            exchange_deadline,
        })
    }

    fn terminal(&self, raw: RawTerminal) -> Result<Terminal, ConfigError> {
        let s = "terminal";
        let terminal = Terminal {
            terminal_id: self.required(s, "terminal_id", raw.terminal_id)?,
            merchant_id: self.required(s, "merchant_id", raw.merchant_id)?,
            merchant_name: self.required(s, "merchant_name", raw.merchant_name)?,
            merchant_city: self.required(s, "merchant_city", raw.merchant_city)?,
            merchant_region: self.required(s, "merchant_region", raw.merchant_region)?,
            merchant_country: self.required(s, "merchant_country", raw.merchant_country)?,
            merchant_type: self.required(s, "merchant_type", raw.merchant_type)?,
            institution_id: self.required(s, "institution_id", raw.institution_id)?,
            institution_name: self.required(s, "institution_name", raw.institution_name)?,
            retailer_id: self.required(s, "retailer_id", raw.retailer_id)?,
            client_id: self.required(s, "client_id", raw.client_id)?,
            client_name: self.required(s, "client_name", raw.client_name)?,
            currency: {
                let code = self.required(s, "currency", raw.currency)?;
                self.currency("terminal.currency", &code)?
            },
        };
        terminal.originator().map_err(|e| self.reattribute(e))?;
        terminal.client().map_err(|e| self.reattribute(e))?;
        let country = &terminal.merchant_country;
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(self.invalid(
                "terminal.merchant_country",
                format!("must be a 2-letter upper-case country code (got {country:?})"),
            ));
        }
        fit::<RETAILER_ID_CAP>("terminal.retailer_id", &terminal.retailer_id)
            .map_err(|e| self.reattribute(e))?;
        Ok(terminal)
    }

    fn conductor(
        &self,
        raw: RawConductor,
        terminal: &Terminal,
    ) -> Result<ConductorSection, ConfigError> {
        let endpoint = self.endpoint(
            "conductor",
            raw.url,
            raw.tls,
            raw.ca_file,
            raw.exchange_timeout_secs,
        )?;
        let env_path = "conductor.secret_key_env";
        let secret_key_env =
            self.env_name(env_path, raw.secret_key_env, CONDUCTOR_SECRET_KEY_ENV)?;
        let secret_key = self.secret(env_path, &secret_key_env)?;
        if !secret_key.expose().starts_with("sk_") {
            return Err(self.invalid(
                env_path,
                format!("environment variable {secret_key_env} does not hold an sk_... key"),
            ));
        }
        let section = ConductorSection {
            endpoint,
            secret_key,
            secret_key_env,
            deadline: self.deadline(
                "conductor.deadline_secs",
                raw.deadline_secs,
                DEFAULT_CONDUCTOR_DEADLINE_SECS,
            )?,
        };
        section
            .core_config(terminal)
            .map_err(|e| self.reattribute(e))?;
        Ok(section)
    }

    fn momo(&self, raw: RawMomo) -> Result<MomoSection, ConfigError> {
        let endpoint = self.endpoint(
            "momo",
            raw.url,
            raw.tls,
            raw.ca_file,
            raw.exchange_timeout_secs,
        )?;
        let subscription_key_env = self.env_name(
            "momo.subscription_key_env",
            raw.subscription_key_env,
            MOMO_SUBSCRIPTION_KEY_ENV,
        )?;
        let subscription_key = self.secret("momo.subscription_key_env", &subscription_key_env)?;
        let api_user_text = self.required("momo", "api_user", raw.api_user)?;
        let api_user = Uuid::parse(api_user_text.trim())
            .map_err(|e| self.invalid("momo.api_user", format!("{e} (got {api_user_text:?})")))?;
        let api_key_env = self.env_name("momo.api_key_env", raw.api_key_env, MOMO_API_KEY_ENV)?;
        let api_key = self.secret("momo.api_key_env", &api_key_env)?;
        let target_environment =
            self.required("momo", "target_environment", raw.target_environment)?;
        let currency_code = self.required("momo", "currency", raw.currency)?;
        let currency = self.currency("momo.currency", &currency_code)?;
        let callback_url = match raw.callback_url {
            Some(url) if !url.trim().is_empty() => {
                let lower = url.to_ascii_lowercase();
                if !lower.starts_with("https://") && !lower.starts_with("http://") {
                    return Err(self.invalid(
                        "momo.callback_url",
                        format!("must be an http:// or https:// URL (got {url:?})"),
                    ));
                }
                Some(url)
            }
            _ => None,
        };
        let section = MomoSection {
            endpoint,
            subscription_key,
            subscription_key_env,
            api_user,
            api_key,
            api_key_env,
            target_environment,
            currency,
            poll_deadline: self.deadline(
                "momo.poll_deadline_secs",
                raw.poll_deadline_secs,
                DEFAULT_MOMO_POLL_DEADLINE_SECS,
            )?,
            callback_url,
        };
        section.core_config().map_err(|e| self.reattribute(e))?;
        Ok(section)
    }

    fn electrum(
        &self,
        raw: RawElectrum,
        terminal: &Terminal,
    ) -> Result<ElectrumSection, ConfigError> {
        let endpoint = self.endpoint(
            "electrum",
            raw.url,
            raw.tls,
            raw.ca_file,
            raw.exchange_timeout_secs,
        )?;
        let password_env = self.env_name(
            "electrum.password_env",
            raw.password_env,
            ELECTRUM_PASSWORD_ENV,
        )?;
        let password = self.secret("electrum.password_env", &password_env)?;
        let section = ElectrumSection {
            endpoint,
            password,
            password_env,
            deadline: self.deadline(
                "electrum.deadline_secs",
                raw.deadline_secs,
                DEFAULT_ELECTRUM_DEADLINE_SECS,
            )?,
        };
        section
            .core_config(terminal)
            .map_err(|e| self.reattribute(e))?;
        Ok(section)
    }

    /// An error built without this context (till-core conversions): add
    /// where the field's value came from.
    fn reattribute(&self, err: ConfigError) -> ConfigError {
        match err.field.as_deref().and_then(|f| self.overridden.get(f)) {
            Some(var) => ConfigError {
                problem: format!("{} (set by {var})", err.problem),
                ..err
            },
            None => err,
        }
    }
}

fn build(
    text: &str,
    base_dir: &Path,
    source: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    read_ca: &CaReader<'_>,
) -> Result<Config, ConfigError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| toml_error(text, &e).in_file(source))?;
    let mut ctx = Ctx {
        env,
        overridden: HashMap::new(),
        base_dir,
        read_ca,
    };
    validate(raw, &mut ctx)
        .map_err(|e| e.in_file(source))
        .map(|mut config| {
            config.source = source.map(Path::to_path_buf);
            config
        })
}

fn validate(raw: RawFile, ctx: &mut Ctx<'_>) -> Result<Config, ConfigError> {
    let mut raw_terminal = raw.terminal.unwrap_or_default();
    raw_terminal.apply_env(ctx)?;
    let mut raw_outbox = raw.outbox.unwrap_or_default();
    raw_outbox.apply_env(ctx)?;
    let mut conductor = raw.conductor;
    if let Some(c) = conductor.as_mut() {
        c.apply_env(ctx)?;
    }
    let mut momo = raw.momo;
    if let Some(m) = momo.as_mut() {
        m.apply_env(ctx)?;
    }
    let mut electrum = raw.electrum;
    if let Some(e) = electrum.as_mut() {
        e.apply_env(ctx)?;
    }

    let terminal = ctx.terminal(raw_terminal)?;
    let outbox = raw_outbox
        .path
        .unwrap_or_else(|| DEFAULT_OUTBOX_PATH.to_owned());
    if outbox.trim().is_empty() {
        return Err(ctx.invalid("outbox.path", "must not be empty"));
    }
    let outbox_path = ctx.base_dir.join(outbox);
    let conductor = conductor.map(|c| ctx.conductor(c, &terminal)).transpose()?;
    let momo = momo.map(|m| ctx.momo(m)).transpose()?;
    let electrum = electrum.map(|e| ctx.electrum(e, &terminal)).transpose()?;
    Ok(Config {
        terminal,
        outbox_path,
        conductor,
        momo,
        electrum,
        source: None,
    })
}

/// `TILL_<SECTION>_<FIELD>`.
fn override_var(section: &str, field: &str) -> String {
    format!(
        "TILL_{}_{}",
        section.to_ascii_uppercase(),
        field.to_ascii_uppercase()
    )
}

/// `value` in a till-core string of capacity `N`.
fn fit<const N: usize>(field: &str, value: &str) -> Result<heapless::String<N>, ConfigError> {
    heapless::String::try_from(value).map_err(|_| {
        ConfigError::invalid(
            field,
            format!("too long, at most {N} bytes (got {})", value.len()),
        )
    })
}

/// A secret in a till-core string of capacity `N`; the message names the
/// variable, never the value.
fn fit_secret<const N: usize>(
    field: &str,
    var: &str,
    secret: &SecretString,
) -> Result<heapless::String<N>, ConfigError> {
    heapless::String::try_from(secret.expose()).map_err(|_| {
        ConfigError::invalid(
            field,
            format!("the value of {var} is too long, at most {N} bytes"),
        )
    })
}

/// `https://host[:port][/prefix]` → host (lower case, IPv6 unbracketed),
/// port, prefix (`""` or `/…` without a trailing `/`).
fn parse_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .and_then(|_| url.get(8..))
        .ok_or_else(|| format!("must start with https:// (got {url:?})"))?;
    if rest.contains(['?', '#']) {
        return Err(format!("must not have a query or fragment (got {url:?})"));
    }
    if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("must not contain spaces (got {url:?})"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        // Never echo it: user info may be a credential.
        return Err(
            "must not contain user info (credentials belong in environment variables)".to_owned(),
        );
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| format!("unclosed [ in host (got {url:?})"))?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("not an IPv6 address in [ ] (got {url:?})"));
        }
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("unexpected text after ] (got {url:?})")),
            },
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("has no host (got {url:?})"));
    }
    if !authority.starts_with('[')
        && !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(format!(
            "host has characters not allowed in a host name (got {host:?})"
        ));
    }
    let port = match port {
        None => 443,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err(format!("port must be 1 to 65535 (got {text:?})")),
        },
    };
    let base_path = path.trim_end_matches('/').to_owned();
    Ok((host.to_ascii_lowercase(), port, base_path))
}

// ---------------------------------------------------------------------------
// TOML errors
// ---------------------------------------------------------------------------

/// toml's error as a [`ConfigError`] naming the section, key and line.
fn toml_error(text: &str, err: &toml::de::Error) -> ConfigError {
    let message = err.message().trim_end();
    let Some(span) = err.span() else {
        return ConfigError::new(ConfigErrorKind::Parse, None, message);
    };
    let start = span.start.min(text.len());
    let before = text.get(..start).unwrap_or("");
    let line_no = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text
        .get(line_start..)
        .and_then(|rest| rest.lines().next())
        .unwrap_or("");
    let header_here = line.trim_start().starts_with('[');
    let section = text
        .get(..line_start)
        .unwrap_or("")
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(header_name);
    let key = (!header_here)
        .then(|| line.split_once('='))
        .flatten()
        .map(|(key, _)| unquote(key.trim()));

    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = expected.trim_start_matches(',').trim().replace('`', "");
        let expected = if expected.is_empty() {
            String::new()
        } else {
            format!("; {expected}")
        };
        let what = if header_here {
            format!("unknown section [{name}]")
        } else {
            match &section {
                Some(section) => format!("unknown field '{name}' in [{section}]"),
                None => format!("unknown key '{name}' outside any section"),
            }
        };
        return ConfigError::new(
            ConfigErrorKind::Parse,
            None,
            format!("{what} (line {line_no}{expected})"),
        );
    }
    let field = match (&section, &key) {
        (Some(section), Some(key)) => Some(format!("{section}.{key}")),
        (None, Some(key)) => Some(key.clone()),
        _ => None,
    };
    let column = text
        .get(line_start..start)
        .map_or(1, |s| s.chars().count() + 1);
    ConfigError::new(
        ConfigErrorKind::Parse,
        field.as_deref(),
        format!("{message} (line {line_no}, column {column})"),
    )
}

/// `[ name ]` / `[[name]]` → `name`.
fn header_name(line: &str) -> String {
    let inner = line.trim_start_matches('[');
    let inner = inner.split(']').next().unwrap_or(inner);
    unquote(inner.trim())
}

fn unquote(key: &str) -> String {
    key.trim_matches(|c| c == '"' || c == '\'').to_owned()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    const CA_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn sandbox_lookup() -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<&'static str, String> = sandbox_env().into_iter().collect();
        move |name| vars.get(name).cloned()
    }

    /// A directory with the sandbox template as till.toml and its CA.
    fn sandbox_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("till.toml"),
            sandbox_template(SANDBOX_BASE_URL, "sandbox-ca.pem"),
        )
        .unwrap();
        std::fs::write(dir.path().join("sandbox-ca.pem"), CA_PEM).unwrap();
        dir
    }

    /// Load `till.toml` in `dir` with the sandbox secrets plus `extra`.
    fn load_with(dir: &Path, extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let base = sandbox_lookup();
        let extra: HashMap<String, String> = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let env = move |name: &str| extra.get(name).cloned().or_else(|| base(name));
        Config::load(&dir.join("till.toml"), &env)
    }

    /// The template with `from` replaced by `to`, loaded.
    fn load_edited(from: &str, to: &str) -> ConfigError {
        let dir = sandbox_dir();
        let path = dir.path().join("till.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "template lacks {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        load_with(dir.path(), &[]).unwrap_err()
    }

    #[test]
    fn template_round_trips_and_core_configs_build() {
        let dir = sandbox_dir();
        let config = load_with(dir.path(), &[]).unwrap();
        assert_eq!(
            config.source.as_deref(),
            Some(dir.path().join("till.toml").as_path())
        );
        assert_eq!(config.outbox_path, dir.path().join(DEFAULT_OUTBOX_PATH));
        assert_eq!(config.terminal.terminal_id, "term0001");
        assert_eq!(config.terminal.currency, Currency::ZAR);

        let conductor = config.conductor.as_ref().unwrap();
        assert_eq!(conductor.endpoint.host, "localhost");
        assert_eq!(conductor.endpoint.port, 8443);
        assert_eq!(conductor.endpoint.base_path, "");
        assert_eq!(conductor.endpoint.tls, TlsMode::Embedded);
        assert_eq!(conductor.endpoint.ca_pem.as_deref(), Some(CA_PEM));
        assert_eq!(conductor.secret_key.expose(), SANDBOX_CONDUCTOR_SECRET_KEY);
        assert_eq!(conductor.deadline, Duration::from_secs(10));

        let core = config.conductor_core().unwrap().unwrap();
        assert_eq!(core.retailer_id.as_str(), "retailer_001");
        assert_eq!(
            core.secret_key.expose().as_str(),
            SANDBOX_CONDUCTOR_SECRET_KEY
        );

        let momo = config.momo_core().unwrap().unwrap();
        assert_eq!(
            momo.api_user.to_text().as_str(),
            till_sandbox::PRESET_API_USER
        );
        assert_eq!(momo.api_key.expose().as_str(), till_sandbox::PRESET_API_KEY);
        assert_eq!(
            momo.subscription_key.expose().as_str(),
            till_sandbox::SUBSCRIPTION_KEY
        );
        assert_eq!(momo.target_environment.as_str(), "sandbox");
        assert_eq!(momo.poll_deadline, Duration::from_secs(20));
        assert!(momo.callback_url.is_none());
        assert_eq!(config.momo.as_ref().unwrap().currency, Currency::EUR);

        let electrum = config.electrum_core().unwrap().unwrap();
        assert_eq!(electrum.username.as_str(), "22222222");
        assert_eq!(electrum.password.expose().as_str(), "sandbox");
        assert_eq!(electrum.client.id.as_str(), "22222222");
        assert_eq!(electrum.client.name.as_str(), "TransAcquire Co");
        assert_eq!(electrum.originator.institution.id.as_str(), "11111111");
        assert_eq!(electrum.originator.terminal_id.as_str(), "term0001");
        assert_eq!(
            electrum.originator.merchant.merchant_id.as_str(),
            "merchant1234567"
        );
        assert_eq!(
            electrum.originator.merchant.merchant_name.city.as_str(),
            "Cape Town"
        );
        electrum.originator.validate().unwrap();
    }

    #[test]
    fn from_toml_str_resolves_against_base_dir() {
        let dir = sandbox_dir();
        let text = sandbox_template("https://LocalHost:9443/api/", "sandbox-ca.pem");
        let config = Config::from_toml_str(&text, dir.path(), &sandbox_lookup()).unwrap();
        assert!(config.source.is_none());
        let e = &config.electrum.as_ref().unwrap().endpoint;
        assert_eq!(
            (e.host.as_str(), e.port, e.base_path.as_str()),
            ("localhost", 9443, "/api")
        );
        assert_eq!(e.url(), "https://localhost:9443/api");
    }

    #[test]
    fn for_sandbox_matches_the_template() {
        let config =
            Config::for_sandbox(SANDBOX_BASE_URL, CA_PEM, PathBuf::from("/tmp/outbox")).unwrap();
        assert_eq!(config.outbox_path, PathBuf::from("/tmp/outbox"));
        assert!(config.source.is_none());
        assert_eq!(
            config
                .conductor
                .as_ref()
                .unwrap()
                .endpoint
                .ca_pem
                .as_deref(),
            Some(CA_PEM)
        );
        assert!(config.conductor_core().unwrap().is_some());
        assert!(config.momo_core().unwrap().is_some());
        assert!(config.electrum_core().unwrap().is_some());
        let err = Config::for_sandbox("http://localhost", CA_PEM, PathBuf::new()).unwrap_err();
        assert_eq!(err.field(), Some("conductor.url"));
    }

    #[test]
    fn missing_sections_mean_unconfigured() {
        let dir = sandbox_dir();
        let text = sandbox_template(SANDBOX_BASE_URL, "sandbox-ca.pem");
        let terminal_only = text.split("[conductor]").next().unwrap();
        // Overrides of an absent section do not switch it on.
        let env = |name: &str| (name == "TILL_MOMO_URL").then(|| "https://x".to_owned());
        let config = Config::from_toml_str(terminal_only, dir.path(), &env).unwrap();
        assert!(config.conductor.is_none() && config.momo.is_none() && config.electrum.is_none());
        assert!(config.electrum_core().unwrap().is_none());
    }

    #[test]
    fn debug_leaks_no_secret() {
        let dir = sandbox_dir();
        // Distinctive values: the sandbox's Electrum password, "sandbox",
        // is also its MoMo target environment.
        let secrets = [
            (CONDUCTOR_SECRET_KEY_ENV, "sk_test_hush_conductor"),
            (MOMO_SUBSCRIPTION_KEY_ENV, "hush_subscription"),
            (MOMO_API_KEY_ENV, "hush_api_key"),
            (ELECTRUM_PASSWORD_ENV, "hush_password"),
        ];
        let config = load_with(dir.path(), &secrets).unwrap();
        let debug = format!("{config:?} {:?}", config.conductor_core().unwrap());
        let debug = format!(
            "{debug} {:?} {:?}",
            config.momo_core().unwrap(),
            config.electrum_core().unwrap()
        );
        assert!(!debug.contains("hush"), "Debug leaks a secret: {debug}");
        assert!(debug.contains("<redacted>"));
        assert_eq!(SecretString::new("hunter2").to_string(), "<redacted>");
    }

    #[test]
    fn env_override_replaces_a_field() {
        let dir = sandbox_dir();
        let config = load_with(
            dir.path(),
            &[
                ("TILL_CONDUCTOR_URL", "https://conductor.example.com/v2"),
                ("TILL_TERMINAL_TERMINAL_ID", "term0042"),
                ("TILL_OUTBOX_PATH", "other.flash"),
                ("TILL_MOMO_POLL_DEADLINE_SECS", "45"),
                ("TILL_ELECTRUM_URL", ""),
            ],
        )
        .unwrap();
        let conductor = &config.conductor.as_ref().unwrap().endpoint;
        assert_eq!(conductor.host, "conductor.example.com");
        assert_eq!(conductor.port, 443);
        assert_eq!(conductor.base_path, "/v2");
        assert_eq!(config.terminal.terminal_id, "term0042");
        assert_eq!(config.outbox_path, dir.path().join("other.flash"));
        assert_eq!(
            config.momo.as_ref().unwrap().poll_deadline,
            Duration::from_secs(45)
        );
        // An empty override is ignored.
        assert_eq!(config.electrum.as_ref().unwrap().endpoint.port, 8443);
    }

    #[test]
    fn bad_override_names_its_variable() {
        let dir = sandbox_dir();
        let err = load_with(dir.path(), &[("TILL_CONDUCTOR_URL", "http://localhost")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: conductor.url: must start with https:// (got \"http://localhost\") \
                 (set by TILL_CONDUCTOR_URL)",
                dir.path().join("till.toml").display()
            )
        );
        let err = load_with(dir.path(), &[("TILL_CONDUCTOR_DEADLINE_SECS", "ten")]).unwrap_err();
        assert_eq!(err.field(), Some("conductor.deadline_secs"));
        assert!(
            err.problem().contains("TILL_CONDUCTOR_DEADLINE_SECS"),
            "{err}"
        );
    }

    fn assert_error(err: &ConfigError, field: Option<&str>, problem: &str) {
        let file = err.file().expect("names the file");
        assert!(file.ends_with("till.toml"), "{err}");
        assert_eq!(err.field(), field, "{err}");
        assert!(err.problem().contains(problem), "{err}");
        let text = err.to_string();
        assert!(text.starts_with(&format!("{}: ", file.display())), "{text}");
        if let Some(field) = field {
            assert!(text.contains(&format!(": {field}: ")), "{text}");
        }
        assert!(text.contains(problem), "{text}");
    }

    #[test]
    fn url_must_be_https() {
        let err = load_edited(
            "url = \"https://localhost:8443\"",
            "url = \"http://localhost\"",
        );
        assert_error(
            &err,
            Some("conductor.url"),
            "must start with https:// (got \"http://localhost\")",
        );
    }

    #[test]
    fn terminal_id_must_be_8() {
        let err = load_edited("\"term0001\"", "\"term1\"");
        assert_error(
            &err,
            Some("terminal.terminal_id"),
            "must be exactly 8 characters (got 5)",
        );
        let err = load_edited("\"term0001\"", "\"a-terminal-id-far-too-long\"");
        assert_error(
            &err,
            Some("terminal.terminal_id"),
            "must be exactly 8 characters (got 26)",
        );
    }

    #[test]
    fn originator_rules_name_their_field() {
        let err = load_edited("\"merchant1234567\"", "\"merchant\"");
        assert_error(
            &err,
            Some("terminal.merchant_id"),
            "exactly 15 characters (got 8)",
        );
        let err = load_edited("\"4444\"", "\"44a4\"");
        assert_error(&err, Some("terminal.merchant_type"), "must be 4 digits");
        let err = load_edited("\"Cape Town\"", "\"Cape Town Central\"");
        assert_error(
            &err,
            Some("terminal.merchant_city"),
            "at most 13 characters (got 17)",
        );
        let err = load_edited("\"ZA\"", "\"za\"");
        assert_error(&err, Some("terminal.merchant_country"), "2-letter");
        let err = load_edited("\"ZAR\"", "\"ZZZ\"");
        assert_error(&err, Some("terminal.currency"), "ISO 4217");
    }

    #[test]
    fn unset_secret_names_the_variable() {
        let dir = sandbox_dir();
        let vars = sandbox_lookup();
        let env = move |name: &str| (name != MOMO_API_KEY_ENV).then(|| vars(name)).flatten();
        let err = Config::load(&dir.path().join("till.toml"), &env).unwrap_err();
        assert_error(
            &err,
            Some("momo.api_key_env"),
            "environment variable TILL_MOMO_API_KEY is not set",
        );
    }

    #[test]
    fn unreadable_ca_file() {
        let dir = sandbox_dir();
        std::fs::remove_file(dir.path().join("sandbox-ca.pem")).unwrap();
        let err = load_with(dir.path(), &[]).unwrap_err();
        // Conductor comes first; each section names its own field.
        assert_error(&err, Some("conductor.ca_file"), "cannot read ");
        assert!(err.problem().contains("sandbox-ca.pem"), "{err}");
        assert_eq!(err.kind(), ConfigErrorKind::Read);

        let dir = sandbox_dir();
        let path = dir.path().join("till.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let (head, electrum) = text.split_once("[electrum]").unwrap();
        let electrum = electrum.replace("\"sandbox-ca.pem\"", "\"nowhere/sandbox-ca.pem\"");
        std::fs::write(&path, format!("{head}[electrum]{electrum}")).unwrap();
        let err = load_with(dir.path(), &[]).unwrap_err();
        assert_error(&err, Some("electrum.ca_file"), "cannot read ");
        assert!(err.problem().contains("nowhere"), "{err}");
    }

    #[test]
    fn unknown_field_names_the_section() {
        let err = load_edited(
            "url = \"https://localhost:8443\"",
            "urll = \"https://localhost:8443\"",
        );
        assert_error(&err, None, "unknown field 'urll' in [conductor]");
        assert!(err.problem().contains("line "), "{err}");
        assert_eq!(err.kind(), ConfigErrorKind::Parse);

        let err = load_edited("[electrum]", "[electrumm]");
        assert_error(&err, None, "unknown section [electrumm]");
    }

    #[test]
    fn type_errors_name_the_field() {
        let err = load_edited("poll_deadline_secs = 20", "poll_deadline_secs = \"20\"");
        assert_error(&err, Some("momo.poll_deadline_secs"), "line ");
        let err = load_edited("[outbox]", "[outbox");
        assert_eq!(err.kind(), ConfigErrorKind::Parse, "{err}");
        assert!(err.to_string().contains("line "), "{err}");
    }

    #[test]
    fn embedded_needs_ca_file() {
        let dir = sandbox_dir();
        let path = dir.path().join("till.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replacen("ca_file = \"sandbox-ca.pem\"\n", "", 1),
        )
        .unwrap();
        let err = load_with(dir.path(), &[]).unwrap_err();
        assert_error(&err, Some("conductor.tls"), "\"embedded\" needs ca_file");
        // rustls does not.
        let config = load_with(dir.path(), &[("TILL_CONDUCTOR_TLS", "rustls")]).unwrap();
        let endpoint = &config.conductor.as_ref().unwrap().endpoint;
        assert_eq!(endpoint.tls, TlsMode::Rustls);
        assert!(endpoint.ca_pem.is_none());
    }

    #[test]
    fn missing_file_says_how_to_make_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("till.toml");
        let err = Config::load(&path, &|_| None).unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::NotFound);
        assert_eq!(
            err.to_string(),
            format!("{}: not found (run `till config init`)", path.display())
        );
    }

    #[test]
    fn missing_field_names_field_and_override() {
        let err = load_edited("retailer_id = \"retailer_001\"\n", "");
        assert_error(
            &err,
            Some("terminal.retailer_id"),
            "missing (set it in [terminal] or with TILL_TERMINAL_RETAILER_ID)",
        );
    }

    #[test]
    fn capacity_overflow_names_the_field() {
        let long = "x".repeat(RETAILER_ID_CAP + 1);
        let err = load_edited("\"retailer_001\"", &format!("\"{long}\""));
        assert_error(
            &err,
            Some("terminal.retailer_id"),
            &format!("too long, at most {RETAILER_ID_CAP} bytes"),
        );
        let dir = sandbox_dir();
        let secret = format!("sk_{}", "k".repeat(SECRET_KEY_CAP));
        let err = load_with(dir.path(), &[(CONDUCTOR_SECRET_KEY_ENV, &secret)]).unwrap_err();
        assert_error(&err, Some("conductor.secret_key_env"), "too long");
        assert!(!err.to_string().contains(&secret));
    }

    #[test]
    fn url_forms() {
        assert_eq!(
            parse_url("https://h.example").unwrap(),
            ("h.example".to_owned(), 443, String::new())
        );
        assert_eq!(
            parse_url("HTTPS://[::1]:8443/a/b/").unwrap(),
            ("::1".to_owned(), 8443, "/a/b".to_owned())
        );
        assert!(parse_url("https://:8443").is_err());
        assert!(parse_url("https://h:0").is_err());
        assert!(parse_url("https://h:99999").is_err());
        assert!(parse_url("https://h/x?y").is_err());
        let err = parse_url("https://user:pw@h").unwrap_err();
        assert!(!err.contains("pw"));
        // Embedded TLS cannot verify an IP address.
        let err = load_edited(
            "url = \"https://localhost:8443\"",
            "url = \"https://127.0.0.1:8443\"",
        );
        assert_error(&err, Some("conductor.url"), "IP addresses");
    }
}
