//! R4 authorization against a real service: another agent's live chat is invisible and
//! untouchable through every REST endpoint and every socket command; ended chats are readable
//! by everyone; tokens only open their own side; missing, wrong, revoked and expired tokens are
//! refused.

mod common;

use common::*;
use protocol::agent_ws::{AgentCommand, AgentEvent, AgentServerFrame};
use protocol::rest::{BookingRequest, ConversationScope};
use protocol::visitor_ws::VisitorServerFrame;
use protocol::*;
use reqwest::{Method, StatusCode};
use sim::agent::AgentClient;
use sim::http::ApiClient;
use sim::visitor::VisitorClient;
use sim::{Error as SimError, new_client_id};

const VISITOR_NAME: &str = "Priya Private";

/// Every REST path that takes a conversation id.
fn conversation_paths(id: ConversationId) -> Vec<String> {
    vec![
        format!("/api/v1/conversations/{id}"),
        format!("/api/v1/conversations/{id}/messages"),
        format!("/api/v1/conversations/{id}/transcript"),
        format!("/api/v1/conversations/{id}/visitor"),
        format!("/api/v1/conversations/{id}/activities"),
    ]
}

/// Sends a request and returns the status and the body as text.
async fn call(req: reqwest::RequestBuilder) -> (StatusCode, String) {
    let response = req.send().await.expect("request sent");
    let status = response.status();
    let body = response.text().await.expect("body read");
    (status, body)
}

/// Asserts an error response: the status, and a `{code, message}` body with a message.
fn assert_error(
    what: &str,
    (status, body): &(StatusCode, String),
    want: StatusCode,
    code: ErrorCode,
) {
    assert_eq!(*status, want, "{what}: status (body {body})");
    let err: ErrorBody = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{what}: body is not {{code, message}}: {e}: {body}"));
    assert_eq!(err.code, code, "{what}: code ({body})");
    assert!(!err.message.trim().is_empty(), "{what}: empty message");
}

/// Asserts a refused command on a socket: `Rejected` with `code`.
fn assert_rejected<T: std::fmt::Debug>(what: &str, result: sim::Result<T>, code: ErrorCode) {
    match result {
        Err(SimError::Rejected { error, .. }) => {
            assert_eq!(error.code, code, "{what}: {error}");
            assert!(!error.message.trim().is_empty(), "{what}: empty message");
        }
        other => panic!("{what}: expected an error frame with {code:?}, got {other:?}"),
    }
}

/// Whether a frame says anything about conversation `id`.
fn mentions(frame: &AgentServerFrame, id: ConversationId) -> bool {
    match frame {
        AgentServerFrame::Event { event, .. } => match event {
            AgentEvent::Offer { offer } => offer.conversation_id == id,
            AgentEvent::OfferWithdrawn {
                conversation_id, ..
            }
            | AgentEvent::ConversationEnded {
                conversation_id, ..
            }
            | AgentEvent::Read {
                conversation_id, ..
            } => *conversation_id == id,
            AgentEvent::ConversationStarted { conversation } => conversation.summary.id == id,
            AgentEvent::Message { message } => message.conversation_id == id,
            AgentEvent::MessageLeft { conversation } => conversation.id == id,
            AgentEvent::Availability { .. } => false,
        },
        AgentServerFrame::Typing {
            conversation_id, ..
        } => *conversation_id == id,
        AgentServerFrame::Ready(snapshot) => {
            snapshot.conversations.iter().any(|c| c.summary.id == id)
                || snapshot
                    .offer
                    .as_ref()
                    .is_some_and(|o| o.conversation_id == id)
        }
        AgentServerFrame::Ack { message, .. } => {
            message.as_ref().is_some_and(|m| m.conversation_id == id)
        }
        AgentServerFrame::Resumed { .. }
        | AgentServerFrame::Error { .. }
        | AgentServerFrame::Pong { .. } => false,
    }
}

async fn count(db: &sqlx::SqlitePool, sql: &str, id: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(db)
        .await
        .expect("count query")
}

