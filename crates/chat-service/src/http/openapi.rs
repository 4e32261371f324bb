//! The OpenAPI 3.1 document of the REST API, served at `/api/v1/openapi.json`. Schemas name
//! the types of `crates/protocol` (their TypeScript twins are in `crates/protocol/bindings`).

use serde_json::{Map, Value, json};

/// A documented route: method, path, summary, auth, request schema, response schema.
pub type Route = (
    &'static str,
    &'static str,
    &'static str,
    Auth,
    Option<&'static str>,
    &'static str,
);

/// Every documented route.
pub const ROUTES: &[Route] = &[
    (
        "post",
        "/api/v1/auth/login",
        "Log in as an agent; returns a bearer token",
        Auth::None,
        Some("LoginRequest"),
        "LoginResponse",
    ),
    (
        "post",
        "/api/v1/auth/logout",
        "Revoke the bearer token",
        Auth::Agent,
        None,
        "",
    ),
    (
        "get",
        "/api/v1/me",
        "The agent, their availability and settings",
        Auth::Agent,
        None,
        "MeResponse",
    ),
    (
        "get",
        "/api/v1/me/settings",
        "The agent's settings",
        Auth::Agent,
        None,
        "AgentSettings",
    ),
    (
        "put",
        "/api/v1/me/settings",
        "Replace the agent's settings (validated)",
        Auth::Agent,
        Some("AgentSettings"),
        "AgentSettings",
    ),
    (
        "put",
        "/api/v1/me/availability",
        "Set (status) or clear (null) the manual toggle",
        Auth::Agent,
        Some("SetAvailabilityRequest"),
        "Availability",
    ),
    (
        "get",
        "/api/v1/agents",
        "Every agent (for the calendar picker)",
        Auth::Agent,
        None,
        "AgentSummary[]",
    ),
    (
        "get",
        "/api/v1/calendars",
        "Every calendar (one per agent)",
        Auth::Agent,
        None,
        "CalendarSummary[]",
    ),
    (
        "get",
        "/api/v1/calendars/{agent_id}/slots",
        "Free slots of a calendar (query: from, days)",
        Auth::Agent,
        None,
        "SlotList",
    ),
    (
        "get",
        "/api/v1/conversations",
        "Conversations, newest first (query: scope=active|all, q, cursor, limit)",
        Auth::Agent,
        None,
        "ConversationPage",
    ),
    (
        "get",
        "/api/v1/conversations/{id}",
        "One conversation",
        Auth::Agent,
        None,
        "ConversationSummary",
    ),
    (
        "get",
        "/api/v1/conversations/{id}/messages",
        "Messages, oldest first within the page (query: before, limit)",
        Auth::Agent,
        None,
        "MessagePage",
    ),
    (
        "get",
        "/api/v1/conversations/{id}/transcript",
        "The conversation as plain text",
        Auth::Agent,
        None,
        "text/plain",
    ),
    (
        "get",
        "/api/v1/conversations/{id}/visitor",
        "The visitor's details; absent fields are omitted",
        Auth::Agent,
        None,
        "VisitorInfo",
    ),
    (
        "get",
        "/api/v1/conversations/{id}/activities",
        "The visitor's activities of the last 90 days",
        Auth::Agent,
        None,
        "ActivityList",
    ),
    (
        "get",
        "/api/v1/agent/ws",
        "Agent WebSocket (AgentCommand up, AgentServerFrame down)",
        Auth::Agent,
        None,
        "websocket",
    ),
    (
        "post",
        "/api/v1/visitor/sessions",
        "Open a visitor session (Origin must be allowed)",
        Auth::None,
        Some("VisitorSessionRequest"),
        "VisitorSessionResponse",
    ),
    (
        "get",
        "/api/v1/visitor/ws",
        "Visitor WebSocket; token in the first frame (VisitorCommand / VisitorServerFrame)",
        Auth::None,
        None,
        "websocket",
    ),
    (
        "get",
        "/api/v1/visitor/calendars/{agent_id}/slots",
        "Free slots of a calendar shared with the visitor",
        Auth::Visitor,
        None,
        "SlotList",
    ),
    (
        "post",
        "/api/v1/visitor/bookings",
        "Book a slot; 409 conflict when taken",
        Auth::Visitor,
        Some("BookingRequest"),
        "Booking",
    ),
    (
        "get",
        "/api/v1/openapi.json",
        "This document",
        Auth::None,
        None,
        "object",
    ),
    ("get", "/healthz", "Liveness", Auth::None, None, "Health"),
];

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    Agent,
    Visitor,
}

fn schema_ref(name: &str) -> Value {
    if let Some(inner) = name.strip_suffix("[]") {
        return json!({"type": "array", "items": schema_ref(inner)});
    }
    match name {
        "object" | "websocket" => json!({"type": "object"}),
        "text/plain" => json!({"type": "string"}),
        _ => json!({"$ref": format!("#/components/schemas/{name}")}),
    }
}

pub fn document() -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for (method, path, summary, auth, request, response) in ROUTES {
        let mut op = Map::new();
        op.insert("summary".into(), json!(summary));
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}))
            .collect();
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        match auth {
            Auth::Agent => {
                op.insert("security".into(), json!([{"agentToken": []}]));
            }
            Auth::Visitor => {
                op.insert("security".into(), json!([{"visitorToken": []}]));
            }
            Auth::None => {}
        }
        if let Some(req) = request {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema_ref(req)}}}),
            );
            schemas.insert(
                (*req).to_owned(),
                json!({"type": "object", "description": format!("protocol::{req}")}),
            );
        }
        let ok = if response.is_empty() {
            json!({"204": {"description": "done"}})
        } else if *response == "websocket" {
            json!({"101": {"description": "switching protocols"}})
        } else {
            let media = if *response == "text/plain" {
                "text/plain"
            } else {
                "application/json"
            };
            let base = response.trim_end_matches("[]");
            if !matches!(base, "object" | "text/plain") {
                schemas.insert(
                    base.to_owned(),
                    json!({"type": "object", "description": format!("protocol::{base}")}),
                );
            }
            json!({"200": {"description": "ok", "content": {media: {"schema": schema_ref(response)}}}})
        };
        let mut responses = ok.as_object().cloned().unwrap_or_default();
        responses.insert(
            "default".into(),
            json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}),
        );
        op.insert("responses".into(), Value::Object(responses));
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        if let Some(obj) = entry.as_object_mut() {
            obj.insert((*method).to_owned(), Value::Object(op));
        }
    }
    schemas.insert(
        "ErrorBody".into(),
        json!({"type": "object", "required": ["code", "message"],
               "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Agent Inbox chat service", "version": env!("CARGO_PKG_VERSION"),
                 "description": "REST API v1. Errors are {code, message}. Live traffic uses the two WebSockets."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "agentToken": {"type": "http", "scheme": "bearer"},
                "visitorToken": {"type": "http", "scheme": "bearer"}
            },
            "schemas": schemas
        }
    })
}
