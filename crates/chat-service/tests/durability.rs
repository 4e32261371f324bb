//! Resume after a dropped socket, recovery after `kill -9`, and graceful shutdown (in process and
//! on SIGTERM).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::*;
use protocol::agent_ws::{AgentEvent, AgentServerFrame, ResumeFrom};
use protocol::*;
use sim::agent::AgentClient;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Accepts a chat between agent 0 and a new visitor; returns the conversation id.
async fn live_chat(
    svc: &TestService,
    agent: &mut AgentClient,
    name: &str,
) -> (sim::visitor::VisitorClient, ConversationId) {
    let mut visitor = svc.visitor(name).await;
    visitor.start_chat("hello").await.expect("start");
    let offer = next_offer(agent).await;
    agent.accept(offer.id).await.expect("accept");
    agent
        .expect_event(WAIT, |e| {
            matches!(e, AgentEvent::ConversationStarted { .. })
        })
        .await
        .expect("started");
    (visitor, offer.conversation_id)
}

/// Drains events until `want` visitor messages were seen; returns how often each was seen.
async fn collect_messages(agent: &mut AgentClient, want: usize) -> HashMap<MessageId, usize> {
    let mut seen = HashMap::new();
    while seen.len() < want {
        let (_, ev) = agent
            .expect_event(WAIT, |e| matches!(e, AgentEvent::Message { message } if message.author == Author::Visitor))
            .await
            .expect("message event");
        if let AgentEvent::Message { message } = ev {
            *seen.entry(message.id).or_default() += 1;
        }
    }
    seen
}

#[tokio::test]
async fn a_dropped_agent_socket_resumes_and_gets_every_missed_event_exactly_once() {
    let mut svc = TestService::start(1).await;
    let (api, mut agent) = svc.agent(0).await;
    let token = api.token().expect("token").to_owned();
    let (mut visitor, _) = live_chat(&svc, &mut agent, "Resumer").await;

    // Mid-stream: some messages arrive, then the socket drops without a goodbye.
    let mut acked = Vec::new();
    for i in 0..5 {
        acked.push(
            visitor
                .send_text(format!("before {i}"))
                .await
                .expect("ack")
                .id,
        );
    }
    let before = collect_messages(&mut agent, 5).await;
    let resume: ResumeFrom = agent.resume_point();
    drop(agent);

    // While the agent is away, the visitor goes on; each message is acknowledged.
    let mut missed = Vec::new();
    for i in 0..25 {
        missed.push(
            visitor
                .send_text(format!("while away {i}"))
                .await
                .expect("ack")
                .id,
        );
    }

    let (mut agent, first) = AgentClient::connect(&svc.url, &token, Some(resume.clone()))
        .await
        .expect("reconnect");
    let AgentServerFrame::Resumed {
        from_seq, to_seq, ..
    } = first
    else {
        panic!("expected resumed, got {first:?}")
    };
    assert_eq!(
        from_seq,
        resume.seq + 1,
        "replay starts right after the last processed event"
    );
    assert!(to_seq >= from_seq + 24);
    let after = collect_messages(&mut agent, 25).await;
    for id in &missed {
        assert_eq!(
            after.get(id),
            Some(&1),
            "missed message {id} replayed exactly once"
        );
    }
    assert!(
        before.keys().all(|id| !after.contains_key(id)),
        "nothing from before the drop is replayed"
    );
    // Nothing else is pending: no duplicate arrives after the replay.
    assert_nothing_pending(&mut agent, "after replay", |f| {
        matches!(f, AgentServerFrame::Event { event: AgentEvent::Message { message }, .. } if missed.contains(&message.id))
    })
    .await;
    assert!(
        agent.seq_gaps().is_empty(),
        "sequence numbers are contiguous: {:?}",
        agent.seq_gaps()
    );

    // The live stream goes on after the replay.
    let next = visitor.send_text("back again").await.expect("ack");
    let got = collect_messages(&mut agent, 1).await;
    assert!(got.contains_key(&next.id));
    svc.stop().await;
}