async fn message_count(db: &sqlx::SqlitePool, id: ConversationId) -> i64 {
    count(
        db,
        "SELECT count(*) FROM messages WHERE conversation_id = ?1",
        id.0,
    )
    .await
}

/// Agent 0 (A) is on duty and has a live chat with a visitor; agent 1 (B) is connected but off
/// duty, so the chat can only go to A.
struct Fixture {
    svc: TestService,
    api_a: ApiClient,
    a: AgentClient,
    api_b: ApiClient,
    b: AgentClient,
    visitor: VisitorClient,
    conv: ConversationId,
}

async fn live_chat_of_a() -> Fixture {
    let svc =
        TestService::start_with_settings(vec![always_available(), never_scheduled()], |_| {}).await;
    let (api_a, mut a) = svc.agent(0).await;
    let (api_b, b) = svc.agent(1).await;
    let mut visitor = svc.visitor(VISITOR_NAME).await;
    visitor
        .start_chat("a private question")
        .await
        .expect("start chat");
    let offer = next_offer(&mut a).await;
    a.accept(offer.id).await.expect("A accepts");
    visitor
        .expect_agent_joined(WAIT)
        .await
        .expect("visitor told A joined");
    a.send_text(offer.conversation_id, "Hello from A")
        .await
        .expect("A writes");
    visitor
        .expect_agent_message(WAIT)
        .await
        .expect("visitor receives");
    // Start the tests with the visitor's queue empty.
    visitor.ping(WAIT).await.expect("visitor pong");
    while visitor.buffered().next().is_some() {
        visitor.next_frame(WAIT).await.expect("buffered frame");
    }
    Fixture {
        svc,
        api_a,
        a,
        api_b,
        b,
        visitor,
        conv: offer.conversation_id,
    }
}

#[tokio::test]
async fn another_agents_live_chat_is_forbidden_on_every_rest_endpoint() {
    let mut f = live_chat_of_a().await;
    for path in conversation_paths(f.conv) {
        let b = call(f.api_b.request(Method::GET, &path).expect("request")).await;
        assert_error(
            &format!("B GET {path}"),
            &b,
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
        );
        assert!(
            !b.1.contains(VISITOR_NAME) && !b.1.contains("private question"),
            "B GET {path}: the error leaks the chat: {}",
            b.1
        );
        let (status, body) = call(f.api_a.request(Method::GET, &path).expect("request")).await;
        assert_eq!(status, StatusCode::OK, "A GET {path}: {body}");
    }
    // The typed reads agree, and A sees the content.
    let page = f.api_a.messages(f.conv, None, None).await.expect("A reads");
    assert_eq!(page.items.len(), 2, "{page:?}");
    assert_eq!(
        f.api_b
            .messages(f.conv, None, None)
            .await
            .err()
            .and_then(|e| e.code()),
        Some(ErrorCode::Forbidden)
    );

    // Lists: never in B's, whatever the scope or search; always in A's.
    for (scope, q) in [
        (ConversationScope::Active, None),
        (ConversationScope::All, None),
        (ConversationScope::Active, Some(VISITOR_NAME)),
        (ConversationScope::All, Some(VISITOR_NAME)),
        (ConversationScope::All, Some("Priya")),
        (ConversationScope::All, Some("private question")),
    ] {
        let b = f
            .api_b
            .conversations(scope, q, None, None)
            .await
            .expect("B lists");
        assert!(
            b.items.iter().all(|c| c.id != f.conv),
            "B's {scope:?} list (q={q:?}) shows A's live chat: {b:?}"
        );
        let a = f
            .api_a
            .conversations(scope, q, None, None)
            .await
            .expect("A lists");
        assert!(
            a.items.iter().any(|c| c.id == f.conv),
            "A's {scope:?} list (q={q:?}) misses A's live chat: {a:?}"
        );
    }
    // Raw query strings too (no typed client in between).
    for query in [
        "scope=all",
        "scope=active",
        "scope=all&q=Priya",
        "scope=all&limit=200",
    ] {
        let path = format!("/api/v1/conversations?{query}");
        let (status, body) = call(f.api_b.request(Method::GET, &path).expect("request")).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(
            !body.contains(VISITOR_NAME),
            "B's list {query} mentions A's visitor: {body}"
        );
    }
    f.svc.stop().await;
}

