//! The clients against a scripted WebSocket peer (no chat service): handshake headers, hello,
//! queued frames kept in order while a helper waits for its answer, sequence gaps, refused
//! upgrades. Each script runs to completion; the timeouts below are limits, not waits.

// tungstenite's handshake callback fixes the `Result<Response, ErrorResponse>` signature.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::agent_ws::{AgentCommand, AgentEvent, AgentServerFrame, ReadySnapshot, ResumeFrom};
use protocol::rest::VisitorSessionResponse;
use protocol::visitor_ws::{VisitorCommand, VisitorServerFrame};
use protocol::{
    AgentId, AgentProfile, Availability, AvailabilitySource, AvailabilityStatus, ConversationId,
    ErrorBody, ErrorCode, OfferId, VisitorId, VisitorInfo,
};
use sim::{AgentClient, Error, SeqGap, VisitorClient};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderMap, StatusCode};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

const LIMIT: Duration = Duration::from_secs(5);

type Peer = WebSocketStream<TcpStream>;

/// What the fake server saw of the upgrade request.
#[derive(Debug, Clone)]
struct Upgrade {
    path: String,
    headers: HeaderMap,
}

/// Binds 127.0.0.1:0, accepts one WebSocket, runs `script` on it.
async fn serve_one<F, Fut>(script: F) -> (String, JoinHandle<()>)
where
    F: FnOnce(Peer, Upgrade) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    let handle = tokio::spawn(async move {
        let (stream, _) = listener
            .accept()
            .await
            .unwrap_or_else(|e| panic!("accept: {e}"));
        let mut seen = None;
        let peer = tokio_tungstenite::accept_hdr_async(
            stream,
            |req: &Request, res: Response| -> Result<Response, ErrorResponse> {
                seen = Some(Upgrade {
                    path: req.uri().path().to_owned(),
                    headers: req.headers().clone(),
                });
                Ok(res)
            },
        )
        .await
        .unwrap_or_else(|e| panic!("handshake: {e}"));
        let upgrade = seen.unwrap_or_else(|| panic!("no upgrade request seen"));
        script(peer, upgrade).await;
    });
    (format!("http://{addr}"), handle)
}

async fn send<T: serde::Serialize>(peer: &mut Peer, frame: &T) {
    let text = serde_json::to_string(frame).unwrap_or_else(|e| panic!("encode: {e}"));
    peer.send(Message::text(text))
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
}

async fn recv<T: serde::de::DeserializeOwned>(peer: &mut Peer) -> T {
    loop {
        let message = tokio::time::timeout(LIMIT, peer.next())
            .await
            .unwrap_or_else(|_| panic!("peer read timed out"))
            .unwrap_or_else(|| panic!("client hung up"))
            .unwrap_or_else(|e| panic!("read: {e}"));
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap_or_else(|e| panic!("decode {text}: {e}"));
        }
    }
}

fn ready(seq: u64) -> AgentServerFrame {
    AgentServerFrame::Ready(ReadySnapshot {
        protocol: 1,
        epoch: "epoch-1".into(),
        seq,
        agent: AgentProfile {
            id: AgentId(1),
            email: "ada@example.com".into(),
            name: "Ada".into(),
        },
        availability: availability(),
        conversations: vec![],
        offer: None,
        heartbeat_secs: 20,
    })
}

fn availability() -> Availability {
    Availability {
        effective: AvailabilityStatus::Available,
        source: AvailabilitySource::Override,
        scheduled: AvailabilityStatus::Unavailable,
        override_status: Some(AvailabilityStatus::Available),
        override_until: None,
        next_change: None,
    }
}

fn availability_event(seq: u64) -> AgentServerFrame {
    AgentServerFrame::Event {
        seq,
        event: AgentEvent::Availability {
            availability: availability(),
        },
    }
}

