//! Rows as both backends read them: named structs, mapped by column name (never by
//! position), and what each becomes as a record. [`row!`] writes, from one field list, the
//! struct, its `sqlx::FromRow` (PostgreSQL), its rusqlite mapping (SQLite) and the SELECT
//! list of its columns, so a column can be neither misplaced nor forgotten on one side.

use userorder_model::association::{PaymentKeys, VerifyResult};
use userorder_model::shopping::ShoppingInfo;

use crate::StoreError;
use crate::records::*;
use crate::rules::{Upload, corrupt, verify};

macro_rules! row {
    ($(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, sqlx::FromRow)]
        pub struct $name {
            $(pub $field: $ty),*
        }

        impl $name {
            /// The columns, comma-separated, for a SELECT list.
            #[allow(dead_code)]
            pub const COLUMNS: &'static str = stringify!($($field),*);

            /// The columns as `table.column AS {prefix}column`, for a SELECT that joins
            /// several rows into one.
            #[allow(dead_code)]
            pub fn prefixed_columns(table: &str, prefix: &str) -> String {
                [$(stringify!($field)),*]
                    .map(|c| format!("{table}.{c} AS {prefix}{c}"))
                    .join(", ")
            }

            /// Reads the columns named `{prefix}column` from a PostgreSQL row.
            #[allow(dead_code)]
            pub fn from_pg_prefixed(
                row: &sqlx::postgres::PgRow,
                prefix: &str,
            ) -> sqlx::Result<Self> {
                use sqlx::Row;
                Ok(Self {
                    $($field: row.try_get(format!("{prefix}{}", stringify!($field)).as_str())?),*
                })
            }

            /// Reads the columns by name from a SQLite row.
            pub fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                Ok(Self {
                    $($field: row.get(stringify!($field))?),*
                })
            }
        }
    };
}

row!(AppRow {
    appid: String,
    secret_hash: String,
    name: String,
    product_state: String,
    in_open_scope: bool,
    quota_daily: Option<i64>,
    quota_per_minute: Option<i64>,
    token_quota_daily: Option<i64>,
    created_at: i64,
    review_due_at: Option<i64>,
    last_review_result: Option<String>,
    trade_managed: bool,
    confirmation_completed: bool,
    ingest_delay_s: i64,
    auto_confirm_courier: i64,
    auto_confirm_other: i64,
    settle_delay_s: i64,
    msg_jump_path: Option<String>,
    push_url: Option<String>,
    push_token: Option<String>,
});

impl TryFrom<AppRow> for App {
    type Error = StoreError;

    fn try_from(row: AppRow) -> Result<Self, StoreError> {
        Ok(App {
            product_state: ProductState::parse(&row.product_state)
                .ok_or_else(|| corrupt(format!("product state {}", row.product_state)))?,
            appid: row.appid,
            secret_hash: row.secret_hash,
            name: row.name,
            in_open_scope: row.in_open_scope,
            quota: Quota {
                daily: row.quota_daily,
                per_minute: row.quota_per_minute,
                token_daily: row.token_quota_daily,
            },
            created_at: row.created_at,
            review_due_at: row.review_due_at,
            last_review_result: row.last_review_result,
            trade: TradeManagement {
                trade_managed: row.trade_managed,
                confirmation_completed: row.confirmation_completed,
                ingest_delay_s: row.ingest_delay_s,
                auto_confirm_days: AutoConfirmDays {
                    courier: row.auto_confirm_courier,
                    other: row.auto_confirm_other,
                },
                settle_delay_s: row.settle_delay_s,
            },
            msg_jump_path: row.msg_jump_path,
            push: row.push_url.map(|url| Push {
                url: Some(url),
                token: row.push_token,
            }),
        })
    }
}

row!(TokenRow {
    token: String,
    appid: String,
    kind: String,
    generation: i64,
    issued_at: i64,
    expires_at: i64,
    superseded_at: Option<i64>,
    revoked: bool,
    component_appid: Option<String>,
});

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(TokenRecord {
            kind: TokenKind::parse(&row.kind)
                .ok_or_else(|| corrupt(format!("token kind {}", row.kind)))?,
            token: row.token,
            appid: row.appid,
            generation: row.generation,
            issued_at: row.issued_at,
            expires_at: row.expires_at,
            superseded_at: row.superseded_at,
            revoked: row.revoked,
            component_appid: row.component_appid,
        })
    }
}

