//! Every answer to every money-moving request, against the documents.
//!
//! For every outbox record kind (made by its own flow, as it would be in
//! the field) and every money-moving flow step, each HTTP status from 200
//! to 599 that HTTP or the documents define — with the provider's own
//! error body and with a gateway's page, with a readable and an unreadable
//! 2xx — plus the three ways an answer is lost, is fed to the core. What
//! it does next is compared with a table written here from the documents
//! (`../shared/specs/README.md`: Electrum's outcome rules, Conductor's
//! idempotency section and errors table, MoMo's statuses), not from the
//! core's outcome tables. The number of cells is printed.

mod support;

use std::fmt;

use support::fixtures::{conductor_config, electrum_config, momo_config, MOMO_TOKEN};
use support::harness::{rng, start_now, Harness, Step};
use support::samples::{conductor, electrum};
use till_core::conductor::flow::{BillOutcome, BillPayment, Settle};
use till_core::conductor::wire::PaymentMethod;
use till_core::delivery::{Context, Delivered, Delivery};
use till_core::electrum::flow::{Confirmation, Sale, SaleOutcome};
use till_core::flow::{Flow, Money, TransportFailure};
use till_core::http::HeaderName;
use till_core::json;
use till_core::momo::flow::{Payment, PaymentOutcome, PaymentRequest, TokenCache};
use till_core::momo::wire::{CreatePaymentsRequest, CustomerReference};
use till_core::money::{Amount, Currency};
use till_core::outbox::{Advice, Record};

/// Every status HTTP (RFC 9110, 6585, 7725, 8470, 4918) defines from 200
/// to 599, and those the documents name.
fn statuses() -> Vec<u16> {
    let mut s: Vec<u16> = (200..=208).collect();
    s.push(226);
    s.extend([300, 301, 302, 303, 304, 305, 307, 308]);
    s.extend(400..=418);
    s.extend([421, 422, 423, 424, 425, 426, 428, 429, 431, 451]);
    s.extend(500..=508);
    s.extend([510, 511]);
    s
}

/// One answer a cell feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    Lost(TransportFailure),
    /// A 2xx whose body is the documented one.
    Readable(u16),
    /// A 2xx whose body cannot be read.
    Unreadable(u16),
    /// A non-2xx in the provider's own error shape.
    Own(u16),
    /// A non-2xx from something else (a gateway's HTML page).
    Foreign(u16),
}

impl Reply {
    fn all() -> Vec<Reply> {
        let mut r = vec![
            Reply::Lost(TransportFailure::Connect),
            Reply::Lost(TransportFailure::BeforeWrite),
            Reply::Lost(TransportFailure::AfterWrite),
        ];
        for s in statuses() {
            if (200..300).contains(&s) {
                r.push(Reply::Readable(s));
                r.push(Reply::Unreadable(s));
            } else {
                r.push(Reply::Own(s));
                r.push(Reply::Foreign(s));
            }
        }
        r
    }
}

const HTML: &[u8] = b"<html><body><h1>404 Not Found</h1>nginx</body></html>";

/// Feed `reply` with `readable` as the 2xx body and `own` as the error.
fn feed<F: Flow>(h: &mut Harness<F>, reply: Reply, readable: &str, own: &str) {
    match reply {
        Reply::Lost(f) => h.fail(f),
        Reply::Readable(s) => h.respond_json(s, readable),
        Reply::Unreadable(s) => h.respond(s, &[], b"{\"status\":"),
        Reply::Own(s) => h.respond_json(s, own),
        Reply::Foreign(s) => h.respond(s, &[("Content-Type", "text/html")], HTML),
    }
}

/// What the terminal does after one answer to a record's delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Settled: the record is removed; this is the money.
    Settled(Money),
    /// Not final: the same record again later.
    Retry,
    /// Final, but nothing to settle: set aside for an operator.
    Attention,
    /// It reads the transaction next (Conductor).
    Check,
    /// It sends the payment's CreatePayments again (MoMo).
    Recreate,
}

impl fmt::Display for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// A record kind, the answers it is fed, and what the documents expect.
struct Kind {
    name: &'static str,
    record: Record,
    /// The documented 2xx body.
    readable: String,
    /// The provider's own error body.
    own: String,
    expect: fn(Reply) -> Next,
}

// ---------------------------------------------------------------------------
// The documents' table for deliveries (every delivery is a repeat).
// ---------------------------------------------------------------------------

