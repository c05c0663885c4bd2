//! The Electrum Airtime Service v5 endpoint table: one place for every
//! method, path and success status (../shared/specs/README.md, "Electrum
//! Airtime Service v5"; the interface's `*Resource` classes).
//!
//! Query parameters and path ids are percent-encoded by
//! [`PathBuilder`]. A request id in a voucher path is the body's `id`.

use crate::http::{HeadError, Method, PathBuilder, RequestHead, Status};
use crate::id::Uuid;

use super::wire::ProductType;

/// The base path of every operation.
pub const BASE_PATH: &str = "/airtime/v5";

const MSISDN: &str = "/airtime/v5/msisdn";
const PRODUCTS: &str = "/airtime/v5/products";
const PURCHASES: &str = "/airtime/v5/purchases";
const PURCHASE_TRIALS: &str = "/airtime/v5/purchases/trials";
const PURCHASE_CONFIRMATIONS: &str = "/airtime/v5/purchases/confirmations";
const PURCHASE_REVERSALS: &str = "/airtime/v5/purchases/reversals";
const PURCHASE_STATUS: &str = "/airtime/v5/purchases/status";
const VOUCHERS: &str = "/airtime/v5/vouchers";

/// Every Electrum airtime operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Operation {
    /// `GET msisdn?msisdn=&operator=&productType=&channelName=&productCategory=`
    /// → 200 `MsisdnInfoResponse`.
    LookupMsisdn,
    /// `GET products?channelName=` → 200 `[Product]` (501 without a
    /// catalogue).
    ListProducts,
    /// `POST purchases/trials` (`PurchaseRequest`) → 200 `PurchaseResponse`.
    PurchaseTrial,
    /// `POST purchases` (`PurchaseRequest`) → 201 `PurchaseResponse`.
    Purchase,
    /// `POST purchases/confirmations` (`TenderAdvice`) → 202.
    PurchaseConfirmation,
    /// `POST purchases/reversals` (`BasicReversal`) → 202.
    PurchaseReversal,
    /// `GET purchases/status?originalMsgId=` or
    /// `?purchaseReference=&provider=` → 200 `PurchaseResponse`.
    PurchaseStatus,
    /// `POST vouchers/{requestId}` (`VoucherRequest`) → 201
    /// `VoucherResponse`.
    ProvisionVoucher,
    /// `POST vouchers/{requestId}/confirmations/{confirmationId}`
    /// (`VoucherConfirmation`) → 202.
    ConfirmVoucher,
    /// `POST vouchers/{requestId}/reversals/{reversalId}` (`BasicReversal`)
    /// → 202.
    ReverseVoucher,
}

impl Operation {
    /// Every operation, for tables and tests.
    pub const ALL: [Operation; 10] = [
        Self::LookupMsisdn,
        Self::ListProducts,
        Self::PurchaseTrial,
        Self::Purchase,
        Self::PurchaseConfirmation,
        Self::PurchaseReversal,
        Self::PurchaseStatus,
        Self::ProvisionVoucher,
        Self::ConfirmVoucher,
        Self::ReverseVoucher,
    ];

    /// The HTTP method.
    pub const fn method(self) -> Method {
        match self {
            Self::LookupMsisdn | Self::ListProducts | Self::PurchaseStatus => Method::Get,
            _ => Method::Post,
        }
    }

    /// The path template without the query, `{name}` marking a path
    /// parameter.
    pub const fn template(self) -> &'static str {
        match self {
            Self::LookupMsisdn => MSISDN,
            Self::ListProducts => PRODUCTS,
            Self::PurchaseTrial => PURCHASE_TRIALS,
            Self::Purchase => PURCHASES,
            Self::PurchaseConfirmation => PURCHASE_CONFIRMATIONS,
            Self::PurchaseReversal => PURCHASE_REVERSALS,
            Self::PurchaseStatus => PURCHASE_STATUS,
            Self::ProvisionVoucher => "/airtime/v5/vouchers/{requestId}",
            Self::ConfirmVoucher => {
                "/airtime/v5/vouchers/{requestId}/confirmations/{confirmationId}"
            }
            Self::ReverseVoucher => "/airtime/v5/vouchers/{requestId}/reversals/{reversalId}",
        }
    }

    /// The documented success status. The publisher's test server answers
    /// 202 to the lookup and the status query, so a caller accepts any 2xx
    /// (see the outcome rules in the README).
    pub const fn success(self) -> Status {
        match self {
            Self::LookupMsisdn
            | Self::ListProducts
            | Self::PurchaseTrial
            | Self::PurchaseStatus => Status::OK,
            Self::Purchase | Self::ProvisionVoucher => Status::CREATED,
            Self::PurchaseConfirmation
            | Self::PurchaseReversal
            | Self::ConfirmVoucher
            | Self::ReverseVoucher => Status::ACCEPTED,
        }
    }

    /// Whether this is an advice (a confirmation or reversal): stored and
    /// repeated until a final answer, always with the same body and id.
    pub const fn is_advice(self) -> bool {
        matches!(
            self,
            Self::PurchaseConfirmation
                | Self::PurchaseReversal
                | Self::ConfirmVoucher
                | Self::ReverseVoucher
        )
    }

    /// Whether this is a reversal (a 404 answer means nothing to reverse,
    /// which counts as success).
    pub const fn is_reversal(self) -> bool {
        matches!(self, Self::PurchaseReversal | Self::ReverseVoucher)
    }
}

