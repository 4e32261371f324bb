//! The OpenAPI 3.1 document of the REST API, served at `/api/v1/openapi.json`.
//!
//! [`OPERATIONS`] is the one list of what the service serves: the router registers each
//! operation through [`Routes::add`] (so a route cannot be served undocumented), and
//! [`document`] describes the same list. Body schemas are JSON Schema 2020-12 derived by
//! `schemars` from the types of `crates/protocol` (honoring their serde attributes) and live
//! under `components/schemas`; their TypeScript twins are in `crates/protocol/bindings`.
//! Query parameters mirror the `Query` structs of the handlers in this folder; a test checks
//! their names and types against those structs.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use chrono::{DateTime, Utc};
use protocol::rest::*;
use protocol::*;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema, json_schema};
use serde_json::{Map, Value, json};

/// Where the REST API is nested.
pub const PREFIX: &str = "/api/v1";

/// Builds the schema of a body or parameter, adding what it refers to to the generator.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of a protocol type: a `$ref` to `components/schemas` for named types.
fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Put,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
        }
    }
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Anyone.
    None,
    /// `Authorization: Bearer <token>` from `POST /auth/login`.
    Agent,
    /// `Authorization: Bearer <token>` from `POST /visitor/sessions`.
    Visitor,
}

/// Where a parameter is read from. Path parameters are implied by the `{name}` segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Query,
    Header,
}

impl In {
    fn as_str(self) -> &'static str {
        match self {
            In::Query => "query",
            In::Header => "header",
        }
    }
}

/// A query or header parameter.
pub struct Param {
    pub name: &'static str,
    pub location: In,
    pub required: bool,
    pub description: &'static str,
    pub schema: SchemaFn,
}

/// What a successful call returns.
#[derive(Clone, Copy)]
pub enum Reply {
    /// `204 No Content`.
    Empty,
    /// `200` with a JSON body.
    Json(SchemaFn),
    /// `200` with `text/plain`.
    Text,
    /// `101 Switching Protocols`.
    WebSocket,
}

/// One method on one path.
pub struct Operation {
    pub id: &'static str,
    pub method: Method,
    /// The full path, `{name}` for path parameters (each a positive integer id).
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub auth: Auth,
    pub params: &'static [Param],
    pub request: Option<SchemaFn>,
    pub reply: Reply,
    /// Error statuses besides those implied by auth, parameters and a body (400, 401, 413).
    pub errors: &'static [(u16, &'static str)],
}

impl Operation {
    /// Path parameter names, in order.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }

    pub fn query_params(&self) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(|p| p.location == In::Query)
    }
}

const BASE: Operation = Operation {
    id: "",
    method: Method::Get,
    path: "",
    tag: "",
    summary: "",
    description: "",
    auth: Auth::Agent,
    params: &[],
    request: None,
    reply: Reply::Empty,
    errors: &[],
};

const INTERNAL: (u16, &str) = (500, "internal: the service failed");
const NOT_VISIBLE: (u16, &str) = (
    403,
    "forbidden: another agent's live chat, or a conversation the agent may not see",
);
const NO_CONVERSATION: (u16, &str) = (404, "not_found: no such conversation");
const ORIGIN: Param = Param {
    name: "Origin",
    location: In::Header,
    required: true,
    description: "The page embedding the widget; must be on the service's allowlist \
                  (403 origin_not_allowed otherwise)",
    schema: string,
};

fn string(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string"})
}

fn date_time(generator: &mut SchemaGenerator) -> Schema {
    schema::<DateTime<Utc>>(generator)
}

fn slot_days(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "integer",
        "minimum": 1,
        "maximum": crate::calendar::MAX_DAYS,
        "default": 7,
    })
}

fn scope(generator: &mut SchemaGenerator) -> Schema {
    let mut s = schema::<ConversationScope>(generator);
    s.insert("default".into(), json!(ConversationScope::default()));
    s
}

fn search_text(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "maxLength": 200})
}

fn conversation_limit(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "integer", "minimum": 1, "maximum": 200, "default": 50})
}

fn message_limit(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "integer", "minimum": 1, "maximum": 500, "default": 100})
}

