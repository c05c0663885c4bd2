//! What an operator does, one async function each: pay a bill (primitive
//! or composite flow), order from the catalogue, take a MoMo payment, sell
//! airtime or a voucher. The desktop `till` and the firmware's console
//! both call these on their [`Terminal`], so QA drives the exact code the
//! board runs.
//!
//! Each sale checks the outbox has room first and hands a pending record
//! to the outbox before it returns. Inputs are checked before anything is
//! sent; a refused input is an [`OpError::Input`] naming it.
//!
//! A sale's outcome (kilobytes: an Electrum sale's slip data is 8 KB) is
//! shown where it was made: each operation takes `report`, called with the
//! outcome while it is still inside the flow, and returns what `report`
//! returns (the console renders the slip; the desktop may keep a copy).
//! Returned by value it would be copied into the stack frame of every poll
//! function it passed on the way out.

use core::fmt;

use heapless::{String, Vec};
use rand_core::RngCore;

use crate::conductor::flow::{
    self as conductor_flow, AmountError, BillOutcome, BillPayment, OrderError, Settle,
};
use crate::conductor::wire::{
    AccountBills, AccountEnquiryRequest, CreateOrderRequest, CreateTransactionRequest,
    CustomerIdentifier, IdentifierKind, IdentifierValue, Item, Money as WireMoney,
    OrderProductItem, PartnerCreateTransactionRequest, PaymentMethod,
};
use crate::driver::{self, Clock, Connect, DriveError};
use crate::electrum::flow::{self as electrum_flow, Confirmation, Sale, SaleOutcome};
use crate::electrum::wire::{
    AccountType, Amounts, LedgerAmount, Msisdn, Product, ProductRef, PurchaseRequest, Tender,
    TenderType, Tenders, VoucherRequest,
};
use crate::flow::{CallError, Flow, FlowError};
use crate::http::{Api, Status};
use crate::id::{ExternalReference, Uuid};
use crate::momo::flow::{Payment, PaymentOutcome, PaymentRequest};
use crate::momo::wire::CustomerReference;
use crate::money::Amount;
use crate::outbox::{OutboxError, Store};
use crate::terminal::{Apis, Terminal};
use crate::time::UnixTime;

/// A step that moves no money, refused before the sale began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Step {
    /// Conductor account enquiry.
    AccountEnquiry,
    /// Conductor catalogue.
    Catalogue,
    /// Conductor order.
    Order,
    /// Electrum trial purchase.
    Trial,
    /// Conductor healthcheck.
    Healthcheck,
    /// An operator's question that moves no money ([`query`]).
    Query,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AccountEnquiry => "account enquiry",
            Self::Catalogue => "catalogue",
            Self::Order => "order",
            Self::Trial => "trial purchase",
            Self::Healthcheck => "healthcheck",
            Self::Query => "query",
        })
    }
}

/// Why an operation did not reach an outcome. Nothing was charged.
#[derive(Debug, Clone, PartialEq)]
pub enum OpError<E> {
    /// The API has no configuration.
    NotConfigured(Api),
    /// The outbox is full: no new sale until it drains.
    Outbox(OutboxError),
    /// An operator input was not accepted (which one).
    Input(&'static str),
    /// A step before the sale was refused (`Some` status) or unreachable.
    Refused(Step, Option<Status>),
    /// The account has no bill to pay.
    NoBill,
    /// The amount is outside the bill's rules.
    Amount(AmountError),
    /// The order does not fit the catalogue.
    Order(OrderError),
    /// A request could not be built.
    Flow(FlowError),
    /// The store failed (the request it protects was not sent).
    Drive(DriveError<E>),
}

impl<E> From<DriveError<E>> for OpError<E> {
    fn from(e: DriveError<E>) -> Self {
        Self::Drive(e)
    }
}

impl<E> From<OutboxError> for OpError<E> {
    fn from(e: OutboxError) -> Self {
        Self::Outbox(e)
    }
}

impl<E> From<FlowError> for OpError<E> {
    fn from(e: FlowError) -> Self {
        Self::Flow(e)
    }
}

impl<E> From<crate::http::HeadError> for OpError<E> {
    fn from(e: crate::http::HeadError) -> Self {
        Self::Flow(e.into())
    }
}

impl<E: fmt::Display> fmt::Display for OpError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotConfigured(api) => write!(f, "{api} is not configured"),
            Self::Outbox(e) => write!(f, "outbox: {e}; no new sale until it drains"),
            Self::Input(what) => write!(f, "{what}: not accepted"),
            Self::Refused(step, Some(status)) => write!(f, "{step} refused ({})", status.0),
            Self::Refused(step, None) => write!(f, "{step}: no answer"),
            Self::NoBill => f.write_str("the account has no bill to pay"),
            Self::Amount(e) => write!(f, "amount: {e}"),
            Self::Order(e) => write!(f, "order: {e}"),
            Self::Flow(e) => write!(f, "request: {e}"),
            Self::Drive(e) => write!(f, "{e}"),
        }
    }
}

/// The result of an operation on a terminal whose store fails with `E`.
pub type OpResult<T, E> = Result<T, OpError<E>>;

/// The value a call of `step` answered, read in place; a refusal or no
/// answer is the step's [`OpError::Refused`].
fn answered<'f, F, T: 'f, B: 'f, E>(call: &'f F, step: Step) -> OpResult<&'f T, E>
where
    F: Flow<Outcome = Result<T, CallError<B>>>,
{
    match call.outcome() {
        Some(Ok(value)) => Ok(value),
        Some(Err(CallError::Refused(status, _))) => Err(OpError::Refused(step, Some(*status))),
        Some(Err(CallError::Unreachable)) => Err(OpError::Refused(step, None)),
        None => Err(OpError::Flow(FlowError::Finished)),
    }
}

