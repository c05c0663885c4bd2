//! Requests and answers the flow scenarios share, built from the
//! documents' samples.

/// Conductor: a DStv bill, a partner payment, transactions and errors.
pub mod conductor {
    use heapless::{String, Vec};
    use till_core::conductor::wire::*;
    use till_core::id::ExternalReference;
    use till_core::money::{Amount, Currency};

    pub const TX_ID: &str = "e37d07ed-1899-418a-868c-1a1c72645223";
    pub const EXT_REF: &str = "5e4b65ba-1e15-44c8-b11f-d0beda039246";

    pub fn transaction(status: &str) -> std::string::String {
        format!(
            r#"{{"status":{{"operation_id":"3e21cade-3860-4672-87ab-4073166a7d3e","code":"SUCCESS","message":""}},"data":{{"external_reference":"{EXT_REF}","id":"{TX_ID}","status":"{status}","amount":{{"value":"395.50","currency":"ZAR"}},"items":[{{"id":"bill_41caa5ae-369b-4646-bf06-f2673bdd08fc","amount":{{"value":"395.50","currency":"ZAR"}}}}]}}}}"#
        )
    }

    pub fn error(code: &str) -> std::string::String {
        format!(r#"{{"status":{{"operation_id":"op-1","code":"{code}","message":"detail"}}}}"#)
    }

    pub fn bill_request() -> CreateTransactionRequest {
        let mut items = Vec::new();
        items
            .push(Item {
                id: String::try_from("bill_41caa5ae-369b-4646-bf06-f2673bdd08fc").unwrap(),
                reference: Some(String::try_from("SUBS").unwrap()),
                description: None,
                amount: Some(Money::from(Amount::from_minor(39550, Currency::ZAR))),
            })
            .unwrap();
        CreateTransactionRequest {
            external_reference: ExternalReference::parse(EXT_REF).unwrap(),
            items,
            amount: None,
            complete: None,
            payment_method: None,
            meta_data: None,
        }
    }

    pub fn partner_request() -> PartnerCreateTransactionRequest {
        PartnerCreateTransactionRequest {
            external_reference: ExternalReference::parse(EXT_REF).unwrap(),
            biller_code: String::try_from("za_dstv").unwrap(),
            reference: Some(String::try_from("SUBS").unwrap()),
            amount: Money::from(Amount::from_minor(120_000, Currency::ZAR)),
            identifier: CustomerIdentifier::Search(
                IdentifierValue::try_from_str("8604275423086").unwrap(),
            ),
            complete: None,
            payment_method: None,
            meta_data: None,
        }
    }
}

/// Electrum: the test pack's purchase and voucher, with their answers.
pub mod electrum {
    use till_core::electrum::wire::*;
    use till_core::json;
    use till_core::money::{Amount, Currency};

    /// A PIN long enough that finding it in a log means a leak.
    pub const VOUCHER_PIN: &str = "918273645546372819";

    pub fn purchase_request() -> PurchaseRequest {
        let mut r: PurchaseRequest = json::decode(&crate::support::data(
            "electrum/test-pack-samples/PurchaseRequest.json",
        ))
        .unwrap();
        let amount =
            LedgerAmount::from_amount(Amount::from_minor(5000, Currency::ZAR), None).unwrap();
        r.amounts = Some(Amounts::request(amount.clone()));
        r.recipient_msisdn = Msisdn::new("27821234567");
        r.tenders = Some(
            Tenders::from_slice(&[Tender {
                account_type: Some(AccountType::Default),
                amount,
                card_number: None,
                reference: None,
                tender_type: TenderType::Cash,
            }])
            .unwrap(),
        );
        r
    }

    pub fn voucher_request() -> VoucherRequest {
        let mut r: VoucherRequest = json::decode(&crate::support::data(
            "electrum/test-pack-samples/VoucherRequest.json",
        ))
        .unwrap();
        let amount =
            LedgerAmount::from_amount(Amount::from_minor(2000, Currency::ZAR), None).unwrap();
        r.amounts = Some(Amounts::request(amount));
        r
    }

    /// Electrum's answer to `request`: the test pack's response with the ids set.
    pub fn purchase_response(request_id: &str) -> String {
        let text = String::from_utf8(crate::support::data(
            "electrum/test-pack-samples/PurchaseResponse.json",
        ))
        .unwrap();
        text.replacen("749dfae4-ea5e-03fc-7ef8-ec087fb9f82b", request_id, 1)
    }

    pub fn voucher_response(request_id: &str) -> String {
        let text = String::from_utf8(crate::support::data(
            "electrum/test-pack-samples/VoucherResponse.json",
        ))
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut v = v;
        v["id"] = serde_json::Value::String(request_id.to_string());
        // A PIN long enough that finding it in a log means a leak.
        v["voucher"]["pin"] = serde_json::Value::String(VOUCHER_PIN.to_string());
        v.to_string()
    }

    pub fn error(kind: &str) -> String {
        format!(
            r#"{{"id":"x","errorType":"{kind}","errorMessage":"m","requestType":"PURCHASE_REQUEST"}}"#
        )
    }
}