fn message_id(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "integer", "format": "int64", "minimum": 1})
}

/// The query of both slot endpoints (`SlotQuery` in `agents.rs`).
const SLOT_QUERY: &[Param] = &[
    Param {
        name: "from",
        location: In::Query,
        required: false,
        description: "Earliest start (RFC 3339); now when absent or in the past",
        schema: date_time,
    },
    Param {
        name: "days",
        location: In::Query,
        required: false,
        description: "How many days from `from` to list",
        schema: slot_days,
    },
];

pub const LOGIN: Operation = Operation {
    id: "login",
    method: Method::Post,
    path: "/api/v1/auth/login",
    tag: "auth",
    summary: "Log in as an agent; returns a bearer token",
    auth: Auth::None,
    request: Some(schema::<LoginRequest>),
    reply: Reply::Json(schema::<LoginResponse>),
    errors: &[(401, "unauthorized: wrong email or password"), INTERNAL],
    ..BASE
};

pub const LOGOUT: Operation = Operation {
    id: "logout",
    method: Method::Post,
    path: "/api/v1/auth/logout",
    tag: "auth",
    summary: "Revoke the bearer token and close its WebSockets",
    errors: &[INTERNAL],
    ..BASE
};

pub const ME: Operation = Operation {
    id: "getMe",
    path: "/api/v1/me",
    tag: "me",
    summary: "The agent, their availability and settings",
    reply: Reply::Json(schema::<MeResponse>),
    errors: &[INTERNAL],
    ..BASE
};

pub const GET_SETTINGS: Operation = Operation {
    id: "getSettings",
    path: "/api/v1/me/settings",
    tag: "me",
    summary: "The agent's settings",
    reply: Reply::Json(schema::<AgentSettings>),
    errors: &[INTERNAL],
    ..BASE
};

pub const PUT_SETTINGS: Operation = Operation {
    id: "putSettings",
    method: Method::Put,
    path: "/api/v1/me/settings",
    tag: "me",
    summary: "Replace the agent's settings",
    description: "Validated: an IANA time zone, `HH:MM` blocks with start before end, \
                  positive meeting minutes. Returns the stored settings.",
    request: Some(schema::<AgentSettings>),
    reply: Reply::Json(schema::<AgentSettings>),
    errors: &[INTERNAL],
    ..BASE
};

pub const PUT_AVAILABILITY: Operation = Operation {
    id: "putAvailability",
    method: Method::Put,
    path: "/api/v1/me/availability",
    tag: "me",
    summary: "Set (status) or clear (null) the manual availability toggle",
    request: Some(schema::<SetAvailabilityRequest>),
    reply: Reply::Json(schema::<Availability>),
    errors: &[INTERNAL],
    ..BASE
};

pub const AGENTS: Operation = Operation {
    id: "listAgents",
    path: "/api/v1/agents",
    tag: "calendars",
    summary: "Every agent (for the calendar picker)",
    reply: Reply::Json(schema::<Vec<AgentSummary>>),
    errors: &[INTERNAL],
    ..BASE
};

pub const CALENDARS: Operation = Operation {
    id: "listCalendars",
    path: "/api/v1/calendars",
    tag: "calendars",
    summary: "Every calendar (one per agent)",
    reply: Reply::Json(schema::<Vec<CalendarSummary>>),
    errors: &[INTERNAL],
    ..BASE
};

pub const SLOTS: Operation = Operation {
    id: "listSlots",
    path: "/api/v1/calendars/{agent_id}/slots",
    tag: "calendars",
    summary: "Free slots of an agent's calendar",
    params: SLOT_QUERY,
    reply: Reply::Json(schema::<SlotList>),
    errors: &[(404, "not_found: no such calendar"), INTERNAL],
    ..BASE
};

