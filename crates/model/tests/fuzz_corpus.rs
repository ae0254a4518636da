//! The fuzz targets' smoke run on stable Rust: every seed the corpus was made from is
//! accepted (so fuzzing starts deep inside validation), and every corpus file, every seed and
//! every prefix of every seed is answered — accepted or refused with a registry errcode —
//! without a panic. `USERORDER_WRITE_CORPUS=1 cargo test -p userorder-model --test
//! fuzz_corpus` rewrites the seed files in `fuzz/corpus/`.

use std::path::PathBuf;

use serde_json::{Value, json};
use userorder_model::inbound::{Endpoint, FUZZ_APPID, FUZZ_KEY, fuzz_one, read};
use userorder_model::openid::OpenIdCodec;
use userorder_model::validate::Acting;

const T0: &str = "2026-11-26T10:00:00.123+08:00";

fn corpus_dir(endpoint: Endpoint) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(endpoint.name())
}

fn key(out_trade_no: &str) -> Value {
    json!({"order_number_type": 1, "mchid": "1900000109", "out_trade_no": out_trade_no})
}

fn item(n: usize) -> Value {
    json!({
        "merchant_item_id": format!("sku-{n}"),
        "name": format!("有机绿茶 Organic green tea {n}"),
        "description": "明前采摘 Picked before Qingming",
        "unit_price": 12800,
        "quantity": 2,
        "image_url": ["https://img.example.com/tea.jpg"],
        "item_detail_jump_link": {"type": "MINI_PROGRAM", "appid": FUZZ_APPID, "path": "/pages/item/index?id=1"}
    })
}

/// Bodies shaped like the HTTP tests' (`tests/http/common.rs`, `shipping.rs`).
fn seeds() -> Vec<(Endpoint, Value)> {
    let openid = OpenIdCodec::new(FUZZ_KEY).encode(FUZZ_APPID, 42);
    let parcel = json!({"tracking_no": "SF1234567890", "express_company": "SF",
                        "item_list": [{"merchant_item_id": "sku-0"}],
                        "contact": {"receiver_contact": "138****0000"}});
    let sub_orders: Vec<Value> = [1, 2]
        .iter()
        .map(|s| {
            json!({
                "order_key": key(&format!("C1-{s}")),
                "merchant_order_no": format!("MO-C1-{s}"),
                "order_detail_jump_link": {"type": "URL", "url": format!("https://shop.example.com/o/{s}")},
                "item_list": [item(*s)],
                "logistics_type": "VIRTUAL_GOODS"
            })
        })
        .collect();
    vec![
        (
            Endpoint::UploadShoppingInfo,
            json!({
                "order_key": key("M1"),
                "order_list": [{
                    "merchant_order_no": "MO-M1",
                    "order_detail_jump_link": {"type": 1, "appid": FUZZ_APPID, "path": "/pages/order/index"},
                    "item_list": [item(0), item(1)]
                }],
                "payer": {"openid": openid},
                "logistics_type": 1,
                "upload_time": T0
            }),
        ),
        (
            Endpoint::UploadCombinedShoppingInfo,
            json!({
                "order_key": key("C1"),
                "sub_orders": sub_orders,
                "payer": {"openid": openid},
                "upload_time": T0
            }),
        ),
        (
            Endpoint::UploadShippingInfo,
            json!({"order_key": key("M1"), "delivery_mode": 1, "shipping_list": [parcel],
                   "payer": {"openid": openid}, "upload_time": T0}),
        ),
        (
            Endpoint::UploadCombinedShippingInfo,
            json!({"order_key": key("C1"), "payer": {"openid": openid}, "upload_time": T0,
                   "sub_orders": [{"order_key": key("C1-1"), "delivery_mode": "UNIFIED_DELIVERY",
                                   "shipping_list": [parcel]}]}),
        ),
        (
            Endpoint::VerifyShoppingInfo,
            json!({"order_key": {"order_number_type": 2, "transaction_id": "4200000000202611260000000001"},
                   "payer": {"openid": openid}}),
        ),
        (
            Endpoint::StableToken,
            json!({"grant_type": "client_credential", "appid": FUZZ_APPID, "secret": "s", "force_refresh": false}),
        ),
        (
            Endpoint::ComponentToken,
            json!({"component_appid": "wxcomponent", "component_appsecret": "s", "component_verify_ticket": "ticket@@@1"}),
        ),
        (
            Endpoint::QueryAuth,
            json!({"component_appid": "wxcomponent", "authorization_code": "queryauthcode@@@1"}),
        ),
        (
            Endpoint::AuthorizerToken,
            json!({"component_appid": "wxcomponent", "authorizer_appid": FUZZ_APPID, "authorizer_refresh_token": "refreshtoken@@@1"}),
        ),
        (
            Endpoint::RidGet,
            json!({"rid": "6b089c8d-0b3ce02d-00000005"}),
        ),
    ]
}

#[test]
fn every_seed_is_accepted_so_fuzzing_starts_past_the_first_refusal() {
    let codec = OpenIdCodec::new(FUZZ_KEY);
    let caller = Acting {
        appid: FUZZ_APPID,
        openids: &codec,
    };
    for (endpoint, body) in seeds() {
        let bytes = body.to_string().into_bytes();
        if let Err(rejection) = read(endpoint, &bytes, &caller) {
            panic!(
                "{endpoint:?} seed refused: {} {}",
                rejection.code.0, rejection.message
            );
        }
    }
}

#[test]
fn corpus_seeds_and_their_prefixes_are_all_answered_without_a_panic() {
    let write = std::env::var_os("USERORDER_WRITE_CORPUS").is_some();
    let mut replayed = 0;
    for (endpoint, body) in seeds() {
        let bytes = body.to_string().into_bytes();
        let dir = corpus_dir(endpoint);
        if write {
            std::fs::create_dir_all(&dir).expect("corpus dir");
            std::fs::write(dir.join("seed.json"), &bytes).expect("seed written");
        }
        for end in 0..=bytes.len() {
            fuzz_one(endpoint, &bytes[..end]);
        }
        let files = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for file in files {
            let path = file.expect("corpus entry").path();
            fuzz_one(endpoint, &std::fs::read(&path).expect("corpus file"));
            replayed += 1;
        }
    }
    assert!(
        replayed >= Endpoint::ALL.len(),
        "every endpoint has a corpus"
    );
}
