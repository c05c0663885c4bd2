//! Shared helpers: start a sandbox on an ephemeral 127.0.0.1 port and talk to
//! it over real TLS with reqwest trusting the generated CA.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::{json, Value};
use till_sandbox::{Sandbox, SandboxConfig};

pub const SK: &str = "sk_test_till_sandbox_tests";
pub const RETAILER: &str = "retailer_001";

pub async fn start() -> Sandbox {
    start_with(config()).await
}

/// The tests' configuration: a short MoMo delay, and [`SK`] as the one
/// Conductor key accepted.
pub fn config() -> SandboxConfig {
    SandboxConfig {
        momo_delay: Duration::from_millis(200),
        conductor_keys: vec![SK.to_owned()],
        ..SandboxConfig::default()
    }
}

/// A request to an admin endpoint, with the sandbox's admin token.
pub fn admin(
    c: &reqwest::Client,
    sb: &Sandbox,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    c.request(method, url(sb, path))
        .bearer_auth(sb.admin_token())
}

pub async fn start_with(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).await.expect("sandbox starts")
}

/// A client that trusts only the sandbox CA; no connection reuse, so each
/// request gets a fresh connection (faults drop connections).
pub fn client(sandbox: &Sandbox) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(sandbox.ca_pem().as_bytes()).expect("CA PEM");
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .use_rustls_tls()
        .pool_max_idle_per_host(0)
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

pub fn url(sandbox: &Sandbox, path: &str) -> String {
    format!("{}{path}", sandbox.base_url())
}

/// Status, headers and JSON body (Null when empty).
pub async fn parts(resp: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    (status, headers, body)
}

// --- Conductor ------------------------------------------------------------

pub async fn conductor_post(
    c: &reqwest::Client,
    sb: &Sandbox,
    path: &str,
    body: Value,
    idem: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = c
        .post(url(sb, path))
        .bearer_auth(SK)
        .header("Retailer-Id", RETAILER)
        .json(&body);
    if let Some(k) = idem {
        req = req.header("Idempotency-Key", k);
    }
    parts(req.send().await.expect("request")).await
}

pub async fn conductor_get(c: &reqwest::Client, sb: &Sandbox, path: &str) -> (u16, Value) {
    let (s, _, b) = parts(
        c.get(url(sb, path))
            .bearer_auth(SK)
            .send()
            .await
            .expect("request"),
    )
    .await;
    (s, b)
}

pub fn code(body: &Value) -> &str {
    body["status"]["code"].as_str().unwrap_or("")
}

