//! Agent Inbox in a browser: what the desktop shell gives the UI, over loopback HTTP.
//!
//! - `GET /...` serves the UI's web build (`ui/dist`); `index.html` gets a
//!   `<meta name="agent-inbox-backend" content="web">` marker so the UI picks its web backend.
//! - `POST /rpc/<command>` runs one of the shell's commands (same names, same camelCase
//!   arguments as a JSON object); the answer is the command's JSON value, an error is
//!   `{code, message}` with a 4xx/5xx status.
//! - `GET /events` (WebSocket) pushes `{"event": NAME, "payload": ...}` for the shell's events
//!   `state://changed` (an [`agent_core::StateUpdate`]), `core://event` and
//!   `window://open-conversation`. A new socket first gets the whole current state. A socket that falls behind by more than [`EVENT_BUFFER`] events
//!   is closed (1013): the client reconnects and starts from the current state again.
//!
//! It binds 127.0.0.1 only, answers only requests whose `Host` is its own address, and
//! refuses any `Origin` other than its own, so other web pages cannot drive the agent's
//! session (cross-site requests and DNS rebinding).

pub mod rpc;
mod static_files;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use agent_core::session::Session;
use agent_core::{AgentCore, CoreEvent, StateUpdate, StateUpdates};
use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol::{ErrorBody, ErrorCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

pub const STATE_CHANGED: &str = "state://changed";
pub const CORE_EVENT: &str = "core://event";
pub const OPEN_CONVERSATION: &str = "window://open-conversation";

/// Events kept per socket before a slow one is dropped.
pub const EVENT_BUFFER: usize = 1024;

/// The events of whichever engine is running, as ready-to-send JSON text.
#[derive(Clone)]
pub struct Events(broadcast::Sender<Arc<str>>);

impl Default for Events {
    fn default() -> Self {
        Events(broadcast::channel(EVENT_BUFFER).0)
    }
}

impl Events {
    fn send(&self, event: &str, payload: impl serde::Serialize) {
        match serde_json::to_string(&json!({ "event": event, "payload": payload })) {
            // No socket open is fine: the UI asks for the state when it connects.
            Ok(text) => drop(self.0.send(text.into())),
            Err(e) => tracing::warn!(error = %e, event, "cannot encode an event"),
        }
    }

    /// The forwarding tasks for a freshly started engine (the session's `on_start`), as the
    /// shell's `events::forward` does for its window.
    pub fn forward(&self, core: Arc<AgentCore>) -> Vec<JoinHandle<()>> {
        let mut state = core.watch();
        let tx = self.clone();
        let states = tokio::spawn(async move {
            let mut updates = StateUpdates::new();
            loop {
                let current = state.borrow_and_update().clone();
                tx.send(STATE_CHANGED, updates.next(&current));
                if state.changed().await.is_err() {
                    break;
                }
            }
        });
        let mut events = core.events();
        let tx = self.clone();
        let rest = tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(e) => e,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "UI event stream lagged");
                        continue;
                    }
                    Err(_) => break,
                };
                if let CoreEvent::OpenWindow { conversation_id } = &event {
                    tx.send(OPEN_CONVERSATION, conversation_id);
                }
                tx.send(CORE_EVENT, &event);
            }
        });
        vec![states, rest]
    }
}

struct Shared {
    session: Arc<Session>,
    events: Events,
    dist: PathBuf,
    /// `127.0.0.1:PORT` and `localhost:PORT`: the Hosts this bridge answers to.
    hosts: [String; 2],
}

/// The bridge's routes for a session whose engine forwards into `events`, serving the UI from
/// `dist`, answering as `addr`.
pub fn router(session: Arc<Session>, events: Events, dist: PathBuf, addr: SocketAddr) -> Router {
    let port = addr.port();
    let shared = Arc::new(Shared {
        session,
        events,
        dist,
        hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
    });
    Router::new()
        .route("/rpc/{command}", post(rpc))
        .route("/events", get(events_socket))
        .fallback(get(static_files::serve))
        .layer(middleware::from_fn_with_state(shared.clone(), same_origin))
        .with_state(shared)
}

/// Serves until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

fn refuse(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    (status, axum::Json(ErrorBody::new(code, message))).into_response()
}

async fn same_origin(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if !host.is_some_and(|h| s.hosts.iter().any(|a| a == h)) {
        return refuse(StatusCode::FORBIDDEN, ErrorCode::Forbidden, "unknown host");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let own = origin.to_str().ok().and_then(|o| o.strip_prefix("http://"));
        if !own.is_some_and(|o| s.hosts.iter().any(|a| a == o)) {
            return refuse(
                StatusCode::FORBIDDEN,
                ErrorCode::OriginNotAllowed,
                "only this bridge's own page may call it",
            );
        }
    }
    next.run(req).await
}

fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::OriginNotAllowed => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict | ErrorCode::LimitReached => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

async fn rpc(
    State(s): State<Arc<Shared>>,
    Path(command): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let args = if body.is_empty() {
        Value::Null
    } else if !json_body {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadRequest,
            "arguments are a JSON object (Content-Type: application/json)",
        );
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                let msg = format!("arguments are not JSON: {e}");
                return refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, &msg);
            }
        }
    };
    match rpc::dispatch(&s.session, &command, args).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(e) => (status_of(e.code), axum::Json(e)).into_response(),
    }
}

async fn events_socket(State(s): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| push_events(s, socket))
}

async fn push_events(s: Arc<Shared>, mut socket: WebSocket) {
    // Subscribe before reading the state: nothing between the two is missed.
    let mut rx = s.events.0.subscribe();
    if let Some(core) = s.session.core().await {
        let whole = StateUpdate::whole(&core.state());
        let first = json!({ "event": STATE_CHANGED, "payload": whole }).to_string();
        if socket.send(Message::Text(first.into())).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Ok(text) => {
                    if socket.send(Message::Text((*text).into())).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "an events socket fell behind; closing it");
                    let frame = CloseFrame { code: 1013, reason: "fell behind; reconnect".into() };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                // The page only listens; pings are answered by axum.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
