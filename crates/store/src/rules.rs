//! The decisions both backends apply, written once: how keys map to columns, when an
//! upload may replace what is stored (the ordering rule), what a sub-order claim means,
//! the association verdict over stored facts, and which uploads a listing shows. The
//! backends only run statements and hand the facts they read to these functions.

use userorder_model::ErrCode;
use userorder_model::association::{PaymentFacts, PaymentKeys, UploadFacts, VerifyResult, verdict};
use userorder_model::shopping::{OrderKey, ShoppingInfo};

use crate::StoreError;
use crate::records::*;
use crate::rows::StoredUpload;

/// (key_type, key_a, key_b) columns of an order key.
pub fn key_cols(key: &OrderKey) -> (i64, &str, &str) {
    match key {
        OrderKey::Merchant {
            mchid,
            out_trade_no,
        } => (1, mchid, out_trade_no),
        OrderKey::WxPay { transaction_id } => (2, transaction_id, ""),
    }
}

pub fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// The payer's confirm-receipt (SPEC §10.12): `Fail` if `openid` is not the payer's,
/// `Cancel` unless the order is shipped (state 2), else `Success` with the shipping to store
/// (confirmed now).
pub fn confirm_receipt(
    (order, shipment): &OrderAndShipping,
    openid: Option<&str>,
    trade: &TradeManagement,
    now: i64,
) -> (ConfirmStatus, Option<Shipment>) {
    if openid.is_some_and(|o| o != order.openid) {
        return (ConfirmStatus::Fail, None);
    }
    let facts = userorder_model::sec_order::StateFacts {
        shipment: shipment.as_ref(),
        refunded_at: order.refunded_at,
        settings: trade,
    };
    match shipment {
        Some(shipment) if facts.order_state(now) == 2 => {
            let mut confirmed = shipment.clone();
            confirmed.confirmed_at = Some(now);
            (ConfirmStatus::Success, Some(confirmed))
        }
        _ => (ConfirmStatus::Cancel, None),
    }
}

/// A shipping upload judged against what is stored (SPEC §10.5, §10.6): for each order, in
/// the order sent, its stored shipping and refund; the new shipping of each changed order
/// (`None`: unchanged, skipped), or the first errcode (nothing stored). All unchanged:
/// 10060023.
pub fn ship_all(
    stored: &[(Option<Shipment>, Option<i64>)],
    trade: &TradeManagement,
    orders: &ShipOrders,
) -> std::result::Result<Vec<Option<Shipment>>, ErrCode> {
    let mut next = Vec::with_capacity(stored.len());
    for ((shipment, refunded_at), (_, upload)) in stored.iter().zip(&orders.orders) {
        let facts = userorder_model::sec_order::StateFacts {
            shipment: shipment.as_ref(),
            refunded_at: *refunded_at,
            settings: trade,
        };
        let judged = userorder_model::sec_order::ship(
            shipment.as_ref(),
            facts,
            upload,
            &orders.upload_time,
            orders.now,
        );
        match judged {
            Ok(shipment) => next.push(Some(shipment)),
            Err(ErrCode::SHIPPING_NOT_UPDATED) => next.push(None),
            Err(code) => return Err(code),
        }
    }
    if next.iter().all(Option::is_none) {
        return Err(ErrCode::SHIPPING_NOT_UPDATED);
    }
    Ok(next)
}

/// What saving and association need of an upload: its keys, payer and time, not its items
/// (so a write job need not own a copy of every item).
#[derive(Debug, Clone)]
pub struct Upload {
    pub order_key: OrderKey,
    pub openid: String,
    pub upload_time: String,
    pub upload_ns: i64,
    pub combined: bool,
    pub sub_order_keys: Vec<OrderKey>,
}

impl Upload {
    pub fn of(info: &ShoppingInfo) -> Self {
        Upload {
            order_key: info.order_key.clone(),
            openid: info.payer.openid.clone(),
            upload_time: info.upload_time.as_str().to_owned(),
            upload_ns: info.upload_time.unix_nanos(),
            combined: info.is_combined(),
            sub_order_keys: info.sub_order_keys().into_iter().cloned().collect(),
        }
    }
}

