//! What every request asks of PostgreSQL, one statement per batch ([`super::batch`]):
//! an authenticated call's facts, its quota count, and a shopping upload.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgPool};
use userorder_model::shopping::OrderKey;

use super::batch::{Counts, Operation};
use super::statements as sql;
use super::{RETRIES, next_version};
use crate::records::*;
use crate::rows::*;
use crate::rules::{self, Upload, corrupt, key_cols};
use crate::{CallFacts, Result, StoreError};

/// The SQLSTATE after which a round is simply written again: a deadlock between two
/// batches.
const DEADLOCK: &str = "40P01";
/// The SQLSTATE with which [`write`] refuses a round in which an upload names a sub-order
/// key another order holds; its detail lists the keys' positions among the round's keys.
const SUB_ORDER_TAKEN: &str = "UO001";

// ---- call facts ----------------------------------------------------------------------

/// A call's token (or, for the token endpoints, its appid) and path.
pub struct FactsRequest {
    pub asker: Asker,
    pub path: String,
}

/// Who a call says it is.
pub enum Asker {
    Token(String),
    App(String),
}

/// The clock, the token, its app and whether a fault is queued for the app on the path,
/// for every call of the batch in one read.
pub struct CallFactsOp(pub PgPool);

#[async_trait]
impl Operation for CallFactsOp {
    type Request = FactsRequest;
    type Answer = CallFacts;

    async fn run(
        &self,
        requests: &[FactsRequest],
        counts: &Counts,
    ) -> Result<Vec<Result<CallFacts>>> {
        counts.sent(1);
        let (mut tokens, mut appids, mut paths) = (Vec::new(), Vec::new(), Vec::new());
        for request in requests {
            let (token, appid) = match &request.asker {
                Asker::Token(token) => (Some(token.as_str()), None),
                Asker::App(appid) => (None, Some(appid.as_str())),
            };
            tokens.push(token);
            appids.push(appid);
            paths.push(request.path.as_str());
        }
        let sql = format!(
            "SELECT (SELECT offset_seconds FROM clock WHERE id = 1) AS clock_offset,
                    t.token IS NOT NULL AS has_token, {token},
                    a.appid IS NOT NULL AS has_app, {app},
                    EXISTS (SELECT 1 FROM faults f WHERE f.appid = COALESCE(t.appid, r.appid)
                            AND (f.path IS NULL OR f.path = r.path)) AS fault_queued
             FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[])
                  WITH ORDINALITY AS r(token, appid, path, n)
             LEFT JOIN LATERAL (
                 SELECT * FROM access_tokens t WHERE t.token = r.token LIMIT 1
             ) t ON TRUE
             LEFT JOIN LATERAL (
                 SELECT * FROM apps a WHERE a.appid = COALESCE(t.appid, r.appid) LIMIT 1
             ) a ON TRUE
             ORDER BY r.n",
            token = TokenRow::prefixed_columns("t", "t_"),
            app = AppRow::prefixed_columns("a", "a_"),
        );
        let rows = sqlx::query(&sql)
            .bind(&tokens)
            .bind(&appids)
            .bind(&paths)
            .fetch_all(&self.0)
            .await?;
        Ok(rows.iter().map(call_facts).collect())
    }
}

fn call_facts(row: &sqlx::postgres::PgRow) -> Result<CallFacts> {
    let token = match row.try_get("has_token")? {
        true => Some(TokenRecord::try_from(TokenRow::from_pg_prefixed(
            row, "t_",
        )?)?),
        false => None,
    };
    let app = match row.try_get("has_app")? {
        true => Some(App::try_from(AppRow::from_pg_prefixed(row, "a_")?)?),
        false => None,
    };
    Ok(CallFacts {
        clock_offset: row.try_get("clock_offset")?,
        fault_queued: app.is_some() && row.try_get::<bool, _>("fault_queued")?,
        token,
        app,
    })
}

// ---- token generations --------------------------------------------------------------

/// Issues the tokens of a batch in one transaction: each line's owner (the app, the
/// component or the authorization) is locked once, in a fixed order, and all of a line's
/// new tokens are inserted by one statement as its next generations in the batch's order
/// (`sql::insert_next_tokens`) — so a batch of fetches ends exactly as the same fetches
/// one after another, and concurrent fetches of one app wait for one commit per batch, not
/// one per fetch.
pub struct IssueTokensOp(pub PgPool);

