//! Electrum Airtime Service v5 bodies: every request and response of the
//! API, on the `io.electrum.vas.model` base types (Transaction, BasicAdvice,
//! LedgerAmount, Tender, SlipData, …) and the airtime models (Product,
//! Msisdn, Voucher, …).
//!
//! Field names are Electrum's camelCase. Optional members are omitted when
//! absent and `null` decodes as absent; an optional array that arrived empty
//! re-encodes as an empty array.
//!
//! # Liberal on decode, strict on send
//!
//! Capacities are at least the interface's maxima, and exact-length or
//! pattern rules (`terminalId` of exactly 8, `merchantId` of 15, E.164
//! MSISDNs, 2-letter countries) are not enforced when reading: the
//! publisher's own samples break several of them. The request side checks
//! them before sending: [`Originator::validate`], [`PurchaseRequest::validate`]
//! and friends return a typed [`OriginatorError`] / [`RequestError`].
//! Where the publisher's own test pack omits a member the interface marks as
//! required (`client` in a VoucherResponse), responses take it as optional.
//!
//! # Money and numbers
//!
//! Amounts are [`LedgerAmount`]: integer minor units and a three-digit
//! [`NumericCode`], converted to [`Amount`] exactly or with a typed
//! [`MoneyError`]. Floats never touch money; the only fractional numbers of
//! the interface are display hints (slip font scale factors, a channel's
//! sort order), held as fixed-point [`Hundredths`].
//!
//! # Redaction
//!
//! MSISDNs, card numbers, payment proxies and voucher PINs are
//! [`Masked`]; printable slip text and redeem instructions ([`PrintText`])
//! show every digit as `*` in `Debug`, since issuers print the PIN on the
//! slip. No secret or personal value appears in a `Debug` string.
//!
//! # Free-form members
//!
//! `Amounts.additionalAmounts` and `Description.additionalDescriptions` are
//! free-form maps: they are accepted in any shape and not re-encoded
//! ([`Skipped`]). `ErrorDetail.detailMessage` keeps only its
//! `formatErrors[].msg` texts (see [`super::error::DetailMessage`]).

use core::fmt;

use crate::json::{Decode, DecodeError, Encode, EncodeError, Reader, Writer};
use heapless::{String, Vec};

use crate::fmt::{AccountMask, CardMask, Masked, MsisdnMask, PinMask};
use crate::id::Uuid;
use crate::json::lenient::{capped_vec, lenient_text, short_text, truncated_text};
use crate::money::{Amount, MoneyError, NumericCode};
use crate::time::Timestamp;

// ---------------------------------------------------------------------------
// Capacities
// ---------------------------------------------------------------------------

/// `Institution.id`: Electrum institution ids are short numbers (at most 8
/// digits in the samples); 24 leaves room for other numbering schemes.
pub const INSTITUTION_ID_CAP: usize = 24;
/// `Institution.name`: at most 40 characters (interface annotation).
pub const INSTITUTION_NAME_CAP: usize = 40;
/// `Originator.terminalId`: exactly 8 when sent; read up to 16 because the
/// length rule is not enforced on decode.
pub const TERMINAL_ID_CAP: usize = 16;
/// `Originator.operatorId`: at most 30 characters (interface annotation).
pub const OPERATOR_ID_CAP: usize = 30;
/// `Originator.channelId`: at most 50 characters (interface annotation).
pub const CHANNEL_ID_CAP: usize = 50;
/// `Merchant.merchantType`: a 4-digit category code when sent; read up to 8.
pub const MERCHANT_TYPE_CAP: usize = 8;
/// `Merchant.merchantId`: exactly 15 when sent (the publisher's document
/// sends 10); read up to 24.
pub const MERCHANT_ID_CAP: usize = 24;
/// `MerchantName.name`: at most 23 when sent; read up to an institution
/// name's 40.
pub const MERCHANT_NAME_CAP: usize = 40;
/// `MerchantName.city`: at most 13 when sent; read up to 24.
pub const MERCHANT_CITY_CAP: usize = 24;
/// `MerchantName.region`: at most 2 when sent; read up to 4.
pub const MERCHANT_REGION_CAP: usize = 4;
/// Country codes (`MerchantName.country`, `Msisdn.country`): ISO 3166
/// alpha-2 when sent; read up to 3 because the test pack sends `"OIU"`.
pub const COUNTRY_CAP: usize = 3;
/// `ThirdPartyIdentifier.transactionIdentifier`: no limit in the interface;
/// the samples reach 22 bytes (a Postman placeholder); 48 holds a UUID with
/// a prefix.
pub const TRANSACTION_IDENTIFIER_CAP: usize = 48;
/// `thirdPartyIdentifiers[]`: one per party; the test pack has four
/// (originator, client, settlement entity, receiver); 8 doubles that.
pub const MAX_THIRD_PARTY_IDENTIFIERS: usize = 8;
/// `basketRef`: no limit in the interface; a POS basket number (`"7360"`).
pub const BASKET_REF_CAP: usize = 40;
/// `stan`: an ISO 8583 system trace audit number is 6 digits; 12 when read.
pub const STAN_CAP: usize = 12;
/// `rrn`: an ISO 8583 retrieval reference number is 12 characters; 24 when
/// read.
pub const RRN_CAP: usize = 24;
/// `transactionLabels[].name`: an agreed label name.
pub const LABEL_NAME_CAP: usize = 32;
/// `transactionLabels[].value`.
pub const LABEL_VALUE_CAP: usize = 64;
/// `transactionLabels[]`: none in the samples; a grouping label or two.
pub const MAX_TRANSACTION_LABELS: usize = 2;
/// `SlipLine.text`: one line of an 80 mm printer (48 columns at normal
/// width, 64 condensed; the samples reach 22). The interface sets no
/// limit, so a longer line is cut at 64 bytes rather than refused: refusing
/// would make a successful purchase unreadable and reverse it. The voucher
/// PIN is always available whole in `voucher.pin`.
pub const SLIP_LINE_CAP: usize = 64;
/// `SlipData.messageLines[]`: the samples print 2–3 lines; 24 is a long
/// voucher slip.
pub const MAX_SLIP_LINES: usize = 24;
/// `Barcode.data`: an ITF barcode on a slip (a voucher or reference
/// number), an even number of digits up to 24.
pub const BARCODE_DATA_CAP: usize = 24;
/// `Barcode.encoding`: `"ITF"` is the one documented encoding; 8 holds
/// `CODE128`.
pub const BARCODE_ENCODING_CAP: usize = 8;
/// `SlipData.issuerReference`: `[A-Z0-9]{1,40}` (interface annotation).
pub const ISSUER_REFERENCE_CAP: usize = 40;
/// `Product.productId`: `[0-9A-Za-z]{1,20}` when sent; read up to 24.
pub const PRODUCT_ID_CAP: usize = 24;
/// `Product.barcode`: `[0-9A-Za-z]{1,13}` when sent; read up to 16.
pub const PRODUCT_BARCODE_CAP: usize = 16;
/// `Product.name`: at most 120 characters (interface annotation).
pub const PRODUCT_NAME_CAP: usize = 120;
/// `Description.primaryDescription`: no limit in the interface; display
/// text for a terminal menu, cut (not refused) beyond 96 bytes.
pub const PRIMARY_DESCRIPTION_CAP: usize = 96;
/// `Description.shortDescription`: shown next to a product name; cut
/// beyond 32 bytes.
pub const SHORT_DESCRIPTION_CAP: usize = 32;
/// `Product.productValues[]`: one value per currency; the samples have 3.
pub const MAX_PRODUCT_VALUES: usize = 4;
/// `Product.productContents[]`: a combo bundle's data, minutes, SMS; the
/// samples have 1.
pub const MAX_PRODUCT_CONTENTS: usize = 4;
/// `Product.channels[]`: the sales channels listing a product; the samples
/// have 2 (USSD, APP+IBank). Further channels are skipped ([`Capped`]):
/// the terminal filters by its own channel in the query.
pub const MAX_CHANNELS: usize = 2;
/// `ChannelProductListing.channelName`: at most 50 (interface annotation).
pub const CHANNEL_NAME_CAP: usize = 50;
/// `ChannelProductListing.productDisplayName` and
/// `productDisplayCategory`: at most 50 (interface annotation).
pub const DISPLAY_NAME_CAP: usize = 50;
/// `ChannelProductListing.channelProductIdentifier`: no limit in the
/// interface; a channel's own product code.
pub const CHANNEL_PRODUCT_ID_CAP: usize = 24;
/// Products kept from a product list or an MSISDN lookup: the samples list
/// 2–3; 16 fill a terminal's menu. Further products are counted and
/// skipped ([`ProductList::dropped`]).
pub const MAX_PRODUCTS: usize = 16;
/// `Voucher.pin`: `[0-9]{1,20}` in the interface; read up to 24.
pub const PIN_CAP: usize = 24;
/// `Voucher.serialNumber` and `batchNumber`: `[0-9a-zA-Z]{1,20}` in the
/// interface (the samples reach 18); read up to 24.
pub const SERIAL_NUMBER_CAP: usize = 24;
/// `Voucher.redeemInstructions[]`: one printed line each, as a slip line
/// (27 bytes in the samples); cut, like a slip line, beyond its capacity.
pub const REDEEM_LINE_CAP: usize = SLIP_LINE_CAP;
/// `Voucher.redeemInstructions[]`: the samples have 3 lines.
pub const MAX_REDEEM_LINES: usize = 6;
/// `Msisdn.msisdn`: E.164 is at most 15 digits and a `+`; read up to 20.
pub const MSISDN_CAP: usize = 20;
/// `tenders[]`: cash and change, split tenders; the samples have 1.
pub const MAX_TENDERS: usize = 4;
/// `Tender.reference`: at most 40 characters (interface annotation).
pub const TENDER_REFERENCE_CAP: usize = 40;
/// `Tender.cardNumber`: a masked PAN, `[0-9]{6}[0-9*]{0,13}`: 19 at most.
pub const CARD_NUMBER_CAP: usize = 19;
/// `paymentMethods[]`: none in the samples, and this terminal tenders at
/// the till; two allow a split payment.
pub const MAX_PAYMENT_METHODS: usize = 2;
/// `PaymentMethod.name`: a short label ("Visa", "SnapScan").
pub const PAYMENT_METHOD_NAME_CAP: usize = 40;
/// `PaymentMethod.proxy`: at most 40 characters (interface annotation).
pub const PROXY_CAP: usize = 40;
/// `Promotion.promotion`: no limit in the interface ("Promo XYZ"); display
/// text, truncated beyond 128 bytes.
pub const PROMOTION_CAP: usize = 128;
/// Text kept for an unknown code of the enums in this module (they repeat
/// per product, tender and line): an unknown code is kept, truncated to 24
/// bytes, only to be logged and shown. Known codes take no text.
pub const CODE_CAP: usize = 24;
/// Text kept for an unknown [`LedgerIndicator`] (in every amount) or
/// [`ProductUnit`] (in every product content): their known codes are at
/// most 7 bytes (`Minutes`).
pub const SHORT_CODE_CAP: usize = 8;