/// Build a flow (or a request) into `slot`, where the caller's future
/// keeps it, in a frame of its own: a sale is 17 KB, and built in the
/// caller's poll function it would be a temporary there for as long as
/// that function is on the stack (the whole sale).
#[inline(never)]
fn build<F>(slot: &mut Option<F>, make: impl FnOnce() -> F) -> &mut F {
    slot.insert(make())
}

/// The outcome of a flow `drive` finished.
fn outcome_of<F: Flow, E>(flow: &F) -> OpResult<&F::Outcome, E> {
    flow.outcome().ok_or(OpError::Flow(FlowError::Finished))
}

fn text<const N: usize, E>(what: &'static str, value: &str) -> OpResult<String<N>, E> {
    String::try_from(value).map_err(|_| OpError::Input(what))
}

/// A customer identifier: `kind=value` (`smart_card_number=…`,
/// `customer_number=…`) for the object form, a bare value for the string
/// form.
pub fn identifier<E>(value: &str) -> OpResult<CustomerIdentifier, E> {
    match value.split_once('=') {
        Some((kind, v)) => {
            let kind = match kind {
                "customer_number" => IdentifierKind::CustomerNumber,
                "smart_card_number" => IdentifierKind::SmartCardNumber,
                _ => return Err(OpError::Input("identifier kind")),
            };
            let v = IdentifierValue::try_from_str(v).ok_or(OpError::Input("identifier"))?;
            Ok(CustomerIdentifier::Keyed(kind, v))
        }
        None => Ok(CustomerIdentifier::Search(
            IdentifierValue::try_from_str(value).ok_or(OpError::Input("identifier"))?,
        )),
    }
}

/// Conductor's configuration, or why there is none.
pub fn conductor_config<E>(apis: &Apis) -> OpResult<&conductor_flow::Config, E> {
    apis.conductor
        .as_ref()
        .ok_or(OpError::NotConfigured(Api::Conductor))
}

/// Electrum's configuration, or why there is none.
pub fn electrum_config<E>(apis: &Apis) -> OpResult<&electrum_flow::Config, E> {
    apis.electrum
        .as_ref()
        .ok_or(OpError::NotConfigured(Api::Electrum))
}

/// How a bill is paid at the counter: complete with cash.
const CASH: Settle = Settle::Complete(PaymentMethod::Cash);

/// Why a chain stopped before its payment (nothing was charged).
type Stop = OpError<core::convert::Infallible>;

/// A [`Stop`] as the operation's error.
fn stopped<E>(stop: Stop) -> OpError<E> {
    match stop {
        OpError::NotConfigured(api) => OpError::NotConfigured(api),
        OpError::Outbox(e) => OpError::Outbox(e),
        OpError::Input(what) => OpError::Input(what),
        OpError::Refused(step, status) => OpError::Refused(step, status),
        OpError::NoBill => OpError::NoBill,
        OpError::Amount(e) => OpError::Amount(e),
        OpError::Order(e) => OpError::Order(e),
        OpError::Flow(e) => OpError::Flow(e),
        OpError::Drive(DriveError::Store(never)) => match never {},
        OpError::Drive(DriveError::Record(e)) => OpError::Drive(DriveError::Record(e)),
        OpError::Drive(DriveError::Flow(e)) => OpError::Drive(DriveError::Flow(e)),
    }
}

/// A flow that is over: what a chain drives between its stages (never
/// asked: a chain moves on as soon as a flow is done).
struct Over;

impl crate::flow::Steps for Over {
    fn poll_step(
        &mut self,
        _: crate::flow::Now,
        _: &mut [u8],
    ) -> Result<crate::flow::Output<'_>, FlowError> {
        Ok(crate::flow::Output::Done)
    }
    fn handle_step(&mut self, _: crate::flow::Input<'_>, _: crate::flow::Now) {}
    fn step_deadline(&self) -> Option<crate::time::Instant> {
        None
    }
}

/// What a [`BillChain`] runs before the payment: the flows that find
/// what to pay.
trait Finding<'c> {
    /// The flow being driven.
    fn flow(&mut self) -> &mut dyn crate::flow::Steps;
    /// The flow is done: the item to pay, or `None` when another flow of
    /// this stage goes first (built into `self`).
    fn found(
        &mut self,
        cfg: &'c conductor_flow::Config,
        now: crate::flow::Now,
        rng: &mut dyn RngCore,
    ) -> Result<Option<Item>, Stop>;
}

/// A bill payment's finding: the account enquiry, and the bill's amount.
struct Enquiry<'c> {
    call: conductor_flow::ConductorCall<'c, AccountEnquiryRequest, AccountBills>,
    /// The amount to pay (`None`: the amount due).
    amount: Option<Amount>,
    /// The bill's reference at the biller.
    reference: Option<String<{ crate::conductor::wire::CODE_CAP }>>,
}