#[tokio::test]
async fn another_agents_live_chat_is_forbidden_on_every_socket_command() {
    let mut f = live_chat_of_a().await;
    let db = f.svc.db().await;
    let before = message_count(&db, f.conv).await;
    let last = f
        .api_a
        .messages(f.conv, None, None)
        .await
        .expect("A reads")
        .items
        .last()
        .expect("a message")
        .id;

    assert_rejected(
        "B send_message",
        f.b.send_text(f.conv, "B butting in").await,
        ErrorCode::Forbidden,
    );
    assert_rejected(
        "B mark_read",
        f.b.mark_read(f.conv, last).await,
        ErrorCode::Forbidden,
    );
    assert_rejected(
        "B end_chat",
        f.b.end_chat(f.conv).await,
        ErrorCode::Forbidden,
    );
    let b_id = f.svc.agents[1].id;
    let a_id = f.svc.agents[0].id;
    for calendar in [b_id, a_id] {
        assert_rejected(
            "B share_calendar",
            f.b.share_calendar(f.conv, calendar).await,
            ErrorCode::Forbidden,
        );
    }
    // A retry under the same id is answered the same way, and still stores nothing.
    let id = new_client_id();
    for _ in 0..2 {
        assert_rejected(
            "B send_message retried",
            f.b.command(AgentCommand::SendMessage {
                id: id.clone(),
                conversation_id: f.conv,
                text: "again".into(),
            })
            .await,
            ErrorCode::Forbidden,
        );
    }

    // Typing is unacknowledged: B's pong proves B's typing was handled (and anything it sent
    // to the visitor queued); the visitor's pong proves that queue was flushed.
    f.b.typing(f.conv, true).await.expect("typing sent");
    f.b.ping(7, WAIT).await.expect("B pong");
    f.visitor.ping(WAIT).await.expect("visitor pong");
    let typing: Vec<_> = f
        .visitor
        .buffered()
        .filter(|fr| matches!(fr, VisitorServerFrame::Typing { .. }))
        .collect();
    assert!(
        typing.is_empty(),
        "B's typing reached the visitor: {typing:?}"
    );
    // Control: A's typing does reach the visitor, so the check above can fail.
    f.a.typing(f.conv, true).await.expect("typing sent");
    f.visitor
        .expect(WAIT, |fr| {
            matches!(fr, VisitorServerFrame::Typing { typing: true })
        })
        .await
        .expect("A's typing reaches the visitor");

    // Nothing stored, nothing changed.
    assert_eq!(
        message_count(&db, f.conv).await,
        before,
        "no message stored"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM calendar_shares WHERE conversation_id = ?1",
            f.conv.0
        )
        .await,
        0,
        "no calendar shared"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM reads WHERE agent_id = ?1",
            b_id.0
        )
        .await,
        0,
        "no read marker for B"
    );
    let (status, agent): (String, Option<i64>) =
        sqlx::query_as("SELECT status, agent_id FROM conversations WHERE id = ?1")
            .bind(f.conv.0)
            .fetch_one(&db)
            .await
            .expect("row");
    assert_eq!((status.as_str(), agent), ("live", Some(a_id.0)));
    // The visitor saw nothing from B.
    f.visitor.ping(WAIT).await.expect("visitor pong");
    assert!(
        f.visitor.buffered().all(|fr| !matches!(
            fr,
            VisitorServerFrame::Message { .. } | VisitorServerFrame::ChatEnded { .. }
        )),
        "visitor got a frame caused by B: {:?}",
        f.visitor.buffered().collect::<Vec<_>>()
    );
    // A's chat still works.
    f.a.send_text(f.conv, "still mine").await.expect("A writes");
    f.svc.stop().await;
}

