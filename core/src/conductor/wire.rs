//! Conductor API 2.3 request and response bodies.
//!
//! Field names are Conductor's snake_case. Amounts are [`Money`]: a decimal
//! string kept as written plus an alphabetic currency code, converted to
//! [`Amount`] exactly or with a typed [`MoneyError`]. Optional members are
//! omitted when absent; `null` decodes as absent.
//!
//! Every successful response wraps its payload as
//! `{ "status": {operation_id, code, message}, "data": … }` ([`Envelope`]);
//! errors carry the `status` alone ([`super::error::ErrorResponse`]).

use crate::json::{Decode, DecodeError, Encode, EncodeError, Kind, Reader, Writer};
use heapless::{String, Vec};

use super::error::Code;
use crate::code::UNKNOWN_CODE_CAP;
use crate::fmt::{AccountMask, Masked, MsisdnMask};
use crate::id::ExternalReference;
use crate::money::{AlphaCode, Amount, Decimal, MoneyError};
use crate::time::Timestamp;

/// `operation_id`: a UUID in every sample (36 bytes); 64 allows other ids.
pub const OPERATION_ID_CAP: usize = 64;
/// `status.message`: short human text; longer messages are refused rather
/// than truncated, so 256 leaves room for a sentence or two.
pub const MESSAGE_CAP: usize = 256;
/// Biller codes (`za_dstv`, `ng_dstv`): short slugs.
pub const BILLER_CODE_CAP: usize = 32;
/// Product references (`SUBS`, `TVOD`) and product/category codes
/// (`za_entertainment_cabletv_dstv_primary` is 37 bytes).
pub const CODE_CAP: usize = 64;
/// Customer identifiers: national id numbers (13), smart card numbers (12),
/// customer numbers; 32 with headroom.
pub const IDENTIFIER_CAP: usize = 32;
/// Ids Conductor assigns: `bill_41caa5ae-…` (41 bytes), `order_…`, UUIDs.
pub const ID_CAP: usize = 64;
/// External references are at most 255 bytes (document and README).
pub const EXTERNAL_REFERENCE_CAP: usize = crate::id::EXTERNAL_REFERENCE_MAX;
/// Names (customer, biller, product, category).
pub const NAME_CAP: usize = 64;
/// Descriptions: the longest sample (an order product) is 297 bytes.
pub const DESCRIPTION_CAP: usize = 512;
/// Transaction item descriptions: a label (`DSTV BILL PAYMENT`).
pub const ITEM_DESCRIPTION_CAP: usize = 128;
/// Category descriptions: one line in the catalogue ("..." in the sample).
pub const CATEGORY_DESCRIPTION_CAP: usize = 128;
/// E-mail addresses (RFC 5321 allows 254; real ones are far shorter).
pub const EMAIL_CAP: usize = 128;
/// Phone numbers as Conductor writes them (`821231234`).
pub const PHONE_CAP: usize = 20;
/// Cancellation reasons are free text from the terminal.
pub const REASON_CAP: usize = 128;
/// `pos_data` store and terminal ids (`terminal_pOMi9UHHG678I9jJ9`, 26).
pub const POS_ID_CAP: usize = 64;
/// Bills per account enquiry: one per sample; a few outstanding months.
pub const MAX_BILLS: usize = 8;
/// Products per account enquiry.
pub const MAX_ACCOUNT_PRODUCTS: usize = 8;
/// Items per transaction: the bills and orders paid together.
pub const MAX_ITEMS: usize = 8;
/// Categories per catalogue page: a biller's sub-categories at one depth.
pub const MAX_CATEGORIES: usize = 16;
/// Products per catalogue page: DStv's bouquets and add-ons at one depth.
pub const MAX_CATALOG_PRODUCTS: usize = 16;
/// Products per order: a bouquet plus add-ons.
pub const MAX_ORDER_PRODUCTS: usize = 8;

/// Largest `size_of` of a decoded message, so a task stack can be sized:
/// the catalogue page is the largest.
pub const MAX_MESSAGE_SIZE: usize = 24 * 1024;

/// An amount as Conductor writes it: `{ "value": "395.50", "currency": "ZAR" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Money {
    /// Decimal text, kept as written.
    pub value: Decimal,
    /// ISO 4217 alphabetic code.
    pub currency: AlphaCode,
}

impl Money {
    /// The exact amount; fails on an unknown currency or too many decimals.
    pub fn to_amount(&self) -> Result<Amount, MoneyError> {
        Amount::from_wire(self.value, self.currency)
    }
}