pub const CONVERSATIONS: Operation = Operation {
    id: "listConversations",
    path: "/api/v1/conversations",
    tag: "conversations",
    summary: "Conversations, newest activity first",
    description: "`active`: the agent's own live chats; `all`: those plus every ended \
                  conversation. Pass `next_cursor` back as `cursor` for the next page.",
    params: &[
        Param {
            name: "scope",
            location: In::Query,
            required: false,
            description: "Which conversations to list",
            schema: scope,
        },
        Param {
            name: "q",
            location: In::Query,
            required: false,
            description: "Search text (visitor name or email, message text)",
            schema: search_text,
        },
        Param {
            name: "cursor",
            location: In::Query,
            required: false,
            description: "The opaque `next_cursor` of the previous page",
            schema: string,
        },
        Param {
            name: "limit",
            location: In::Query,
            required: false,
            description: "Page size",
            schema: conversation_limit,
        },
    ],
    reply: Reply::Json(schema::<ConversationPage>),
    errors: &[INTERNAL],
    ..BASE
};

pub const CONVERSATION: Operation = Operation {
    id: "getConversation",
    path: "/api/v1/conversations/{id}",
    tag: "conversations",
    summary: "One conversation",
    reply: Reply::Json(schema::<ConversationSummary>),
    errors: &[NOT_VISIBLE, NO_CONVERSATION, INTERNAL],
    ..BASE
};

pub const MESSAGES: Operation = Operation {
    id: "listMessages",
    path: "/api/v1/conversations/{id}/messages",
    tag: "conversations",
    summary: "Messages of a conversation, oldest first within the page",
    description: "The newest page without `before`; pass `older_cursor` as `before` for older \
                  messages.",
    params: &[
        Param {
            name: "before",
            location: In::Query,
            required: false,
            description: "Only messages older than this message id",
            schema: message_id,
        },
        Param {
            name: "limit",
            location: In::Query,
            required: false,
            description: "Page size",
            schema: message_limit,
        },
    ],
    reply: Reply::Json(schema::<MessagePage>),
    errors: &[NOT_VISIBLE, NO_CONVERSATION, INTERNAL],
    ..BASE
};

pub const TRANSCRIPT: Operation = Operation {
    id: "getTranscript",
    path: "/api/v1/conversations/{id}/transcript",
    tag: "conversations",
    summary: "The conversation as plain text (for reading in place or saving as .txt)",
    reply: Reply::Text,
    errors: &[NOT_VISIBLE, NO_CONVERSATION, INTERNAL],
    ..BASE
};

pub const CONVERSATION_VISITOR: Operation = Operation {
    id: "getConversationVisitor",
    path: "/api/v1/conversations/{id}/visitor",
    tag: "conversations",
    summary: "The visitor's details; fields the visitor did not give are absent",
    reply: Reply::Json(schema::<VisitorInfo>),
    errors: &[NOT_VISIBLE, NO_CONVERSATION, INTERNAL],
    ..BASE
};

pub const ACTIVITIES: Operation = Operation {
    id: "listActivities",
    path: "/api/v1/conversations/{id}/activities",
    tag: "conversations",
    summary: "The visitor's activities of the last 90 days, newest first",
    reply: Reply::Json(schema::<ActivityList>),
    errors: &[NOT_VISIBLE, NO_CONVERSATION, INTERNAL],
    ..BASE
};

pub const AGENT_WS: Operation = Operation {
    id: "agentSocket",
    path: "/api/v1/agent/ws",
    tag: "live",
    summary: "The agent WebSocket",
    description: "JSON text frames: `AgentCommand` up, `AgentServerFrame` down (see \
                  `crates/protocol/src/agent_ws.rs`). Starts with hello, then a ready snapshot.",
    reply: Reply::WebSocket,
    ..BASE
};

pub const VISITOR_SESSION: Operation = Operation {
    id: "openVisitorSession",
    method: Method::Post,
    path: "/api/v1/visitor/sessions",
    tag: "visitor",
    summary: "Open a visitor session; returns the visitor's bearer token",
    auth: Auth::None,
    params: &[ORIGIN],
    request: Some(schema::<VisitorSessionRequest>),
    reply: Reply::Json(schema::<VisitorSessionResponse>),
    errors: &[
        (403, "origin_not_allowed: Origin is missing or not allowed"),
        INTERNAL,
    ],
    ..BASE
};

