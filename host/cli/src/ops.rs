//! The terminal's operations, one function per thing an operator does:
//! pay a bill, order from the catalogue, take a MoMo payment, sell airtime
//! or a voucher. `till demo` and the per-API commands both call these, so
//! QA drives the same code either way.
//!
//! Each sale checks the outbox has room first and hands a pending record
//! to the outbox before returning.

use heapless::{String, Vec};
use till_core::conductor::flow::{self as conductor_flow, BillOutcome, BillPayment, Settle};
use till_core::conductor::wire::{
    AccountEnquiryRequest, CreateOrderRequest, CreateTransactionRequest, CustomerIdentifier,
    IdentifierKind, IdentifierValue, Item, Money as WireMoney, OrderProductItem,
    PartnerCreateTransactionRequest, PaymentMethod,
};
use till_core::electrum::flow::{self as electrum_flow, Sale, SaleOutcome};
use till_core::electrum::wire::{
    AccountType, Amounts, LedgerAmount, Msisdn, Product, PurchaseRequest, Tender, TenderType,
    Tenders, VoucherRequest,
};
use till_core::id::{ExternalReference, Uuid};
use till_core::momo::flow::{Payment, PaymentOutcome, PaymentRequest};
use till_core::momo::wire::CustomerReference;
use till_core::money::Amount;
use till_core::time::UnixTime;

use crate::terminal::{Apis, Terminal, TerminalError};

/// A bad operator input: named, never a crash.
fn input(what: &str, value: &str) -> TerminalError {
    TerminalError::Flow(format!("{what}: not accepted: {value:?}"))
}

fn text<const N: usize>(what: &str, value: &str) -> Result<String<N>, TerminalError> {
    String::try_from(value).map_err(|_| input(what, value))
}

/// A customer identifier: `key=value` (`smart_card_number=…`) for the
/// object form, a bare value for the string form.
pub fn identifier(value: &str) -> Result<CustomerIdentifier, TerminalError> {
    match value.split_once('=') {
        Some((kind, v)) => {
            let kind = match kind {
                "customer_number" => IdentifierKind::CustomerNumber,
                "smart_card_number" => IdentifierKind::SmartCardNumber,
                _ => return Err(input("identifier kind", kind)),
            };
            let v = IdentifierValue::try_from_str(v).ok_or_else(|| input("identifier", v))?;
            Ok(CustomerIdentifier::Keyed(kind, v))
        }
        None => Ok(CustomerIdentifier::Search(
            IdentifierValue::try_from_str(value).ok_or_else(|| input("identifier", value))?,
        )),
    }
}

/// Conductor primitive flow: look the account up, pay its bill (`amount`
/// or the amount due), complete with cash.
pub async fn pay_bill(
    term: &mut Terminal<'_>,
    apis: &Apis,
    biller: &str,
    customer: &str,
    reference: Option<&str>,
    amount: Option<Amount>,
) -> Result<BillOutcome, TerminalError> {
    term.admits_sale()?;
    let cfg = apis.conductor()?;
    let enquiry = AccountEnquiryRequest {
        biller_code: text("biller", biller)?,
        identifier: identifier(customer)?,
        reference: reference.map(|r| text("reference", r)).transpose()?,
    };
    let now = term.now();
    let mut call = conductor_flow::account_enquiry(cfg, &enquiry, now, &mut term.rng)
        .map_err(|e| TerminalError::Flow(e.to_string()))?;
    let account = term
        .run(&mut call)
        .await?
        .map_err(|e| TerminalError::Flow(format!("account enquiry: {e:?}")))?;
    let bill = account
        .bills
        .as_ref()
        .and_then(|b| b.first())
        .ok_or_else(|| TerminalError::Flow("account enquiry: no bill to pay".into()))?;
    let amount = match amount {
        Some(a) => a,
        None => bill
            .amount_due
            .as_ref()
            .and_then(|due| due.amount.as_ref())
            .and_then(|m| m.to_amount().ok())
            .ok_or_else(|| {
                TerminalError::Flow("the bill has no amount due: give --amount".into())
            })?,
    };
    conductor_flow::validate_bill_amount(bill, amount)
        .map_err(|e| TerminalError::Flow(format!("amount {amount}: {e:?}")))?;
    let mut items = Vec::new();
    let _ = items.push(Item {
        id: bill.id.clone(),
        reference: enquiry.reference.clone(),
        description: None,
        amount: Some(WireMoney::from(amount)),
    });
    let request = CreateTransactionRequest {
        external_reference: ExternalReference::generate(&mut term.rng),
        items,
        amount: None,
        complete: None,
        payment_method: None,
        meta_data: None,
    };
    let (seq, now) = (term.next_seq(), term.now());
    let mut pay = BillPayment::primitive(
        cfg,
        request,
        Settle::Complete(PaymentMethod::Cash),
        seq,
        now,
        &mut term.rng,
    );
    finish_bill(term, &mut pay).await
}