impl From<Amount> for Money {
    /// Always written with the currency's exponent (`"20.00"`).
    fn from(amount: Amount) -> Self {
        let (value, currency) = amount.to_wire();
        Self { value, currency }
    }
}

/// The `status` block of every response.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct StatusBlock {
    /// Conductor's id for this operation, quoted to support.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String<OPERATION_ID_CAP>>,
    /// `SUCCESS` or an error code.
    pub code: Code,
    /// Human-readable detail (empty on success), cut to fit.
    #[json(
        default,
        skip_serializing_if = "Option::is_none",
        decode_with = "crate::json::lenient::lenient_text"
    )]
    pub message: Option<String<MESSAGE_CAP>>,
}

/// `{ "status": …, "data": T }`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Envelope<T> {
    /// Outcome of the operation.
    pub status: StatusBlock,
    /// The payload; absent on errors.
    #[json(default = "Option::default", skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
}

/// `POST /healthcheck` answer: `{ "status": { "code": "SUCCESS" } }`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct HealthcheckResponse {
    /// `SUCCESS` when the API is up.
    pub status: StatusBlock,
}

crate::code_enum! {
    /// The ng_dstv object forms of a customer identifier.
    pub enum IdentifierKind(UNKNOWN_CODE_CAP) {
        /// `{ "customer_number": "…" }`
        CustomerNumber = "customer_number",
        /// `{ "smart_card_number": "…" }`
        SmartCardNumber = "smart_card_number",
    }
}

/// An identifier value: an account number, printed masked.
pub type IdentifierValue = Masked<IDENTIFIER_CAP, AccountMask>;

/// `CustomerIdentifier`: a plain string for za_dstv (customer number, smart
/// card number or national id), or a one-member object for ng_dstv
/// (`{ "smart_card_number": "…" }`). The value prints masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerIdentifier {
    /// The string form.
    Search(IdentifierValue),
    /// The object form: which identifier, and its value.
    Keyed(IdentifierKind, IdentifierValue),
}

impl CustomerIdentifier {
    /// The identifier's value, whichever form.
    pub fn value(&self) -> &IdentifierValue {
        match self {
            Self::Search(v) | Self::Keyed(_, v) => v,
        }
    }
}

impl Encode for CustomerIdentifier {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            Self::Search(v) => v.encode(w),
            Self::Keyed(kind, v) => {
                w.begin_object()?;
                w.key(kind.as_str())?;
                v.encode(w)?;
                w.end_object()
            }
        }
    }
}

impl Decode for CustomerIdentifier {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        if r.peek()? == Kind::String {
            return IdentifierValue::decode(r).map(Self::Search);
        }
        let mut found = None;
        let mut key = [0u8; UNKNOWN_CODE_CAP];
        r.members(&mut key, &mut |r, key| match (&found, key) {
            (None, Some(key)) => {
                let value = IdentifierValue::decode(r)?;
                found = Some(Self::Keyed(IdentifierKind::from_code(key), value));
                Ok(())
            }
            (None, None) => Err(DecodeError::Invalid),
            // The document shows one member; extra ones are skipped
            // rather than guessed at.
            (Some(_), _) => r.skip(),
        })?;
        found.ok_or(DecodeError::Invalid)
    }
    fn placeholder() -> Self {
        Self::Search(IdentifierValue::placeholder())
    }
}

crate::code_enum! {
    /// How the customer paid at the till.
    pub enum PaymentMethod(UNKNOWN_CODE_CAP) {
        /// Cash.
        Cash = "CASH",
        /// Debit card.
        DebitCard = "DEBIT_CARD",
        /// Credit card.
        CreditCard = "CREDIT_CARD",
        /// Bank transfer.
        BankTransfer = "BANK_TRANSFER",
        /// Mobile money.
        MobileMoney = "MOBILE_MONEY",
        /// E-wallet.
        Ewallet = "EWALLET",
    }
}

/// `meta_data.pos_data`: where the sale happened.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PosData {
    /// The store's id.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String<POS_ID_CAP>>,
    /// The terminal's id.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub terminal_id: Option<String<POS_ID_CAP>>,
}

/// `meta_data`: free-form for partners; the terminal sends `pos_data` and
/// reads nothing else (other members are skipped).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct MetaData {
    /// Point-of-sale data.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub pos_data: Option<PosData>,
}