row!(
    /// A payment (not a sub-payment); its sub-payments are [`SubPaymentRow`]s.
    PaymentRow {
        transaction_id: String,
        appid: String,
        openid: String,
        mchid: String,
        out_trade_no: String,
        amount: i64,
        state: String,
        created_at: i64,
        paid_at: Option<i64>,
        refunded_at: Option<i64>,
        excluded_from_shipping: bool,
        visible_at: Option<i64>,
        v3: Option<String>,
    }
);

/// The SELECT of [`OrderRow`] (both dialects): a payment or sub-payment with the number of its own
/// sub-payments and its stored shipping.
macro_rules! order_select {
    () => {
        "SELECT p.transaction_id, p.appid, p.openid, p.mchid, p.out_trade_no, p.amount,
                p.state, p.created_at, p.paid_at, p.refunded_at, p.excluded_from_shipping,
                p.visible_at, p.special_type, p.special_delay_to, p.complaints,
                (SELECT COUNT(*) FROM payments c
                 WHERE c.parent_transaction_id = p.transaction_id) AS children,
                s.body AS shipment
         FROM payments p LEFT JOIN sec_shipments s ON s.transaction_id = p.transaction_id"
    };
}
pub(crate) use order_select;
pub(crate) use row;

row!(
    /// A payment or a sub-payment, as order shipping management looks one up (SPEC §10.2),
    /// with how many sub-payments it has itself and its shipping.
    OrderRow {
        transaction_id: String,
        appid: String,
        openid: String,
        mchid: String,
        out_trade_no: String,
        amount: i64,
        state: String,
        created_at: i64,
        paid_at: Option<i64>,
        refunded_at: Option<i64>,
        excluded_from_shipping: bool,
        visible_at: Option<i64>,
        special_type: Option<i64>,
        special_delay_to: Option<i64>,
        complaints: String,
        children: i64,
        shipment: Option<String>,
    }
);

/// A page of listed rows: the orders among them with their shipping, and the position of
/// the last row read.
pub fn listed_orders(rows: Vec<OrderRow>, appid: &str, now: i64) -> Result<OrdersPage, StoreError> {
    let last = rows
        .last()
        .map(|r| (r.paid_at.unwrap_or(r.created_at), r.transaction_id.clone()));
    let mut orders = Vec::new();
    for row in rows {
        if let Some(order) = row.into_order(appid, now)? {
            orders.push(order);
        }
    }
    Ok(OrdersPage { orders, last })
}

impl OrderRow {
    /// The order this row is for `appid` at `now`, or `None` (10060001): a paid or
    /// refunded payment of the app, not kept out of the API, not the master of a combined
    /// payment (its sub-orders are the orders), and visible by now.
    pub fn into_order(self, appid: &str, now: i64) -> Result<Option<OrderAndShipping>, StoreError> {
        let known = userorder_model::sec_order::known_payment(
            &self.state,
            self.excluded_from_shipping,
            self.visible_at,
            now,
        );
        if self.appid != appid || !known || self.children > 0 {
            return Ok(None);
        }
        let shipment: Option<Shipment> = self
            .shipment
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(corrupt)?;
        let order = PaymentOrder {
            keys: PaymentKeys {
                transaction_id: self.transaction_id,
                mchid: self.mchid,
                out_trade_no: self.out_trade_no,
            },
            openid: self.openid,
            amount: self.amount,
            created_at: self.created_at,
            paid_at: self.paid_at.unwrap_or(self.created_at),
            refunded_at: self.refunded_at,
            special: self.special_type.map(|kind| Special {
                kind,
                delay_to: self.special_delay_to,
            }),
            complaints: serde_json::from_str(&self.complaints).map_err(corrupt)?,
        };
        Ok(Some((order, shipment)))
    }
}

row!(SubPaymentRow {
    transaction_id: String,
    mchid: String,
    out_trade_no: String,
    amount: i64,
});

impl PaymentRow {
    pub fn into_payment(self, subs: Vec<SubPaymentRow>) -> Result<Payment, StoreError> {
        let v3 = match &self.v3 {
            Some(body) => Some(serde_json::from_str(body).map_err(corrupt)?),
            None => None,
        };
        Ok(Payment {
            v3,
            keys: PaymentKeys {
                transaction_id: self.transaction_id,
                mchid: self.mchid,
                out_trade_no: self.out_trade_no,
            },
            appid: self.appid,
            openid: self.openid,
            amount: self.amount,
            state: self.state,
            created_at: self.created_at,
            paid_at: self.paid_at,
            refunded_at: self.refunded_at,
            excluded_from_shipping: self.excluded_from_shipping,
            visible_at: self.visible_at,
            sub_orders: subs
                .into_iter()
                .map(|s| SubPayment {
                    keys: PaymentKeys {
                        transaction_id: s.transaction_id,
                        mchid: s.mchid,
                        out_trade_no: s.out_trade_no,
                    },
                    amount: s.amount,
                })
                .collect(),
        })
    }
}

