//! Writes the seed corpora of the fuzz targets into `fuzz/corpus/<target>/`
//! (the `json` target's seeds are the API samples in `core/tests/data`,
//! read in place). Run again, the same files but for the certificates'
//! keys and signatures, which are new each time.
//!
//!     cargo run -p till-fuzz --example seeds

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, KeyPair, KeyUsagePurpose, NameConstraints,
};
use till_core::conductor::wire::{CompleteTransactionRequest, CreateTransactionRequest};
use till_core::electrum::wire::{BasicReversal, TenderAdvice, VoucherConfirmation};
use till_core::flash::FlashStore;
use till_core::id::{ExternalReference, Uuid};
use till_core::json::{decode, encode};
use till_core::momo::wire::CreatePaymentsRequest;
use till_core::outbox::{Advice, Attention, ConductorTarget, Record, Store, RECORD_MAX_LEN};
use till_core::time::UnixTime;
use till_fuzz::{block_on, image_pages, sntp_server, Counter, RamFlash};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let samples = root.join("../core/tests/data");
    let records = records(&samples);
    let corpus = root.join("corpus");
    write(
        &corpus.join("record"),
        records.iter().map(encoded).collect(),
    );
    write(&corpus.join("flash_image"), images(&records));
    write(&corpus.join("flash_value"), values(&records));
    write(&corpus.join("sntp"), sntp());
    write(&corpus.join("guard"), guard());
    write(&corpus.join("http"), http());
    write(&corpus.join("cert"), certs());
}

/// Replace `dir`'s files by `seeds`, named by their index.
fn write(dir: &PathBuf, seeds: Vec<Vec<u8>>) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("corpus dir");
    for (i, seed) in seeds.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i:02}")), seed).expect("seed");
    }
    println!("{}: {} seeds", dir.display(), seeds.len());
}

fn sample<T: till_core::json::Decode>(samples: &Path, path: &str) -> T {
    let bytes = std::fs::read(samples.join(path)).expect("sample");
    decode(&bytes).unwrap_or_else(|e| panic!("{path}: {e:?}"))
}

