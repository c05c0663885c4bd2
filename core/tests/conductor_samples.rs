//! Every JSON sample of the Conductor 2.3 document decodes with till-core and
//! re-encodes to equivalent JSON. Samples: `data/conductor/` (cut from
//! ../shared/specs/conductor-api-2.3-with-samples.txt).

mod support;

use support::round_trip;
use till_core::conductor::error::Code;
use till_core::conductor::wire::*;
use till_core::money::{Amount, Currency};

fn zar(minor: u64) -> Amount {
    Amount::from_minor(minor, Currency::ZAR)
}

#[test]
fn healthcheck() {
    let r: HealthcheckResponse = round_trip("conductor/healthcheck_response.json", &[]);
    assert_eq!(r.status.code, Code::Success);
}

#[test]
fn account_enquiry() {
    let req: AccountEnquiryRequest = round_trip("conductor/account_enquiry_request.json", &[]);
    assert!(matches!(req.identifier, CustomerIdentifier::Search(_)));
    let r: AccountEnquiryResponse = round_trip("conductor/account_enquiry_response.json", &[]);
    let due = r.amount_due.unwrap();
    assert_eq!(due.amount.unwrap().to_amount(), Ok(zar(39550)));
    assert_eq!(due.rules, None);
    let bills = r.bills.unwrap();
    let bill = &bills[0];
    assert_eq!(
        bill.id.as_str(),
        "bill_41caa5ae-369b-4646-bf06-f2673bdd08fc"
    );
    let rules = bill.amount_due.unwrap().rules.unwrap();
    assert_eq!(rules.allows(zar(2000)), Ok(true));
    assert_eq!(rules.allows(zar(1999)), Ok(false));
    assert_eq!(r.products.unwrap()[0].status, Some(ProductStatus::Active));
    // Personal data prints masked.
    let printed = format!("{:?}", r.customer.unwrap());
    assert!(!printed.contains("821231234") && !printed.contains("2704275423888"));
}

#[test]
fn transactions() {
    for path in [
        "conductor/create_transaction_request.json",
        "conductor/idempotency_create_transaction_request.json",
    ] {
        let req: CreateTransactionRequest = round_trip(path, &[]);
        assert!(!req.items.is_empty());
    }
    let complete: CompleteTransactionRequest =
        round_trip("conductor/complete_transaction_request.json", &[]);
    assert_eq!(complete.payment_method, PaymentMethod::Cash);
    let cancel: CancelTransactionRequest =
        round_trip("conductor/cancel_transaction_request.json", &[]);
    assert_eq!(
        cancel.reason.as_deref(),
        Some("Credit card declined payment.")
    );
    for path in [
        "conductor/create_transaction_response.json",
        "conductor/complete_transaction_response.json",
        "conductor/cancel_transaction_response.json",
        "conductor/get_transaction_response.json",
    ] {
        let r: TransactionResponse = round_trip(path, &[]);
        assert_eq!(r.status.code, Code::Success);
        let t = r.data.unwrap();
        assert_eq!(t.status, TransactionStatus::Active);
        // "1900" with no decimals is ZAR 1900.00.
        assert_eq!(t.amount.unwrap().to_amount(), Ok(zar(190_000)));
    }
}

#[test]
fn partner_transactions() {
    let req: PartnerCreateTransactionRequest =
        round_trip("conductor/partner_create_request.json", &[]);
    assert_eq!(req.amount.to_amount(), Ok(zar(120_000)));
    assert_eq!(req.complete, Some(false));
    let _: CompleteTransactionRequest = round_trip("conductor/partner_complete_request.json", &[]);
    let _: CancelTransactionRequest = round_trip("conductor/partner_cancel_request.json", &[]);
    for path in [
        "conductor/partner_create_response.json",
        "conductor/partner_get_response.json",
        "conductor/partner_complete_response.json",
        "conductor/partner_cancel_response.json",
    ] {
        let r: TransactionResponse = round_trip(path, &[]);
        assert!(r.data.is_some());
    }
}

#[test]
fn catalogue_and_orders() {
    let r: CatalogResponse = round_trip("conductor/get_catalogs_response.json", &[]);
    let catalog = r.data.unwrap();
    assert_eq!(catalog.categories.unwrap().len(), 2);
    let products = catalog.products.unwrap();
    let fixed = &products[0];
    assert!(fixed.quantity_rules.unwrap().allows(12));
    assert!(!fixed.quantity_rules.unwrap().allows(13));
    let ranged = &products[1];
    assert_eq!(ranged.amount, None);
    let rules = ranged.amount_rules.unwrap();
    let ngn = |m| Amount::from_minor(m, Currency::NGN);
    assert_eq!(rules.allows(ngn(20_000)), Ok(true));
    assert_eq!(rules.allows(ngn(19_999)), Ok(false));

    let order: CreateOrderRequest = round_trip("conductor/create_order_request.json", &[]);
    assert!(matches!(
        order.identifier,
        CustomerIdentifier::Keyed(IdentifierKind::SmartCardNumber, _)
    ));
    for path in [
        "conductor/create_order_response.json",
        "conductor/get_order_response.json",
    ] {
        let r: OrderResponse = round_trip(path, &[]);
        let o = r.data.unwrap();
        assert_eq!(
            o.amount.unwrap().to_amount(),
            Ok(Amount::from_minor(1_650_000, Currency::NGN))
        );
        // The lines add up to the total.
        let sum = o
            .products
            .unwrap()
            .iter()
            .map(|p| p.amount.unwrap().to_amount().unwrap())
            .try_fold(Amount::zero(Currency::NGN), |acc, a| acc.checked_add(a))
            .unwrap();
        assert_eq!(sum.minor(), 1_650_000);
    }
}