#[tokio::test]
async fn only_the_offered_agent_can_answer_an_offer() {
    let mut svc =
        TestService::start_with_settings(vec![always_available(), never_scheduled()], |_| {}).await;
    let (_, mut a) = svc.agent(0).await;
    let (api_b, mut b) = svc.agent(1).await;
    let mut visitor = svc.visitor(VISITOR_NAME).await;
    visitor.start_chat("who answers?").await.expect("start");
    let offer = next_offer(&mut a).await;

    assert_rejected(
        "B accepts A's offer",
        b.accept(offer.id).await,
        ErrorCode::Forbidden,
    );
    assert_rejected(
        "B declines A's offer",
        b.decline(offer.id).await,
        ErrorCode::Forbidden,
    );
    assert_rejected(
        "B accepts an offer that does not exist",
        b.accept(OfferId(offer.id.0 + 1000)).await,
        ErrorCode::NotFound,
    );
    // A waiting chat is not readable by B either.
    for path in conversation_paths(offer.conversation_id) {
        let r = call(api_b.request(Method::GET, &path).expect("request")).await;
        assert_error(
            &format!("B GET {path} while waiting"),
            &r,
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
        );
    }
    // The offer is still open and A's to take.
    let db = svc.db().await;
    let outcome: Option<String> = sqlx::query_scalar("SELECT outcome FROM offers WHERE id = ?1")
        .bind(offer.id.0)
        .fetch_one(&db)
        .await
        .expect("offer row");
    assert_eq!(outcome, None, "B's attempts closed the offer");
    a.accept(offer.id).await.expect("A accepts");
    visitor.expect_agent_joined(WAIT).await.expect("joined");
    assert_nothing_pending(&mut b, "B after A accepted", |fr| {
        mentions(fr, offer.conversation_id)
    })
    .await;
    svc.stop().await;
}

#[tokio::test]
async fn another_agent_never_hears_about_a_live_chat() {
    let mut f = live_chat_of_a().await;
    // A full exchange: messages both ways, typing both ways, read marker, calendar share.
    f.visitor.typing(true).await.expect("visitor typing");
    let from_visitor = f.visitor.send_text("more details").await.expect("visitor");
    f.a.expect_event(
        WAIT,
        |e| matches!(e, AgentEvent::Message { message } if message.id == from_visitor.id),
    )
    .await
    .expect("A receives");
    f.a.typing(f.conv, true).await.expect("A typing");
    f.a.mark_read(f.conv, from_visitor.id).await.expect("read");
    f.a.share_calendar(f.conv, f.svc.agents[0].id)
        .await
        .expect("share");
    f.a.send_text(f.conv, "anything else?").await.expect("A");
    f.visitor.ping(WAIT).await.expect("visitor pong");
    f.a.ping(1, WAIT).await.expect("A pong");

    let conv = f.conv;
    assert_nothing_pending(&mut f.b, "B during A's chat", |fr| mentions(fr, conv)).await;
    // Control: A did hear about it (so `mentions` can match).
    assert!(f.a.buffered().any(|fr| mentions(fr, conv)));

    // A fresh connection of B starts from a snapshot without A's chat.
    let token = f.api_b.token().expect("token").to_owned();
    let (b2, ready) = AgentClient::connect(&f.svc.url, &token, None)
        .await
        .expect("B reconnects");
    assert!(
        matches!(ready, AgentServerFrame::Ready(_)),
        "expected ready: {ready:?}"
    );
    assert!(
        !mentions(&ready, conv),
        "B's snapshot shows A's chat: {ready:?}"
    );

    // Ending the chat does not tell B either.
    f.a.end_chat(conv).await.expect("A ends");
    f.visitor
        .expect(WAIT, |fr| {
            matches!(fr, VisitorServerFrame::ChatEnded { .. })
        })
        .await
        .expect("visitor told");
    assert_nothing_pending(&mut f.b, "B after A's chat ended", |fr| mentions(fr, conv)).await;
    let mut b2 = b2;
    assert_nothing_pending(&mut b2, "B's second socket", |fr| mentions(fr, conv)).await;
    f.svc.stop().await;
}

