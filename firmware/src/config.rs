//! The terminal's configuration: endpoints, credentials, identity, the
//! trust anchor, static host names and the SNTP server.
//!
//! It lives in a flash area of its own, kept by the same power-fail-safe,
//! ECC-safe store as the outbox (till-core's `FlashStore`): key
//! [`KEY_SETTINGS`] holds the settings as JSON, key [`KEY_CA`] the CA
//! certificate as DER. A board with an empty area runs on
//! [`Settings::development`], built in at compile time and pointing at a
//! local sandbox. Secrets never reach a log: `Debug` and `defmt` print
//! them redacted.

use core::ops::Range;

use embedded_storage_async::nor_flash::NorFlash;
use heapless::{String, Vec};
use till_core::electrum::wire::{Institution, Originator};
use till_core::flash::FlashStore;
use till_core::fmt::Secret;
use till_core::id::Uuid;
use till_core::json::{Decode, Encode};
use till_core::money::Currency;
use till_core::outbox::Store;
use till_core::provision::{self, ProvisionError, ProvisioningKey, Setting};
use till_core::terminal::Apis;
use till_core::time::Duration;

/// A host name: embedded-tls compares at most 64 bytes.
pub const HOST_CAP: usize = till_core::net::HOST_CAP;
/// Static host entries, for networks without DNS (a lab, the TAP test).
pub const MAX_HOSTS: usize = 4;
/// The CA certificate (DER): a P-256 root is ~0.5 KiB, an RSA one ~1.5;
/// the store takes records up to `RECORD_MAX_LEN` (2 KiB).
pub const CA_DER_CAP: usize = till_core::outbox::RECORD_MAX_LEN;
/// The settings as JSON: about 1.2 KiB with every field at its longest
/// realistic value; the store's record limit.
pub const SETTINGS_JSON_CAP: usize = till_core::outbox::RECORD_MAX_LEN;

/// Store key of the settings (JSON).
pub const KEY_SETTINGS: Uuid =
    Uuid::from_bytes([0, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 1]);
/// Store key of the CA certificate (DER).
pub const KEY_CA: Uuid = Uuid::from_bytes([0, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 2]);
/// Store key of the provisioning key and the counter of the last change
/// taken from the console: key (32 bytes) ++ counter (u32 LE).
pub const KEY_PROVISIONING: Uuid =
    Uuid::from_bytes([0, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 3]);

/// Bytes of the provisioning value: the key and the counter.
const PROVISIONING_LEN: usize = provision::KEY_LEN + 4;

/// Where one API lives.
#[derive(Clone, Encode, Decode, PartialEq, Eq)]
pub struct EndpointSettings {
    /// DNS name (connected to, sent as SNI, matched against SANs).
    pub host: String<HOST_CAP>,
    /// TCP port.
    pub port: u16,
    /// Path prefix in front of the API's paths (`""` for none).
    pub base_path: String<{ till_core::net::BASE_PATH_CAP }>,
}

/// Moment Conductor.
#[derive(Clone, Encode, Decode, PartialEq, Eq)]
pub struct ConductorSettings {
    /// Where.
    pub endpoint: EndpointSettings,
    /// The `sk_…` key.
    pub secret_key: String<{ till_core::conductor::flow::SECRET_KEY_CAP }>,
    /// `Retailer-Id`.
    pub retailer_id: String<{ till_core::conductor::flow::RETAILER_ID_CAP }>,
}

/// MTN MoMo Collection.
#[derive(Clone, Encode, Decode, PartialEq, Eq)]
pub struct MomoSettings {
    /// Where.
    pub endpoint: EndpointSettings,
    /// `Ocp-Apim-Subscription-Key`.
    pub subscription_key: String<{ till_core::momo::flow::SUBSCRIPTION_KEY_CAP }>,
    /// The API user (UUID text).
    pub api_user: String<36>,
    /// The API key.
    pub api_key: String<{ till_core::momo::wire::API_KEY_CAP }>,
    /// `X-Target-Environment`.
    pub target_environment: String<{ till_core::momo::wire::TARGET_ENVIRONMENT_CAP }>,
    /// The currency MoMo payments are in (ISO 4217 alpha).
    pub currency: String<3>,
    /// `X-Callback-Url` (an `http://` or `https://` URL), if MoMo can
    /// reach this terminal; without it (behind NAT) the terminal polls.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String<{ till_core::momo::flow::CALLBACK_URL_CAP }>>,
}

