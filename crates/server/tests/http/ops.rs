//! Operating the server: `/healthz` for load balancers, `/metrics` for Prometheus.

use crate::common::*;

async fn healthz_follows_the_store_and_metrics_count_requests(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shop = server.shop().await;
    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(health.status(), 200);

    server
        .client
        .upload_shopping_info(&shop.token, &single_body(&shop, "M1", T0))
        .await
        .expect("upload");
    let refused = server
        .client
        .upload_shopping_info(&shop.token, &serde_json::json!({}))
        .await;
    assert!(refused.is_err());
    let _ = http
        .get(format!("{}/no/such/page/{}", server.base, "x".repeat(40)))
        .send()
        .await;
    let metrics = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    for line in [
        "userorder_requests_total{path=\"/user-order/orders\",outcome=\"0\"} 1",
        "userorder_requests_total{path=\"/user-order/orders\",outcome=\"268485194\"} 1",
        "userorder_requests_total{path=\"/cgi-bin/token\",outcome=\"0\"} 1",
        "userorder_requests_total{path=\"other\",outcome=\"404\"} 1",
        "userorder_request_seconds_count{path=\"/user-order/orders\"} 2",
        "userorder_request_seconds_bucket{path=\"/user-order/orders\",le=\"+Inf\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }

    server.db.execute("DROP TABLE clock").await;
    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(health.status(), 503);
}

on_every_backend!(healthz_follows_the_store_and_metrics_count_requests);