impl<'c> Finding<'c> for Enquiry<'c> {
    fn flow(&mut self) -> &mut dyn crate::flow::Steps {
        &mut self.call
    }

    fn found(
        &mut self,
        _: &'c conductor_flow::Config,
        _: crate::flow::Now,
        _: &mut dyn RngCore,
    ) -> Result<Option<Item>, Stop> {
        let account = answered(&self.call, Step::AccountEnquiry)?;
        let bill = account
            .bills
            .as_ref()
            .and_then(|b| b.first())
            .ok_or(OpError::NoBill)?;
        let amount = match self.amount {
            Some(a) => a,
            None => bill
                .amount_due
                .as_ref()
                .and_then(|due| due.amount.as_ref())
                .and_then(|m| m.to_amount().ok())
                .ok_or(OpError::Input("amount (the bill states none)"))?,
        };
        conductor_flow::validate_bill_amount(bill, amount).map_err(OpError::Amount)?;
        Ok(Some(Item {
            id: bill.id.clone(),
            reference: self.reference.take(),
            description: None,
            amount: Some(WireMoney::from(amount)),
        }))
    }
}

/// An order's finding: the catalogue (the order is checked against it),
/// then the order, whose amount is paid.
#[allow(clippy::large_enum_variant)] // no heap; one at a time
enum Ordering<'c> {
    Catalogue(
        conductor_flow::ConductorCall<'static, (), crate::conductor::wire::CatalogResponse>,
        &'c CreateOrderRequest,
    ),
    Order(
        conductor_flow::ConductorCall<
            'c,
            CreateOrderRequest,
            crate::conductor::wire::OrderResponse,
        >,
    ),
}

impl<'c> Finding<'c> for Ordering<'c> {
    fn flow(&mut self) -> &mut dyn crate::flow::Steps {
        match self {
            Self::Catalogue(call, _) => call,
            Self::Order(call) => call,
        }
    }

    fn found(
        &mut self,
        cfg: &'c conductor_flow::Config,
        now: crate::flow::Now,
        rng: &mut dyn RngCore,
    ) -> Result<Option<Item>, Stop> {
        match self {
            Self::Catalogue(call, request) => {
                let catalog = answered(&*call, Step::Catalogue)?
                    .data
                    .as_ref()
                    .ok_or(OpError::Refused(Step::Catalogue, None))?;
                let order =
                    conductor_flow::create_order(cfg, catalog, request, now, &mut &mut *rng)
                        .map_err(OpError::Order)?;
                *self = Self::Order(order);
                Ok(None)
            }
            Self::Order(call) => {
                let order = answered(&*call, Step::Order)?
                    .data
                    .as_ref()
                    .ok_or(OpError::Refused(Step::Order, None))?;
                Ok(Some(Item {
                    id: order.id.clone(),
                    reference: None,
                    description: None,
                    amount: order.amount,
                }))
            }
        }
    }
}

/// Where a [`BillChain`] is.
#[allow(clippy::large_enum_variant)] // no heap; one at a time
enum BillStage<'c, F> {
    /// Finding what to pay.
    Finding(F),
    /// The payment, built in place.
    Pay(Option<BillPayment<'c>>),
}

/// What a bill payment or an order runs on one HTTPS session: the flows
/// that find what to pay, then its payment, completed with cash.
struct BillChain<'c, F> {
    cfg: &'c conductor_flow::Config,
    stage: BillStage<'c, F>,
    one_call: bool,
    seq: u32,
    stop: Option<Stop>,
    over: Over,
}

impl<'c, F: Finding<'c>> BillChain<'c, F> {
    fn new(cfg: &'c conductor_flow::Config, finding: F, one_call: bool, seq: u32) -> Self {
        Self {
            cfg,
            stage: BillStage::Finding(finding),
            one_call,
            seq,
            stop: None,
            over: Over,
        }
    }

    /// Drive the chain; the payment's outcome (its pending record adopted),
    /// or why there was none.
    async fn run<T, S, C, R>(
        &mut self,
        term: &mut Terminal<'_, T, S, C, R>,
    ) -> OpResult<&BillOutcome, S::Error>
    where
        T: Connect,
        S: Store,
        C: Clock,
        R: RngCore,
    {
        term.drive_chain(self).await?;
        if let Some(stop) = self.stop.take() {
            return Err(stopped(stop));
        }
        let BillStage::Pay(Some(pay)) = &self.stage else {
            return Err(OpError::Flow(FlowError::Finished));
        };
        let outcome = outcome_of(pay)?;
        if let BillOutcome::Pending(record) = outcome {
            term.adopt(record)?;
        }
        Ok(outcome)
    }
}

/// The payment of `item` in a transaction completed with cash, built in
/// `slot` (see [`build`]).
#[inline(never)]
fn pay_into<'c>(
    slot: &mut Option<BillPayment<'c>>,
    cfg: &'c conductor_flow::Config,
    item: Item,
    one_call: bool,
    seq: u32,
    now: crate::flow::Now,
    mut rng: &mut dyn RngCore,
) -> Result<(), Stop> {
    let mut items = Vec::new();
    items.push(item).map_err(|_| OpError::Input("items"))?;
    let request = CreateTransactionRequest {
        external_reference: ExternalReference::generate(&mut rng),
        items,
        amount: None,
        complete: None,
        payment_method: None,
        meta_data: None,
    };
    build(slot, || match one_call {
        true => {
            BillPayment::primitive_one_call(cfg, request, PaymentMethod::Cash, seq, now, &mut rng)
        }
        false => BillPayment::primitive(cfg, request, CASH, seq, now, &mut rng),
    });
    Ok(())
}

