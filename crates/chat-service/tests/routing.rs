//! R2 routing against a real service: one offer at a time, decline/timeout/disconnect move it
//! on, every eligible agent is tried once, fewest live chats then longest since the last offer
//! wins, the queue drains, unavailable agents keep chats.

mod common;

use common::*;
use protocol::agent_ws::AgentEvent;
use protocol::visitor_ws::VisitorServerFrame;
use protocol::*;

#[tokio::test]
async fn an_offer_reaches_exactly_one_agent_and_accepting_connects_both_sides() {
    let mut svc = TestService::start(3).await;
    let (_, a0) = svc.agent(0).await;
    let (_, a1) = svc.agent(1).await;
    let (_, a2) = svc.agent(2).await;
    let mut visitor = svc.visitor("Vera Visitor").await;
    visitor
        .start_chat("Do you ship to Norway?")
        .await
        .expect("start chat");

    let mut agents = vec![a0, a1, a2];
    let (chosen, offer) = first_offer(&mut agents).await;
    assert_eq!(offer.visitor.name.as_deref(), Some("Vera Visitor"));
    assert_eq!(
        offer.first_message.as_deref(),
        Some("Do you ship to Norway?")
    );
    assert!(offer.expires_at > offer.created_at);
    for (i, other) in agents.iter_mut().enumerate().filter(|(i, _)| *i != chosen) {
        assert_nothing_pending(other, &format!("agent {i}"), is_offer).await;
    }

    let agent = &mut agents[chosen];
    agent.accept(offer.id).await.expect("accept");
    let (_, started) = agent
        .expect_event(WAIT, |e| {
            matches!(e, AgentEvent::ConversationStarted { .. })
        })
        .await
        .expect("conversation started");
    let AgentEvent::ConversationStarted { conversation } = started else {
        unreachable!()
    };
    assert_eq!(conversation.summary.id, offer.conversation_id);
    assert_eq!(conversation.summary.status, ConversationStatus::Live);
    visitor
        .expect(WAIT, |f| {
            matches!(f, VisitorServerFrame::AgentJoined { .. })
        })
        .await
        .expect("visitor told the agent joined");

    // Messages both ways, stored before they are acknowledged.
    let sent = agent
        .send_text(offer.conversation_id, "Yes, we do!")
        .await
        .expect("agent message");
    let got = visitor
        .expect_agent_message(WAIT)
        .await
        .expect("visitor receives");
    assert_eq!(got.id, sent.id);
    visitor
        .send_text("Great, thanks")
        .await
        .expect("visitor message");
    let (_, ev) = agent
        .expect_event(WAIT, |e| matches!(e, AgentEvent::Message { message } if matches!(message.author, Author::Visitor)))
        .await
        .expect("agent receives");
    let AgentEvent::Message { message } = ev else {
        unreachable!()
    };
    assert_eq!(
        message.content,
        MessageContent::Text {
            text: "Great, thanks".into()
        }
    );

    let db = svc.db().await;
    let offers: i64 = sqlx::query_scalar("SELECT count(*) FROM offers")
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(offers, 1, "one offer was made");
    svc.stop().await;
}

#[tokio::test]
async fn decline_moves_the_offer_on_and_every_agent_is_tried_once() {
    let mut svc = TestService::start(3).await;
    let mut agents = Vec::new();
    for i in 0..3 {
        agents.push(svc.agent(i).await.1);
    }
    let mut visitor = svc.visitor("Dana").await;
    visitor.start_chat("Hello?").await.expect("start");

    let mut tried = Vec::new();
    for _ in 0..3 {
        // Whoever has the offer now declines it.
        let (i, offer) = first_offer(&mut agents).await;
        assert!(!tried.contains(&i), "agent {i} was offered the chat twice");
        tried.push(i);
        agents[i].decline(offer.id).await.expect("decline");
        agents[i]
            .expect_event(WAIT, |e| {
                matches!(
                    e,
                    AgentEvent::OfferWithdrawn {
                        reason: WithdrawReason::Declined,
                        ..
                    }
                )
            })
            .await
            .expect("withdrawn after decline");
    }
    tried.sort_unstable();
    assert_eq!(tried, [0, 1, 2]);
    // Everyone declined: the visitor waits in the queue; no agent has another offer.
    for (i, agent) in agents.iter_mut().enumerate() {
        assert_nothing_pending(
            agent,
            &format!("agent {i} after everyone declined"),
            is_offer,
        )
        .await;
    }
    let queued = visitor
        .expect(WAIT, |f| matches!(f, VisitorServerFrame::Queued { .. }))
        .await
        .expect("queued");
    assert!(matches!(
        queued,
        VisitorServerFrame::Queued { position: 1, .. }
    ));
    svc.stop().await;
}