#[tokio::test]
async fn agent_hello_buffering_and_sequence_gaps() {
    let (base, server) = serve_one(|mut peer, upgrade| async move {
        assert_eq!(upgrade.path, "/api/v1/agent/ws");
        assert_eq!(
            upgrade
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer tok-1")
        );
        let hello: AgentCommand = recv(&mut peer).await;
        assert_eq!(
            hello,
            AgentCommand::Hello {
                protocol: 1,
                resume: None
            }
        );
        send(&mut peer, &ready(10)).await;
        // An event and noise before the answer to the accept.
        send(&mut peer, &availability_event(11)).await;
        let accept: AgentCommand = recv(&mut peer).await;
        let AgentCommand::Accept { id, offer_id } = accept else {
            panic!("expected accept, got {accept:?}");
        };
        assert_eq!(offer_id, OfferId(5));
        peer.send(Message::Ping(vec![1, 2].into()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        send(&mut peer, &AgentServerFrame::Pong { nonce: Some(9) }).await;
        send(
            &mut peer,
            &AgentServerFrame::Event {
                seq: 12,
                event: AgentEvent::OfferWithdrawn {
                    offer_id: OfferId(5),
                    conversation_id: ConversationId(6),
                    reason: protocol::WithdrawReason::Taken,
                },
            },
        )
        .await;
        send(&mut peer, &AgentServerFrame::Ack { id, message: None }).await;
        // Seq 13 is skipped: the client must notice.
        send(&mut peer, &availability_event(14)).await;
        // A rejected command.
        let end: AgentCommand = recv(&mut peer).await;
        let AgentCommand::EndChat { id, .. } = end else {
            panic!("expected end_chat, got {end:?}");
        };
        send(
            &mut peer,
            &AgentServerFrame::Error {
                id: Some(id),
                error: ErrorBody::new(ErrorCode::Forbidden, "not your chat"),
            },
        )
        .await;
        peer.close(None).await.unwrap_or_else(|e| panic!("{e}"));
    })
    .await;

    let (mut agent, first) = AgentClient::connect(&base, "tok-1", None)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    assert!(matches!(first, AgentServerFrame::Ready(ref s) if s.seq == 10));
    assert_eq!(agent.epoch(), "epoch-1");
    assert_eq!(agent.last_seq(), 10);

    let ack = agent
        .accept(OfferId(5))
        .await
        .unwrap_or_else(|e| panic!("accept: {e}"));
    assert_eq!(ack, None);
    // Both events read while waiting for the ack are still there, in order.
    assert_eq!(agent.buffered().count(), 2);
    let (seq, event) = agent
        .expect_event(LIMIT, |e| matches!(e, AgentEvent::OfferWithdrawn { .. }))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seq, 12);
    assert!(matches!(event, AgentEvent::OfferWithdrawn { .. }));
    let next = agent
        .next_frame(LIMIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next, availability_event(11));
    let next = agent
        .next_frame(LIMIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next, availability_event(14));
    assert_eq!(
        agent.seq_gaps(),
        &[SeqGap {
            expected: 13,
            got: 14
        }]
    );
    assert_eq!(
        agent.resume_point(),
        ResumeFrom {
            epoch: "epoch-1".into(),
            seq: 14
        }
    );

    let err = agent
        .end_chat(ConversationId(6))
        .await
        .err()
        .unwrap_or_else(|| panic!("end_chat should be rejected"));
    assert_eq!(err.code(), Some(ErrorCode::Forbidden));
    assert!(matches!(err, Error::Rejected { id: Some(_), .. }));

    let closed = agent.next_frame(LIMIT).await;
    assert!(
        matches!(closed, Err(Error::Closed { .. })),
        "expected closed, got {closed:?}"
    );
    server.await.unwrap_or_else(|e| panic!("server: {e}"));
}

#[tokio::test]
async fn agent_resume_reports_resumed_and_continues_the_sequence() {
    let (base, server) = serve_one(|mut peer, _| async move {
        let hello: AgentCommand = recv(&mut peer).await;
        assert_eq!(
            hello,
            AgentCommand::Hello {
                protocol: 1,
                resume: Some(ResumeFrom {
                    epoch: "epoch-1".into(),
                    seq: 20
                })
            }
        );
        send(
            &mut peer,
            &AgentServerFrame::Resumed {
                epoch: "epoch-1".into(),
                from_seq: 21,
                to_seq: 22,
            },
        )
        .await;
        send(&mut peer, &availability_event(21)).await;
        send(&mut peer, &availability_event(22)).await;
        // Keep the socket open until the client has read everything.
        let _: AgentCommand = recv(&mut peer).await;
    })
    .await;

    let resume = ResumeFrom {
        epoch: "epoch-1".into(),
        seq: 20,
    };
    let (mut agent, first) = AgentClient::connect(&base, "tok", Some(resume))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    assert!(matches!(
        first,
        AgentServerFrame::Resumed {
            from_seq: 21,
            to_seq: 22,
            ..
        }
    ));
    for want in [21, 22] {
        let (seq, _) = agent
            .expect_event(LIMIT, |_| true)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(seq, want);
    }
    assert!(agent.seq_gaps().is_empty());
    agent
        .typing(ConversationId(1), true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    server.await.unwrap_or_else(|e| panic!("server: {e}"));
}

#[tokio::test]
async fn a_refused_upgrade_becomes_an_api_error() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    let server = tokio::spawn(async move {
        let (stream, _) = listener
            .accept()
            .await
            .unwrap_or_else(|e| panic!("accept: {e}"));
        let refused = tokio_tungstenite::accept_hdr_async(
            stream,
            |_: &Request, _: Response| -> Result<Response, ErrorResponse> {
                let mut res = ErrorResponse::new(Some(
                    r#"{"code":"unauthorized","message":"missing bearer token"}"#.to_owned(),
                ));
                *res.status_mut() = StatusCode::UNAUTHORIZED;
                Err(res)
            },
        )
        .await;
        assert!(refused.is_err());
    });
    let result = AgentClient::connect(&format!("http://{addr}"), "bad", None).await;
    let err = result
        .err()
        .unwrap_or_else(|| panic!("the upgrade should be refused"));
    assert_eq!(err.code(), Some(ErrorCode::Unauthorized), "{err}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    server.await.unwrap_or_else(|e| panic!("server: {e}"));
}

#[tokio::test]
async fn visitor_sends_origin_and_hello_and_tracks_its_conversation() {
    let (base, server) = serve_one(|mut peer, upgrade| async move {
        assert_eq!(upgrade.path, "/api/v1/visitor/ws");
        let origin = upgrade
            .headers
            .get("origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let host = upgrade
            .headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        assert_eq!(origin, host.map(|h| format!("http://{h}")));
        assert!(upgrade.headers.get("authorization").is_none());
        let hello: VisitorCommand = recv(&mut peer).await;
        assert_eq!(
            hello,
            VisitorCommand::Hello {
                protocol: 1,
                token: "vt".into()
            }
        );
        send(
            &mut peer,
            &VisitorServerFrame::Welcome {
                protocol: 1,
                visitor: VisitorInfo {
                    id: VisitorId(3),
                    ..VisitorInfo::default()
                },
                chat: None,
                agents_available: true,
            },
        )
        .await;
        let start: VisitorCommand = recv(&mut peer).await;
        let VisitorCommand::StartChat { id, text } = start else {
            panic!("expected start_chat, got {start:?}");
        };
        assert_eq!(text, "Do you ship to Norway?");
        send(
            &mut peer,
            &VisitorServerFrame::Queued {
                conversation_id: ConversationId(8),
                position: 1,
                agents_available: true,
            },
        )
        .await;
        send(&mut peer, &VisitorServerFrame::Pong {}).await;
        send(&mut peer, &VisitorServerFrame::Ack { id, message: None }).await;
        send(
            &mut peer,
            &VisitorServerFrame::AgentJoined {
                conversation_id: ConversationId(8),
                agent_name: "Ada".into(),
            },
        )
        .await;
        // Raw bad input reaches the peer untouched.
        let raw = tokio::time::timeout(LIMIT, peer.next())
            .await
            .ok()
            .flatten()
            .and_then(Result::ok);
        assert_eq!(
            raw,
            Some(Message::Text(Utf8Bytes::from_static("{not json")))
        );
        peer.close(None).await.unwrap_or_else(|e| panic!("{e}"));
    })
    .await;

    let session = VisitorSessionResponse {
        token: "vt".into(),
        visitor_id: VisitorId(3),
        expires_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
    };
    let mut visitor = VisitorClient::connect(&base, session)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    assert_eq!(
        visitor
            .welcome()
            .map(|w| (w.visitor.id, w.agents_available)),
        Some((VisitorId(3), true))
    );
    assert_eq!(visitor.api().token(), Some("vt"));
    assert_eq!(visitor.conversation_id(), None);

    let ack = visitor
        .start_chat("Do you ship to Norway?")
        .await
        .unwrap_or_else(|e| panic!("start_chat: {e}"));
    assert_eq!(ack, None);
    assert_eq!(visitor.conversation_id(), Some(ConversationId(8)));
    let agent = visitor
        .expect_agent_joined(LIMIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(agent, "Ada");
    let queued = visitor
        .next_frame(LIMIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        queued,
        VisitorServerFrame::Queued { position: 1, .. }
    ));
    visitor
        .send_raw_text("{not json")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let closed = visitor.next_frame(LIMIT).await;
    assert!(
        matches!(closed, Err(Error::Closed { .. })),
        "expected closed, got {closed:?}"
    );
    server.await.unwrap_or_else(|e| panic!("server: {e}"));
}

#[tokio::test]
async fn a_timeout_names_what_was_awaited_and_what_was_buffered() {
    let (base, server) = serve_one(|mut peer, _| async move {
        let _: AgentCommand = recv(&mut peer).await;
        send(&mut peer, &ready(0)).await;
        send(&mut peer, &availability_event(1)).await;
        send(&mut peer, &availability_event(2)).await;
        // Hold the socket open until the client closes it.
        while let Some(Ok(message)) = peer.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
    let (mut agent, _) = AgentClient::connect(&base, "tok", None)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    // Wait for the second event: the first one stays buffered.
    agent
        .expect_frame(LIMIT, |f| {
            matches!(f, AgentServerFrame::Event { seq: 2, .. })
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let err = agent
        .expect_event(Duration::from_millis(1), |e| {
            matches!(e, AgentEvent::Offer { .. })
        })
        .await
        .err()
        .unwrap_or_else(|| panic!("no offer should come"));
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("a matching agent frame"), "{text}");
    assert!(text.contains("1 other frames buffered"), "{text}");
    assert!(text.contains("seq: 1"), "{text}");
    agent.close().await.unwrap_or_else(|e| panic!("close: {e}"));
    server.await.unwrap_or_else(|e| panic!("server: {e}"));
}