/// Stack budget of a [`PurchaseResponse`] (the largest single-transaction
/// message: a full slip, a voucher and a product): 8 KiB.
pub const PURCHASE_RESPONSE_BUDGET: usize = 8 * 1024;
/// Stack budget of a [`VoucherResponse`]: as a purchase response.
pub const VOUCHER_RESPONSE_BUDGET: usize = 8 * 1024;
/// Stack budget of a [`PurchaseRequest`] or [`VoucherRequest`] (no slip, but
/// tenders and payment methods): 6 KiB.
pub const REQUEST_BUDGET: usize = 6 * 1024;
/// Stack budget of an advice ([`TenderAdvice`], [`BasicReversal`],
/// [`VoucherConfirmation`], [`BasicAdviceResponse`]) and of an
/// [`super::error::ErrorDetail`]: 3 KiB.
pub const ADVICE_BUDGET: usize = 3 * 1024;
/// Stack budget of a [`ProductList`] and of a [`MsisdnInfoResponse`]
/// (16 products): 24 KiB, matching the largest body the decoder accepts
/// ([`crate::json::MAX_BODY_LEN`]).
pub const PRODUCT_LIST_BUDGET: usize = 24 * 1024;

// ---------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------

crate::code_enum! {
    /// `Product.type`: what kind of product.
    pub enum ProductType(CODE_CAP) {
        /// Airtime of a fixed value.
        AirtimeFixed = "AIRTIME_FIXED",
        /// Airtime of a value chosen at purchase.
        AirtimeVariable = "AIRTIME_VARIABLE",
        /// A bundle of SMSes.
        SmsBundle = "SMS_BUNDLE",
        /// Data.
        Data = "DATA",
        /// Application-related (a subscription, in-app credit).
        AppRelated = "APP_RELATED",
        /// A combination of the above.
        Combo = "COMBO",
        /// Data of a fixed size.
        DataFixed = "DATA_FIXED",
        /// Data of a size chosen at purchase.
        DataVariable = "DATA_VARIABLE",
        /// A bundle of voice minutes.
        VoiceBundle = "VOICE_BUNDLE",
    }
}

crate::code_enum! {
    /// `LedgerAmount.ledgerIndicator`.
    pub enum LedgerIndicator(SHORT_CODE_CAP) {
        /// A debit.
        Debit = "DEBIT",
        /// A credit.
        Credit = "CREDIT",
    }
}

crate::code_enum! {
    /// `BasicReversal.reversalReason`.
    pub enum ReversalReason(CODE_CAP) {
        /// No response within the timeout.
        Timeout = "TIMEOUT",
        /// The transaction was cancelled at the POS.
        Cancelled = "CANCELLED",
        /// The response did not give a final status (500, 504).
        ResponseNotFinal = "RESPONSE_NOT_FINAL",
    }
}

crate::code_enum! {
    /// `Tender.tenderType`: how the customer paid at the till.
    pub enum TenderType(CODE_CAP) {
        /// Cash.
        Cash = "CASH",
        /// Cheque.
        Cheque = "CHEQUE",
        /// Credit card.
        CreditCard = "CREDIT_CARD",
        /// Debit card.
        DebitCard = "DEBIT_CARD",
        /// A wallet.
        Wallet = "WALLET",
        /// Rounding.
        Rounding = "ROUNDING",
        /// Gift card.
        GiftCard = "GIFT_CARD",
        /// Loyalty card.
        LoyaltyCard = "LOYALTY_CARD",
        /// Anything else.
        Other = "OTHER",
    }
}

crate::code_enum! {
    /// `srcAccType`, `destAccType` and `Tender.accountType`.
    pub enum AccountType(CODE_CAP) {
        /// Default (unspecified) account.
        Default = "DEFAULT",
        /// Savings.
        Savings = "SAVINGS",
        /// Cheque.
        Cheque = "CHEQUE",
        /// Credit.
        Credit = "CREDIT",
        /// Universal.
        Universal = "UNIVERSAL",
        /// Electronic purse.
        ElectronicPurse = "ELECTRONIC_PURSE",
        /// Gift card.
        GiftCard = "GIFT_CARD",
        /// Stored value.
        StoredValue = "STORED_VALUE",
    }
}

crate::code_enum! {
    /// `Transaction.tranType`: the ISO 8583-style transaction type.
    pub enum TranType(CODE_CAP) {
        /// Goods and services (an airtime sale).
        GoodsAndServices = "GOODS_AND_SERVICES",
        /// Cash withdrawal.
        CashWithdrawal = "CASH_WITHDRAWAL",
        /// Debit adjustment.
        DebitAdjustment = "DEBIT_ADJUSTMENT",
        /// Goods and services with cash back.
        GoodsAndServicesWithCashBack = "GOODS_AND_SERVICES_WITH_CASH_BACK",
        /// Non-cash.
        NonCash = "NON_CASH",
        /// Returns.
        Returns = "RETURNS",
        /// Deposit.
        Deposit = "DEPOSIT",
        /// Credit adjustment.
        CreditAdjustment = "CREDIT_ADJUSTMENT",
        /// General credit.
        GeneralCredit = "GENERAL_CREDIT",
        /// Available funds inquiry.
        AvailableFundsInquiry = "AVAILABLE_FUNDS_INQUIRY",
        /// Balance inquiry.
        BalanceInquiry = "BALANCE_INQUIRY",
        /// General inquiry.
        GeneralInquiry = "GENERAL_INQUIRY",
        /// Card verification inquiry.
        CardVerificationInquiry = "CARD_VERIFICATION_INQUIRY",
        /// Transfer between the cardholder's accounts.
        CardholderAccountsTransfer = "CARDHOLDER_ACCOUNTS_TRANSFER",
        /// General transfer.
        GeneralTransfer = "GENERAL_TRANSFER",
        /// Payment from an account.
        PaymentFromAccount = "PAYMENT_FROM_ACCOUNT",
        /// General payment.
        GeneralPayment = "GENERAL_PAYMENT",
        /// Payment to an account.
        PaymentToAccount = "PAYMENT_TO_ACCOUNT",
        /// Payment from one account to another.
        PaymentFromAccountToAccount = "PAYMENT_FROM_ACCOUNT_TO_ACCOUNT",
        /// Place a hold on a card.
        PlaceHoldOnCard = "PLACE_HOLD_ON_CARD",
        /// General administration.
        GeneralAdmin = "GENERAL_ADMIN",
        /// PIN change.
        ChangePin = "CHANGE_PIN",
        /// Card holder inquiry.
        CardHolderInquiry = "CARD_HOLDER_INQUIRY",
        /// Points inquiry.
        PointsInquiry = "POINTS_INQUIRY",
    }
}

crate::code_enum! {
    /// `ValidityPeriod.durationUnit`: a Java `ChronoUnit` name.
    pub enum DurationUnit(CODE_CAP) {
        /// Nanoseconds.
        Nanos = "NANOS",
        /// Microseconds.
        Micros = "MICROS",
        /// Milliseconds.
        Millis = "MILLIS",
        /// Seconds.
        Seconds = "SECONDS",
        /// Minutes.
        Minutes = "MINUTES",
        /// Hours.
        Hours = "HOURS",
        /// Half days.
        HalfDays = "HALF_DAYS",
        /// Days.
        Days = "DAYS",
        /// Weeks.
        Weeks = "WEEKS",
        /// Months.
        Months = "MONTHS",
        /// Years.
        Years = "YEARS",
        /// Decades.
        Decades = "DECADES",
        /// Centuries.
        Centuries = "CENTURIES",
        /// Millennia.
        Millennia = "MILLENNIA",
        /// Eras.
        Eras = "ERAS",
        /// Forever.
        Forever = "FOREVER",
    }
}

crate::code_enum! {
    /// `ProductContent.unit` (Electrum's `AirtimeProductUnit`).
    pub enum ProductUnit(SHORT_CODE_CAP) {
        /// Kilobytes of data.
        Kb = "KB",
        /// Megabytes of data.
        Mb = "MB",
        /// Gigabytes of data.
        Gb = "GB",
        /// Units (airtime, SMSes).
        Unit = "Unit",
        /// Voice minutes.
        Minutes = "Minutes",
    }
}

crate::code_enum! {
    /// `PaymentMethod.type`: how a third party collects the payment.
    pub enum PaymentMethodType(CODE_CAP) {
        /// An AN32 token.
        An32Token = "AN_32_TOKEN",
        /// A loyalty card.
        LoyaltyCard = "LOYALTY_CARD",
        /// A card.
        Card = "CARD",
        /// An account.
        Account = "ACCOUNT",
        /// A reward.
        Reward = "REWARD",
        /// A wallet.
        Wallet = "WALLET",
        /// A QR code payment.
        Qr = "QR",
    }
}

