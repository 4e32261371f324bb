//! "Bad input" against a real service: a corpus of malformed HTTP requests and WebSocket frames.
//! Every error is `{code, message}` with a message that says what is wrong, the connection
//! survives where it can, and nothing stored is lost or corrupted.

mod common;

use chat_service::store::{AuthorRef, PastConversation, SqliteStore, Store};
use common::*;
use protocol::agent_ws::{AgentCommand, AgentServerFrame};
use protocol::visitor_ws::{VisitorCommand, VisitorServerFrame};
use protocol::*;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sim::agent::AgentClient;
use sim::visitor::VisitorClient;
use sim::{Error as SimError, new_client_id};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Sends a request and returns the status, the content type and the body.
async fn call(req: reqwest::RequestBuilder) -> (StatusCode, String, String) {
    let response = req.send().await.expect("request sent");
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.text().await.expect("body read");
    (status, content_type, body)
}

/// Asserts an error response: one of `statuses`, JSON `{code, message}` with `code` and a
/// message that mentions every word of `names` (the field at fault).
fn assert_error(
    what: &str,
    (status, content_type, body): &(StatusCode, String, String),
    statuses: &[StatusCode],
    code: ErrorCode,
    names: &[&str],
) -> ErrorBody {
    assert!(
        statuses.contains(status),
        "{what}: status {status}, expected one of {statuses:?} (body {body})"
    );
    assert!(
        content_type.starts_with("application/json"),
        "{what}: content type {content_type:?} (body {body})"
    );
    let err: ErrorBody = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{what}: body is not {{code, message}}: {e}: {body}"));
    assert_eq!(err.code, code, "{what}: code ({body})");
    assert!(!err.message.trim().is_empty(), "{what}: empty message");
    for name in names {
        assert!(
            err.message.contains(name),
            "{what}: the message should name {name:?}: {}",
            err.message
        );
    }
    err
}

const BAD: &[StatusCode] = &[StatusCode::BAD_REQUEST];

/// One bad frame for a socket and what the service must answer.
struct BadFrame {
    what: &'static str,
    text: String,
    code: ErrorCode,
    /// The command id the error must echo (`None`: the error carries no id).
    id: Option<&'static str>,
}

fn bad(
    what: &'static str,
    text: impl Into<String>,
    code: ErrorCode,
    id: Option<&'static str>,
) -> BadFrame {
    BadFrame {
        what,
        text: text.into(),
        code,
        id,
    }
}

/// Frames that are wrong on any socket.
fn common_bad_frames() -> Vec<BadFrame> {
    let big = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(70 * 1024));
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    vec![
        bad("not JSON", "hello there", ErrorCode::BadRequest, None),
        bad(
            "truncated JSON",
            r#"{"type":"ping""#,
            ErrorCode::BadRequest,
            None,
        ),
        bad("empty text", "", ErrorCode::BadRequest, None),
        bad("JSON array", "[1,2,3]", ErrorCode::BadRequest, None),
        bad("JSON null", "null", ErrorCode::BadRequest, None),
        bad("JSON string", r#""ping""#, ErrorCode::BadRequest, None),
        bad("JSON number", "42", ErrorCode::BadRequest, None),
        bad("deeply nested JSON", deep, ErrorCode::BadRequest, None),
        bad(
            "missing type",
            r#"{"nonce":1}"#,
            ErrorCode::BadRequest,
            None,
        ),
        bad(
            "missing type, with an id",
            r#"{"id":"m1","text":"hi"}"#,
            ErrorCode::BadRequest,
            Some("m1"),
        ),
        bad(
            "type not a string",
            r#"{"type":7}"#,
            ErrorCode::BadRequest,
            None,
        ),
        bad(
            "unknown type",
            r#"{"type":"launch_missiles"}"#,
            ErrorCode::UnknownType,
            None,
        ),
        bad(
            "unknown type, with an id",
            r#"{"type":"launch_missiles","id":"u1"}"#,
            ErrorCode::UnknownType,
            Some("u1"),
        ),
        bad(
            "type in the wrong case",
            r#"{"type":"PING"}"#,
            ErrorCode::UnknownType,
            None,
        ),
        bad("70 KiB text frame", big, ErrorCode::TooLarge, None),
        bad(
            "hello again",
            r#"{"type":"hello","protocol":1,"token":"t"}"#,
            ErrorCode::ProtocolViolation,
            None,
        ),
    ]
}

