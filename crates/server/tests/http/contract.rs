//! The OpenAPI document (`GET /openapi.json`): the committed `docs/openapi.json` is what
//! the server serves, it describes every endpoint the server routes, and every errcode the
//! server can answer is listed under some operation. (Schemathesis checks the answers
//! against it in `.ci/run`, via `contract/run`.)

use std::collections::BTreeSet;

use serde_json::{Value, json};
use userorder_model::ErrCode;

use crate::common::*;

async fn served(server: &TestServer) -> Value {
    reqwest::get(format!("{}/openapi.json", server.base))
        .await
        .expect("GET /openapi.json")
        .json()
        .await
        .expect("a JSON document")
}

async fn the_committed_document_is_the_served_one(backend: Backend) {
    let server = TestServer::start(backend).await;
    let served = served(&server).await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(path).expect("docs/openapi.json is committed"),
    )
    .expect("docs/openapi.json is JSON");
    assert!(
        served == committed,
        "docs/openapi.json differs from GET /openapi.json: regenerate it with \
         `cargo run -p userorder -- openapi > docs/openapi.json`"
    );
    assert_eq!(served["openapi"], "3.1.0");
    // Operation ids are unique (openapi-spec-validator refuses the document otherwise).
    let mut ids: Vec<&str> = served["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("a path item").values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    let all = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all, "operation ids repeat: {ids:?}");
}

/// Every documented operation is routed (an unrouted WeChat path would answer 40066, an
/// unrouted sandbox path 404) and answers what its document says for a call without data.
async fn every_documented_operation_is_served(backend: Backend) {
    let server = TestServer::start(backend).await;
    let document = served(&server).await;
    let http = reqwest::Client::new();
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 27, "{} paths", paths.len());
    for (path, item) in paths {
        let concrete = path
            .replace("{appid}", "wx0000000000000000")
            .replace("{transaction_id}", "4200000000000000000000000000");
        for method in item.as_object().expect("a path item").keys() {
            let request = match method.as_str() {
                "get" => http.get(format!("{}{concrete}", server.base)),
                "post" => http.post(format!("{}{concrete}", server.base)),
                "put" => http.put(format!("{}{concrete}", server.base)),
                "delete" => http.delete(format!("{}{concrete}", server.base)),
                other => panic!("{other} {path}: an unexpected method"),
            };
            let response = request.send().await.expect("an answer");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("a JSON answer");
            if path.starts_with("/sandbox/") {
                // Without the admin token: the sandbox's own refusal, not a missing route.
                assert_eq!(status, 401, "{method} {path}: {body}");
            } else if path.starts_with("/v3/") {
                // Unsigned (and, for refunds and certificates, without a User-Agent first):
                // WeChat Pay's own refusal, documented, never a missing route's 404 or 405.
                let code = body["code"].as_str().unwrap_or_default();
                assert!(
                    matches!(
                        (status, code),
                        (401, "SIGN_ERROR") | (400, "INVALID_REQUEST")
                    ),
                    "{method} {path}: {status} {body}"
                );
                let operation = &item[method];
                assert!(
                    operation["responses"][status.to_string()].is_object(),
                    "{path}"
                );
                assert_eq!(operation["security"][0]["wechatpay"], json!([]), "{path}");
            } else {
                assert_eq!(status, 200, "{method} {path}: {body}");
                assert_ne!(errcode(&body), 40066, "{method} {path} is not routed");
                let listed: Vec<i64> = item[method]["x-errcodes"]
                    .as_array()
                    .map(|codes| codes.iter().filter_map(|c| c["errcode"].as_i64()).collect())
                    .unwrap_or_default();
                assert!(
                    listed.contains(&errcode(&body)),
                    "{method} {path} answered {body}, not among its x-errcodes {listed:?}"
                );
            }
        }
    }
}

async fn every_errcode_is_documented(backend: Backend) {
    let server = TestServer::start(backend).await;
    let document = served(&server).await;
    let listed: BTreeSet<i64> = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("a path item").values())
        .flat_map(|operation| {
            operation["x-errcodes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|code| code["errcode"].as_i64())
        .collect();
    // 0 is success; 40066 (unknown path) and 43002 (wrong method) belong to no operation
    // and are in every WeChat operation's description.
    let elsewhere = [
        ErrCode::OK,
        ErrCode::INVALID_URL,
        ErrCode::REQUIRE_POST_METHOD,
    ];
    for code in ErrCode::ALL.iter().filter(|c| !elsewhere.contains(c)) {
        assert!(
            listed.contains(&code.0),
            "errcode {code} is in no operation's x-errcodes"
        );
    }
}

on_every_backend!(
    the_committed_document_is_the_served_one,
    every_documented_operation_is_served,
    every_errcode_is_documented,
);