crate::code_enum! {
    /// `PaymentMethod.proxyType`: what the proxy identifier is.
    pub enum ProxyType(CODE_CAP) {
        /// An MSISDN.
        Msisdn = "MSISDN",
        /// An e-mail address.
        Email = "EMAIL",
        /// Electrum's own `UNKNOWN` value (not the catch-all).
        Unspecified = "UNKNOWN",
    }
}

// ---------------------------------------------------------------------------
// Value types
// ---------------------------------------------------------------------------

/// An amount as Electrum writes it: `{ "amount": 5000, "currency": "710" }`
/// — integer minor units, an ISO 4217 numeric code and an optional
/// DEBIT/CREDIT indicator.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct LedgerAmount {
    /// Minor units (R799.95 is `79995`). Signed on the wire; negative
    /// amounts decode but do not convert to an [`Amount`].
    pub amount: i64,
    /// Three-digit ISO 4217 numeric code (`"710"`); `"ZAR"` is refused.
    pub currency: NumericCode,
    /// Debit or credit.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub ledger_indicator: Option<LedgerIndicator>,
}

impl LedgerAmount {
    /// The exact amount; fails on a negative value or a currency this
    /// terminal does not know.
    pub fn to_amount(&self) -> Result<Amount, MoneyError> {
        Amount::from_minor_numeric(self.amount, self.currency)
    }

    /// The wire form of `amount`; fails above `i64::MAX` minor units.
    pub fn from_amount(
        amount: Amount,
        ledger_indicator: Option<LedgerIndicator>,
    ) -> Result<Self, MoneyError> {
        Ok(Self {
            amount: amount.minor_i64()?,
            currency: amount.numeric_code(),
            ledger_indicator,
        })
    }
}

/// A display number in hundredths: slip font scale factors (`1`, `1.0`,
/// `1.5`) and a channel's product sort order, which Electrum declares as
/// Java `double`. Never used for money.
///
/// Decoding accepts an integer or a fractional JSON number and rounds to
/// the nearest hundredth; encoding writes an integer when the value is
/// whole (`1.0` → `1`) and the shortest decimal otherwise (`1.25`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Hundredths(i32);

impl Hundredths {
    /// `1` (`1.0`): a normal-size font.
    pub const ONE: Self = Self(100);

    /// From a count of hundredths (`150` is `1.5`).
    pub const fn new(hundredths: i32) -> Self {
        Self(hundredths)
    }

    /// From a whole number.
    pub const fn from_whole(whole: i16) -> Self {
        Self(whole as i32 * 100)
    }

    /// The value in hundredths.
    pub const fn get(self) -> i32 {
        self.0
    }

    /// Whether the value is a whole number.
    pub const fn is_whole(self) -> bool {
        self.0 % 100 == 0
    }

    /// The largest magnitude read, in hundredths: display numbers are kept
    /// below 167,772.16 (what the `f32` reading of before held exactly).
    const MAX_ABS: u64 = 16_777_215;

    /// A JSON number's text (`1`, `1.5`, `-2.25`, `15e-1`) to the nearest
    /// hundredth, halves away from zero, in integers only: no float code
    /// on the board. `None` beyond [`Self::MAX_ABS`].
    fn from_number_text(text: &str) -> Option<Self> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa_text, exp) = match digits.find(['e', 'E']) {
            Some(i) => (digits.get(..i)?, digits.get(i + 1..)?),
            None => (digits, "0"),
        };
        // The exponent, clamped far beyond any value that matters here.
        let mut exp10: i64 = 0;
        let (exp_negative, exp_digits) = match exp.as_bytes().first() {
            Some(b'-') => (true, exp.get(1..)?),
            Some(b'+') => (false, exp.get(1..)?),
            _ => (false, exp),
        };
        for b in exp_digits.bytes() {
            exp10 = (exp10 * 10 + i64::from(b.wrapping_sub(b'0'))).min(100_000);
        }
        if exp_negative {
            exp10 = -exp10;
        }
        // Significant digits into a u64; digits that no longer fit only
        // shift the exponent (they are far below a hundredth's rounding).
        let mut mantissa: u64 = 0;
        let mut seen_point = false;
        for b in mantissa_text.bytes() {
            if b == b'.' {
                seen_point = true;
                continue;
            }
            let d = u64::from(b.wrapping_sub(b'0'));
            match mantissa.checked_mul(10).and_then(|m| m.checked_add(d)) {
                Some(m) => {
                    mantissa = m;
                    if seen_point {
                        exp10 -= 1;
                    }
                }
                None if !seen_point => exp10 += 1,
                None => {}
            }
        }
        if mantissa == 0 {
            return Some(Self(0));
        }
        let shift = exp10 + 2;
        let hundredths = if shift >= 0 {
            let scale = 10u64.checked_pow(u32::try_from(shift).ok()?)?;
            mantissa.checked_mul(scale)?
        } else {
            match 10u64.checked_pow(u32::try_from(-shift).ok()?) {
                Some(scale) => {
                    let (q, r) = (mantissa / scale, mantissa % scale);
                    if r >= scale - r {
                        q + 1
                    } else {
                        q
                    }
                }
                // 10^20 and more: below 0.18 of a hundredth.
                None => 0,
            }
        };
        if hundredths > Self::MAX_ABS {
            return None;
        }
        // In range (checked above): fits i32.
        let v = i32::try_from(hundredths).ok()?;
        Some(Self(if negative { -v } else { v }))
    }
}

impl fmt::Display for Hundredths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (whole, frac) = (abs / 100, abs % 100);
        if frac == 0 {
            write!(f, "{sign}{whole}")
        } else if frac % 10 == 0 {
            write!(f, "{sign}{whole}.{}", frac / 10)
        } else {
            write!(f, "{sign}{whole}.{frac:02}")
        }
    }
}

impl Encode for Hundredths {
    /// A whole value as an integer (`1`), otherwise the shortest decimal
    /// (`1.5`, `1.25`): what Java writes for these doubles.
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        use fmt::Write as _;
        // "-167772.15": ten bytes.
        let mut text = String::<12>::new();
        let _ = write!(text, "{self}");
        w.number_text(&text)
    }
}

impl Decode for Hundredths {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::from_number_text(r.number()?).ok_or(DecodeError::Invalid)
    }
    fn placeholder() -> Self {
        Self(0)
    }
}

/// A free-form member that is accepted in any shape and never re-encoded
/// (`additionalAmounts`, `additionalDescriptions`). Its presence is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Skipped;

impl Decode for Skipped {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.skip().map(|()| Skipped)
    }
    fn placeholder() -> Self {
        Skipped
    }
}

/// Text printed for the customer (a slip line, a redeem instruction,
/// barcode data). It may hold the voucher PIN, so `Debug` shows every digit
/// as `*`; [`PrintText::as_str`] gives the real text for the printer.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct PrintText<const N: usize>(String<N>);

impl<const N: usize> PrintText<N> {
    /// Copy `text` in; `None` if it is longer than `N` bytes.
    pub fn try_from_str(text: &str) -> Option<Self> {
        String::try_from(text).ok().map(Self)
    }

    /// The real text, for the printer.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl<const N: usize> fmt::Debug for PrintText<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        f.write_char('"')?;
        for c in self.0.chars() {
            f.write_char(if c.is_ascii_digit() { '*' } else { c })?;
        }
        f.write_char('"')
    }
}

impl<const N: usize> Encode for PrintText<N> {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.str(self.0.as_str())
    }
}

impl<const N: usize> Decode for PrintText<N> {
    /// Longer text is cut at `N` bytes (a character boundary), never
    /// refused: display text must not make a paid answer unreadable.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut place = Self::placeholder();
        Self::decode_in(r, &mut place)?;
        Ok(place)
    }
    fn decode_in(r: &mut Reader<'_>, place: &mut Self) -> Result<(), DecodeError> {
        truncated_text(r, &mut place.0)
    }
    fn placeholder() -> Self {
        Self(String::new())
    }
}

// ---------------------------------------------------------------------------
// Parties
// ---------------------------------------------------------------------------

/// An institution: originator, client, settlement entity, receiver, an
/// MSISDN's operator or a payment method's issuer.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct Institution {
    /// Electrum's id for the institution.
    pub id: String<INSTITUTION_ID_CAP>,
    /// Its name (at most 40 characters).
    pub name: String<INSTITUTION_NAME_CAP>,
}

/// Where the merchant is: `{ name, city, region, country }`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct MerchantName {
    /// Trading name (at most 23 characters when sent).
    pub name: String<MERCHANT_NAME_CAP>,
    /// City (at most 13 when sent).
    pub city: String<MERCHANT_CITY_CAP>,
    /// State or region (at most 2 when sent, e.g. `WC`).
    pub region: String<MERCHANT_REGION_CAP>,
    /// Country (at most 2 when sent, e.g. `ZA`).
    pub country: String<COUNTRY_CAP>,
}

/// The card acceptor.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct Merchant {
    /// Four-digit merchant category code (`5411`).
    pub merchant_type: String<MERCHANT_TYPE_CAP>,
    /// Card acceptor id (exactly 15 characters when sent).
    pub merchant_id: String<MERCHANT_ID_CAP>,
    /// Name and location.
    pub merchant_name: MerchantName,
}

/// Who originated the transaction: institution, terminal, merchant.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct Originator {
    /// The originating institution.
    pub institution: Institution,
    /// The terminal (exactly 8 characters when sent).
    pub terminal_id: String<TERMINAL_ID_CAP>,
    /// The merchant.
    pub merchant: Merchant,
    /// The person operating the terminal.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub operator_id: Option<String<OPERATOR_ID_CAP>>,
    /// The channel the transaction came through.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String<CHANNEL_ID_CAP>>,
}

/// Why an [`Originator`] would be refused by Electrum's validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OriginatorError {
    /// `terminalId` is not exactly 8 characters.
    TerminalId,
    /// `merchant.merchantType` is not 4 digits.
    MerchantType,
    /// `merchant.merchantId` is not exactly 15 characters.
    MerchantId,
    /// `merchantName.name` is longer than 23 characters.
    MerchantName,
    /// `merchantName.city` is longer than 13 characters.
    MerchantCity,
    /// `merchantName.region` is longer than 2 characters.
    MerchantRegion,
    /// `merchantName.country` is longer than 2 characters.
    MerchantCountry,
}

