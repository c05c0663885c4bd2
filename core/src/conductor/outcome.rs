//! Conductor's outcome table: what each answer means, from the API
//! document (`conductor-api-2.3.txt`: "Idempotency", the errors table) and
//! the facts in `../shared/specs/README.md`.
//!
//! | operation | 2xx | 409 | 500 | other 5xx, 408, 429, lost | 4xx in Conductor's shape | 4xx otherwise |
//! |---|---|---|---|---|---|---|
//! | [`Op::Create`], [`Op::Settle`] | success (then [`standing`] of the transaction) | repeat | resolve | repeat | refused; `ALREADY_*`, `IN_PROCESSING` → resolve; 401/403 on a repeat → repeat | first: refused; repeat: repeat |
//! | [`Op::Read`] | success | repeat | repeat | repeat | 404: refused (no such transaction); others repeat | repeat |
//! | [`Op::Query`] | success | repeat | repeat | repeat (501: refused) | refused | refused |
//!
//! An unreadable 2xx: create → repeat (the replay under the key brings the
//! same body, and the record holds the sale); settle → resolve (read the
//! transaction); read and query → repeat.

use super::error::{Code, ErrorResponse};
use super::wire::TransactionStatus;
use crate::http::{Status, StatusClass};
use crate::outcome::{Attempt, Body, Reply, Verdict};

/// The request an answer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Op {
    /// Create a transaction or partner transaction (with or without
    /// `complete: true`), under an idempotency key.
    Create,
    /// Complete or cancel a transaction, under an idempotency key.
    Settle,
    /// `GET` a transaction or partner transaction (a status check).
    Read,
    /// A request that moves no money: enquiry, catalogue, order,
    /// healthcheck, a transaction lookup for the operator.
    Query,
}

/// What a transaction's `status` says about the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Standing {
    /// `COMPLETED` or `ACCEPTED`: the biller is paid.
    Paid,
    /// `CANCELLED` or `REJECTED`: nothing was paid.
    Unpaid,
    /// `ACTIVE`: created, awaiting complete or cancel; no money moved.
    Open,
    /// `IN_PROCESSING` (or a status this terminal does not know): not
    /// final; read the transaction again.
    Processing,
}

/// The transaction statuses of the document's transaction object.
pub fn standing(status: &TransactionStatus) -> Standing {
    match status {
        TransactionStatus::Completed | TransactionStatus::Accepted => Standing::Paid,
        TransactionStatus::Cancelled | TransactionStatus::Rejected => Standing::Unpaid,
        TransactionStatus::Active => Standing::Open,
        TransactionStatus::InProcessing | TransactionStatus::Unknown(_) => Standing::Processing,
    }
}

/// The verdict on one answer to `op`.
pub fn verdict(op: Op, attempt: Attempt, reply: &Reply<'_, ErrorResponse>) -> Verdict {
    let (status, body) = match reply {
        // "if a connection error occurs, you can safely repeat the request"
        // (Idempotency); a GET is idempotent by definition.
        Reply::Lost(_) => return Verdict::Repeat,
        Reply::Http { status, body } => (*status, body),
    };
    let code = match body {
        Body::Error(e) => Some(e.code()),
        _ => None,
    };
    match op {
        Op::Query => query(status, body),
        Op::Read => read(status, code, body),
        Op::Create | Op::Settle => post(op, attempt, status, code, body),
    }
}

fn post(
    op: Op,
    attempt: Attempt,
    status: Status,
    code: Option<&Code>,
    body: &Body<'_, ErrorResponse>,
) -> Verdict {
    match status.class() {
        StatusClass::Success => match (body, op) {
            (Body::Read, _) => Verdict::Success,
            // An unreadable complete or cancel: the transaction says how it ended.
            (_, Op::Settle) => Verdict::Resolve,
            // An unreadable create: the replay under the key brings it again.
            _ => Verdict::Repeat,
        },
        // "409 CONFLICT: conflicts with another request (perhaps due to
        // using the same idempotent key)"; nothing is saved, "safe to retry".
        _ if status == Status::CONFLICT => Verdict::Repeat,
        // 408 and 429: the request was not executed (RFC 9110 §15.5.9,
        // RFC 6585 §4); nothing is saved under the key.
        _ if status == Status(408) || status == Status(429) => Verdict::Repeat,
        // "Subsequent requests with the same key return the same result,
        // including 500 errors": a repeat replays the 500.
        _ if status == Status::INTERNAL_SERVER_ERROR => Verdict::Resolve,
        // Other 5xx: not Conductor's stored answer (a gateway, an outage).
        StatusClass::ServerError => Verdict::Repeat,
        StatusClass::ClientError => match code {
            // "400 IN_PROCESSING Transaction is processing", and the
            // ALREADY_* codes: the transaction knows how it ends.
            Some(c) if c.is_already_final() || *c == Code::InProcessing => Verdict::Resolve,
            // 401, 403 on a repeat: the credentials or the gateway refused
            // this attempt, which says nothing about the first.
            Some(_) if attempt == Attempt::Repeat && is_access(status) => Verdict::Repeat,
            // 400 (validation or a replayed refusal), 404 (no such
            // transaction), 422 (key reused with other parameters): the
            // API's own final answer.
            Some(_) => Verdict::Refused,
            // Not Conductor's error shape (a proxy's 404 page, an empty
            // 401): on a repeat the first attempt may still have charged.
            None if attempt == Attempt::Repeat => Verdict::Repeat,
            None => Verdict::Refused,
        },
        // 1xx, 3xx: not an answer of the API. A first attempt was not
        // executed; a repeat says nothing about the first.
        _ if attempt == Attempt::Repeat => Verdict::Repeat,
        _ => Verdict::Refused,
    }
}

fn read(status: Status, code: Option<&Code>, body: &Body<'_, ErrorResponse>) -> Verdict {
    match status.class() {
        StatusClass::Success if *body == Body::Read => Verdict::Success,
        // "404 NOT_FOUND The requested resource does not exist", in
        // Conductor's own shape: the create never took effect.
        _ if status == Status::NOT_FOUND && code.is_some() => Verdict::Refused,
        // Anything else leaves the question open: ask again.
        _ => Verdict::Repeat,
    }
}

fn query(status: Status, body: &Body<'_, ErrorResponse>) -> Verdict {
    match status.class() {
        StatusClass::Success if *body == Body::Read => Verdict::Success,
        StatusClass::Success => Verdict::Repeat,
        _ if status == Status::CONFLICT || status == Status(408) || status == Status(429) => {
            Verdict::Repeat
        }
        // 501: the operation does not exist there; repeating is useless.
        _ if status == Status::NOT_IMPLEMENTED => Verdict::Refused,
        StatusClass::ServerError => Verdict::Repeat,
        _ => Verdict::Refused,
    }
}

/// 401 and 403: refusals of access rather than of the request.
fn is_access(status: Status) -> bool {
    status == Status::UNAUTHORIZED || status == Status(403)
}
