//! Configurations shared by the flow scenarios.

use heapless::String;
use till_core::conductor::flow::Config as ConductorConfig;
use till_core::conductor::wire::{MetaData, PosData};
use till_core::fmt::Secret;
use till_core::id::Uuid;
use till_core::momo::flow::Config as MomoConfig;
use till_core::time::Duration;

/// A MoMo token answer (3600 s).
pub const MOMO_TOKEN: &str = r#"{"access_token":"eyJ0eXAiOiJKV1QiLCJhbGciOiJSMjU2In0.sandbox","token_type":"access_token","expires_in":3600}"#;

pub fn momo_config() -> MomoConfig {
    MomoConfig {
        subscription_key: Secret::new(
            String::try_from("5f1b4e8d2c7a4b3e9f0d1c2b3a4e5f6a").unwrap(),
        ),
        api_user: Uuid::parse("c72025f5-5cd1-4630-99e4-8ba4722fad56").unwrap(),
        api_key: Secret::new(String::try_from("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6").unwrap()),
        target_environment: String::try_from("sandbox").unwrap(),
        callback_url: None,
        poll_deadline: Duration::from_secs(60),
    }
}

pub fn conductor_config() -> ConductorConfig {
    ConductorConfig {
        secret_key: Secret::new(String::try_from("sk_test_RhKeWM4c1mB32CjwIdpfuqDJ").unwrap()),
        retailer_id: String::try_from("retailer_001").unwrap(),
        meta_data: Some(MetaData {
            pos_data: Some(PosData {
                store_id: Some(String::try_from("store_yJhb8jBgyh").unwrap()),
                terminal_id: Some(String::try_from("terminal_00000003").unwrap()),
            }),
        }),
        deadline: Duration::from_secs(30),
    }
}

/// Electrum configuration: the test pack's originator and client, the
/// Basic user equal to `client.id` as the publisher's test server wants.
pub fn electrum_config() -> till_core::electrum::flow::Config {
    let sample: till_core::electrum::wire::PurchaseRequest = till_core::json::decode(
        &crate::support::data("electrum/test-pack-samples/PurchaseRequest.json"),
    )
    .unwrap();
    till_core::electrum::flow::Config {
        username: sample.client.id.clone(),
        password: Secret::new(String::try_from("s3cret-pass").unwrap()),
        originator: sample.originator,
        client: sample.client,
        deadline: Duration::from_secs(60),
    }
}