/// The tokens whose generations count together: one app's, of one kind, for one
/// component (or none).
fn line(token: &NewToken) -> (&str, &str, Option<&str>) {
    (
        &token.appid,
        token.kind.as_str(),
        token.component_appid.as_deref(),
    )
}

#[async_trait]
impl Operation for IssueTokensOp {
    type Request = NewToken;
    type Answer = TokenRecord;

    async fn run(
        &self,
        requests: &[NewToken],
        counts: &Counts,
    ) -> Result<Vec<Result<TokenRecord>>> {
        let mut lines: Vec<(&NewToken, Vec<usize>)> = Vec::new();
        for (index, token) in requests.iter().enumerate() {
            match lines
                .iter_mut()
                .find(|(first, _)| line(first) == line(token))
            {
                Some((_, members)) => members.push(index),
                None => lines.push((token, vec![index])),
            }
        }
        lines.sort_by(|(a, _), (b, _)| line(a).cmp(&line(b)));
        let mut answers: Vec<Option<Result<TokenRecord>>> = requests.iter().map(|_| None).collect();
        let mut tx = self.0.begin().await?;
        counts.sent(1);
        for (first, members) in &lines {
            // A new generation: the previous one keeps working through its grace period;
            // a new stable token (a forced refresh) revokes the previous one at once.
            let stable = first.kind == TokenKind::Stable;
            let tokens: Vec<&NewToken> = members.iter().map(|&i| &requests[i]).collect();
            counts.sent(2);
            sql::lock_token_owner(&mut tx, first).await?;
            let generations = sql::insert_next_tokens(&mut tx, &tokens, !stable, stable).await?;
            for (&index, generation) in members.iter().zip(generations) {
                answers[index] = Some(Ok(rules::issued(&requests[index], generation)));
            }
        }
        counts.sent(1);
        tx.commit().await?;
        Ok(answers
            .into_iter()
            .map(|answer| answer.unwrap_or_else(|| Err(corrupt("a token was never issued"))))
            .collect())
    }
}

// ---- quota counts --------------------------------------------------------------------

/// One call to count: its app, API and windows.
pub struct CountRequest {
    pub appid: String,
    pub api: String,
    pub day_start: i64,
    pub minute_start: i64,
}

/// Counts the calls of a batch in one upsert, on a connection that commits without
/// waiting for the WAL flush (README, "Durability"): a crash may forget the last few
/// calls' counts, never an upload; every process counts in the same rows. Each call
/// answers the counts of its windows with itself and the calls before it in the batch.
pub struct CountOp(pub PgPool);

type Window<'a> = (&'a str, &'a str, &'static str, i64);

/// A call's two counters: its day's and its minute's.
fn windows(r: &CountRequest) -> [Window<'_>; 2] {
    [
        (&r.appid, &r.api, "d", r.day_start),
        (&r.appid, &r.api, "m", r.minute_start),
    ]
}

#[async_trait]
impl Operation for CountOp {
    type Request = CountRequest;
    type Answer = QuotaCounts;