pub const VISITOR_WS: Operation = Operation {
    id: "visitorSocket",
    path: "/api/v1/visitor/ws",
    tag: "live",
    summary: "The visitor WebSocket; the visitor token goes in the first frame",
    description: "JSON text frames: `VisitorCommand` up, `VisitorServerFrame` down (see \
                  `crates/protocol/src/visitor_ws.rs`).",
    auth: Auth::None,
    params: &[ORIGIN],
    reply: Reply::WebSocket,
    errors: &[(403, "origin_not_allowed: Origin is missing or not allowed")],
    ..BASE
};

pub const VISITOR_SLOTS: Operation = Operation {
    id: "listVisitorSlots",
    path: "/api/v1/visitor/calendars/{agent_id}/slots",
    tag: "visitor",
    summary: "Free slots of a calendar shared in the visitor's open conversation",
    auth: Auth::Visitor,
    params: SLOT_QUERY,
    reply: Reply::Json(schema::<SlotList>),
    errors: &[
        (
            403,
            "forbidden: this calendar was not shared with the visitor",
        ),
        (404, "not_found: no such calendar"),
        INTERNAL,
    ],
    ..BASE
};

pub const BOOK: Operation = Operation {
    id: "book",
    method: Method::Post,
    path: "/api/v1/visitor/bookings",
    tag: "visitor",
    summary: "Book a free slot of a calendar shared in the visitor's conversation",
    auth: Auth::Visitor,
    request: Some(schema::<BookingRequest>),
    reply: Reply::Json(schema::<Booking>),
    errors: &[
        (
            403,
            "forbidden: not the visitor's conversation, or the calendar was not shared in it",
        ),
        (404, "not_found: no such conversation"),
        (409, "conflict: that time is not (or no longer) a free slot"),
        INTERNAL,
    ],
    ..BASE
};

pub const OPENAPI: Operation = Operation {
    id: "openapi",
    path: "/api/v1/openapi.json",
    tag: "meta",
    summary: "This document",
    auth: Auth::None,
    reply: Reply::Json(|_| json_schema!({"type": "object"})),
    ..BASE
};

pub const HEALTH: Operation = Operation {
    id: "health",
    path: "/healthz",
    tag: "meta",
    summary: "Liveness and versions",
    auth: Auth::None,
    reply: Reply::Json(schema::<Health>),
    ..BASE
};

/// Everything the service serves besides the widget's static files.
pub const OPERATIONS: &[&Operation] = &[
    &LOGIN,
    &LOGOUT,
    &ME,
    &GET_SETTINGS,
    &PUT_SETTINGS,
    &PUT_AVAILABILITY,
    &AGENTS,
    &CALENDARS,
    &SLOTS,
    &CONVERSATIONS,
    &CONVERSATION,
    &MESSAGES,
    &TRANSCRIPT,
    &CONVERSATION_VISITOR,
    &ACTIVITIES,
    &AGENT_WS,
    &VISITOR_SESSION,
    &VISITOR_WS,
    &VISITOR_SLOTS,
    &BOOK,
    &OPENAPI,
    &HEALTH,
];

/// Routers built from operations: what is added here is served, and [`Routes::served`] tells
/// what was added, so a test can hold it against [`OPERATIONS`].
pub struct Routes<S> {
    api: Router<S>,
    root: Router<S>,
    served: Vec<&'static Operation>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Routes {
            api: Router::new(),
            root: Router::new(),
            served: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// Serves `handler` for `op`: under [`PREFIX`] in the API router, otherwise at the root.
    pub fn add<H, T>(mut self, op: &'static Operation, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let route = on(op.method.filter(), handler);
        match op.path.strip_prefix(PREFIX) {
            Some(path) => self.api = self.api.route(path, route),
            None => self.root = self.root.route(op.path, route),
        }
        self.served.push(op);
        self
    }

    /// Every operation added, in order.
    pub fn served(&self) -> &[&'static Operation] {
        &self.served
    }

    /// The router to nest at [`PREFIX`] and the one for root paths.
    pub fn into_routers(self) -> (Router<S>, Router<S>) {
        (self.api, self.root)
    }
}

/// Schemas as JSON Schema 2020-12 (the dialect of OpenAPI 3.1), named types referenced from
/// `#/components/schemas`.
fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator()
}

fn error_response(description: &str, error: &Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": error}}})
}