#[tokio::test]
async fn an_ended_chat_is_readable_by_every_agent_but_read_only() {
    let mut f = live_chat_of_a().await;
    f.a.end_chat(f.conv).await.expect("A ends");
    for path in conversation_paths(f.conv) {
        for (who, api) in [("A", &f.api_a), ("B", &f.api_b)] {
            let (status, body) = call(api.request(Method::GET, &path).expect("request")).await;
            assert_eq!(status, StatusCode::OK, "{who} GET {path}: {body}");
        }
    }
    let messages = f.api_b.messages(f.conv, None, None).await.expect("B reads");
    assert!(
        messages.items.iter().any(|m| m.content
            == MessageContent::Text {
                text: "Hello from A".into()
            }),
        "{messages:?}"
    );
    let transcript = f.api_b.transcript(f.conv).await.expect("B transcript");
    assert!(transcript.contains("a private question"), "{transcript}");
    let visitor = f.api_b.visitor(f.conv).await.expect("B visitor");
    assert_eq!(visitor.name.as_deref(), Some(VISITOR_NAME));

    let all = f
        .api_b
        .conversations(ConversationScope::All, None, None, None)
        .await
        .expect("B all");
    let listed = all
        .items
        .iter()
        .find(|c| c.id == f.conv)
        .expect("ended chat in B's All");
    assert_eq!(listed.status, ConversationStatus::Ended);
    let searched = f
        .api_b
        .conversations(ConversationScope::All, Some("Priya"), None, None)
        .await
        .expect("B search");
    assert!(searched.items.iter().any(|c| c.id == f.conv));
    let active = f
        .api_b
        .conversations(ConversationScope::Active, None, None, None)
        .await
        .expect("B active");
    assert!(active.items.iter().all(|c| c.id != f.conv));

    // Readable is not writable: neither agent can write into an ended chat.
    let db = f.svc.db().await;
    let before = message_count(&db, f.conv).await;
    assert_rejected(
        "B writes into an ended chat",
        f.b.send_text(f.conv, "late").await,
        ErrorCode::Conflict,
    );
    assert_rejected(
        "A writes into an ended chat",
        f.a.send_text(f.conv, "late").await,
        ErrorCode::Conflict,
    );
    assert_rejected(
        "B ends an ended chat",
        f.b.end_chat(f.conv).await,
        ErrorCode::Conflict,
    );
    assert_eq!(message_count(&db, f.conv).await, before);
    f.svc.stop().await;
}

