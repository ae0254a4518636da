//! What a payment's life under WeChat Pay v3 allows (SPEC §11.6–§11.9), decided once for
//! both backends: a backend locks the payment, reads it whole (its v3 part included) and
//! hands it to [`judge`], then writes back what the verdict says — the row, the refund
//! index and the notifications, in one transaction.

use serde_json::json;
use userorder_model::pay_v3::records::{self, PaymentV3, RefundRecord};

use crate::records::{NewEvent, NotifyTarget, Payment};

/// Seconds a prepay_id stays valid.
pub const PREPAY_TTL_S: i64 = 7_200;
/// How long after payment a refund is accepted (SPEC §11.9, Decision Q9).
const REFUND_PERIOD_S: i64 = 365 * 86_400;
/// Refunds one payment may have.
const MAX_REFUNDS: usize = 50;

/// A change to one payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentChange {
    /// The payer pays (NOTPAY and unexpired only).
    Pay,
    /// The payer's payment fails (→ PAYERROR).
    Fail,
    /// The merchant closes it (NOTPAY or PAYERROR → CLOSED; CLOSED stays).
    Close,
    /// A repeated prepay found the prepay_id 2 h old: issue this one.
    RenewPrepay { prepay_id: String, expires_at: i64 },
    /// A refund request (`taken`: its out_refund_no belongs to another payment).
    Refund { refund: NewRefund, taken: bool },
    /// The sandbox decides a refund's outcome (SPEC §11.13).
    RefundResult { refund_id: String, status: String },
    /// Apply the refund outcomes due by now.
    RefundsDue,
    /// The sandbox refunds what remains, SUCCESS at once (SPEC §11.13): `refund_id`, and
    /// the merchant's `refund_notify_url`.
    RefundRemainder {
        refund_id: String,
        notify_url: Option<String>,
    },
}

/// A refund to create, with the merchant's settings at the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefund {
    pub refund_id: String,
    pub out_refund_no: String,
    pub reason: Option<String>,
    /// The request's notify_url, else the merchant's `refund_notify_url`.
    pub notify_url: Option<String>,
    pub refund: i64,
    pub total: i64,
    pub delay_s: i64,
    /// SUCCESS, ABNORMAL, CLOSED or MANUAL.
    pub outcome: String,
    pub min_interval_s: i64,
}

/// Why a change was refused; nothing is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Paid (SUCCESS or REFUND).
    Paid,
    /// CLOSED, PAYERROR, or NOTPAY past time_expire.
    Closed,
    /// Not paid: nothing to refund.
    NotPaid,
    /// The out_refund_no names another refund.
    RefundNumberUsed,
    /// amount.total is not the payment's amount.
    TotalMismatch,
    /// Paid more than 365 days ago.
    Overdue,
    /// More than what remains refundable.
    OverAmount,
    /// 50 refunds already.
    TooManyRefunds,
    /// The previous refund is too recent.
    TooSoon,
    /// No such refund of this payment.
    NoSuchRefund,
    /// The refund's status does not allow that outcome.
    OutcomeNotAllowed,
    /// Not a v3 payment.
    NotV3,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored (or already so).
    Done,
    /// The refund a request created or repeated, as it is now.
    Refund(Box<RefundRecord>),
    Refused(Refusal),
}

/// What the backend writes after [`judge`].
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// Write the payment row (state, refunded_at, v3, prepay_id).
    pub write: bool,
    /// Paid now: mark it and its sub-payments paid and associate uploads first.
    pub paid: bool,
    /// Refund index rows: (refund_id, out_refund_no, due_at).
    pub refunds: Vec<(String, String, Option<i64>)>,
    pub events: Vec<NewEvent>,
}

impl Verdict {
    fn refused(refusal: Refusal) -> Self {
        Self {
            outcome: Outcome::Refused(refusal),
            write: false,
            paid: false,
            refunds: Vec::new(),
            events: Vec::new(),
        }
    }

    fn done(outcome: Outcome) -> Self {
        Self {
            outcome,
            write: true,
            paid: false,
            refunds: Vec::new(),
            events: Vec::new(),
        }
    }
}

/// Whether a payment can still be paid at `now`.
pub fn payable(payment: &Payment, now: i64) -> Result<(), Refusal> {
    match payment.state.as_str() {
        "SUCCESS" | "REFUND" => Err(Refusal::Paid),
        "NOTPAY" if payment.v3.as_ref().is_none_or(|v3| now < v3.time_expire) => Ok(()),
        _ => Err(Refusal::Closed),
    }
}

