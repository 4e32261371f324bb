//! The OpenAPI document is served, describes exactly the routes the router serves (with their
//! methods), and its schemas are the protocol types: every `$ref` resolves, errors are
//! `ErrorBody`, query parameters are listed with their types.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

/// Every route of the service, written out once more so that a route removed from both the
/// router and the document by mistake still fails here.
const EXPECTED: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/me/settings"),
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
    ("get", "/api/v1/openapi.json"),
    ("get", "/healthz"),
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

async fn fetch_document(svc: &TestService) -> Value {
    let response = reqwest::get(format!("{}/api/v1/openapi.json", svc.url))
        .await
        .expect("fetch");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    response.json().await.expect("the document is JSON")
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("path item");
            item.keys()
                .filter(|k| METHODS.contains(&k.as_str()))
                .map(|m| (m.clone(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is documented");
    op
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let s = &doc["components"]["schemas"][name];
    assert!(s.is_object(), "components/schemas/{name} exists");
    s
}

fn json_schema_of(body: &Value) -> &Value {
    &body["content"]["application/json"]["schema"]
}

fn component_ref(name: &str) -> Value {
    Value::String(format!("#/components/schemas/{name}"))
}

fn collect_refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_document_lists_exactly_the_served_routes() {
    let mut svc = TestService::start(0).await;
    let doc = fetch_document(&svc).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let documented = documented(&doc);

    let served: BTreeSet<(String, String)> = chat_service::http::routes()
        .served()
        .iter()
        .map(|op| (op.method.as_str().to_owned(), op.path.to_owned()))
        .collect();
    assert_eq!(documented, served, "the router serves what is documented");
    assert_eq!(
        chat_service::http::routes().served().len(),
        chat_service::http::openapi::OPERATIONS.len(),
        "every operation is served once"
    );
    let expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, expected);

    // Each documented method on each path reaches a handler, never the router's fallbacks
    // (no credentials and no body: the handlers refuse, but they are the ones answering).
    let client = reqwest::Client::new();
    for (method, path) in &documented {
        let concrete: Vec<&str> = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "1" } else { seg })
            .collect();
        let url = format!("{}{}", svc.url, concrete.join("/"));
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let response = client
            .request(method.clone(), &url)
            .send()
            .await
            .expect("send");
        let status = response.status();
        let body = response.text().await.expect("body");
        for fallback in [
            "no such endpoint",
            "no such page",
            "method not allowed on this endpoint",
        ] {
            assert!(
                !body.contains(fallback),
                "{method} {path} is routed (got {status}: {body})"
            );
        }
    }
    // And the fallbacks do answer what is not documented.
    let response = client
        .get(format!("{}/api/v1/no-such-thing", svc.url))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), reqwest::StatusCode::NOT_FOUND);
    let response = client
        .delete(format!("{}/api/v1/me/settings", svc.url))
        .send()
        .await
        .expect("send");
    assert!(response.status().is_client_error());
    svc.stop().await;
}