#[tokio::test]
async fn visitor_and_agent_tokens_only_open_their_own_side() {
    let mut f = live_chat_of_a().await;
    let visitor_token = f.visitor.session().expect("session").token.clone();
    let as_visitor = f.svc.api().with_token(visitor_token.clone());
    let mut agent_paths = conversation_paths(f.conv);
    agent_paths.extend(
        [
            "/api/v1/me",
            "/api/v1/me/settings",
            "/api/v1/agents",
            "/api/v1/calendars",
            "/api/v1/conversations?scope=all",
        ]
        .map(String::from),
    );
    agent_paths.push(format!("/api/v1/calendars/{}/slots", f.svc.agents[0].id));
    for path in &agent_paths {
        let r = call(as_visitor.request(Method::GET, path).expect("request")).await;
        assert_visitor_refused(&format!("visitor token GET {path}"), &r);
    }
    let r = call(
        as_visitor
            .request(Method::PUT, "/api/v1/me/availability")
            .expect("request")
            .json(&serde_json::json!({"status": "available"})),
    )
    .await;
    assert_visitor_refused("visitor token PUT availability", &r);
    let r = call(
        as_visitor
            .request(Method::POST, "/api/v1/auth/logout")
            .expect("request"),
    )
    .await;
    assert_visitor_refused("visitor token logout", &r);
    // The agent socket refuses the visitor token at the upgrade.
    match AgentClient::connect_raw(&f.svc.url, Some(&visitor_token)).await {
        Err(e) => assert!(
            matches!(
                e.code(),
                Some(ErrorCode::Forbidden | ErrorCode::Unauthorized)
            ),
            "agent socket with a visitor token: {e}"
        ),
        Ok(_) => panic!("the agent socket opened with a visitor token"),
    }
    // The visitor token still works where it belongs.
    f.visitor.ping(WAIT).await.expect("visitor still connected");

    // An agent token on visitor endpoints.
    let agent_token = f.api_a.token().expect("token").to_owned();
    let r = call(
        f.api_a
            .request(Method::POST, "/api/v1/visitor/bookings")
            .expect("request")
            .json(&BookingRequest {
                conversation_id: f.conv,
                calendar_agent_id: f.svc.agents[0].id,
                start: chrono::Utc::now() + chrono::Duration::days(1),
            }),
    )
    .await;
    assert_error(
        "agent token books",
        &r,
        StatusCode::FORBIDDEN,
        ErrorCode::Forbidden,
    );
    let path = format!("/api/v1/visitor/calendars/{}/slots", f.svc.agents[0].id);
    let r = call(f.api_a.request(Method::GET, &path).expect("request")).await;
    assert_error(
        "agent token visitor slots",
        &r,
        StatusCode::FORBIDDEN,
        ErrorCode::Forbidden,
    );
    let mut ws = VisitorClient::connect_raw(&f.svc.url, Some(&f.svc.url))
        .await
        .expect("visitor socket opens");
    assert_rejected(
        "agent token in visitor hello",
        ws.hello(&agent_token).await.map(|_| ()),
        ErrorCode::Forbidden,
    );
    assert_closed(ws.next_raw(WAIT).await, "visitor socket after agent hello");
    f.svc.stop().await;
}

fn assert_visitor_refused(what: &str, r: &(StatusCode, String)) {
    match r.0 {
        StatusCode::FORBIDDEN => assert_error(what, r, StatusCode::FORBIDDEN, ErrorCode::Forbidden),
        _ => assert_error(what, r, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
    }
}

fn assert_closed(next: sim::Result<tokio_tungstenite::tungstenite::Message>, what: &str) {
    use tokio_tungstenite::tungstenite::Message;
    match next {
        Ok(Message::Close(_)) | Err(SimError::Closed { .. }) => {}
        Err(SimError::WebSocket(_)) => {}
        other => panic!("{what}: expected the socket to close, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_wrong_and_revoked_tokens_are_unauthorized() {
    let mut svc = TestService::start(1).await;
    let conv = ConversationId(1);
    let mut paths = conversation_paths(conv);
    paths.extend(
        [
            "/api/v1/me",
            "/api/v1/me/settings",
            "/api/v1/agents",
            "/api/v1/calendars",
            "/api/v1/conversations",
        ]
        .map(String::from),
    );
    let http = reqwest::Client::new();
    let bad_headers: [Option<&str>; 6] = [
        None,
        Some("Bearer "),
        Some("Bearer not-a-token"),
        Some("Bearer 0000000000000000000000000000000000000000000000000000000000000000"),
        Some("Basic dXNlcjpwYXNz"),
        Some("token-without-scheme"),
    ];
    for path in &paths {
        for header in bad_headers {
            let mut req = http.get(format!("{}{path}", svc.url));
            if let Some(h) = header {
                req = req.header(reqwest::header::AUTHORIZATION, h);
            }
            let r = call(req).await;
            assert_error(
                &format!("GET {path} with Authorization {header:?}"),
                &r,
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
            );
        }
    }
    // An overlong token is refused without trouble.
    let long = format!("Bearer {}", "a".repeat(10_000));
    let r = call(
        http.get(format!("{}/api/v1/me", svc.url))
            .header(reqwest::header::AUTHORIZATION, long),
    )
    .await;
    assert_error(
        "overlong token",
        &r,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthorized,
    );

    // Agent socket: no header, a wrong token.
    for token in [None, Some("wrong")] {
        match AgentClient::connect_raw(&svc.url, token).await {
            Err(e) => {
                assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED), "{e}");
                assert_eq!(e.code(), Some(ErrorCode::Unauthorized), "{e}");
            }
            Ok(_) => panic!("agent socket opened with token {token:?}"),
        }
    }

    // Logging out revokes that token only.
    let mut first = svc.login(0).await;
    let second = svc.login(0).await;
    let revoked = first.token().expect("token").to_owned();
    first.me().await.expect("valid before logout");
    first.logout().await.expect("logout");
    let stale = svc.api().with_token(revoked.clone());
    for path in ["/api/v1/me", "/api/v1/conversations"] {
        let r = call(stale.request(Method::GET, path).expect("request")).await;
        assert_error(
            &format!("revoked token GET {path}"),
            &r,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
        );
    }
    let r = call(
        stale
            .request(Method::POST, "/api/v1/auth/logout")
            .expect("request"),
    )
    .await;
    assert_error(
        "logout twice",
        &r,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthorized,
    );
    match AgentClient::connect_raw(&svc.url, Some(&revoked)).await {
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::Unauthorized), "{e}"),
        Ok(_) => panic!("agent socket opened with a revoked token"),
    }
    second.me().await.expect("the other session is still valid");

    // Visitor socket: a wrong token in hello is refused and the socket closed.
    let mut ws = VisitorClient::connect_raw(&svc.url, Some(&svc.url))
        .await
        .expect("visitor socket opens");
    assert_rejected(
        "wrong visitor token",
        ws.hello("not-a-visitor-token").await.map(|_| ()),
        ErrorCode::Unauthorized,
    );
    assert_closed(ws.next_raw(WAIT).await, "visitor socket after a bad hello");
    // A visitor endpoint without a token.
    let r = call(http.post(format!("{}/api/v1/visitor/bookings", svc.url)).json(
        &serde_json::json!({"conversation_id": 1, "calendar_agent_id": 1, "start": "2030-01-01T10:00:00Z"}),
    ))
    .await;
    assert_error(
        "booking without a token",
        &r,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthorized,
    );
    svc.stop().await;
}