/// Electrum Airtime.
#[derive(Clone, Encode, Decode, PartialEq, Eq)]
pub struct ElectrumSettings {
    /// Where.
    pub endpoint: EndpointSettings,
    /// Basic-auth password (the user name is the client id).
    pub password: String<{ till_core::electrum::flow::PASSWORD_CAP }>,
}

/// A static host name.
#[derive(Clone, Encode, Decode, PartialEq, Eq)]
pub struct HostEntry {
    /// The name.
    pub name: String<HOST_CAP>,
    /// Its IPv4 address.
    pub ip: [u8; 4],
}

/// Everything but the CA.
#[derive(Clone, Encode, Decode, PartialEq, Eq)]
pub struct Settings {
    /// Terminal, merchant and institution (Electrum's originator).
    pub originator: Originator,
    /// The institution sending to Electrum; its id is the Basic user.
    pub client: Institution,
    /// The shop's currency for bills and airtime (ISO 4217 alpha).
    pub currency: String<3>,
    /// Conductor, if the shop sells bills.
    pub conductor: Option<ConductorSettings>,
    /// MoMo, if the shop takes MoMo payments.
    pub momo: Option<MomoSettings>,
    /// Electrum, if the shop sells airtime and vouchers.
    pub electrum: Option<ElectrumSettings>,
    /// Names resolved without DNS.
    pub hosts: Vec<HostEntry, MAX_HOSTS>,
    /// The SNTP server (a name or an IPv4 literal) and port.
    pub sntp_host: String<HOST_CAP>,
    /// The SNTP port (123).
    pub sntp_port: u16,
}

impl core::fmt::Debug for Settings {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Settings")
            .field("terminal", &self.originator.terminal_id)
            .field(
                "conductor",
                &self.conductor.as_ref().map(|c| &c.endpoint.host),
            )
            .field("momo", &self.momo.as_ref().map(|c| &c.endpoint.host))
            .field(
                "electrum",
                &self.electrum.as_ref().map(|c| &c.endpoint.host),
            )
            .field("sntp", &self.sntp_host)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Settings {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "Settings {{ terminal: {}, sntp: {} }}",
            self.originator.terminal_id.as_str(),
            self.sntp_host.as_str()
        )
    }
}

/// Why settings could not be used or stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// A field does not fit or does not parse (which).
    Field(&'static str),
    /// The stored settings are not readable JSON.
    Unreadable,
    /// The flash area failed.
    Flash,
    /// A console change refused by provisioning (see
    /// `till_core::provision`).
    Refused(ProvisionError),
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Field(what) => write!(f, "setting {what}: does not fit or does not parse"),
            Self::Unreadable => f.write_str("stored settings unreadable"),
            Self::Flash => f.write_str("configuration flash failed"),
            Self::Refused(why) => write!(f, "{why}"),
        }
    }
}

fn fit<const N: usize>(what: &'static str, value: &str) -> Result<String<N>, ConfigError> {
    String::try_from(value).map_err(|_| ConfigError::Field(what))
}

/// [`Settings::development`], as stored.
const DEVELOPMENT: &str = concat!(
    r#"{"originator":{"institution":{"id":"11111111","name":"Buy Stuff Shop"},"terminalId":"term0001","#,
    r#""merchant":{"merchantType":"4444","merchantId":"merchant1234567","#,
    r#""merchantName":{"name":"Buy Stuff Shop","city":"Cape Town","region":"WC","country":"ZA"}}},"#,
    r#""client":{"id":"22222222","name":"TransAcquire Co"},"currency":"ZAR","#,
    r#""conductor":{"endpoint":{"host":""#,
    env!("TILL_DEV_HOST_OR_DEFAULT"),
    r#"","port":8443,"base_path":""},"secret_key":"sk_test_till_terminal_0003","retailer_id":"retailer_001"},"#,
    r#""momo":{"endpoint":{"host":""#,
    env!("TILL_DEV_HOST_OR_DEFAULT"),
    r#"","port":8443,"base_path":""},"subscription_key":"0b9f4c5d2e7a4c6f8d1e3a5b7c9d0e1f","#,
    r#""api_user":"c72025f5-5cd1-4630-99e4-8ba4722fad56","api_key":"f1db798c98df4bcf83b538175893bbf0","#,
    r#""target_environment":"sandbox","currency":"EUR"},"#,
    r#""electrum":{"endpoint":{"host":""#,
    env!("TILL_DEV_HOST_OR_DEFAULT"),
    r#"","port":8443,"base_path":""},"password":"sandbox"},"#,
    r#""hosts":[],"sntp_host":""#,
    env!("TILL_DEV_HOST_OR_DEFAULT"),
    r#"","sntp_port":123}"#,
);