row!(
    /// The current shopping details of an order, as listings read them.
    InfoRow {
        appid: String,
        body: String,
        version: i64,
        created_at: i64,
        updated_at: i64,
        associated_at: Option<i64>,
        transaction_id: Option<String>,
    }
);

impl InfoRow {
    /// The upload as it was accepted.
    pub fn info(&self) -> Result<ShoppingInfo, StoreError> {
        serde_json::from_str(&self.body).map_err(corrupt)
    }

    /// Whether its verdict needs the payment its key names: association locks an upload
    /// and needs a paid payment, which never changes again, so an associated upload's
    /// verdict is known without it.
    pub fn needs_payment(&self) -> bool {
        self.associated_at.is_none()
    }

    /// The record, with `info` (from [`Self::info`]) and the payment its key names (looked
    /// up only when [`Self::needs_payment`]).
    pub fn into_stored(self, info: ShoppingInfo, payment: Option<&Payment>) -> StoredInfo {
        let verify_result = match self.needs_payment() {
            true => verify(&self.appid, &Upload::of(&info), payment),
            false => VerifyResult::Associated,
        };
        StoredInfo {
            appid: self.appid,
            info,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            associated_at: self.associated_at,
            transaction_id: self.transaction_id,
            verify_result,
        }
    }
}

row!(
    /// What the ordering rule (SPEC §5.4, `rules::refusal`) compares: the stored upload of
    /// an order.
    StoredUpload {
        upload_time_ns: i64,
        upload_time: String,
        body: String,
        associated: bool,
    }
);

row!(ShippingRow {
    body: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
});

row!(
    /// One accepted version, from the history table or the current row.
    VersionRow {
        version: i64,
        upload_time: String,
        accepted_at: i64,
        body: String,
    }
);

impl VersionRow {
    pub fn into_version<T: serde::de::DeserializeOwned>(
        self,
    ) -> Result<StoredVersion<T>, StoreError> {
        Ok(StoredVersion {
            version: self.version,
            upload_time: self.upload_time,
            accepted_at: self.accepted_at,
            info: serde_json::from_str(&self.body).map_err(corrupt)?,
        })
    }
}

row!(
    /// A journal entry; its request body is in `request_body_lz4` (compressed), or in
    /// `request_body` for rows written before bodies were compressed.
    JournalRow {
        rid: String,
        appid: Option<String>,
        invoke_time: i64,
        cost_in_ms: i64,
        request_url: String,
        request_body: String,
        request_body_lz4: Option<Vec<u8>>,
        response_body: String,
        client_ip: String,
        errcode: i64,
    }
);

impl JournalRow {
    /// The row for an entry: the request body compressed. A journal entry holds a copy of
    /// every request body, so this keeps the journal from costing a full extra copy of
    /// every upload on disk and in the write path (about a third of the bytes, measured on
    /// the bench's bodies).
    pub fn packed(entry: &JournalEntry) -> Self {
        JournalRow {
            rid: entry.rid.clone(),
            appid: entry.appid.clone(),
            invoke_time: entry.invoke_time,
            cost_in_ms: entry.cost_in_ms,
            request_url: entry.request_url.clone(),
            request_body: String::new(),
            request_body_lz4: Some(lz4_flex::compress_prepend_size(
                entry.request_body.as_bytes(),
            )),
            response_body: entry.response_body.clone(),
            client_ip: entry.client_ip.clone(),
            errcode: entry.errcode,
        }
    }
}

impl TryFrom<JournalRow> for JournalEntry {
    type Error = StoreError;

    fn try_from(row: JournalRow) -> Result<Self, StoreError> {
        let request_body = match row.request_body_lz4 {
            Some(packed) => {
                let bytes = lz4_flex::decompress_size_prepended(&packed).map_err(corrupt)?;
                String::from_utf8(bytes).map_err(corrupt)?
            }
            None => row.request_body,
        };
        Ok(JournalEntry {
            rid: row.rid,
            appid: row.appid,
            invoke_time: row.invoke_time,
            cost_in_ms: row.cost_in_ms,
            request_url: row.request_url,
            request_body,
            response_body: row.response_body,
            client_ip: row.client_ip,
            errcode: row.errcode,
        })
    }
}

row!(ComponentRow {
    component_appid: String,
    secret_hash: String,
    verify_ticket: String,
    created_at: i64,
});