/// Conductor composite flow: a partner transaction for `amount`, then
/// complete with cash.
pub async fn pay_partner(
    term: &mut Terminal<'_>,
    apis: &Apis,
    biller: &str,
    customer: &str,
    reference: Option<&str>,
    amount: Amount,
) -> Result<BillOutcome, TerminalError> {
    term.admits_sale()?;
    let cfg = apis.conductor()?;
    let request = PartnerCreateTransactionRequest {
        external_reference: ExternalReference::generate(&mut term.rng),
        biller_code: text("biller", biller)?,
        reference: reference.map(|r| text("reference", r)).transpose()?,
        amount: WireMoney::from(amount),
        identifier: identifier(customer)?,
        complete: None,
        payment_method: None,
        meta_data: None,
    };
    let (seq, now) = (term.next_seq(), term.now());
    let mut pay = BillPayment::composite(
        cfg,
        request,
        Settle::Complete(PaymentMethod::Cash),
        seq,
        now,
        &mut term.rng,
    );
    finish_bill(term, &mut pay).await
}

/// Catalogue order: read the catalogue under `category`, order `quantity`
/// of `product` for the customer, pay the order in a transaction.
pub async fn order(
    term: &mut Terminal<'_>,
    apis: &Apis,
    biller: &str,
    customer: &str,
    category: &str,
    product: &str,
    quantity: u32,
) -> Result<BillOutcome, TerminalError> {
    term.admits_sale()?;
    let cfg = apis.conductor()?;
    let now = term.now();
    let mut call = conductor_flow::get_catalogs(cfg, Some(category), Some(1), now, &mut term.rng)
        .map_err(|e| TerminalError::Flow(e.to_string()))?;
    let catalog = term
        .run(&mut call)
        .await?
        .map_err(|e| TerminalError::Flow(format!("catalogue: {e:?}")))?
        .data
        .ok_or_else(|| TerminalError::Flow("catalogue: empty answer".into()))?;
    let mut products = Vec::new();
    let _ = products.push(OrderProductItem {
        code: text("product", product)?,
        quantity,
    });
    let request = CreateOrderRequest {
        biller_code: text("biller", biller)?,
        identifier: identifier(customer)?,
        products,
    };
    let now = term.now();
    let mut call = conductor_flow::create_order(cfg, &catalog, &request, now, &mut term.rng)
        .map_err(|e| TerminalError::Flow(format!("order: {e:?}")))?;
    let order = term
        .run(&mut call)
        .await?
        .map_err(|e| TerminalError::Flow(format!("order: {e:?}")))?
        .data
        .ok_or_else(|| TerminalError::Flow("order: empty answer".into()))?;
    let mut items = Vec::new();
    let _ = items.push(Item {
        id: order.id.clone(),
        reference: None,
        description: None,
        amount: order.amount,
    });
    let request = CreateTransactionRequest {
        external_reference: ExternalReference::generate(&mut term.rng),
        items,
        amount: None,
        complete: None,
        payment_method: None,
        meta_data: None,
    };
    let (seq, now) = (term.next_seq(), term.now());
    let mut pay = BillPayment::primitive(
        cfg,
        request,
        Settle::Complete(PaymentMethod::Cash),
        seq,
        now,
        &mut term.rng,
    );
    finish_bill(term, &mut pay).await
}

async fn finish_bill(
    term: &mut Terminal<'_>,
    pay: &mut BillPayment<'_>,
) -> Result<BillOutcome, TerminalError> {
    let outcome = term.run(pay).await?;
    if let BillOutcome::Pending(record) = &outcome {
        term.adopt(record)?;
    }
    Ok(outcome)
}

/// MoMo: request `amount` from the payer, poll to a final status.
pub async fn momo_pay(
    term: &mut Terminal<'_>,
    apis: &mut Apis,
    msisdn: &str,
    amount: Amount,
    provider: &str,
) -> Result<PaymentOutcome, TerminalError> {
    term.admits_sale()?;
    let request = PaymentRequest {
        amount,
        customer: CustomerReference::try_from_str(msisdn).ok_or_else(|| input("msisdn", msisdn))?,
        provider: text("provider", provider)?,
        external_id: None,
        note: None,
    };
    let (seq, now) = (term.next_seq(), term.now());
    let (cfg, tokens) = apis.momo()?;
    let mut pay = Payment::new(cfg, tokens, request, seq, now, &mut term.rng);
    let outcome = term.run(&mut pay).await?;
    if let PaymentOutcome::Pending { record, .. } = &outcome {
        term.adopt(record)?;
    }
    Ok(outcome)
}

