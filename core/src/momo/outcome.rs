//! MoMo's outcome table: what each answer means, from the CreatePayments
//! document (`momo-collection-v2-create-payments.txt`: 202, 400, 409, 500)
//! and the facts in `../shared/specs/README.md` (token, payment status,
//! 404 right after the 202).
//!
//! | operation | 2xx | 401 | 409 | 503, 408, 429, lost before sending | 500, other 5xx, lost after sending | other 4xx |
//! |---|---|---|---|---|---|---|
//! | [`Op::Token`] | success | refused | repeat | repeat | repeat | repeat |
//! | [`Op::Create`] | 202: success; other 2xx: resolve | renew | resolve | repeat | resolve | first: refused; repeat: 400 in MoMo's shape refused, else resolve |
//! | [`Op::Status`] | success (then [`standing`]) | renew | repeat | repeat | repeat | 404: refused (unknown reference); others repeat |
//!
//! "Resolve" for a payment is: poll its status by the same
//! `X-Reference-Id`, which MoMo never lets create a second payment (409).

use super::error::ErrorBody;
use super::wire::PaymentStatusCode;
use crate::http::{Status, StatusClass};
use crate::outcome::{Attempt, Body, Reply, Verdict};

/// The request an answer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Op {
    /// `POST /collection/token/`.
    Token,
    /// `POST /collection/v2_0/payment` (CreatePayments).
    Create,
    /// `GET /collection/v2_0/payment/{referenceId}`.
    Status,
}

/// What a payment's `status` says about the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Standing {
    /// `SUCCESSFUL`: the payer paid.
    Paid,
    /// `FAILED`: nothing was taken.
    Unpaid,
    /// `CREATED`, `PENDING` or a status this terminal does not know: poll
    /// again.
    Open,
}

/// The payment statuses of the status answer.
pub fn standing(status: &PaymentStatusCode) -> Standing {
    match status {
        PaymentStatusCode::Successful => Standing::Paid,
        PaymentStatusCode::Failed => Standing::Unpaid,
        PaymentStatusCode::Created | PaymentStatusCode::Pending | PaymentStatusCode::Unknown(_) => {
            Standing::Open
        }
    }
}

/// The verdict on one answer to `op`.
pub fn verdict(op: Op, attempt: Attempt, reply: &Reply<'_, ErrorBody>) -> Verdict {
    let (status, body) = match reply {
        Reply::Lost(failure) => {
            return match op {
                // A create that may have arrived is never posted again
                // blindly: its reference is polled.
                Op::Create if failure.may_have_reached() => Verdict::Resolve,
                _ => Verdict::Repeat,
            };
        }
        Reply::Http { status, body } => (*status, body),
    };
    match op {
        Op::Token => token(status, body),
        Op::Create => create(attempt, status, body),
        Op::Status => payment_status(status, body),
    }
}

/// The verdict on an answer of the token endpoint, whose refusals have
/// their own body ([`super::error::TokenError`]).
pub fn token_verdict(reply: &Reply<'_, super::error::TokenError>) -> Verdict {
    match reply {
        Reply::Lost(_) => Verdict::Repeat,
        Reply::Http { status, body } => token(*status, body),
    }
}

fn token<E>(status: Status, body: &Body<'_, E>) -> Verdict {
    match status.class() {
        StatusClass::Success if matches!(body, Body::Read) => Verdict::Success,
        // "401 {"error"}": the API user or key is wrong.
        _ if status == Status::UNAUTHORIZED => Verdict::Refused,
        // 500 login_failed, an unreadable token, anything else: again.
        _ => Verdict::Repeat,
    }
}

fn create(attempt: Attempt, status: Status, body: &Body<'_, ErrorBody>) -> Verdict {
    match status.class() {
        // "202 Accepted": the request is accepted for processing.
        _ if status == Status::ACCEPTED => Verdict::Success,
        // Another 2xx is not the documented answer: the payment may exist.
        StatusClass::Success => Verdict::Resolve,
        // Token expired or revoked: a new one, then the same request.
        _ if status == Status::UNAUTHORIZED => Verdict::Renew,
        // "409 Conflict: Duplicated reference id": an earlier attempt
        // with this reference arrived; its status tells the outcome.
        _ if status == Status::CONFLICT => Verdict::Resolve,
        // 503, 408, 429: not processed; the same reference is safe to
        // send again (a payment created meanwhile answers 409).
        _ if status == Status::SERVICE_UNAVAILABLE
            || status == Status(408)
            || status == Status(429) =>
        {
            Verdict::Repeat
        }
        // "500 Internal Server Error" and other 5xx: it may have been
        // created; poll.
        StatusClass::ServerError => Verdict::Resolve,
        // "400 Bad Request": the request is invalid, on a first attempt
        // or (in MoMo's shape) on a repeat of the same bytes.
        StatusClass::ClientError if attempt == Attempt::First => Verdict::Refused,
        StatusClass::ClientError
            if status == Status::BAD_REQUEST && matches!(body, Body::Error(_)) =>
        {
            Verdict::Refused
        }
        // A repeat answered otherwise, 1xx, 3xx: an earlier attempt may
        // have created it.
        _ if attempt == Attempt::Repeat => Verdict::Resolve,
        _ => Verdict::Refused,
    }
}

fn payment_status(status: Status, body: &Body<'_, ErrorBody>) -> Verdict {
    match status.class() {
        StatusClass::Success if *body == Body::Read => Verdict::Success,
        _ if status == Status::UNAUTHORIZED => Verdict::Renew,
        // "404 if unknown (can happen right after the 202: retry)": the
        // flow that never had a 202 sends its create again.
        _ if status == Status::NOT_FOUND => Verdict::Refused,
        _ => Verdict::Repeat,
    }
}