#[tokio::test]
async fn a_visitor_cannot_book_on_another_visitors_conversation() {
    let mut f = live_chat_of_a().await;
    let a_id = f.svc.agents[0].id;
    f.a.share_calendar(f.conv, a_id).await.expect("share");
    f.visitor
        .expect(WAIT, |fr| {
            matches!(fr, VisitorServerFrame::Message { message } if matches!(message.content, MessageContent::CalendarShare { .. }))
        })
        .await
        .expect("booking card");
    let slots = f
        .visitor
        .api()
        .visitor_slots(a_id, Some(3))
        .await
        .expect("owner sees slots");
    let slot = slots.slots.first().expect("a free slot").clone();

    let mut other = f.svc.visitor("Mallory").await;
    let request = BookingRequest {
        conversation_id: f.conv,
        calendar_agent_id: a_id,
        start: slot.start,
    };
    let err = other
        .api()
        .book(&request)
        .await
        .expect_err("booking on another visitor's conversation");
    assert_eq!(err.code(), Some(ErrorCode::Forbidden), "{err}");
    assert_eq!(err.status(), Some(StatusCode::FORBIDDEN), "{err}");
    let err = other
        .api()
        .visitor_slots(a_id, Some(3))
        .await
        .expect_err("slots of a calendar shared with someone else");
    assert_eq!(err.code(), Some(ErrorCode::Forbidden), "{err}");
    let err = other
        .api()
        .book(&BookingRequest {
            conversation_id: ConversationId(f.conv.0 + 1000),
            ..request.clone()
        })
        .await
        .expect_err("booking on a conversation that does not exist");
    assert_eq!(err.code(), Some(ErrorCode::NotFound), "{err}");

    let db = f.svc.db().await;
    let bookings: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings")
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(bookings, 0, "nothing was booked");
    other
        .ping(WAIT)
        .await
        .expect("other visitor still connected");
    assert!(
        other
            .buffered()
            .all(|fr| !matches!(fr, VisitorServerFrame::Message { .. })),
        "the other visitor saw a message of someone else's chat"
    );

    // The owner can book the same slot.
    let booking = f.visitor.api().book(&request).await.expect("owner books");
    assert_eq!(booking.start, slot.start);
    assert_eq!(booking.conversation_id, Some(f.conv));
    f.svc.stop().await;
}