fn id(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

/// One record of every kind of advice, from the API samples.
fn records(samples: &Path) -> Vec<Record> {
    let complete: CompleteTransactionRequest =
        sample(samples, "conductor/complete_transaction_request.json");
    let create: CreateTransactionRequest =
        sample(samples, "conductor/create_transaction_request.json");
    let partner = ExternalReference::parse("till-0123456789abcdef").expect("reference");
    let advices = [
        Advice::ConductorComplete {
            target: ConductorTarget::Transaction("txn_01HZY4G0".try_into().expect("id")),
            idempotency_key: id(3),
            payment_method: complete.payment_method,
        },
        Advice::ConductorCancel {
            target: ConductorTarget::Partner(partner.clone()),
            idempotency_key: id(4),
            reason: Some("customer \"left\" \u{e9}".try_into().expect("reason")),
        },
        Advice::ConductorCreate {
            idempotency_key: id(5),
            request: create,
        },
        Advice::ConductorPartnerStatus {
            external_reference: partner,
        },
        Advice::ElectrumPurchaseReversal(sample::<BasicReversal>(
            samples,
            "electrum/interface-samples/PurchaseReversal.json",
        )),
        Advice::ElectrumPurchaseConfirmation(sample::<TenderAdvice>(
            samples,
            "electrum/interface-samples/PurchaseConfirmation.json",
        )),
        Advice::ElectrumPurchaseStatus {
            original_id: id(6),
            tenders: None,
        },
        Advice::ElectrumVoucherConfirmation(sample::<VoucherConfirmation>(
            samples,
            "electrum/interface-samples/VoucherConfirmation.json",
        )),
        Advice::ElectrumVoucherReversal(sample::<BasicReversal>(
            samples,
            "electrum/test-pack-samples/VoucherReversal.json",
        )),
        Advice::MomoStatus {
            reference_id: id(7),
            create: Some(momo_create(samples)),
        },
        Advice::MomoStatus {
            reference_id: id(8),
            create: None,
        },
    ];
    advices
        .into_iter()
        .enumerate()
        .map(|(i, advice)| Record {
            key: id(0x10 + i as u8),
            sale: id(0x40 + i as u8),
            seq: i as u32,
            created: UnixTime::from_secs(1_796_083_200 + i as u64).to_timestamp(),
            advice,
            attention: (i % 4 == 3).then_some(Attention { status: 409 }),
        })
        .collect()
}

/// The document's CreatePayments template with a real amount.
fn momo_create(samples: &Path) -> CreatePaymentsRequest {
    let template =
        std::fs::read_to_string(samples.join("momo/create_payments_request_template.json"))
            .expect("template");
    let body = template
        .replace("\"amount\": \"string\"", "\"amount\": \"2500\"")
        .replace("\"currency\": \"string\"", "\"currency\": \"EUR\"");
    decode(body.as_bytes()).expect("CreatePayments")
}

fn encoded(record: &Record) -> Vec<u8> {
    let mut buf = vec![0u8; RECORD_MAX_LEN];
    let n = encode(record, &mut buf).expect("encode record");
    buf.truncate(n);
    buf
}

/// Flash images of a store in use: records written, some removed and
/// rewritten, so pages fill and garbage collection has run.
fn images(records: &[Record]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut flash = RamFlash::new(image_pages());
    out.push(flash.image().to_vec());
    block_on(async {
        let range = flash.range();
        let mut store = FlashStore::open(&mut flash, range).await.expect("open");
        for (round, record) in records.iter().enumerate() {
            store.put(record.key, &encoded(record)).await.expect("put");
            if round % 3 == 2 {
                store.remove(records[round - 1].key).await.expect("remove");
            }
        }
    });
    out.push(flash.image().to_vec());
    block_on(async {
        let range = flash.range();
        let mut store = FlashStore::open(&mut flash, range).await.expect("reopen");
        for record in records.iter().cycle().take(3 * records.len()) {
            store.put(record.key, &encoded(record)).await.expect("put");
            store.remove(record.key).await.expect("remove");
        }
        store
            .put(records[0].key, &encoded(&records[0]))
            .await
            .expect("put");
    });
    out.push(flash.image().to_vec());
    out
}

/// Slot values (free, used) and a commit value, in the layout of
/// `till_core::flash`.
fn values(records: &[Record]) -> Vec<Vec<u8>> {
    let free = [&[1u8][..], &7u32.to_le_bytes()].concat();
    let used = [
        &[1u8][..],
        &8u32.to_le_bytes(),
        records[0].key.as_bytes(),
        &encoded(&records[0]),
    ]
    .concat();
    let mut commit = vec![1u8];
    for slot in 0..till_core::outbox::STORE_CAPACITY as u32 {
        commit.extend_from_slice(&(slot * 3).to_le_bytes());
    }
    vec![free, used, commit]
}

/// Replies to the target's query (nonce 1..=8): good, and one of each
/// refusal.
fn sntp() -> Vec<Vec<u8>> {
    let (_, request) = till_core::sntp::Query::new(sntp_server(), &mut Counter(0));
    let reply = |first: u8, stratum: u8, seconds: u32| {
        let mut p = vec![0u8; 48];
        p[0] = first;
        p[1] = stratum;
        p[24..32].copy_from_slice(&request[40..48]);
        // 2026-12-06 in NTP seconds (1900 epoch).
        p[32..36].copy_from_slice(&seconds.to_be_bytes());
        p[40..44].copy_from_slice(&seconds.to_be_bytes());
        p[44..48].copy_from_slice(&0x8000_0000u32.to_be_bytes());
        p
    };
    let now = 1_796_601_600u32.wrapping_add(2_208_988_800);
    vec![
        reply(0x24, 2, now), // LI 0, v4, server
        reply(0x1C, 1, now), // v3
        reply(0xE4, 2, now), // unsynchronised
        reply(0x23, 2, now), // client mode
        reply(0x24, 0, now), // kiss-o'-death stratum
        reply(0x24, 2, 100), // before the build
        reply(0x24, 2, 0),   // no time
        reply(0x24, 2, now)[..47].to_vec(),
    ]
}

/// HTTP/1.1 answers, prefixed by the piece length.
fn http() -> Vec<Vec<u8>> {
    HTTP_SEEDS
        .iter()
        .map(|(piece, answer)| [&[*piece][..], answer].concat())
        .collect()
}

/// The `http` target's seeds: each framing, and each refusal.
const HTTP_SEEDS: &[(u8, &[u8])] = &[
    (3, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"),
    (1, b"HTTP/1.1 201 Created\r\nLocation: /p/1\r\nTransfer-Encoding: chunked\r\n\r\n2;x=1\r\n{}\r\n0\r\nT: 1\r\n\r\n"),
    (7, b"HTTP/1.0 200 OK\r\n\r\n{\"a\":1}"),
    (5, b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"),
    (2, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}{}{"),
    (4, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n"),
];

/// TLS record streams, prefixed by the piece length.
fn guard() -> Vec<Vec<u8>> {
    let record = |kind: u8, len: usize| {
        let mut out = vec![kind, 3, 3];
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend(std::iter::repeat_n(0xAB, len));
        out
    };
    let handshake = [
        record(22, 90),
        record(20, 1),
        record(23, 17),
        record(23, 300),
    ]
    .concat();
    vec![
        [&[7u8][..], &handshake].concat(),
        [&[1u8][..], &handshake, &record(22, 6)].concat(),
        [&[5u8][..], &record(22, 90), &record(23, 16)].concat(),
        [&[255u8][..], &record(21, 2)].concat(),
    ]
}

/// Leaf ++ anchor pairs: a good chain, and chains with each thing the
/// verifier refuses.
fn certs() -> Vec<Vec<u8>> {
    let ca = |constraints: Option<NameConstraints>, path_len: Option<u8>| {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name
            .push(DnType::CommonName, "till fuzz CA");
        p.is_ca = IsCa::Ca(path_len.map_or(
            BasicConstraints::Unconstrained,
            BasicConstraints::Constrained,
        ));
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.name_constraints = constraints;
        CertifiedIssuer::self_signed(p, KeyPair::generate().expect("key")).expect("ca")
    };
    let leaf = |names: Vec<String>,
                usage: ExtendedKeyUsagePurpose,
                issuer: &CertifiedIssuer<'_, KeyPair>| {
        let mut p = CertificateParams::new(names).expect("params");
        p.distinguished_name
            .push(DnType::CommonName, "till fuzz leaf");
        p.extended_key_usages = vec![usage];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("key");
        p.signed_by(&key, issuer).expect("leaf").der().to_vec()
    };
    let pair = |leaf: Vec<u8>, anchor: &CertifiedIssuer<'_, KeyPair>| {
        [&(leaf.len() as u16).to_be_bytes()[..], &leaf, anchor.der()].concat()
    };
    let host = till_fuzz::CERT_HOST.to_string();
    let plain = ca(None, None);
    let mut fifth: Vec<String> = (0..20).map(|i| format!("host{i}.till.test")).collect();
    fifth[4] = host.clone();
    let long = format!("{}.till.test", "a".repeat(190));
    let constrained = ca(
        Some(NameConstraints {
            permitted_subtrees: vec![GeneralSubtree::DnsName("shop.test".into())],
            excluded_subtrees: vec![],
        }),
        Some(0),
    );
    let server = ExtendedKeyUsagePurpose::ServerAuth;
    vec![
        pair(leaf(vec![host.clone()], server.clone(), &plain), &plain),
        pair(leaf(fifth, server.clone(), &plain), &plain),
        pair(
            leaf(vec![long, host.clone()], server.clone(), &plain),
            &plain,
        ),
        pair(
            leaf(
                vec![host.clone()],
                ExtendedKeyUsagePurpose::ClientAuth,
                &plain,
            ),
            &plain,
        ),
        pair(leaf(vec![host], server, &constrained), &constrained),
        pair(plain.der().to_vec(), &plain),
    ]
}