/// Judges `change` of `payment` at `now`, changing `payment` in memory as it should be
/// stored.
pub fn judge(payment: &mut Payment, change: &PaymentChange, now: i64) -> Verdict {
    match change {
        PaymentChange::Pay => {
            if let Err(refusal) = payable(payment, now) {
                return Verdict::refused(refusal);
            }
            payment.state = "SUCCESS".into();
            payment.paid_at = Some(now);
            let event = transaction_success(payment, now);
            Verdict {
                paid: true,
                events: vec![event],
                ..Verdict::done(Outcome::Done)
            }
        }
        PaymentChange::Fail => {
            if let Err(refusal) = payable(payment, now) {
                return Verdict::refused(refusal);
            }
            payment.state = "PAYERROR".into();
            Verdict::done(Outcome::Done)
        }
        PaymentChange::Close => match payment.state.as_str() {
            "SUCCESS" | "REFUND" => Verdict::refused(Refusal::Paid),
            "CLOSED" => Verdict {
                write: false,
                ..Verdict::done(Outcome::Done)
            },
            _ => {
                payment.state = "CLOSED".into();
                if let Some(v3) = payment.v3.as_mut() {
                    v3.closed_at = Some(now);
                }
                Verdict::done(Outcome::Done)
            }
        },
        PaymentChange::RenewPrepay {
            prepay_id,
            expires_at,
        } => match payment.v3.as_mut() {
            Some(v3) => {
                v3.prepay_id = prepay_id.clone();
                v3.prepay_expires_at = *expires_at;
                Verdict::done(Outcome::Done)
            }
            None => Verdict::refused(Refusal::NotV3),
        },
        PaymentChange::Refund { refund, taken } => request_refund(payment, refund, *taken, now),
        PaymentChange::RefundResult { refund_id, status } => {
            let Some(v3) = payment.v3.as_ref() else {
                return Verdict::refused(Refusal::NoSuchRefund);
            };
            let Some(i) = v3.refunds.iter().position(|r| &r.refund_id == refund_id) else {
                return Verdict::refused(Refusal::NoSuchRefund);
            };
            let allowed = match v3.refunds[i].status.as_str() {
                "PROCESSING" => matches!(status.as_str(), "SUCCESS" | "ABNORMAL" | "CLOSED"),
                "ABNORMAL" => matches!(status.as_str(), "SUCCESS" | "CLOSED"),
                _ => false,
            };
            if !allowed {
                return Verdict::refused(Refusal::OutcomeNotAllowed);
            }
            let mut verdict = Verdict::done(Outcome::Done);
            settle(payment, i, status, now, &mut verdict);
            verdict.outcome = match payment.v3.as_ref().and_then(|v3| v3.refunds.get(i)) {
                Some(r) => Outcome::Refund(Box::new(r.clone())),
                None => Outcome::Done,
            };
            verdict
        }
        PaymentChange::RefundRemainder {
            refund_id,
            notify_url,
        } => {
            let Some(v3) = payment.v3.as_ref() else {
                return Verdict::refused(Refusal::NotV3);
            };
            let reserved = v3.reserved();
            if !payment.is_paid() || reserved >= payment.amount {
                return Verdict::refused(Refusal::NotPaid);
            }
            let refund = NewRefund {
                refund_id: refund_id.clone(),
                out_refund_no: format!("SANDBOX{refund_id}"),
                reason: None,
                notify_url: notify_url.clone(),
                refund: payment.amount - reserved,
                total: payment.amount,
                delay_s: 0,
                outcome: "SUCCESS".into(),
                min_interval_s: 0,
            };
            let mut verdict = request_refund(payment, &refund, false, now);
            let index = payment.v3.as_ref().map_or(0, |v3| v3.refunds.len() - 1);
            settle(payment, index, "SUCCESS", now, &mut verdict);
            verdict.outcome = match payment.v3.as_ref().and_then(|v3| v3.refunds.get(index)) {
                Some(r) => Outcome::Refund(Box::new(r.clone())),
                None => Outcome::Done,
            };
            verdict
        }
        PaymentChange::RefundsDue => {
            let mut verdict = Verdict::done(Outcome::Done);
            let due: Vec<(usize, i64, String)> = payment
                .v3
                .iter()
                .flat_map(|v3| v3.refunds.iter().enumerate())
                .filter(|(_, r)| r.status == "PROCESSING")
                .filter_map(|(i, r)| Some((i, r.due_at?, r.outcome.clone())))
                .filter(|(_, due_at, _)| *due_at <= now)
                .collect();
            verdict.write = !due.is_empty();
            for (i, due_at, outcome) in due {
                settle(payment, i, &outcome, due_at, &mut verdict);
            }
            verdict
        }
    }
}

