//! The OpenAPI document is served and describes every REST route the service has.

mod common;

use common::*;

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let mut svc = TestService::start(0).await;
    let doc: serde_json::Value = reqwest::get(format!("{}/api/v1/openapi.json", svc.url))
        .await
        .expect("fetch")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in [
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/logout"),
        ("get", "/api/v1/me"),
        ("put", "/api/v1/me/settings"),
        ("put", "/api/v1/me/availability"),
        ("get", "/api/v1/agents"),
        ("get", "/api/v1/calendars"),
        ("get", "/api/v1/calendars/{agent_id}/slots"),
        ("get", "/api/v1/conversations"),
        ("get", "/api/v1/conversations/{id}"),
        ("get", "/api/v1/conversations/{id}/messages"),
        ("get", "/api/v1/conversations/{id}/transcript"),
        ("get", "/api/v1/conversations/{id}/visitor"),
        ("get", "/api/v1/conversations/{id}/activities"),
        ("get", "/api/v1/agent/ws"),
        ("post", "/api/v1/visitor/sessions"),
        ("get", "/api/v1/visitor/ws"),
        ("get", "/api/v1/visitor/calendars/{agent_id}/slots"),
        ("post", "/api/v1/visitor/bookings"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is documented"
        );
    }
    // Every documented GET without parameters or auth answers (the document matches the router).
    for (path, item) in paths {
        if item.get("get").is_some() && !path.contains('{') && !path.ends_with("/ws") {
            let status = reqwest::get(format!("{}{path}", svc.url))
                .await
                .expect("get")
                .status();
            assert_ne!(status, reqwest::StatusCode::NOT_FOUND, "{path} is routed");
        }
    }
    svc.stop().await;
}
