//! Electrum's outcome table, from the outcome rules of Electrum's protocol
//! guide (quoted in `../shared/specs/README.md`, "Outcome rules"):
//!
//! - success: 200, 201, 202 — and 404 on a reversal (nothing to reverse);
//! - unknown: 500, 504, or no response within the timeout;
//! - failed: 400, 404 on a confirmation, 501, 503, anything else.
//!
//! | operation | 2xx | 500, 504, lost after sending | lost before sending | 404 | anything else |
//! |---|---|---|---|---|---|
//! | [`Op::Purchase`] | success; unreadable: resolve (reverse) | resolve | repeat | refused | refused |
//! | [`Op::Confirm`] | success | repeat | repeat | Electrum's: refused; a gateway's: repeat | refused |
//! | [`Op::Reverse`] | success | repeat | repeat | Electrum's: success; a gateway's: repeat | refused |
//! | [`Op::Status`] | success; unreadable: repeat | repeat | repeat | Electrum's: refused (no such purchase); a gateway's: repeat | repeat (a status request has no effect: a failed one is asked again) |
//! | [`Op::Query`] | success; unreadable: repeat | repeat | repeat | refused | refused |
//!
//! A 404 counts as Electrum's only in its own `ErrorDetail` shape: a
//! gateway's page says nothing about the record. The error types that
//! change a refusal's meaning (`DUPLICATE_RECORD` on a purchase,
//! `ACCOUNT_ALREADY_SETTLED` on an advice) are read by [`refusal`].

use super::error::{ErrorDetail, ErrorType};
use crate::http::{Status, StatusClass};
use crate::outcome::{Attempt, Body, Reply, Verdict};

/// The request an answer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Op {
    /// A purchase or a voucher request: moves money.
    Purchase,
    /// A purchase or voucher confirmation (an advice).
    Confirm,
    /// A purchase or voucher reversal (an advice).
    Reverse,
    /// A purchase status request.
    Status,
    /// A trial, an MSISDN lookup or the product list: no money.
    Query,
}

/// What a final refusal of an advice or purchase means, by its error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Refusal {
    /// `DUPLICATE_RECORD` on a purchase: "a reused request id is
    /// rejected … generate a new UUID for a new attempt".
    Duplicate,
    /// `ACCOUNT_ALREADY_SETTLED`: "a confirmed purchase cannot be
    /// reversed; a reversed one cannot be confirmed" — the sale was
    /// settled the other way.
    Settled,
    /// Any other refusal.
    Other,
}

/// The verdict on one answer to `op`. Electrum's rules do not depend on
/// the attempt: advices "repeats have no side effect", and a purchase is
/// only repeated when it cannot have arrived.
pub fn verdict(op: Op, _attempt: Attempt, reply: &Reply<'_, ErrorDetail>) -> Verdict {
    let (status, body) = match reply {
        Reply::Lost(failure) => {
            return match op {
                // "unknown: … no response within the timeout": reverse.
                Op::Purchase if failure.may_have_reached() => Verdict::Resolve,
                // Never sent, or an advice or query: the same again.
                _ => Verdict::Repeat,
            };
        }
        Reply::Http { status, body } => (*status, body),
    };
    let own = matches!(body, Body::Error(_));
    match status.class() {
        // "success: 200, 201, 202".
        StatusClass::Success => match (op, body) {
            (_, Body::Read) => Verdict::Success,
            // A sale we cannot read is not final: reverse it.
            (Op::Purchase, _) => Verdict::Resolve,
            // An advice documents no body; a status or query must be read.
            (Op::Confirm | Op::Reverse, _) => Verdict::Success,
            _ => Verdict::Repeat,
        },
        // "unknown: 500, 504".
        _ if status == Status::INTERNAL_SERVER_ERROR || status == Status::GATEWAY_TIMEOUT => {
            match op {
                Op::Purchase => Verdict::Resolve,
                _ => Verdict::Repeat,
            }
        }
        _ if status == Status::NOT_FOUND => match (op, own) {
            // "404 on a reversal (nothing to reverse)" is a success.
            (Op::Reverse, true) => Verdict::Success,
            // "404 on a confirmation" failed; a status of an unknown
            // purchase: it never arrived.
            (Op::Confirm | Op::Status, true) => Verdict::Refused,
            // A gateway's 404 page on an advice or status: not an answer.
            (Op::Confirm | Op::Reverse | Op::Status, false) => Verdict::Repeat,
            _ => Verdict::Refused,
        },
        // A failed status request leaves the purchase unknown; asking
        // again has no side effect.
        _ if op == Op::Status => Verdict::Repeat,
        // "failed: 400, …, 501, 503, anything else".
        _ => Verdict::Refused,
    }
}

/// What a refusal's error type means.
pub fn refusal(error: Option<&ErrorDetail>) -> Refusal {
    match error.map(|e| &e.error_type) {
        Some(ErrorType::DuplicateRecord) => Refusal::Duplicate,
        Some(ErrorType::AccountAlreadySettled) => Refusal::Settled,
        _ => Refusal::Other,
    }
}