impl<'c, F: Finding<'c>> driver::Chain for BillChain<'c, F> {
    fn flow(&mut self) -> &mut dyn crate::flow::Steps {
        match &mut self.stage {
            BillStage::Finding(finding) => finding.flow(),
            BillStage::Pay(Some(pay)) => pay,
            BillStage::Pay(None) => &mut self.over,
        }
    }

    fn next(&mut self, now: crate::flow::Now, rng: &mut dyn RngCore) -> bool {
        let BillStage::Finding(finding) = &mut self.stage else {
            return false;
        };
        let result = match finding.found(self.cfg, now, rng) {
            Ok(Some(item)) => {
                self.stage = BillStage::Pay(None);
                match &mut self.stage {
                    BillStage::Pay(slot) => {
                        pay_into(slot, self.cfg, item, self.one_call, self.seq, now, rng)
                    }
                    BillStage::Finding(_) => Ok(()),
                }
            }
            Ok(None) => Ok(()),
            Err(stop) => Err(stop),
        };
        match result {
            Ok(()) => true,
            Err(stop) => {
                self.stop = Some(stop);
                false
            }
        }
    }
}

/// The bill payment `make` builds (settled with cash): built in this
/// future (see [`build`]), driven, its pending record adopted.
async fn pay_in_cash<'c, T, S, C, R, X>(
    term: &mut Terminal<'_, T, S, C, R>,
    make: impl FnOnce(u32, crate::flow::Now, &mut R) -> BillPayment<'c>,
    report: impl FnOnce(&BillOutcome) -> X,
) -> OpResult<X, S::Error>
where
    T: Connect,
    S: Store,
    C: Clock,
    R: RngCore,
{
    let (seq, now) = (term.next_seq(), term.now());
    let mut pay = None;
    let pay = build(&mut pay, || make(seq, now, &mut term.rng));
    term.drive(pay).await?;
    let outcome = outcome_of(pay)?;
    if let BillOutcome::Pending(record) = outcome {
        term.adopt(record)?;
    }
    Ok(report(outcome))
}

/// Conductor primitive flow: look the account up, pay its first bill
/// (`amount`, or the amount due), complete with cash — in a second call,
/// or with `one_call` in the create itself (`complete: true`); `report`
/// sees the outcome. The enquiry and the payment share one HTTPS session.
#[allow(clippy::too_many_arguments)] // one per operator input, and the report
pub async fn pay_bill<T, S, C, R, X>(
    term: &mut Terminal<'_, T, S, C, R>,
    apis: &Apis,
    biller: &str,
    customer: &str,
    reference: Option<&str>,
    amount: Option<Amount>,
    one_call: bool,
    report: impl FnOnce(&BillOutcome) -> X,
) -> OpResult<X, S::Error>
where
    T: Connect,
    S: Store,
    C: Clock,
    R: RngCore,
{
    term.admits_sale()?;
    let cfg = conductor_config(apis)?;
    let enquiry = AccountEnquiryRequest {
        biller_code: text("biller", biller)?,
        identifier: identifier(customer)?,
        reference: reference.map(|r| text("reference", r)).transpose()?,
    };
    let (seq, now) = (term.next_seq(), term.now());
    let call = conductor_flow::account_enquiry::<AccountBills>(cfg, &enquiry, now, &mut term.rng)?;
    let finding = Enquiry {
        call,
        amount,
        reference: enquiry.reference.clone(),
    };
    let mut chain = BillChain::new(cfg, finding, one_call, seq);
    let outcome = driver::outlined(chain.run(term)).await?;
    Ok(report(outcome))
}

/// Conductor composite flow: a partner transaction for `amount`, then
/// complete with cash — or with `one_call`, one partner create with
/// `complete: true`; `report` sees the outcome.
#[allow(clippy::too_many_arguments)] // one per operator input, and the report
pub async fn pay_partner<T, S, C, R, X>(
    term: &mut Terminal<'_, T, S, C, R>,
    apis: &Apis,
    biller: &str,
    customer: &str,
    reference: Option<&str>,
    amount: Amount,
    one_call: bool,
    report: impl FnOnce(&BillOutcome) -> X,
) -> OpResult<X, S::Error>
where
    T: Connect,
    S: Store,
    C: Clock,
    R: RngCore,
{
    term.admits_sale()?;
    let cfg = conductor_config(apis)?;
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
    let pay = |seq, now, rng: &mut R| match one_call {
        true => BillPayment::composite_one_call(cfg, request, PaymentMethod::Cash, seq, now, rng),
        false => BillPayment::composite(cfg, request, CASH, seq, now, rng),
    };
    pay_in_cash(term, pay, report).await
}

/// Catalogue order: read the catalogue one level under `category`, order
/// `quantity` of `product` for the customer, pay the order in a
/// transaction completed with cash; `report` sees the outcome. The three
/// calls share one HTTPS session.
#[allow(clippy::too_many_arguments)] // one per operator input, and the report
pub async fn order<T, S, C, R, X>(
    term: &mut Terminal<'_, T, S, C, R>,
    apis: &Apis,
    biller: &str,
    customer: &str,
    category: &str,
    product: &str,
    quantity: u32,
    report: impl FnOnce(&BillOutcome) -> X,
) -> OpResult<X, S::Error>
where
    T: Connect,
    S: Store,
    C: Clock,
    R: RngCore,
{
    term.admits_sale()?;
    let cfg = conductor_config(apis)?;
    let mut products = Vec::new();
    products
        .push(OrderProductItem {
            code: text("product", product)?,
            quantity,
        })
        .map_err(|_| OpError::Input("product"))?;
    let request = CreateOrderRequest {
        biller_code: text("biller", biller)?,
        identifier: identifier(customer)?,
        products,
    };
    let (seq, now) = (term.next_seq(), term.now());
    let call = conductor_flow::get_catalogs(cfg, Some(category), Some(1), now, &mut term.rng)?;
    let mut chain = BillChain::new(cfg, Ordering::Catalogue(call, &request), false, seq);
    let outcome = driver::outlined(chain.run(term)).await?;
    Ok(report(outcome))
}