/// SPEC §11.9's checks 2–7 (check 1, which payment, is the caller's).
fn request_refund(payment: &mut Payment, new: &NewRefund, taken: bool, now: i64) -> Verdict {
    let (amount, paid_at) = (payment.amount, payment.paid_at);
    let Some(v3) = payment.v3.as_mut() else {
        return Verdict::refused(Refusal::NotV3);
    };
    if !matches!(payment.state.as_str(), "SUCCESS" | "REFUND") {
        return Verdict::refused(Refusal::NotPaid);
    }
    if let Some(same) = v3
        .refunds
        .iter()
        .find(|r| r.out_refund_no == new.out_refund_no)
    {
        return match same.refund == new.refund && same.total == new.total {
            true => Verdict {
                write: false,
                ..Verdict::done(Outcome::Refund(Box::new(same.clone())))
            },
            false => Verdict::refused(Refusal::RefundNumberUsed),
        };
    }
    if taken {
        return Verdict::refused(Refusal::RefundNumberUsed);
    }
    if new.total != amount {
        return Verdict::refused(Refusal::TotalMismatch);
    }
    if paid_at.is_some_and(|at| now - at > REFUND_PERIOD_S) {
        return Verdict::refused(Refusal::Overdue);
    }
    let reserved = v3.reserved();
    if reserved + new.refund > amount {
        return Verdict::refused(Refusal::OverAmount);
    }
    if v3.refunds.len() >= MAX_REFUNDS {
        return Verdict::refused(Refusal::TooManyRefunds);
    }
    if v3
        .refunds
        .last()
        .is_some_and(|last| now - last.created_at < new.min_interval_s)
    {
        return Verdict::refused(Refusal::TooSoon);
    }
    let due_at = (new.outcome != "MANUAL").then_some(now + new.delay_s);
    let record = RefundRecord {
        refund_id: new.refund_id.clone(),
        out_refund_no: new.out_refund_no.clone(),
        reason: new.reason.clone(),
        notify_url: new.notify_url.clone(),
        refund: new.refund,
        total: new.total,
        status: "PROCESSING".into(),
        created_at: now,
        due_at,
        outcome: new.outcome.clone(),
        success_time: None,
    };
    v3.refunds.push(record.clone());
    Verdict {
        refunds: vec![(
            record.refund_id.clone(),
            record.out_refund_no.clone(),
            due_at,
        )],
        ..Verdict::done(Outcome::Refund(Box::new(record)))
    }
}

/// Refund `i` takes `status` at `at`: the payment's refunded amount and state follow, and
/// `REFUND.<status>` is queued.
fn settle(payment: &mut Payment, i: usize, status: &str, at: i64, verdict: &mut Verdict) {
    let amount = payment.amount;
    let Some(v3) = payment.v3.as_mut() else {
        return;
    };
    let Some(refund) = v3.refunds.get_mut(i) else {
        return;
    };
    refund.status = status.to_owned();
    refund.due_at = None;
    if status == "SUCCESS" {
        refund.success_time = Some(at);
        v3.refunded_amount += refund.refund;
    }
    let refund = refund.clone();
    verdict
        .refunds
        .push((refund.refund_id.clone(), refund.out_refund_no.clone(), None));
    if status == "SUCCESS" {
        payment.state = "REFUND".into();
        if v3.refunded_amount >= amount && payment.refunded_at.is_none() {
            payment.refunded_at = Some(at);
        }
    }
    let event = match status {
        "SUCCESS" => "REFUND.SUCCESS",
        "ABNORMAL" => "REFUND.ABNORMAL",
        _ => "REFUND.CLOSED",
    };
    verdict.events.push(NewEvent {
        appid: payment.appid.clone(),
        event,
        rule_key: format!("v3:{event}:{}", refund.refund_id),
        at,
        payload: json!({
            "mchid": payment.keys.mchid,
            "notify_url": refund.notify_url,
            "resource": records::refund_notice(payment, &refund),
        }),
        notify: Some(NotifyTarget {
            mchid: payment.keys.mchid.clone(),
            url: refund.notify_url.clone(),
        }),
    });
}