/// The optional filters of an MSISDN lookup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LookupFilters<'a> {
    /// The operator (provider) to ask.
    pub operator: Option<&'a str>,
    /// Only products of this type.
    pub product_type: Option<&'a ProductType>,
    /// Only products listed on this channel.
    pub channel_name: Option<&'a str>,
    /// Only products in this category (a promotion's name, …).
    pub product_category: Option<&'a str>,
}

fn fixed(op: Operation) -> Result<RequestHead, HeadError> {
    RequestHead::new(op.method(), op.template())
}

/// `GET /airtime/v5/msisdn?msisdn=…` with the given filters.
///
/// The path carries the MSISDN in the clear: it is personal data, so log
/// the [`Operation`], not the path.
pub fn lookup_msisdn(msisdn: &str, filters: &LookupFilters<'_>) -> Result<RequestHead, HeadError> {
    Ok(PathBuilder::new(MSISDN)?
        .query("msisdn", msisdn)?
        .query_opt("operator", filters.operator)?
        .query_opt("productType", filters.product_type.map(ProductType::as_str))?
        .query_opt("channelName", filters.channel_name)?
        .query_opt("productCategory", filters.product_category)?
        .into_head(Method::Get))
}

/// `GET /airtime/v5/products?channelName=…` (the interface requires the
/// channel name).
pub fn list_products(channel_name: &str) -> Result<RequestHead, HeadError> {
    Ok(PathBuilder::new(PRODUCTS)?
        .query("channelName", channel_name)?
        .into_head(Method::Get))
}

/// `POST /airtime/v5/purchases/trials`.
pub fn purchase_trial() -> Result<RequestHead, HeadError> {
    fixed(Operation::PurchaseTrial)
}

/// `POST /airtime/v5/purchases`.
pub fn purchase() -> Result<RequestHead, HeadError> {
    fixed(Operation::Purchase)
}

/// `POST /airtime/v5/purchases/confirmations`.
pub fn purchase_confirmation() -> Result<RequestHead, HeadError> {
    fixed(Operation::PurchaseConfirmation)
}

/// `POST /airtime/v5/purchases/reversals`.
pub fn purchase_reversal() -> Result<RequestHead, HeadError> {
    fixed(Operation::PurchaseReversal)
}

/// `GET /airtime/v5/purchases/status?originalMsgId=…`: the status of the
/// purchase whose request `id` was `original_msg_id`.
pub fn purchase_status(original_msg_id: &Uuid) -> Result<RequestHead, HeadError> {
    Ok(PathBuilder::new(PURCHASE_STATUS)?
        .query("originalMsgId", original_msg_id.to_text().as_str())?
        .into_head(Method::Get))
}

/// `GET /airtime/v5/purchases/status?purchaseReference=…&provider=…`: the
/// status by the provider's reference.
pub fn purchase_status_by_reference(
    purchase_reference: &str,
    provider: &str,
) -> Result<RequestHead, HeadError> {
    Ok(PathBuilder::new(PURCHASE_STATUS)?
        .query("purchaseReference", purchase_reference)?
        .query("provider", provider)?
        .into_head(Method::Get))
}

/// `POST /airtime/v5/vouchers/{requestId}` (`request_id` is the body's
/// `id`).
pub fn provision_voucher(request_id: &Uuid) -> Result<RequestHead, HeadError> {
    Ok(PathBuilder::new(VOUCHERS)?
        .segment(request_id.to_text().as_str())?
        .into_head(Method::Post))
}

/// `POST /airtime/v5/vouchers/{requestId}/confirmations/{confirmationId}`.
pub fn confirm_voucher(
    request_id: &Uuid,
    confirmation_id: &Uuid,
) -> Result<RequestHead, HeadError> {
    Ok(PathBuilder::new(VOUCHERS)?
        .segment(request_id.to_text().as_str())?
        .literal("/confirmations")?
        .segment(confirmation_id.to_text().as_str())?
        .into_head(Method::Post))
}

