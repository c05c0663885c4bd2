//! Electrum Airtime Service v5: airtime and data top-ups and vouchers.
//!
//! - [`wire`]: every request and response body — purchases (also trials and
//!   status), confirmations and reversals, voucher provision, confirmation
//!   and reversal, MSISDN lookup and product lists — on Electrum's
//!   `Transaction` / `BasicAdvice` base types, with integer minor-unit
//!   [`wire::LedgerAmount`]s and masked MSISDNs, card numbers and PINs.
//! - [`error`]: `ErrorDetail` with the `ErrorType` and `RequestType` codes
//!   (each with an `Unknown` catch-all) and a `detailMessage` of any shape.
//! - [`path`]: the endpoint table under `/airtime/v5`.
//! - [`flow`]: the sale (purchase or voucher, then confirmation or
//!   reversal) and the trial.
//!
//! Authentication is HTTP Basic. The interface says the user name is the
//! originator institution id; the publisher's test server checks it against
//! `client.id` instead, so configure both from one setting.
//!
//! A purchase whose outcome is unknown (500, 504, timeout) is reversed
//! (`TIMEOUT` or `RESPONSE_NOT_FINAL`) or, if the provider cannot reverse,
//! polled with the status query. Confirmations and reversals are advices:
//! stored and repeated with the same `id` until a final answer. A new
//! attempt always takes a new request `id` (a reused one is refused with
//! `DUPLICATE_RECORD`).

pub mod error;
pub mod flow;
pub mod outcome;
pub mod path;
pub mod wire;

pub use error::{DetailMessage, ErrorDetail, ErrorType, RequestType};
pub use path::Operation;
pub use wire::{
    BasicAdvice, BasicAdviceResponse, BasicReversal, LedgerAmount, MsisdnInfoResponse, Product,
    ProductList, ProductRef, PurchaseRequest, PurchaseResponse, TenderAdvice, VoucherConfirmation,
    VoucherRequest, VoucherResponse,
};