impl fmt::Display for OriginatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TerminalId => "terminalId must be exactly 8 characters",
            Self::MerchantType => "merchantType must be 4 digits",
            Self::MerchantId => "merchantId must be exactly 15 characters",
            Self::MerchantName => "merchant name longer than 23 characters",
            Self::MerchantCity => "merchant city longer than 13 characters",
            Self::MerchantRegion => "merchant region longer than 2 characters",
            Self::MerchantCountry => "merchant country longer than 2 characters",
        })
    }
}

impl core::error::Error for OriginatorError {}

/// Length rules are in characters, as Java's `@Length` counts them.
fn chars(text: &str) -> usize {
    text.chars().count()
}

impl Originator {
    /// Check the interface's rules before sending: `terminalId` exactly 8,
    /// `merchantId` exactly 15, `merchantType` 4 digits, merchant name ≤ 23,
    /// city ≤ 13, region ≤ 2, country ≤ 2. (Institution name ≤ 40,
    /// operatorId ≤ 30 and channelId ≤ 50 hold by capacity.)
    pub fn validate(&self) -> Result<(), OriginatorError> {
        type E = OriginatorError;
        let check = |ok: bool, err: E| if ok { Ok(()) } else { Err(err) };
        check(chars(&self.terminal_id) == 8, E::TerminalId)?;
        let mcc = self.merchant.merchant_type.as_bytes();
        check(
            mcc.len() == 4 && mcc.iter().all(u8::is_ascii_digit),
            E::MerchantType,
        )?;
        check(chars(&self.merchant.merchant_id) == 15, E::MerchantId)?;
        let name = &self.merchant.merchant_name;
        check(chars(&name.name) <= 23, E::MerchantName)?;
        check(chars(&name.city) <= 13, E::MerchantCity)?;
        check(chars(&name.region) <= 2, E::MerchantRegion)?;
        check(chars(&name.country) <= 2, E::MerchantCountry)
    }
}

/// One party's reference for the transaction.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct ThirdPartyIdentifier {
    /// The party's institution id.
    pub institution_id: String<INSTITUTION_ID_CAP>,
    /// The party's reference.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub transaction_identifier: Option<String<TRANSACTION_IDENTIFIER_CAP>>,
}

/// The `thirdPartyIdentifiers` array.
pub type ThirdPartyIdentifiers = Vec<ThirdPartyIdentifier, MAX_THIRD_PARTY_IDENTIFIERS>;

/// A label for grouping or finding transactions afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct TransactionLabel {
    /// The agreed label name (cut to fit: labels decide nothing).
    #[json(decode_with = "truncated_text")]
    pub name: String<LABEL_NAME_CAP>,
    /// The label's value (cut to fit).
    #[json(
        default,
        skip_serializing_if = "Option::is_none",
        decode_with = "lenient_text"
    )]
    pub value: Option<String<LABEL_VALUE_CAP>>,
}

// ---------------------------------------------------------------------------
// Slip
// ---------------------------------------------------------------------------

/// A barcode printed on a slip line.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct Barcode {
    /// The encoded data (may be a voucher number: masked in `Debug`).
    pub data: PrintText<BARCODE_DATA_CAP>,
    /// The symbology (`ITF`).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String<BARCODE_ENCODING_CAP>>,
}

/// One line of the customer slip.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct SlipLine {
    /// A barcode for this line.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub barcode: Option<Barcode>,
    /// The text (digits masked in `Debug`).
    pub text: PrintText<SLIP_LINE_CAP>,
    /// Font width scale (absent means 1).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub font_width_scale_factor: Option<Hundredths>,
    /// Font height scale (absent means 1).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub font_height_scale_factor: Option<Hundredths>,
    /// Print a solid line (absent means false).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<bool>,
    /// Cut the slip here (absent means false).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<bool>,
}

impl SlipLine {
    /// A plain text line; `None` if longer than [`SLIP_LINE_CAP`] bytes.
    pub fn text(text: &str) -> Option<Self> {
        Some(Self {
            barcode: None,
            text: PrintText::try_from_str(text)?,
            font_width_scale_factor: None,
            font_height_scale_factor: None,
            line: None,
            cut: None,
        })
    }

    /// The width scale, 1 when absent.
    pub fn width_scale(&self) -> Hundredths {
        self.font_width_scale_factor.unwrap_or(Hundredths::ONE)
    }

    /// The height scale, 1 when absent.
    pub fn height_scale(&self) -> Hundredths {
        self.font_height_scale_factor.unwrap_or(Hundredths::ONE)
    }

    /// Whether to print a solid line.
    pub fn is_line(&self) -> bool {
        self.line.unwrap_or(false)
    }

    /// Whether to cut the slip at this line.
    pub fn is_cut(&self) -> bool {
        self.cut.unwrap_or(false)
    }
}

/// Data to print on the customer slip.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct SlipData {
    /// The lines, in order.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub message_lines: Option<Vec<SlipLine, MAX_SLIP_LINES>>,
    /// Slip width in normal characters (Java `int`; 0 when unset).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub slip_width: Option<i32>,
    /// The issuer's reference for refunds (`[A-Z0-9]{1,40}`).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub issuer_reference: Option<String<ISSUER_REFERENCE_CAP>>,
}

impl SlipData {
    /// The lines (empty when absent).
    pub fn lines(&self) -> &[SlipLine] {
        self.message_lines.as_deref().unwrap_or(&[])
    }
}

// ---------------------------------------------------------------------------
// Amounts, tenders, payment methods
// ---------------------------------------------------------------------------

/// The amounts of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct Amounts {
    /// What was asked for.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub request_amount: Option<LedgerAmount>,
    /// What was approved.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub approved_amount: Option<LedgerAmount>,
    /// Fees.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub fee_amount: Option<LedgerAmount>,
    /// A balance.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub balance_amount: Option<LedgerAmount>,
    /// A free-form map of further amounts: accepted in any shape, not kept
    /// and not re-encoded (`Some` records that it was present).
    #[json(default, skip_serializing)]
    pub additional_amounts: Option<Skipped>,
}

impl Amounts {
    /// Only a request amount.
    pub fn request(amount: LedgerAmount) -> Self {
        Self {
            request_amount: Some(amount),
            ..Self::default()
        }
    }
}

/// A payment already collected at the till.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct Tender {
    /// The account type (Electrum's default is `DEFAULT`).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<AccountType>,
    /// How much.
    pub amount: LedgerAmount,
    /// A PCI-masked card number, at most the first 6 digits in the clear
    /// (masked again in `Debug`).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub card_number: Option<Masked<CARD_NUMBER_CAP, CardMask>>,
    /// The tender's reference (at most 40 characters).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String<TENDER_REFERENCE_CAP>>,
    /// How the customer paid.
    pub tender_type: TenderType,
}

/// The `tenders` array.
pub type Tenders = Vec<Tender, MAX_TENDERS>;

/// A payment still to be collected from a third party.
///
/// Only the members common to every kind are kept. The subtype members
/// (card PAN and PIN block, wallet id, AN32 token, QR ids) are credentials
/// this terminal never sends — it tenders at the till — and are skipped
/// when decoding.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct PaymentMethod {
    /// The kind of payment (selects the subtype).
    #[json(rename = "type")]
    pub method_type: PaymentMethodType,
    /// The specific method ("Visa").
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String<PAYMENT_METHOD_NAME_CAP>>,
    /// How much.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<LedgerAmount>,
    /// Who manages the payment method.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Institution>,
    /// A stand-in customer id (an MSISDN, an e-mail address): masked.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Masked<PROXY_CAP, AccountMask>>,
    /// What the proxy is.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub proxy_type: Option<ProxyType>,
}

/// The `paymentMethods` array.
pub type PaymentMethods = Vec<PaymentMethod, MAX_PAYMENT_METHODS>;

// ---------------------------------------------------------------------------
// Airtime models
// ---------------------------------------------------------------------------

/// A mobile number with its country and operator.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct Msisdn {
    /// The number (E.164 when sent); masked in `Debug`.
    pub msisdn: Masked<MSISDN_CAP, MsisdnMask>,
    /// ISO 3166 alpha-2 country (`ZA`).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String<COUNTRY_CAP>>,
    /// The network operator.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Institution>,
}

/// Whether `text` matches Electrum's `^\+?[1-9]\d{1,14}` (E.164).
pub fn is_e164(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text).as_bytes();
    matches!(digits.first(), Some(b'1'..=b'9'))
        && (2..=15).contains(&digits.len())
        && digits.iter().all(u8::is_ascii_digit)
}

impl Msisdn {
    /// A number without country or operator; `None` if longer than
    /// [`MSISDN_CAP`].
    pub fn new(msisdn: &str) -> Option<Self> {
        Some(Self {
            msisdn: Masked::try_from_str(msisdn)?,
            country: None,
            operator: None,
        })
    }
}

/// Product descriptions (display text, cut rather than refused).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct Description {
    /// The main description.
    #[json(
        default,
        skip_serializing_if = "Option::is_none",
        decode_with = "lenient_text"
    )]
    pub primary_description: Option<String<PRIMARY_DESCRIPTION_CAP>>,
    /// A short description to show next to the name.
    #[json(
        default,
        skip_serializing_if = "Option::is_none",
        decode_with = "lenient_text"
    )]
    pub short_description: Option<String<SHORT_DESCRIPTION_CAP>>,
    /// A free-form map of further descriptions: accepted, not re-encoded.
    #[json(default, skip_serializing)]
    pub additional_descriptions: Option<Skipped>,
}

/// How long a product stays valid.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct ValidityPeriod {
    /// Number of units.
    pub duration: i64,
    /// The unit.
    pub duration_unit: DurationUnit,
}

/// One component of a product (600 MB, 30 minutes).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct ProductContent {
    /// Quantity.
    pub amount: i64,
    /// Unit of the quantity.
    pub unit: ProductUnit,
}

