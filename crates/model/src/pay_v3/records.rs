//! A payment's WeChat Pay v3 part (SPEC §11.8, §11.13) and how `/v3/` shows a payment and
//! its refunds (§11.7, §11.9, §11.12).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::sandbox::Payment;

/// What a prepay adds to a payment: its prepay, its terms and its refunds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct PaymentV3 {
    /// `wx` + sandbox `yyyyMMddHHmmss` + 20 lowercase hex.
    pub prepay_id: String,
    pub prepay_expires_at: i64,
    /// After this the payment can no longer be paid (it stays NOTPAY).
    pub time_expire: i64,
    pub description: String,
    pub attach: Option<String>,
    pub notify_url: Option<String>,
    pub goods_tag: Option<String>,
    /// `scene_info.device_id`, echoed by queries.
    pub device_id: Option<String>,
    pub closed_at: Option<i64>,
    /// Sum of the SUCCESS refunds.
    pub refunded_amount: i64,
    /// Oldest first.
    pub refunds: Vec<RefundRecord>,
    /// A combined prepay's sub-orders' terms, in order (SPEC §11.10); `[]` otherwise.
    #[serde(default)]
    pub sub_orders: Vec<SubOrderV3>,
}

impl PaymentV3 {
    /// What its PROCESSING, ABNORMAL and SUCCESS refunds take from the amount.
    pub fn reserved(&self) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r.reserves())
            .map(|r| r.refund)
            .sum()
    }
}

/// A combined payment's sub-order as its prepay described it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct SubOrderV3 {
    pub mchid: String,
    pub out_trade_no: String,
    pub description: String,
    pub attach: String,
    pub goods_tag: Option<String>,
}

/// A refund as stored (SPEC §11.9).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct RefundRecord {
    /// `50` + 8 random digits + `yyyyMMdd` + 11 digits.
    pub refund_id: String,
    pub out_refund_no: String,
    pub reason: Option<String>,
    pub notify_url: Option<String>,
    pub refund: i64,
    pub total: i64,
    /// PROCESSING, SUCCESS, ABNORMAL or CLOSED.
    pub status: String,
    pub created_at: i64,
    /// When a PROCESSING refund takes `outcome` (`None`: it waits for the sandbox).
    pub due_at: Option<i64>,
    pub outcome: String,
    pub success_time: Option<i64>,
}

impl RefundRecord {
    /// Whether its amount is taken from what remains refundable.
    pub fn reserves(&self) -> bool {
        matches!(self.status.as_str(), "PROCESSING" | "ABNORMAL" | "SUCCESS")
    }
}

/// RFC 3339 in China time, seconds, `+08:00` — how WeChat Pay v3 writes times (SPEC §11.1).
pub fn china_time(unix: i64) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
    );
    let china = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.to_offset(china).format(FORMAT).ok())
        .unwrap_or_default()
}

/// `yyyyMMddHHmmss` (or a prefix of it) in China time.
pub fn china_digits(unix: i64, len: usize) -> String {
    let text: String = china_time(unix)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    text.chars().take(len).collect()
}

pub fn trade_state_desc(state: &str) -> &'static str {
    match state {
        "SUCCESS" => "支付成功",
        "REFUND" => "转入退款",
        "CLOSED" => "已关闭",
        "PAYERROR" => "支付失败，请重新下单支付",
        _ => "订单未支付",
    }
}

/// The Transaction of #2/#3 and of `TRANSACTION.SUCCESS` (SPEC §11.7): absent fields
/// omitted; the payment's transaction_id and its payer amounts only once paid.
pub fn transaction(payment: &Payment, v3: &PaymentV3) -> Value {
    let mut t = Map::new();
    t.insert("appid".into(), json!(payment.appid));
    t.insert("mchid".into(), json!(payment.keys.mchid));
    t.insert("out_trade_no".into(), json!(payment.keys.out_trade_no));
    t.insert("trade_type".into(), json!("JSAPI"));
    t.insert("trade_state".into(), json!(payment.state));
    t.insert(
        "trade_state_desc".into(),
        json!(trade_state_desc(&payment.state)),
    );
    if let Some(attach) = &v3.attach {
        t.insert("attach".into(), json!(attach));
    }
    t.insert("payer".into(), json!({ "openid": payment.openid }));
    let mut amount = json!({ "total": payment.amount, "currency": "CNY" });
    if let (true, Some(paid_at)) = (payment.is_paid(), payment.paid_at) {
        t.insert("transaction_id".into(), json!(payment.keys.transaction_id));
        t.insert("bank_type".into(), json!("OTHERS"));
        t.insert("success_time".into(), json!(china_time(paid_at)));
        amount["payer_total"] = json!(payment.amount);
        amount["payer_currency"] = json!("CNY");
    }
    t.insert("amount".into(), amount);
    if let Some(device_id) = &v3.device_id {
        t.insert("scene_info".into(), json!({ "device_id": device_id }));
    }
    Value::Object(t)
}

