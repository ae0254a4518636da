//! The pushed events of order shipping management (SPEC §10.13), written once for both
//! backends: which events are due at a sandbox moment, what each says, and the statements
//! that find them (plain SQL both databases run as written: `$1` is a numbered parameter
//! in PostgreSQL and a named one in SQLite, which numbers named parameters by their first
//! appearance — so each statement here first mentions them in order).
//!
//! Events are facts derived from stored facts and the sandbox clock, never timers: a sweep
//! computes every event due by `now` and records it under a `rule_key` naming its rule and
//! its order (or day), so any number of sweeps, restarts and processes record it once.
//! The one event that marks a call rather than a moment (shipping completed, at F) is
//! recorded by the upload itself, in its transaction.

use serde_json::{Map, Value, json};
use userorder_model::sec_order::Shipment;

use crate::records::*;
use crate::rows::{OrderRow, order_select};
use crate::rules::corrupt;

pub const REMIND_ACCESS_API: &str = "trade_manage_remind_access_api";
pub const REMIND_SHIPPING: &str = "trade_manage_remind_shipping";
pub const ORDER_SETTLEMENT: &str = "trade_manage_order_settlement";

/// How long after pay_time an unshipped order is reminded (48 hours).
const REMIND_SHIPPING_AFTER_S: i64 = 172_800;
/// Access reminders one sweep records per app (a clock moved years ahead catches up over
/// several sweeps).
const ACCESS_REMINDERS_PER_SWEEP: i64 = 500;

/// Records an event unless its rule_key is taken; pending when the app has a push URL.
/// Binds: appid, event, rule_key, at, payload, real time (ms).
pub const INSERT: &str = "INSERT INTO sec_events (appid, event, rule_key, at, payload,
                                                  delivery_state, attempts, next_attempt_ms)
     VALUES ($1, $2, $3, $4, $5,
             CASE WHEN (SELECT push_url FROM apps WHERE apps.appid = $1) IS NULL
                  THEN 'none' ELSE 'pending' END,
             0, $6)
     ON CONFLICT (rule_key) DO NOTHING";

/// Per app: its first order (when the API learned of it, and its merchant), its first
/// completed shipping and its last access reminder. No binds.
pub const ACCESS_FACTS: &str = "SELECT a.appid,
        (SELECT p.visible_at FROM payments p
          WHERE p.appid = a.appid AND p.visible_at IS NOT NULL AND NOT p.excluded_from_shipping
            AND NOT EXISTS (SELECT 1 FROM payments c
                            WHERE c.parent_transaction_id = p.transaction_id)
          ORDER BY p.visible_at, p.transaction_id LIMIT 1) AS first_visible_at,
        (SELECT p.mchid FROM payments p
          WHERE p.appid = a.appid AND p.visible_at IS NOT NULL AND NOT p.excluded_from_shipping
            AND NOT EXISTS (SELECT 1 FROM payments c
                            WHERE c.parent_transaction_id = p.transaction_id)
          ORDER BY p.visible_at, p.transaction_id LIMIT 1) AS first_mchid,
        (SELECT MIN(e.at) FROM sec_events e
          WHERE e.appid = a.appid AND e.event = 'trade_manage_order_settlement')
          AS first_shipped_at,
        (SELECT MAX(e.at) FROM sec_events e
          WHERE e.appid = a.appid AND e.event = 'trade_manage_remind_access_api')
          AS last_reminded_at
     FROM apps a ORDER BY a.appid";

/// R: when an unshipped order is reminded (pre-sale: its delay_to).
macro_rules! remind_at {
    () => {
        "(CASE WHEN p.special_type = 1 THEN p.special_delay_to ELSE p.paid_at + 172800 END)"
    };
}

/// The apps that have completed a shipping: only their orders can be reminded, so apps
/// that never use this API cost a sweep nothing. No binds.
pub const SHIPPING_APPS: &str = "SELECT DISTINCT appid FROM sec_events
     WHERE event = 'trade_manage_order_settlement' ORDER BY appid";

/// Binds: appid, now. Orders of the app whose shipping reminder (at most 500 a sweep; the
/// next sweep goes on) is due by `$1` and not yet recorded, of apps that had
/// completed a shipping before it; the exact rule is [`due`]'s.
pub const REMIND_CANDIDATES: &str = concat!(
    order_select!(),
    " WHERE p.appid = $1
        AND p.visible_at IS NOT NULL AND NOT p.excluded_from_shipping
        AND (p.special_type IS NULL OR p.special_type = 1)
        AND NOT EXISTS (SELECT 1 FROM payments c WHERE c.parent_transaction_id = p.transaction_id)
        AND ",
    remind_at!(),
    " <= $2 AND ",
    remind_at!(),
    " > (SELECT MIN(e.at) FROM sec_events e
          WHERE e.appid = p.appid AND e.event = 'trade_manage_order_settlement')
        AND (p.refunded_at IS NULL OR p.refunded_at > ",
    remind_at!(),
    ") AND (s.finished_at IS NULL OR s.finished_at > ",
    remind_at!(),
    ") AND NOT EXISTS (SELECT 1 FROM sec_events e
                       WHERE e.rule_key = 'remind_shipping:' || p.transaction_id)
      LIMIT 500"
);

