//! The MoMo Collection endpoint table.

use crate::http::{HeadError, Method, PathBuilder, RequestHead};
use crate::id::Uuid;

/// Every MoMo operation the terminal (or its sandbox set-up) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Operation {
    /// `POST /collection/token/` (Basic apiUser:apiKey).
    CreateAccessToken,
    /// `POST /collection/v2_0/payment` (202, empty body).
    CreatePayments,
    /// `GET /collection/v2_0/payment/{referenceId}`.
    GetPaymentStatus,
    /// Sandbox: `POST /v1_0/apiuser` (201).
    CreateApiUser,
    /// Sandbox: `POST /v1_0/apiuser/{id}/apikey` (201).
    CreateApiKey,
    /// Sandbox: `GET /v1_0/apiuser/{id}`.
    GetApiUser,
}

const PAYMENT: &str = "/collection/v2_0/payment";
const API_USER: &str = "/v1_0/apiuser";

impl Operation {
    /// The HTTP method.
    pub const fn method(self) -> Method {
        match self {
            Self::GetPaymentStatus | Self::GetApiUser => Method::Get,
            _ => Method::Post,
        }
    }

    /// The path template, `{name}` marking a path parameter.
    pub const fn template(self) -> &'static str {
        match self {
            Self::CreateAccessToken => "/collection/token/",
            Self::CreatePayments => PAYMENT,
            Self::GetPaymentStatus => "/collection/v2_0/payment/{referenceId}",
            Self::CreateApiUser => API_USER,
            Self::CreateApiKey => "/v1_0/apiuser/{id}/apikey",
            Self::GetApiUser => "/v1_0/apiuser/{id}",
        }
    }
}

/// `POST /collection/token/`.
pub fn create_access_token() -> Result<RequestHead, HeadError> {
    RequestHead::new(Method::Post, Operation::CreateAccessToken.template())
}

/// `POST /collection/v2_0/payment`.
pub fn create_payments() -> Result<RequestHead, HeadError> {
    RequestHead::new(Method::Post, PAYMENT)
}

/// `GET /collection/v2_0/payment/{referenceId}`.
pub fn get_payment_status(reference_id: &Uuid) -> Result<RequestHead, HeadError> {
    Ok(PathBuilder::new(PAYMENT)?
        .segment(reference_id.to_text().as_str())?
        .into_head(Method::Get))
}

/// Sandbox `POST /v1_0/apiuser`.
pub fn create_api_user() -> Result<RequestHead, HeadError> {
    RequestHead::new(Method::Post, API_USER)
}

/// Sandbox `POST /v1_0/apiuser/{id}/apikey`.
pub fn create_api_key(user: &Uuid) -> Result<RequestHead, HeadError> {
    Ok(PathBuilder::new(API_USER)?
        .segment(user.to_text().as_str())?
        .literal("/apikey")?
        .into_head(Method::Post))
}

/// Sandbox `GET /v1_0/apiuser/{id}`.
pub fn get_api_user(user: &Uuid) -> Result<RequestHead, HeadError> {
    Ok(PathBuilder::new(API_USER)?
        .segment(user.to_text().as_str())?
        .into_head(Method::Get))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_follow_the_table() {
        let id = Uuid::parse("e83e28a3-2fbe-4265-9543-efa66f37869c").unwrap();
        let cases = [
            (
                create_access_token(),
                Operation::CreateAccessToken,
                "/collection/token/",
            ),
            (
                create_payments(),
                Operation::CreatePayments,
                "/collection/v2_0/payment",
            ),
            (
                get_payment_status(&id),
                Operation::GetPaymentStatus,
                "/collection/v2_0/payment/e83e28a3-2fbe-4265-9543-efa66f37869c",
            ),
            (create_api_user(), Operation::CreateApiUser, "/v1_0/apiuser"),
            (
                create_api_key(&id),
                Operation::CreateApiKey,
                "/v1_0/apiuser/e83e28a3-2fbe-4265-9543-efa66f37869c/apikey",
            ),
            (
                get_api_user(&id),
                Operation::GetApiUser,
                "/v1_0/apiuser/e83e28a3-2fbe-4265-9543-efa66f37869c",
            ),
        ];
        for (head, op, path) in cases {
            let head = head.unwrap();
            assert_eq!(head.path(), path);
            assert_eq!(head.method(), op.method());
            let prefix = op.template().split('{').next().unwrap();
            assert!(path.starts_with(prefix));
        }
    }
}
