//! What an answer means: the vocabulary of the three outcome tables.
//!
//! Each API has one table ([`crate::conductor::outcome`],
//! [`crate::momo::outcome`], [`crate::electrum::outcome`]): a pure function
//! from (operation, attempt, [`Reply`]) to a [`Verdict`]. Every flow, every
//! outbox delivery and every no-money [`crate::flow::Call`] asks its API's
//! table; nothing else in the core matches on HTTP status codes. A row of a
//! table names the sentence of the document it comes from, and
//! `core/tests/outcome_tables.rs` checks every status of every operation
//! against a table written from the documents.

use crate::json::Decode;

use crate::flow::{Input, TransportFailure};
use crate::http::Status;
use crate::json;

/// What one answer (or its absence) means for the request that was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Verdict {
    /// Final: the request took effect; its body says how.
    Success,
    /// Final: the provider refused the request; it had no effect and a
    /// repeat would be refused too. (Which refusals change the money is
    /// for the flow to say: a refused reversal leaves a sale standing.)
    Refused,
    /// Not final: send the same request again, with the same identity,
    /// after a backoff. A repeat cannot take effect twice.
    Repeat,
    /// Not final, and a repeat cannot tell: learn the outcome another way
    /// (Conductor: read the transaction; MoMo: poll the payment; Electrum:
    /// reverse the purchase, or ask its status).
    Resolve,
    /// The credentials expired (MoMo's token): renew them, then repeat.
    Renew,
}

/// Whether an earlier attempt with the same identity may have reached the
/// provider. On a repeat, an answer that is not the provider's own verdict
/// on the request (an authentication failure, a rate limit, a gateway's
/// page) says nothing about the first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Attempt {
    /// Nothing with this identity can have reached the provider before.
    First,
    /// An earlier attempt may have reached it (its answer was lost, or it
    /// was not final); every outbox delivery is a repeat.
    Repeat,
}

/// The body of an answer, as far as the table needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a, E> {
    /// A 2xx whose documented body was read (or that documents none).
    Read,
    /// A non-2xx in the API's own error shape.
    Error(&'a E),
    /// Neither: empty, a gateway's HTML page, truncated, not JSON, or
    /// beyond a capacity that decides money.
    Foreign,
}

/// An answer, or why there was none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a, E> {
    /// No complete HTTP answer.
    Lost(TransportFailure),
    /// An HTTP answer.
    Http {
        /// Its status.
        status: Status,
        /// Its body, classified.
        body: Body<'a, E>,
    },
}

impl<E> Reply<'_, E> {
    /// The HTTP status, if an answer came.
    pub const fn status(&self) -> Option<Status> {
        match self {
            Self::Lost(_) => None,
            Self::Http { status, .. } => Some(*status),
        }
    }

    /// The provider's error body, if the answer carried one.
    pub const fn error(&self) -> Option<&E> {
        match self {
            Self::Http {
                body: Body::Error(e),
                ..
            } => Some(e),
            _ => None,
        }
    }
}

/// An answer read once: the success body `T` of a 2xx or the error body
/// `E` of anything else, kept so the flow can use what the table judged.
#[derive(Debug, Clone)]
pub struct Answer<T, E> {
    /// The status, or the transport failure.
    pub status: Result<Status, TransportFailure>,
    /// The 2xx body, when it could be read.
    pub value: Option<T>,
    /// The error body, when a non-2xx carried one in the API's shape.
    pub error: Option<E>,
    /// A 2xx documents no body (`202` to an advice): read is enough.
    bodiless: bool,
}

impl<T: Decode, E: Decode> Answer<T, E> {
    /// Decode `input`: `T` from a 2xx, `E` from anything else.
    pub fn read(input: Input<'_>) -> Self {
        let mut answer = Self::empty(input);
        if let Input::Response { head, body } = input {
            if head.status.is_success() {
                // Into the answer itself: a large body is not copied out.
                let _ = json::decode_into::<T>(body, &mut answer.value);
            }
        }
        answer
    }
}

impl<E: Decode> Answer<(), E> {
    /// Like [`Answer::read`], with a 2xx body decoded by `decode` where the
    /// caller keeps it (`true`: it was read). A large body is then never a
    /// temporary here.
    pub fn read_with(input: Input<'_>, decode: impl FnOnce(&[u8]) -> bool) -> Self {
        let mut answer = Self::empty(input);
        if let Input::Response { head, body } = input {
            if head.status.is_success() && decode(body) {
                answer.value = Some(());
            }
        }
        answer
    }
}

impl<T, E: Decode> Answer<T, E> {
    /// Decode only the error body of `input`; a 2xx counts as read
    /// whatever its body (the operation documents none, or the caller
    /// does not need it).
    pub fn status_only(input: Input<'_>) -> Self {
        let mut answer = Self::empty(input);
        answer.bodiless = true;
        answer
    }

    fn empty(input: Input<'_>) -> Self {
        match input {
            Input::Failed(f) => Self {
                status: Err(f),
                value: None,
                error: None,
                bodiless: false,
            },
            Input::Response { head, body } => Self {
                status: Ok(head.status),
                value: None,
                error: if head.status.is_success() {
                    None
                } else {
                    json::decode::<E>(body).ok()
                },
                bodiless: false,
            },
        }
    }

    /// What the table reads.
    pub fn reply(&self) -> Reply<'_, E> {
        match self.status {
            Err(f) => Reply::Lost(f),
            Ok(status) => {
                let body = match (&self.error, status.is_success()) {
                    (_, true) if self.bodiless || self.value.is_some() => Body::Read,
                    (Some(e), false) => Body::Error(e),
                    _ => Body::Foreign,
                };
                Reply::Http { status, body }
            }
        }
    }
}

/// The verdicts on a no-money query of an API, named by the API's error
/// body: how [`crate::flow::Call`] learns which table to ask.
pub trait QueryTable: Sized {
    /// The verdict on one answer to a query.
    fn query(reply: &Reply<'_, Self>) -> Verdict;
}

impl QueryTable for crate::conductor::error::ErrorResponse {
    fn query(reply: &Reply<'_, Self>) -> Verdict {
        use crate::conductor::outcome::{verdict, Op};
        verdict(Op::Query, Attempt::First, reply)
    }
}

impl QueryTable for crate::momo::error::ErrorBody {
    fn query(reply: &Reply<'_, Self>) -> Verdict {
        use crate::momo::outcome::{verdict, Op};
        verdict(Op::Status, Attempt::First, reply)
    }
}

impl QueryTable for crate::momo::error::TokenError {
    fn query(reply: &Reply<'_, Self>) -> Verdict {
        crate::momo::outcome::token_verdict(reply)
    }
}

impl QueryTable for crate::electrum::error::ErrorDetail {
    fn query(reply: &Reply<'_, Self>) -> Verdict {
        use crate::electrum::outcome::{verdict, Op};
        verdict(Op::Query, Attempt::First, reply)
    }
}