#[tokio::test]
async fn every_ref_resolves_and_schemas_are_the_protocol_types() {
    let mut svc = TestService::start(0).await;
    let doc = fetch_document(&svc).await;

    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(
        refs.len() > 50,
        "schemas are referenced, not inlined placeholders"
    );
    for r in &refs {
        let pointer = r
            .strip_prefix("#/components/schemas/")
            .map(|name| format!("/components/schemas/{name}"))
            .unwrap_or_else(|| panic!("{r} points into components/schemas"));
        assert!(doc.pointer(&pointer).is_some(), "{r} resolves");
    }
    // No placeholder left: every component describes something.
    for (name, s) in doc["components"]["schemas"].as_object().expect("schemas") {
        assert!(
            ["properties", "oneOf", "anyOf", "enum", "const"]
                .iter()
                .any(|k| s.get(*k).is_some()),
            "{name} is a real schema: {s}"
        );
    }

    // Bodies.
    let login = schema(&doc, "LoginRequest");
    let mut required = names(&login["required"]);
    required.sort_unstable();
    assert_eq!(required, ["email", "password"]);
    assert_eq!(login["properties"]["email"]["type"], "string");
    assert_eq!(login["properties"]["password"]["type"], "string");

    let page = schema(&doc, "ConversationSummaryPage");
    assert_eq!(page["properties"]["items"]["type"], "array");
    assert_eq!(
        page["properties"]["items"]["items"]["$ref"],
        component_ref("ConversationSummary")
    );
    assert!(page["properties"]["next_cursor"].is_object());
    assert_eq!(
        names(&page["required"]),
        ["items"],
        "next_cursor is optional"
    );

    let summary = schema(&doc, "ConversationSummary");
    assert_eq!(summary["properties"]["created_at"]["format"], "date-time");
    assert!(!names(&summary["required"]).contains(&"ended_at"));

    let error = schema(&doc, "ErrorBody");
    let mut required = names(&error["required"]);
    required.sort_unstable();
    assert_eq!(required, ["code", "message"]);
    assert_eq!(
        error["properties"]["code"]["$ref"],
        component_ref("ErrorCode")
    );
    let codes = serde_json::to_string(schema(&doc, "ErrorCode")).expect("codes");
    for code in [
        protocol::ErrorCode::NotFound,
        protocol::ErrorCode::InvalidField,
    ] {
        let wire = serde_json::to_string(&code).expect("code");
        assert!(codes.contains(&wire), "ErrorCode lists {wire}");
    }
    // Tagged enums keep their tag.
    let author = serde_json::to_string(schema(&doc, "Author")).expect("author");
    assert!(author.contains("\"role\"") && author.contains("\"agent_id\""));

    // Operations reference them.
    let op = operation(&doc, "post", "/api/v1/auth/login");
    assert_eq!(
        json_schema_of(&op["requestBody"])["$ref"],
        component_ref("LoginRequest")
    );
    assert_eq!(
        json_schema_of(&op["responses"]["200"])["$ref"],
        component_ref("LoginResponse")
    );
    assert_eq!(op["security"], serde_json::json!([]));
    let op = operation(&doc, "get", "/api/v1/me/settings");
    assert_eq!(
        json_schema_of(&op["responses"]["200"])["$ref"],
        component_ref("AgentSettings")
    );
    let op = operation(&doc, "put", "/api/v1/me/settings");
    assert_eq!(
        json_schema_of(&op["requestBody"])["$ref"],
        component_ref("AgentSettings")
    );
    let op = operation(&doc, "get", "/api/v1/agents");
    let list = json_schema_of(&op["responses"]["200"]);
    assert_eq!(list["type"], "array");
    assert_eq!(list["items"]["$ref"], component_ref("AgentSummary"));
    let op = operation(&doc, "get", "/api/v1/conversations/{id}/transcript");
    assert_eq!(
        op["responses"]["200"]["content"]["text/plain"]["schema"]["type"],
        "string"
    );

    // Every operation: a success response, every error status an ErrorBody, and security.
    for (method, path) in documented(&doc) {
        let op = operation(&doc, &method, &path);
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2') || s == "101"),
            "{method} {path} has a success response"
        );
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    json_schema_of(response)["$ref"],
                    component_ref("ErrorBody"),
                    "{method} {path} {status} is an ErrorBody"
                );
            }
        }
        let scheme = op["security"][0].as_object().and_then(|s| s.keys().next());
        if let Some(scheme) = scheme {
            assert_eq!(
                doc["components"]["securitySchemes"][scheme]["scheme"], "bearer",
                "{method} {path} uses a declared bearer scheme"
            );
            assert!(
                responses.contains_key("401"),
                "{method} {path} documents 401"
            );
        }
        for param in path.split('/').filter(|s| s.starts_with('{')) {
            let name = param.trim_matches(|c| c == '{' || c == '}');
            let documented = op["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == name && p["in"] == "path"))
                .unwrap_or_else(|| panic!("{method} {path} documents {name}"));
            assert_eq!(documented["required"], true);
            assert_eq!(documented["schema"]["type"], "integer");
        }
    }
    let agent_only = [
        ("get", "/api/v1/me"),
        ("get", "/api/v1/me/settings"),
        ("get", "/api/v1/conversations"),
        ("get", "/api/v1/agent/ws"),
    ];
    for (method, path) in agent_only {
        assert_eq!(
            operation(&doc, method, path)["security"],
            serde_json::json!([{"agentToken": []}])
        );
    }
    assert_eq!(
        operation(&doc, "post", "/api/v1/visitor/bookings")["security"],
        serde_json::json!([{"visitorToken": []}])
    );
    assert_eq!(
        operation(&doc, "post", "/api/v1/visitor/bookings")["responses"]["409"]["content"]["application/json"]
            ["schema"]["$ref"],
        component_ref("ErrorBody")
    );
    svc.stop().await;
}