#[tokio::test]
async fn a_resume_from_another_epoch_or_too_far_back_gets_a_fresh_snapshot() {
    let mut svc = TestService::start_with(1, |c| c.resume_buffer = 4).await;
    let (api, mut agent) = svc.agent(0).await;
    let token = api.token().expect("token").to_owned();
    let (mut visitor, conversation) = live_chat(&svc, &mut agent, "Snap").await;
    let resume = agent.resume_point();
    drop(agent);
    for i in 0..10 {
        visitor.send_text(format!("m{i}")).await.expect("ack");
    }
    // Too far behind for a ring of 4 events.
    let (_, first) = AgentClient::connect(&svc.url, &token, Some(resume.clone()))
        .await
        .expect("reconnect");
    let AgentServerFrame::Ready(snapshot) = first else {
        panic!("expected a snapshot, got {first:?}")
    };
    let live = snapshot
        .conversations
        .iter()
        .find(|c| c.summary.id == conversation)
        .expect("live chat in snapshot");
    assert!(
        live.messages
            .iter()
            .any(|m| m.content == MessageContent::Text { text: "m9".into() })
    );
    // Another run of the service.
    let other = ResumeFrom {
        epoch: "some-earlier-run".into(),
        seq: resume.seq,
    };
    let (_, first) = AgentClient::connect(&svc.url, &token, Some(other))
        .await
        .expect("reconnect");
    assert!(matches!(first, AgentServerFrame::Ready(_)));
    svc.stop().await;
}

#[tokio::test]
async fn the_snapshot_carries_the_pending_offer() {
    let mut svc = TestService::start(1).await;
    let (api, mut agent) = svc.agent(0).await;
    let token = api.token().expect("token").to_owned();
    let mut visitor = svc.visitor("Pending").await;
    visitor.start_chat("are you there").await.expect("start");
    let offer = next_offer(&mut agent).await;
    // A second device of the same agent connects: its snapshot shows the open offer.
    let (_, first) = AgentClient::connect(&svc.url, &token, None)
        .await
        .expect("second socket");
    let AgentServerFrame::Ready(snapshot) = first else {
        panic!("expected ready")
    };
    assert_eq!(snapshot.offer.map(|o| o.id), Some(offer.id));
    svc.stop().await;
}

#[tokio::test]
async fn a_retried_command_is_applied_once() {
    let mut svc = TestService::start(1).await;
    let (api, mut agent) = svc.agent(0).await;
    let token = api.token().expect("token").to_owned();
    let (_visitor, conversation) = live_chat(&svc, &mut agent, "Retry").await;
    let first = agent
        .send_text_with_id("client-id-1".into(), conversation, "only once")
        .await
        .expect("ack");
    // The same id again, on the same socket and after a reconnect: same stored message.
    let again = agent
        .send_text_with_id("client-id-1".into(), conversation, "only once")
        .await
        .expect("ack");
    assert_eq!(first.id, again.id);
    drop(agent);
    let (mut agent, _) = AgentClient::connect(&svc.url, &token, None)
        .await
        .expect("reconnect");
    let third = agent
        .send_text_with_id("client-id-1".into(), conversation, "only once")
        .await
        .expect("ack");
    assert_eq!(first.id, third.id);
    let db = svc.db().await;
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages WHERE client_id = 'client-id-1'")
            .fetch_one(&db)
            .await
            .expect("count");
    assert_eq!(n, 1);
    svc.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_closes_sockets_with_going_away() {
    let mut svc = TestService::start(1).await;
    let (_, mut agent) = svc.agent(0).await;
    let stop = tokio::spawn(async move {
        svc.stop().await;
        svc
    });
    let code = loop {
        match agent.next_raw(WAIT).await {
            Ok(WsMessage::Close(frame)) => break frame.map(|f| u16::from(f.code)),
            Ok(_) => continue,
            Err(e) => panic!("expected a close frame, got {e}"),
        }
    };
    assert_eq!(code, Some(1001));
    stop.await.expect("stopped");
}

/// The service binary as a child process, for `kill -9` and SIGTERM.
struct Process {
    child: Child,
    url: String,
}

fn spawn_service(db: &std::path::Path) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chat-service"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--visitor-messages-per-10s",
            "100000",
            "--db",
        ])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn chat-service");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("service printed its address")
            .expect("read stdout");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_owned();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Process { child, url }
}

