//! MTN MoMo Collection v2.0: pay a service provider from the customer's
//! MoMo account.
//!
//! - [`wire`]: token, CreatePayments, payment status (with a `reason` that
//!   may be an object or a plain string), sandbox provisioning.
//! - [`error`]: `ErrorReason` codes and error bodies, with an `Unknown`
//!   catch-all.
//! - [`path`]: the endpoint table.
//!
//! Every call carries `Ocp-Apim-Subscription-Key` (a credential, redacted
//! in logs); the token call uses Basic `apiUser:apiKey`, the others the
//! bearer token. CreatePayments takes a fresh `X-Reference-Id`
//! ([`crate::id::Uuid::new_v4`]) that is never reused, and
//! `X-Target-Environment`.

pub mod error;
pub mod flow;
pub mod outcome;
pub mod path;
pub mod wire;