    async fn run(
        &self,
        requests: &[CountRequest],
        counts: &Counts,
    ) -> Result<Vec<Result<QuotaCounts>>> {
        counts.sent(1);
        // Each counter row once, with the batch's calls in it; sorted, so that two
        // batches lock shared rows in the same order.
        let mut added: HashMap<Window<'_>, i64> = HashMap::new();
        for request in requests {
            for window in windows(request) {
                *added.entry(window).or_default() += 1;
            }
        }
        let mut rows: Vec<(Window<'_>, i64)> = added.into_iter().collect();
        rows.sort_unstable();
        let (mut appids, mut apis, mut kinds) = (Vec::new(), Vec::new(), Vec::new());
        let (mut starts, mut added_counts) = (Vec::new(), Vec::new());
        for ((appid, api, window, start), n) in &rows {
            appids.push(*appid);
            apis.push(*api);
            kinds.push(*window);
            starts.push(*start);
            added_counts.push(*n);
        }
        let mut conn = self.0.acquire().await?;
        let totals: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
            "INSERT INTO quota_counters (appid, api, \"window\", window_start, count)
             SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[])
             ON CONFLICT (appid, api, \"window\", window_start)
             DO UPDATE SET count = quota_counters.count + excluded.count
             RETURNING appid, api, \"window\", window_start, count",
        )
        .bind(&appids)
        .bind(&apis)
        .bind(&kinds)
        .bind(&starts)
        .bind(&added_counts)
        .fetch_all(&mut *conn)
        .await?;
        // Per counter: its count before this batch, then one more per call in order.
        let mut before: HashMap<(&str, &str, &str, i64), i64> = HashMap::new();
        let mut started = Vec::new();
        for (appid, api, window, start, total) in &totals {
            let key = (appid.as_str(), api.as_str(), window.as_str(), *start);
            let added = rows
                .iter()
                .find(|((a, p, w, s), _)| (*a, *p, *w, *s) == key)
                .map_or(0, |(_, n)| *n);
            if *total == added {
                started.push((appid.as_str(), api.as_str()));
            }
            before.insert(key, total - added);
        }
        let mut answers = Vec::with_capacity(requests.len());
        for request in requests {
            let [day, minute] = windows(request).map(|(a, p, w, s)| {
                let count = before
                    .get_mut(&(a, p, w, s))
                    .ok_or_else(|| corrupt("a quota counter was not counted"))?;
                *count += 1;
                Ok::<_, StoreError>(*count)
            });
            answers.push(Ok(QuotaCounts {
                day: day?,
                minute: minute?,
            }));
        }
        // A window began: the older ones of that counter will never be read again.
        started.sort_unstable();
        started.dedup();
        for (appid, api) in started {
            let request = requests
                .iter()
                .find(|r| r.appid == appid && r.api == api)
                .ok_or_else(|| corrupt("a started counter has no call"))?;
            counts.sent(1);
            sqlx::query(
                "DELETE FROM quota_counters
                 WHERE appid = $1 AND api = $2
                   AND ((\"window\" = 'd' AND window_start < $3)
                        OR (\"window\" = 'm' AND window_start < $4))",
            )
            .bind(appid)
            .bind(api)
            .bind(request.day_start)
            .bind(request.minute_start)
            .execute(&mut *conn)
            .await?;
        }
        Ok(answers)
    }
}

// ---- shopping uploads ----------------------------------------------------------------

/// A shopping upload: its app, what the rules read of it, its body as stored, and the
/// sandbox moment it arrived.
pub struct SaveRequest {
    pub appid: String,
    pub upload: Upload,
    pub body: String,
    pub now: i64,
}

/// Saves the uploads of a batch: one read of what they are judged against, the decisions
/// (`crate::rules`), and one guarded statement that writes every accepted upload and
/// commits on its own. An upload whose order (or payment) another writer changed between
/// the read and the write is not written by it and is judged again in the next round, with
/// the uploads of the batch that had to wait: two uploads of one order, or two that claim
/// one sub-order key, are never in one round, so each is judged against what the other
/// left, as if they had come one after the other.
pub struct SaveShoppingOp(pub PgPool);

/// What one upload is judged against.
struct Facts {
    stored: Option<(StoredUpload, i64)>,
    payment: Option<Payment>,
}

/// An upload the round writes, and the version it expects to become.
struct Write<'a> {
    index: usize,
    request: &'a SaveRequest,
    version: i64,
    association: Option<String>,
    judged: Option<(String, String)>,
}

#[async_trait]
impl Operation for SaveShoppingOp {
    type Request = SaveRequest;
    type Answer = Saved;

    async fn run(&self, requests: &[SaveRequest], counts: &Counts) -> Result<Vec<Result<Saved>>> {
        let mut answers: Vec<Option<Result<Saved>>> = requests.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..requests.len()).collect();
        // Races each upload lost; waiting for a round of its own is not one.
        let mut lost = vec![0; requests.len()];
        let mut conn = self.0.acquire().await?;
        while !pending.is_empty() {
            let (round, waiting) = one_round(requests, &pending);
            counts.sent(1);
            let facts = read_facts(&mut conn, requests, &round).await?;
            let mut writes = Vec::new();
            for (&index, facts) in round.iter().zip(facts) {
                match judge(index, &requests[index], facts) {
                    Ok(write) => writes.push(write),
                    Err(refused) => answers[index] = Some(Ok(refused)),
                }
            }
            let mut retry = Vec::new();
            if !writes.is_empty() {
                counts.sent(1);
                match write(&mut conn, &writes).await {
                    Ok(versions) => {
                        for (write, version) in writes.iter().zip(versions) {
                            if version == Some(write.version) {
                                answers[write.index] = Some(Ok(Saved::Accepted {
                                    version: write.version,
                                    associated: write.association.is_some(),
                                }));
                            } else {
                                retry.push(write.index);
                            }
                        }
                    }
                    // Uploads naming a sub-order key another order holds are refused; the
                    // round's other uploads are written again without them.
                    Err(sqlx::Error::Database(e))
                        if e.code().as_deref() == Some(SUB_ORDER_TAKEN) =>
                    {
                        let refused = taken_keys(e.as_ref(), &writes)?;
                        for write in &writes {
                            match refused.get(&write.index) {
                                Some(key) => {
                                    answers[write.index] =
                                        Some(Ok(Saved::SubOrderTaken { key: key.clone() }));
                                }
                                None => retry.push(write.index),
                            }
                        }
                    }
                    Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(DEADLOCK) => {
                        retry.extend(writes.iter().map(|w| w.index));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            for &index in &retry {
                lost[index] += 1;
                if lost[index] == RETRIES {
                    answers[index] = Some(Err(StoreError::Batch(format!(
                        "upload lost {RETRIES} races for its order in a row"
                    ))));
                }
            }
            retry.retain(|&index| lost[index] < RETRIES);
            pending = waiting.into_iter().chain(retry).collect();
            pending.sort_unstable();
        }
        answers
            .into_iter()
            .map(|answer| answer.unwrap_or_else(|| Err(corrupt("an upload was never judged"))))
            .map(Ok)
            .collect()
    }
}

/// Splits the pending uploads into this round's (no two with one order or one sub-order
/// key; the earliest wins) and those that wait for the next.
fn one_round(requests: &[SaveRequest], pending: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut orders = HashSet::new();
    let mut claims = HashSet::new();
    let (mut round, mut waiting) = (Vec::new(), Vec::new());
    for &index in pending {
        let request = &requests[index];
        let (kind, a, b) = key_cols(&request.upload.order_key);
        let subs: Vec<_> = request
            .upload
            .sub_order_keys
            .iter()
            .map(|k| {
                let (_, sa, sb) = key_cols(k);
                (request.appid.as_str(), kind, sa, sb)
            })
            .collect();
        if orders.contains(&(request.appid.as_str(), kind, a, b))
            || subs.iter().any(|s| claims.contains(s))
        {
            waiting.push(index);
            continue;
        }
        orders.insert((request.appid.as_str(), kind, a, b));
        claims.extend(subs);
        round.push(index);
    }
    (round, waiting)
}

/// The ordering rule and the association (SPEC §5.4): the write an upload makes, or the
/// fact that refuses it. Its sub-order claims are judged by the write itself.
fn judge(
    index: usize,
    request: &SaveRequest,
    facts: Facts,
) -> std::result::Result<Write<'_>, Saved> {
    let upload = &request.upload;
    let version = next_version(facts.stored, upload.upload_ns, &request.body)?;
    let association = rules::association(&request.appid, upload, facts.payment.as_ref());
    Ok(Write {
        index,
        request,
        version,
        association: association.map(str::to_owned),
        judged: facts
            .payment
            .as_ref()
            .map(|p| (p.keys.transaction_id.clone(), p.state.clone())),
    })
}

/// What each upload of the round is judged against, in one read: its order's stored
/// upload and version, and the payment its key names with its sub-payments.
async fn read_facts(
    conn: &mut PgConnection,
    requests: &[SaveRequest],
    round: &[usize],
) -> Result<Vec<Facts>> {
    let mut cols = KeyColumns::default();
    for &index in round {
        cols.push(&requests[index].appid, &requests[index].upload.order_key);
    }
    // A master key names its payment by the same columns as its order: (mchid,
    // out_trade_no) or (transaction_id, ''). Every lookup is a LATERAL subquery with a
    // LIMIT, so that it stays one index probe per upload whatever the planner's statistics
    // say (a freshly filled table reads as empty, and a join may then walk a whole table).
    let sql = format!(
        "SELECT s.version IS NOT NULL AS has_stored, s.version AS s_version,
                s.upload_time_ns AS s_upload_time_ns, s.upload_time AS s_upload_time,
                s.body AS s_body, s.associated_at IS NOT NULL AS s_associated,
                p.transaction_id IS NOT NULL AS has_payment, {payment},
                subs.transaction_ids, subs.mchids, subs.out_trade_nos, subs.amounts
         FROM unnest($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[])
              WITH ORDINALITY AS r(appid, key_type, key_a, key_b, n)
         LEFT JOIN LATERAL (
             SELECT * FROM shopping_infos s
             WHERE s.appid = r.appid AND s.key_type = r.key_type
               AND s.key_a = r.key_a AND s.key_b = r.key_b
             LIMIT 1
         ) s ON TRUE
         LEFT JOIN LATERAL (
             (SELECT * FROM payments q
              WHERE r.key_type = 1 AND q.parent_transaction_id IS NULL
                AND q.mchid = r.key_a AND q.out_trade_no = r.key_b)
             UNION ALL
             (SELECT * FROM payments q
              WHERE r.key_type = 2 AND q.parent_transaction_id IS NULL
                AND q.transaction_id = r.key_a)
             LIMIT 1
         ) p ON TRUE
         LEFT JOIN LATERAL (
             SELECT array_agg(c.transaction_id ORDER BY c.position) AS transaction_ids,
                    array_agg(c.mchid ORDER BY c.position) AS mchids,
                    array_agg(c.out_trade_no ORDER BY c.position) AS out_trade_nos,
                    array_agg(c.amount ORDER BY c.position) AS amounts
             FROM payments c WHERE c.parent_transaction_id = p.transaction_id
         ) subs ON TRUE
         ORDER BY r.n",
        payment = PaymentRow::prefixed_columns("p", "p_"),
    );
    let rows = sqlx::query(&sql)
        .bind(&cols.appid)
        .bind(&cols.key_type)
        .bind(&cols.key_a)
        .bind(&cols.key_b)
        .fetch_all(&mut *conn)
        .await?;
    if rows.len() != round.len() {
        return Err(corrupt("the upload facts lost a row"));
    }
    rows.iter().map(facts_of).collect()
}

fn facts_of(row: &sqlx::postgres::PgRow) -> Result<Facts> {
    let stored = match row.try_get("has_stored")? {
        true => Some((
            StoredUpload::from_pg_prefixed(row, "s_")?,
            row.try_get("s_version")?,
        )),
        false => None,
    };
    let payment = match row.try_get("has_payment")? {
        true => {
            // Aggregates over no sub-payments are NULL.
            let texts = |name| -> Result<Vec<String>> {
                Ok(row.try_get::<Option<_>, _>(name)?.unwrap_or_default())
            };
            let amounts: Option<Vec<i64>> = row.try_get("amounts")?;
            let subs = texts("transaction_ids")?
                .into_iter()
                .zip(texts("mchids")?)
                .zip(texts("out_trade_nos")?)
                .zip(amounts.unwrap_or_default())
                .map(
                    |(((transaction_id, mchid), out_trade_no), amount)| SubPaymentRow {
                        transaction_id,
                        mchid,
                        out_trade_no,
                        amount,
                    },
                )
                .collect();
            Some(PaymentRow::from_pg_prefixed(row, "p_")?.into_payment(subs)?)
        }
        false => None,
    };
    Ok(Facts { stored, payment })
}

/// The order-key columns of a batch, one array each.
#[derive(Default)]
struct KeyColumns<'a> {
    appid: Vec<&'a str>,
    key_type: Vec<i64>,
    key_a: Vec<&'a str>,
    key_b: Vec<&'a str>,
}

impl<'a> KeyColumns<'a> {
    fn push(&mut self, appid: &'a str, key: &'a OrderKey) {
        let (kind, a, b) = key_cols(key);
        self.appid.push(appid);
        self.key_type.push(kind);
        self.key_a.push(a);
        self.key_b.push(b);
    }
}

/// The round's accepted uploads, in one statement that commits on its own: each replaced
/// version moves to the history table, each row is upserted under the ordering rule
/// (associated at once when its association is given), and each order's sub-order keys are
/// claimed (the ones it no longer names are released). An upload is not written when what
/// it was judged against has changed since [`read_facts`]: its row is no longer the
/// version it replaces, or the payment it was judged with is no longer in that state (the
/// payments are locked, shared, before the orders, as `pay` locks them). Answers, per
/// upload, the version written (`None`: not written). When another order holds a key an
/// upload claims, the statement fails with SQLSTATE [`SUB_ORDER_TAKEN`], its detail the
/// 1-based positions of the keys not claimed among all the round's sub-order keys, and
/// nothing stays written.
async fn write(conn: &mut PgConnection, writes: &[Write<'_>]) -> sqlx::Result<Vec<Option<i64>>> {
    let mut cols = KeyColumns::default();
    let (mut combined, mut openid, mut upload_time, mut upload_ns) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut body, mut now, mut association, mut version) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut judged_id, mut judged_state) = (Vec::new(), Vec::new());
    let (mut sub_n, mut sub_a, mut sub_b) = (Vec::new(), Vec::new(), Vec::new());
    for (n, w) in writes.iter().enumerate() {
        let upload = &w.request.upload;
        cols.push(&w.request.appid, &upload.order_key);
        combined.push(upload.combined);
        openid.push(upload.openid.as_str());
        upload_time.push(upload.upload_time.as_str());
        upload_ns.push(upload.upload_ns);
        body.push(w.request.body.as_str());
        now.push(w.request.now);
        association.push(w.association.as_deref());
        version.push(w.version);
        judged_id.push(w.judged.as_ref().map(|(id, _)| id.as_str()));
        judged_state.push(w.judged.as_ref().map(|(_, state)| state.as_str()));
        for sub in &upload.sub_order_keys {
            let (_, a, b) = key_cols(sub);
            sub_n.push(n as i64 + 1);
            sub_a.push(a);
            sub_b.push(b);
        }
    }
    let rows: Vec<(Option<bool>, Option<i64>)> = sqlx::query_as(
        "WITH w AS MATERIALIZED (
             SELECT * FROM unnest($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::BOOL[],
                                  $6::TEXT[], $7::TEXT[], $8::BIGINT[], $9::TEXT[], $10::BIGINT[],
                                  $11::TEXT[], $12::BIGINT[], $13::TEXT[], $14::TEXT[])
                  WITH ORDINALITY AS w(appid, key_type, key_a, key_b, combined, openid,
                                       upload_time, upload_time_ns, body, now, association,
                                       version, judged_id, judged_state, n)
         ), subs AS MATERIALIZED (
             SELECT * FROM unnest($15::BIGINT[], $16::TEXT[], $17::TEXT[])
                  WITH ORDINALITY AS s(n, a, b, j)
         ), payment AS MATERIALIZED (
             SELECT transaction_id, state FROM payments
             WHERE transaction_id = ANY ($13::TEXT[])
             ORDER BY transaction_id FOR SHARE
         ), unchanged AS (
             SELECT w.* FROM w
             WHERE w.judged_id IS NULL
                OR EXISTS (SELECT 1 FROM payment p
                           WHERE p.transaction_id = w.judged_id AND p.state = w.judged_state)
         ), saved AS (
             INSERT INTO shopping_infos AS i (appid, key_type, key_a, key_b, combined, openid,
                                              upload_time, upload_time_ns, body, version,
                                              created_at, updated_at, associated_at,
                                              transaction_id)
             SELECT appid, key_type, key_a, key_b, combined, openid, upload_time, upload_time_ns,
                    body, version, now, now,
                    CASE WHEN association IS NULL THEN NULL ELSE now END, association
             FROM unchanged
             ORDER BY appid, key_type, key_a, key_b
             ON CONFLICT (appid, key_type, key_a, key_b) DO UPDATE SET
                 combined = excluded.combined, openid = excluded.openid,
                 upload_time = excluded.upload_time, upload_time_ns = excluded.upload_time_ns,
                 body = excluded.body, version = excluded.version,
                 updated_at = excluded.updated_at, associated_at = excluded.associated_at,
                 transaction_id = excluded.transaction_id
             WHERE excluded.upload_time_ns > i.upload_time_ns
               AND i.associated_at IS NULL AND i.version + 1 = excluded.version
             RETURNING appid, key_type, key_a, key_b, version
         ), archived AS (
             -- The statement's snapshot still shows the replaced versions.
             INSERT INTO shopping_info_versions (appid, key_type, key_a, key_b, version,
                                                 upload_time, body, accepted_at)
             SELECT i.appid, i.key_type, i.key_a, i.key_b, i.version, i.upload_time, i.body,
                    i.updated_at
             FROM saved v
             CROSS JOIN LATERAL (
                 SELECT * FROM shopping_infos i
                 WHERE i.appid = v.appid AND i.key_type = v.key_type
                   AND i.key_a = v.key_a AND i.key_b = v.key_b AND i.version = v.version - 1
                 LIMIT 1
             ) i
         ), written AS (
             SELECT w.n, w.appid, w.key_type, w.key_a, w.key_b, v.version
             FROM w JOIN saved v
               ON v.appid = w.appid AND v.key_type = w.key_type
              AND v.key_a = w.key_a AND v.key_b = w.key_b
         ), released AS (
             -- Only a replaced order holds claims; the keys it still names stay. By row
             -- address, found one order at a time through the by-master index (ordered by
             -- it, so that it is chosen even when the statistics of a freshly filled table
             -- rate every index alike).
             DELETE FROM sub_order_keys
             WHERE ctid = ANY (ARRAY(
                 SELECT k.ctid FROM written v
                 CROSS JOIN LATERAL (
                     SELECT k.ctid FROM sub_order_keys k
                     WHERE k.appid = v.appid AND k.key_type = v.key_type
                       AND k.master_key_a = v.key_a AND k.master_key_b = v.key_b
                       AND NOT EXISTS (SELECT 1 FROM subs s
                                       WHERE s.n = v.n AND s.a = k.key_a AND s.b = k.key_b)
                     ORDER BY k.appid, k.key_type, k.master_key_a, k.master_key_b
                 ) k
                 WHERE v.version > 1))
         ), wanted AS (
             SELECT v.appid, v.key_type, s.a, s.b, v.key_a AS master_a, v.key_b AS master_b, s.j
             FROM written v JOIN subs s ON s.n = v.n
         ), claimed AS (
             INSERT INTO sub_order_keys (appid, key_type, key_a, key_b, master_key_a, master_key_b)
             SELECT appid, key_type, a, b, master_a, master_b FROM wanted
             ORDER BY appid, key_type, a, b
             ON CONFLICT (appid, key_type, key_a, key_b) DO UPDATE
                 SET master_key_a = excluded.master_key_a
                 WHERE sub_order_keys.master_key_a = excluded.master_key_a
                   AND sub_order_keys.master_key_b = excluded.master_key_b
             RETURNING appid, key_type, key_a, key_b
         ), refused AS (
             SELECT CASE WHEN (SELECT count(*) FROM claimed) < (SELECT count(*) FROM wanted)
                         THEN userorder_abort('UO001', 'a sub-order key is held by another order',
                             (SELECT string_agg(wa.j::TEXT, ',' ORDER BY wa.j) FROM wanted wa
                              WHERE NOT EXISTS (
                                  SELECT 1 FROM claimed c
                                  WHERE c.appid = wa.appid AND c.key_type = wa.key_type
                                    AND c.key_a = wa.a AND c.key_b = wa.b)))
                    END AS aborted
         )
         SELECT (SELECT aborted FROM refused), v.version
         FROM w LEFT JOIN written v ON v.n = w.n
         ORDER BY w.n",
    )
    .bind(&cols.appid)
    .bind(&cols.key_type)
    .bind(&cols.key_a)
    .bind(&cols.key_b)
    .bind(&combined)
    .bind(&openid)
    .bind(&upload_time)
    .bind(&upload_ns)
    .bind(&body)
    .bind(&now)
    .bind(&association)
    .bind(&version)
    .bind(&judged_id)
    .bind(&judged_state)
    .bind(&sub_n)
    .bind(&sub_a)
    .bind(&sub_b)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(_, version)| version).collect())
}

/// The upload each refused sub-order key belongs to, and the first such key of each, from
/// the positions [`write`] names in its error's detail.
fn taken_keys(
    error: &dyn sqlx::error::DatabaseError,
    writes: &[Write<'_>],
) -> Result<HashMap<usize, OrderKey>> {
    let detail = error
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .and_then(|e| e.detail())
        .unwrap_or_default();
    let keys: Vec<(usize, &OrderKey)> = writes
        .iter()
        .flat_map(|w| {
            w.request
                .upload
                .sub_order_keys
                .iter()
                .map(move |k| (w.index, k))
        })
        .collect();
    let mut taken = HashMap::new();
    for position in detail.split(',').filter(|p| !p.is_empty()) {
        let (index, key) = position
            .parse::<usize>()
            .ok()
            .and_then(|j| keys.get(j.wrapping_sub(1)))
            .ok_or_else(|| corrupt(format!("refused sub-order position {position}")))?;
        taken.entry(*index).or_insert_with(|| (*key).clone());
    }
    if taken.is_empty() {
        return Err(corrupt("a sub-order claim failed, yet no key was named"));
    }
    Ok(taken)
}
