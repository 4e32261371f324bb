//! The engine against a real chat service: offers and answers, notifications closed when an
//! offer expires, is withdrawn or is accepted elsewhere, chats, an outbox that survives a killed
//! service and a restarted app, 1,000 forced disconnects, sign-out, clear errors.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_core::backoff::Backoff;
use agent_core::notifier::{AnswerSink, NotificationAction, Notifier, OfferAnswer};
use agent_core::{
    AgentCore, ApiClient, ClientState, ConnectionStatus, CoreEvent, CoreOptions, Error, ServiceUrl,
};
use chat_service::{Config, RunningService};
use common::*;
use protocol::*;
use sim::visitor::VisitorClient;

/// Records what the engine asked of the notifier, and keeps the answer sink so that a test
/// can "click" a notification action.
#[derive(Default)]
struct Recorder {
    offers: Mutex<Vec<(OfferId, bool)>>,
    closed: Mutex<Vec<OfferId>>,
    messages: Mutex<Vec<String>>,
    sink: Mutex<Option<AnswerSink>>,
}

impl Notifier for Recorder {
    fn offer(&self, offer: &Offer, _left: Duration, realert: bool, answers: &AnswerSink) {
        self.offers.lock().expect("lock").push((offer.id, realert));
        *self.sink.lock().expect("lock") = Some(answers.clone());
    }
    fn close_offer(&self, offer_id: OfferId) {
        self.closed.lock().expect("lock").push(offer_id);
    }
    fn message(&self, visitor_name: &str, _message: &Message, _answers: &AnswerSink) {
        self.messages
            .lock()
            .expect("lock")
            .push(visitor_name.to_owned());
    }
}

fn fast(url: &str, token: &str) -> CoreOptions {
    let mut o = CoreOptions::new(ServiceUrl::parse(url).expect("url"), token);
    o.backoff = Backoff {
        base: Duration::from_millis(5),
        max: Duration::from_millis(100),
    };
    o.heartbeat = Some(Duration::from_millis(500));
    o.realert_every = Duration::from_millis(300);
    o
}

async fn login(url: &str, i: usize) -> String {
    let api = ApiClient::new(ServiceUrl::parse(url).expect("url")).expect("client");
    let (_, res) = api.login(&email(i), PASSWORD).await.expect("login");
    res.token
}

async fn in_process_service(agents: usize) -> (tempfile::TempDir, RunningService) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut config = Config::for_db(dir.path().join("chat.db"));
    config.visitor_messages_per_10s = 1_000_000;
    create_agents(&config.db, agents).await;
    let service = RunningService::start(config).await.expect("service");
    (dir, service)
}

fn connected(s: &ClientState) -> bool {
    s.connection == ConnectionStatus::Connected
}