pub fn partner_create_body(ext: &str, complete: bool) -> Value {
    json!({
        "external_reference": ext,
        "biller_code": "za_dstv",
        "identifier": "8604275423086",
        "payment_method": "CASH",
        "reference": "SUBS",
        "amount": { "value": "200.00", "currency": "ZAR" },
        "complete": complete,
    })
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

// --- Electrum ---------------------------------------------------------------

pub const CLIENT_ID: &str = "22222222";

pub fn purchase_request(id: &str, product: &str, msisdn: Option<&str>) -> Value {
    let mut v = json!({
        "id": id,
        "time": "2026-11-23T10:00:00.000Z",
        "originator": {
            "institution": { "id": "11111111", "name": "Buy Stuff Shop" },
            "terminalId": "term0001",
            "merchant": {
                "merchantType": "4444",
                "merchantId": "merchant1234567",
                "merchantName": { "name": "Buy Stuff Shop", "city": "Cape Town", "region": "WC", "country": "ZA" }
            }
        },
        "client": { "id": CLIENT_ID, "name": "TransAcquire Co" },
        "thirdPartyIdentifiers": [
            { "institutionId": "11111111", "transactionIdentifier": "ORIG0001" }
        ],
        "product": { "productId": product },
    });
    if let Some(m) = msisdn {
        v["recipientMsisdn"] = json!({ "msisdn": m, "country": "ZA" });
    }
    v
}

pub fn advice(id: &str, request_id: &str, reversal: bool) -> Value {
    let mut v = json!({
        "id": id,
        "requestId": request_id,
        "time": "2026-11-23T10:00:05.000Z",
        "thirdPartyIdentifiers": [
            { "institutionId": "11111111", "transactionIdentifier": "ORIG0001" }
        ],
    });
    if reversal {
        v["reversalReason"] = json!("TIMEOUT");
    }
    v
}

/// A `VoucherConfirmation`: an advice with the voucher confirmed (its
/// serial number, never its PIN).
pub fn voucher_confirmation(id: &str, request_id: &str, serial_number: &str) -> Value {
    let mut v = advice(id, request_id, false);
    v["voucher"] = json!({ "serialNumber": serial_number });
    v
}

pub async fn electrum_post(
    c: &reqwest::Client,
    sb: &Sandbox,
    path: &str,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = c
        .post(url(sb, &format!("/airtime/v5{path}")))
        .basic_auth(CLIENT_ID, Some(till_sandbox::ELECTRUM_PASSWORD))
        .json(body)
        .send()
        .await
        .expect("request");
    parts(resp).await
}

pub async fn electrum_get(c: &reqwest::Client, sb: &Sandbox, path_and_query: &str) -> (u16, Value) {
    let resp = c
        .get(url(sb, &format!("/airtime/v5{path_and_query}")))
        .basic_auth(CLIENT_ID, Some(till_sandbox::ELECTRUM_PASSWORD))
        .send()
        .await
        .expect("request");
    let (s, _, b) = parts(resp).await;
    (s, b)
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

// --- MoMo -------------------------------------------------------------------

pub async fn momo_token(c: &reqwest::Client, sb: &Sandbox, user: &str, key: &str) -> (u16, Value) {
    let resp = c
        .post(url(sb, "/collection/token/"))
        .basic_auth(user, Some(key))
        .header("Ocp-Apim-Subscription-Key", till_sandbox::SUBSCRIPTION_KEY)
        .send()
        .await
        .expect("request");
    let (s, _, b) = parts(resp).await;
    (s, b)
}

pub async fn preset_token(c: &reqwest::Client, sb: &Sandbox) -> String {
    let (s, b) = momo_token(
        c,
        sb,
        till_sandbox::PRESET_API_USER,
        till_sandbox::PRESET_API_KEY,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b["access_token"].as_str().expect("token").to_owned()
}

pub fn payment_body(msisdn: &str, amount: &str, currency: &str) -> Value {
    json!({
        "externalTransactionId": "ext-123",
        "money": { "amount": amount, "currency": currency },
        "customerReference": msisdn,
        "serviceProviderUserName": "Electricity Inc.",
    })
}

pub async fn create_payment(
    c: &reqwest::Client,
    sb: &Sandbox,
    token: &str,
    reference: &str,
    body: &Value,
) -> (u16, Value) {
    let resp = c
        .post(url(sb, "/collection/v2_0/payment"))
        .bearer_auth(token)
        .header("X-Reference-Id", reference)
        .header("X-Target-Environment", "sandbox")
        .header("Ocp-Apim-Subscription-Key", till_sandbox::SUBSCRIPTION_KEY)
        .json(body)
        .send()
        .await
        .expect("request");
    let (s, _, b) = parts(resp).await;
    (s, b)
}

pub async fn payment_status(
    c: &reqwest::Client,
    sb: &Sandbox,
    token: &str,
    reference: &str,
) -> (u16, Value) {
    let resp = c
        .get(url(sb, &format!("/collection/v2_0/payment/{reference}")))
        .bearer_auth(token)
        .header("X-Target-Environment", "sandbox")
        .header("Ocp-Apim-Subscription-Key", till_sandbox::SUBSCRIPTION_KEY)
        .send()
        .await
        .expect("request");
    let (s, _, b) = parts(resp).await;
    (s, b)
}
