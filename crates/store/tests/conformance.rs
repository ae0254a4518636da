//! The store conformance suite: the same cases on both backends, straight against the
//! `Store` trait (no server in between), each on a database of its own. Where a case needs
//! two processes it opens two store handles on one database.

use std::sync::Arc;

use userorder_model::association::PaymentKeys;
use userorder_model::shopping::{
    Details, Item, JumpLink, LogisticsType, Order, OrderKey, Payer, ShoppingInfo, SubOrder,
    UploadTime,
};
use userorder_store::testing::{Backend, TestDb};
use userorder_store::*;

const APP: &str = "wx0123456789abcdef";
const MCH: &str = "1230000109";
const OPENID: &str = "o-payer";
const T0: i64 = 1_800_000_000;

userorder_store::on_every_backend!(
    v3_payments_and_their_notifications,
    every_saved_fact,
    a_sub_order_key_serves_one_combined_order,
    association_whichever_comes_first,
    uploads_racing_the_payment_end_associated,
    concurrent_uploads_are_judged_one_after_another,
    token_generations_grace_and_stable_tokens,
    concurrent_token_fetches_are_generations_one_after_another,
    quotas_count_every_call,
    the_journal_keeps_bodies_and_its_bound,
    faults_are_consumed_once_across_two_handles,
    shipping_follows_the_ordering_rule,
    payments_become_orders_and_refunds_are_whole,
    events_are_recorded_once_and_claimed_once,
);

async fn store(backend: &Backend) -> (TestDb, Arc<dyn Store>) {
    let db = TestDb::create(backend).await;
    let store = connect(&db.url, 4).await.expect("open the store");
    (db, store)
}

/// A shop: an app and a merchant bound to it.
async fn shop(store: &dyn Store) {
    let app = NewApp {
        appid: APP.into(),
        secret_hash: "hash".into(),
        name: "Shop".into(),
        product_state: ProductState::Approved,
        in_open_scope: true,
        quota: Quota::default(),
        created_at: T0,
    };
    assert_eq!(store.create_app(&app).await.expect("app"), Created::Created);
    assert_eq!(
        store.create_app(&app).await.expect("app"),
        Created::Conflict
    );
    let merchant = store
        .create_merchant(MCH, &[APP.to_owned()], T0)
        .await
        .expect("merchant");
    assert_eq!(merchant, Created::Created);
    assert_eq!(
        store.first_unbound_mchid(APP, &[MCH]).await.expect("read"),
        None
    );
    assert_eq!(
        store
            .first_unbound_mchid(APP, &[MCH, "999"])
            .await
            .expect("read"),
        Some("999".to_owned())
    );
}

fn key(out_trade_no: &str) -> OrderKey {
    OrderKey::Merchant {
        mchid: MCH.into(),
        out_trade_no: out_trade_no.into(),
    }
}

fn items(name: &str) -> Vec<Item> {
    vec![Item {
        merchant_item_id: None,
        name: name.into(),
        description: None,
        unit_price: 100,
        quantity: 1,
        image_url: vec!["https://qpic.cn/x".into()],
        item_detail_jump_link: JumpLink::Url {
            url: "https://shop.example.com/i".into(),
        },
    }]
}

fn upload_time(seconds: u32) -> UploadTime {
    UploadTime::parse(&format!("2026-11-26T10:00:{seconds:02}+08:00")).expect("time")
}

fn single(out_trade_no: &str, seconds: u32, name: &str) -> ShoppingInfo {
    ShoppingInfo {
        order_key: key(out_trade_no),
        payer: Payer {
            openid: OPENID.into(),
        },
        upload_time: upload_time(seconds),
        details: Details::Single {
            order_list: vec![Order {
                merchant_order_no: "MO".into(),
                order_detail_jump_link: JumpLink::Url {
                    url: "https://shop.example.com/o".into(),
                },
                item_list: items(name),
            }],
            logistics_type: LogisticsType::PhysicalLogistics,
        },
    }
}

fn combined(master: &str, subs: &[&str], seconds: u32) -> ShoppingInfo {
    ShoppingInfo {
        order_key: key(master),
        payer: Payer {
            openid: OPENID.into(),
        },
        upload_time: upload_time(seconds),
        details: Details::Combined {
            sub_orders: subs
                .iter()
                .map(|sub| SubOrder {
                    order_key: key(sub),
                    merchant_order_no: format!("MO-{sub}"),
                    order_detail_jump_link: JumpLink::Url {
                        url: "https://shop.example.com/o".into(),
                    },
                    item_list: items(sub),
                    logistics_type: LogisticsType::VirtualGoods,
                })
                .collect(),
        },
    }
}