/// Waits until one of the agents has an offer; returns its index and the offer.
async fn first_offer(agents: &mut [sim::agent::AgentClient]) -> (usize, Offer) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        for (i, agent) in agents.iter_mut().enumerate() {
            agent.ping(1, WAIT).await.expect("ping");
            if agent.buffered().any(is_offer) {
                return (i, next_offer(agent).await);
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no agent got an offer"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn an_unanswered_offer_times_out_and_moves_to_the_next_agent() {
    let mut svc = TestService::start_with(2, |c| c.offer_timeout_secs = 0.4).await;
    let mut agents = vec![svc.agent(0).await.1, svc.agent(1).await.1];
    let mut visitor = svc.visitor("Tim").await;
    visitor.start_chat("Anyone there?").await.expect("start");
    let (first, offer) = first_offer(&mut agents).await;
    // Nobody answers: the window closes and the other agent gets it.
    agents[first]
        .expect_event(WAIT, |e| {
            matches!(
                e,
                AgentEvent::OfferWithdrawn {
                    reason: WithdrawReason::Expired,
                    ..
                }
            )
        })
        .await
        .expect("expired");
    let second = 1 - first;
    let next = next_offer(&mut agents[second]).await;
    assert_eq!(next.conversation_id, offer.conversation_id);
    assert_ne!(next.id, offer.id);
    // Accepting an expired offer is refused.
    let err = agents[first]
        .accept(offer.id)
        .await
        .expect_err("expired offer cannot be accepted");
    assert_eq!(err.code(), Some(ErrorCode::Conflict));
    agents[second].accept(next.id).await.expect("accept");
    svc.stop().await;
}

#[tokio::test]
async fn disconnecting_moves_the_offer_on() {
    let mut svc = TestService::start(2).await;
    let mut agents = vec![svc.agent(0).await.1, svc.agent(1).await.1];
    let mut visitor = svc.visitor("Dee").await;
    visitor.start_chat("Hi").await.expect("start");
    let (first, offer) = first_offer(&mut agents).await;
    let gone = agents.remove(first);
    gone.close().await.expect("close");
    let next = next_offer(&mut agents[0]).await;
    assert_eq!(next.conversation_id, offer.conversation_id);
    svc.stop().await;
}

#[tokio::test]
async fn the_queue_drains_as_an_agent_frees_up() {
    let mut svc = TestService::start_with(1, |c| c.max_live_chats = 1).await;
    let (_, mut agent) = svc.agent(0).await;
    let mut v1 = svc.visitor("First").await;
    v1.start_chat("one").await.expect("start");
    let o1 = next_offer(&mut agent).await;
    agent.accept(o1.id).await.expect("accept first");

    // At the limit: the next two visitors queue with positions.
    let mut v2 = svc.visitor("Second").await;
    v2.start_chat("two").await.expect("start");
    let mut v3 = svc.visitor("Third").await;
    v3.start_chat("three").await.expect("start");
    let q2 = v2
        .expect(WAIT, |f| matches!(f, VisitorServerFrame::Queued { .. }))
        .await
        .expect("queued");
    assert!(
        matches!(
            q2,
            VisitorServerFrame::Queued {
                position: 1,
                agents_available: true,
                ..
            }
        ),
        "{q2:?}"
    );
    let q3 = v3
        .expect(WAIT, |f| {
            matches!(f, VisitorServerFrame::Queued { position: 2, .. })
        })
        .await;
    assert!(q3.is_ok(), "third visitor is second in the queue");
    assert_nothing_pending(&mut agent, "agent at the limit", is_offer).await;

    // Ending the chat frees a slot: the oldest waiting visitor is offered next.
    agent.end_chat(o1.conversation_id).await.expect("end");
    let o2 = next_offer(&mut agent).await;
    assert_eq!(o2.first_message.as_deref(), Some("two"));
    agent.accept(o2.id).await.expect("accept second");
    v3.expect(WAIT, |f| {
        matches!(f, VisitorServerFrame::Queued { position: 1, .. })
    })
    .await
    .expect("moved up");
    svc.stop().await;
}

#[tokio::test]
async fn fewest_live_chats_first() {
    let mut svc = TestService::start(2).await;
    let mut agents = vec![svc.agent(0).await.1, svc.agent(1).await.1];
    let mut v1 = svc.visitor("One").await;
    v1.start_chat("first").await.expect("start");
    let (busy, o1) = first_offer(&mut agents).await;
    agents[busy].accept(o1.id).await.expect("accept");
    // The other agent has fewer live chats, so the next chat goes there.
    let mut v2 = svc.visitor("Two").await;
    v2.start_chat("second").await.expect("start");
    let idle = 1 - busy;
    let o2 = next_offer(&mut agents[idle]).await;
    assert_eq!(o2.first_message.as_deref(), Some("second"));
    assert_nothing_pending(&mut agents[busy], "busier agent", is_offer).await;
    svc.stop().await;
}

#[tokio::test]
async fn equal_live_chats_go_to_the_agent_longest_since_their_last_offer() {
    let mut svc = TestService::start(2).await;
    let mut agents = vec![svc.agent(0).await.1, svc.agent(1).await.1];
    let mut got = Vec::new();
    for i in 0..4 {
        let mut visitor = svc.visitor(&format!("Turn {i}")).await;
        visitor
            .start_chat(format!("chat {i}"))
            .await
            .expect("start");
        let (who, offer) = first_offer(&mut agents).await;
        assert_eq!(offer.first_message, Some(format!("chat {i}")));
        assert_nothing_pending(&mut agents[1 - who], "the other agent", is_offer).await;
        // Accept and end it, so both agents are back to no live chats for the next one.
        agents[who].accept(offer.id).await.expect("accept");
        agents[who]
            .end_chat(offer.conversation_id)
            .await
            .expect("end");
        got.push(who);
    }
    assert_eq!(
        got,
        vec![got[0], 1 - got[0], got[0], 1 - got[0]],
        "offers alternate between two idle agents"
    );
    svc.stop().await;
}

#[tokio::test]
async fn an_unavailable_agent_keeps_live_chats_and_gets_no_offers() {
    let mut svc = TestService::start(1).await;
    let (api, mut agent) = svc.agent(0).await;
    let mut v1 = svc.visitor("Keeper").await;
    v1.start_chat("stay with me").await.expect("start");
    let o1 = next_offer(&mut agent).await;
    agent.accept(o1.id).await.expect("accept");

    agent
        .set_availability(Some(AvailabilityStatus::Unavailable))
        .await
        .expect("toggle");
    let (_, ev) = agent
        .expect_event(WAIT, |e| matches!(e, AgentEvent::Availability { .. }))
        .await
        .expect("availability pushed");
    let AgentEvent::Availability { availability } = ev else {
        unreachable!()
    };
    assert_eq!(availability.effective, AvailabilityStatus::Unavailable);
    assert_eq!(availability.source, AvailabilitySource::Override);
    assert!(availability.override_until.is_some());

    // The live chat goes on.
    agent
        .send_text(o1.conversation_id, "still here")
        .await
        .expect("send while unavailable");
    v1.expect_agent_message(WAIT)
        .await
        .expect("visitor receives");
    let active = api
        .conversations(protocol::rest::ConversationScope::Active, None, None, None)
        .await
        .expect("list");
    assert_eq!(active.items.len(), 1);

    // A new visitor is queued, told nobody is available, and may leave a message.
    let mut v2 = svc.visitor("Later").await;
    v2.start_chat("hello?").await.expect("start");
    let q = v2
        .expect(WAIT, |f| matches!(f, VisitorServerFrame::Queued { .. }))
        .await
        .expect("queued");
    assert!(
        matches!(
            q,
            VisitorServerFrame::Queued {
                agents_available: false,
                ..
            }
        ),
        "{q:?}"
    );
    assert_nothing_pending(&mut agent, "unavailable agent", is_offer).await;

    // Becoming available again routes the waiting chat.
    agent
        .set_availability(Some(AvailabilityStatus::Available))
        .await
        .expect("toggle back");
    let o2 = next_offer(&mut agent).await;
    assert_eq!(o2.first_message.as_deref(), Some("hello?"));
    svc.stop().await;
}

#[tokio::test]
async fn leaving_a_message_creates_a_conversation_every_agent_sees() {
    let mut svc =
        TestService::start_with_settings(vec![never_scheduled(), never_scheduled()], |_| {}).await;
    let (api0, mut a0) = svc.agent(0).await;
    let (api1, _a1) = svc.agent(1).await;
    let mut visitor = svc.visitor("Nightowl").await;
    visitor.start_chat("anyone?").await.expect("start");
    let q = visitor
        .expect(WAIT, |f| matches!(f, VisitorServerFrame::Queued { .. }))
        .await
        .expect("queued");
    assert!(matches!(
        q,
        VisitorServerFrame::Queued {
            agents_available: false,
            ..
        }
    ));
    visitor
        .leave_message("Please call me tomorrow about pricing.")
        .await
        .expect("leave message");
    visitor
        .expect(WAIT, |f| {
            matches!(f, VisitorServerFrame::MessageLeft { .. })
        })
        .await
        .expect("confirmed");
    let (_, ev) = a0
        .expect_event(WAIT, |e| matches!(e, AgentEvent::MessageLeft { .. }))
        .await
        .expect("agents are told");
    let AgentEvent::MessageLeft { conversation } = ev else {
        unreachable!()
    };
    assert_eq!(conversation.status, ConversationStatus::LeftMessage);
    for api in [&api0, &api1] {
        let all = api
            .conversations(protocol::rest::ConversationScope::All, None, None, None)
            .await
            .expect("all");
        let found = all
            .items
            .iter()
            .find(|c| c.id == conversation.id)
            .expect("left message listed in All");
        assert_eq!(found.status, ConversationStatus::LeftMessage);
        let active = api
            .conversations(protocol::rest::ConversationScope::Active, None, None, None)
            .await
            .expect("active");
        assert!(active.items.is_empty());
    }
    svc.stop().await;
}

#[tokio::test]
async fn an_inactive_chat_ends_by_itself() {
    let mut svc = TestService::start_with(1, |c| c.inactivity_timeout_secs = 0.5).await;
    let (_, mut agent) = svc.agent(0).await;
    let mut visitor = svc.visitor("Quiet").await;
    visitor.start_chat("hi").await.expect("start");
    let offer = next_offer(&mut agent).await;
    agent.accept(offer.id).await.expect("accept");
    let (_, ev) = agent
        .expect_event(WAIT, |e| matches!(e, AgentEvent::ConversationEnded { .. }))
        .await
        .expect("ended for inactivity");
    assert!(matches!(
        ev,
        AgentEvent::ConversationEnded {
            reason: EndReason::Inactivity,
            ..
        }
    ));
    visitor
        .expect(WAIT, |f| {
            matches!(
                f,
                VisitorServerFrame::ChatEnded {
                    reason: EndReason::Inactivity,
                    ..
                }
            )
        })
        .await
        .expect("visitor told");
    svc.stop().await;
}

/// R1: when the agent's schedule block ends, the service pushes `availability` on the socket by
/// itself. Schedules have minute granularity and the service takes no injected clock, so the
/// block ends at the next minute boundary at least 5 s away: this test waits up to ~65 s.
#[tokio::test]
async fn a_schedule_boundary_pushes_availability_without_any_command() {
    use chat_service::availability::weekday_of;
    use chrono::{Datelike, Duration, Timelike, Utc};

    let now = Utc::now();
    let mut end = now
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .expect("whole minute")
        + Duration::minutes(1);
    if end - now < Duration::seconds(5) {
        end += Duration::minutes(1);
    }
    // On duty (UTC) from the start of today until `end`, with no gap before it.
    let mut schedule = Vec::new();
    if end.hour() == 0 && end.minute() == 0 {
        schedule.push(TimeBlock::new(weekday_of(now.weekday()), "00:00", "24:00"));
    } else {
        if end.date_naive() != now.date_naive() {
            schedule.push(TimeBlock::new(weekday_of(now.weekday()), "00:00", "24:00"));
        }
        let hhmm = format!("{:02}:{:02}", end.hour(), end.minute());
        schedule.push(TimeBlock::new(weekday_of(end.weekday()), "00:00", &hhmm));
    }
    let settings = AgentSettings {
        time_zone: "UTC".to_owned(),
        schedule,
        ..always_available()
    };
    let mut svc = TestService::start_with_settings(vec![settings], |_| {}).await;
    let api = svc.login(0).await;
    let (mut agent, first) =
        sim::agent::AgentClient::connect(&svc.url, api.token().expect("token"), None)
            .await
            .expect("agent socket");
    let protocol::agent_ws::AgentServerFrame::Ready(ready) = first else {
        panic!("expected ready, got {first:?}")
    };
    assert_eq!(ready.availability.effective, AvailabilityStatus::Available);
    assert_eq!(ready.availability.next_change, Some(end), "the block's end");

    // Nothing is sent from here on: only reading the socket.
    let wait = (end - Utc::now()).to_std().unwrap_or_default() + WAIT;
    let (_, event) = agent
        .expect_event(wait, |e| {
            matches!(e, AgentEvent::Availability { availability }
                if availability.effective == AvailabilityStatus::Unavailable)
        })
        .await
        .expect("availability pushed at the block's end");
    assert!(Utc::now() >= end, "pushed at the boundary, not before");
    let AgentEvent::Availability { availability } = event else {
        unreachable!()
    };
    assert_eq!(availability.source, AvailabilitySource::Schedule);
    assert_eq!(availability.scheduled, AvailabilityStatus::Unavailable);
    svc.stop().await;
}