fn agent_bad_frames() -> Vec<BadFrame> {
    let long = "x".repeat(MAX_MESSAGE_CHARS + 1);
    let mut frames = common_bad_frames();
    frames.extend([
        bad(
            "the visitor's command type",
            r#"{"type":"start_chat","id":"a0","text":"hi"}"#,
            ErrorCode::UnknownType,
            Some("a0"),
        ),
        bad(
            "conversation_id a string",
            r#"{"type":"send_message","id":"a1","conversation_id":"seven","text":"hi"}"#,
            ErrorCode::InvalidField,
            Some("a1"),
        ),
        bad(
            "offer_id missing",
            r#"{"type":"accept","id":"a2"}"#,
            ErrorCode::InvalidField,
            Some("a2"),
        ),
        bad(
            "text missing",
            r#"{"type":"send_message","id":"a3","conversation_id":1}"#,
            ErrorCode::InvalidField,
            Some("a3"),
        ),
        bad(
            "empty text",
            r#"{"type":"send_message","id":"a4","conversation_id":1,"text":"   "}"#,
            ErrorCode::InvalidField,
            Some("a4"),
        ),
        bad(
            "text over the limit",
            json!({"type":"send_message","id":"a5","conversation_id":1,"text":long}).to_string(),
            ErrorCode::InvalidField,
            Some("a5"),
        ),
        bad(
            "unknown availability status",
            r#"{"type":"set_availability","id":"a6","status":"sleeping"}"#,
            ErrorCode::InvalidField,
            Some("a6"),
        ),
        bad(
            "typing not a bool",
            r#"{"type":"typing","conversation_id":1,"typing":"yes"}"#,
            ErrorCode::InvalidField,
            None,
        ),
        bad(
            "id missing",
            r#"{"type":"end_chat","conversation_id":1}"#,
            ErrorCode::InvalidField,
            None,
        ),
        bad(
            "id empty",
            r#"{"type":"end_chat","id":"","conversation_id":1}"#,
            ErrorCode::InvalidField,
            None,
        ),
        bad(
            "id a number",
            r#"{"type":"end_chat","id":5,"conversation_id":1}"#,
            ErrorCode::InvalidField,
            None,
        ),
        bad(
            "negative offer id",
            r#"{"type":"accept","id":"a7","offer_id":-1}"#,
            ErrorCode::NotFound,
            Some("a7"),
        ),
        bad(
            "offer id out of range",
            r#"{"type":"decline","id":"a8","offer_id":99999999999999999999}"#,
            ErrorCode::InvalidField,
            Some("a8"),
        ),
        bad(
            "nonce negative",
            r#"{"type":"ping","nonce":-5}"#,
            ErrorCode::InvalidField,
            None,
        ),
    ]);
    frames
}

fn visitor_bad_frames() -> Vec<BadFrame> {
    let long = "x".repeat(MAX_MESSAGE_CHARS + 1);
    let mut frames = common_bad_frames();
    frames.extend([
        bad(
            "the agent's command type",
            r#"{"type":"accept","id":"v0","offer_id":1}"#,
            ErrorCode::UnknownType,
            Some("v0"),
        ),
        bad(
            "text a number",
            r#"{"type":"send_message","id":"v1","text":42}"#,
            ErrorCode::InvalidField,
            Some("v1"),
        ),
        bad(
            "text missing",
            r#"{"type":"start_chat","id":"v2"}"#,
            ErrorCode::InvalidField,
            Some("v2"),
        ),
        bad(
            "empty text",
            r#"{"type":"send_message","id":"v3","text":""}"#,
            ErrorCode::InvalidField,
            Some("v3"),
        ),
        bad(
            "text over the limit",
            json!({"type":"send_message","id":"v4","text":long}).to_string(),
            ErrorCode::InvalidField,
            Some("v4"),
        ),
        bad(
            "typing not a bool",
            r#"{"type":"typing","typing":"yes"}"#,
            ErrorCode::InvalidField,
            None,
        ),
        bad(
            "id too long",
            json!({"type":"end_chat","id":"i".repeat(500)}).to_string(),
            ErrorCode::InvalidField,
            None,
        ),
    ]);
    frames
}

fn agent_error(frame: &AgentServerFrame) -> bool {
    matches!(frame, AgentServerFrame::Error { .. })
}

fn visitor_error(frame: &VisitorServerFrame) -> bool {
    matches!(frame, VisitorServerFrame::Error { .. })
}

fn check_error(what: &str, got: (Option<String>, ErrorBody), want: &BadFrame) {
    let (id, error) = got;
    assert_eq!(error.code, want.code, "{what} {:?}: {error}", want.what);
    assert!(
        !error.message.trim().is_empty(),
        "{what} {:?}: empty message",
        want.what
    );
    assert!(
        error.message.len() < 2_000,
        "{what} {:?}: the message should not echo the whole frame ({} bytes)",
        want.what,
        error.message.len()
    );
    assert_eq!(id.as_deref(), want.id, "{what} {:?}: echoed id", want.what);
}

/// A live chat between agent 0 and a visitor, with one message each way.
async fn live_chat(
    svc: &TestService,
) -> (sim::ApiClient, AgentClient, VisitorClient, ConversationId) {
    let (api, mut agent) = svc.agent(0).await;
    let mut visitor = svc.visitor("Bobby Tables").await;
    visitor.start_chat("first words").await.expect("start");
    let offer = next_offer(&mut agent).await;
    agent.accept(offer.id).await.expect("accept");
    visitor.expect_agent_joined(WAIT).await.expect("joined");
    agent
        .send_text(offer.conversation_id, "agent words")
        .await
        .expect("agent writes");
    visitor.expect_agent_message(WAIT).await.expect("received");
    (api, agent, visitor, offer.conversation_id)
}

async fn message_rows(db: &sqlx::SqlitePool) -> Vec<(i64, i64, String, String)> {
    sqlx::query_as(
        "SELECT id, conversation_id, author_role, content_json FROM messages ORDER BY id",
    )
    .fetch_all(db)
    .await
    .expect("messages")
}

