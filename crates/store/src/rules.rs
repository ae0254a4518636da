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

/// What a call changes of one order (SPEC §10.8, §10.11, §10.12), judged against what is
/// stored: the outcome, and whether `order` (changed in place) is to be stored.
pub fn change_order(
    (order, shipment): &mut OrderAndShipping,
    trade: &TradeManagement,
    change: &OrderChange,
    now: i64,
) -> (ChangeOutcome, bool) {
    let facts = order.facts(shipment.as_ref(), trade);
    // Judged on the stored facts first; the order changes after.
    match change {
        OrderChange::ConfirmReceipt { openid } => {
            if openid.as_ref().is_some_and(|o| *o != order.openid) {
                return (ChangeOutcome::Confirm(ConfirmStatus::Fail), false);
            }
            if facts.order_state(now) != 2 {
                return (ChangeOutcome::Confirm(ConfirmStatus::Cancel), false);
            }
            match shipment {
                Some(shipment) => {
                    shipment.confirmed_at = Some(now);
                    (ChangeOutcome::Confirm(ConfirmStatus::Success), true)
                }
                None => (ChangeOutcome::Confirm(ConfirmStatus::Cancel), false),
            }
        }
        OrderChange::Remind { received_time } => {
            let reminder = match userorder_model::sec_order::remind(facts, *received_time, now) {
                Ok(reminder) => reminder,
                Err(code) => return (ChangeOutcome::Refused(code), false),
            };
            match shipment {
                Some(shipment) => {
                    shipment.reminder = Some(reminder);
                    (ChangeOutcome::Done, true)
                }
                None => (ChangeOutcome::Refused(ErrCode::ORDER_NOT_SHIPPED), false),
            }
        }
        OrderChange::Special { kind, delay_to } => {
            let report = userorder_model::sec_order::special_report(
                facts,
                order.paid_at,
                *kind,
                *delay_to,
                now,
            );
            match report {
                Ok(special) => {
                    order.special = Some(special);
                    (ChangeOutcome::Done, true)
                }
                Err(code) => (ChangeOutcome::Refused(code), false),
            }
        }
        OrderChange::Complaint { open } => {
            if order.refunded_at.is_some() {
                return (ChangeOutcome::Refunded, false);
            }
            match (open, facts.in_complaint(now)) {
                (true, false) => order.complaints.push(Complaint {
                    opened_at: now,
                    closed_at: None,
                }),
                (false, true) => {
                    for complaint in order
                        .complaints
                        .iter_mut()
                        .filter(|c| c.closed_at.is_none())
                    {
                        complaint.closed_at = Some(now);
                    }
                }
                _ => return (ChangeOutcome::Done, false),
            }
            (ChangeOutcome::Done, true)
        }
    }
}

/// A changed order's new shipping, and the settlement event it records when it completed
/// the shipping (SPEC §10.13).
#[derive(Debug, Clone)]
pub struct Shipped {
    pub transaction_id: String,
    pub shipment: Shipment,
    pub event: Option<NewEvent>,
}

/// A shipping upload judged against what is stored (SPEC §10.5, §10.6): for each order, in
/// the order sent, the stored order with its shipping; the changed orders (unchanged ones
/// are skipped), or the first errcode (nothing stored). All unchanged: 10060023.
pub fn ship_all(
    stored: &[OrderAndShipping],
    trade: &TradeManagement,
    orders: &ShipOrders,
) -> std::result::Result<Vec<Shipped>, ErrCode> {
    let mut changed = Vec::with_capacity(stored.len());
    for ((order, shipment), (transaction_id, upload)) in stored.iter().zip(&orders.orders) {
        let facts = order.facts(shipment.as_ref(), trade);
        let judged = userorder_model::sec_order::ship(
            shipment.as_ref(),
            facts,
            upload,
            &orders.upload_time,
            orders.now,
        );
        match judged {
            Ok(next) => changed.push(Shipped {
                transaction_id: transaction_id.clone(),
                event: crate::events::shipped(
                    &orders.appid,
                    order,
                    shipment.as_ref(),
                    &next,
                    trade,
                ),
                shipment: next,
            }),
            Err(ErrCode::SHIPPING_NOT_UPDATED) => {}
            Err(code) => return Err(code),
        }
    }
    if changed.is_empty() {
        return Err(ErrCode::SHIPPING_NOT_UPDATED);
    }
    Ok(changed)
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