/// `POST /conductor/v1/accounts` body.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AccountEnquiryRequest {
    /// The biller (`za_dstv`).
    pub biller_code: String<BILLER_CODE_CAP>,
    /// The customer at that biller.
    pub identifier: CustomerIdentifier,
    /// The biller's product reference (`SUBS`, `TVOD`).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String<CODE_CAP>>,
}

/// The customer an account enquiry found. Phone and id print masked.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Customer {
    /// The biller's customer id.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<IdentifierValue>,
    /// First name.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String<NAME_CAP>>,
    /// Last name.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String<NAME_CAP>>,
    /// Phone number.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Masked<PHONE_CAP, MsisdnMask>>,
    /// E-mail address.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String<EMAIL_CAP>>,
}

/// A biller's code and name.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Biller {
    /// Biller code.
    pub code: String<BILLER_CODE_CAP>,
    /// Display name (`MULTICHOICE DSTV`).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String<NAME_CAP>>,
}

/// Minimum and maximum amounts a payment may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct AmountRules {
    /// Smallest amount accepted.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Money>,
    /// Largest amount accepted.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Money>,
}

impl AmountRules {
    /// Whether `amount` is within the rules. A rule in another currency or
    /// one that cannot be read is an error, never silently passed.
    pub fn allows(&self, amount: Amount) -> Result<bool, MoneyError> {
        for (bound, is_min) in [(self.min, true), (self.max, false)] {
            if let Some(bound) = bound {
                let bound = bound.to_amount()?;
                if bound.currency() != amount.currency() {
                    return Err(MoneyError::CurrencyMismatch);
                }
                let outside = if is_min {
                    amount.minor() < bound.minor()
                } else {
                    amount.minor() > bound.minor()
                };
                if outside {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// What is owed, and within which bounds it may be paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct AmountDue {
    /// The amount owed.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// Payment bounds; `null` when any amount is accepted.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<AmountRules>,
}

crate::code_enum! {
    /// A product's availability.
    pub enum ProductStatus(UNKNOWN_CODE_CAP) {
        /// Can be bought.
        Active = "ACTIVE",
        /// Cannot be bought.
        Inactive = "INACTIVE",
    }
}

/// A product on the customer's account.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AccountProduct {
    /// Product code (`za_dstv_compact`).
    pub code: String<CODE_CAP>,
    /// Its catalogue category.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub category_code: Option<String<CODE_CAP>>,
    /// Its price.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// Whether it can be bought.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProductStatus>,
    /// Display name.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String<NAME_CAP>>,
    /// Description.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String<DESCRIPTION_CAP>>,
}

/// An outstanding bill.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Bill {
    /// Bill id, used as a transaction item id.
    pub id: String<ID_CAP>,
    /// Description.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String<DESCRIPTION_CAP>>,
    /// When it is due.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<Timestamp>,
    /// Amount owed and the bounds for paying it.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amount_due: Option<AmountDue>,
}

/// What a bill payment needs of an account enquiry answer: the bills.
/// The rest of the answer (customer, biller, products) is skipped while
/// decoding — the full [`AccountEnquiryResponse`] is 12.6 KiB, this 5.6 KiB,
/// and it lives in the payment's future while the enquiry runs.
#[derive(Debug, Clone, PartialEq, Eq, Decode)]
pub struct AccountBills {
    /// Outstanding bills.
    #[json(default)]
    pub bills: Option<Vec<Bill, MAX_BILLS>>,
}

/// Account enquiry answer (not wrapped in an envelope in the document).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AccountEnquiryResponse {
    /// The identifier the biller matched.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<IdentifierValue>,
    /// The customer.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// The biller.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub biller: Option<Biller>,
    /// Total owed on the account.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amount_due: Option<AmountDue>,
    /// Products on the account.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<AccountProduct, MAX_ACCOUNT_PRODUCTS>>,
    /// Outstanding bills.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub bills: Option<Vec<Bill, MAX_BILLS>>,
}

/// A transaction item: a bill or order being paid (request), or the same
/// item as Conductor reports it back (response, with a description).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Item {
    /// Bill or order id.
    pub id: String<ID_CAP>,
    /// The biller's product reference.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String<CODE_CAP>>,
    /// Description (responses), cut to fit.
    #[json(
        default,
        skip_serializing_if = "Option::is_none",
        decode_with = "crate::json::lenient::lenient_text"
    )]
    pub description: Option<String<ITEM_DESCRIPTION_CAP>>,
    /// Amount paid against the item.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
}