#[tokio::test]
async fn logging_out_ends_sockets_opened_with_that_token() {
    let mut f = live_chat_of_a().await;
    f.api_a.logout().await.expect("logout");
    match f.a.send_text(f.conv, "after logout").await {
        Err(SimError::Rejected { error, .. }) => {
            assert_eq!(error.code, ErrorCode::Unauthorized, "{error}")
        }
        Err(SimError::Closed { .. } | SimError::WebSocket(_)) => {}
        other => panic!("a revoked token's socket still works: {other:?}"),
    }
    let db = f.svc.db().await;
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages WHERE content_json LIKE '%after logout%'",
    )
    .fetch_one(&db)
    .await
    .expect("count");
    assert_eq!(
        stored, 0,
        "a message was stored through a revoked token's socket"
    );
    f.svc.stop().await;
}

/// Moves a token's expiry to just before now, straight in the service's database.
async fn expire(db: &sqlx::SqlitePool, token: &str) {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let done = sqlx::query("UPDATE auth_tokens SET expires_at = ?1 WHERE token_hash = ?2")
        .bind(now_ms - 1)
        .bind(chat_service::auth::token_hash(token))
        .execute(db)
        .await
        .expect("expire token");
    assert_eq!(done.rows_affected(), 1, "the token is in the database");
}

#[tokio::test]
async fn expired_agent_and_visitor_tokens_are_unauthorized() {
    let mut svc = TestService::start(1).await;
    let db = svc.db().await;

    // Both tokens work before they expire.
    let agent = svc.login(0).await;
    let agent_token = agent.token().expect("token").to_owned();
    agent.me().await.expect("agent token valid before expiry");
    let visitor = svc.visitor(VISITOR_NAME).await;
    let visitor_token = visitor.session().expect("session").token.clone();
    let slots = format!("/api/v1/visitor/calendars/{}/slots", svc.agents[0].id);
    let as_visitor = svc.api().with_token(visitor_token.clone());
    // Authenticated (the hello above worked too), only refused because nothing was shared.
    let r = call(as_visitor.request(Method::GET, &slots).expect("request")).await;
    assert_error(
        "visitor slots before expiry",
        &r,
        StatusCode::FORBIDDEN,
        ErrorCode::Forbidden,
    );
    visitor.close().await.expect("visitor closes");

    expire(&db, &agent_token).await;
    expire(&db, &visitor_token).await;

    // Agent token: REST and the socket upgrade.
    for path in ["/api/v1/me", "/api/v1/conversations", "/api/v1/agents"] {
        let r = call(agent.request(Method::GET, path).expect("request")).await;
        assert_error(
            &format!("expired agent token GET {path}"),
            &r,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
        );
    }
    match AgentClient::connect_raw(&svc.url, Some(&agent_token)).await {
        Err(e) => {
            assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED), "{e}");
            assert_eq!(e.code(), Some(ErrorCode::Unauthorized), "{e}");
        }
        Ok(_) => panic!("agent socket opened with an expired token"),
    }

    // Visitor token: REST and the socket's hello.
    let r = call(as_visitor.request(Method::GET, &slots).expect("request")).await;
    assert_error(
        "expired visitor token GET slots",
        &r,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthorized,
    );
    let mut ws = VisitorClient::connect_raw(&svc.url, Some(&svc.url))
        .await
        .expect("visitor socket opens");
    assert_rejected(
        "expired visitor token in hello",
        ws.hello(&visitor_token).await.map(|_| ()),
        ErrorCode::Unauthorized,
    );
    assert_closed(
        ws.next_raw(WAIT).await,
        "visitor socket after an expired hello",
    );

    // A fresh login still works: only the expired token is refused.
    svc.login(0).await.me().await.expect("a new token works");
    db.close().await;
    svc.stop().await;
}