fn tenders(amount: &LedgerAmount) -> Result<Tenders, TerminalError> {
    Tenders::from_slice(&[Tender {
        account_type: Some(AccountType::Default),
        amount: amount.clone(),
        card_number: None,
        reference: None,
        tender_type: TenderType::Cash,
    }])
    .map_err(|_| TerminalError::Flow("tenders".into()))
}

/// Electrum airtime (or data): optionally a trial first, then the
/// purchase with its reversal stored before it leaves, then the
/// confirmation.
pub async fn airtime(
    term: &mut Terminal<'_>,
    apis: &Apis,
    msisdn: &str,
    product: &str,
    amount: Amount,
    trial: bool,
) -> Result<SaleOutcome, TerminalError> {
    term.admits_sale()?;
    let cfg = apis.electrum()?;
    let ledger = LedgerAmount::from_amount(amount, None)
        .map_err(|e| TerminalError::Flow(format!("amount {amount}: {e:?}")))?;
    let mut request = PurchaseRequest {
        transaction_labels: None,
        id: Uuid::from_bytes([0; 16]),
        time: UnixTime::from_millis(0).to_timestamp(),
        originator: cfg.originator.clone(),
        client: cfg.client.clone(),
        settlement_entity: None,
        receiver: None,
        third_party_identifiers: Vec::new(),
        basket_ref: None,
        tran_type: None,
        src_acc_type: None,
        dest_acc_type: None,
        stan: None,
        rrn: None,
        amounts: Some(Amounts::request(ledger.clone())),
        product: Product::reference(product, None).ok_or_else(|| input("product", product))?,
        tenders: Some(tenders(&ledger)?),
        payment_methods: None,
        recipient_msisdn: Msisdn::new(msisdn),
        sender_msisdn: None,
    };
    if trial {
        let now = term.now();
        electrum_flow::prepare(cfg, &mut request, now, &mut term.rng)
            .map_err(|e| TerminalError::Flow(format!("trial: {e:?}")))?;
        let mut call = electrum_flow::trial(cfg, &request, now, &mut term.rng)
            .map_err(|e| TerminalError::Flow(format!("trial: {e:?}")))?;
        if let Err(e) = term.run(&mut call).await? {
            return Err(TerminalError::Flow(format!("trial refused: {e:?}")));
        }
    }
    let (seq, now) = (term.next_seq(), term.now());
    let mut sale = Sale::airtime(cfg, request, true, seq, now, &mut term.rng);
    finish_sale(term, &mut sale).await
}

/// Electrum voucher: provision, confirm; the slip carries the PIN.
pub async fn voucher(
    term: &mut Terminal<'_>,
    apis: &Apis,
    product: &str,
    amount: Amount,
) -> Result<SaleOutcome, TerminalError> {
    term.admits_sale()?;
    let cfg = apis.electrum()?;
    let ledger = LedgerAmount::from_amount(amount, None)
        .map_err(|e| TerminalError::Flow(format!("amount {amount}: {e:?}")))?;
    let request = VoucherRequest {
        transaction_labels: None,
        id: Uuid::from_bytes([0; 16]),
        time: UnixTime::from_millis(0).to_timestamp(),
        originator: cfg.originator.clone(),
        client: cfg.client.clone(),
        settlement_entity: None,
        receiver: None,
        third_party_identifiers: Vec::new(),
        basket_ref: None,
        tran_type: None,
        src_acc_type: None,
        dest_acc_type: None,
        stan: None,
        rrn: None,
        amounts: Some(Amounts::request(ledger.clone())),
        product: Product::reference(product, None).ok_or_else(|| input("product", product))?,
        tenders: Some(tenders(&ledger)?),
        payment_methods: None,
    };
    let (seq, now) = (term.next_seq(), term.now());
    let mut sale = Sale::voucher(cfg, request, seq, now, &mut term.rng);
    finish_sale(term, &mut sale).await
}

async fn finish_sale(
    term: &mut Terminal<'_>,
    sale: &mut Sale<'_>,
) -> Result<SaleOutcome, TerminalError> {
    use till_core::electrum::flow::Confirmation;
    let outcome = term.run(sale).await?;
    match &outcome {
        SaleOutcome::Pending(record)
        | SaleOutcome::Sold {
            confirmation: Confirmation::Pending(record),
            ..
        } => term.adopt(record)?,
        _ => {}
    }
    Ok(outcome)
}
