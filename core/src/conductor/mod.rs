//! Moment Conductor API 2.3: bill payments.
//!
//! - [`wire`]: request and response bodies (accounts, transactions, partner
//!   transactions, catalogue, orders, healthcheck), with the string-or-object
//!   `CustomerIdentifier` and exact decimal [`wire::Money`].
//! - [`error`]: `SUCCESS` and every code of the errors table, with an
//!   `Unknown` catch-all.
//! - [`path`]: the endpoint table.
//!
//! Authentication is `Authorization: Bearer sk_…` (a [`crate::fmt::Secret`]);
//! every POST but the healthcheck takes an `Idempotency-Key`
//! ([`crate::id::IdempotencyKey`]); a replayed answer carries
//! `Idempotent-Replayed: true` ([`crate::http::ResponseHead`]).

pub mod error;
pub mod flow;
pub mod outcome;
pub mod path;
pub mod wire;