/// `POST /airtime/v5/vouchers/{requestId}/reversals/{reversalId}`.
pub fn reverse_voucher(request_id: &Uuid, reversal_id: &Uuid) -> Result<RequestHead, HeadError> {
    Ok(PathBuilder::new(VOUCHERS)?
        .segment(request_id.to_text().as_str())?
        .literal("/reversals")?
        .segment(reversal_id.to_text().as_str())?
        .into_head(Method::Post))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &str = "9c7a4529-0bfa-4f8a-27e3-2a679881a8e8";
    const ADV: &str = "8a5d7bd4-5345-95d6-f1ef-2631a63fca00";

    #[test]
    fn builders_follow_the_table() {
        let req = Uuid::parse(REQ).unwrap();
        let adv = Uuid::parse(ADV).unwrap();
        let cases = [
            (
                lookup_msisdn("27749670999", &LookupFilters::default()),
                Operation::LookupMsisdn,
                std::string::String::from("/airtime/v5/msisdn?msisdn=27749670999"),
            ),
            (
                list_products("USSD"),
                Operation::ListProducts,
                std::string::String::from("/airtime/v5/products?channelName=USSD"),
            ),
            (
                purchase_trial(),
                Operation::PurchaseTrial,
                std::string::String::from("/airtime/v5/purchases/trials"),
            ),
            (
                purchase(),
                Operation::Purchase,
                std::string::String::from("/airtime/v5/purchases"),
            ),
            (
                purchase_confirmation(),
                Operation::PurchaseConfirmation,
                std::string::String::from("/airtime/v5/purchases/confirmations"),
            ),
            (
                purchase_reversal(),
                Operation::PurchaseReversal,
                std::string::String::from("/airtime/v5/purchases/reversals"),
            ),
            (
                purchase_status(&req),
                Operation::PurchaseStatus,
                std::format!("/airtime/v5/purchases/status?originalMsgId={REQ}"),
            ),
            (
                provision_voucher(&req),
                Operation::ProvisionVoucher,
                std::format!("/airtime/v5/vouchers/{REQ}"),
            ),
            (
                confirm_voucher(&req, &adv),
                Operation::ConfirmVoucher,
                std::format!("/airtime/v5/vouchers/{REQ}/confirmations/{ADV}"),
            ),
            (
                reverse_voucher(&req, &adv),
                Operation::ReverseVoucher,
                std::format!("/airtime/v5/vouchers/{REQ}/reversals/{ADV}"),
            ),
        ];
        assert_eq!(cases.len(), Operation::ALL.len());
        for ((head, op, path), listed) in cases.into_iter().zip(Operation::ALL) {
            assert_eq!(op, listed);
            let head = head.unwrap();
            assert_eq!(head.path(), path);
            assert_eq!(head.method(), op.method());
            let prefix = op.template().split('{').next().unwrap();
            assert!(path.starts_with(prefix), "{path} vs {}", op.template());
            assert!(op.template().starts_with(BASE_PATH));
        }
    }

    #[test]
    fn lookup_filters_are_percent_encoded() {
        let head = lookup_msisdn(
            "+27749670999",
            &LookupFilters {
                operator: Some("CELL C"),
                product_type: Some(&ProductType::DataFixed),
                channel_name: Some("APP+IBank"),
                product_category: Some("DAYS_5"),
            },
        )
        .unwrap();
        assert_eq!(
            head.path(),
            "/airtime/v5/msisdn?msisdn=%2B27749670999&operator=CELL%20C&productType=DATA_FIXED&channelName=APP%2BIBank&productCategory=DAYS_5"
        );
        assert_eq!(
            list_products("APP+IBank").unwrap().path(),
            "/airtime/v5/products?channelName=APP%2BIBank"
        );
        assert_eq!(
            purchase_status_by_reference("ref/1&x", "MTN")
                .unwrap()
                .path(),
            "/airtime/v5/purchases/status?purchaseReference=ref%2F1%26x&provider=MTN"
        );
    }

    #[test]
    fn statuses_and_kinds() {
        use Operation as O;
        assert_eq!(O::LookupMsisdn.success(), Status::OK);
        assert_eq!(O::ListProducts.success(), Status::OK);
        assert_eq!(O::PurchaseTrial.success(), Status::OK);
        assert_eq!(O::PurchaseStatus.success(), Status::OK);
        assert_eq!(O::Purchase.success(), Status::CREATED);
        assert_eq!(O::ProvisionVoucher.success(), Status::CREATED);
        for op in [
            O::PurchaseConfirmation,
            O::PurchaseReversal,
            O::ConfirmVoucher,
            O::ReverseVoucher,
        ] {
            assert_eq!(op.success(), Status::ACCEPTED);
            assert!(op.is_advice());
            assert_eq!(op.method(), Method::Post);
        }
        assert!(O::PurchaseReversal.is_reversal() && O::ReverseVoucher.is_reversal());
        assert!(!O::PurchaseConfirmation.is_reversal() && !O::Purchase.is_advice());
        assert_eq!(O::PurchaseStatus.method(), Method::Get);
    }
}