impl Settings {
    /// The build-time default: every API at `sandbox.till:8443` (a local
    /// till-sandbox), its public test credentials, and the sandbox's test
    /// terminal identity. `TILL_DEV_HOST` at build time changes the host.
    pub fn development() -> Result<Self, ConfigError> {
        // A document read by the settings' own decoder (the one the
        // configuration area uses), not code of its own.
        till_core::json::decode(DEVELOPMENT.as_bytes())
            .map_err(|_| ConfigError::Field("development settings"))
    }

    /// The shop's currency.
    pub fn shop_currency(&self) -> Result<Currency, ConfigError> {
        Currency::from_alpha(&self.currency).map_err(|_| ConfigError::Field("currency"))
    }

    /// MoMo's currency.
    pub fn momo_currency(&self) -> Result<Currency, ConfigError> {
        match &self.momo {
            Some(m) => {
                Currency::from_alpha(&m.currency).map_err(|_| ConfigError::Field("momo currency"))
            }
            None => self.shop_currency(),
        }
    }

    /// The credentials as till-core wants them.
    pub fn apis(&self) -> Result<Apis, ConfigError> {
        let deadline = Duration::from_secs(10);
        Ok(Apis {
            conductor: self
                .conductor
                .as_ref()
                .map(|c| till_core::conductor::flow::Config {
                    secret_key: Secret::new(c.secret_key.clone()),
                    retailer_id: c.retailer_id.clone(),
                    meta_data: None,
                    deadline,
                }),
            momo: match &self.momo {
                Some(m) => Some(till_core::momo::flow::Config {
                    subscription_key: Secret::new(m.subscription_key.clone()),
                    api_user: Uuid::parse(&m.api_user)
                        .map_err(|_| ConfigError::Field("api user"))?,
                    api_key: Secret::new(m.api_key.clone()),
                    target_environment: m.target_environment.clone(),
                    callback_url: match &m.callback_url {
                        Some(url) if !is_http_url(url) => {
                            return Err(ConfigError::Field("momo callback url"))
                        }
                        url => url.clone(),
                    },
                    poll_deadline: Duration::from_secs(20),
                }),
                None => None,
            },
            tokens: Default::default(),
            electrum: match &self.electrum {
                Some(e) => Some(till_core::electrum::flow::Config {
                    username: fit("client id", &self.client.id)?,
                    password: Secret::new(e.password.clone()),
                    originator: self.originator.clone(),
                    client: self.client.clone(),
                    deadline,
                }),
                None => None,
            },
        })
    }
}

/// `http://…` or `https://…` with a host (MoMo answers
/// `INVALID_CALLBACK_URL_HOST` to anything else).
fn is_http_url(url: &str) -> bool {
    let b = url.as_bytes();
    let rest = match b.get(..8) {
        Some(p) if p.eq_ignore_ascii_case(b"https://") => b.get(8..),
        _ => match b.get(..7) {
            Some(p) if p.eq_ignore_ascii_case(b"http://") => b.get(7..),
            _ => None,
        },
    };
    rest.and_then(|r| r.first())
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'[')
}

/// The configuration area (see the module docs).
pub struct ConfigArea<F: NorFlash> {
    store: FlashStore<F>,
    buf: [u8; SETTINGS_JSON_CAP],
}

impl<F: NorFlash> ConfigArea<F> {
    /// The area `range` of `flash`.
    pub async fn open(flash: F, range: Range<u32>) -> Result<Self, ConfigError> {
        Ok(Self {
            store: FlashStore::open(flash, range)
                .await
                .map_err(|_| ConfigError::Flash)?,
            buf: [0; SETTINGS_JSON_CAP],
        })
    }

    /// Give the flash back (to hand it to [`crate::run`] after
    /// provisioning).
    pub fn into_flash(self) -> F {
        self.store.into_inner()
    }

    /// The stored settings, or `None` if the area holds none.
    pub async fn settings(&mut self) -> Result<Option<Settings>, ConfigError> {
        let len = self
            .store
            .get(KEY_SETTINGS, &mut self.buf)
            .await
            .map_err(|_| ConfigError::Flash)?;
        match len {
            None => Ok(None),
            Some(len) => till_core::json::decode(self.buf.get(..len).unwrap_or_default())
                .map(Some)
                .map_err(|_| ConfigError::Unreadable),
        }
    }

