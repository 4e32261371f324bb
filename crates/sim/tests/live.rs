//! The clients and the simulator against a real chat service with the `--demo` data set: each
//! test starts its own service on 127.0.0.1:0 with a fresh database in a temporary folder.
//!
//! They sign in as the demo agents (grace, linus, margaret: available around the clock).

use std::time::Duration;

use protocol::agent_ws::{AgentEvent, AgentServerFrame};
use protocol::rest::{BookingRequest, ConversationScope};
use protocol::visitor_ws::VisitorServerFrame;
use protocol::{ErrorCode, MessageContent};
use sim::{AgentClient, ApiClient, Error, SimConfig, VisitorClient};

const T: Duration = Duration::from_secs(10);
const PASSWORD: &str = "demo1234";

/// A service started for one test, seeded with the demo data.
struct Live {
    service: Option<chat_service::RunningService>,
    url: String,
    _dir: tempfile::TempDir,
}

impl Live {
    async fn start() -> Live {
        let dir = ok_io(tempfile::tempdir(), "temp dir");
        let mut config = chat_service::Config::for_db(dir.path().join("live.db"));
        config.demo = true;
        let service = chat_service::RunningService::start(config)
            .await
            .unwrap_or_else(|e| panic!("service starts: {e}"));
        let url = service.url();
        Live {
            service: Some(service),
            url,
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        if let Some(service) = self.service.take() {
            service
                .stop()
                .await
                .unwrap_or_else(|e| panic!("clean stop: {e}"));
        }
    }
}

fn ok_io<T>(r: std::io::Result<T>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn ok<T>(r: sim::Result<T>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

async fn agent(base: &str, email: &str) -> (ApiClient, AgentClient) {
    let (client, ready, api) = ok(AgentClient::login(base, email, PASSWORD).await, "login");
    assert_eq!(ready.agent.email, email);
    (api, client)
}

#[tokio::test]
async fn rest_basics_and_errors() {
    let live = Live::start().await;
    let base = live.url.clone();
    let mut api = ok(ApiClient::new(&base), "api");
    let health = ok(api.health().await, "health");
    assert_eq!(health.protocol, 1);

    let wrong = api.login("grace@example.com", "nope").await;
    let err = wrong
        .err()
        .unwrap_or_else(|| panic!("wrong password accepted"));
    assert_eq!(err.code(), Some(ErrorCode::Unauthorized), "{err}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert!(ok(ApiClient::new(&base), "api").me().await.is_err());

    ok(api.login("grace@example.com", PASSWORD).await, "login");
    let me = ok(api.me().await, "me");
    assert_eq!(me.agent.email, "grace@example.com");
    let settings = ok(api.settings().await, "settings");
    assert_eq!(settings, me.settings);
    let calendars = ok(api.calendars().await, "calendars");
    assert!(calendars.len() >= 4, "{calendars:?}");
    let agents = ok(api.agents().await, "agents");
    assert_eq!(agents.len(), calendars.len());
    let slots = ok(api.slots(me.agent.id, Some(7)).await, "slots");
    assert_eq!(slots.calendar.agent_id, me.agent.id);
    let page = ok(
        api.conversations(ConversationScope::All, None, None, Some(5))
            .await,
        "conversations",
    );
    assert!(page.items.len() <= 5);

    let bad_token = AgentClient::connect(&base, "not-a-token", None).await;
    let err = bad_token
        .err()
        .unwrap_or_else(|| panic!("bad token accepted"));
    assert_eq!(err.code(), Some(ErrorCode::Unauthorized), "{err}");

    let wrong_origin = VisitorClient::connect_raw(&base, Some("https://evil.example")).await;
    let err = wrong_origin
        .err()
        .unwrap_or_else(|| panic!("foreign origin accepted"));
    assert_eq!(err.code(), Some(ErrorCode::OriginNotAllowed), "{err}");

    ok(api.logout().await, "logout");
    live.stop().await;
}

#[tokio::test]
async fn one_chat_end_to_end_with_booking_and_resume() {
    let live = Live::start().await;
    let base = live.url.clone();
    let (api, mut grace) = agent(&base, "grace@example.com").await;
    ok(
        grace
            .set_availability(Some(protocol::AvailabilityStatus::Available))
            .await,
        "available",
    );

    let mut visitor = ok(
        VisitorClient::start(&base, Some("Zoë <b>Test</b>"), Some("zoe@example.com")).await,
        "visitor",
    );
    let first = ok(visitor.start_chat("Do you ship to Norway?").await, "start");
    assert!(first.is_some(), "start_chat ack carries the stored message");
    let offer = ok(grace.expect_offer(T).await, "offer");
    assert_eq!(
        offer.first_message.as_deref(),
        Some("Do you ship to Norway?")
    );
    assert_eq!(offer.visitor.name.as_deref(), Some("Zoë <b>Test</b>"));
    ok(grace.accept(offer.id).await, "accept");
    let (_, started) = ok(
        grace
            .expect_event(T, |e| matches!(e, AgentEvent::ConversationStarted { .. }))
            .await,
        "started",
    );
    let AgentEvent::ConversationStarted { conversation } = started else {
        unreachable!()
    };
    let id = conversation.summary.id;
    assert_eq!(id, offer.conversation_id);
    ok(visitor.expect_agent_joined(T).await, "joined");
    assert_eq!(visitor.conversation_id(), Some(id));

    let sent = ok(grace.send_text(id, "We do!").await, "agent send");
    let got = ok(visitor.expect_agent_message(T).await, "visitor got");
    assert_eq!(got.id, sent.id);
    let vsent = ok(visitor.send_text("Great, how long?").await, "visitor send");
    let (_, event) = ok(
        grace
            .expect_event(
                T,
                |e| matches!(e, AgentEvent::Message { message } if message.id == vsent.id),
            )
            .await,
        "agent got",
    );
    assert!(matches!(event, AgentEvent::Message { .. }));

    let active = ok(
        api.conversations(ConversationScope::Active, None, None, None)
            .await,
        "active",
    );
    assert!(active.items.iter().any(|c| c.id == id), "{active:?}");
    let messages = ok(api.messages(id, None, None).await, "messages");
    assert!(messages.items.iter().any(|m| m.id == vsent.id));
    let transcript = ok(api.transcript(id).await, "transcript");
    assert!(transcript.contains("Great, how long?"), "{transcript}");
    let info = ok(api.visitor(id).await, "visitor info");
    assert_eq!(info.email.as_deref(), Some("zoe@example.com"));
    ok(api.activities(id).await, "activities");
    ok(api.conversation(id).await, "conversation");

    // Calendar share and booking.
    let me = ok(api.me().await, "me");
    let share = ok(grace.share_calendar(id, me.agent.id).await, "share");
    assert!(matches!(
        share.content,
        MessageContent::CalendarShare { .. }
    ));
    let card = ok(
        visitor
            .expect(T, |f| matches!(f, VisitorServerFrame::Message { message } if matches!(message.content, MessageContent::CalendarShare { .. })))
            .await,
        "card",
    );
    assert!(matches!(card, VisitorServerFrame::Message { .. }));
    let slots = ok(
        visitor.api().visitor_slots(me.agent.id, Some(7)).await,
        "visitor slots",
    );
    let slot = slots
        .slots
        .first()
        .unwrap_or_else(|| panic!("no free slot"))
        .clone();
    let request = BookingRequest {
        conversation_id: id,
        calendar_agent_id: me.agent.id,
        start: slot.start,
    };
    let booking = ok(visitor.api().book(&request).await, "book");
    assert_eq!(booking.start, slot.start);
    let again = visitor.api().book(&request).await;
    assert_eq!(
        again.err().and_then(|e| e.code()),
        Some(ErrorCode::Conflict),
        "a slot can be booked once"
    );

    // Drop and resume: nothing is missed.
    let resume = grace.resume_point();
    ok(grace.close().await, "close");
    ok(visitor.send_text("Still there?").await, "while away");
    let token = api.token().unwrap_or_default().to_owned();
    let (mut grace, first) = ok(
        AgentClient::connect(&base, &token, Some(resume)).await,
        "resume",
    );
    assert!(
        matches!(first, AgentServerFrame::Resumed { .. }),
        "{first:?}"
    );
    ok(
        grace
            .expect_event(T, |e| matches!(e, AgentEvent::Message { message } if matches!(&message.content, MessageContent::Text { text } if text == "Still there?")))
            .await,
        "missed message replayed",
    );
    assert!(grace.seq_gaps().is_empty(), "{:?}", grace.seq_gaps());

    // Bad input keeps the connection.
    ok(grace.send_raw_text("{not json").await, "raw");
    let err = ok(
        grace
            .expect_frame(T, |f| matches!(f, AgentServerFrame::Error { .. }))
            .await,
        "error frame",
    );
    assert!(matches!(err, AgentServerFrame::Error { .. }));
    ok(grace.ping(7, T).await, "ping after bad input");

    ok(visitor.end_chat().await, "end");
    ok(
        grace
            .expect_event(T, |e| matches!(e, AgentEvent::ConversationEnded { .. }))
            .await,
        "ended",
    );
    let after = grace.send_text(id, "hello?").await;
    assert!(matches!(after, Err(Error::Rejected { .. })), "{after:?}");
    drop(grace);
    live.stop().await;
}

#[tokio::test]
async fn simulator_with_simulated_agents() {
    let live = Live::start().await;
    let mut config = SimConfig::new(live.url.clone());
    config.visitors = 6;
    config.messages_per_visitor = 3;
    config.interval = Duration::from_millis(300);
    config.ramp = Duration::from_millis(300);
    config.join_timeout = Duration::from_secs(20);
    config.agents = vec![
        "linus@example.com:demo1234"
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
        "margaret@example.com:demo1234"
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
    ];
    let report = ok(sim::run(config).await, "run");
    println!("{report}");
    assert_eq!(report.agents_connected, 2, "{report}");
    assert_eq!(report.sessions_opened, 6, "{report}");
    assert_eq!(report.chats_started, 6, "{report}");
    assert_eq!(report.joined, 6, "{report}");
    assert_eq!(report.messages_sent, 18, "{report}");
    assert_eq!(report.messages_acked, 18, "{report}");
    assert_eq!(report.chats_ended_by_visitor, 6, "{report}");
    assert_eq!(report.error_count, 0, "{report}");
    live.stop().await;
}