fn payment(txid: &str, out_trade_no: &str, subs: &[(&str, &str)]) -> NewPayment {
    let keys = |txid: &str, out_trade_no: &str| PaymentKeys {
        transaction_id: txid.into(),
        mchid: MCH.into(),
        out_trade_no: out_trade_no.into(),
    };
    NewPayment {
        appid: APP.into(),
        openid: OPENID.into(),
        keys: keys(txid, out_trade_no),
        amount: 100 * subs.len().max(1) as i64,
        sub_payments: subs.iter().map(|(t, o)| (keys(t, o), 100)).collect(),
        created_at: T0,
        excluded_from_shipping: false,
        v3: None,
    }
}

fn accepted(version: i64, associated: bool) -> Saved {
    Saved::Accepted {
        version,
        associated,
    }
}

async fn every_saved_fact(backend: Backend) {
    let (_db, store) = store(&backend).await;
    shop(store.as_ref()).await;
    let first = single("A", 10, "first");
    let save = |info: ShoppingInfo| {
        let store = store.clone();
        async move {
            store
                .save_shopping_info(APP, &info, T0)
                .await
                .expect("save")
        }
    };
    assert_eq!(save(first.clone()).await, accepted(1, false));
    assert_eq!(save(first.clone()).await, Saved::Identical, "a retry");
    assert_eq!(
        save(single("A", 10, "other body")).await,
        Saved::Stale {
            stored_upload_time: "2026-11-26T10:00:10+08:00".into()
        },
        "same time, other body"
    );
    assert!(matches!(
        save(single("A", 9, "older")).await,
        Saved::Stale { .. }
    ));
    assert_eq!(save(single("A", 11, "second")).await, accepted(2, false));

    let versions = store
        .shopping_info_versions(APP, &key("A"))
        .await
        .expect("versions");
    let names: Vec<(i64, String)> = versions
        .iter()
        .map(|v| match &v.info.details {
            Details::Single { order_list, .. } => {
                (v.version, order_list[0].item_list[0].name.clone())
            }
            Details::Combined { .. } => unreachable!("a single upload"),
        })
        .collect();
    assert_eq!(names, [(1, "first".into()), (2, "second".into())]);
    let stored = store
        .shopping_info(APP, &key("A"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!((stored.version, stored.associated_at), (2, None));

    // Paid by the same payer: associated and locked; an identical retry still answers.
    store
        .create_payment(&payment("4200000001", "A", &[]))
        .await
        .expect("payment");
    store.pay("4200000001", T0 + 5).await.expect("pay");
    assert_eq!(save(single("A", 12, "third")).await, Saved::Locked);
    assert_eq!(save(single("A", 11, "second")).await, Saved::Identical);
    let stored = store
        .shopping_info(APP, &key("A"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        stored.verify_result,
        userorder_model::association::VerifyResult::Associated
    );
    assert_eq!(stored.transaction_id.as_deref(), Some("4200000001"));
}

async fn a_sub_order_key_serves_one_combined_order(backend: Backend) {
    let (_db, store) = store(&backend).await;
    shop(store.as_ref()).await;
    let first = combined("M1", &["S1", "S2"], 10);
    assert_eq!(
        store
            .save_shopping_info(APP, &first, T0)
            .await
            .expect("save"),
        accepted(1, false)
    );
    let thief = combined("M2", &["S3", "S2"], 10);
    assert_eq!(
        store
            .save_shopping_info(APP, &thief, T0)
            .await
            .expect("save"),
        Saved::SubOrderTaken { key: key("S2") }
    );
    assert!(
        store
            .shopping_info(APP, &key("M2"))
            .await
            .expect("read")
            .is_none(),
        "a refused upload leaves no trace"
    );
    // The owner may drop a sub-order in a later upload; the key is then free for others.
    let shrunk = combined("M1", &["S1"], 11);
    assert_eq!(
        store
            .save_shopping_info(APP, &shrunk, T0)
            .await
            .expect("save"),
        accepted(2, false)
    );
    assert_eq!(
        store
            .save_shopping_info(APP, &thief, T0)
            .await
            .expect("save"),
        accepted(1, false)
    );
}

/// SPEC §10.2: a paid payment, or a sub-payment of a combined one, is an order of its app
/// from paid_at + the app's ingest delay (fixed at pay time); a refund takes the payment and
/// its sub-payments at once; an excluded payment is never an order.
async fn payments_become_orders_and_refunds_are_whole(backend: Backend) {
    let (_db, store) = store(&backend).await;
    shop(store.as_ref()).await;
    let trade = TradeManagement {
        ingest_delay_s: 30,
        ..TradeManagement::default()
    };
    assert!(
        store
            .set_trade_management(APP, &trade)
            .await
            .expect("settings")
    );
    assert!(
        !store
            .set_trade_management("wx_nobody", &trade)
            .await
            .expect("settings")
    );
    store
        .create_payment(&payment(
            "4200000070",
            "O1",
            &[("4200000071", "O1a"), ("4200000072", "O1b")],
        ))
        .await
        .expect("payment");
    let by_id = |id: &str| PaymentRef::Transaction(id.into());
    let by_key = |no: &str| PaymentRef::Merchant {
        mchid: MCH.into(),
        out_trade_no: no.into(),
    };
    let at = |now| {
        let store = store.clone();
        move |key: PaymentRef| {
            let store = store.clone();
            async move {
                store
                    .order(APP, &key, now)
                    .await
                    .expect("order")
                    .map(|(order, _)| order)
            }
        }
    };
    assert_eq!(at(T0 + 100)(by_id("4200000071")).await, None, "unpaid");
    let paid = store
        .pay("4200000070", T0)
        .await
        .expect("pay")
        .expect("known");
    assert_eq!(paid.visible_at, Some(T0 + 30));
    assert_eq!(
        at(T0 + 29)(by_id("4200000071")).await,
        None,
        "not yet visible"
    );
    let sub = at(T0 + 30)(by_key("O1b"))
        .await
        .expect("a sub-order is an order");
    assert_eq!(sub.keys.transaction_id, "4200000072");
    assert_eq!(
        (sub.openid.as_str(), sub.paid_at, sub.refunded_at),
        (OPENID, T0, None)
    );
    assert_eq!(
        at(T0 + 30)(by_id("4200000070")).await,
        None,
        "the master is not"
    );
    assert_eq!(
        store
            .order("wx_other", &by_id("4200000071"), T0 + 30)
            .await
            .expect("order")
            .map(|(order, _)| order),
        None,
        "another app's"
    );

    let Refunded::Refunded(refunded) = store.refund("4200000070", T0 + 40).await.expect("refund")
    else {
        panic!("a paid payment refunds");
    };
    assert_eq!(
        (refunded.state.as_str(), refunded.refunded_at),
        ("REFUND", Some(T0 + 40))
    );
    assert!(refunded.is_paid(), "uploads still associate with it");
    let sub = at(T0 + 50)(by_id("4200000071"))
        .await
        .expect("still an order");
    assert_eq!(sub.refunded_at, Some(T0 + 40), "its sub-orders too");
    assert_eq!(
        store.refund("4200000070", T0 + 50).await.expect("refund"),
        Refunded::NotPaid("REFUND".into())
    );
    assert_eq!(
        store.refund("4200000071", T0 + 50).await.expect("refund"),
        Refunded::NoSuchPayment,
        "a sub-payment is refunded with its master"
    );

    let mut excluded = payment("4200000080", "O2", &[]);
    excluded.excluded_from_shipping = true;
    store.create_payment(&excluded).await.expect("payment");
    store.pay("4200000080", T0).await.expect("pay");
    assert_eq!(at(T0 + 100)(by_key("O2")).await, None, "excluded");
    assert_eq!(
        store.refund("4200000080", T0 + 1).await.expect("refund"),
        Refunded::Refunded(Box::new(
            store
                .payment("4200000080")
                .await
                .expect("read")
                .expect("known")
        ))
    );
}

async fn association_whichever_comes_first(backend: Backend) {
    let (_db, store) = store(&backend).await;
    shop(store.as_ref()).await;
    // Upload, then pay.
    let info = combined("U1", &["U1a", "U1b"], 10);
    store
        .save_shopping_info(APP, &info, T0)
        .await
        .expect("save");
    store
        .create_payment(&payment(
            "4200000010",
            "U1",
            &[("4200000011", "U1a"), ("4200000012", "U1b")],
        ))
        .await
        .expect("payment");
    let paid = store
        .pay("4200000010", T0 + 1)
        .await
        .expect("pay")
        .expect("known");
    assert!(paid.is_paid());
    let stored = store
        .shopping_info(APP, &key("U1"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.associated_at, Some(T0 + 1));

    // Pay, then upload.
    store
        .create_payment(&payment("4200000020", "P1", &[("4200000021", "P1a")]))
        .await
        .expect("payment");
    store.pay("4200000020", T0 + 2).await.expect("pay");
    let info = combined("P1", &["P1a"], 10);
    assert_eq!(
        store
            .save_shopping_info(APP, &info, T0 + 3)
            .await
            .expect("save"),
        accepted(1, true)
    );

    // Other sub-orders than the payment's: not associated.
    store
        .create_payment(&payment("4200000030", "X1", &[("4200000031", "X1a")]))
        .await
        .expect("payment");
    store.pay("4200000030", T0).await.expect("pay");
    let info = combined("X1", &["X1b"], 10);
    assert_eq!(
        store
            .save_shopping_info(APP, &info, T0)
            .await
            .expect("save"),
        accepted(1, false)
    );
    assert_eq!(
        store
            .create_payment(&payment("4200000030", "X1", &[]))
            .await
            .expect("payment"),
        Created::Conflict
    );
}

/// An order's first upload runs concurrently with its payment being paid. Whatever the
/// interleaving, the order ends associated: the upload either committed before `pay`
/// looked for uploads, or found the payment changed when it wrote and was judged again
/// (PostgreSQL's guarded write; SQLite has one writer).
async fn uploads_racing_the_payment_end_associated(backend: Backend) {
    let (_db, store) = store(&backend).await;
    shop(store.as_ref()).await;
    for round in 0..40u32 {
        let out_trade_no = format!("R{round}");
        let txid = format!("42000009{round:02}");
        store
            .create_payment(&payment(&txid, &out_trade_no, &[]))
            .await
            .expect("payment");
        let (uploader, info) = (store.clone(), single(&out_trade_no, 10, "racer"));
        let upload = tokio::spawn(async move { uploader.save_shopping_info(APP, &info, T0).await });
        let (payer, paid) = (store.clone(), txid.clone());
        let pay = tokio::spawn(async move { payer.pay(&paid, T0).await });
        upload.await.expect("joined").expect("stored");
        pay.await.expect("joined").expect("paid");
        let stored = store
            .shopping_info(APP, &key(&out_trade_no))
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(
            stored.transaction_id.as_deref(),
            Some(txid.as_str()),
            "round {round}: the order ends associated with its paid payment"
        );
    }
}

/// Many uploads at once on two handles of one database (two processes): however they are
/// batched, each is judged as if they had come one after the other. Of 16 uploads of one
/// order with distinct upload times, the latest is stored and the accepted versions run
/// 1..=n; of 8 combined orders claiming one sub-order key, exactly one holds it; of 8
/// identical uploads, one is accepted and the others are identical retries.
async fn concurrent_uploads_are_judged_one_after_another(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let first = connect(&db.url, 8).await.expect("open the store");
    let second = connect(&db.url, 8).await.expect("open it again");
    shop(first.as_ref()).await;
    let mut tasks = Vec::new();
    for i in 0..32u32 {
        let store = match i % 2 {
            0 => first.clone(),
            _ => second.clone(),
        };
        let info = match i {
            0..16 => single("C", 10 + i, &format!("v{i}")),
            16..24 => combined(&format!("K{i}"), &["SHARED", &format!("OWN{i}")], 10),
            _ => single("D", 10, "same"),
        };
        tasks.push(tokio::spawn(async move {
            store.save_shopping_info(APP, &info, T0).await
        }));
    }
    let mut saved = Vec::new();
    for task in tasks {
        saved.push(task.await.expect("joined").expect("saved"));
    }
    let mut versions: Vec<i64> = saved[..16]
        .iter()
        .filter_map(|s| match s {
            Saved::Accepted { version, .. } => Some(*version),
            Saved::Stale { .. } => None,
            other => panic!("an upload of C answered {other:?}"),
        })
        .collect();
    versions.sort_unstable();
    let kept = versions.len() as i64;
    assert_eq!(versions, (1..=kept).collect::<Vec<_>>(), "{saved:?}");
    let stored = first
        .shopping_info(APP, &key("C"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.version, kept);
    let Details::Single { order_list, .. } = &stored.info.details else {
        panic!("a single upload")
    };
    assert_eq!(order_list[0].item_list[0].name, "v15", "the latest upload");
    let history = second
        .shopping_info_versions(APP, &key("C"))
        .await
        .expect("versions");
    assert_eq!(history.len() as i64, kept);

    let owners = saved[16..24]
        .iter()
        .filter(|s| matches!(s, Saved::Accepted { version: 1, .. }))
        .count();
    let refused = saved[16..24]
        .iter()
        .filter(|s| **s == Saved::SubOrderTaken { key: key("SHARED") })
        .count();
    assert_eq!((owners, refused), (1, 7), "{:?}", &saved[16..24]);

    let mut retries = saved[24..].to_vec();
    retries.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(retries[0], accepted(1, false), "{retries:?}");
    assert!(
        retries[1..].iter().all(|s| *s == Saved::Identical),
        "{retries:?}"
    );
}

fn new_token(token: &str, kind: TokenKind, issued_at: i64, forced: bool) -> NewToken {
    NewToken {
        token: token.into(),
        appid: APP.into(),
        kind,
        issued_at,
        expires_at: issued_at + 7200,
        forced,
        component_appid: None,
    }
}

/// 24 token fetches of one app at once on two handles of one database (two processes),
/// however they are batched: generations 1..=24 without a gap, exactly one token current
/// (the newest generation), every other superseded; and 6 forced stable refreshes leave
/// only the newest stable token unrevoked.
async fn concurrent_token_fetches_are_generations_one_after_another(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let first = connect(&db.url, 8).await.expect("open the store");
    let second = connect(&db.url, 8).await.expect("open it again");
    shop(first.as_ref()).await;
    let mut fetches = Vec::new();
    for i in 0..30u32 {
        let store = match i % 2 {
            0 => first.clone(),
            _ => second.clone(),
        };
        let token = match i {
            0..24 => new_token(&format!("b{i}"), TokenKind::Basic, T0, false),
            _ => new_token(&format!("f{i}"), TokenKind::Stable, T0, true),
        };
        fetches.push(tokio::spawn(async move { store.issue_token(&token).await }));
    }
    let mut issued = Vec::new();
    for fetch in fetches {
        issued.push(fetch.await.expect("joined").expect("issued"));
    }
    let mut generations: Vec<i64> = issued[..24].iter().map(|t| t.generation).collect();
    generations.sort_unstable();
    assert_eq!(generations, (1..=24).collect::<Vec<_>>());
    let mut current = Vec::new();
    for record in &issued[..24] {
        let stored = first
            .token(&record.token)
            .await
            .expect("read")
            .expect("kept");
        assert_eq!(stored.generation, record.generation);
        if stored.superseded_at.is_none() {
            current.push(stored.generation);
        }
    }
    assert_eq!(current, [24], "only the newest generation is current");
    let mut unrevoked = Vec::new();
    for record in &issued[24..] {
        let stored = second
            .token(&record.token)
            .await
            .expect("read")
            .expect("kept");
        if !stored.revoked {
            unrevoked.push(stored.generation);
        }
    }
    assert_eq!(unrevoked, [6], "only the newest stable token works");
}

async fn token_generations_grace_and_stable_tokens(backend: Backend) {
    let (_db, store) = store(&backend).await;
    shop(store.as_ref()).await;
    let one = store
        .issue_token(&new_token("t1", TokenKind::Basic, T0, false))
        .await
        .expect("issue");
    let two = store
        .issue_token(&new_token("t2", TokenKind::Basic, T0 + 60, false))
        .await
        .expect("issue");
    assert_eq!((one.generation, two.generation), (1, 2));
    let old = store.token("t1").await.expect("read").expect("kept");
    assert_eq!(
        old.superseded_at,
        Some(T0 + 60),
        "its grace period starts now"
    );
    assert_eq!(
        store
            .token("t2")
            .await
            .expect("read")
            .expect("kept")
            .superseded_at,
        None
    );

    // Stable tokens: one per app until a forced refresh, which revokes the previous one.
    let stable = store
        .stable_token(&new_token("s1", TokenKind::Stable, T0, false))
        .await
        .expect("stable");
    let again = store
        .stable_token(&new_token("s2", TokenKind::Stable, T0 + 1, false))
        .await
        .expect("stable");
    assert_eq!(again.token, stable.token, "the same stable token again");
    let forced = store
        .issue_token(&new_token("s3", TokenKind::Stable, T0 + 2, true))
        .await
        .expect("forced");
    assert_eq!(forced.generation, 2);
    assert!(
        store
            .token("s1")
            .await
            .expect("read")
            .expect("kept")
            .revoked
    );
    assert!(
        !store
            .token("t2")
            .await
            .expect("read")
            .expect("kept")
            .revoked,
        "basic tokens stay"
    );
    assert_eq!(
        store.forced_refreshes_since(APP, T0).await.expect("count"),
        (1, Some(T0 + 2))
    );
}

async fn quotas_count_every_call(backend: Backend) {
    let (db, store) = store(&backend).await;
    shop(store.as_ref()).await;
    let call = |minute_start| QuotaCall {
        appid: APP,
        api: "/user-order/orders",
        day_start: T0,
        minute_start,
    };
    for n in 1..=3 {
        let counts = store.count_call(&call(T0)).await.expect("count");
        assert_eq!(counts, QuotaCounts { day: n, minute: n });
    }
    let counts = store.count_call(&call(T0 + 60)).await.expect("count");
    assert_eq!(counts, QuotaCounts { day: 4, minute: 1 }, "a new minute");
    // Counted by another handle on the same database (another process) once written.
    drop(store);
    let other = connect(&db.url, 4).await.expect("reopen");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let counts = other.count_call(&call(T0 + 60)).await.expect("count");
    assert_eq!(counts, QuotaCounts { day: 5, minute: 2 });
}

fn entry(n: usize, invoke_time: i64) -> JournalEntry {
    JournalEntry {
        rid: format!("rid-{n}"),
        appid: Some(APP.into()),
        invoke_time,
        cost_in_ms: 1,
        request_url: "/user-order/orders?access_token=***".into(),
        request_body: format!("{{\"n\":{n},\"名\":\"{}\"}}", "x".repeat(n)),
        response_body: "{\"errcode\":0,\"errmsg\":\"ok\"}".into(),
        client_ip: "127.0.0.1".into(),
        errcode: 0,
    }
}

async fn the_journal_keeps_bodies_and_its_bound(backend: Backend) {
    let (_db, store) = store(&backend).await;
    let retention = Retention {
        max_entries: 10,
        oldest: T0 - 100,
    };
    let old: Vec<JournalEntry> = (0..5).map(|n| entry(n, T0 - 1000)).collect();
    store.record_requests(&old).await.expect("record");
    let new: Vec<JournalEntry> = (5..30).map(|n| entry(n, T0)).collect();
    store.record_requests(&new).await.expect("record");
    let all = store
        .journal(&JournalFilter {
            limit: 100,
            ..JournalFilter::default()
        })
        .await
        .expect("journal");
    assert_eq!(all.len(), 30, "recording alone keeps everything");
    store.prune_journal(retention).await.expect("prune");
    let all = store
        .journal(&JournalFilter {
            limit: 100,
            ..JournalFilter::default()
        })
        .await
        .expect("journal");
    let rids: Vec<&str> = all.iter().map(|e| e.rid.as_str()).collect();
    let newest: Vec<String> = (20..30).rev().map(|n| format!("rid-{n}")).collect();
    assert_eq!(rids, newest, "the newest ten, newest first");
    let one = store
        .journal(&JournalFilter {
            rid: Some("rid-25".into()),
            limit: 10,
            ..JournalFilter::default()
        })
        .await
        .expect("journal");
    assert_eq!(one.len(), 1);
    assert_eq!(
        one[0].request_body,
        entry(25, T0).request_body,
        "the body round-trips"
    );
}

async fn faults_are_consumed_once_across_two_handles(backend: Backend) {
    let (db, one) = store(&backend).await;
    let two = connect(&db.url, 4).await.expect("second handle");
    one.add_faults(APP, Some("/user-order/orders"), &[45009, -1], 5)
        .await
        .expect("add");
    one.add_faults(APP, None, &[40001], 0).await.expect("add");
    let path = "/user-order/orders";
    let taken = [
        two.take_fault(APP, path).await.expect("take"),
        one.take_fault(APP, path).await.expect("take"),
        two.take_fault(APP, path).await.expect("take"),
        one.take_fault(APP, path).await.expect("take"),
    ];
    let codes: Vec<Option<i64>> = taken.iter().map(|f| f.map(|f| f.errcode)).collect();
    assert_eq!(
        codes,
        [Some(45009), Some(-1), Some(40001), None],
        "in order, once each"
    );
    one.add_faults(APP, Some("/other"), &[1, 2], 0)
        .await
        .expect("add");
    assert_eq!(
        two.take_fault(APP, path).await.expect("take"),
        None,
        "another path's"
    );
    assert_eq!(two.clear_faults(APP, None).await.expect("clear"), 2);
}

/// SPEC §10.13 on the store: sweeps on two handles record each due event once, in `at`
/// order; a pending delivery is claimed by one handle until its lease runs out; each end of
/// an attempt is kept.
async fn events_are_recorded_once_and_claimed_once(backend: Backend) {
    let (db, one) = store(&backend).await;
    let two = connect(&db.url, 4).await.expect("second handle");
    shop(one.as_ref()).await;
    let push = Push {
        url: Some("http://127.0.0.1:9/push".into()),
        token: None,
    };
    assert!(one.set_push(APP, Some(&push)).await.expect("push"));
    assert!(!one.set_push("wx_nobody", None).await.expect("push"));
    one.create_payment(&payment("4200000090", "E1", &[]))
        .await
        .expect("payment");
    one.pay("4200000090", T0).await.expect("pay");
    let real = 1_000_000;
    // Nothing is due before the order is known; then the access reminder, once.
    assert_eq!(one.sweep_events(T0 - 1, real).await.expect("sweep"), 0);
    let swept = [
        one.sweep_events(T0, real).await.expect("sweep"),
        two.sweep_events(T0, real).await.expect("sweep"),
    ];
    assert_eq!(swept.iter().sum::<u64>(), 1, "{swept:?}");
    // Three days on, never shipped: days 1 and 2 are reminded too.
    assert_eq!(
        two.sweep_events(T0 + 3 * 86_400 - 1, real)
            .await
            .expect("sweep"),
        2
    );
    assert_eq!(
        one.sweep_events(T0 + 3 * 86_400 - 1, real)
            .await
            .expect("sweep"),
        0
    );
    let all = EventFilter {
        limit: 100,
        ..EventFilter::default()
    };
    let events = two.events(&all).await.expect("events");
    // Paying recorded WeChat Pay's notification first: a sandbox-made payment has no
    // notify_url, so it is not delivered (SPEC §11.12).
    let (paid, events) = events.split_first().expect("the payment's notification");
    assert_eq!(
        (paid.event.as_str(), paid.at, paid.delivery.state),
        ("TRANSACTION.SUCCESS", T0, DeliveryState::None)
    );
    let ats: Vec<i64> = events.iter().map(|e| e.at).collect();
    assert_eq!(ats, [T0, T0 + 86_400, T0 + 2 * 86_400]);
    assert!(
        events
            .iter()
            .all(|e| e.delivery.state == DeliveryState::Pending)
    );

    // Claims: every pending event once; none again while leased.
    let claimed = one.claim_deliveries(real, 2).await.expect("claim");
    let more = two.claim_deliveries(real, 10).await.expect("claim");
    assert_eq!((claimed.len(), more.len()), (2, 1));
    assert!(
        two.claim_deliveries(real, 10)
            .await
            .expect("claim")
            .is_empty(),
        "leased"
    );
    assert_eq!(claimed[0].url, "http://127.0.0.1:9/push");
    one.finish_delivery(claimed[0].id, Delivered::Delivered { status: 200 })
        .await
        .expect("finish");
    one.finish_delivery(
        claimed[1].id,
        Delivered::Retry {
            status: Some(500),
            at_ms: real + 10,
        },
    )
    .await
    .expect("finish");
    two.finish_delivery(more[0].id, Delivered::Failed { status: None })
        .await
        .expect("finish");
    let retried = two.claim_deliveries(real + 10, 10).await.expect("claim");
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempts), (claimed[1].id, 1));
    let states: Vec<(DeliveryState, i64)> = two
        .events(&all)
        .await
        .expect("events")
        .iter()
        .map(|e| (e.delivery.state, e.delivery.attempts))
        .collect();
    assert_eq!(
        states,
        [
            (DeliveryState::None, 0),
            (DeliveryState::Delivered, 1),
            (DeliveryState::Pending, 1),
            (DeliveryState::Failed, 1),
        ]
    );
    // A lease that runs out is claimed again (its sender died).
    let later = real + 10 + events::LEASE_MS;
    assert_eq!(
        one.claim_deliveries(later, 10).await.expect("claim").len(),
        1
    );
}

/// SPEC §11 on the store: a v3 payment's change is judged once under its lock (a second
/// pay is refused), its notification is recorded with it, and a pending notification is
/// claimed by one handle, leased, and due again only at its next sandbox slot.
async fn v3_payments_and_their_notifications(backend: Backend) {
    use userorder_model::pay_v3::records::PaymentV3;
    use userorder_store::payments::{NewRefund, Outcome, PaymentChange, Refusal};
    let (db, one) = store(&backend).await;
    let two = connect(&db.url, 4).await.expect("second handle");
    shop(one.as_ref()).await;
    let mut new = payment("4200000300", "V1", &[]);
    new.v3 = Some(PaymentV3 {
        prepay_id: "wx20271015000000aaaaaaaaaaaaaaaaaaaa".into(),
        prepay_expires_at: T0 + 7_200,
        time_expire: T0 + 86_400,
        description: "Tea".into(),
        attach: None,
        notify_url: Some("http://127.0.0.1:9/notify".into()),
        goods_tag: None,
        device_id: None,
        closed_at: None,
        refunded_amount: 0,
        refunds: Vec::new(),
        sub_orders: Vec::new(),
    });
    assert_eq!(
        one.create_payment(&new).await.expect("create"),
        Created::Created
    );
    let by_prepay = two
        .payment_by_prepay("wx20271015000000aaaaaaaaaaaaaaaaaaaa")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(by_prepay.keys.transaction_id, "4200000300");
    let (paid, again) = tokio::join!(
        one.change_payment("4200000300", &PaymentChange::Pay, T0 + 10),
        two.change_payment("4200000300", &PaymentChange::Pay, T0 + 10),
    );
    let outcomes = [
        paid.expect("pay").expect("found").0,
        again.expect("pay").expect("found").0,
    ];
    assert!(outcomes.contains(&Outcome::Done), "{outcomes:?}");
    assert!(
        outcomes.contains(&Outcome::Refused(Refusal::Paid)),
        "{outcomes:?}"
    );

    let claim = |due_by| NotifyClaim {
        due_by: Some(due_by),
        limit: 10,
        ..NotifyClaim::default()
    };
    let real = 5_000_000;
    let first = one
        .claim_notifications(&claim(T0 + 10), real)
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].event.as_str(), first[0].at),
        ("TRANSACTION.SUCCESS", T0 + 10)
    );
    assert!(
        two.claim_notifications(&claim(T0 + 10), real)
            .await
            .expect("claim")
            .is_empty(),
        "leased by the first handle"
    );
    let attempt = NotifyAttempt {
        state: DeliveryState::Pending,
        status: Some(500),
        next_at: Some(T0 + 25),
        notification: "{}".into(),
        log: "[]".into(),
    };
    one.finish_notification(first[0].id, &attempt)
        .await
        .expect("finish");
    assert!(
        two.claim_notifications(&claim(T0 + 24), real)
            .await
            .expect("claim")
            .is_empty(),
        "not before its next slot"
    );
    let retry = two
        .claim_notifications(&claim(T0 + 25), real)
        .await
        .expect("claim");
    assert_eq!((retry.len(), retry[0].attempts), (1, 1));
    assert_eq!(
        retry[0].notification.as_deref(),
        Some("{}"),
        "the same bytes again"
    );

    // A refund due at once takes its outcome when refunds are settled, on either handle.
    let refund = NewRefund {
        refund_id: "50000000012027101500000000001".into(),
        out_refund_no: "R1".into(),
        reason: None,
        notify_url: None,
        refund: 40,
        total: 100,
        delay_s: 0,
        outcome: "SUCCESS".into(),
        min_interval_s: 60,
    };
    let change = PaymentChange::Refund {
        refund,
        taken: false,
    };
    let (outcome, _) = one
        .change_payment("4200000300", &change, T0 + 20)
        .await
        .expect("refund")
        .expect("found");
    assert!(matches!(outcome, Outcome::Refund(ref r) if r.status == "PROCESSING"));
    assert_eq!(two.settle_refunds(T0 + 20).await.expect("settle"), 1);
    assert_eq!(
        one.settle_refunds(T0 + 20).await.expect("settle"),
        0,
        "once"
    );
    let refunded = one
        .payment("4200000300")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(refunded.state, "REFUND");
    assert_eq!(refunded.refunded_at, None, "partial");
    let owner = two
        .refund_owner(&RefundKey::Merchant {
            mchid: MCH.into(),
            out_refund_no: "R1".into(),
        })
        .await
        .expect("owner");
    assert_eq!(owner.as_deref(), Some("4200000300"));
}