/// `POST /conductor/v1/transactions` body.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CreateTransactionRequest {
    /// The partner's unique reference.
    pub external_reference: ExternalReference,
    /// What is being paid.
    pub items: Vec<Item, MAX_ITEMS>,
    /// Total (optional when items carry amounts).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// Complete in the same call.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
    /// Required with `complete: true`.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<PaymentMethod>,
    /// Point-of-sale data.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<MetaData>,
}

/// `POST …/complete` body (transactions and partner transactions).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CompleteTransactionRequest {
    /// How the money was collected.
    pub payment_method: PaymentMethod,
    /// Point-of-sale data.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<MetaData>,
}

/// `POST …/cancel` body (transactions and partner transactions).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CancelTransactionRequest {
    /// Why the money could not be collected.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String<REASON_CAP>>,
    /// Point-of-sale data.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<MetaData>,
}

/// `POST /conductor/v1/partners/transactions` body (composite flows).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PartnerCreateTransactionRequest {
    /// The partner's unique reference; later calls use it in the path.
    pub external_reference: ExternalReference,
    /// The biller.
    pub biller_code: String<BILLER_CODE_CAP>,
    /// The biller's product reference.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String<CODE_CAP>>,
    /// Amount to pay.
    pub amount: Money,
    /// The customer at the biller.
    pub identifier: CustomerIdentifier,
    /// Complete in the same call (composite flow 1).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
    /// Required with `complete: true`.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<PaymentMethod>,
    /// Point-of-sale data.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<MetaData>,
}

crate::code_enum! {
    /// A transaction's state.
    pub enum TransactionStatus(UNKNOWN_CODE_CAP) {
        /// Created, awaiting complete or cancel.
        Active = "ACTIVE",
        /// Being processed.
        InProcessing = "IN_PROCESSING",
        /// Completed: the biller is paid.
        Completed = "COMPLETED",
        /// Cancelled: nothing was paid.
        Cancelled = "CANCELLED",
        /// Accepted by the biller.
        Accepted = "ACCEPTED",
        /// Rejected by the biller.
        Rejected = "REJECTED",
    }
}

/// A transaction as Conductor reports it (`data` of every transaction call).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Transaction {
    /// The partner's reference.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String<EXTERNAL_REFERENCE_CAP>>,
    /// Conductor's transaction id.
    pub id: String<ID_CAP>,
    /// Its state.
    pub status: TransactionStatus,
    /// Total.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// What was paid.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Item, MAX_ITEMS>>,
}

/// The answer to create, complete, cancel and get (both APIs).
pub type TransactionResponse = Envelope<Transaction>;

/// How many of a product may be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct QuantityRules {
    /// Fewest.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    /// Most.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

impl QuantityRules {
    /// Whether `quantity` is within the rules.
    pub fn allows(&self, quantity: u32) -> bool {
        self.min.is_none_or(|min| quantity >= min) && self.max.is_none_or(|max| quantity <= max)
    }
}

/// A catalogue category. The document's sample lists categories flat with
/// `parent_code`; members nested deeper inside a category are skipped.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Category {
    /// Category code.
    pub code: String<CODE_CAP>,
    /// Parent category.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub parent_code: Option<String<CODE_CAP>>,
    /// Display name.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String<NAME_CAP>>,
    /// Description.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String<CATEGORY_DESCRIPTION_CAP>>,
}

/// A catalogue product: a fixed price (`amount`) or a range
/// (`amount_rules`), and optional quantity bounds.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CatalogProduct {
    /// Product code.
    pub code: String<CODE_CAP>,
    /// Display name.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String<NAME_CAP>>,
    /// Description.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String<DESCRIPTION_CAP>>,
    /// Fixed price.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// Bounds for a variable price.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amount_rules: Option<AmountRules>,
    /// Bounds on quantity.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub quantity_rules: Option<QuantityRules>,
    /// The biller.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub biller_code: Option<String<BILLER_CODE_CAP>>,
    /// Its category.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub category_code: Option<String<CODE_CAP>>,
}

/// `data` of `GET /conductor/v1/catalogs`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Catalog {
    /// Sub-categories.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<Category, MAX_CATEGORIES>>,
    /// Products.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<CatalogProduct, MAX_CATALOG_PRODUCTS>>,
}