pub fn verify(appid: &str, upload: &Upload, payment: Option<&Payment>) -> VerifyResult {
    let subs: Vec<PaymentKeys> = payment
        .map(|p| p.sub_orders.iter().map(|s| s.keys.clone()).collect())
        .unwrap_or_default();
    let facts = payment.map(|p| PaymentFacts {
        appid: &p.appid,
        openid: &p.openid,
        paid: p.is_paid(),
        keys: &p.keys,
        sub_payments: &subs,
    });
    verdict(
        &UploadFacts {
            appid,
            openid: &upload.openid,
            key: &upload.order_key,
            combined: upload.combined,
            sub_order_keys: &upload.sub_order_keys,
        },
        facts.as_ref(),
    )
}

/// `None` when an upload of `upload_ns` and `body` may replace what is stored; otherwise
/// the fact that stops it. Identical comes first: a retry after the lock still answers 0.
pub fn refusal(stored: &StoredUpload, upload_ns: i64, body: &str) -> Option<Saved> {
    if stored.upload_time_ns == upload_ns && stored.body == body {
        Some(Saved::Identical)
    } else if stored.associated {
        Some(Saved::Locked)
    } else if upload_ns <= stored.upload_time_ns {
        Some(Saved::Stale {
            stored_upload_time: stored.upload_time.clone(),
        })
    } else {
        None
    }
}

/// The SQL after `FROM shopping_infos` that lists uploads for `filter`, with numbered
/// parameters (`sigil` is `$` for PostgreSQL, `?` for SQLite), and the values to bind in
/// order (the limit and offset follow them). Only filters in use become conditions, so the
/// planner can pick the payer index, and the bill's associated-only condition is literal so
/// the partial index `shopping_infos_bill` applies.
pub fn upload_listing(filter: &UploadFilter, sigil: char) -> (String, Vec<&str>) {
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    for (column, value) in [("appid", &filter.appid), ("openid", &filter.openid)] {
        if let Some(value) = value {
            binds.push(value.as_str());
            conditions.push(format!("{column} = {sigil}{}", binds.len()));
        }
    }
    if filter.associated_only {
        conditions.push("associated_at IS NOT NULL".to_owned());
    }
    if conditions.is_empty() {
        conditions.push("1 = 1".to_owned());
    }
    let n = binds.len();
    let sql = format!(
        "WHERE {} ORDER BY updated_at DESC, created_at DESC, key_a DESC, key_b DESC \
         LIMIT {sigil}{} OFFSET {sigil}{}",
        conditions.join(" AND "),
        n + 1,
        n + 2
    );
    (sql, binds)
}

/// What a failed sub-order claim means. An upload never names a key twice (validation
/// refuses it) and an order's own claims are renewed when it is replaced, so a key of
/// `wanted` that is not among the `claimed` ones belongs to another combined order: the
/// first such key is the one to report.
pub fn taken_sub_order<'a>(
    wanted: &'a [OrderKey],
    claimed: &[(String, String)],
) -> Option<&'a OrderKey> {
    wanted.iter().find(|key| {
        let (_, a, b) = key_cols(key);
        !claimed.iter().any(|(ca, cb)| ca == a && cb == b)
    })
}

/// The payment an upload is associated with when it is stored (SPEC §5.4): its
/// transaction_id when the verdict is ASSOCIATED.
pub fn association<'p>(
    appid: &str,
    upload: &Upload,
    payment: Option<&'p Payment>,
) -> Option<&'p str> {
    payment
        .filter(|p| verify(appid, upload, Some(p)) == VerifyResult::Associated)
        .map(|p| p.keys.transaction_id.as_str())
}

/// The fact a declined upsert stands for: judged against what is stored now (the row that
/// made the upsert decline). A row that vanished meanwhile cannot happen (uploads are never
/// deleted); answer stale rather than guess.
pub fn declined(stored: Option<StoredUpload>, upload_ns: i64, body: &str) -> Saved {
    stored
        .and_then(|stored| refusal(&stored, upload_ns, body))
        .unwrap_or(Saved::Stale {
            stored_upload_time: String::new(),
        })
}

/// The record of a token just inserted as generation `generation` of its line.
pub fn issued(new: &NewToken, generation: i64) -> TokenRecord {
    TokenRecord {
        token: new.token.clone(),
        appid: new.appid.clone(),
        kind: new.kind,
        generation,
        issued_at: new.issued_at,
        expires_at: new.expires_at,
        superseded_at: None,
        revoked: false,
        component_appid: new.component_appid.clone(),
    }
}
