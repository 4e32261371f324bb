//! R2 and R7 under concurrency: the live-chat limit and single assignment hold for 100
//! simultaneous accepts and offers; 50 visitors booking one slot give exactly one booking.

mod common;

use std::sync::Arc;

use chat_service::store::{AuthorRef, PostTo, SqliteStore, Store};
use chrono::{Duration, Utc};
use common::*;
use protocol::agent_ws::AgentEvent;
use protocol::rest::BookingRequest;
use protocol::*;

async fn store_with_agents(
    n: usize,
    max_live: u32,
) -> (tempfile::TempDir, Arc<SqliteStore>, Vec<AgentId>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = chat_service::Config::for_db(dir.path().join("chat.db"));
    config.max_live_chats = max_live;
    let agents = create_agents(&config, vec![always_available(); n]).await;
    let store = Arc::new(
        SqliteStore::open(&config.db, false, max_live)
            .await
            .expect("open"),
    );
    (dir, store, agents.into_iter().map(|a| a.id).collect())
}

async fn waiting_chat(store: &SqliteStore, i: usize) -> ConversationId {
    let now = Utc::now();
    let visitor = store
        .create_visitor(
            VisitorInfo {
                name: Some(format!("Visitor {i}")),
                ..Default::default()
            },
            now,
        )
        .await
        .expect("visitor");
    let id = store
        .create_conversation(visitor, ConversationStatus::Waiting, now)
        .await
        .expect("conversation");
    store
        .insert_message(
            id,
            AuthorRef::Visitor,
            &MessageContent::Text { text: "hi".into() },
            None,
            now,
        )
        .await
        .expect("message");
    id
}

#[tokio::test]
async fn a_hundred_simultaneous_accepts_never_exceed_the_limit() {
    let (_dir, store, agents) = store_with_agents(1, 10).await;
    let agent = agents[0];
    let now = Utc::now();
    let mut offers = Vec::new();
    for i in 0..100 {
        let c = waiting_chat(&store, i).await;
        let offer = store
            .create_offer(c, agent, 0, now, now + Duration::minutes(1))
            .await
            .expect("offer");
        offers.push(offer.expect("offer created"));
    }
    let tasks: Vec<_> = offers
        .iter()
        .map(|o| {
            let store = store.clone();
            let id = o.id;
            tokio::spawn(async move { store.accept_offer(id, agent, Utc::now()).await })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => accepted += 1,
            Err(e) => assert_eq!(e.code(), ErrorCode::LimitReached, "{e}"),
        }
    }
    assert_eq!(accepted, 10);
    assert_eq!(
        store.live_counts().await.expect("counts").get(&agent),
        Some(&10)
    );
}

#[tokio::test]
async fn a_hundred_simultaneous_accepts_of_one_offer_assign_it_once() {
    let (_dir, store, agents) = store_with_agents(1, 10).await;
    let c = waiting_chat(&store, 0).await;
    let now = Utc::now();
    let offer = store
        .create_offer(c, agents[0], 0, now, now + Duration::minutes(1))
        .await
        .expect("offer")
        .expect("created");
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let store = store.clone();
            let agent = agents[0];
            tokio::spawn(async move { store.accept_offer(offer.id, agent, Utc::now()).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.expect("task").is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn a_hundred_simultaneous_offers_of_one_chat_open_one() {
    let (_dir, store, agents) = store_with_agents(10, 10).await;
    let c = waiting_chat(&store, 0).await;
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let store = store.clone();
            let agent = agents[i % agents.len()];
            tokio::spawn(async move {
                let now = Utc::now();
                store
                    .create_offer(c, agent, 0, now, now + Duration::minutes(1))
                    .await
            })
        })
        .collect();
    let mut open = 0;
    for t in tasks {
        if t.await.expect("task").expect("no database error").is_some() {
            open += 1;
        }
    }
    assert_eq!(open, 1, "one open offer per conversation");
}

#[tokio::test]
async fn many_visitors_and_eager_agents_never_break_the_limit_or_double_assign() {
    let mut svc = TestService::start_with(3, |c| c.max_live_chats = 5).await;
    let mut handles = Vec::new();
    for i in 0..3 {
        let (_, mut agent) = svc.agent(i).await;
        // Each agent accepts every offer as fast as it can until it is at its limit; then it
        // checks that no further offer was made to it.
        handles.push(tokio::spawn(async move {
            let mut accepted = 0;
            while accepted < 5 {
                let offer = agent
                    .expect_offer(WAIT)
                    .await
                    .expect("an offer while below the limit");
                agent
                    .accept(offer.id)
                    .await
                    .expect("accept below the limit");
                accepted += 1;
            }
            assert_nothing_pending(&mut agent, "agent at its limit", is_offer).await;
            (accepted, agent)
        }));
    }
    let visitors: Vec<_> = (0..40)
        .map(|i| {
            let url = svc.url.clone();
            tokio::spawn(async move {
                let mut v = sim::visitor::VisitorClient::start(&url, Some(&format!("V{i}")), None)
                    .await
                    .expect("visitor");
                v.start_chat(format!("question {i}")).await.expect("start");
                v
            })
        })
        .collect();
    let mut keep = Vec::new();
    for v in visitors {
        keep.push(v.await.expect("visitor task"));
    }
    let mut total = 0;
    let mut agents = Vec::new();
    for h in handles {
        let (accepted, agent) = h.await.expect("agent task");
        total += accepted;
        agents.push(agent);
    }
    assert_eq!(
        total, 15,
        "three agents with a limit of five take fifteen chats"
    );
    let db = svc.db().await;
    let over: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT agent_id FROM conversations WHERE status = 'live' GROUP BY agent_id HAVING count(*) > 5)",
    )
    .fetch_one(&db)
    .await
    .expect("query");
    assert_eq!(over, 0, "no agent above the limit");
    let doubles: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT conversation_id FROM offers WHERE outcome = 'accepted' GROUP BY conversation_id HAVING count(*) > 1)",
    )
    .fetch_one(&db)
    .await
    .expect("query");
    assert_eq!(doubles, 0, "no chat assigned twice");
    let waiting: i64 =
        sqlx::query_scalar("SELECT count(*) FROM conversations WHERE status = 'waiting'")
            .fetch_one(&db)
            .await
            .expect("query");
    assert_eq!(waiting, 25);
    drop((keep, agents));
    svc.stop().await;
}