/// Conductor complete or cancel, repeated under its key. Idempotency: a
/// connection error, 409 ("conflicts with another request"), and answers
/// that did not execute (408, 429, other 5xx) are safe to repeat; "the
/// same result, including 500 errors" is replayed, so a 500 is settled by
/// reading the transaction. Errors-table codes in Conductor's shape are its
/// final word — except 401/403, which refuse the attempt, not the request.
/// Anything not in Conductor's shape says nothing about the first attempt.
fn conductor_settle(paid: Money) -> impl Fn(Reply) -> Next {
    move |reply| match reply {
        Reply::Lost(_) => Next::Retry,
        Reply::Readable(_) => Next::Settled(paid),
        Reply::Unreadable(_) => Next::Check,
        Reply::Own(500) => Next::Check,
        Reply::Own(409 | 408 | 429 | 401 | 403) => Next::Retry,
        Reply::Own(s) if (400..500).contains(&s) => Next::Attention,
        Reply::Foreign(500) => Next::Check,
        _ => Next::Retry,
    }
}

/// A one-call create (`complete: true`) on the transactions API, repeated
/// under its key: as a settle, but a stored 500 cannot be looked up (no
/// lookup by reference), and an unreadable 2xx replays.
fn conductor_create(reply: Reply) -> Next {
    match reply {
        Reply::Readable(_) => Next::Settled(Money::Charged),
        Reply::Unreadable(_) => Next::Retry,
        Reply::Own(500) | Reply::Foreign(500) => Next::Attention,
        other => conductor_settle(Money::Charged)(other),
    }
}

/// Reading a partner transaction by reference: "404 NOT_FOUND The
/// requested resource does not exist" in Conductor's shape means the create
/// never took effect; every other answer leaves the question open.
fn conductor_partner_status(reply: Reply) -> Next {
    match reply {
        Reply::Readable(_) => Next::Settled(Money::Charged),
        Reply::Own(404) => Next::Settled(Money::NotCharged),
        _ => Next::Retry,
    }
}

/// Electrum: "success: 200, 201, 202 — and 404 on a reversal; unknown: 500,
/// 504, or no response; failed: 400, 404 on a confirmation, 501, 503,
/// anything else." A failed advice is final and settles nothing: set aside.
/// A 404 counts only as Electrum's own answer.
fn electrum_reversal(reply: Reply) -> Next {
    match reply {
        Reply::Lost(_) | Reply::Own(500 | 504) | Reply::Foreign(500 | 504) => Next::Retry,
        Reply::Readable(_) | Reply::Unreadable(_) => Next::Settled(Money::NotCharged),
        Reply::Own(404) => Next::Settled(Money::NotCharged),
        Reply::Foreign(404) => Next::Retry,
        _ => Next::Attention,
    }
}

fn electrum_confirmation(reply: Reply) -> Next {
    match reply {
        Reply::Lost(_) | Reply::Own(500 | 504) | Reply::Foreign(500 | 504) => Next::Retry,
        Reply::Readable(_) | Reply::Unreadable(_) => Next::Settled(Money::Charged),
        Reply::Foreign(404) => Next::Retry,
        _ => Next::Attention,
    }
}

/// A status request has no effect: asked again until Electrum answers the
/// purchase (then it is confirmed: the record is rewritten and sent again)
/// or says it has none (404, its own).
fn electrum_status(reply: Reply) -> Next {
    match reply {
        Reply::Own(404) => Next::Settled(Money::NotCharged),
        _ => Next::Retry,
    }
}

/// MoMo: SUCCESSFUL or FAILED are final; CREATED, PENDING, 5xx and the
/// rest: poll again. 404 ("if unknown (can happen right after the 202:
/// retry)"): the record was stored before the create left, so it may
/// never have arrived: the create is sent again under the same reference
/// (409 if MoMo has it).
fn momo_status(reply: Reply) -> Next {
    match reply {
        Reply::Readable(_) => Next::Settled(Money::Charged),
        Reply::Own(404) | Reply::Foreign(404) => Next::Recreate,
        _ => Next::Retry,
    }
}

// ---------------------------------------------------------------------------
// Records, made by their flows.
// ---------------------------------------------------------------------------