/// MoMo: request `amount` from the payer `msisdn`, poll to a final
/// status; `report` sees the outcome.
pub async fn momo_pay<T, S, C, R, X>(
    term: &mut Terminal<'_, T, S, C, R>,
    apis: &mut Apis,
    msisdn: &str,
    amount: Amount,
    provider: &str,
    report: impl FnOnce(&PaymentOutcome) -> X,
) -> OpResult<X, S::Error>
where
    T: Connect,
    S: Store,
    C: Clock,
    R: RngCore,
{
    term.admits_sale()?;
    let request = PaymentRequest {
        amount,
        customer: CustomerReference::try_from_str(msisdn).ok_or(OpError::Input("msisdn"))?,
        provider: text("provider", provider)?,
        external_id: None,
        note: None,
    };
    let (seq, now) = (term.next_seq(), term.now());
    let Apis { momo, tokens, .. } = apis;
    let cfg = momo.as_ref().ok_or(OpError::NotConfigured(Api::MoMo))?;
    let mut pay = None;
    let pay = build(&mut pay, || {
        Payment::new(cfg, tokens, request, seq, now, &mut term.rng)
    });
    term.drive(pay).await?;
    let outcome = outcome_of(pay)?;
    if let PaymentOutcome::Pending { record, .. } = outcome {
        term.adopt(record)?;
    }
    Ok(report(outcome))
}

/// What an airtime purchase and a voucher order alike carry: the amounts,
/// the product, and the cash tender.
fn order_parts<E>(product: &str, amount: Amount) -> OpResult<(Amounts, ProductRef, Tenders), E> {
    let ledger = LedgerAmount::from_amount(amount, None).map_err(|_| OpError::Input("amount"))?;
    let tenders = Tenders::from_slice(&[Tender {
        account_type: Some(AccountType::Default),
        amount: ledger.clone(),
        card_number: None,
        reference: None,
        tender_type: TenderType::Cash,
    }])
    .map_err(|_| OpError::Input("tenders"))?;
    let product = Product::reference(product, None).ok_or(OpError::Input("product"))?;
    Ok((Amounts::request(ledger), product, tenders))
}

async fn finish_sale<T, S, C, R, X>(
    term: &mut Terminal<'_, T, S, C, R>,
    sale: &mut Sale<'_>,
    report: impl FnOnce(&SaleOutcome) -> X,
) -> OpResult<X, S::Error>
where
    T: Connect,
    S: Store,
    C: Clock,
    R: RngCore,
{
    term.drive(sale).await?;
    adopt_sale(term, sale)?;
    Ok(report(outcome_of(sale)?))
}

/// Hand what a sale left pending (its reversal, its confirmation) to the
/// outbox.
fn adopt_sale<T, S, C, R>(
    term: &mut Terminal<'_, T, S, C, R>,
    sale: &Sale<'_>,
) -> OpResult<(), S::Error>
where
    T: Connect,
    S: Store,
    C: Clock,
    R: RngCore,
{
    match outcome_of(sale)? {
        SaleOutcome::Pending(record)
        | SaleOutcome::Sold {
            confirmation: Confirmation::Pending(record) | Confirmation::NeedsAttention(record),
            ..
        } => term.adopt(record)?,
        _ => {}
    }
    Ok(())
}

/// Electrum airtime (or data): optionally a trial first, then the
/// purchase with its reversal stored before it leaves, then the
/// confirmation; `report` sees the outcome. The trial and the sale share
/// one HTTPS session.
#[allow(clippy::too_many_arguments)] // one per operator input, and the report
pub async fn airtime<T, S, C, R, X>(
    term: &mut Terminal<'_, T, S, C, R>,
    apis: &Apis,
    msisdn: &str,
    product: &str,
    amount: Amount,
    trial: bool,
    report: impl FnOnce(&SaleOutcome) -> X,
) -> OpResult<X, S::Error>
where
    T: Connect,
    S: Store,
    C: Clock,
    R: RngCore,
{
    term.admits_sale()?;
    let cfg = electrum_config(apis)?;
    let (seq, now) = (term.next_seq(), term.now());
    // The request, the trial and the sale, each built where this future
    // keeps them, in one space: the request moves into the sale.
    let mut chain = AirtimeChain {
        cfg,
        stage: Airtime::Request(None),
        seq,
        stop: None,
        over: Over,
    };
    let request = request_in(&mut chain.stage, cfg, msisdn, product, amount)?;
    if trial {
        electrum_flow::prepare(cfg, request, now, &mut term.rng)
            .map_err(|_| OpError::Input("purchase request"))?;
        trial_of(&mut chain.stage, cfg, now, &mut term.rng)?;
    } else {
        chain
            .sell(now, &mut term.rng)
            .map_err(stopped::<S::Error>)?;
    }
    term.drive_chain(&mut chain).await?;
    if let Some(stop) = chain.stop.take() {
        return Err(stopped(stop));
    }
    let Airtime::Sale(Some(sale)) = &mut chain.stage else {
        return Err(OpError::Flow(FlowError::Finished));
    };
    adopt_sale(term, sale)?;
    Ok(report(outcome_of(sale)?))
}