#[tokio::test]
async fn fifty_visitors_booking_one_slot_give_exactly_one_booking() {
    let mut svc = TestService::start_with(1, |c| c.max_live_chats = 50).await;
    let (_, mut agent) = svc.agent(0).await;
    let calendar = svc.agents[0].id;
    let mut visitors = Vec::new();
    for i in 0..50 {
        let mut v = svc.visitor(&format!("Booker {i}")).await;
        v.start_chat("I'd like a meeting").await.expect("start");
        let offer = next_offer(&mut agent).await;
        agent.accept(offer.id).await.expect("accept");
        agent
            .share_calendar(offer.conversation_id, calendar)
            .await
            .expect("share calendar");
        visitors.push((v, offer.conversation_id));
    }
    let slots = visitors[0]
        .0
        .api()
        .visitor_slots(calendar, Some(7))
        .await
        .expect("slots");
    let slot = slots.slots.first().expect("a free slot").clone();
    let tasks: Vec<_> = visitors
        .iter()
        .map(|(v, conversation_id)| {
            let api = v.api().clone();
            let req = BookingRequest {
                conversation_id: *conversation_id,
                calendar_agent_id: calendar,
                start: slot.start,
            };
            tokio::spawn(async move { api.book(&req).await })
        })
        .collect();
    let mut booked = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(b) => {
                booked += 1;
                assert_eq!(b.start, slot.start);
            }
            Err(e) => assert_eq!(e.code(), Some(ErrorCode::Conflict), "{e}"),
        }
    }
    assert_eq!(booked, 1);
    let db = svc.db().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings")
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(n, 1);
    // The winner's booking is announced to the agent and recorded as an activity.
    agent
        .expect_event(WAIT, |e| matches!(e, AgentEvent::Message { message } if matches!(message.content, MessageContent::Booking { .. })))
        .await
        .expect("agent sees the booking");
    let meetings: i64 =
        sqlx::query_scalar("SELECT count(*) FROM activities WHERE kind = 'meeting_booked'")
            .fetch_one(&db)
            .await
            .expect("count");
    assert_eq!(meetings, 1);
    // The slot is no longer offered.
    let after = visitors[1]
        .0
        .api()
        .visitor_slots(calendar, Some(7))
        .await
        .expect("slots");
    assert!(after.slots.iter().all(|s| s.start != slot.start));
    svc.stop().await;
}

#[tokio::test]
async fn the_same_client_id_sent_ten_times_at_once_is_stored_once() {
    let (_dir, store, agents) = store_with_agents(1, 10).await;
    let conversation = waiting_chat(&store, 0).await;
    let content = MessageContent::Text {
        text: "only once".into(),
    };
    let sends: Vec<_> = (0..10)
        .map(|_| {
            let (store, content) = (store.clone(), content.clone());
            tokio::spawn(async move {
                store
                    .insert_message(
                        conversation,
                        AuthorRef::Visitor,
                        &content,
                        Some("v-1"),
                        Utc::now(),
                    )
                    .await
            })
        })
        .collect();
    let mut stored = Vec::new();
    for send in sends {
        stored.push(send.await.expect("joined").expect("stored"));
    }
    assert_eq!(
        stored.iter().filter(|(_, new)| *new).count(),
        1,
        "one new message"
    );
    assert!(
        stored.iter().all(|(m, _)| m.id == stored[0].0.id),
        "one id for all"
    );
    assert!(
        stored
            .iter()
            .all(|(m, _)| m.client_id.as_deref() == Some("v-1"))
    );
    // The same client id from the agent is another message; no client id is never a retry.
    let (from_agent, new) = store
        .insert_message(
            conversation,
            AuthorRef::Agent(agents[0]),
            &content,
            Some("v-1"),
            Utc::now(),
        )
        .await
        .expect("agent's message");
    assert!(new);
    assert_ne!(from_agent.id, stored[0].0.id);
    for _ in 0..2 {
        let (_, new) = store
            .insert_message(conversation, AuthorRef::Visitor, &content, None, Utc::now())
            .await
            .expect("message without client id");
        assert!(new);
    }
    let page = store
        .messages(conversation, None, 50)
        .await
        .expect("messages");
    // "hi" from waiting_chat, the visitor's once, the agent's, two without client id.
    assert_eq!(page.items.len(), 5);
}