/// How a product is listed on one sales channel.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct ChannelProductListing {
    /// The channel (`USSD`, `APP+IBank`).
    pub channel_name: String<CHANNEL_NAME_CAP>,
    /// The product's name on this channel.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub product_display_name: Option<String<DISPLAY_NAME_CAP>>,
    /// A display category on this channel.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub product_display_category: Option<String<DISPLAY_NAME_CAP>>,
    /// A menu sort order (a Java `double`).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub product_display_sort_order: Option<Hundredths>,
    /// The channel's own id for the product.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub channel_product_identifier: Option<String<CHANNEL_PRODUCT_ID_CAP>>,
}

/// An airtime product.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct Product {
    /// Recharges the recipient directly (`true`) or yields a voucher.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub is_direct_topup: Option<bool>,
    /// The vendor's product code (`[0-9A-Za-z]{1,20}` when sent).
    pub product_id: String<PRODUCT_ID_CAP>,
    /// An alternative identifier (`[0-9A-Za-z]{1,13}` when sent).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String<PRODUCT_BARCODE_CAP>>,
    /// Name (at most 120 characters).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String<PRODUCT_NAME_CAP>>,
    /// Descriptions.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    /// Kind of product.
    #[json(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub product_type: Option<ProductType>,
    /// What the merchant pays.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub wholesale_price: Option<LedgerAmount>,
    /// What the recipient gets.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub recipient_amount: Option<LedgerAmount>,
    /// The product's value, in one or more currencies.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub product_values: Option<Vec<LedgerAmount, MAX_PRODUCT_VALUES>>,
    /// How long it stays valid.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub validity_period: Option<ValidityPeriod>,
    /// What it contains.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub product_contents: Option<Vec<ProductContent, MAX_PRODUCT_CONTENTS>>,
    /// The network operator.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Institution>,
    /// How sales channels list it.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Capped<ChannelProductListing, MAX_CHANNELS>>,
}

impl Product {
    /// A product reference for a request: only the id (and type).
    pub fn reference(product_id: &str, product_type: Option<ProductType>) -> Option<ProductRef> {
        Some(ProductRef {
            product_id: String::try_from(product_id).ok()?,
            barcode: None,
            product_type,
        })
    }
}

/// The product a request asks for: the interface's `Product` with the
/// members that identify it (`productId`, and `barcode` or `type` when
/// known). A request names a product; its name, prices and listings are
/// the vendor's to answer with (a [`Product`]), and a request type that
/// carried them would encode and reserve them for nothing.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct ProductRef {
    /// The vendor's product code (`[0-9A-Za-z]{1,20}`).
    pub product_id: String<PRODUCT_ID_CAP>,
    /// An alternative identifier (`[0-9A-Za-z]{1,13}` when sent).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String<PRODUCT_BARCODE_CAP>>,
    /// Kind of product.
    #[json(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub product_type: Option<ProductType>,
}

/// A list that keeps its first `N` elements and skips the rest, so a
/// longer array than the terminal has room for still decodes. Skipped
/// elements are still read (and must be well-formed JSON), then counted in
/// [`Capped::dropped`]. Re-encoding writes the kept elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capped<T, const N: usize> {
    items: Vec<T, N>,
    dropped: usize,
}

impl<T, const N: usize> Capped<T, N> {
    /// An empty list.
    pub const fn new() -> Self {
        Self {
            items: Vec::new(),
            dropped: 0,
        }
    }

    /// Add an element; gives it back when the list is full.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        self.items.push(item)
    }

    /// How many elements beyond `N` were skipped when decoding.
    pub fn dropped(&self) -> usize {
        self.dropped
    }
}

impl<T, const N: usize> Default for Capped<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> core::ops::Deref for Capped<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<T: Encode, const N: usize> Encode for Capped<T, N> {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.items.encode(w)
    }
}

impl<T: Decode, const N: usize> Decode for Capped<T, N> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut list = Capped::new();
        r.array(&mut |r| {
            if list.items.is_full() {
                list.dropped = list.dropped.saturating_add(1);
                return r.skip();
            }
            let item = T::decode(r)?;
            // Not full: checked above.
            let _ = list.items.push(item);
            Ok(())
        })?;
        Ok(list)
    }
    fn placeholder() -> Self {
        Self::new()
    }
}

/// A list of products (`GET products`,
/// `MsisdnInfoResponse.availableProducts`): the first [`MAX_PRODUCTS`] are
/// kept, further ones counted in [`Capped::dropped`].
pub type ProductList = Capped<Product, MAX_PRODUCTS>;

impl<const N: usize> Capped<Product, N> {
    /// The first product with this id.
    pub fn find(&self, product_id: &str) -> Option<&Product> {
        self.items.iter().find(|p| p.product_id == product_id)
    }
}

/// A promotion for the looked-up subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct Promotion {
    /// What the promotion is (display text, cut rather than refused).
    #[json(decode_with = "truncated_text")]
    pub promotion: String<PROMOTION_CAP>,
    /// When it starts.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<Timestamp>,
    /// When it ends.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<Timestamp>,
}

/// A voucher: the PIN the customer redeems, and how.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct Voucher {
    /// The PIN (`[0-9]{1,20}`): never shown in `Debug`.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<Masked<PIN_CAP, PinMask>>,
    /// When it expires.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<Timestamp>,
    /// The vendor's serial number (cannot redeem the voucher).
    pub serial_number: String<SERIAL_NUMBER_CAP>,
    /// The vendor's batch number.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub batch_number: Option<String<SERIAL_NUMBER_CAP>>,
    /// Lines to print for the customer (digits masked in `Debug`).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub redeem_instructions: Option<Vec<PrintText<REDEEM_LINE_CAP>, MAX_REDEEM_LINES>>,
}

impl Voucher {
    /// The redeem instructions (empty when absent).
    pub fn instructions(&self) -> &[PrintText<REDEEM_LINE_CAP>] {
        self.redeem_instructions.as_deref().unwrap_or(&[])
    }
}

// ---------------------------------------------------------------------------
// Request-side validation
// ---------------------------------------------------------------------------

/// Why a request would be refused by Electrum's validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RequestError {
    /// The originator breaks a rule.
    Originator(OriginatorError),
    /// An MSISDN is not E.164 (`^\+?[1-9]\d{1,14}`).
    Msisdn,
    /// `product.productId` is not 1–20 letters or digits.
    ProductId,
    /// `product.barcode` is not 1–13 letters or digits.
    ProductBarcode,
    /// A tender card number is not a masked PAN (`[0-9]{6}[0-9*]{0,13}`).
    CardNumber,
}

impl From<OriginatorError> for RequestError {
    fn from(e: OriginatorError) -> Self {
        Self::Originator(e)
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Originator(e) => write!(f, "{e}"),
            Self::Msisdn => f.write_str("MSISDN is not E.164"),
            Self::ProductId => f.write_str("productId must be 1 to 20 letters or digits"),
            Self::ProductBarcode => {
                f.write_str("product barcode must be 1 to 13 letters or digits")
            }
            Self::CardNumber => f.write_str("card number is not a masked PAN"),
        }
    }
}

impl core::error::Error for RequestError {}