fn pending_bill(mut h: Harness<BillPayment<'_>>, first: Option<&str>) -> Record {
    h.expect_send();
    if let Some(body) = first {
        h.respond_json(201, body);
    } else {
        h.respond(503, &[], b"");
    }
    match h.until_done(|h, _| h.respond(503, &[], b"")) {
        BillOutcome::Pending(record) => record,
        other => panic!("{other:?}"),
    }
}

fn conductor_records() -> Vec<(&'static str, Record, Money)> {
    let cfg = conductor_config();
    let active = conductor::transaction("ACTIVE");
    let complete = pending_bill(
        Harness::new(
            BillPayment::primitive(
                &cfg,
                conductor::bill_request(),
                Settle::Complete(PaymentMethod::Cash),
                0,
                start_now(),
                &mut rng(1),
            ),
            start_now(),
        ),
        Some(&active),
    );
    let cancel = pending_bill(
        Harness::new(
            BillPayment::primitive(
                &cfg,
                conductor::bill_request(),
                Settle::Cancel(None),
                0,
                start_now(),
                &mut rng(2),
            ),
            start_now(),
        ),
        Some(&active),
    );
    let create = pending_bill(
        Harness::new(
            BillPayment::primitive_one_call(
                &cfg,
                conductor::bill_request(),
                PaymentMethod::Cash,
                0,
                start_now(),
                &mut rng(3),
            ),
            start_now(),
        ),
        None,
    );
    let partner = pending_bill(
        Harness::new(
            BillPayment::composite_one_call(
                &cfg,
                conductor::partner_request(),
                PaymentMethod::Cash,
                0,
                start_now(),
                &mut rng(4),
            ),
            start_now(),
        ),
        None,
    );
    vec![
        ("conductor complete", complete, Money::Charged),
        ("conductor cancel", cancel, Money::NotCharged),
        ("conductor create", create, Money::Charged),
        ("conductor partner status", partner, Money::Charged),
    ]
}

fn pending_sale(sale: Sale<'_>, sold: bool) -> Record {
    let mut h = Harness::new(sale, start_now());
    let sent = h.expect_send();
    if sold {
        let id = sent.json()["id"].as_str().unwrap().to_string();
        let body = if sent.line().contains("vouchers") {
            electrum::voucher_response(&id)
        } else {
            electrum::purchase_response(&id)
        };
        h.respond_json(201, &body);
    } else {
        h.fail(TransportFailure::AfterWrite);
    }
    match h.until_done(|h, _| h.respond(500, &[], b"")) {
        SaleOutcome::Pending(record)
        | SaleOutcome::Sold {
            confirmation: Confirmation::Pending(record),
            ..
        } => record,
        other => panic!("{other:?}"),
    }
}

fn electrum_records() -> Vec<Record> {
    let cfg = electrum_config();
    let airtime = |reversible, seed| {
        Sale::airtime(
            &cfg,
            electrum::purchase_request(),
            reversible,
            0,
            start_now(),
            &mut rng(seed),
        )
    };
    let voucher = |seed| {
        Sale::voucher(
            &cfg,
            electrum::voucher_request(),
            0,
            start_now(),
            &mut rng(seed),
        )
    };
    vec![
        pending_sale(airtime(true, 5), false),
        pending_sale(airtime(true, 6), true),
        pending_sale(airtime(false, 7), false),
        pending_sale(voucher(8), false),
        pending_sale(voucher(9), true),
    ]
}

fn momo_record() -> Record {
    let cfg = momo_config();
    let mut tokens = TokenCache::new();
    let request = PaymentRequest {
        amount: Amount::from_minor(2500, Currency::EUR),
        customer: CustomerReference::try_from_str("46733123453").unwrap(),
        provider: heapless::String::try_from("Electricity Inc.").unwrap(),
        external_id: None,
        note: None,
    };
    let flow = Payment::new(&cfg, &mut tokens, request, 0, start_now(), &mut rng(10));
    let mut h = Harness::new(flow, start_now());
    let mut created = false;
    let outcome = h.until_done(|h, sent| {
        if sent.line() == "POST /collection/token/" {
            h.respond_json(200, MOMO_TOKEN);
        } else if !created {
            created = true;
            h.fail(TransportFailure::AfterWrite);
        } else {
            h.respond(500, &[], b"");
        }
    });
    match outcome {
        PaymentOutcome::Pending { record, .. } => record,
        other => panic!("{other:?}"),
    }
}