/// What an airtime sale's future keeps: the request (and the trial that
/// checks it), then the sale that took the request over (never at once).
#[allow(clippy::large_enum_variant)] // no heap; one at a time
enum Airtime<'c> {
    /// The request, built in place ([`request_in`]).
    Request(Option<PurchaseRequest>),
    /// The trial of the request.
    Trial(TrialOf),
    /// The sale, built in place ([`Sale::airtime_in`]).
    Sale(Option<Sale<'c>>),
}

/// A trial purchase that keeps its request, so the sale after it can take
/// the request over: the call sends no body of its own, the request is
/// encoded here into each (re)sent request.
struct TrialOf {
    call: electrum_flow::Trial<'static>,
    /// Taken by the sale once the trial is answered.
    request: Option<PurchaseRequest>,
}

impl crate::flow::Steps for TrialOf {
    fn poll_step(
        &mut self,
        now: crate::flow::Now,
        body: &mut [u8],
    ) -> Result<crate::flow::Output<'_>, FlowError> {
        match self.call.poll(now, body)? {
            crate::flow::Output::Send(mut tx) => {
                let request = self.request.as_ref().ok_or(FlowError::Finished)?;
                tx.body_len = crate::json::encode(request, body)?;
                Ok(crate::flow::Output::Send(tx))
            }
            other => Ok(other),
        }
    }
    fn handle_step(&mut self, input: crate::flow::Input<'_>, now: crate::flow::Now) {
        self.call.handle(input, now)
    }
    fn step_deadline(&self) -> Option<crate::time::Instant> {
        self.call.deadline()
    }
}

/// The trial of the request in `stage`, which takes its place (in a
/// frame of its own: see [`build`]).
#[inline(never)]
fn trial_of<E>(
    stage: &mut Airtime<'_>,
    cfg: &electrum_flow::Config,
    now: crate::flow::Now,
    rng: &mut impl RngCore,
) -> OpResult<(), E> {
    let Airtime::Request(request) = stage else {
        return Err(OpError::Flow(FlowError::Finished));
    };
    let request = request.take().ok_or(OpError::Flow(FlowError::Finished))?;
    // The call is made over the request it will carry, then without it:
    // `TrialOf` encodes the request itself.
    let call = electrum_flow::trial(cfg, &request, now, rng)
        .map_err(|_| OpError::Input("purchase request"))?;
    let call = call.without_request();
    *stage = Airtime::Trial(TrialOf {
        call,
        request: Some(request),
    });
    Ok(())
}

/// An airtime sale on one HTTPS session: its trial, if any, then the sale.
struct AirtimeChain<'c> {
    cfg: &'c electrum_flow::Config,
    stage: Airtime<'c>,
    seq: u32,
    stop: Option<Stop>,
    over: Over,
}

impl AirtimeChain<'_> {
    /// The sale of the request (from the stage, or from the trial that
    /// checked it), built in place.
    #[inline(never)]
    fn sell(&mut self, now: crate::flow::Now, mut rng: &mut dyn RngCore) -> Result<(), Stop> {
        let request = match &mut self.stage {
            Airtime::Request(request) => request.take(),
            Airtime::Trial(trial) => {
                answered(&trial.call, Step::Trial)?;
                trial.request.take()
            }
            Airtime::Sale(_) => None,
        };
        let request = request.ok_or(OpError::Flow(FlowError::Finished))?;
        self.stage = Airtime::Sale(None);
        if let Airtime::Sale(slot) = &mut self.stage {
            Sale::airtime_in(slot, self.cfg, request, true, self.seq, now, &mut rng);
        }
        Ok(())
    }
}

impl driver::Chain for AirtimeChain<'_> {
    fn flow(&mut self) -> &mut dyn crate::flow::Steps {
        match &mut self.stage {
            Airtime::Trial(trial) => trial,
            Airtime::Sale(Some(sale)) => sale,
            Airtime::Request(_) | Airtime::Sale(None) => &mut self.over,
        }
    }

    fn next(&mut self, now: crate::flow::Now, rng: &mut dyn RngCore) -> bool {
        if !matches!(self.stage, Airtime::Trial(_)) {
            return false;
        }
        match self.sell(now, rng) {
            Ok(()) => true,
            Err(stop) => {
                self.stop = Some(stop);
                false
            }
        }
    }
}

/// The airtime request, built in the stage `kept` in a frame of its own (see
/// [`build`]; no `Result` around it: each wrapping is a copy of the slot).
#[inline(never)]
fn request_in<'k, E>(
    kept: &'k mut Airtime<'_>,
    cfg: &electrum_flow::Config,
    msisdn: &str,
    product: &str,
    amount: Amount,
) -> OpResult<&'k mut PurchaseRequest, E> {
    let (amounts, product, tenders) = order_parts(product, amount)?;
    *kept = Airtime::Request(Some(PurchaseRequest {
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
        amounts: Some(amounts),
        product,
        tenders: Some(tenders),
        payment_methods: None,
        recipient_msisdn: Msisdn::new(msisdn),
        sender_msisdn: None,
    }));
    match kept {
        Airtime::Request(Some(request)) => Ok(request),
        _ => Err(OpError::Flow(FlowError::Finished)),
    }
}

/// Electrum voucher: provision, confirm; the slip carries the PIN;
/// `report` sees the outcome.
pub async fn voucher<T, S, C, R, X>(
    term: &mut Terminal<'_, T, S, C, R>,
    apis: &Apis,
    product: &str,
    amount: Amount,
    report: impl FnOnce(&SaleOutcome) -> X,
) -> OpResult<X, S::Error>
where
    T: Connect,
    S: Store,
    C: Clock,
    R: RngCore,
{
    term.admits_sale()?;
    let cfg = electrum_config(apis)?;
    // Built where this future keeps it (see `airtime`).
    let mut sale = None;
    let (seq, now) = (term.next_seq(), term.now());
    let sale = start_voucher(&mut sale, cfg, product, amount, seq, now, &mut term.rng)?;
    finish_sale(term, sale, report).await
}