fn operation(op: &Operation, generator: &mut SchemaGenerator, error: &Value) -> Value {
    let mut out = Map::new();
    out.insert("operationId".into(), json!(op.id));
    out.insert("tags".into(), json!([op.tag]));
    out.insert("summary".into(), json!(op.summary));
    if !op.description.is_empty() {
        out.insert("description".into(), json!(op.description));
    }
    let mut params: Vec<Value> = op
        .path_params()
        .map(|name| {
            json!({"name": name, "in": "path", "required": true,
                   "description": "A positive integer id",
                   "schema": {"type": "integer", "format": "int64", "minimum": 1}})
        })
        .collect();
    params.extend(op.params.iter().map(|p| {
        json!({"name": p.name, "in": p.location.as_str(), "required": p.required,
               "description": p.description, "schema": (p.schema)(generator)})
    }));
    if !params.is_empty() {
        out.insert("parameters".into(), Value::Array(params));
    }
    match op.auth {
        Auth::Agent => out.insert("security".into(), json!([{"agentToken": []}])),
        Auth::Visitor => out.insert("security".into(), json!([{"visitorToken": []}])),
        Auth::None => out.insert("security".into(), json!([])),
    };
    if let Some(request) = op.request {
        out.insert(
            "requestBody".into(),
            json!({"required": true,
                   "content": {"application/json": {"schema": request(generator)}}}),
        );
    }
    let mut responses = Map::new();
    let (status, ok) = match op.reply {
        Reply::Empty => ("204", json!({"description": "Done"})),
        Reply::Json(body) => (
            "200",
            json!({"description": "OK",
                   "content": {"application/json": {"schema": body(generator)}}}),
        ),
        Reply::Text => (
            "200",
            json!({"description": "OK",
                   "content": {"text/plain": {"schema": {"type": "string"}}}}),
        ),
        Reply::WebSocket => ("101", json!({"description": "Switching to the WebSocket"})),
    };
    responses.insert(status.into(), ok);
    if op.request.is_some() || !op.params.is_empty() || op.path.contains('{') {
        let what = if op.request.is_some() {
            "bad_request or invalid_field: the body is not valid JSON of this shape, or a \
             field is invalid (the message names it)"
        } else {
            "invalid_field: a parameter is invalid (the message names it)"
        };
        responses.insert("400".into(), error_response(what, error));
    }
    if op.auth != Auth::None {
        responses.insert(
            "401".into(),
            error_response(
                "unauthorized: missing, malformed, expired or revoked bearer token",
                error,
            ),
        );
    }
    if op.request.is_some() {
        let what = format!(
            "too_large: the body is over {} bytes",
            protocol::MAX_FRAME_BYTES
        );
        responses.insert("413".into(), error_response(&what, error));
    }
    for (status, what) in op.errors {
        responses.insert(status.to_string(), error_response(what, error));
    }
    out.insert("responses".into(), Value::Object(responses));
    Value::Object(out)
}

/// The document, built from [`OPERATIONS`] and the protocol types.
pub fn document() -> Value {
    let mut generator = generator();
    let error = schema::<ErrorBody>(&mut generator).to_value();
    let mut paths = Map::new();
    for op in OPERATIONS {
        let item = paths
            .entry(op.path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(
                op.method.as_str().into(),
                operation(op, &mut generator, &error),
            );
        }
    }
    let schemas = generator.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Agent Inbox chat service",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "REST API v{PROTOCOL_VERSION}. Every error is an ErrorBody `{{code, message}}`; \
                 clients branch on `code`. Live traffic uses the two WebSockets."
            ),
        },
        "tags": [
            {"name": "auth"}, {"name": "me"}, {"name": "calendars"}, {"name": "conversations"},
            {"name": "live"}, {"name": "visitor"}, {"name": "meta"},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "agentToken": {"type": "http", "scheme": "bearer",
                               "description": "The token of POST /api/v1/auth/login"},
                "visitorToken": {"type": "http", "scheme": "bearer",
                                 "description": "The token of POST /api/v1/visitor/sessions"},
            },
            "schemas": schemas,
        },
    })
}