#[tokio::test]
async fn every_acknowledged_message_survives_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("chat.db");
    let config = chat_service::Config::for_db(&db);
    let agents = create_agents(&config, vec![always_available()]).await;

    let mut process = spawn_service(&db);
    let mut api = sim::http::ApiClient::new(&process.url).expect("api");
    api.login(&agents[0].email, PASSWORD).await.expect("login");
    let token = api.token().expect("token").to_owned();
    let (mut agent, _) = AgentClient::connect(&process.url, &token, None)
        .await
        .expect("agent");
    let mut visitor = sim::visitor::VisitorClient::start(&process.url, Some("Crash"), None)
        .await
        .expect("visitor");
    visitor.start_chat("before the crash").await.expect("start");
    let offer = next_offer(&mut agent).await;
    agent.accept(offer.id).await.expect("accept");
    let mut acked = Vec::new();
    for i in 0..30 {
        acked.push(
            visitor
                .send_text(format!("visitor {i}"))
                .await
                .expect("ack")
                .id,
        );
        acked.push(
            agent
                .send_text(offer.conversation_id, format!("agent {i}"))
                .await
                .expect("ack")
                .id,
        );
    }
    // Kill it hard right after the last acknowledgement.
    process.child.kill().expect("kill -9");
    process.child.wait().expect("reaped");

    let mut process = spawn_service(&db);
    let mut api = sim::http::ApiClient::new(&process.url).expect("api");
    api.login(&agents[0].email, PASSWORD)
        .await
        .expect("login after restart");
    let page = api
        .messages(offer.conversation_id, None, Some(500))
        .await
        .expect("messages");
    let stored: Vec<MessageId> = page.items.iter().map(|m| m.id).collect();
    for id in &acked {
        assert!(
            stored.contains(id),
            "acknowledged message {id} lost in the crash"
        );
    }
    // The chat is still live and usable after the restart.
    let (mut agent, first) = AgentClient::connect(&process.url, api.token().expect("token"), None)
        .await
        .expect("agent");
    let AgentServerFrame::Ready(snapshot) = first else {
        panic!("expected ready")
    };
    assert!(
        snapshot
            .conversations
            .iter()
            .any(|c| c.summary.id == offer.conversation_id)
    );
    agent
        .send_text(offer.conversation_id, "after the crash")
        .await
        .expect("send after restart");
    process.child.kill().expect("kill");
    process.child.wait().expect("reaped");
}

/// Reads frames until the close frame; returns its code (`None` for a close without one).
async fn close_code(
    mut next: impl AsyncFnMut() -> sim::Result<WsMessage>,
    what: &str,
) -> Option<u16> {
    loop {
        match next().await {
            Ok(WsMessage::Close(frame)) => return frame.map(|f| u16::from(f.code)),
            Ok(_) => continue,
            Err(e) => panic!("{what}: expected a close frame, got {e}"),
        }
    }
}

#[tokio::test]
async fn sigterm_closes_both_sockets_with_going_away_exits_0_and_keeps_acknowledged_messages() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("chat.db");
    let config = chat_service::Config::for_db(&db);
    let agents = create_agents(&config, vec![always_available()]).await;

    let process = spawn_service(&db);
    let mut api = sim::http::ApiClient::new(&process.url).expect("api");
    api.login(&agents[0].email, PASSWORD).await.expect("login");
    let token = api.token().expect("token").to_owned();
    let (mut agent, _) = AgentClient::connect(&process.url, &token, None)
        .await
        .expect("agent");
    let mut visitor = sim::visitor::VisitorClient::start(&process.url, Some("Term"), None)
        .await
        .expect("visitor");
    visitor
        .start_chat("before the signal")
        .await
        .expect("start");
    let offer = next_offer(&mut agent).await;
    agent.accept(offer.id).await.expect("accept");
    let mut acked = Vec::new();
    for i in 0..10 {
        acked.push(
            visitor
                .send_text(format!("visitor {i}"))
                .await
                .expect("ack")
                .id,
        );
        acked.push(
            agent
                .send_text(offer.conversation_id, format!("agent {i}"))
                .await
                .expect("ack")
                .id,
        );
    }

    let pid = process.child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM {pid}");

    let agent_code = close_code(async || agent.next_raw(WAIT).await, "agent socket").await;
    assert_eq!(agent_code, Some(1001), "agent socket close code");
    let visitor_code = close_code(async || visitor.next_raw(WAIT).await, "visitor socket").await;
    assert_eq!(visitor_code, Some(1001), "visitor socket close code");

    let mut child = process.child;
    let exit = tokio::time::timeout(WAIT, tokio::task::spawn_blocking(move || child.wait()))
        .await
        .expect("the service exits after SIGTERM")
        .expect("wait task")
        .expect("wait for the child");
    assert!(exit.success(), "exit status after SIGTERM: {exit:?}");

    // Everything acknowledged before the signal is in the database the service closed.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("open db");
    let stored: Vec<i64> = sqlx::query_scalar("SELECT id FROM messages WHERE conversation_id = ?1")
        .bind(offer.conversation_id.0)
        .fetch_all(&pool)
        .await
        .expect("messages");
    for id in &acked {
        assert!(
            stored.contains(&id.0),
            "acknowledged message {id} missing after SIGTERM"
        );
    }
    pool.close().await;
}
