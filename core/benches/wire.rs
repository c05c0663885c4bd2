//! Decode and encode the largest message of each API with till-core
//! (its pull reader and writer into heapless structs), next to serde_json
//! decoding the same bytes into equivalent `String`/`Vec` structs.
//! till-core's `decode` is measured in place (`json::decode_in` over a kept
//! value, as the flows read answers) and by value (`json::decode`, which
//! also moves the fixed-capacity struct out: 21 KB for the catalogue).
//!
//! Run: `cargo bench -p till-core --bench wire`. The samples are the ones
//! the sample tests use (`core/tests/data/`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde::{Deserialize, Serialize};

const CONDUCTOR_CATALOG: &[u8] =
    include_bytes!("../tests/data/conductor/get_catalogs_response.json");
const ELECTRUM_PURCHASE: &[u8] =
    include_bytes!("../tests/data/electrum/test-pack-samples/PurchaseResponse.json");
/// MoMo's largest message is a CreatePayments body with every field set.
const MOMO_CREATE_PAYMENTS: &[u8] = br#"{
  "externalTransactionId": "till-7d1c2f0e-5b3a-4f7e-9c1d-2a4b6c8d0e1f",
  "money": { "amount": "1250.00", "currency": "EUR" },
  "customerReference": "46733123450",
  "serviceProviderUserName": "Electricity Inc.",
  "couponId": "coupon-2026-11",
  "productId": "prepaid-electricity",
  "productOfferingId": "offering-standard",
  "receiverMessage": "Prepaid electricity token for meter 0412 3456 7890",
  "senderNote": "Paid at till 00000003, Main Road store",
  "maxNumberOfRetries": 3,
  "includeSenderCharges": false
}"#;

/// serde_json mirrors: the same fields as till-core's types, in std types.
mod mirror {
    use super::*;

    #[derive(Serialize, Deserialize)]
    pub struct Money {
        pub value: String,
        pub currency: String,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Status {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub operation_id: Option<String>,
        pub code: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<String>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Category {
        pub code: String,
        pub parent_code: Option<String>,
        pub name: Option<String>,
        pub description: Option<String>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct AmountRules {
        pub min: Option<Money>,
        pub max: Option<Money>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct QuantityRules {
        pub min: Option<u32>,
        pub max: Option<u32>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct CatalogProduct {
        pub code: String,
        pub name: Option<String>,
        pub description: Option<String>,
        pub amount: Option<Money>,
        pub amount_rules: Option<AmountRules>,
        pub quantity_rules: Option<QuantityRules>,
        pub biller_code: Option<String>,
        pub category_code: Option<String>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Catalog {
        pub categories: Option<Vec<Category>>,
        pub products: Option<Vec<CatalogProduct>>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct CatalogResponse {
        pub status: Status,
        pub data: Option<Catalog>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct MomoMoney {
        pub amount: String,
        pub currency: String,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct CreatePayments {
        pub external_transaction_id: Option<String>,
        pub money: MomoMoney,
        pub customer_reference: String,
        pub service_provider_user_name: String,
        pub coupon_id: Option<String>,
        pub product_id: Option<String>,
        pub product_offering_id: Option<String>,
        pub receiver_message: Option<String>,
        pub sender_note: Option<String>,
        pub max_number_of_retries: Option<u32>,
        pub include_sender_charges: Option<bool>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Institution {
        pub id: String,
        pub name: Option<String>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct MerchantName {
        pub name: String,
        pub city: Option<String>,
        pub region: Option<String>,
        pub country: Option<String>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Merchant {
        pub merchant_type: String,
        pub merchant_id: String,
        pub merchant_name: MerchantName,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Originator {
        pub institution: Institution,
        pub terminal_id: String,
        pub merchant: Merchant,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ThirdPartyIdentifier {
        pub institution_id: String,
        pub transaction_identifier: String,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SlipLine {
        pub text: String,
        pub font_width_scale_factor: Option<f64>,
        pub font_height_scale_factor: Option<f64>,
        pub line: Option<bool>,
        pub cut: Option<bool>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SlipData {
        pub message_lines: Vec<SlipLine>,
        pub slip_width: Option<u32>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct LedgerAmount {
        pub amount: i64,
        pub currency: String,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Amounts {
        pub request_amount: Option<LedgerAmount>,
        pub approved_amount: Option<LedgerAmount>,
        pub fee_amount: Option<LedgerAmount>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Product {
        pub product_id: String,
        pub name: Option<String>,
        #[serde(rename = "type")]
        pub kind: Option<String>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Msisdn {
        pub msisdn: String,
        pub country: Option<String>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Voucher {
        pub pin: Option<String>,
        pub expiry_date: Option<String>,
        pub serial_number: String,
        pub batch_number: Option<String>,
        pub redeem_instructions: Option<Vec<String>>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct PurchaseResponse {
        pub id: String,
        pub time: String,
        pub originator: Originator,
        pub client: Institution,
        pub settlement_entity: Option<Institution>,
        pub receiver: Option<Institution>,
        pub third_party_identifiers: Vec<ThirdPartyIdentifier>,
        pub slip_data: Option<SlipData>,
        pub amounts: Option<Amounts>,
        pub product: Option<Product>,
        pub msisdn: Option<Msisdn>,
        pub voucher: Option<Voucher>,
    }
}

fn bench_pair<Core, Std>(c: &mut Criterion, name: &str, body: &[u8])
where
    Core: till_core::json::Decode + till_core::json::Encode,
    Std: for<'a> Deserialize<'a> + Serialize,
{
    let mut group = c.benchmark_group(name);
    // In place, as the flows read answers: over a value that is kept.
    let mut place: Core = till_core::json::decode(body).expect("decodes");
    group.bench_function("decode/till-core", |b| {
        b.iter(|| till_core::json::decode_in(black_box(body), &mut place).expect("decodes"))
    });
    // By value: the same, plus moving a fixed-capacity struct out.
    group.bench_function("decode-by-value/till-core", |b| {
        b.iter(|| till_core::json::decode::<Core>(black_box(body)).expect("decodes"))
    });
    group.bench_function("decode/serde_json", |b| {
        b.iter(|| serde_json::from_slice::<Std>(black_box(body)).expect("decodes"))
    });
    let core_value: Core = till_core::json::decode(body).expect("decodes");
    let std_value: Std = serde_json::from_slice(body).expect("decodes");
    let mut buf = vec![0u8; till_core::json::MAX_BODY_LEN];
    group.bench_function("encode/till-core", |b| {
        b.iter(|| till_core::json::encode(black_box(&core_value), &mut buf).expect("encodes"))
    });
    let mut out = Vec::with_capacity(body.len());
    group.bench_function("encode/serde_json", |b| {
        b.iter(|| {
            out.clear();
            serde_json::to_writer(&mut out, black_box(&std_value)).expect("encodes");
            out.len()
        })
    });
    group.finish();
}

fn wire(c: &mut Criterion) {
    bench_pair::<till_core::conductor::wire::CatalogResponse, mirror::CatalogResponse>(
        c,
        "conductor_catalog_1475B",
        CONDUCTOR_CATALOG,
    );
    bench_pair::<till_core::momo::wire::CreatePaymentsRequest, mirror::CreatePayments>(
        c,
        "momo_create_payments",
        MOMO_CREATE_PAYMENTS,
    );
    bench_pair::<till_core::electrum::wire::PurchaseResponse, mirror::PurchaseResponse>(
        c,
        "electrum_purchase_response_2250B",
        ELECTRUM_PURCHASE,
    );
}

criterion_group!(benches, wire);
criterion_main!(benches);