fn kinds() -> Vec<Kind> {
    let conductor_error = conductor::error("BAD_REQUEST");
    let mut kinds = Vec::new();
    for (name, record, paid) in conductor_records() {
        let readable = conductor::transaction(if paid == Money::Charged {
            "COMPLETED"
        } else {
            "CANCELLED"
        });
        let expect: fn(Reply) -> Next = match &record.advice {
            Advice::ConductorComplete { .. } => |r| conductor_settle(Money::Charged)(r),
            Advice::ConductorCancel { .. } => |r| conductor_settle(Money::NotCharged)(r),
            Advice::ConductorCreate { .. } => conductor_create,
            Advice::ConductorPartnerStatus { .. } => conductor_partner_status,
            other => panic!("{other:?}"),
        };
        kinds.push(Kind {
            name,
            record,
            readable,
            own: conductor_error.clone(),
            expect,
        });
    }
    for record in electrum_records() {
        let (name, expect, readable): (_, fn(Reply) -> Next, _) = match &record.advice {
            Advice::ElectrumPurchaseReversal(_) => (
                "electrum purchase reversal",
                electrum_reversal,
                String::new(),
            ),
            Advice::ElectrumVoucherReversal(_) => (
                "electrum voucher reversal",
                electrum_reversal,
                String::new(),
            ),
            Advice::ElectrumPurchaseConfirmation(_) => (
                "electrum purchase confirmation",
                electrum_confirmation,
                String::new(),
            ),
            Advice::ElectrumVoucherConfirmation(_) => (
                "electrum voucher confirmation",
                electrum_confirmation,
                String::new(),
            ),
            Advice::ElectrumPurchaseStatus { original_id, .. } => (
                "electrum purchase status",
                electrum_status,
                electrum::purchase_response(&original_id.to_string()),
            ),
            other => panic!("{other:?}"),
        };
        kinds.push(Kind {
            name,
            record,
            readable,
            own: electrum::error("GENERAL_ERROR"),
            expect,
        });
    }
    let record = momo_record();
    let Advice::MomoStatus { reference_id, .. } = record.advice else {
        panic!()
    };
    kinds.push(Kind {
        name: "momo status",
        record,
        readable: format!(r#"{{"referenceId":"{reference_id}","status":"SUCCESSFUL"}}"#),
        own: r#"{"code":"RESOURCE_NOT_FOUND","message":"Requested resource was not found."}"#
            .into(),
        expect: momo_status,
    });
    kinds
}

/// One delivery attempt of `kind`'s record answered with `reply`.
fn deliver(kind: &Kind, reply: Reply) -> Next {
    let conductor = conductor_config();
    let electrum = electrum_config();
    let momo = momo_config();
    let mut tokens = TokenCache::new();
    let delivery = Delivery::new(
        kind.record.clone(),
        Context {
            conductor: Some(&conductor),
            momo: Some((&momo, &mut tokens)),
            electrum: Some(&electrum),
        },
    );
    let mut h = Harness::new(delivery, start_now());
    let mut sent = h.expect_send();
    if sent.line() == "POST /collection/token/" {
        h.respond_json(200, MOMO_TOKEN);
        sent = h.expect_send();
    }
    let _ = sent;
    feed(&mut h, reply, &kind.readable, &kind.own);
    match h.step() {
        Step::Send(next) if next.line().starts_with("GET /conductor/") => Next::Check,
        Step::Send(next) if next.line() == "POST /collection/v2_0/payment" => Next::Recreate,
        Step::Send(next) => panic!("{}: unexpected {}", kind.name, next.line()),
        Step::Done(Delivered::Settled(money)) => Next::Settled(money),
        Step::Done(Delivered::Retry) => Next::Retry,
        Step::Done(Delivered::NeedsAttention(_)) => {
            // Kept, and marked: never silently dropped.
            let kept = h.records();
            assert_eq!(kept.len(), 1, "{}: {reply:?}", kind.name);
            assert!(kept[0].attention.is_some(), "{}: {reply:?}", kind.name);
            Next::Attention
        }
        Step::Done(Delivered::Unconfigured) => panic!("{}: unconfigured", kind.name),
    }
}

#[test]
fn every_answer_to_every_outbox_record_means_what_the_documents_say() {
    let mut cells = 0;
    let mut wrong = Vec::new();
    for kind in kinds() {
        for reply in Reply::all() {
            cells += 1;
            let expected = (kind.expect)(reply);
            let got = deliver(&kind, reply);
            if got != expected {
                wrong.push(format!(
                    "{} / {reply:?}: expected {expected}, got {got}",
                    kind.name
                ));
            }
        }
    }
    println!("outbox deliveries: {cells} cells");
    assert!(cells > 1000, "{cells}");
    assert!(
        wrong.is_empty(),
        "{} of {cells} cells:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// A status record whose payment MoMo does not know (404): the create is
/// sent again from the record, same reference and same bytes, and its
/// answer decides the attempt: a 400 in MoMo's shape to the same bytes is
/// final (no attempt of that request created a payment); a 202, a 409 ("it
/// exists"), a 5xx or a lost answer polls the status again later; a 401
/// renews the token.
#[test]
fn an_unknown_payment_is_created_again_from_its_record() {
    let record = momo_record();
    let Advice::MomoStatus {
        reference_id,
        create: Some(create),
    } = record.advice.clone()
    else {
        panic!("the flow's record carries its create: {:?}", record.advice)
    };
    let momo = momo_config();
    type Answer = fn(&mut Harness<Delivery<'_>>);
    let cases: [(&str, Answer, Delivered); 6] = [
        ("202", |h| h.respond(202, &[], b""), Delivered::Retry),
        (
            "409",
            |h| {
                h.respond_json(
                    409,
                    r#"{"code":"RESOURCE_ALREADY_EXIST","message":"Duplicated reference id"}"#,
                )
            },
            Delivered::Retry,
        ),
        ("500", |h| h.respond(500, &[], b""), Delivered::Retry),
        (
            "lost",
            |h| h.fail(TransportFailure::AfterWrite),
            Delivered::Retry,
        ),
        (
            "400",
            |h| {
                h.respond_json(
                    400,
                    r#"{"code":"PAYER_NOT_FOUND","message":"Payer not found"}"#,
                )
            },
            Delivered::Settled(Money::NotCharged),
        ),
        ("401", |h| h.respond(401, &[], b""), Delivered::Retry),
    ];
    for (name, answer, expected) in cases {
        let mut tokens = TokenCache::new();
        let delivery = Delivery::new(
            record.clone(),
            Context {
                conductor: None,
                momo: Some((&momo, &mut tokens)),
                electrum: None,
            },
        );
        let mut stored = vec![0u8; till_core::outbox::RECORD_MAX_LEN];
        let n = json::encode(&record, &mut stored).unwrap();
        stored.truncate(n);
        let mut h = Harness::new(delivery, start_now())
            .with_store([(record.key, stored)].into_iter().collect());
        assert_eq!(h.expect_send().line(), "POST /collection/token/", "{name}");
        h.respond_json(200, MOMO_TOKEN);
        let status = h.expect_send();
        assert!(
            status.line().starts_with("GET /collection/v2_0/payment/"),
            "{name}"
        );
        h.respond_json(
            404,
            r#"{"code":"RESOURCE_NOT_FOUND","message":"Requested resource was not found."}"#,
        );
        let again = h.expect_send();
        assert_eq!(again.line(), "POST /collection/v2_0/payment", "{name}");
        assert_eq!(
            again.head.header(HeaderName::XReferenceId),
            Some(reference_id.to_text().as_str()),
            "{name}: the same reference"
        );
        assert_eq!(
            json::decode::<CreatePaymentsRequest>(&again.body).ok(),
            Some(create.clone()),
            "{name}: the same request"
        );
        answer(&mut h);
        match h.step() {
            Step::Done(got) => assert_eq!(got, expected, "{name}"),
            Step::Send(next) => panic!("{name}: unexpected {}", next.line()),
        }
        let kept = h.records().len();
        let settled = matches!(expected, Delivered::Settled(_));
        assert_eq!(
            kept,
            usize::from(!settled),
            "{name}: record kept until final"
        );
    }
}

/// The error codes that change a refusal's meaning.
#[test]
fn settled_and_processing_codes_settle_or_check() {
    let by_name = |name: &str| kinds().into_iter().find(|k| k.name == name).unwrap();
    let settled = electrum::error("ACCOUNT_ALREADY_SETTLED");
    let mut reversal = by_name("electrum purchase reversal");
    reversal.own = settled.clone();
    assert_eq!(
        deliver(&reversal, Reply::Own(400)),
        Next::Settled(Money::Charged)
    );
    let mut confirmation = by_name("electrum voucher confirmation");
    confirmation.own = settled;
    assert_eq!(
        deliver(&confirmation, Reply::Own(400)),
        Next::Settled(Money::NotCharged)
    );
    for code in ["ALREADY_COMPLETED", "ALREADY_CANCELLED", "IN_PROCESSING"] {
        let mut complete = by_name("conductor complete");
        complete.own = conductor::error(code);
        assert_eq!(deliver(&complete, Reply::Own(400)), Next::Check, "{code}");
    }
    // A complete answered with a transaction still processing is read
    // again, not settled.
    let mut complete = by_name("conductor complete");
    complete.readable = conductor::transaction("IN_PROCESSING");
    assert_eq!(deliver(&complete, Reply::Readable(200)), Next::Check);
    let mut create = by_name("conductor create");
    create.own = conductor::error("IN_PROCESSING");
    assert_eq!(deliver(&create, Reply::Own(400)), Next::Retry);
    let mut momo = by_name("momo status");
    momo.readable = momo.readable.replace("SUCCESSFUL", "FAILED");
    assert_eq!(
        deliver(&momo, Reply::Readable(200)),
        Next::Settled(Money::NotCharged)
    );
    momo.readable = momo.readable.replace("FAILED", "PENDING");
    assert_eq!(deliver(&momo, Reply::Readable(200)), Next::Retry);
}

// ---------------------------------------------------------------------------
// Flow steps that move money: the first attempt, and a repeat.
// ---------------------------------------------------------------------------

/// What a flow does after one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Then {
    /// Sends this request next ("METHOD path-prefix").
    Sends(&'static str),
    /// Ends with this money.
    Ends(Money),
}

fn then_of<F: Flow>(h: &mut Harness<F>, money: impl Fn(&F::Outcome) -> Money) -> (Then, String) {
    match h.step() {
        Step::Send(sent) => {
            let line = sent.line();
            let known = [
                "POST /conductor/v1/transactions/",
                "GET /conductor/v1/transactions/",
                "POST /airtime/v5/purchases/confirmations",
                "POST /airtime/v5/purchases/reversals",
                "POST /airtime/v5/purchases",
                "POST /collection/token/",
                "POST /collection/v2_0/payment",
                "GET /collection/v2_0/payment/",
            ];
            let kind = known
                .iter()
                .find(|k| line.starts_with(**k))
                .copied()
                .unwrap_or("?");
            (Then::Sends(kind), line)
        }
        Step::Done(outcome) => (Then::Ends(money(&outcome)), String::new()),
    }
}

/// Conductor complete, first attempt and repeat (after a lost answer).
fn conductor_complete_step(attempt_is_repeat: bool, reply: Reply) -> Then {
    use Then::*;
    const SAME: &str = "POST /conductor/v1/transactions/";
    const READ: &str = "GET /conductor/v1/transactions/";
    match reply {
        Reply::Lost(_) => Sends(SAME),
        Reply::Readable(_) => Ends(Money::Charged),
        Reply::Unreadable(_) => Sends(READ),
        Reply::Own(500) | Reply::Foreign(500) => Sends(READ),
        Reply::Own(409 | 408 | 429) | Reply::Foreign(409 | 408 | 429) => Sends(SAME),
        Reply::Own(s) | Reply::Foreign(s) if s >= 500 => Sends(SAME),
        Reply::Own(401 | 403) if attempt_is_repeat => Sends(SAME),
        Reply::Foreign(_) if attempt_is_repeat => Sends(SAME),
        Reply::Own(s) if (300..400).contains(&s) && attempt_is_repeat => Sends(SAME),
        // A refused complete: the transaction stays ACTIVE, nothing paid.
        _ => Ends(Money::NotCharged),
    }
}

/// Electrum purchase, first attempt.
fn electrum_purchase_step(reply: Reply) -> Then {
    use Then::*;
    match reply {
        Reply::Lost(TransportFailure::AfterWrite) => Sends("POST /airtime/v5/purchases/reversals"),
        Reply::Lost(_) => Sends("POST /airtime/v5/purchases"),
        Reply::Readable(_) => Sends("POST /airtime/v5/purchases/confirmations"),
        Reply::Unreadable(_) => Sends("POST /airtime/v5/purchases/reversals"),
        Reply::Own(500 | 504) | Reply::Foreign(500 | 504) => {
            Sends("POST /airtime/v5/purchases/reversals")
        }
        _ => Ends(Money::NotCharged),
    }
}

/// MoMo CreatePayments, first attempt.
fn momo_create_step(reply: Reply) -> Then {
    use Then::*;
    const POLL: &str = "GET /collection/v2_0/payment/";
    const SAME: &str = "POST /collection/v2_0/payment";
    match reply {
        Reply::Lost(TransportFailure::AfterWrite) => Sends(POLL),
        Reply::Lost(_) => Sends(SAME),
        Reply::Readable(_) | Reply::Unreadable(_) => Sends(POLL),
        Reply::Own(401) | Reply::Foreign(401) => Sends("POST /collection/token/"),
        Reply::Own(409) | Reply::Foreign(409) => Sends(POLL),
        Reply::Own(503 | 408 | 429) | Reply::Foreign(503 | 408 | 429) => Sends(SAME),
        Reply::Own(s) | Reply::Foreign(s) if s >= 500 => Sends(POLL),
        _ => Ends(Money::NotCharged),
    }
}

#[test]
fn every_answer_to_every_money_moving_flow_step_means_what_the_documents_say() {
    let mut cells = 0;
    let mut wrong = Vec::new();
    let conductor_cfg = conductor_config();
    let electrum_cfg = electrum_config();
    let momo_cfg = momo_config();
    for reply in Reply::all() {
        // Conductor complete: first attempt, then a repeat after a lost answer.
        for repeat in [false, true] {
            cells += 1;
            let pay = BillPayment::primitive(
                &conductor_cfg,
                conductor::bill_request(),
                Settle::Complete(PaymentMethod::Cash),
                0,
                start_now(),
                &mut rng(20),
            );
            let mut h = Harness::new(pay, start_now());
            h.expect_send();
            h.respond_json(201, &conductor::transaction("ACTIVE"));
            h.expect_send();
            if repeat {
                h.fail(TransportFailure::AfterWrite);
                h.expect_send();
            }
            feed(
                &mut h,
                reply,
                &conductor::transaction("COMPLETED"),
                &conductor::error("BAD_REQUEST"),
            );
            let expected = conductor_complete_step(repeat, reply);
            let (got, line) = then_of(&mut h, |o| o.money());
            if got != expected {
                wrong.push(format!("conductor complete (repeat: {repeat}) / {reply:?}: expected {expected:?}, got {got:?} {line}"));
            }
        }
        // Electrum purchase.
        cells += 1;
        let sale = Sale::airtime(
            &electrum_cfg,
            electrum::purchase_request(),
            true,
            0,
            start_now(),
            &mut rng(21),
        );
        let id = sale.request_id().to_string();
        let mut h = Harness::new(sale, start_now());
        h.expect_send();
        feed(
            &mut h,
            reply,
            &electrum::purchase_response(&id),
            &electrum::error("GENERAL_ERROR"),
        );
        let expected = electrum_purchase_step(reply);
        let (got, line) = then_of(&mut h, |o| o.money());
        if got != expected {
            wrong.push(format!(
                "electrum purchase / {reply:?}: expected {expected:?}, got {got:?} {line}"
            ));
        }
        // MoMo CreatePayments.
        cells += 1;
        let mut tokens = TokenCache::new();
        let request = PaymentRequest {
            amount: Amount::from_minor(2500, Currency::EUR),
            customer: CustomerReference::try_from_str("46733123999").unwrap(),
            provider: heapless::String::try_from("Electricity Inc.").unwrap(),
            external_id: None,
            note: None,
        };
        let flow = Payment::new(
            &momo_cfg,
            &mut tokens,
            request,
            0,
            start_now(),
            &mut rng(22),
        );
        let mut h = Harness::new(flow, start_now());
        h.expect_send();
        h.respond_json(200, MOMO_TOKEN);
        h.expect_send();
        feed(
            &mut h,
            reply,
            "",
            r#"{"code":"PAYER_NOT_FOUND","message":"x"}"#,
        );
        let expected = momo_create_step(reply);
        let (got, line) = then_of(&mut h, |o| o.money());
        if got != expected {
            wrong.push(format!(
                "momo create / {reply:?}: expected {expected:?}, got {got:?} {line}"
            ));
        }
    }
    println!("money-moving flow steps: {cells} cells");
    assert!(
        wrong.is_empty(),
        "{} of {cells} cells:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// A paid answer whose non-essential fields exceed their capacities is
/// still read: a sold purchase is confirmed, not reversed.
#[test]
fn over_capacity_answers_are_read() {
    let cfg = electrum_config();
    let sale = Sale::airtime(
        &cfg,
        electrum::purchase_request(),
        true,
        0,
        start_now(),
        &mut rng(30),
    );
    let id = sale.request_id().to_string();
    let mut h = Harness::new(sale, start_now());
    h.expect_send();
    let mut v: serde_json::Value = serde_json::from_str(&electrum::purchase_response(&id)).unwrap();
    let label = serde_json::json!({"name": "n".repeat(200), "value": "v".repeat(500)});
    v["transactionLabels"] = serde_json::Value::Array(vec![label; 12]);
    v["basketRef"] = serde_json::Value::String("b".repeat(300));
    let tpi = v["thirdPartyIdentifiers"][0].clone();
    v["thirdPartyIdentifiers"] = serde_json::Value::Array(vec![tpi; 25]);
    h.respond_json(201, &v.to_string());
    let confirm = h.expect_send();
    assert_eq!(confirm.line(), "POST /airtime/v5/purchases/confirmations");
    h.respond(202, &[], b"");
    let outcome = h.expect_done();
    assert_eq!(outcome.money(), Money::Charged);
    let SaleOutcome::Sold {
        sold: till_core::electrum::flow::Sold::Purchase(p),
        ..
    } = outcome
    else {
        panic!()
    };
    // The PIN, which decides the money, is kept whole.
    assert!(p.voucher.is_some_and(|v| v.pin.is_some()));
    assert_eq!(p.basket_ref, None);

    let cfg = conductor_config();
    let pay = BillPayment::primitive(
        &cfg,
        conductor::bill_request(),
        Settle::Complete(PaymentMethod::Cash),
        0,
        start_now(),
        &mut rng(31),
    );
    let mut h = Harness::new(pay, start_now());
    h.expect_send();
    h.respond_json(201, &conductor::transaction("ACTIVE"));
    h.expect_send();
    let mut t: serde_json::Value =
        serde_json::from_str(&conductor::transaction("COMPLETED")).unwrap();
    t["status"]["message"] = serde_json::Value::String("m".repeat(2000));
    t["data"]["items"][0]["description"] = serde_json::Value::String("d".repeat(2000));
    h.respond_json(200, &t.to_string());
    let BillOutcome::Completed(transaction) = h.expect_done() else {
        panic!("a long description made a paid bill unreadable")
    };
    assert_eq!(transaction.id.as_str(), conductor::TX_ID);
}

/// A confirmation Electrum refuses for good: the sale stands (the airtime
/// was delivered), the slip says the confirmation needs attention — never
/// "Confirmed yes" — and the record is kept, set aside.
#[test]
fn a_refused_confirmation_is_shown_and_kept() {
    let cfg = electrum_config();
    let sale = Sale::airtime(
        &cfg,
        electrum::purchase_request(),
        true,
        0,
        start_now(),
        &mut rng(32),
    );
    let id = sale.request_id().to_string();
    let mut h = Harness::new(sale, start_now());
    h.expect_send();
    h.respond_json(201, &electrum::purchase_response(&id));
    h.expect_send();
    h.respond_json(400, &electrum::error("FORMAT_ERROR"));
    let outcome = h.expect_done();
    assert_eq!(outcome.money(), Money::Charged);
    let SaleOutcome::Sold {
        confirmation: Confirmation::NeedsAttention(record),
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(record.attention.map(|a| a.status), Some(400));
    assert_eq!(h.records(), vec![record.clone()]);
    let slip = till_core::slip::SaleSlip("Airtime", &outcome).to_string();
    assert!(!slip.contains("Confirmed   yes"), "{slip}");
    assert!(slip.contains("NEEDS ATTENTION"), "{slip}");

    // Restored on the next boot as set aside, not as pending: it does not
    // block sales and is never sent again.
    let mut outbox = till_core::outbox::Outbox::new();
    outbox
        .adopt(record, till_core::time::Instant::ZERO)
        .unwrap();
    assert_eq!(outbox.len(), 0);
    assert_eq!(outbox.attention(), &[record.key]);
    assert!(outbox.admits_sale().is_ok());
    assert_eq!(outbox.due(till_core::time::Instant::ZERO), None);
}