fn query_params<'a>(doc: &'a Value, path: &str) -> Vec<(&'a str, &'a Value)> {
    operation(doc, "get", path)["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| {
            assert_eq!(p["required"], false, "query parameters are optional");
            (p["name"].as_str().expect("name"), &p["schema"])
        })
        .collect()
}

#[tokio::test]
async fn query_parameters_are_listed_with_their_types() {
    let mut svc = TestService::start(0).await;
    let doc = fetch_document(&svc).await;

    let params = query_params(&doc, "/api/v1/conversations");
    let listed: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
    assert_eq!(listed, ["scope", "q", "cursor", "limit"]);
    assert_eq!(params[0].1["$ref"], component_ref("ConversationScope"));
    assert_eq!(params[0].1["default"], "active");
    let scope = serde_json::to_string(schema(&doc, "ConversationScope")).expect("scope");
    assert!(scope.contains("\"active\"") && scope.contains("\"all\""));
    assert_eq!(params[1].1["type"], "string");
    assert_eq!(params[2].1["type"], "string");
    assert_eq!(params[3].1["type"], "integer");
    assert_eq!(params[3].1["maximum"], 200);

    let params = query_params(&doc, "/api/v1/conversations/{id}/messages");
    let listed: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
    assert_eq!(listed, ["before", "limit"]);
    assert!(params.iter().all(|(_, s)| s["type"] == "integer"));

    for path in [
        "/api/v1/calendars/{agent_id}/slots",
        "/api/v1/visitor/calendars/{agent_id}/slots",
    ] {
        let params = query_params(&doc, path);
        let listed: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
        assert_eq!(listed, ["from", "days"]);
        assert_eq!(params[0].1["format"], "date-time");
        assert_eq!(params[1].1["type"], "integer");
        assert_eq!(
            params[1].1["maximum"],
            chat_service::calendar::MAX_DAYS,
            "{path}"
        );
    }
    svc.stop().await;
}

#[tokio::test]
async fn documented_bounds_are_the_ones_the_handlers_enforce() {
    let mut svc = TestService::start(1).await;
    let doc = fetch_document(&svc).await;
    let api = svc.login(0).await;
    let token = api.token().expect("token").to_owned();
    let client = reqwest::Client::new();
    let agent = svc.agents[0].id.0.to_string();
    for (template, concrete) in [
        ("/api/v1/conversations", "/api/v1/conversations".to_owned()),
        (
            "/api/v1/calendars/{agent_id}/slots",
            format!("/api/v1/calendars/{agent}/slots"),
        ),
    ] {
        for (name, s) in query_params(&doc, template) {
            let (Some(min), Some(max)) = (s["minimum"].as_i64(), s["maximum"].as_i64()) else {
                continue;
            };
            for (value, ok) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
                let status = client
                    .get(format!("{}{concrete}?{name}={value}", svc.url))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("send")
                    .status();
                assert_eq!(
                    status.is_success(),
                    ok,
                    "{template}?{name}={value} answered {status}"
                );
            }
        }
    }
    svc.stop().await;
}

/// When python3 has `openapi-spec-validator` (PyPI), the served document passes it too.
#[tokio::test]
async fn the_document_passes_openapi_spec_validator_when_installed() {
    const CHECK: &str = "import sys\n\
        from openapi_spec_validator import validate\n\
        from openapi_spec_validator.readers import read_from_filename\n\
        spec, _ = read_from_filename(sys.argv[1])\n\
        validate(spec)\n";
    let has_validator = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_validator {
        eprintln!("skipped: python3 -m pip install openapi-spec-validator to run this check");
        return;
    }
    let mut svc = TestService::start(0).await;
    let doc = fetch_document(&svc).await;
    let file = svc.dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).expect("serialize")).expect("write");
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(CHECK)
        .arg(&file)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    svc.stop().await;
}