/// C + settle_delay_s: the earliest settlement of a shipped order.
macro_rules! earliest_settlement {
    () => {
        "(CASE WHEN s.confirmed_at IS NOT NULL AND s.confirmed_at < s.finished_at + 86400 *
                    (CASE WHEN s.logistics_type = 1 THEN a.auto_confirm_courier
                          ELSE a.auto_confirm_other END)
               THEN s.confirmed_at
               ELSE s.finished_at + 86400 *
                    (CASE WHEN s.logistics_type = 1 THEN a.auto_confirm_courier
                          ELSE a.auto_confirm_other END)
          END + a.settle_delay_s)"
    };
}

/// Binds: now. Shipped orders (driven by the shipments, not the payments) that may have
/// settled by `$1`
/// and whose settlement is not yet recorded;
/// complaints that hold settlement back are [`due`]'s to weigh.
pub const SETTLE_CANDIDATES: &str = concat!(
    order_select!(),
    " JOIN apps a ON a.appid = p.appid
      WHERE p.transaction_id IN (SELECT f.transaction_id FROM sec_shipments f
                                 WHERE f.finished_at IS NOT NULL)
        AND s.finished_at IS NOT NULL AND ",
    earliest_settlement!(),
    " <= $1 AND (p.refunded_at IS NULL OR p.refunded_at > ",
    earliest_settlement!(),
    ") AND NOT EXISTS (SELECT 1 FROM sec_events e
                       WHERE e.rule_key = 'order_settled:' || p.transaction_id)
      LIMIT 500"
);

/// The event log, `id` ascending. Binds: appid, event (each NULL for any), after, mchid
/// (NULL for any), limit.
pub const LIST: &str = "SELECT id, appid, event, at, payload, delivery_state, attempts,
            last_status, next_at, log, notification
     FROM sec_events
     WHERE ($1 IS NULL OR appid = $1) AND ($2 IS NULL OR event = $2) AND id > $3
       AND ($4 IS NULL OR mchid = $4)
     ORDER BY id LIMIT $5";

/// A delivery attempt's end. Binds: state, status, next attempt (ms), id.
pub const FINISH: &str = "UPDATE sec_events
     SET delivery_state = $1, attempts = attempts + 1, last_status = $2, next_attempt_ms = $3
     WHERE id = $4";

/// A pending event's delivery moves the attempt it claimed this far ahead, so that no
/// other sweep (or process) sends it meanwhile; a crashed sender's lease runs out and
/// another tries.
pub const LEASE_MS: i64 = 60_000;

crate::rows::row!(
    /// What [`ACCESS_FACTS`] reads of one app.
    AccessRow {
        appid: String,
        first_visible_at: Option<i64>,
        first_mchid: Option<String>,
        first_shipped_at: Option<i64>,
        last_reminded_at: Option<i64>,
    }
);

/// What one sweep read: every app, and the candidate rows of each rule.
pub struct SweepFacts {
    pub apps: Vec<App>,
    pub access: Vec<AccessRow>,
    pub remind: Vec<OrderRow>,
    pub settle: Vec<OrderRow>,
}

