//! Operating the server: `/healthz` for load balancers, `/metrics` for Prometheus.

use crate::common::*;

async fn healthz_follows_the_store_and_metrics_count_requests(backend: Backend) {
    let group_commits = matches!(backend, Backend::Sqlite);
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
    // SQLite's writer reports its batches; every write so far went through one.
    let batches = metrics
        .lines()
        .find_map(|l| l.strip_prefix("userorder_store_batch_size_count "))
        .and_then(|n| n.parse::<u64>().ok());
    let writes = metrics
        .lines()
        .find_map(|l| l.strip_prefix("userorder_store_batch_size_sum "))
        .and_then(|n| n.parse::<f64>().ok());
    if group_commits {
        let (batches, writes) = (batches.expect("batch count"), writes.expect("write count"));
        assert!(batches > 0 && writes >= batches as f64, "{metrics}");
        assert!(metrics.contains("userorder_store_commit_seconds_bucket{le=\"+Inf\"}"));
    } else {
        assert_eq!(batches, None, "PostgreSQL commits one by one");
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
