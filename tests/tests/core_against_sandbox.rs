//! till-core's flows through the desktop terminal — till-core's own HTTPS
//! transport (feature `net`, the firmware's) over tokio TCP, the outbox on
//! the flash store (feature `flash`) over a file-emulated NorFlash — against
//! till-sandbox over real TLS on 127.0.0.1: the two independent readings of
//! the specs meet on the wire, and the sandbox's ledger proves what
//! happened to the money.

mod support;

use heapless::{String, Vec};
use support::Rig;
use till_core::conductor::flow::{self as conductor_flow, BillPayment, Settle};
use till_core::conductor::wire::*;
use till_core::electrum::flow::{
    self as electrum_flow, Confirmation, NotSold, Sale, SaleOutcome, Sold,
};
use till_core::electrum::wire::{
    AccountType, Amounts, Institution, LedgerAmount, Msisdn, Originator, Product, PurchaseRequest,
    Tender, TenderType, Tenders, VoucherRequest,
};
use till_core::flow::Money as MoneyOutcome;
use till_core::fmt::Secret;
use till_core::id::{ExternalReference, Uuid};
use till_core::momo::flow::{Payment, PaymentOutcome, PaymentRequest, TokenCache};
use till_core::momo::wire::CustomerReference;
use till_core::money::{Amount, Currency};
use till_core::time::{Duration, UnixTime};
use till_sandbox::{FaultKind, FaultRule};

fn conductor_config() -> conductor_flow::Config {
    conductor_flow::Config {
        secret_key: Secret::new(String::try_from(till_sandbox::CONDUCTOR_TEST_KEY).unwrap()),
        retailer_id: String::try_from("retailer_001").unwrap(),
        meta_data: None,
        deadline: Duration::from_secs(10),
    }
}

fn momo_config() -> till_core::momo::flow::Config {
    till_core::momo::flow::Config {
        subscription_key: Secret::new(String::try_from(till_sandbox::SUBSCRIPTION_KEY).unwrap()),
        api_user: Uuid::parse(till_sandbox::PRESET_API_USER).unwrap(),
        api_key: Secret::new(String::try_from(till_sandbox::PRESET_API_KEY).unwrap()),
        target_environment: String::try_from("sandbox").unwrap(),
        callback_url: None,
        poll_deadline: Duration::from_secs(20),
    }
}