async fn shipping_follows_the_ordering_rule(backend: Backend) {
    use userorder_model::shipping::ShippingInfo;
    let (_db, store) = store(&backend).await;
    shop(store.as_ref()).await;
    let shipping = |seconds: u32| -> ShippingInfo {
        serde_json::from_value(serde_json::json!({
            "order_key": {"order_number_type": "MERCHANT_TRADE_NUMBER", "mchid": MCH, "out_trade_no": "SH"},
            "upload_time": upload_time(seconds),
            "combined": false,
            "orders": [],
        }))
        .expect("shipping info")
    };
    let save = |info: ShippingInfo| {
        let store = store.clone();
        async move {
            store
                .save_shipping_info(APP, &info, T0)
                .await
                .expect("save")
        }
    };
    assert_eq!(save(shipping(10)).await, accepted(1, false));
    assert_eq!(save(shipping(10)).await, Saved::Identical);
    assert!(matches!(save(shipping(9)).await, Saved::Stale { .. }));
    assert_eq!(save(shipping(11)).await, accepted(2, false));
    let versions = store
        .shipping_info_versions(APP, &key("SH"))
        .await
        .expect("versions");
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(versions[1].upload_time, "2026-11-26T10:00:11+08:00");
}

/// The SQLite writer outlives a job that panics: the caller hears an error, the job's
/// writes are gone, and the writes queued with it in the same batch, and every later
/// write, are served.
#[tokio::test]
async fn the_sqlite_writer_survives_a_panicking_job() {
    let db = TestDb::create(&Backend::Sqlite).await;
    let store = SqliteStore::open(&db.url).await.expect("open");
    let before = store.clock_offset().await.expect("clock");
    let failed = store.write_panicking_job().await;
    assert!(
        matches!(&failed, Err(StoreError::Batch(why)) if why.contains("panicked")),
        "{failed:?}"
    );
    assert_eq!(
        store.clock_offset().await.expect("clock"),
        before,
        "rolled back"
    );
    assert_eq!(
        store.advance_clock(60).await.expect("a later write"),
        before + 60
    );

    // Queued together, so they share batches: the panicking jobs fail alone.
    let new_payment = payment("4200000099", "J1", &[]);
    let (panicked, advanced, refused, created) = tokio::join!(
        store.write_panicking_job(),
        store.advance_clock(60),
        store.write_panicking_job(),
        store.create_payment(&new_payment),
    );
    assert!(panicked.is_err() && refused.is_err());
    assert_eq!(advanced.expect("its neighbour"), before + 120);
    assert_eq!(created.expect("its neighbour"), Created::Created);
    assert_eq!(store.clock_offset().await.expect("clock"), before + 120);
    shop(&store).await;
}