    /// Store `settings`.
    pub async fn store_settings(&mut self, settings: &Settings) -> Result<(), ConfigError> {
        let len = till_core::json::encode(settings, &mut self.buf)
            .map_err(|_| ConfigError::Field("settings too large"))?;
        let value = self.buf.get(..len).ok_or(ConfigError::Field("settings"))?;
        self.store
            .put(KEY_SETTINGS, value)
            .await
            .map_err(|_| ConfigError::Flash)
    }

    /// The stored CA certificate (DER) into `out`; `false` if none.
    pub async fn ca(&mut self, out: &mut Vec<u8, CA_DER_CAP>) -> Result<bool, ConfigError> {
        let len = self
            .store
            .get(KEY_CA, &mut self.buf)
            .await
            .map_err(|_| ConfigError::Flash)?;
        match len {
            None => Ok(false),
            Some(len) => {
                out.clear();
                out.extend_from_slice(self.buf.get(..len).unwrap_or_default())
                    .map_err(|_| ConfigError::Field("ca too large"))?;
                Ok(true)
            }
        }
    }

    /// Store the CA certificate (DER).
    pub async fn store_ca(&mut self, der: &[u8]) -> Result<(), ConfigError> {
        if der.len() > CA_DER_CAP {
            return Err(ConfigError::Field("ca too large"));
        }
        self.store
            .put(KEY_CA, der)
            .await
            .map_err(|_| ConfigError::Flash)
    }
}

impl<F: NorFlash> ConfigArea<F> {
    /// The provisioning key and the counter of the last change taken, if
    /// the factory wrote a key.
    pub async fn provisioning(&mut self) -> Result<Option<(ProvisioningKey, u32)>, ConfigError> {
        let len = self
            .store
            .get(KEY_PROVISIONING, &mut self.buf)
            .await
            .map_err(|_| ConfigError::Flash)?;
        let Some(len) = len else {
            return Ok(None);
        };
        let value = self.buf.get(..len).ok_or(ConfigError::Unreadable)?;
        let (key, counter) = value
            .split_first_chunk::<{ provision::KEY_LEN }>()
            .ok_or(ConfigError::Unreadable)?;
        let counter: [u8; 4] = counter.try_into().map_err(|_| ConfigError::Unreadable)?;
        Ok(Some((
            ProvisioningKey::new(*key),
            u32::from_le_bytes(counter),
        )))
    }

    /// Store the provisioning key (at the factory) and the counter of the
    /// last change taken.
    pub async fn store_provisioning(
        &mut self,
        key: &ProvisioningKey,
        counter: u32,
    ) -> Result<(), ConfigError> {
        let mut value = [0u8; PROVISIONING_LEN];
        let (head, tail) = value.split_at_mut(provision::KEY_LEN);
        head.copy_from_slice(key.expose());
        tail.copy_from_slice(&counter.to_le_bytes());
        self.store
            .put(KEY_PROVISIONING, &value)
            .await
            .map_err(|_| ConfigError::Flash)
    }

    /// A console change of the CA: taken only with a tag of the stored
    /// provisioning key and a counter above the last change's. The new
    /// counter is stored before the CA, so a power cut between the two
    /// leaves the old CA and a used counter (make the change again with a
    /// new one), never the new CA under a counter that can be replayed.
    pub async fn change_ca(
        &mut self,
        der: &[u8],
        counter: u32,
        tag: &str,
    ) -> Result<(), ConfigError> {
        let stored = self.provisioning().await?;
        let last = stored.as_ref().map_or(0, |(_, last)| *last);
        let key = stored.as_ref().map(|(key, _)| key);
        let counter = provision::authorize(key, last, Setting::Ca, counter, der, tag)
            .map_err(ConfigError::Refused)?;
        if let Some(key) = key {
            self.store_provisioning(key, counter).await?;
        }
        self.store_ca(der).await
    }
}