/// Every event due by `now` among what a sweep read, in `at` order (rule_key order
/// within one moment).
pub fn due(facts: SweepFacts, now: i64) -> crate::Result<Vec<NewEvent>> {
    let mut events = Vec::new();
    let first_shipped = |appid: &str| {
        facts
            .access
            .iter()
            .find(|a| a.appid == appid)
            .and_then(|a| a.first_shipped_at)
    };
    for app in &facts.access {
        let (Some(first), Some(mchid)) = (app.first_visible_at, &app.first_mchid) else {
            continue;
        };
        let start = app
            .last_reminded_at
            .map_or(0, |last| (last - first) / 86_400 + 1);
        for day in start..start + ACCESS_REMINDERS_PER_SWEEP {
            let at = first + day * 86_400;
            // A shipping in the very second of the reminder came after it (an order is
            // shipped only once the API knows it).
            if at > now || app.first_shipped_at.is_some_and(|shipped| shipped < at) {
                break;
            }
            let mut body = envelope(&app.appid, "", at, REMIND_ACCESS_API);
            body.insert("msg".into(), json!("请尽快接入发货信息管理服务"));
            body.insert("merchant_id".into(), json!(mchid));
            events.push(NewEvent {
                appid: app.appid.clone(),
                event: REMIND_ACCESS_API,
                rule_key: format!("remind_access_api:{}:{day}", app.appid),
                at,
                payload: Value::Object(body),
                notify: None,
            });
        }
    }
    for row in facts.remind {
        let appid = row.appid.clone();
        let Some((order, shipment)) = row.into_order(&appid, now)? else {
            continue;
        };
        let at = match order.special {
            Some(Special { kind: 2, .. }) => continue,
            Some(Special {
                kind: 1,
                delay_to: Some(to),
            }) => to,
            _ => order.paid_at + REMIND_SHIPPING_AFTER_S,
        };
        let unshipped_then = shipment
            .as_ref()
            .and_then(|s| s.first_finished_at.or(s.finished_at))
            .is_none_or(|f| f > at);
        let shipped_before = first_shipped(&appid).is_some_and(|f| f < at);
        if at > now
            || !unshipped_then
            || !shipped_before
            || order.refunded_at.is_some_and(|r| r <= at)
        {
            continue;
        }
        let mut body = order_body(&appid, &order, at, REMIND_SHIPPING);
        body.insert("msg".into(), json!("订单超过48小时未发货，请尽快发货"));
        events.push(NewEvent {
            appid,
            event: REMIND_SHIPPING,
            rule_key: format!("remind_shipping:{}", order.keys.transaction_id),
            at,
            payload: Value::Object(body),
            notify: None,
        });
    }
    for row in facts.settle {
        let appid = row.appid.clone();
        let app = facts
            .apps
            .iter()
            .find(|a| a.appid == appid)
            .ok_or_else(|| corrupt(format!("no app {appid}")))?;
        let Some((order, Some(shipment))) = row.into_order(&appid, now)? else {
            continue;
        };
        let state = order.facts(Some(&shipment), &app.trade);
        let (Some(confirmed), Some(settled), Some(shipped)) = (
            state.confirmed_at(),
            state.settled_at(),
            shipment.finished_at,
        ) else {
            continue;
        };
        if settled > now || order.refunded_at.is_some_and(|r| r <= settled) {
            continue;
        }
        let mut body = order_body(&appid, &order, settled, ORDER_SETTLEMENT);
        body.insert("shipped_time".into(), json!(shipped));
        body.insert(
            "confirm_receive_method".into(),
            json!(state.confirm_method()),
        );
        body.insert("confirm_receive_time".into(), json!(confirmed));
        body.insert("settlement_time".into(), json!(settled));
        events.push(NewEvent {
            appid,
            event: ORDER_SETTLEMENT,
            rule_key: format!("order_settled:{}", order.keys.transaction_id),
            at: settled,
            payload: Value::Object(body),
            notify: None,
        });
    }
    events.sort_by(|a, b| (a.at, &a.rule_key).cmp(&(b.at, &b.rule_key)));
    Ok(events)
}

/// The settlement event an upload that completes shipping records at F (SPEC §10.13),
/// or `None` when the upload did not complete it (`before` is the shipping it replaced).
pub fn shipped(
    appid: &str,
    order: &PaymentOrder,
    before: Option<&Shipment>,
    after: &Shipment,
    trade: &TradeManagement,
) -> Option<NewEvent> {
    let shipped = after.finished_at?;
    let completed_now = before.is_none_or(|b| {
        b.finished_at != after.finished_at || b.finish_shipping_count != after.finish_shipping_count
    });
    if !completed_now {
        return None;
    }
    let state = order.facts(Some(after), trade);
    let estimated = state.auto_confirm_at()? + trade.settle_delay_s;
    let mut body = order_body(appid, order, shipped, ORDER_SETTLEMENT);
    body.insert("shipped_time".into(), json!(shipped));
    body.insert("estimated_settlement_time".into(), json!(estimated));
    Some(NewEvent {
        appid: appid.to_owned(),
        event: ORDER_SETTLEMENT,
        rule_key: format!(
            "order_shipped:{}:{}",
            order.keys.transaction_id, after.finish_shipping_count
        ),
        at: shipped,
        payload: Value::Object(body),
        notify: None,
    })
}

/// WeChat's event envelope: `ToUserName` is the app's original id (ours: `gh_` and the
/// appid's last 12 characters).
fn envelope(appid: &str, openid: &str, at: i64, event: &str) -> Map<String, Value> {
    let tail = &appid[appid.len().saturating_sub(12)..];
    let mut body = Map::new();
    body.insert("ToUserName".into(), json!(format!("gh_{tail}")));
    body.insert("FromUserName".into(), json!(openid));
    body.insert("CreateTime".into(), json!(at));
    body.insert("MsgType".into(), json!("event"));
    body.insert("Event".into(), json!(event));
    body
}