/// The Combined of #8 and of a combined `TRANSACTION.SUCCESS` (SPEC §11.10): no master
/// transaction_id; each sub-order's once paid. `sub_states`: each sub-order's own state
/// (a paid sub-order may be refunded on its own); unpaid ones show the master's.
pub fn combined(payment: &Payment, v3: &PaymentV3, sub_states: &[String]) -> Value {
    let paid_at = payment.paid_at.filter(|_| payment.is_paid());
    let sub_orders: Vec<Value> = payment
        .sub_orders
        .iter()
        .zip(&v3.sub_orders)
        .enumerate()
        .map(|(i, (sub, terms))| {
            let state = match (payment.is_paid(), sub_states.get(i)) {
                (true, Some(own)) => own.as_str(),
                _ => payment.state.as_str(),
            };
            let mut out = json!({
                "mchid": sub.keys.mchid,
                "trade_type": "JSAPI",
                "trade_state": state,
                "attach": terms.attach,
                "out_trade_no": sub.keys.out_trade_no,
                "amount": {"total_amount": sub.amount, "currency": "CNY"},
            });
            if let Some(at) = paid_at {
                out["transaction_id"] = json!(sub.keys.transaction_id);
                out["bank_type"] = json!("OTHERS");
                out["success_time"] = json!(china_time(at));
                out["amount"]["payer_amount"] = json!(sub.amount);
                out["amount"]["payer_currency"] = json!("CNY");
            }
            out
        })
        .collect();
    let mut out = json!({
        "combine_appid": payment.appid,
        "combine_mchid": payment.keys.mchid,
        "combine_out_trade_no": payment.keys.out_trade_no,
        "combine_payer_info": {"openid": payment.openid},
        "sub_orders": sub_orders,
    });
    if let Some(device_id) = &v3.device_id {
        out["scene_info"] = json!({ "device_id": device_id });
    }
    out
}

/// The Refund of #5/#6 (SPEC §11.9).
pub fn refund(payment: &Payment, r: &RefundRecord) -> Value {
    let mut out = json!({
        "refund_id": r.refund_id,
        "out_refund_no": r.out_refund_no,
        "transaction_id": payment.keys.transaction_id,
        "out_trade_no": payment.keys.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": china_time(r.created_at),
        "status": r.status,
        "funds_account": "AVAILABLE",
        "amount": {
            "total": r.total, "refund": r.refund, "from": [],
            "payer_total": r.total, "payer_refund": r.refund,
            "settlement_total": r.total, "settlement_refund": r.refund,
            "discount_refund": 0, "currency": "CNY",
        },
        "promotion_detail": [],
    });
    if let (Some(at), true) = (r.success_time, r.status == "SUCCESS") {
        out["success_time"] = json!(china_time(at));
    }
    out
}

/// A `REFUND.*` notification's plaintext (SPEC §11.12).
pub fn refund_notice(payment: &Payment, r: &RefundRecord) -> Value {
    let mut out = json!({
        "mchid": payment.keys.mchid,
        "out_trade_no": payment.keys.out_trade_no,
        "transaction_id": payment.keys.transaction_id,
        "out_refund_no": r.out_refund_no,
        "refund_id": r.refund_id,
        "refund_status": r.status,
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": r.total, "refund": r.refund,
            "payer_total": r.total, "payer_refund": r.refund,
        },
    });
    if let (Some(at), true) = (r.success_time, r.status == "SUCCESS") {
        out["success_time"] = json!(china_time(at));
    }
    out
}

/// `event_type` → `summary` (SPEC §11.12).
pub fn summary(event_type: &str) -> &'static str {
    match event_type {
        "TRANSACTION.SUCCESS" => "支付成功",
        "REFUND.SUCCESS" => "退款成功",
        "REFUND.ABNORMAL" => "退款异常",
        _ => "退款关闭",
    }
}

/// A notification's retry slots, seconds after its event (SPEC §11.12): the first attempt
/// and 15 retries over 24 h 4 m.
pub const NOTIFY_SLOTS: [i64; 16] = [
    0, 15, 30, 60, 240, 840, 2040, 3840, 5640, 7440, 11040, 21840, 32640, 43440, 65040, 86640,
];

/// After a failed attempt at sandbox time `tried_at`, the next slot of an event at `at`;
/// `None`: no slot left (failed).
pub fn next_slot(at: i64, tried_at: i64) -> Option<i64> {
    NOTIFY_SLOTS
        .iter()
        .map(|s| at + s)
        .find(|slot| *slot > tried_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_china_time() {
        assert_eq!(china_time(0), "1970-01-01T08:00:00+08:00");
        assert_eq!(china_digits(0, 14), "19700101080000");
    }

    #[test]
    fn a_big_clock_advance_costs_one_attempt() {
        assert_eq!(next_slot(100, 100), Some(115));
        assert_eq!(next_slot(100, 116), Some(130));
        assert_eq!(next_slot(100, 100 + 86_640), None);
        assert_eq!(next_slot(100, 100 + 50_000), Some(100 + 65_040));
    }
}