/// Decode standard base64 (RFC 4648 §4, padded: the text of a PEM body)
/// into `out`; `None` if it is not canonical base64 or does not fit.
pub fn base64_decode<const N: usize>(text: &str, out: &mut Vec<u8, N>) -> Option<()> {
    fn sextet(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    out.clear();
    let text = text.trim_ascii().as_bytes();
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let quads = text.len() / 4;
    for (i, quad) in text.chunks_exact(4).enumerate() {
        let last = i + 1 == quads;
        // Padding only at the very end: `xx==` or `xxx=`.
        let pad = match quad {
            [_, _, b'=', b'='] if last => 2,
            [_, _, _, b'='] if last => 1,
            _ => 0,
        };
        let mut bits = 0u32;
        for &c in quad.get(..4 - pad)? {
            bits = bits << 6 | sextet(c)?;
        }
        bits <<= 6 * pad as u32;
        let bytes = bits.to_be_bytes();
        let data = bytes.get(1..4 - pad)?;
        // Canonical: the bits the padding drops are zero.
        if bytes
            .get(4 - pad..)
            .is_some_and(|rest| rest.iter().any(|&b| b != 0))
        {
            return None;
        }
        out.extend_from_slice(data).ok()?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn the_momo_callback_url_reaches_the_payment_head_or_is_named() {
        let mut s = Settings::development().unwrap();
        assert_eq!(s.apis().unwrap().momo.unwrap().callback_url, None);
        let set = |s: &mut Settings, url: &str| {
            s.momo.as_mut().unwrap().callback_url = Some(String::try_from(url).unwrap());
        };
        for url in ["https://till.example/momo", "HTTP://10.0.0.7:8080/cb"] {
            set(&mut s, url);
            let apis = s.apis().unwrap();
            assert_eq!(apis.momo.unwrap().callback_url.as_deref(), Some(url));
        }
        for url in [
            "ftp://till.example/momo",
            "till.example/momo",
            "https://",
            "http:///x",
        ] {
            set(&mut s, url);
            assert_eq!(
                s.apis().err(),
                Some(ConfigError::Field("momo callback url")),
                "{url}"
            );
        }
        // Stored and read back like the rest of the settings.
        set(&mut s, "https://till.example/momo");
        let mut buf = [0u8; SETTINGS_JSON_CAP];
        let n = till_core::json::encode(&s, &mut buf).unwrap();
        let back: Settings = till_core::json::decode(&buf[..n]).unwrap();
        assert_eq!(
            back.momo.unwrap().callback_url.as_deref(),
            Some("https://till.example/momo")
        );
    }

    #[test]
    fn development_settings_read_and_point_at_the_sandbox() {
        let s = Settings::development().unwrap();
        let host = env!("TILL_DEV_HOST_OR_DEFAULT");
        for e in [
            &s.conductor.as_ref().unwrap().endpoint,
            &s.momo.as_ref().unwrap().endpoint,
            &s.electrum.as_ref().unwrap().endpoint,
        ] {
            assert_eq!(
                (e.host.as_str(), e.port, e.base_path.as_str()),
                (host, 8443, "")
            );
        }
        assert_eq!(s.sntp_host.as_str(), host);
        assert_eq!(s.sntp_port, 123);
        assert_eq!(s.shop_currency().unwrap().alpha(), "ZAR");
        assert_eq!(s.momo_currency().unwrap().alpha(), "EUR");
        assert_eq!(s.originator.terminal_id.as_str(), "term0001");
        assert_eq!(s.client.id.as_str(), "22222222");
        let apis = s.apis().unwrap();
        assert!(apis.conductor.is_some() && apis.momo.is_some() && apis.electrum.is_some());
        assert!(s.hosts.is_empty());
    }

    fn ours(text: &str) -> Option<std::vec::Vec<u8>> {
        let mut out: Vec<u8, 64> = Vec::new();
        base64_decode(text, &mut out).map(|()| out.to_vec())
    }

    #[test]
    fn base64_decodes_as_rfc4648_standard() {
        let reference = base64::engine::general_purpose::STANDARD;
        // Every length up to 40 bytes, every byte value.
        for len in 0..40usize {
            let data: std::vec::Vec<u8> = (0..len).map(|i| (i * 37 + len * 11) as u8).collect();
            let text = reference.encode(&data);
            assert_eq!(ours(&text), Some(data.clone()), "{text}");
            assert_eq!(
                ours(&std::format!("  {text}\n")),
                Some(data),
                "surrounding space"
            );
        }
    }

    #[test]
    fn base64_refuses_what_the_reference_refuses() {
        let reference = base64::engine::general_purpose::STANDARD;
        for bad in [
            "A",
            "AB",
            "ABC",
            "A===",
            "AB=C",
            "AB==AAAA",
            "QQ=",
            "QR==",
            "QUJ=",
            "QU-D",
            "QU_D",
            "QUJD\nQUJD",
            "====",
        ] {
            assert_eq!(ours(bad), None, "{bad}");
            assert!(reference.decode(bad).is_err(), "the reference takes {bad}");
        }
        // Too long for the buffer.
        assert_eq!(ours(&"QUJD".repeat(22)), None);
    }
}