/// The catalogue answer.
pub type CatalogResponse = Envelope<Catalog>;

/// One product line of an order request.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct OrderProductItem {
    /// Product code.
    pub code: String<CODE_CAP>,
    /// How many.
    pub quantity: u32,
}

/// `POST /conductor/v1/orders` body.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CreateOrderRequest {
    /// The biller.
    pub biller_code: String<BILLER_CODE_CAP>,
    /// The customer at the biller.
    pub identifier: CustomerIdentifier,
    /// What to order.
    pub products: Vec<OrderProductItem, MAX_ORDER_PRODUCTS>,
}

/// A product line of an order as Conductor prices it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct OrderProduct {
    /// Product code.
    pub code: String<CODE_CAP>,
    /// Display name.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String<NAME_CAP>>,
    /// Description.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String<DESCRIPTION_CAP>>,
    /// Price of the line.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// How many.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
}

/// `data` of create order and get order.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Order {
    /// Order id, used as a transaction item id.
    pub id: String<ID_CAP>,
    /// Priced lines.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<OrderProduct, MAX_ORDER_PRODUCTS>>,
    /// Total.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
}

/// The order answer.
pub type OrderResponse = Envelope<Order>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::money::Currency;
    use std::format;

    #[test]
    fn identifier_string_and_object_forms() {
        let s: CustomerIdentifier = json::decode(br#""8604275423086""#).unwrap();
        assert_eq!(s.value().as_str(), "8604275423086");
        assert!(matches!(s, CustomerIdentifier::Search(_)));
        let o: CustomerIdentifier =
            json::decode(br#"{"smart_card_number":"987654321237"}"#).unwrap();
        assert!(matches!(
            o,
            CustomerIdentifier::Keyed(IdentifierKind::SmartCardNumber, _)
        ));
        let o: CustomerIdentifier = json::decode(br#"{"meter_number":"12"}"#).unwrap();
        assert!(matches!(
            o,
            CustomerIdentifier::Keyed(IdentifierKind::Unknown(_), _)
        ));
        assert_eq!(
            json::decode::<CustomerIdentifier>(b"{}"),
            Err(json::DecodeError::Invalid)
        );
        assert_eq!(
            json::decode::<AccountEnquiryRequest>(br#"{"biller_code":"za_dstv","identifier":12}"#),
            Err(json::DecodeError::WrongType)
        );
        // Printed masked.
        let printed = format!("{s:?} {o:?}");
        assert!(!printed.contains("8604275423086"), "{printed}");
        let mut buf = [0u8; 64];
        let n = json::encode(&o, &mut buf).unwrap();
        assert_eq!(&buf[..n], br#"{"meter_number":"12"}"#);
    }

    #[test]
    fn amount_rules_bound_payments() {
        let money = |v: &str| Money {
            value: Decimal::parse(v).unwrap(),
            currency: AlphaCode::from(Currency::ZAR),
        };
        let rules = AmountRules {
            min: Some(money("20.00")),
            max: Some(money("15000.00")),
        };
        let zar = |m| Amount::from_minor(m, Currency::ZAR);
        assert_eq!(rules.allows(zar(2000)), Ok(true));
        assert_eq!(rules.allows(zar(1999)), Ok(false));
        assert_eq!(rules.allows(zar(1_500_000)), Ok(true));
        assert_eq!(rules.allows(zar(1_500_001)), Ok(false));
        assert_eq!(
            rules.allows(Amount::from_minor(2000, Currency::NGN)),
            Err(MoneyError::CurrencyMismatch)
        );
        let q = QuantityRules {
            min: Some(1),
            max: Some(12),
        };
        assert!(q.allows(1) && q.allows(12) && !q.allows(0) && !q.allows(13));
    }

    #[test]
    fn message_sizes_fit_the_budget() {
        for (name, size) in [
            (
                "AccountEnquiryResponse",
                core::mem::size_of::<AccountEnquiryResponse>(),
            ),
            (
                "TransactionResponse",
                core::mem::size_of::<TransactionResponse>(),
            ),
            ("CatalogResponse", core::mem::size_of::<CatalogResponse>()),
            ("OrderResponse", core::mem::size_of::<OrderResponse>()),
            (
                "CreateTransactionRequest",
                core::mem::size_of::<CreateTransactionRequest>(),
            ),
        ] {
            assert!(size <= MAX_MESSAGE_SIZE, "{name} is {size} bytes");
        }
    }
}