fn alnum(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn validate_msisdn(m: &Msisdn) -> Result<(), RequestError> {
    if !is_e164(m.msisdn.as_str()) {
        return Err(RequestError::Msisdn);
    }
    Ok(())
}

fn validate_product(p: &ProductRef) -> Result<(), RequestError> {
    if !alnum(&p.product_id, 20) {
        return Err(RequestError::ProductId);
    }
    if let Some(b) = &p.barcode {
        if !alnum(b, 13) {
            return Err(RequestError::ProductBarcode);
        }
    }
    Ok(())
}

fn validate_tenders(tenders: Option<&Tenders>) -> Result<(), RequestError> {
    // A reference of at most 40 characters holds by capacity.
    for t in tenders.into_iter().flatten() {
        if let Some(card) = &t.card_number {
            let b = card.as_str().as_bytes();
            let ok = (6..=19).contains(&b.len())
                && b.iter().take(6).all(u8::is_ascii_digit)
                && b.iter().skip(6).all(|c| c.is_ascii_digit() || *c == b'*');
            if !ok {
                return Err(RequestError::CardNumber);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Transaction messages
// ---------------------------------------------------------------------------

/// Declare a message on Electrum's `Transaction` base: the base members
/// first, then the message's own. `client` is required in requests and
/// optional in responses (the test pack's VoucherResponse has none).
/// `slipData` is declared by the responses only: a slip is the vendor's
/// answer, and a request that carried one would reserve ~3 KiB for nothing
/// (a decoded request skips it).
macro_rules! transaction_message {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(#[$cmeta:meta])*
            client: $client:ty,
            $( $(#[$fmeta:meta])* pub $field:ident : $fty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
        #[json(rename_all = "camelCase")]
        pub struct $name {
            /// Labels to find or group the transaction by (never used for
            /// processing decisions): the first [`MAX_TRANSACTION_LABELS`]
            /// are kept.
            #[json(
                default,
                skip_serializing_if = "Option::is_none",
                decode_with = "crate::json::lenient::capped_vec_opt"
            )]
            pub transaction_labels: Option<Vec<TransactionLabel, MAX_TRANSACTION_LABELS>>,
            /// The UUID of this transaction (v4 when this terminal makes it).
            pub id: Uuid,
            /// When the sender sent it (RFC 3339, milliseconds).
            pub time: Timestamp,
            /// Who originated it.
            pub originator: Originator,
            /// The institution that sent it to Electrum.
            $(#[$cmeta])*
            pub client: $client,
            /// Who settles it.
            #[json(default, skip_serializing_if = "Option::is_none")]
            pub settlement_entity: Option<Institution>,
            /// Who receives it (the vendor).
            #[json(default, skip_serializing_if = "Option::is_none")]
            pub receiver: Option<Institution>,
            /// Each party's reference: the first
            /// [`MAX_THIRD_PARTY_IDENTIFIERS`] are kept.
            #[json(decode_with = "capped_vec")]
            pub third_party_identifiers: ThirdPartyIdentifiers,
            /// The POS basket (skipped when longer than its capacity: it
            /// is echoed, and a cut one would be wrong).
            #[json(
                default,
                skip_serializing_if = "Option::is_none",
                decode_with = "short_text"
            )]
            pub basket_ref: Option<String<BASKET_REF_CAP>>,
            /// Transaction type.
            #[json(default, skip_serializing_if = "Option::is_none")]
            pub tran_type: Option<TranType>,
            /// Source account type.
            #[json(default, skip_serializing_if = "Option::is_none")]
            pub src_acc_type: Option<AccountType>,
            /// Destination account type.
            #[json(default, skip_serializing_if = "Option::is_none")]
            pub dest_acc_type: Option<AccountType>,
            /// System trace audit number.
            #[json(default, skip_serializing_if = "Option::is_none")]
            pub stan: Option<String<STAN_CAP>>,
            /// Retrieval reference number.
            #[json(default, skip_serializing_if = "Option::is_none")]
            pub rrn: Option<String<RRN_CAP>>,
            $( $(#[$fmeta])* pub $field: $fty, )*
        }
    };
}

transaction_message! {
    /// `POST purchases` and `POST purchases/trials`: buy (or try) a
    /// product for an MSISDN.
    pub struct PurchaseRequest {
        client: Institution,
        /// What is asked for.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub amounts: Option<Amounts>,
        /// What to buy.
        pub product: ProductRef,
        /// Payments collected at the till.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub tenders: Option<Tenders>,
        /// Payments to be collected from third parties.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub payment_methods: Option<PaymentMethods>,
        /// Who receives the airtime.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub recipient_msisdn: Option<Msisdn>,
        /// Who sends it.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub sender_msisdn: Option<Msisdn>,
    }
}

transaction_message! {
    /// The answer to a purchase (201), a trial (200) or a status query
    /// (200).
    pub struct PurchaseResponse {
        #[json(default, skip_serializing_if = "Option::is_none")]
        client: Option<Institution>,
        /// What was approved, fees, balances.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub amounts: Option<Amounts>,
        /// What was bought (required by the interface, optional here so a
        /// paid voucher is never lost to a missing echo).
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub product: Option<Product>,
        /// The number topped up.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub msisdn: Option<Msisdn>,
        /// The voucher, for voucher products.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub voucher: Option<Voucher>,
        /// Data to print on the customer slip.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub slip_data: Option<SlipData>,
    }
}

transaction_message! {
    /// `POST vouchers/{requestId}`: provision a voucher.
    pub struct VoucherRequest {
        client: Institution,
        /// What is asked for.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub amounts: Option<Amounts>,
        /// The voucher product.
        pub product: ProductRef,
        /// Payments collected at the till.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub tenders: Option<Tenders>,
        /// Payments to be collected from third parties.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub payment_methods: Option<PaymentMethods>,
    }
}

transaction_message! {
    /// The answer to a voucher provision (201).
    pub struct VoucherResponse {
        #[json(default, skip_serializing_if = "Option::is_none")]
        client: Option<Institution>,
        /// What was approved, fees, balances.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub amounts: Option<Amounts>,
        /// The product provisioned.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub response_product: Option<Product>,
        /// The voucher.
        pub voucher: Voucher,
        /// Data to print on the customer slip.
        #[json(default, skip_serializing_if = "Option::is_none")]
        pub slip_data: Option<SlipData>,
    }
}

impl PurchaseRequest {
    /// Check the interface's rules before sending (originator, product id
    /// and barcode, E.164 MSISDNs, tender card numbers).
    pub fn validate(&self) -> Result<(), RequestError> {
        self.originator.validate()?;
        validate_product(&self.product)?;
        for m in [&self.recipient_msisdn, &self.sender_msisdn]
            .into_iter()
            .flatten()
        {
            validate_msisdn(m)?;
        }
        validate_tenders(self.tenders.as_ref())
    }
}

impl VoucherRequest {
    /// Check the interface's rules before sending (originator, product id
    /// and barcode, tender card numbers).
    pub fn validate(&self) -> Result<(), RequestError> {
        self.originator.validate()?;
        validate_product(&self.product)?;
        validate_tenders(self.tenders.as_ref())
    }
}

impl PurchaseResponse {
    /// The voucher, for voucher products.
    pub fn voucher(&self) -> Option<&Voucher> {
        self.voucher.as_ref()
    }

    /// The slip lines (empty when there is no slip).
    pub fn slip_lines(&self) -> &[SlipLine] {
        self.slip_data.as_ref().map_or(&[], SlipData::lines)
    }

    /// The approved amount, if the response carries one.
    pub fn approved_amount(&self) -> Option<&LedgerAmount> {
        self.amounts.as_ref()?.approved_amount.as_ref()
    }

    /// The identifiers to echo, unaltered, in the confirmation or reversal.
    pub fn third_party_identifiers(&self) -> &[ThirdPartyIdentifier] {
        &self.third_party_identifiers
    }

    /// The confirmation (`TenderAdvice`) of this purchase: advice `id`, the
    /// purchase request's `id`, and this answer's identifiers, stan, rrn
    /// and amounts, unaltered.
    pub fn confirmation(
        &self,
        id: Uuid,
        request_id: Uuid,
        time: Timestamp,
        tenders: Option<Tenders>,
    ) -> TenderAdvice {
        TenderAdvice {
            id,
            request_id,
            time,
            third_party_identifiers: self.third_party_identifiers.clone(),
            stan: self.stan.clone(),
            rrn: self.rrn.clone(),
            amounts: self.amounts.clone(),
            tenders,
        }
    }
}

impl VoucherResponse {
    /// The voucher.
    pub fn voucher(&self) -> &Voucher {
        &self.voucher
    }

    /// The slip lines (empty when there is no slip).
    pub fn slip_lines(&self) -> &[SlipLine] {
        self.slip_data.as_ref().map_or(&[], SlipData::lines)
    }

    /// The approved amount, if the response carries one.
    pub fn approved_amount(&self) -> Option<&LedgerAmount> {
        self.amounts.as_ref()?.approved_amount.as_ref()
    }

    /// The identifiers to echo, unaltered, in the confirmation or reversal.
    pub fn third_party_identifiers(&self) -> &[ThirdPartyIdentifier] {
        &self.third_party_identifiers
    }
}

// ---------------------------------------------------------------------------
// Advices
// ---------------------------------------------------------------------------

/// An advice without tenders (Electrum's `BasicAdvice`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct BasicAdvice {
    /// The UUID of this advice (the same on every repeat).
    pub id: Uuid,
    /// The `id` of the request it is about.
    pub request_id: Uuid,
    /// When the sender sent it.
    pub time: Timestamp,
    /// The response's identifiers, unaltered (or the request's if no
    /// response came).
    pub third_party_identifiers: ThirdPartyIdentifiers,
    /// System trace audit number.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub stan: Option<String<STAN_CAP>>,
    /// Retrieval reference number.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub rrn: Option<String<RRN_CAP>>,
    /// Amounts.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amounts: Option<Amounts>,
}

/// The body of a 202 to a voucher confirmation or reversal. The same
/// members as [`BasicAdvice`], all but the ids and time optional, since the
/// terminal only needs the status.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct BasicAdviceResponse {
    /// The UUID of the advice answered.
    pub id: Uuid,
    /// The `id` of the original request.
    pub request_id: Uuid,
    /// When the answer was sent.
    pub time: Timestamp,
    /// The identifiers.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub third_party_identifiers: Option<ThirdPartyIdentifiers>,
    /// System trace audit number.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub stan: Option<String<STAN_CAP>>,
    /// Retrieval reference number.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub rrn: Option<String<RRN_CAP>>,
    /// Amounts.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amounts: Option<Amounts>,
}

/// `POST purchases/confirmations`: the customer paid; Electrum's
/// `TenderAdvice` (`PurchaseConfirmation`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct TenderAdvice {
    /// The UUID of this confirmation (the same on every repeat).
    pub id: Uuid,
    /// The purchase request's `id`.
    pub request_id: Uuid,
    /// When the sender sent it.
    pub time: Timestamp,
    /// The response's identifiers, unaltered.
    pub third_party_identifiers: ThirdPartyIdentifiers,
    /// System trace audit number.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub stan: Option<String<STAN_CAP>>,
    /// Retrieval reference number.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub rrn: Option<String<RRN_CAP>>,
    /// Amounts.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amounts: Option<Amounts>,
    /// How the customer paid.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub tenders: Option<Tenders>,
}

/// Electrum's name for a purchase confirmation body.
pub type PurchaseConfirmation = TenderAdvice;

impl TenderAdvice {
    /// Check the tenders before sending.
    pub fn validate(&self) -> Result<(), RequestError> {
        validate_tenders(self.tenders.as_ref())
    }
}

/// `POST vouchers/{requestId}/confirmations/{confirmationId}`: the
/// customer paid for the voucher.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct VoucherConfirmation {
    /// The UUID of this confirmation (`confirmationId` in the path).
    pub id: Uuid,
    /// The voucher request's `id` (`requestId` in the path).
    pub request_id: Uuid,
    /// When the sender sent it.
    pub time: Timestamp,
    /// The response's identifiers, unaltered.
    pub third_party_identifiers: ThirdPartyIdentifiers,
    /// System trace audit number.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub stan: Option<String<STAN_CAP>>,
    /// Retrieval reference number.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub rrn: Option<String<RRN_CAP>>,
    /// Amounts.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amounts: Option<Amounts>,
    /// How the customer paid.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub tenders: Option<Tenders>,
    /// The voucher confirmed (without its PIN, which is sensitive).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub voucher: Option<Voucher>,
}

impl VoucherConfirmation {
    /// Check the tenders before sending.
    pub fn validate(&self) -> Result<(), RequestError> {
        validate_tenders(self.tenders.as_ref())
    }
}

/// `POST purchases/reversals` and `POST vouchers/{requestId}/reversals/{reversalId}`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct BasicReversal {
    /// The UUID of this reversal (the same on every repeat).
    pub id: Uuid,
    /// The original request's `id`.
    pub request_id: Uuid,
    /// When the sender sent it.
    pub time: Timestamp,
    /// The response's identifiers, unaltered (or the request's).
    pub third_party_identifiers: ThirdPartyIdentifiers,
    /// System trace audit number.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub stan: Option<String<STAN_CAP>>,
    /// Retrieval reference number.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub rrn: Option<String<RRN_CAP>>,
    /// Amounts.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amounts: Option<Amounts>,
    /// Why.
    pub reversal_reason: ReversalReason,
}

/// Electrum's name for a purchase reversal body.
pub type PurchaseReversal = BasicReversal;
/// Electrum's name for a voucher reversal body.
pub type VoucherReversal = BasicReversal;

// ---------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------

/// `GET msisdn?msisdn=…`: what can be sold to a number.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[json(rename_all = "camelCase")]
pub struct MsisdnInfoResponse {
    /// The number, with what the provider knows about it.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub msisdn: Option<Msisdn>,
    /// The sender's number.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub sender_msisdn: Option<Msisdn>,
    /// Amounts pertaining to the number.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub amounts: Option<Amounts>,
    /// A promotion for the subscriber.
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<Promotion>,
    /// Products for the subscriber (at most [`MAX_PRODUCTS`] kept).
    #[json(default, skip_serializing_if = "Option::is_none")]
    pub available_products: Option<ProductList>,
}

impl MsisdnInfoResponse {
    /// The products (empty when absent).
    pub fn products(&self) -> &[Product] {
        self.available_products.as_deref().unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{self, DecodeError};
    use crate::money::Currency;
    use std::format;
    use std::string::ToString;

    fn s<const N: usize>(text: &str) -> String<N> {
        String::try_from(text).unwrap()
    }

    fn originator() -> Originator {
        Originator {
            institution: Institution {
                id: s("666666"),
                name: s("Inst 666666"),
            },
            terminal_id: s("92762011"),
            merchant: Merchant {
                merchant_type: s("5411"),
                merchant_id: s("226001007092764"),
                merchant_name: MerchantName {
                    name: s("Inst 666666"),
                    city: s("Cape Town"),
                    region: s("WC"),
                    country: s("ZA"),
                },
            },
            operator_id: None,
            channel_id: None,
        }
    }

    fn zar(minor: i64) -> LedgerAmount {
        LedgerAmount {
            amount: minor,
            currency: NumericCode::from(Currency::ZAR),
            ledger_indicator: None,
        }
    }

    #[test]
    fn unknown_codes_decode_and_re_encode() {
        let p: Product = json::decode(br#"{"productId":"p1","type":"DATA_NIGHT_BUNDLE"}"#).unwrap();
        let t = p.product_type.unwrap();
        assert!(!t.is_known());
        assert_eq!(t.as_str(), "DATA_NIGHT_BUNDLE");
        let tran: TranType = json::decode(br#""TOP_UP""#).unwrap();
        assert_eq!(tran, TranType::Unknown(s("TOP_UP")));
        let ind: LedgerIndicator = json::decode(br#""NEUTRAL_LEDGER""#).unwrap();
        // Kept truncated to its small capacity, only for logs.
        assert_eq!(ind.as_str(), "NEUTRAL_");
        let unit: DurationUnit = json::decode(br#""FORTNIGHTS""#).unwrap();
        assert!(!unit.is_known());
        let mut buf = [0u8; 32];
        let n = json::encode(&unit, &mut buf).unwrap();
        assert_eq!(&buf[..n], br#""FORTNIGHTS""#);
        // Every documented list is complete.
        assert_eq!(TranType::KNOWN.len(), 24);
        assert_eq!(ProductType::KNOWN.len(), 9);
        assert_eq!(TenderType::KNOWN.len(), 9);
        assert_eq!(AccountType::KNOWN.len(), 8);
        assert_eq!(DurationUnit::KNOWN.len(), 16);
        for code in TranType::KNOWN {
            assert_eq!(&TranType::from_code(code.as_str()), code);
        }
        // Electrum's own UNKNOWN proxy type is not the catch-all.
        assert_eq!(ProxyType::from_code("UNKNOWN"), ProxyType::Unspecified);
    }

    #[test]
    fn ledger_amount_and_amount() {
        let a = Amount::from_minor(5000, Currency::ZAR);
        let l = LedgerAmount::from_amount(a, Some(LedgerIndicator::Debit)).unwrap();
        assert_eq!(l.amount, 5000);
        assert_eq!(l.currency.to_string(), "710");
        assert_eq!(l.to_amount(), Ok(a));
        let mut buf = [0u8; 64];
        let n = json::encode(&l, &mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            br#"{"amount":5000,"currency":"710","ledgerIndicator":"DEBIT"}"#
        );
        let neg = LedgerAmount {
            amount: -1,
            ..zar(0)
        };
        assert_eq!(neg.to_amount(), Err(MoneyError::Negative));
        let odd: LedgerAmount = json::decode(br#"{"amount":120,"currency":"812"}"#).unwrap();
        assert_eq!(odd.to_amount(), Err(MoneyError::UnknownCurrency));
        assert_eq!(
            LedgerAmount::from_amount(Amount::from_minor(u64::MAX, Currency::ZAR), None),
            Err(MoneyError::Overflow)
        );
        // Alphabetic codes and quoted amounts are refused, as the schema does.
        assert_eq!(
            json::decode::<LedgerAmount>(br#"{"amount":1,"currency":"ZAR"}"#),
            Err(DecodeError::Invalid)
        );
        assert_eq!(
            json::decode::<LedgerAmount>(br#"{"amount":"1","currency":"710"}"#),
            Err(DecodeError::WrongType)
        );
    }

    #[test]
    fn hundredths_read_integers_and_fractions() {
        for (text, value) in [
            ("1", 100),
            ("1.0", 100),
            ("1.5", 150),
            ("0.29", 29),
            ("2e0", 200),
            ("-3", -300),
            ("24", 2400),
            // Rounded to the nearest hundredth, halves away from zero.
            ("1.005", 101),
            ("1.0049", 100),
            ("-0.125", -13),
            ("15e-1", 150),
            ("0.15E+1", 150),
            ("0e99999", 0),
            ("1e-30", 0),
            ("167772.15", 16_777_215),
            ("1.00000000000000000000000000001", 100),
        ] {
            let h: Hundredths = json::decode(text.as_bytes()).unwrap();
            assert_eq!(h.get(), value, "{text}");
        }
        for text in ["1e9", "167772.16", "-167772.16", "1e99999"] {
            assert_eq!(
                json::decode::<Hundredths>(text.as_bytes()),
                Err(DecodeError::Invalid),
                "{text}"
            );
        }
        let mut buf = [0u8; 16];
        for (value, text) in [(100, "1"), (150, "1.5"), (125, "1.25"), (-300, "-3")] {
            let n = json::encode(&Hundredths::new(value), &mut buf).unwrap();
            assert_eq!(core::str::from_utf8(&buf[..n]).unwrap(), text);
            assert_eq!(Hundredths::new(value).to_string(), text);
        }
        let line: SlipLine = json::decode(br#"{"text":"x"}"#).unwrap();
        assert_eq!(line.width_scale(), Hundredths::ONE);
        assert!(!line.is_cut() && !line.is_line());
    }

    #[test]
    fn debug_never_shows_pins_msisdns_or_cards() {
        let body = br#"{
            "id":"8d56acbe-70ee-44c9-b6d3-383637ba2e47",
            "time":"2019-09-25T09:50:33.000Z",
            "originator":{"institution":{"id":"1","name":"I"},"terminalId":"92762011",
              "merchant":{"merchantType":"5411","merchantId":"226001007092764",
              "merchantName":{"name":"N","city":"C","region":"WC","country":"ZA"}}},
            "thirdPartyIdentifiers":[],
            "slipData":{"messageLines":[{"text":"PIN: 125805293941"},
              {"text":"x","barcode":{"data":"125805293941","encoding":"ITF"}}]},
            "product":{"productId":"p1"},
            "msisdn":{"msisdn":"27821234567"},
            "voucher":{"pin":"125805293941","serialNumber":"S1",
              "redeemInstructions":["Dial *999*125805293941#"]}
        }"#;
        let r: PurchaseResponse = json::decode(body).unwrap();
        assert_eq!(
            r.voucher().unwrap().pin.as_ref().unwrap().as_str(),
            "125805293941"
        );
        assert_eq!(r.slip_lines()[0].text.as_str(), "PIN: 125805293941");
        let printed = format!("{r:?}");
        for secret in ["125805293941", "2782123", "5293941"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("4567"), "last four of the MSISDN show");

        let tender: Tender = json::decode(
            br#"{"amount":{"amount":1,"currency":"710"},"tenderType":"CREDIT_CARD","cardNumber":"4111111111111111"}"#,
        )
        .unwrap();
        let printed = format!("{tender:?}");
        assert!(!printed.contains("4111111111111111"), "{printed}");
        assert!(printed.contains("411111******1111"), "{printed}");

        let pm: PaymentMethod = json::decode(
            br#"{"type":"WALLET","proxy":"27829998888","proxyType":"MSISDN","pan":"4111111111111111","pin":{"type":"CLEAR_PIN","pin":"1234"}}"#,
        )
        .unwrap();
        let printed = format!("{pm:?}");
        assert!(
            !printed.contains("2782999") && !printed.contains("1234"),
            "{printed}"
        );
    }

    #[test]
    fn originator_validation() {
        let o = originator();
        assert_eq!(o.validate(), Ok(()));
        type Mutation = fn(&mut Originator);
        let cases: [(Mutation, OriginatorError); 8] = [
            (
                |o| o.terminal_id = s("1234567"),
                OriginatorError::TerminalId,
            ),
            (
                |o| o.terminal_id = s("123456789"),
                OriginatorError::TerminalId,
            ),
            (
                |o| o.merchant.merchant_id = s("1111111111"),
                OriginatorError::MerchantId,
            ),
            (
                |o| o.merchant.merchant_type = s("54a1"),
                OriginatorError::MerchantType,
            ),
            (
                |o| o.merchant.merchant_name.name = s("A name of twenty-four ch"),
                OriginatorError::MerchantName,
            ),
            (
                |o| o.merchant.merchant_name.city = s("Port Elizabeth"),
                OriginatorError::MerchantCity,
            ),
            (
                |o| o.merchant.merchant_name.region = s("WCP"),
                OriginatorError::MerchantRegion,
            ),
            (
                |o| o.merchant.merchant_name.country = s("ZAF"),
                OriginatorError::MerchantCountry,
            ),
        ];
        for (mutate, err) in cases {
            let mut o = originator();
            mutate(&mut o);
            assert_eq!(o.validate(), Err(err), "{o:?}");
        }
        // Multi-byte names count characters, as Java does.
        let mut o = originator();
        o.merchant.merchant_name.city = s("Polokwane é");
        assert_eq!(o.validate(), Ok(()));
    }

    #[test]
    fn request_validation() {
        let mut req = PurchaseRequest {
            transaction_labels: None,
            id: Uuid::parse("8d56acbe-70ee-44c9-b6d3-383637ba2e47").unwrap(),
            time: Timestamp::parse("2019-09-25T09:50:33.000Z").unwrap(),
            originator: originator(),
            client: Institution {
                id: s("666666"),
                name: s("Client"),
            },
            settlement_entity: None,
            receiver: None,
            third_party_identifiers: Vec::new(),
            basket_ref: None,
            tran_type: Some(TranType::GoodsAndServices),
            src_acc_type: None,
            dest_acc_type: None,
            stan: None,
            rrn: None,
            amounts: Some(Amounts::request(zar(2000))),
            product: Product::reference("759", Some(ProductType::Data)).unwrap(),
            tenders: None,
            payment_methods: None,
            recipient_msisdn: Msisdn::new("+27821234567"),
            sender_msisdn: None,
        };
        assert_eq!(req.validate(), Ok(()));
        req.recipient_msisdn = Msisdn::new("01821234567");
        assert_eq!(req.validate(), Err(RequestError::Msisdn));
        req.recipient_msisdn = Msisdn::new("27821234567");
        req.product.product_id = s("p-1");
        assert_eq!(req.validate(), Err(RequestError::ProductId));
        req.product.product_id = s("p1");
        req.originator.terminal_id = s("1");
        assert_eq!(
            req.validate(),
            Err(RequestError::Originator(OriginatorError::TerminalId))
        );
        req.originator = originator();
        let mut tenders = Tenders::new();
        tenders
            .push(Tender {
                account_type: None,
                amount: zar(2000),
                card_number: Masked::try_from_str("411111******1111"),
                reference: None,
                tender_type: TenderType::CreditCard,
            })
            .unwrap();
        req.tenders = Some(tenders.clone());
        assert_eq!(req.validate(), Ok(()));
        tenders[0].card_number = Masked::try_from_str("4111*1111");
        req.tenders = Some(tenders);
        assert_eq!(req.validate(), Err(RequestError::CardNumber));
        assert!(is_e164("27749670999") && is_e164("+12"));
        assert!(!is_e164("+0123") && !is_e164("1") && !is_e164("2774967099912345"));
    }

    #[test]
    fn product_lists_keep_the_first_sixteen() {
        let mut body = std::string::String::from("[");
        for i in 0..20 {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&format!(r#"{{"productId":"p{i}","name":"Product {i}"}}"#));
        }
        body.push(']');
        let list: ProductList = json::decode(body.as_bytes()).unwrap();
        assert_eq!(list.len(), MAX_PRODUCTS);
        assert_eq!(list.dropped(), 4);
        assert_eq!(
            list.find("p15").unwrap().name.as_deref(),
            Some("Product 15")
        );
        assert!(list.find("p16").is_none());
        let empty: ProductList = json::decode(b"[]").unwrap();
        assert!(empty.is_empty());
        let mut buf = [0u8; 8];
        let n = json::encode(&empty, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"[]");
    }

    #[test]
    fn free_form_members_never_fail() {
        for extra in [
            r#"{"loyalty":{"amount":5,"currency":"710"}}"#,
            r#"[1,2,{"a":[]}]"#,
            r#""text""#,
            "12.5",
            "true",
            "null",
        ] {
            let body = format!(
                r#"{{"requestAmount":{{"amount":1,"currency":"710"}},"additionalAmounts":{extra}}}"#
            );
            let a: Amounts = json::decode(body.as_bytes()).unwrap();
            assert_eq!(a.request_amount, Some(zar(1)));
            let body =
                format!(r#"{{"primaryDescription":{extra},"additionalDescriptions":{extra}}}"#);
            let d: Description = json::decode(body.as_bytes()).unwrap();
            assert_eq!(
                d.primary_description.as_deref(),
                if extra == r#""text""# {
                    Some("text")
                } else {
                    None
                }
            );
        }
        // Long display text is cut at a character boundary, not refused.
        let long = "é".repeat(100);
        let body = format!(r#"{{"promotion":"{long}","startDate":"2019-09-25T09:50:33.000Z"}}"#);
        let p: Promotion = json::decode(body.as_bytes()).unwrap();
        assert_eq!(p.promotion.len(), PROMOTION_CAP);
        // A slip line that does not fit is cut, not refused: refusing would
        // make a paid purchase unreadable (and reverse it).
        let body = format!(r#"{{"text":"{}"}}"#, "x".repeat(SLIP_LINE_CAP + 10));
        let line: SlipLine = json::decode(body.as_bytes()).unwrap();
        assert_eq!(line.text.as_str().len(), SLIP_LINE_CAP);
    }

    #[test]
    fn empty_arrays_re_encode_as_empty_arrays() {
        let v: Voucher = json::decode(br#"{"serialNumber":"1","redeemInstructions":[]}"#).unwrap();
        let mut buf = [0u8; 64];
        let n = json::encode(&v, &mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            br#"{"serialNumber":"1","redeemInstructions":[]}"#
        );
    }

    #[test]
    fn accessors() {
        let r: PurchaseResponse = json::decode(
            br#"{"id":"8d56acbe-70ee-44c9-b6d3-383637ba2e47","time":"2019-09-25T09:50:33Z",
            "originator":{"institution":{"id":"1","name":"I"},"terminalId":"t",
              "merchant":{"merchantType":"5411","merchantId":"m",
              "merchantName":{"name":"N","city":"C","region":"WC","country":"ZA"}}},
            "thirdPartyIdentifiers":[{"institutionId":"1","transactionIdentifier":"x"}],
            "amounts":{"approvedAmount":{"amount":33,"currency":"710"}}}"#,
        )
        .unwrap();
        assert_eq!(
            r.approved_amount().unwrap().to_amount(),
            Ok(Amount::from_minor(33, Currency::ZAR))
        );
        assert!(r.voucher().is_none() && r.slip_lines().is_empty() && r.client.is_none());
        assert_eq!(r.third_party_identifiers().len(), 1);
    }

    #[test]
    fn sizes_stay_within_budget() {
        use core::mem::size_of;
        let sizes = [
            (
                "PurchaseRequest",
                size_of::<PurchaseRequest>(),
                REQUEST_BUDGET,
            ),
            (
                "VoucherRequest",
                size_of::<VoucherRequest>(),
                REQUEST_BUDGET,
            ),
            (
                "PurchaseResponse",
                size_of::<PurchaseResponse>(),
                PURCHASE_RESPONSE_BUDGET,
            ),
            (
                "VoucherResponse",
                size_of::<VoucherResponse>(),
                VOUCHER_RESPONSE_BUDGET,
            ),
            ("TenderAdvice", size_of::<TenderAdvice>(), ADVICE_BUDGET),
            (
                "VoucherConfirmation",
                size_of::<VoucherConfirmation>(),
                ADVICE_BUDGET,
            ),
            ("BasicReversal", size_of::<BasicReversal>(), ADVICE_BUDGET),
            ("BasicAdvice", size_of::<BasicAdvice>(), ADVICE_BUDGET),
            (
                "BasicAdviceResponse",
                size_of::<BasicAdviceResponse>(),
                ADVICE_BUDGET,
            ),
            ("ProductList", size_of::<ProductList>(), PRODUCT_LIST_BUDGET),
            (
                "MsisdnInfoResponse",
                size_of::<MsisdnInfoResponse>(),
                PRODUCT_LIST_BUDGET,
            ),
            (
                "ErrorDetail",
                size_of::<super::super::error::ErrorDetail>(),
                ADVICE_BUDGET,
            ),
        ];
        for (name, size, budget) in sizes {
            std::println!("{name}: {size} bytes (budget {budget})");
        }
        for (name, size) in [
            ("Product", size_of::<Product>()),
            ("SlipData", size_of::<SlipData>()),
            ("SlipLine", size_of::<SlipLine>()),
            ("Voucher", size_of::<Voucher>()),
            ("Originator", size_of::<Originator>()),
            ("Institution", size_of::<Institution>()),
            ("ThirdPartyIdentifiers", size_of::<ThirdPartyIdentifiers>()),
            ("LedgerAmount", size_of::<LedgerAmount>()),
            ("Amounts", size_of::<Amounts>()),
            ("Tenders", size_of::<Tenders>()),
            ("PaymentMethods", size_of::<PaymentMethods>()),
            ("Msisdn", size_of::<Msisdn>()),
            ("ChannelProductListing", size_of::<ChannelProductListing>()),
            ("Description", size_of::<Description>()),
            ("TranType", size_of::<TranType>()),
            ("ProductType", size_of::<ProductType>()),
        ] {
            std::println!("  {name}: {size} bytes");
        }
        for (name, size, budget) in sizes {
            assert!(size <= budget, "{name} is {size} bytes, over {budget}");
        }
    }
}