/// The voucher sale, built in `slot` in a frame of its own (see
/// [`build`]).
#[inline(never)]
fn start_voucher<'s, 'c, E>(
    slot: &'s mut Option<Sale<'c>>,
    cfg: &'c electrum_flow::Config,
    product: &str,
    amount: Amount,
    seq: u32,
    now: crate::flow::Now,
    rng: &mut impl RngCore,
) -> OpResult<&'s mut Sale<'c>, E> {
    let request = voucher_request(cfg, product, amount)?;
    Ok(Sale::voucher_in(slot, cfg, request, seq, now, rng))
}

fn voucher_request<E>(
    cfg: &electrum_flow::Config,
    product: &str,
    amount: Amount,
) -> OpResult<VoucherRequest, E> {
    let (amounts, product, tenders) = order_parts(product, amount)?;
    Ok(VoucherRequest {
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
        amounts: Some(amounts),
        product,
        tenders: Some(tenders),
        payment_methods: None,
    })
}

/// Conductor's healthcheck: `Ok` when it answers.
pub async fn healthcheck<T, S, C, R>(
    term: &mut Terminal<'_, T, S, C, R>,
    apis: &Apis,
) -> OpResult<(), S::Error>
where
    T: Connect,
    S: Store,
    C: Clock,
    R: RngCore,
{
    let cfg = conductor_config(apis)?;
    let now = term.now();
    let mut call = conductor_flow::healthcheck(cfg, now, &mut term.rng)?;
    term.drive(&mut call).await?;
    answered(&call, Step::Healthcheck)?;
    Ok(())
}

/// How an operator's cancel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Cancelled {
    /// Conductor answered finally: the transaction is settled (cancelled,
    /// or it was already final: a lookup shows which).
    Final,
    /// Refused with a final answer (its HTTP status): the operator who
    /// asked is told here, so the record leaves the outbox.
    Refused(u16),
    /// No final answer yet: the outbox repeats it under the same key.
    Pending,
}

/// Conductor: cancel the transaction (or partner transaction) `target`.
/// The cancel is an advice like a sale's: stored first, then sent, and
/// repeated under the same idempotency key until a final answer, so it
/// cannot be lost to a power cut or a dropped answer.
pub async fn cancel<T, S, C, R>(
    term: &mut Terminal<'_, T, S, C, R>,
    apis: &mut Apis,
    target: crate::outbox::ConductorTarget,
    reason: Option<&str>,
) -> OpResult<(crate::id::Uuid, Cancelled), S::Error>
where
    T: Connect,
    S: Store,
    C: Clock,
    R: RngCore,
{
    conductor_config(apis)?;
    let reason = reason.map(|r| text("reason", r)).transpose()?;
    let now = term.now();
    let record = crate::outbox::Record {
        key: Uuid::new_v4(&mut term.rng),
        sale: Uuid::new_v4(&mut term.rng),
        seq: term.next_seq(),
        created: now.unix.to_timestamp(),
        advice: crate::outbox::Advice::ConductorCancel {
            target,
            idempotency_key: Uuid::new_v4(&mut term.rng),
            reason,
        },
        attention: None,
    };
    term.enqueue(&record).await?;
    term.flush(apis).await?;
    let key = record.key;
    let state = if let Some(status) = term
        .attention_status(key)
        .await
        .map_err(DriveError::Store)?
    {
        term.acknowledge(key).await.map_err(DriveError::Store)?;
        Cancelled::Refused(status)
    } else if term.holds(key) {
        Cancelled::Pending
    } else {
        Cancelled::Final
    };
    Ok((key, state))
}