fn electrum_config() -> electrum_flow::Config {
    // The originator as Electrum's JSON spells it, read by till-core.
    let originator: Originator = till_core::json::decode(
        br#"{"institution":{"id":"11111111","name":"Buy Stuff Shop"},"terminalId":"term0001",
            "merchant":{"merchantType":"4444","merchantId":"merchant1234567",
            "merchantName":{"name":"Buy Stuff Shop","city":"Cape Town","region":"WC","country":"ZA"}}}"#,
    )
    .expect("originator");
    electrum_flow::Config {
        username: String::try_from("22222222").unwrap(),
        password: Secret::new(String::try_from(till_sandbox::ELECTRUM_PASSWORD).unwrap()),
        originator,
        client: Institution {
            id: String::try_from("22222222").unwrap(),
            name: String::try_from("TransAcquire Co").unwrap(),
        },
        deadline: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn conductor_bill_payment_is_charged_exactly_once() {
    let mut rig = Rig::start().await;
    let cfg = conductor_config();
    let enquiry = AccountEnquiryRequest {
        biller_code: String::try_from("za_dstv").unwrap(),
        identifier: CustomerIdentifier::Search(
            IdentifierValue::try_from_str("8604275423086").unwrap(),
        ),
        reference: Some(String::try_from("SUBS").unwrap()),
    };
    let now = rig.now();
    let mut call = conductor_flow::account_enquiry::<AccountEnquiryResponse>(
        &cfg,
        &enquiry,
        now,
        &mut rig.term.rng,
    )
    .unwrap();
    let account = rig.run(&mut call).await.expect("account found");
    let bills = account.bills.expect("bills");
    let bill = &bills[0];
    let amount = Amount::from_minor(39550, Currency::ZAR);
    conductor_flow::validate_bill_amount(bill, amount).unwrap();

    let request = CreateTransactionRequest {
        external_reference: ExternalReference::generate(&mut rig.term.rng),
        items: Vec::from_slice(&[Item {
            id: bill.id.clone(),
            reference: Some(String::try_from("SUBS").unwrap()),
            description: None,
            amount: Some(Money::from(amount)),
        }])
        .unwrap(),
        amount: None,
        complete: None,
        payment_method: None,
        meta_data: None,
    };
    let now = rig.now();
    let mut pay = BillPayment::primitive(
        &cfg,
        request,
        Settle::Complete(PaymentMethod::Cash),
        0,
        now,
        &mut rig.term.rng,
    );
    let outcome = rig.run(&mut pay).await;
    assert_eq!(outcome.money(), MoneyOutcome::Charged, "{outcome:?}");
    assert!(rig.store_is_empty().await);
    let paid = rig.ledger("bill_paid");
    assert_eq!(paid.len(), 1, "{paid:?}");
    assert_eq!(paid[0].amount_minor, 39550);
    assert_eq!(paid[0].currency, "ZAR");
}

#[tokio::test]
async fn conductor_lost_answer_to_complete_is_repeated_and_charged_once() {
    let mut rig = Rig::start().await;
    let cfg = conductor_config();
    // The complete takes effect but its answer never arrives.
    rig.sandbox.add_fault(
        FaultRule::new(
            "POST /conductor/v1/transactions/*/complete",
            FaultKind::ProcessThenClose,
        )
        .times(1),
    );
    let request = CreateTransactionRequest {
        external_reference: ExternalReference::generate(&mut rig.term.rng),
        items: Vec::from_slice(&[Item {
            id: String::try_from("bill_b13d2679-edc3-4198-89bd-8c093f5e2cfc").unwrap(),
            reference: None,
            description: None,
            amount: Some(Money::from(Amount::from_minor(190_000, Currency::ZAR))),
        }])
        .unwrap(),
        amount: None,
        complete: None,
        payment_method: None,
        meta_data: None,
    };
    let now = rig.now();
    let mut pay = BillPayment::primitive(
        &cfg,
        request,
        Settle::Complete(PaymentMethod::Cash),
        0,
        now,
        &mut rig.term.rng,
    );
    let outcome = rig.run(&mut pay).await;
    assert_eq!(outcome.money(), MoneyOutcome::Charged, "{outcome:?}");
    assert_eq!(
        rig.ledger("bill_paid").len(),
        1,
        "the repeat under the same key replayed"
    );
}

fn momo_request(msisdn: &str) -> PaymentRequest {
    PaymentRequest {
        amount: Amount::from_minor(2500, Currency::EUR),
        customer: CustomerReference::try_from_str(msisdn).unwrap(),
        provider: String::try_from("Electricity Inc.").unwrap(),
        external_id: Some(String::try_from("till-0001").unwrap()),
        note: None,
    }
}

#[tokio::test]
async fn momo_payments_successful_and_failed() {
    let mut rig = Rig::start().await;
    let cfg = momo_config();
    let mut tokens = TokenCache::new();
    let now = rig.now();
    let mut pay = Payment::new(
        &cfg,
        &mut tokens,
        momo_request("46733123999"),
        0,
        now,
        &mut rig.term.rng,
    );
    let outcome = rig.run(&mut pay).await;
    assert!(
        matches!(outcome, PaymentOutcome::Successful { .. }),
        "{outcome:?}"
    );
    let now = rig.now();
    let mut pay = Payment::new(
        &cfg,
        &mut tokens,
        momo_request("46733123451"),
        1,
        now,
        &mut rig.term.rng,
    );
    let outcome = rig.run(&mut pay).await;
    match outcome {
        PaymentOutcome::Failed { reason, .. } => {
            assert_eq!(
                reason,
                Some(till_core::momo::error::ErrorReason::ApprovalRejected)
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.ledger("payment_succeeded").len(), 1);
    assert!(rig.store_is_empty().await);
}

fn airtime(product: &str, minor: u64) -> PurchaseRequest {
    let amount = LedgerAmount::from_amount(Amount::from_minor(minor, Currency::ZAR), None).unwrap();
    let config = electrum_config();
    PurchaseRequest {
        transaction_labels: None,
        id: Uuid::from_bytes([0; 16]),
        time: UnixTime::from_millis(0).to_timestamp(),
        originator: config.originator,
        client: config.client,
        settlement_entity: None,
        receiver: None,
        third_party_identifiers: Vec::new(),
        basket_ref: None,
        tran_type: None,
        src_acc_type: None,
        dest_acc_type: None,
        stan: None,
        rrn: None,
        amounts: Some(Amounts::request(amount.clone())),
        product: Product::reference(product, None).unwrap(),
        tenders: Some(
            Tenders::from_slice(&[Tender {
                account_type: Some(AccountType::Default),
                amount,
                card_number: None,
                reference: None,
                tender_type: TenderType::Cash,
            }])
            .unwrap(),
        ),
        payment_methods: None,
        recipient_msisdn: Msisdn::new("27821234567"),
        sender_msisdn: None,
    }
}

#[tokio::test]
async fn electrum_airtime_trial_purchase_confirmation() {
    let mut rig = Rig::start().await;
    let cfg = electrum_config();
    let mut request = airtime("759", 5000);
    let now = rig.now();
    electrum_flow::prepare(&cfg, &mut request, now, &mut rig.term.rng).unwrap();
    let mut trial = electrum_flow::trial(&cfg, &request, now, &mut rig.term.rng).unwrap();
    rig.run(&mut trial).await.expect("trial approved");
    assert!(
        rig.sandbox.ledger().is_empty(),
        "a trial has no financial effect"
    );

    let now = rig.now();
    let mut sale = Sale::airtime(&cfg, airtime("759", 5000), true, 0, now, &mut rig.term.rng);
    let outcome = rig.run(&mut sale).await;
    assert!(
        matches!(
            outcome,
            SaleOutcome::Sold {
                sold: Sold::Purchase(_),
                confirmation: Confirmation::Confirmed
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(rig.ledger("airtime_sold").len(), 1);
    assert!(rig.ledger("reversal_applied").is_empty());
    assert!(rig.store_is_empty().await);
}

#[tokio::test]
async fn electrum_lost_purchase_answer_is_reversed_and_nets_to_zero() {
    let mut rig = Rig::start().await;
    let cfg = electrum_config();
    rig.sandbox.add_fault(
        FaultRule::new("POST /airtime/v5/purchases", FaultKind::ProcessThenClose).times(1),
    );
    let now = rig.now();
    let mut sale = Sale::airtime(&cfg, airtime("759", 5000), true, 0, now, &mut rig.term.rng);
    let request_id = sale.request_id();
    let outcome = rig.run(&mut sale).await;
    assert_eq!(outcome, SaleOutcome::NotSold(NotSold::Reversed));
    let sold = rig.ledger("airtime_sold");
    let reversed = rig.ledger("reversal_applied");
    assert_eq!(sold.len(), 1, "the purchase took effect upstream");
    assert_eq!(reversed.len(), 1, "and was reversed");
    assert_eq!(sold[0].reference, request_id.to_string());
    assert_eq!(
        sold[0].amount_minor + reversed[0].amount_minor,
        0,
        "not charged"
    );
    assert!(rig.store_is_empty().await);
}

#[tokio::test]
async fn electrum_voucher_sale_carries_the_pin() {
    let mut rig = Rig::start().await;
    let cfg = electrum_config();
    let base = airtime("VCH10", 1000);
    let request = VoucherRequest {
        transaction_labels: None,
        id: base.id,
        time: base.time,
        originator: base.originator,
        client: base.client,
        settlement_entity: None,
        receiver: None,
        third_party_identifiers: Vec::new(),
        basket_ref: None,
        tran_type: None,
        src_acc_type: None,
        dest_acc_type: None,
        stan: None,
        rrn: None,
        amounts: base.amounts,
        product: base.product,
        tenders: base.tenders,
        payment_methods: None,
    };
    let now = rig.now();
    let mut sale = Sale::voucher(&cfg, request, 0, now, &mut rig.term.rng);
    let outcome = rig.run(&mut sale).await;
    match &outcome {
        SaleOutcome::Sold {
            sold: Sold::Voucher(v),
            confirmation: Confirmation::Confirmed,
        } => {
            let pin = v
                .voucher()
                .pin
                .as_ref()
                .expect("a PIN")
                .as_str()
                .to_string();
            assert!(!pin.is_empty());
            assert!(!format!("{outcome:?}").contains(&pin), "PIN masked");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.ledger("voucher_issued").len(), 1);
}