/// A waiting chat of a new visitor, offered to and accepted by `agent`.
async fn live_chat(store: &SqliteStore, i: usize, agent: AgentId) -> ConversationId {
    let c = waiting_chat(store, i).await;
    let now = Utc::now();
    let offer = store
        .create_offer(c, agent, 0, now, now + Duration::minutes(1))
        .await
        .expect("offer")
        .expect("created");
    store
        .accept_offer(offer.id, agent, now)
        .await
        .expect("accepted");
    c
}

#[tokio::test]
async fn post_message_checks_where_it_writes_inside_the_write() {
    let (_dir, store, agents) = store_with_agents(2, 10).await;
    let (a, b) = (agents[0], agents[1]);
    let text = MessageContent::Text {
        text: "hello".into(),
    };
    let conv = live_chat(&store, 0, a).await;
    let visitor = store.conversation(conv).await.expect("row").visitor_id;

    let to_a = PostTo::OwnLiveChat {
        agent: a,
        conversation: conv,
    };
    let (row, message, new) = store
        .post_message(to_a, &text, Some("a-1"), Utc::now())
        .await
        .expect("A writes in A's chat");
    assert!(new);
    assert_eq!(
        (row.id, row.agent_id, row.status),
        (conv, Some(a), ConversationStatus::Live)
    );
    assert_eq!(message.conversation_id, conv);
    let (row, _, new) = store
        .post_message(PostTo::OpenChatOf(visitor), &text, Some("v-1"), Utc::now())
        .await
        .expect("the visitor writes in their open chat");
    assert!(new);
    assert_eq!(row.id, conv);

    let to_b = PostTo::OwnLiveChat {
        agent: b,
        conversation: conv,
    };
    let err = store
        .post_message(to_b, &text, Some("b-1"), Utc::now())
        .await
        .expect_err("B may not write in A's chat");
    assert_eq!(err.code(), ErrorCode::Forbidden, "{err}");
    let missing = PostTo::OwnLiveChat {
        agent: a,
        conversation: ConversationId(9_999),
    };
    let err = store
        .post_message(missing, &text, None, Utc::now())
        .await
        .expect_err("no such conversation");
    assert_eq!(err.code(), ErrorCode::NotFound, "{err}");

    store
        .end_conversation(conv, EndReason::Agent, Utc::now())
        .await
        .expect("ended");
    let err = store
        .post_message(to_a, &text, Some("a-2"), Utc::now())
        .await
        .expect_err("an ended chat is read-only");
    assert_eq!(err.code(), ErrorCode::Conflict, "{err}");
    let err = store
        .post_message(PostTo::OpenChatOf(visitor), &text, Some("v-2"), Utc::now())
        .await
        .expect_err("the visitor has no open chat");
    assert_eq!(err.code(), ErrorCode::Conflict, "{err}");
    // "hi" from waiting_chat and the two that were allowed; nothing from the refused ones.
    let page = store.messages(conv, None, 50).await.expect("messages");
    assert_eq!(page.items.len(), 3);
}

/// The end of a chat and a message into it at the same moment: the message is either stored
/// before the end or refused, never stored into the ended chat (which would also move its
/// activity past the end).
#[tokio::test]
async fn a_message_racing_the_end_of_its_chat_never_lands_after_it() {
    let (_dir, store, agents) = store_with_agents(1, 10).await;
    let agent = agents[0];
    let text = MessageContent::Text {
        text: "last words".into(),
    };
    for i in 0..20 {
        let conv = live_chat(&store, i, agent).await;
        let ended_at = Utc::now();
        let posted_at = ended_at + Duration::seconds(1);
        let end = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .end_conversation(conv, EndReason::Agent, ended_at)
                    .await
            })
        };
        let post = {
            let (store, text) = (store.clone(), text.clone());
            let to = PostTo::OwnLiveChat {
                agent,
                conversation: conv,
            };
            tokio::spawn(async move { store.post_message(to, &text, Some("m"), posted_at).await })
        };
        end.await.expect("joined").expect("ended");
        match post.await.expect("joined") {
            Ok((row, _, new)) => assert!(new && row.status == ConversationStatus::Live),
            Err(e) => assert_eq!(e.code(), ErrorCode::Conflict, "{e}"),
        }
        let summary = store.summary(conv, Some(agent)).await.expect("summary");
        assert_eq!(summary.status, ConversationStatus::Ended);
        assert_eq!(
            summary.last_activity_at.timestamp_millis(),
            ended_at.timestamp_millis(),
            "round {i}: the end is the chat's last activity"
        );
    }
}