/// What an operator asks that moves no money, answered as lines
/// ([`Flat`](crate::json::Flat)): the counter's lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query<'q> {
    /// Conductor: what a customer owes (`customer` as for [`pay_bill`]).
    Enquiry {
        /// Biller code.
        biller: &'q str,
        /// Customer identifier.
        customer: &'q str,
        /// Product reference.
        reference: Option<&'q str>,
    },
    /// Conductor: the catalogue one level below a category (or the top).
    Catalogue(Option<&'q str>),
    /// Conductor: a transaction, or a partner transaction by reference.
    Transaction(&'q crate::outbox::ConductorTarget),
    /// MoMo: a payment, by its `X-Reference-Id`.
    MomoPayment(Uuid),
    /// Electrum: the operator and products of an MSISDN.
    Lookup(&'q str),
    /// Electrum: the products of a sales channel.
    Products(&'q str),
    /// Electrum: a purchase, by its request's id.
    Purchase(Uuid),
}

/// Ask `query` and hand the answer to `report` (while it is still in the
/// call: no copy of it). Nothing is stored and nothing is charged; a
/// refusal is [`OpError::Refused`] with the provider's status.
pub async fn query<T, S, C, R, X>(
    term: &mut Terminal<'_, T, S, C, R>,
    apis: &mut Apis,
    query: Query<'_>,
    report: impl FnOnce(&crate::json::Flat) -> X,
) -> OpResult<X, S::Error>
where
    T: Connect,
    S: Store,
    C: Clock,
    R: RngCore,
{
    use crate::json::Flat;
    let mut enquiry = None;
    if let Query::Enquiry {
        biller,
        customer,
        reference,
    } = &query
    {
        enquiry = Some(crate::conductor::wire::AccountEnquiryRequest {
            biller_code: text("biller", biller)?,
            identifier: identifier(customer)?,
            reference: reference.map(|r| text("reference", r)).transpose()?,
        });
    }
    if let Query::MomoPayment(_) = query {
        momo_token(term, apis).await?;
    }
    let now = term.now();
    let rng = &mut term.rng;
    // One slot and one drive for every question: each is a call of its
    // own type, driven through `dyn Steps` and read through `Asked`.
    let mut call = match (query, &enquiry) {
        (Query::Enquiry { .. }, Some(request)) => Asking::Enquiry(
            conductor_flow::account_enquiry::<Flat>(conductor_config(apis)?, request, now, rng)?,
        ),
        (Query::Catalogue(category), _) => Asking::Conductor(conductor_flow::get_catalogs::<Flat>(
            conductor_config(apis)?,
            category,
            Some(1),
            now,
            rng,
        )?),
        (Query::Transaction(target), _) => {
            Asking::Conductor(conductor_flow::get_transaction::<Flat>(
                conductor_config(apis)?,
                target,
                now,
                rng,
            )?)
        }
        (Query::MomoPayment(reference), _) => {
            let cfg = apis
                .momo
                .as_ref()
                .ok_or(OpError::NotConfigured(Api::MoMo))?;
            Asking::Momo(crate::momo::flow::payment_status::<Flat>(
                cfg,
                &apis.tokens,
                &reference,
                now,
                rng,
            )?)
        }
        (Query::Lookup(msisdn), _) => {
            let filters = crate::electrum::path::LookupFilters::default();
            Asking::Electrum(crate::electrum::flow::lookup_msisdn::<Flat>(
                electrum_config(apis)?,
                msisdn,
                &filters,
                now,
                rng,
            )?)
        }
        (Query::Products(channel), _) => {
            Asking::Electrum(crate::electrum::flow::list_products::<Flat>(
                electrum_config(apis)?,
                channel,
                now,
                rng,
            )?)
        }
        (Query::Purchase(id), _) => {
            let status = crate::electrum::flow::StatusQuery::OriginalMessage(&id);
            Asking::Electrum(crate::electrum::flow::purchase_status::<Flat>(
                electrum_config(apis)?,
                status,
                now,
                rng,
            )?)
        }
        (Query::Enquiry { .. }, None) => return Err(OpError::Flow(FlowError::Finished)),
    };
    let asked: &mut dyn Asked = match &mut call {
        Asking::Enquiry(c) => c,
        Asking::Conductor(c) => c,
        Asking::Momo(c) => c,
        Asking::Electrum(c) => c,
    };
    term.drive(asked.steps()).await?;
    match asked.answer() {
        Some(Ok(flat)) => Ok(report(flat)),
        Some(Err(status)) => Err(OpError::Refused(Step::Query, status)),
        None => Err(OpError::Flow(FlowError::Finished)),
    }
}

/// The call a [`query`] makes.
enum Asking<'r> {
    Enquiry(
        conductor_flow::ConductorCall<
            'r,
            crate::conductor::wire::AccountEnquiryRequest,
            crate::json::Flat,
        >,
    ),
    Conductor(conductor_flow::ConductorCall<'static, (), crate::json::Flat>),
    Momo(crate::momo::flow::MomoCall<crate::json::Flat, crate::momo::error::ErrorBody>),
    Electrum(crate::electrum::flow::Lookup<crate::json::Flat>),
}

/// A [`query`]'s call, whatever its API: driven, then read.
trait Asked {
    fn steps(&mut self) -> &mut dyn crate::flow::Steps;
    /// The lines, or the refusal's status (`None`: no final answer).
    fn answer(&self) -> Option<Result<&crate::json::Flat, Option<Status>>>;
}

impl<Q, E> Asked for crate::flow::Call<'_, Q, crate::json::Flat, E>
where
    Q: crate::json::Encode,
    E: crate::json::Decode + crate::outcome::QueryTable,
{
    fn steps(&mut self) -> &mut dyn crate::flow::Steps {
        self
    }

    fn answer(&self) -> Option<Result<&crate::json::Flat, Option<Status>>> {
        Some(match self.outcome()? {
            Ok(flat) => Ok(flat),
            Err(CallError::Refused(status, _)) => Err(Some(*status)),
            Err(CallError::Unreachable) => Err(None),
        })
    }
}

/// A MoMo token for the next request, asked for if the cache has none.
async fn momo_token<T, S, C, R>(
    term: &mut Terminal<'_, T, S, C, R>,
    apis: &mut Apis,
) -> OpResult<(), S::Error>
where
    T: Connect,
    S: Store,
    C: Clock,
    R: RngCore,
{
    let Apis { momo, tokens, .. } = apis;
    let cfg = momo.as_ref().ok_or(OpError::NotConfigured(Api::MoMo))?;
    let now = term.now();
    if tokens.valid_at(now.instant).is_some() {
        return Ok(());
    }
    let mut call = crate::momo::flow::access_token(cfg, now, &mut term.rng)?;
    term.drive(&mut call).await?;
    match call.take_outcome() {
        Some(Ok(token)) => {
            tokens.store(token, term.now().instant);
            Ok(())
        }
        Some(Err(CallError::Refused(status, _))) => {
            Err(OpError::Refused(Step::Query, Some(status)))
        }
        _ => Err(OpError::Refused(Step::Query, None)),
    }
}