#[cfg(test)]
mod tests {
    //! The documented query parameters are the fields of the handlers' `Query` structs, with
    //! values of the documented types accepted and others refused.

    use serde::de::{self, Deserialize, Deserializer, Visitor};

    use super::super::agents::SlotQuery;
    use super::super::conversations::{ListQuery, MessagesQuery};
    use super::*;

    /// A deserializer that only records the field names a struct asks for.
    struct FieldNames(&'static [&'static str]);

    impl<'de> Deserializer<'de> for &mut FieldNames {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields;
            Err(de::Error::custom("fields recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    fn fields_of<T: for<'de> Deserialize<'de>>() -> Vec<&'static str> {
        let mut names = FieldNames(&[]);
        let _ = T::deserialize(&mut names);
        names.0.to_vec()
    }

    /// A valid value for a documented parameter schema, and an invalid one when there is one.
    fn samples(schema: &Value, doc: &Value) -> (String, Option<&'static str>) {
        let schema = match schema["$ref"].as_str() {
            Some(r) => doc
                .pointer(r.trim_start_matches('#'))
                .expect("parameter $ref resolves"),
            None => schema,
        };
        let first = schema["enum"][0]
            .as_str()
            .or_else(|| schema["oneOf"][0]["const"].as_str());
        if let Some(first) = first {
            return (first.to_owned(), Some("no-such-value"));
        }
        match (schema["type"].as_str(), schema["format"].as_str()) {
            (Some("integer"), _) => ("3".to_owned(), Some("three")),
            (Some("string"), Some("date-time")) => {
                ("2030-01-07T09:00:00Z".to_owned(), Some("monday"))
            }
            (Some("string"), _) => ("text".to_owned(), None),
            other => panic!("no sample for a parameter of type {other:?}"),
        }
    }

    fn check<T: for<'de> Deserialize<'de>>(op: &Operation, doc: &Value) {
        let mut documented: Vec<&str> = op.query_params().map(|p| p.name).collect();
        let mut fields = fields_of::<T>();
        documented.sort_unstable();
        fields.sort_unstable();
        assert_eq!(documented, fields, "{} documents its Query struct", op.id);
        let params = doc["paths"][op.path][op.method.as_str()]["parameters"]
            .as_array()
            .expect("parameters");
        for p in params.iter().filter(|p| p["in"] == "query") {
            let name = p["name"].as_str().expect("name");
            let (good, bad) = samples(&p["schema"], doc);
            let uri: axum::http::Uri = format!("/x?{name}={good}").parse().expect("uri");
            assert!(
                axum::extract::Query::<T>::try_from_uri(&uri).is_ok(),
                "{}: {name}={good} is accepted",
                op.id
            );
            if let Some(bad) = bad {
                let uri: axum::http::Uri = format!("/x?{name}={bad}").parse().expect("uri");
                assert!(
                    axum::extract::Query::<T>::try_from_uri(&uri).is_err(),
                    "{}: {name}={bad} is refused",
                    op.id
                );
            }
        }
    }

    #[test]
    fn query_parameters_match_the_handlers_query_structs() {
        let doc = document();
        check::<SlotQuery>(&SLOTS, &doc);
        check::<SlotQuery>(&VISITOR_SLOTS, &doc);
        check::<ListQuery>(&CONVERSATIONS, &doc);
        check::<MessagesQuery>(&MESSAGES, &doc);
        let with_query = [SLOTS.id, VISITOR_SLOTS.id, CONVERSATIONS.id, MESSAGES.id];
        for op in OPERATIONS {
            if !with_query.contains(&op.id) {
                assert_eq!(op.query_params().count(), 0, "{} takes no query", op.id);
            }
        }
    }

    #[test]
    fn operation_ids_and_routes_are_unique() {
        let mut ids: Vec<&str> = OPERATIONS.iter().map(|op| op.id).collect();
        let mut routes: Vec<(Method, &str)> =
            OPERATIONS.iter().map(|op| (op.method, op.path)).collect();
        ids.sort_unstable();
        ids.dedup();
        routes.sort_unstable();
        routes.dedup();
        assert_eq!(ids.len(), OPERATIONS.len());
        assert_eq!(routes.len(), OPERATIONS.len());
    }
}