/// The envelope and an order's ids and pay_time.
fn order_body(appid: &str, order: &PaymentOrder, at: i64, event: &str) -> Map<String, Value> {
    let mut body = envelope(appid, &order.openid, at, event);
    body.insert("transaction_id".into(), json!(order.keys.transaction_id));
    body.insert("merchant_id".into(), json!(order.keys.mchid));
    body.insert("sub_merchant_id".into(), json!("0"));
    body.insert("merchant_trade_no".into(), json!(order.keys.out_trade_no));
    body.insert("pay_time".into(), json!(order.paid_at));
    body
}

/// The row an event's delivery attempt ends in: (state, status, next attempt ms).
pub fn finish_columns(outcome: Delivered) -> (&'static str, Option<i64>, Option<i64>) {
    match outcome {
        Delivered::Delivered { status } => ("delivered", Some(status), None),
        Delivered::Retry { status, at_ms } => ("pending", status, Some(at_ms)),
        Delivered::Failed { status } => ("failed", status, None),
    }
}

/// Limits of `GET /sandbox/events`.
pub fn list_limit(limit: i64) -> i64 {
    match limit {
        ..=0 => 100,
        n => n.min(1000),
    }
}

/// Real time in Unix milliseconds: deliveries are scheduled in real time, not on the
/// sandbox clock (SPEC §10.13).
pub fn real_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

// ---- WeChat Pay notifications (SPEC §11.12) --------------------------------------------

/// Records a notification unless its rule_key is taken: pending when it has a target, its
/// first slot at its event time. Binds: appid, event, rule_key, at, payload, mchid,
/// notify_url.
pub const INSERT_NOTIFICATION: &str = "INSERT INTO sec_events (appid, event, rule_key, at,
                                                  payload, mchid, notify_url,
                                                  delivery_state, attempts, next_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7,
             CASE WHEN $7 IS NULL THEN 'none' ELSE 'pending' END, 0,
             CASE WHEN $7 IS NULL THEN NULL ELSE $4 END)
     ON CONFLICT (rule_key) DO NOTHING";

/// Which notifications a claim takes. Binds: real time (ms), due by (sandbox; NULL: any),
/// id (NULL: any; a named id is taken in any state), appid, mchid (each NULL: any), limit.
/// An attempt in flight holds its lease in next_attempt_ms.
macro_rules! notifications_claimable {
    ($alias:literal) => {
        concat!(
            "SELECT ",
            $alias,
            ".id FROM sec_events ",
            $alias,
            "
             WHERE ",
            $alias,
            ".notify_url IS NOT NULL
               AND (",
            $alias,
            ".next_attempt_ms IS NULL OR ",
            $alias,
            ".next_attempt_ms <= $1)
               AND ($2 IS NULL OR ",
            $alias,
            ".next_at <= $2)
               AND ($3 IS NULL OR ",
            $alias,
            ".id = $3)
               AND ($4 IS NULL OR ",
            $alias,
            ".appid = $4)
               AND ($5 IS NULL OR ",
            $alias,
            ".mchid = $5)
               AND ($3 IS NOT NULL OR ",
            $alias,
            ".delivery_state = 'pending')
             ORDER BY ",
            $alias,
            ".next_at, ",
            $alias,
            ".id LIMIT $6"
        )
    };
}

/// The columns of a claimed notification ([`crate::rows::NotificationRow`]).
macro_rules! notification_columns {
    () => {
        "id, appid, event, at, mchid, notify_url, payload, notification, log, attempts"
    };
}

/// SQLite: the claimable notifications, read on the writer and then leased one by one.
pub const CLAIMABLE_NOTIFICATIONS: &str = concat!(
    "SELECT ",
    notification_columns!(),
    " FROM sec_events WHERE id IN (",
    notifications_claimable!("d"),
    ") ORDER BY next_at, id"
);

/// PostgreSQL: claims and leases in one statement, skipping rows another process holds.
/// Binds as [`CLAIMABLE_NOTIFICATIONS`], then the lease's end (ms).
pub const CLAIM_NOTIFICATIONS: &str = concat!(
    "UPDATE sec_events SET next_attempt_ms = $7 WHERE id IN (",
    notifications_claimable!("d"),
    " FOR UPDATE SKIP LOCKED) RETURNING ",
    notification_columns!()
);

/// A notification attempt's end. Binds: state, status, next slot, notification as sent,
/// log, id.
pub const FINISH_NOTIFICATION: &str = "UPDATE sec_events
     SET delivery_state = $1, attempts = attempts + 1, last_status = $2, next_at = $3,
         notification = $4, log = $5, next_attempt_ms = NULL
     WHERE id = $6";

/// The lease of a notification attempt. Binds: until (ms), id.
pub const LEASE: &str = "UPDATE sec_events SET next_attempt_ms = $1 WHERE id = $2";