#[tokio::test]
async fn agent_socket_survives_every_bad_frame() {
    let mut svc = TestService::start(1).await;
    let (api, mut agent, mut visitor, conv) = live_chat(&svc).await;
    let db = svc.db().await;
    let before = message_rows(&db).await;

    for (n, frame) in agent_bad_frames().into_iter().enumerate() {
        agent
            .send_raw_text(frame.text.clone())
            .await
            .expect("bad frame sent");
        let got = agent
            .expect_frame(WAIT, agent_error)
            .await
            .unwrap_or_else(|e| panic!("agent {:?}: no error frame: {e}", frame.what));
        let AgentServerFrame::Error { id, error } = got else {
            unreachable!()
        };
        check_error("agent", (id, error), &frame);
        // The same connection still works: a ping round trip, then a real command.
        agent
            .ping(n as u64, WAIT)
            .await
            .unwrap_or_else(|e| panic!("agent after {:?}: no pong: {e}", frame.what));
        agent
            .mark_read(conv, MessageId(1))
            .await
            .unwrap_or_else(|e| panic!("agent after {:?}: command failed: {e}", frame.what));
    }

    // A binary frame is refused, the connection kept.
    agent
        .send_raw_binary(br#"{"type":"ping","nonce":1}"#.to_vec())
        .await
        .expect("binary sent");
    let got = agent.expect_frame(WAIT, agent_error).await.expect("error");
    assert!(
        matches!(&got, AgentServerFrame::Error { id: None, error } if error.code == ErrorCode::BadRequest && !error.message.is_empty()),
        "{got:?}"
    );
    agent.ping(99, WAIT).await.expect("pong after binary");

    // The chat and its data are intact; the agent can still write, the visitor still hears.
    let sent = agent.send_text(conv, "still here").await.expect("send");
    let got = visitor.expect_agent_message(WAIT).await.expect("visitor");
    assert_eq!(got.id, sent.id);
    let after = message_rows(&db).await;
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "stored messages changed"
    );
    assert_eq!(after.len(), before.len() + 1, "exactly one new message");
    let page = api.messages(conv, None, None).await.expect("messages");
    assert_eq!(page.items.len(), after.len());
    assert_eq!(api.health().await.expect("healthz").status, "ok");
    svc.stop().await;
}

#[tokio::test]
async fn visitor_socket_survives_every_bad_frame() {
    let mut svc = TestService::start(1).await;
    let (api, _agent, mut visitor, conv) = live_chat(&svc).await;
    let db = svc.db().await;
    let before = message_rows(&db).await;

    for frame in visitor_bad_frames() {
        visitor
            .send_raw_text(frame.text.clone())
            .await
            .expect("bad frame sent");
        let got = visitor
            .expect(WAIT, visitor_error)
            .await
            .unwrap_or_else(|e| panic!("visitor {:?}: no error frame: {e}", frame.what));
        let VisitorServerFrame::Error { id, error } = got else {
            unreachable!()
        };
        check_error("visitor", (id, error), &frame);
        visitor
            .ping(WAIT)
            .await
            .unwrap_or_else(|e| panic!("visitor after {:?}: no pong: {e}", frame.what));
        // A real command that changes nothing: typing is unacknowledged, so use a ping
        // again after it, then check the socket is still the visitor's.
        visitor.typing(false).await.expect("typing");
        visitor.ping(WAIT).await.expect("pong");
    }
    visitor
        .send_raw_binary(vec![0xff, 0x00, 0x13])
        .await
        .expect("binary sent");
    let got = visitor.expect(WAIT, visitor_error).await.expect("error");
    assert!(
        matches!(&got, VisitorServerFrame::Error { id: None, error } if error.code == ErrorCode::BadRequest),
        "{got:?}"
    );
    visitor.ping(WAIT).await.expect("pong after binary");

    let sent = visitor.send_text("after all that").await.expect("send");
    assert_eq!(sent.conversation_id, conv);
    let after = message_rows(&db).await;
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "stored messages changed"
    );
    assert_eq!(after.len(), before.len() + 1, "exactly one new message");
    assert_eq!(
        api.messages(conv, None, None)
            .await
            .expect("read")
            .items
            .len(),
        after.len()
    );
    svc.stop().await;
}

fn assert_closed(next: sim::Result<WsMessage>, what: &str) {
    match next {
        Ok(WsMessage::Close(_)) | Err(SimError::Closed { .. } | SimError::WebSocket(_)) => {}
        other => panic!("{what}: expected the socket to close, got {other:?}"),
    }
}