impl From<ComponentRow> for Component {
    fn from(row: ComponentRow) -> Self {
        Component {
            component_appid: row.component_appid,
            secret_hash: row.secret_hash,
            verify_ticket: row.verify_ticket,
            created_at: row.created_at,
        }
    }
}

row!(AuthorizationRow {
    component_appid: String,
    authorizer_appid: String,
    funcscope: String,
    agreement_signed: bool,
    refresh_token: String,
    authorized_at: i64,
});

impl TryFrom<AuthorizationRow> for Authorization {
    type Error = StoreError;

    fn try_from(row: AuthorizationRow) -> Result<Self, StoreError> {
        Ok(Authorization {
            funcscope: serde_json::from_str(&row.funcscope).map_err(corrupt)?,
            component_appid: row.component_appid,
            authorizer_appid: row.authorizer_appid,
            agreement_signed: row.agreement_signed,
            refresh_token: row.refresh_token,
            authorized_at: row.authorized_at,
        })
    }
}

row!(FaultRow {
    errcode: i64,
    delay_ms: i64,
});

impl From<FaultRow> for Fault {
    fn from(row: FaultRow) -> Self {
        Fault {
            errcode: row.errcode,
            delay_ms: row.delay_ms,
        }
    }
}

row!(
    /// One (merchant, bound app) pair; `appid` is NULL for a merchant bound to none.
    MerchantAppRow {
        mchid: String,
        appid: Option<String>,
    }
);

/// Folds (merchant, app) pairs, ordered by merchant, into merchants.
pub fn merchants(rows: Vec<MerchantAppRow>) -> Vec<Merchant> {
    let mut merchants: Vec<Merchant> = Vec::new();
    for row in rows {
        match merchants.last_mut() {
            Some(last) if last.mchid == row.mchid => last.appids.extend(row.appid),
            _ => merchants.push(Merchant {
                mchid: row.mchid,
                appids: row.appid.into_iter().collect(),
            }),
        }
    }
    merchants
}

impl ShippingRow {
    pub fn into_stored(self, appid: &str) -> Result<StoredShipping, StoreError> {
        Ok(StoredShipping {
            appid: appid.to_owned(),
            info: serde_json::from_str(&self.body).map_err(corrupt)?,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

row!(
    /// One row of the event log (SPEC §10.13).
    EventRow {
        id: i64,
        appid: String,
        event: String,
        at: i64,
        payload: String,
        delivery_state: String,
        attempts: i64,
        last_status: Option<i64>,
        next_at: Option<i64>,
        log: String,
        notification: Option<String>,
    }
);

impl TryFrom<EventRow> for Event {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        let mut payload: serde_json::Value = serde_json::from_str(&row.payload).map_err(corrupt)?;
        // A notification's payload shows it as sent, once its first attempt built it.
        if let (Some(sent), Some(fields)) = (&row.notification, payload.as_object_mut()) {
            fields.insert(
                "notification".into(),
                serde_json::from_str(sent).map_err(corrupt)?,
            );
        }
        Ok(Event {
            id: row.id,
            appid: row.appid,
            event: row.event,
            at: row.at,
            payload,
            delivery: Delivery {
                state: DeliveryState::parse(&row.delivery_state)
                    .ok_or_else(|| corrupt(format!("delivery state {}", row.delivery_state)))?,
                attempts: row.attempts,
                last_status: row.last_status,
                next_at: row.next_at,
                log: serde_json::from_str(&row.log).map_err(corrupt)?,
            },
        })
    }
}

row!(
    /// A pending event with its app's push target, for a delivery attempt.
    DeliveryRow {
        id: i64,
        attempts: i64,
        payload: String,
        push_url: Option<String>,
        push_token: Option<String>,
    }
);

impl DeliveryRow {
    /// The job, when the app still has a push URL.
    pub fn into_job(self) -> Option<DeliveryJob> {
        Some(DeliveryJob {
            id: self.id,
            attempts: self.attempts,
            payload: self.payload,
            url: self.push_url?,
            token: self.push_token,
        })
    }
}

row!(
    /// A claimed notification (SPEC §11.12).
    NotificationRow {
        id: i64,
        appid: String,
        event: String,
        at: i64,
        mchid: Option<String>,
        notify_url: Option<String>,
        payload: String,
        notification: Option<String>,
        log: String,
        attempts: i64,
    }
);

impl NotificationRow {
    pub fn into_job(self) -> Option<NotifyJob> {
        Some(NotifyJob {
            id: self.id,
            appid: self.appid,
            event: self.event,
            at: self.at,
            mchid: self.mchid?,
            url: self.notify_url?,
            payload: self.payload,
            notification: self.notification,
            log: self.log,
            attempts: self.attempts,
        })
    }
}