fn visitor_texts(s: &ClientState, c: ConversationId) -> Vec<String> {
    s.chat(c)
        .map(|chat| {
            chat.messages
                .iter()
                .filter(|m| m.author == Author::Visitor)
                .filter_map(|m| match &m.content {
                    MessageContent::Text { text } => Some(text.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A visitor asks for a chat; the engine gets the offer and accepts it. Returns the chat.
async fn accepted_chat(core: &AgentCore, url: &str, name: &str) -> (VisitorClient, ConversationId) {
    let mut visitor = VisitorClient::start(url, Some(name), None)
        .await
        .expect("visitor");
    visitor.start_chat("hello there").await.expect("start chat");
    let state = core
        .wait_for(WAIT, |s| !s.offers.is_empty())
        .await
        .expect("offer in state");
    let offer = state.offers[0].offer.clone();
    core.accept(offer.id).await.expect("accept");
    core.wait_for(WAIT, |s| s.chat(offer.conversation_id).is_some())
        .await
        .expect("chat live");
    visitor
        .expect_agent_joined(WAIT)
        .await
        .expect("visitor told");
    (visitor, offer.conversation_id)
}

#[tokio::test]
async fn an_offer_is_notified_answered_once_and_the_chat_flows_both_ways() {
    let (_dir, service) = in_process_service(1).await;
    let url = service.url();
    let token = login(&url, 0).await;
    let notifier = Arc::new(Recorder::default());
    let core = AgentCore::start(fast(&url, &token), notifier.clone()).expect("core");
    let mut events = core.events();
    core.wait_for(WAIT, connected).await.expect("connected");

    let mut visitor = VisitorClient::start(&url, Some("Olga"), None)
        .await
        .expect("visitor");
    visitor
        .start_chat("Can I change my plan?")
        .await
        .expect("start");
    let state = core
        .wait_for(WAIT, |s| !s.offers.is_empty())
        .await
        .expect("offer");
    let offer = state.offers[0].offer.clone();
    assert_eq!(offer.visitor.name.as_deref(), Some("Olga"));
    assert_eq!(
        offer.first_message.as_deref(),
        Some("Can I change my plan?")
    );
    // The notifier raised it, and re-alerts while it is unanswered (R9).
    loop {
        match tokio::time::timeout(WAIT, events.recv()).await {
            Ok(Ok(CoreEvent::OfferAlert {
                offer_id,
                realert: true,
            })) if offer_id == offer.id => break,
            Ok(Ok(_)) => {}
            other => panic!("no re-alert: {other:?}"),
        }
    }
    assert!(
        notifier
            .offers
            .lock()
            .expect("lock")
            .contains(&(offer.id, true))
    );

    // Accept from the notification; the UI's answer afterwards finds it already answered.
    let sink = notifier.sink.lock().expect("lock").clone().expect("sink");
    assert!(sink.send(NotificationAction::Answer {
        offer_id: offer.id,
        answer: OfferAnswer::Accept
    }));
    let state = core
        .wait_for(WAIT, |s| {
            s.chat(offer.conversation_id).is_some() && s.offers.is_empty()
        })
        .await
        .expect("live");
    assert!(matches!(
        core.decline(offer.id).await,
        Err(Error::NoSuchOffer)
    ));
    assert!(
        notifier.closed.lock().expect("lock").contains(&offer.id),
        "the notification was withdrawn"
    );
    assert_eq!(state.chats.len(), 1);
    visitor.expect_agent_joined(WAIT).await.expect("joined");
    // Accepting from a notification asks for the window on that conversation.
    let mut open = None;
    while let Ok(Ok(ev)) = tokio::time::timeout(WAIT, events.recv()).await {
        if let CoreEvent::OpenWindow { conversation_id } = ev {
            open = Some(conversation_id);
            break;
        }
    }
    assert_eq!(open, Some(Some(offer.conversation_id)));

    // Messages both ways.
    visitor
        .send_text("I'd like the yearly plan")
        .await
        .expect("visitor sends");
    core.wait_for(WAIT, |s| {
        visitor_texts(s, offer.conversation_id).contains(&"I'd like the yearly plan".to_owned())
    })
    .await
    .expect("agent sees it");
    assert_eq!(
        notifier.messages.lock().expect("lock").as_slice(),
        ["Olga"],
        "unfocused window: message notified"
    );
    let id = core
        .send_message(offer.conversation_id, "Done: you're on yearly now.")
        .await
        .expect("send");
    let got = visitor
        .expect_agent_message(WAIT)
        .await
        .expect("visitor receives");
    assert_eq!(got.client_id.as_deref(), Some(id.as_str()));
    let state = core
        .wait_for(WAIT, |s| s.outbox_len == 0)
        .await
        .expect("acknowledged");
    let chat = state.chat(offer.conversation_id).expect("chat");
    assert!(chat.pending.is_empty());
    assert!(
        chat.messages
            .iter()
            .any(|m| m.client_id.as_deref() == Some(id.as_str()))
    );

    // Bad input is refused before it is queued.
    assert!(
        core.send_message(offer.conversation_id, "   ")
            .await
            .is_err()
    );
    core.stop().await;
    service.stop().await.expect("stop");
}

#[tokio::test]
async fn an_expired_offer_closes_its_notification() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut config = Config::for_db(dir.path().join("chat.db"));
    config.offer_timeout_secs = 0.5;
    create_agents(&config.db, 1).await;
    let service = RunningService::start(config).await.expect("service");
    let url = service.url();
    let notifier = Arc::new(Recorder::default());
    let core = AgentCore::start(fast(&url, &login(&url, 0).await), notifier.clone()).expect("core");
    core.wait_for(WAIT, connected).await.expect("connected");
    let mut visitor = VisitorClient::start(&url, Some("Slow"), None)
        .await
        .expect("visitor");
    visitor.start_chat("hi").await.expect("start");
    let offer = core
        .wait_for(WAIT, |s| !s.offers.is_empty())
        .await
        .expect("offer")
        .offers[0]
        .offer
        .id;
    core.wait_for(WAIT, |s| s.offers.is_empty())
        .await
        .expect("expired");
    assert!(notifier.closed.lock().expect("lock").contains(&offer));
    assert!(matches!(core.accept(offer).await, Err(Error::NoSuchOffer)));
    core.stop().await;
    service.stop().await.expect("stop");
}

/// Waits for the first event matching `want`.
async fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<CoreEvent>,
    what: &str,
    want: impl Fn(&CoreEvent) -> bool,
) -> CoreEvent {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(ev)) if want(&ev) => return ev,
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("{what}: event stream ended: {e}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

#[tokio::test]
async fn a_withdrawn_offer_or_one_accepted_elsewhere_closes_its_notification() {
    let (_dir, service) = in_process_service(1).await;
    let url = service.url();
    let notifier = Arc::new(Recorder::default());
    let core = AgentCore::start(fast(&url, &login(&url, 0).await), notifier.clone()).expect("core");
    let mut events = core.events();
    core.wait_for(WAIT, connected).await.expect("connected");

    // The visitor gives up while the offer is open: the service withdraws it.
    let mut visitor = VisitorClient::start(&url, Some("Quitter"), None)
        .await
        .expect("visitor");
    visitor.start_chat("hello?").await.expect("start");
    let first = match next_event(&mut events, "the first offer's alert", |e| {
        matches!(e, CoreEvent::OfferAlert { realert: false, .. })
    })
    .await
    {
        CoreEvent::OfferAlert { offer_id, .. } => offer_id,
        _ => unreachable!(),
    };
    assert!(notifier.closed.lock().expect("lock").is_empty());
    visitor.end_chat().await.expect("visitor leaves");
    next_event(&mut events, "the withdrawn offer's close", |e| {
        *e == CoreEvent::OfferClosed {
            offer_id: first,
            reason: agent_core::OfferClosed::Withdrawn,
        }
    })
    .await;
    assert_eq!(notifier.closed.lock().expect("lock").as_slice(), [first]);
    core.wait_for(WAIT, |s| s.offers.is_empty())
        .await
        .expect("the offer left the state");

    // The same agent accepts the next offer on another connection (another device).
    let mut elsewhere = sim::agent::AgentClient::login(&url, &email(0), PASSWORD)
        .await
        .expect("second connection")
        .0;
    let mut visitor = VisitorClient::start(&url, Some("Stayer"), None)
        .await
        .expect("visitor");
    visitor.start_chat("hello again").await.expect("start");
    let second = match next_event(
        &mut events,
        "the second offer's alert",
        |e| matches!(e, CoreEvent::OfferAlert { realert: false, offer_id } if *offer_id != first),
    )
    .await
    {
        CoreEvent::OfferAlert { offer_id, .. } => offer_id,
        _ => unreachable!(),
    };
    let offer = elsewhere.expect_offer(WAIT).await.expect("offer elsewhere");
    assert_eq!(offer.id, second);
    elsewhere.accept(second).await.expect("accepted elsewhere");
    next_event(&mut events, "the accepted offer's close", |e| {
        *e == CoreEvent::OfferClosed {
            offer_id: second,
            reason: agent_core::OfferClosed::Accepted,
        }
    })
    .await;
    assert_eq!(
        notifier.closed.lock().expect("lock").as_slice(),
        [first, second]
    );
    core.wait_for(WAIT, |s| {
        s.offers.is_empty() && s.chat(offer.conversation_id).is_some()
    })
    .await
    .expect("the chat is live here too");
    assert!(matches!(core.accept(second).await, Err(Error::NoSuchOffer)));
    drop(elsewhere);
    core.stop().await;
    service.stop().await.expect("stop");
}

#[tokio::test]
async fn the_outbox_survives_a_killed_service_and_a_restarted_app_and_is_delivered_once_in_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("chat.db");
    let outbox = dir.path().join("app").join("outbox.json");
    create_agents(&db, 1).await;
    let service = ServiceProcess::spawn(&db, "127.0.0.1:0".parse().expect("addr"));
    let url = service.url();
    let token = login(&url, 0).await;
    let mut options = fast(&url, &token);
    options.outbox_path = Some(outbox.clone());
    let core = AgentCore::start(options.clone(), Arc::new(agent_core::notifier::NoNotifier))
        .expect("core");
    core.wait_for(WAIT, connected).await.expect("connected");
    let (mut visitor, chat) = accepted_chat(&core, &url, "Kim").await;
    for i in 0..5 {
        visitor
            .send_text(format!("v{i}"))
            .await
            .expect("visitor message");
    }
    core.wait_for(WAIT, |s| visitor_texts(s, chat).len() == 6)
        .await
        .expect("all visitor messages");

    // The service dies mid-conversation.
    let addr = service.kill();
    core.wait_for(WAIT, |s| {
        matches!(s.connection, ConnectionStatus::Reconnecting { .. })
    })
    .await
    .expect("reconnecting");
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(
            core.send_message(chat, &format!("offline {i}"))
                .await
                .expect("queued"),
        );
    }
    let state = core.state();
    assert_eq!(state.outbox_len, 5);
    assert_eq!(
        state.chat(chat).expect("chat").pending.len(),
        5,
        "queued messages show as pending"
    );

    // The app restarts too: the outbox comes back from disk.
    core.stop().await;
    let core =
        AgentCore::start(options, Arc::new(agent_core::notifier::NoNotifier)).expect("core again");
    assert_eq!(
        core.state().outbox_len,
        5,
        "nothing lost by restarting the app"
    );

    let _service = ServiceProcess::spawn(&db, addr);
    let state = core
        .wait_for(WAIT, |s| {
            connected(s) && s.outbox_len == 0 && s.chat(chat).is_some_and(|c| c.pending.is_empty())
        })
        .await
        .expect("delivered after reconnect");
    let ids: Vec<MessageId> = state
        .chat(chat)
        .expect("chat")
        .messages
        .iter()
        .filter(|m| m.client_id.as_ref().is_some_and(|c| sent.contains(c)))
        .map(|m| m.id)
        .collect();
    assert_eq!(ids.len(), 5, "each queued message once");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("db");
    for (i, id) in sent.iter().enumerate() {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, content_json FROM messages WHERE client_id = ?1")
                .bind(id)
                .fetch_all(&pool)
                .await
                .expect("query");
        assert_eq!(rows.len(), 1, "message {i} stored exactly once");
        assert!(rows[0].1.contains(&format!("offline {i}")));
    }
    let texts = visitor_texts(&state, chat);
    assert_eq!(
        texts.len(),
        6,
        "no visitor message lost or duplicated: {texts:?}"
    );
    core.stop().await;
}

#[tokio::test]
async fn a_thousand_forced_disconnects_lose_and_duplicate_nothing() {
    let (_dir, service) = in_process_service(1).await;
    let proxy = Proxy::start(service.addr).await;
    let token = login(&service.url(), 0).await;
    let mut options = fast(&proxy.url(), &token);
    options.backoff = Backoff {
        base: Duration::from_millis(1),
        max: Duration::from_millis(10),
    };
    let core = AgentCore::start(options, Arc::new(agent_core::notifier::NoNotifier)).expect("core");
    core.wait_for(WAIT, connected).await.expect("connected");
    let (mut visitor, chat) = accepted_chat(&core, &service.url(), "Rounds").await;
    // Subscribed while connected: the next `Connected` event is a reconnect.
    let mut events = core.events();

    let rounds = 1000;
    let mut sent = Vec::new();
    for i in 0..rounds {
        // Cut the agent's connection while traffic flows both ways.
        let id = core
            .send_message(chat, &format!("agent {i}"))
            .await
            .expect("send");
        sent.push(id);
        assert!(proxy.cut() >= 1, "round {i}: a connection was open to cut");
        visitor
            .send_text(format!("visitor {i}"))
            .await
            .expect("visitor message");
        // Wait for the engine to be back before the next cut.
        loop {
            match tokio::time::timeout(WAIT, events.recv()).await {
                Ok(Ok(CoreEvent::Connection {
                    status: ConnectionStatus::Connected,
                })) => break,
                Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                other => panic!("round {i}: no reconnect: {other:?}"),
            }
        }
    }
    let state = core
        .wait_for(WAIT, |s| {
            connected(s) && s.outbox_len == 0 && visitor_texts(s, chat).len() == rounds + 1
        })
        .await
        .expect("everything delivered");
    // Delivered by resuming the event stream, not by a fresh snapshot on every reconnect.
    println!(
        "reconnects: {} resumed, {} from a snapshot (plus the first connection)",
        state.resumed_connections,
        state.snapshot_connections.saturating_sub(1)
    );
    assert!(
        state.resumed_connections >= rounds as u64 * 9 / 10,
        "most reconnects resumed: {} of {rounds}",
        state.resumed_connections
    );
    let texts = visitor_texts(&state, chat);
    let expected: Vec<String> = std::iter::once("hello there".to_owned())
        .chain((0..rounds).map(|i| format!("visitor {i}")))
        .collect();
    assert_eq!(texts, expected, "every visitor message once, in order");
    let c = state.chat(chat).expect("chat");
    let mine: Vec<&Message> = c
        .messages
        .iter()
        .filter(|m| matches!(m.author, Author::Agent { .. }))
        .collect();
    assert_eq!(mine.len(), rounds, "every agent message once");
    for (i, m) in mine.iter().enumerate() {
        assert_eq!(
            m.client_id.as_deref(),
            Some(sent[i].as_str()),
            "agent message {i} in order"
        );
    }
    core.stop().await;
    drop(proxy);
    service.stop().await.expect("stop");
}

#[tokio::test]
async fn logging_out_elsewhere_signs_the_engine_out() {
    let (_dir, service) = in_process_service(1).await;
    let url = service.url();
    let api = ApiClient::new(ServiceUrl::parse(&url).expect("url")).expect("client");
    let (api, res) = api.login(&email(0), PASSWORD).await.expect("login");
    let core = AgentCore::start(
        fast(&url, &res.token),
        Arc::new(agent_core::notifier::NoNotifier),
    )
    .expect("core");
    core.wait_for(WAIT, connected).await.expect("connected");
    api.logout().await.expect("logout");
    core.wait_for(WAIT, |s| {
        matches!(s.connection, ConnectionStatus::SignedOut { .. })
    })
    .await
    .expect("signed out");
    // A revoked token is refused at once on a new engine too.
    let again = AgentCore::start(
        fast(&url, &res.token),
        Arc::new(agent_core::notifier::NoNotifier),
    )
    .expect("core");
    again
        .wait_for(WAIT, |s| {
            matches!(s.connection, ConnectionStatus::SignedOut { .. })
        })
        .await
        .expect("signed out");
    core.stop().await;
    again.stop().await;
    service.stop().await.expect("stop");
}

#[tokio::test]
async fn wrong_url_unreachable_service_and_wrong_password_give_clear_errors() {
    assert!(matches!(
        ServiceUrl::parse("ftp://example.com"),
        Err(Error::BadUrl { .. })
    ));
    // Nothing listens on this port (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dead = ApiClient::new(ServiceUrl::parse(&format!("http://127.0.0.1:{port}")).expect("url"))
        .expect("client");
    match dead.login("a@b.c", "pw").await {
        Err(e @ Error::Unreachable { .. }) => {
            assert!(e.to_string().contains(&port.to_string()), "{e}")
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    let (_dir, service) = in_process_service(1).await;
    let api = ApiClient::new(ServiceUrl::parse(&service.url()).expect("url")).expect("client");
    match api.login(&email(0), "wrong password").await {
        Err(Error::Service(body)) => {
            assert_eq!(body.code, ErrorCode::Unauthorized);
            assert!(body.message.contains("wrong email or password"));
        }
        other => panic!("expected unauthorized, got {other:?}"),
    }
    // A web server that is not a chat service.
    let not_chat =
        ApiClient::new(ServiceUrl::parse(&format!("{}/widget", service.url())).expect("url"))
            .expect("client");
    assert!(not_chat.login(&email(0), PASSWORD).await.is_err());
    service.stop().await.expect("stop");
}

/// A fake service that sends frames no real service would: the engine logs and skips them,
/// resumes on a sequence gap, and never panics.
#[tokio::test]
async fn malformed_or_unexpected_frames_are_skipped_and_a_gap_resumes() {
    use futures_util::{SinkExt, StreamExt};
    use protocol::agent_ws::{AgentCommand, AgentEvent, AgentServerFrame, ReadySnapshot};
    use tokio_tungstenite::tungstenite::Message as Ws;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let availability = |effective| Availability {
        effective,
        source: AvailabilitySource::Schedule,
        scheduled: effective,
        override_status: None,
        override_until: None,
        next_change: None,
    };
    let event = move |seq, effective| {
        serde_json::to_string(&AgentServerFrame::Event {
            seq,
            event: AgentEvent::Availability {
                availability: availability(effective),
            },
        })
        .expect("json")
    };
    let server = tokio::spawn(async move {
        let mut resumes = Vec::new();
        for round in 0..2 {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut ws = tokio_tungstenite::accept_async(tcp)
                .await
                .expect("handshake");
            let hello = match ws.next().await {
                Some(Ok(Ws::Text(t))) => {
                    serde_json::from_str::<AgentCommand>(t.as_str()).expect("hello")
                }
                other => panic!("expected hello, got {other:?}"),
            };
            let AgentCommand::Hello { resume, .. } = hello else {
                panic!("expected hello")
            };
            resumes.push(resume.clone());
            if round == 0 {
                let ready = AgentServerFrame::Ready(ReadySnapshot {
                    protocol: 1,
                    epoch: "fake".into(),
                    seq: 0,
                    agent: AgentProfile {
                        id: AgentId(1),
                        email: "a@b.c".into(),
                        name: "A".into(),
                    },
                    availability: availability(AvailabilityStatus::Unavailable),
                    conversations: vec![],
                    offer: None,
                    heartbeat_secs: 30,
                });
                ws.send(Ws::Text(
                    serde_json::to_string(&ready).expect("json").into(),
                ))
                .await
                .expect("send");
                for junk in [
                    "not json at all",
                    "[1,2,3]",
                    r#"{"type":"martian"}"#,
                    r#"{"type":"event","seq":1,"event":{"kind":"bogus"}}"#,
                ] {
                    ws.send(Ws::Text(junk.into())).await.expect("send junk");
                }
                ws.send(Ws::Binary(vec![0, 159, 146, 150].into()))
                    .await
                    .expect("send binary");
                // Seq 1 was unreadable, so seq 2 is a gap: the engine must resume from 0.
                ws.send(Ws::Text(event(2, AvailabilityStatus::Available).into()))
                    .await
                    .expect("send");
                // Wait for the engine to drop this connection.
                while let Some(Ok(_)) = ws.next().await {}
            } else {
                let resumed = AgentServerFrame::Resumed {
                    epoch: "fake".into(),
                    from_seq: 1,
                    to_seq: 2,
                };
                ws.send(Ws::Text(
                    serde_json::to_string(&resumed).expect("json").into(),
                ))
                .await
                .expect("send");
                ws.send(Ws::Text(event(1, AvailabilityStatus::Unavailable).into()))
                    .await
                    .expect("send");
                ws.send(Ws::Text(event(2, AvailabilityStatus::Available).into()))
                    .await
                    .expect("send");
                while let Some(Ok(_)) = ws.next().await {}
            }
        }
        resumes
    });

    let core = AgentCore::start(
        fast(&format!("http://{addr}"), "token"),
        Arc::new(agent_core::notifier::NoNotifier),
    )
    .expect("core");
    let state = core
        .wait_for(WAIT, |s| {
            connected(s)
                && s.seq == 2
                && s.availability
                    .as_ref()
                    .is_some_and(|a| a.effective == AvailabilityStatus::Available)
        })
        .await
        .expect("resumed and applied both events");
    assert_eq!(state.agent.as_ref().map(|a| a.name.as_str()), Some("A"));
    core.stop().await;
    let resumes = server.await.expect("fake server");
    assert_eq!(resumes[0], None, "first hello starts fresh");
    assert_eq!(
        resumes[1].as_ref().map(|r| (r.epoch.as_str(), r.seq)),
        Some(("fake", 0)),
        "the gap resumes from the last applied event"
    );
}