#[tokio::test]
async fn agent_socket_handshake_errors() {
    let mut svc = TestService::start(1).await;
    // No Authorization header: the upgrade is refused.
    match AgentClient::connect_raw(&svc.url, None).await {
        Err(e) => {
            assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED), "{e}");
            assert_eq!(e.code(), Some(ErrorCode::Unauthorized), "{e}");
        }
        Ok(_) => panic!("agent socket opened without a token"),
    }
    let api = svc.login(0).await;
    let token = api.token().expect("token").to_owned();

    let cases: Vec<(&str, String, ErrorCode)> = vec![
        (
            "ping first",
            json!({"type":"ping","nonce":1}).to_string(),
            ErrorCode::ProtocolViolation,
        ),
        (
            "a command first",
            json!({"type":"set_availability","id":"x","status":null}).to_string(),
            ErrorCode::ProtocolViolation,
        ),
        ("garbage first", "{{{".to_owned(), ErrorCode::BadRequest),
        (
            "hello without protocol",
            json!({"type":"hello"}).to_string(),
            ErrorCode::InvalidField,
        ),
        (
            "hello with protocol 99",
            json!({"type":"hello","protocol":99}).to_string(),
            ErrorCode::UnsupportedVersion,
        ),
        (
            "hello with protocol 0",
            json!({"type":"hello","protocol":0}).to_string(),
            ErrorCode::UnsupportedVersion,
        ),
    ];
    for (what, first, code) in cases {
        let mut client = AgentClient::connect_raw(&svc.url, Some(&token))
            .await
            .expect("upgrade");
        client.send_raw_text(first).await.expect("first frame");
        let frame = client
            .next_frame(WAIT)
            .await
            .unwrap_or_else(|e| panic!("{what}: no error frame: {e}"));
        match frame {
            AgentServerFrame::Error { error, .. } => {
                assert_eq!(error.code, code, "{what}: {error}");
                assert!(!error.message.is_empty());
            }
            other => panic!("{what}: expected an error, got {other:?}"),
        }
        assert_closed(client.next_raw(WAIT).await, what);
    }
    // A binary first frame is refused with a close too.
    let mut client = AgentClient::connect_raw(&svc.url, Some(&token))
        .await
        .expect("upgrade");
    client
        .send_raw_binary(b"\x00\x01".to_vec())
        .await
        .expect("binary");
    let mut closed = false;
    for _ in 0..3 {
        match client.next_raw(WAIT).await {
            Ok(WsMessage::Text(t)) => {
                let frame: AgentServerFrame = serde_json::from_str(&t).expect("a frame");
                assert!(matches!(frame, AgentServerFrame::Error { .. }), "{frame:?}");
            }
            other => {
                assert_closed(other, "binary first");
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "binary first frame: the socket stayed open");

    // The service is fine and a proper hello still works.
    let (mut agent, ready) = AgentClient::connect(&svc.url, &token, None)
        .await
        .expect("proper hello");
    assert!(matches!(ready, AgentServerFrame::Ready(_)));
    agent.ping(1, WAIT).await.expect("pong");
    svc.stop().await;
}

#[tokio::test]
async fn visitor_socket_handshake_errors() {
    let mut svc = TestService::start(1).await;
    for origin in [
        Some("https://evil.example"),
        Some("null"),
        Some("http://127.0.0.1:1"),
        None,
    ] {
        match VisitorClient::connect_raw(&svc.url, origin).await {
            Err(e) => {
                assert_eq!(e.status(), Some(StatusCode::FORBIDDEN), "{origin:?}: {e}");
                assert_eq!(
                    e.code(),
                    Some(ErrorCode::OriginNotAllowed),
                    "{origin:?}: {e}"
                );
            }
            Ok(_) => panic!("visitor socket opened with Origin {origin:?}"),
        }
    }
    let session = svc
        .api()
        .visitor_session(Some("Vic"), None)
        .await
        .expect("session");
    let cases: Vec<(&str, String, ErrorCode)> = vec![
        (
            "ping first",
            json!({"type":"ping"}).to_string(),
            ErrorCode::ProtocolViolation,
        ),
        (
            "start_chat first",
            json!({"type":"start_chat","id":"s","text":"hi"}).to_string(),
            ErrorCode::ProtocolViolation,
        ),
        ("garbage first", "]]".to_owned(), ErrorCode::BadRequest),
        (
            "hello without token",
            json!({"type":"hello","protocol":1}).to_string(),
            ErrorCode::InvalidField,
        ),
        (
            "hello with protocol 99",
            json!({"type":"hello","protocol":99,"token":session.token}).to_string(),
            ErrorCode::UnsupportedVersion,
        ),
        (
            "hello with a wrong token",
            json!({"type":"hello","protocol":1,"token":"nope"}).to_string(),
            ErrorCode::Unauthorized,
        ),
    ];
    for (what, first, code) in cases {
        let mut client = VisitorClient::connect_raw(&svc.url, Some(&svc.url))
            .await
            .expect("upgrade");
        client.send_raw_text(first).await.expect("first frame");
        match client.next_frame(WAIT).await {
            Ok(VisitorServerFrame::Error { error, .. }) => {
                assert_eq!(error.code, code, "{what}: {error}");
                assert!(!error.message.is_empty());
            }
            other => panic!("{what}: expected an error, got {other:?}"),
        }
        assert_closed(client.next_raw(WAIT).await, what);
    }
    // The session is unharmed.
    let mut visitor = VisitorClient::connect(&svc.url, session)
        .await
        .expect("proper hello");
    visitor.ping(WAIT).await.expect("pong");
    svc.stop().await;
}

#[tokio::test]
async fn a_flooding_visitor_is_rate_limited_and_every_acked_message_is_stored_once() {
    let mut svc = TestService::start_with(1, |c| c.visitor_messages_per_10s = 5).await;
    let (_api, mut agent, mut visitor, conv) = live_chat(&svc).await;
    // live_chat used one of the five (start_chat).
    let mut ids = Vec::new();
    for i in 0..20 {
        let id = new_client_id();
        visitor
            .send(&VisitorCommand::SendMessage {
                id: id.clone(),
                text: format!("flood {i}"),
            })
            .await
            .expect("sent");
        ids.push(id);
    }
    let mut acked = Vec::new();
    let mut limited = 0;
    for id in &ids {
        match visitor.wait_for_answer(id, WAIT).await {
            Ok(Some(message)) => acked.push(message),
            Ok(None) => panic!("send_message ack without the message"),
            Err(SimError::Rejected { error, .. }) => {
                assert_eq!(error.code, ErrorCode::RateLimited, "{error}");
                assert!(!error.message.is_empty());
                limited += 1;
            }
            Err(e) => panic!("no answer for {id}: {e}"),
        }
    }
    assert_eq!(acked.len() + limited, ids.len(), "one answer per command");
    assert!(limited > 0, "20 messages at once were not rate limited");
    assert!(
        (4..=6).contains(&acked.len()),
        "expected about 4 messages through, got {}",
        acked.len()
    );
    // Every acked message is stored exactly once, and nothing else was.
    let db = svc.db().await;
    let stored: Vec<(i64, Option<String>)> = sqlx::query_as(
        "SELECT id, client_id FROM messages WHERE conversation_id = ?1 AND author_role = 'visitor' ORDER BY id",
    )
    .bind(conv.0)
    .fetch_all(&db)
    .await
    .expect("rows");
    assert_eq!(stored.len(), 1 + acked.len(), "{stored:?}");
    for message in &acked {
        let n = stored.iter().filter(|(id, _)| *id == message.id.0).count();
        assert_eq!(n, 1, "message {} stored {n} times", message.id);
        assert!(
            stored
                .iter()
                .any(|(_, c)| c.as_deref() == message.client_id.as_deref()),
            "client id of {} not stored",
            message.id
        );
    }
    // The agent received exactly the acked messages.
    for message in &acked {
        agent
            .expect_frame(WAIT, |f| {
                matches!(f, AgentServerFrame::Event { event: protocol::agent_ws::AgentEvent::Message { message: m }, .. } if m.id == message.id)
            })
            .await
            .expect("agent receives an acked message");
    }
    assert_nothing_pending(&mut agent, "agent", |f| {
        matches!(f, AgentServerFrame::Event { event: protocol::agent_ws::AgentEvent::Message { message }, .. } if matches!(message.author, Author::Visitor))
    })
    .await;
    // The socket stays open and non-counted commands still work.
    visitor.ping(WAIT).await.expect("still open");
    svc.stop().await;
}

#[tokio::test]
async fn http_bodies_that_are_wrong() {
    let mut svc = TestService::start(1).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", svc.url);
    let login = url("/api/v1/auth/login");
    let email = svc.agents[0].email.clone();

    let r = call(
        http.post(&login)
            .header(CONTENT_TYPE, "application/json")
            .body(r#"{"email": "#),
    )
    .await;
    assert_error("malformed JSON", &r, BAD, ErrorCode::BadRequest, &[]);
    let r = call(
        http.post(&login)
            .header(CONTENT_TYPE, "application/json")
            .body(""),
    )
    .await;
    assert_error("empty body", &r, BAD, ErrorCode::BadRequest, &[]);
    let r = call(
        http.post(&login)
            .header(CONTENT_TYPE, "text/plain")
            .body(json!({"email": email, "password": PASSWORD}).to_string()),
    )
    .await;
    assert_error(
        "wrong content type",
        &r,
        &[StatusCode::BAD_REQUEST, StatusCode::UNSUPPORTED_MEDIA_TYPE],
        ErrorCode::BadRequest,
        &["Content-Type"],
    );
    let r = call(
        http.post(&login)
            .body(json!({"email": email, "password": PASSWORD}).to_string()),
    )
    .await;
    assert_error(
        "no content type",
        &r,
        &[StatusCode::BAD_REQUEST, StatusCode::UNSUPPORTED_MEDIA_TYPE],
        ErrorCode::BadRequest,
        &[],
    );
    let r = call(http.post(&login).json(&json!({"email": email}))).await;
    assert_error(
        "missing password",
        &r,
        BAD,
        ErrorCode::InvalidField,
        &["password"],
    );
    let r = call(
        http.post(&login)
            .json(&json!({"email": 5, "password": PASSWORD})),
    )
    .await;
    assert_error(
        "email a number",
        &r,
        BAD,
        ErrorCode::InvalidField,
        &["email"],
    );
    let r = call(http.post(&login).json(&json!("just a string"))).await;
    assert_error(
        "string instead of object",
        &r,
        BAD,
        ErrorCode::InvalidField,
        &[],
    );
    let r = call(
        http.post(&login)
            .json(&json!({"email": email, "password": ""})),
    )
    .await;
    assert_error(
        "empty password",
        &r,
        BAD,
        ErrorCode::InvalidField,
        &["password"],
    );
    let r = call(
        http.post(&login)
            .json(&json!({"email": email, "password": "x".repeat(70 * 1024)})),
    )
    .await;
    assert_error(
        "body over 64 KiB",
        &r,
        &[StatusCode::PAYLOAD_TOO_LARGE],
        ErrorCode::TooLarge,
        &[],
    );
    let r = call(
        http.post(&login)
            .json(&json!({"email": email, "password": "wrong"})),
    )
    .await;
    assert_error(
        "wrong password",
        &r,
        &[StatusCode::UNAUTHORIZED],
        ErrorCode::Unauthorized,
        &[],
    );
    let r = call(
        http.post(&login)
            .json(&json!({"email": "nobody@test.example", "password": PASSWORD})),
    )
    .await;
    let unknown = assert_error(
        "unknown email",
        &r,
        &[StatusCode::UNAUTHORIZED],
        ErrorCode::Unauthorized,
        &[],
    );
    let r = call(
        http.post(&login)
            .json(&json!({"email": email, "password": "wrong"})),
    )
    .await;
    let wrong: ErrorBody = serde_json::from_str(&r.2).expect("body");
    assert_eq!(
        wrong.message, unknown.message,
        "the message must not tell which emails exist"
    );

    // Settings: each invalid value is refused with invalid_field naming the field, and the
    // stored settings stay as they were.
    let api = svc.login(0).await;
    let original = api.settings().await.expect("settings");
    let block = |day: Weekday, start: &str, end: &str| TimeBlock {
        day,
        start: start.into(),
        end: end.into(),
    };
    let mut cases: Vec<(&str, AgentSettings, &str)> = Vec::new();
    let mut s = original.clone();
    s.schedule = vec![
        block(Weekday::Mon, "09:00", "12:00"),
        block(Weekday::Mon, "11:00", "13:00"),
    ];
    cases.push(("overlapping schedule blocks", s, "schedule"));
    let mut s = original.clone();
    s.calendar.working_hours = vec![
        block(Weekday::Tue, "08:00", "17:00"),
        block(Weekday::Tue, "16:59", "18:00"),
    ];
    cases.push(("overlapping working hours", s, "working_hours"));
    let mut s = original.clone();
    s.schedule = vec![block(Weekday::Wed, "12:00", "09:00")];
    cases.push(("block ending before it starts", s, "schedule"));
    let mut s = original.clone();
    s.schedule = vec![block(Weekday::Wed, "25:00", "26:00")];
    cases.push(("hour 25", s, "schedule"));
    let mut s = original.clone();
    s.schedule = vec![block(Weekday::Wed, "9am", "5pm")];
    cases.push(("not HH:MM", s, "schedule"));
    let mut s = original.clone();
    s.time_zone = "Mars/Olympus_Mons".into();
    cases.push(("unknown time zone", s, "time_zone"));
    let mut s = original.clone();
    s.time_zone = String::new();
    cases.push(("empty time zone", s, "time_zone"));
    let mut s = original.clone();
    s.calendar.meeting_minutes = -30;
    cases.push(("negative meeting length", s, "meeting_minutes"));
    let mut s = original.clone();
    s.calendar.meeting_minutes = 0;
    cases.push(("zero meeting length", s, "meeting_minutes"));
    let mut s = original.clone();
    s.calendar.buffer_minutes = -5;
    cases.push(("negative buffer", s, "buffer_minutes"));
    let mut s = original.clone();
    s.calendar.buffer_minutes = 100_000;
    cases.push(("huge buffer", s, "buffer_minutes"));
    for (what, settings, field) in cases {
        let r = call(
            api.request(Method::PUT, "/api/v1/me/settings")
                .expect("request")
                .json(&settings),
        )
        .await;
        assert_error(what, &r, BAD, ErrorCode::InvalidField, &[field]);
    }
    let raw_cases = [
        (
            "unknown weekday",
            json!({"time_zone":"UTC","schedule":[{"day":"funday","start":"09:00","end":"10:00"}],
                   "calendar":{"working_hours":[],"meeting_minutes":30,"buffer_minutes":0}}),
            "day",
        ),
        (
            "meeting length a string",
            json!({"time_zone":"UTC","schedule":[],
                   "calendar":{"working_hours":[],"meeting_minutes":"thirty","buffer_minutes":0}}),
            "meeting_minutes",
        ),
        (
            "calendar missing",
            json!({"time_zone":"UTC","schedule":[]}),
            "calendar",
        ),
    ];
    for (what, body, field) in raw_cases {
        let r = call(
            api.request(Method::PUT, "/api/v1/me/settings")
                .expect("request")
                .json(&body),
        )
        .await;
        assert_error(what, &r, BAD, ErrorCode::InvalidField, &[field]);
    }
    assert_eq!(
        api.settings().await.expect("settings"),
        original,
        "refused settings changed what is stored"
    );
    let r = call(
        api.request(Method::PUT, "/api/v1/me/availability")
            .expect("request")
            .json(&json!({"status": "asleep"})),
    )
    .await;
    assert_error(
        "unknown availability",
        &r,
        BAD,
        ErrorCode::InvalidField,
        &[],
    );

    // Visitor sessions.
    let sessions = url("/api/v1/visitor/sessions");
    let origin = svc.url.clone();
    let session =
        |body: serde_json::Value| http.post(&sessions).header(ORIGIN, &origin).json(&body);
    for (what, body, field) in [
        (
            "email without @",
            json!({"name":"Ann","email":"not-an-email"}),
            "email",
        ),
        ("email only @", json!({"email":"@"}), "email"),
        ("email a number", json!({"email": 12}), "email"),
        ("overlong name", json!({"name": "n".repeat(101)}), "name"),
        (
            "name with control characters",
            json!({"name": "Ann\u{0007}"}),
            "name",
        ),
        (
            "overlong email",
            json!({"email": format!("{}@example.com", "e".repeat(300))}),
            "email",
        ),
    ] {
        let r = call(session(body)).await;
        assert_error(what, &r, BAD, ErrorCode::InvalidField, &[field]);
    }
    for (what, origin) in [
        ("foreign Origin", Some("https://evil.example")),
        ("Origin null", Some("null")),
        ("no Origin", None),
    ] {
        let mut req = http.post(&sessions).json(&json!({"name":"Eve"}));
        if let Some(o) = origin {
            req = req.header(ORIGIN, o);
        }
        let r = call(req).await;
        assert_error(
            what,
            &r,
            &[StatusCode::FORBIDDEN],
            ErrorCode::OriginNotAllowed,
            &[],
        );
    }
    let db = svc.db().await;
    let visitors: i64 = sqlx::query_scalar("SELECT count(*) FROM visitors")
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(visitors, 0, "refused sessions created visitors");
    // A good session still works.
    svc.api()
        .visitor_session(Some("Ann"), Some("ann@example.com"))
        .await
        .expect("good session");
    svc.stop().await;
}

#[tokio::test]
async fn http_paths_and_queries_that_are_wrong() {
    let mut svc = TestService::start(1).await;
    let api = svc.login(0).await;
    let get = |path: &str| api.request(Method::GET, path).expect("request");

    for path in [
        "/api/v1/nope",
        "/api/v1/conversations/1/nope",
        "/api/v2/conversations",
        "/nope",
        "/api/v1/agent/../../etc/passwd",
    ] {
        let r = call(get(path)).await;
        assert_error(
            &format!("GET {path}"),
            &r,
            &[StatusCode::NOT_FOUND],
            ErrorCode::NotFound,
            &[],
        );
    }
    // A known path with the wrong method is a JSON error too.
    let r = call(api.request(Method::DELETE, "/api/v1/me").expect("request")).await;
    let (status, _, body) = &r;
    assert!(
        status.is_client_error(),
        "DELETE /api/v1/me: {status} {body}"
    );
    let err: ErrorBody = serde_json::from_str(body).expect("JSON error for a wrong method");
    assert!(!err.message.is_empty());

    for id in [
        "abc",
        "-1",
        "0",
        "1.5",
        "99999999999999999999999",
        "1e3",
        "%20",
    ] {
        for suffix in ["", "/messages", "/transcript", "/visitor", "/activities"] {
            let path = format!("/api/v1/conversations/{id}{suffix}");
            let r = call(get(&path)).await;
            assert_error(
                &format!("GET {path}"),
                &r,
                BAD,
                ErrorCode::InvalidField,
                &[],
            );
        }
    }
    let r = call(get("/api/v1/calendars/abc/slots")).await;
    assert_error("calendar id abc", &r, BAD, ErrorCode::InvalidField, &[]);
    for path in [
        "/api/v1/conversations/999999",
        "/api/v1/conversations/999999/messages",
    ] {
        let r = call(get(path)).await;
        assert_error(path, &r, &[StatusCode::NOT_FOUND], ErrorCode::NotFound, &[]);
    }
    let r = call(get("/api/v1/calendars/999999/slots")).await;
    assert_error(
        "slots of no agent",
        &r,
        &[StatusCode::NOT_FOUND],
        ErrorCode::NotFound,
        &[],
    );

    for (query, names) in [
        ("scope=bogus", &["scope"][..]),
        ("scope=", &["scope"][..]),
        ("limit=0", &["limit"][..]),
        ("limit=100000", &["limit"][..]),
        ("limit=-1", &["limit"][..]),
        ("limit=ten", &["limit"][..]),
        ("cursor=garbage", &["cursor"][..]),
        ("cursor=1:2:3", &["cursor"][..]),
        ("cursor=:", &["cursor"][..]),
    ] {
        let path = format!("/api/v1/conversations?{query}");
        let r = call(get(&path)).await;
        assert_error(&path, &r, BAD, ErrorCode::InvalidField, names);
    }
    let long_q = format!("/api/v1/conversations?scope=all&q={}", "q".repeat(300));
    let r = call(get(&long_q)).await;
    assert_error("overlong q", &r, BAD, ErrorCode::InvalidField, &["q"]);
    // Odd but valid searches are not errors (LIKE wildcards are literal).
    for q in [
        "%25",
        "_",
        "%5C",
        "'%3B DROP TABLE messages;--",
        "%F0%9F%92%A9",
    ] {
        let path = format!("/api/v1/conversations?scope=all&q={q}");
        let (status, _, body) = call(get(&path)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    for (query, name) in [
        ("days=0", "days"),
        ("days=100000", "days"),
        ("from=yesterday", "from"),
    ] {
        let path = format!("/api/v1/calendars/{}/slots?{query}", svc.agents[0].id);
        let r = call(get(&path)).await;
        assert_error(&path, &r, BAD, ErrorCode::InvalidField, &[name]);
    }

    // Authorization headers that are not bearer tokens.
    let http = reqwest::Client::new();
    for header in ["", "Bearer", "Bearer a b c", "Basic Zm9vOmJhcg=="] {
        let r = call(
            http.get(format!("{}/api/v1/me", svc.url))
                .header(AUTHORIZATION, header),
        )
        .await;
        assert_error(
            &format!("Authorization {header:?}"),
            &r,
            &[StatusCode::UNAUTHORIZED],
            ErrorCode::Unauthorized,
            &[],
        );
    }
    let health = svc.api().health().await.expect("healthz");
    assert_eq!(health.status, "ok");
    svc.stop().await;
}

#[tokio::test]
async fn a_frame_over_the_transport_limit_does_not_hurt_the_service() {
    let mut svc = TestService::start(1).await;
    let (api, _agent, mut visitor, conv) = live_chat(&svc).await;
    let db = svc.db().await;
    let before = message_rows(&db).await;
    let token = api.token().expect("token").to_owned();
    let mut raw = AgentClient::connect_raw(&svc.url, Some(&token))
        .await
        .expect("upgrade");
    raw.send(&AgentCommand::Hello {
        protocol: PROTOCOL_VERSION,
        resume: None,
    })
    .await
    .expect("hello");
    let ready = raw.next_frame(WAIT).await.expect("ready");
    assert!(matches!(ready, AgentServerFrame::Ready(_)));
    let huge = format!(
        r#"{{"type":"ping","pad":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    // The send itself may fail if the service drops the connection early.
    let _ = raw.send_raw_text(huge).await;
    // Either a too_large error or a closed connection; never a crash.
    let mut outcome = None;
    for _ in 0..5 {
        match raw.next_raw(WAIT).await {
            Ok(WsMessage::Text(t)) => {
                if let Ok(AgentServerFrame::Error { error, .. }) = serde_json::from_str(&t) {
                    assert_eq!(error.code, ErrorCode::TooLarge, "{error}");
                    outcome = Some("error");
                    break;
                }
            }
            Ok(WsMessage::Ping(_) | WsMessage::Pong(_)) => {}
            Ok(WsMessage::Close(_)) | Err(_) => {
                outcome = Some("closed");
                break;
            }
            Ok(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(outcome.is_some(), "no answer to a 2 MiB frame");
    // The other sockets and the data are fine.
    visitor.ping(WAIT).await.expect("visitor still connected");
    visitor
        .send_text("still fine")
        .await
        .expect("visitor writes");
    let after = message_rows(&db).await;
    assert_eq!(&after[..before.len()], &before[..]);
    assert_eq!(api.health().await.expect("healthz").status, "ok");
    assert_eq!(
        api.messages(conv, None, None)
            .await
            .expect("read")
            .items
            .len(),
        after.len()
    );
    svc.stop().await;
}

#[tokio::test]
async fn mark_read_refuses_a_message_of_another_conversation() {
    let mut svc = TestService::start(1).await;
    let (api, mut agent, mut visitor, conv) = live_chat(&svc).await;
    let db = svc.db().await;
    let foreign: i64 = {
        // A message in a different (ended) conversation.
        let store = SqliteStore::open(&svc.config.db, false, svc.config.max_live_chats)
            .await
            .expect("store");
        let other = store
            .create_visitor(VisitorInfo::default(), chrono::Utc::now())
            .await
            .expect("visitor");
        let now = chrono::Utc::now();
        let other_conv = store
            .import_conversation(PastConversation {
                visitor_id: other,
                agent_id: Some(svc.agents[0].id),
                status: ConversationStatus::Ended,
                created_at: now,
                ended_at: now,
                end_reason: Some(EndReason::Agent),
                messages: vec![(AuthorRef::Visitor, "elsewhere".into(), now)],
            })
            .await
            .expect("import");
        store.close().await;
        sqlx::query_scalar("SELECT max(id) FROM messages WHERE conversation_id = ?1")
            .bind(other_conv.0)
            .fetch_one(&db)
            .await
            .expect("id")
    };
    for (what, message_id) in [
        ("a message of another conversation", MessageId(foreign)),
        ("a message that does not exist", MessageId(i64::MAX)),
        ("a negative id", MessageId(-5)),
    ] {
        match agent.mark_read(conv, message_id).await {
            Err(SimError::Rejected { error, .. }) => assert!(
                matches!(error.code, ErrorCode::InvalidField | ErrorCode::NotFound),
                "{what}: {error}"
            ),
            other => panic!("mark_read with {what}: expected an error, got {other:?}"),
        }
    }
    // The read marker did not jump ahead: a new visitor message is unread.
    visitor.send_text("are you there?").await.expect("send");
    let summary = api.conversation(conv).await.expect("summary");
    assert!(
        summary.unread >= 1,
        "new visitor message counted as read: {summary:?}"
    );
    svc.stop().await;
}