/// `TRANSACTION.SUCCESS` of a payment just paid: its Transaction as it is now.
fn transaction_success(payment: &Payment, now: i64) -> NewEvent {
    let url = payment.v3.as_ref().and_then(|v3| v3.notify_url.clone());
    let resource = match &payment.v3 {
        Some(v3) if !payment.sub_orders.is_empty() => records::combined(payment, v3, &[]),
        Some(v3) => records::transaction(payment, v3),
        None => records::transaction(payment, &blank_v3()),
    };
    NewEvent {
        appid: payment.appid.clone(),
        event: "TRANSACTION.SUCCESS",
        rule_key: format!("v3:TRANSACTION.SUCCESS:{}", payment.keys.transaction_id),
        at: now,
        payload: json!({
            "mchid": payment.keys.mchid,
            "notify_url": url,
            "resource": resource,
        }),
        notify: Some(NotifyTarget {
            mchid: payment.keys.mchid.clone(),
            url,
        }),
    }
}

/// A sandbox-made payment's v3 terms, for showing it as a Transaction.
fn blank_v3() -> PaymentV3 {
    PaymentV3 {
        prepay_id: String::new(),
        prepay_expires_at: 0,
        time_expire: i64::MAX,
        description: String::new(),
        attach: None,
        notify_url: None,
        goods_tag: None,
        device_id: None,
        closed_at: None,
        refunded_amount: 0,
        refunds: Vec::new(),
        sub_orders: Vec::new(),
    }
}

// ---- the statements both backends run as written ---------------------------------------

/// The row's state, refund and v3 part. Binds: state, refunded_at, v3, prepay_id,
/// transaction_id.
pub const PUT_PAYMENT: &str = "UPDATE payments
     SET state = $1, refunded_at = $2, v3 = $3, prepay_id = $4
     WHERE transaction_id = $5";

/// Indexes a refund (or moves its due time). Binds: refund_id, mchid, out_refund_no,
/// transaction_id, due_at.
pub const PUT_REFUND: &str = "INSERT INTO refunds (refund_id, mchid, out_refund_no,
                                                   transaction_id, due_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (refund_id) DO UPDATE SET due_at = excluded.due_at";

/// The payment of a refund by id. Binds: refund_id.
pub const REFUND_BY_ID: &str = "SELECT transaction_id FROM refunds WHERE refund_id = $1";

/// The payment of a merchant's refund number. Binds: mchid, out_refund_no.
pub const REFUND_BY_NUMBER: &str =
    "SELECT transaction_id FROM refunds WHERE mchid = $1 AND out_refund_no = $2";

/// Payments with a refund outcome due. Binds: now, limit.
pub const DUE_REFUNDS: &str = "SELECT DISTINCT transaction_id FROM refunds
     WHERE due_at IS NOT NULL AND due_at <= $1 LIMIT $2";

/// The payment a prepay_id was issued for. Binds: prepay_id.
pub const BY_PREPAY_ID: &str = "SELECT transaction_id FROM payments WHERE prepay_id = $1";

/// The SQL parameters of [`PUT_PAYMENT`] other than the id: (v3 JSON, prepay_id; a
/// sub-order has none).
pub fn v3_columns(payment: &Payment) -> crate::Result<(Option<String>, Option<String>)> {
    match &payment.v3 {
        Some(v3) => Ok((
            Some(serde_json::to_string(v3).map_err(crate::rules::corrupt)?),
            Some(v3.prepay_id.clone()).filter(|id| !id.is_empty()),
        )),
        None => Ok((None, None)),
    }
}

/// A combined prepay's sub-order `i` as a v3 payment of its own (its terms, no prepay_id),
/// so its merchant can refund it (SPEC §11.10).
pub fn sub_v3(master: &PaymentV3, i: usize) -> Option<PaymentV3> {
    let terms = master.sub_orders.get(i)?;
    Some(PaymentV3 {
        prepay_id: String::new(),
        description: terms.description.clone(),
        attach: Some(terms.attach.clone()),
        goods_tag: terms.goods_tag.clone(),
        sub_orders: Vec::new(),
        refunds: Vec::new(),
        refunded_amount: 0,
        ..master.clone()
    })
}

/// A payment or sub-payment row by transaction_id, or by (mchid, out_trade_no) with `$2`.
pub fn any_row_sql(by_key: bool) -> String {
    format!(
        "SELECT {} FROM payments WHERE {}",
        crate::rows::PaymentRow::COLUMNS,
        match by_key {
            true => "mchid = $1 AND out_trade_no = $2",
            false => "transaction_id = $1",
        }
    )
}
