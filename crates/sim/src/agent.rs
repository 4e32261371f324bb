//! A typed client for the agent WebSocket (`GET /api/v1/agent/ws`).
//!
//! The client reads only when asked. Frames read while a helper waits for a different one
//! (an `ack` while [`AgentClient::expect_event`] looks for an offer, say) are kept, in order,
//! and handed out by later calls, so helpers can be combined without losing frames.

use std::time::Duration;

use protocol::PROTOCOL_VERSION;
use protocol::agent_ws::{AgentCommand, AgentEvent, AgentServerFrame, ReadySnapshot, ResumeFrom};
use protocol::{
    AgentId, AvailabilityStatus, ClientId, ConversationId, Message, MessageId, OfferId,
};
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::{self, Bytes};

use crate::error::{Error, Result};
use crate::http::{ApiClient, BaseUrl};
use crate::ws::{FrameSocket, Wait, new_client_id};

pub const AGENT_WS_PATH: &str = "/api/v1/agent/ws";

/// Default time the convenience helpers wait for an answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// An event's sequence number that did not follow the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqGap {
    pub expected: u64,
    pub got: u64,
}

pub struct AgentClient {
    socket: FrameSocket<AgentServerFrame>,
    epoch: String,
    last_seq: u64,
    gaps: Vec<SeqGap>,
    timeout: Duration,
}

impl AgentClient {
    /// Connects with `Authorization: Bearer <token>` on the upgrade, sends `hello` (resuming
    /// when `resume` is given) and returns the answer: `ready` or `resumed`. An `error` frame
    /// in answer becomes [`Error::Rejected`]; a refused upgrade becomes [`Error::Api`].
    pub async fn connect(
        base_url: &str,
        token: &str,
        resume: Option<ResumeFrom>,
    ) -> Result<(AgentClient, AgentServerFrame)> {
        let mut client = Self::connect_raw(base_url, Some(token)).await?;
        client
            .socket
            .send_json(&AgentCommand::Hello {
                protocol: PROTOCOL_VERSION,
                resume: resume.clone(),
            })
            .await?;
        let wait = Wait::new(client.timeout);
        let first = client.socket.recv(wait, "ready or resumed").await?;
        match &first {
            AgentServerFrame::Ready(snapshot) => {
                client.epoch = snapshot.epoch.clone();
                client.last_seq = snapshot.seq;
            }
            AgentServerFrame::Resumed {
                epoch, from_seq, ..
            } => {
                client.epoch = epoch.clone();
                client.last_seq = from_seq.saturating_sub(1);
                if let Some(resume) = &resume
                    && resume.seq.saturating_add(1) != *from_seq
                {
                    client.gaps.push(SeqGap {
                        expected: resume.seq.saturating_add(1),
                        got: *from_seq,
                    });
                }
            }
            AgentServerFrame::Error { id, error } => {
                return Err(Error::Rejected {
                    id: id.clone(),
                    error: error.clone(),
                });
            }
            other => {
                return Err(Error::Unexpected(format!(
                    "expected ready or resumed after hello, got {other:?}"
                )));
            }
        }
        Ok((client, first))
    }

    /// Signs in over REST and connects without resuming: the usual start of a test.
    /// Returns the client, its `ready` snapshot and a REST client carrying the token.
    pub async fn login(
        base_url: &str,
        email: &str,
        password: &str,
    ) -> Result<(AgentClient, ReadySnapshot, ApiClient)> {
        let mut api = ApiClient::new(base_url)?;
        let response = api.login(email, password).await?;
        let (client, first) = Self::connect(base_url, &response.token, None).await?;
        match first {
            AgentServerFrame::Ready(snapshot) => Ok((client, snapshot, api)),
            other => Err(Error::Unexpected(format!(
                "expected ready after a fresh hello, got {other:?}"
            ))),
        }
    }

    /// Opens the socket (with the bearer token when given) without sending `hello`, for tests
    /// of the handshake itself.
    pub async fn connect_raw(base_url: &str, token: Option<&str>) -> Result<AgentClient> {
        let url = BaseUrl::parse(base_url)?.ws(AGENT_WS_PATH)?;
        let headers = token
            .map(|t| (AUTHORIZATION, format!("Bearer {t}")))
            .into_iter()
            .collect();
        let socket = FrameSocket::connect(url, headers, "agent frame").await?;
        Ok(AgentClient {
            socket,
            epoch: String::new(),
            last_seq: 0,
            gaps: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Changes how long the convenience helpers ([`AgentClient::accept`], ...) wait.
    pub fn set_default_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The epoch of the `ready` (or `resumed`) this connection started from.
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// The last event sequence read from the socket (buffered or handed out), or the
    /// snapshot's sequence when no event came yet.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Where a reconnect should resume from.
    pub fn resume_point(&self) -> ResumeFrom {
        ResumeFrom {
            epoch: self.epoch.clone(),
            seq: self.last_seq,
        }
    }

    /// Event sequences that did not follow on from the previous one. Empty when the service
    /// kept its promise.
    pub fn seq_gaps(&self) -> &[SeqGap] {
        &self.gaps
    }

    /// Frames read but not yet handed out.
    pub fn buffered(&self) -> impl Iterator<Item = &AgentServerFrame> {
        self.socket.pending()
    }

    pub async fn send(&mut self, command: &AgentCommand) -> Result<()> {
        self.socket.send_json(command).await
    }

    /// Sends any text frame as is (for bad-input tests).
    pub async fn send_raw_text(&mut self, text: impl Into<String>) -> Result<()> {
        self.socket
            .send_raw(tungstenite::Message::text(text.into()))
            .await
    }

    /// Sends any binary frame as is (for bad-input tests).
    pub async fn send_raw_binary(&mut self, bytes: impl Into<Bytes>) -> Result<()> {
        self.socket
            .send_raw(tungstenite::Message::binary(bytes))
            .await
    }

    /// Sends any WebSocket message, control frames included.
    pub async fn send_raw(&mut self, message: tungstenite::Message) -> Result<()> {
        self.socket.send_raw(message).await
    }

    /// The next WebSocket message of any kind from the wire, bypassing the frame queue (to
    /// see close frames and pings in tests).
    pub async fn next_raw(&mut self, timeout: Duration) -> Result<tungstenite::Message> {
        self.socket.next_message(Wait::new(timeout)).await
    }

    /// The next frame from the wire, pongs included, keeping track of event sequences.
    async fn recv_observed(&mut self, wait: Wait, waiting_for: &str) -> Result<AgentServerFrame> {
        let frame = self.socket.recv(wait, waiting_for).await?;
        if let AgentServerFrame::Event { seq, .. } = &frame {
            let expected = self.last_seq.saturating_add(1);
            if *seq != expected {
                self.gaps.push(SeqGap {
                    expected,
                    got: *seq,
                });
            }
            self.last_seq = self.last_seq.max(*seq);
        }
        Ok(frame)
    }

    /// The next frame from the wire, skipping pongs.
    async fn read(&mut self, wait: Wait, waiting_for: &str) -> Result<AgentServerFrame> {
        loop {
            let frame = self.recv_observed(wait, waiting_for).await?;
            if !matches!(frame, AgentServerFrame::Pong { .. }) {
                return Ok(frame);
            }
        }
    }

    /// The next frame (queued first, then from the wire), skipping `pong`s.
    pub async fn next_frame(&mut self, timeout: Duration) -> Result<AgentServerFrame> {
        if let Some(frame) = self.socket.take_pending() {
            return Ok(frame);
        }
        self.read(Wait::new(timeout), "the next agent frame").await
    }

    /// The first frame matching `predicate`; frames before it stay queued for later calls.
    pub async fn expect_frame(
        &mut self,
        timeout: Duration,
        mut predicate: impl FnMut(&AgentServerFrame) -> bool,
    ) -> Result<AgentServerFrame> {
        if let Some(frame) = self.socket.take_pending_matching(&mut predicate) {
            return Ok(frame);
        }
        let wait = Wait::new(timeout);
        loop {
            let frame = self.read(wait, "a matching agent frame").await?;
            if predicate(&frame) {
                return Ok(frame);
            }
            self.socket.push_pending(frame)?;
        }
    }

    /// The first event matching `predicate`, with its sequence number; other frames stay
    /// queued.
    pub async fn expect_event(
        &mut self,
        timeout: Duration,
        mut predicate: impl FnMut(&AgentEvent) -> bool,
    ) -> Result<(u64, AgentEvent)> {
        let frame = self
            .expect_frame(
                timeout,
                |frame| matches!(frame, AgentServerFrame::Event { event, .. } if predicate(event)),
            )
            .await?;
        match frame {
            AgentServerFrame::Event { seq, event } => Ok((seq, event)),
            other => Err(Error::Unexpected(format!("{other:?}"))),
        }
    }

    /// Waits for the next `offer` event.
    pub async fn expect_offer(&mut self, timeout: Duration) -> Result<protocol::Offer> {
        match self
            .expect_event(timeout, |e| matches!(e, AgentEvent::Offer { .. }))
            .await?
        {
            (_, AgentEvent::Offer { offer }) => Ok(offer),
            (_, other) => Err(Error::Unexpected(format!("{other:?}"))),
        }
    }

    /// Sends a command that carries an id and waits for the `ack` or `error` with that id.
    /// Returns the ack's message (for `send_message` and `share_calendar`); an `error` becomes
    /// [`Error::Rejected`].
    pub async fn command(&mut self, command: AgentCommand) -> Result<Option<Message>> {
        let id = command_id(&command)
            .ok_or_else(|| {
                Error::Unexpected(format!("{command:?} carries no id; use send() instead"))
            })?
            .clone();
        self.send(&command).await?;
        self.wait_for_answer(&id, self.timeout).await
    }

    /// Waits for the `ack` or `error` answering command `id`.
    pub async fn wait_for_answer(
        &mut self,
        id: &str,
        timeout: Duration,
    ) -> Result<Option<Message>> {
        let frame = self
            .expect_frame(timeout, |frame| match frame {
                AgentServerFrame::Ack { id: got, .. } => got == id,
                AgentServerFrame::Error { id: Some(got), .. } => got == id,
                _ => false,
            })
            .await?;
        match frame {
            AgentServerFrame::Ack { message, .. } => Ok(message),
            AgentServerFrame::Error { id, error } => Err(Error::Rejected { id, error }),
            other => Err(Error::Unexpected(format!("{other:?}"))),
        }
    }

    pub async fn accept(&mut self, offer_id: OfferId) -> Result<Option<Message>> {
        self.command(AgentCommand::Accept {
            id: new_client_id(),
            offer_id,
        })
        .await
    }

    pub async fn decline(&mut self, offer_id: OfferId) -> Result<Option<Message>> {
        self.command(AgentCommand::Decline {
            id: new_client_id(),
            offer_id,
        })
        .await
    }

    /// Sends a text message and returns the stored message from the ack.
    pub async fn send_text(
        &mut self,
        conversation_id: ConversationId,
        text: impl Into<String>,
    ) -> Result<Message> {
        let id = new_client_id();
        self.send_text_with_id(id, conversation_id, text).await
    }

    /// As [`AgentClient::send_text`] with a chosen client id (to test retries).
    pub async fn send_text_with_id(
        &mut self,
        id: ClientId,
        conversation_id: ConversationId,
        text: impl Into<String>,
    ) -> Result<Message> {
        self.command(AgentCommand::SendMessage {
            id,
            conversation_id,
            text: text.into(),
        })
        .await?
        .ok_or_else(|| Error::Unexpected("the send_message ack carries no message".into()))
    }

    pub async fn typing(&mut self, conversation_id: ConversationId, typing: bool) -> Result<()> {
        self.send(&AgentCommand::Typing {
            conversation_id,
            typing,
        })
        .await
    }

    pub async fn mark_read(
        &mut self,
        conversation_id: ConversationId,
        message_id: MessageId,
    ) -> Result<()> {
        self.command(AgentCommand::MarkRead {
            id: new_client_id(),
            conversation_id,
            message_id,
        })
        .await
        .map(drop)
    }

    pub async fn end_chat(&mut self, conversation_id: ConversationId) -> Result<()> {
        self.command(AgentCommand::EndChat {
            id: new_client_id(),
            conversation_id,
        })
        .await
        .map(drop)
    }

    /// Sets the manual toggle (`None` returns to the schedule).
    pub async fn set_availability(&mut self, status: Option<AvailabilityStatus>) -> Result<()> {
        self.command(AgentCommand::SetAvailability {
            id: new_client_id(),
            status,
        })
        .await
        .map(drop)
    }

    /// Shares `calendar_agent_id`'s calendar into the chat; returns the stored message.
    pub async fn share_calendar(
        &mut self,
        conversation_id: ConversationId,
        calendar_agent_id: AgentId,
    ) -> Result<Message> {
        self.command(AgentCommand::ShareCalendar {
            id: new_client_id(),
            conversation_id,
            calendar_agent_id,
        })
        .await?
        .ok_or_else(|| Error::Unexpected("the share_calendar ack carries no message".into()))
    }

    /// Sends a protocol `ping` and waits for the `pong` with the same nonce.
    pub async fn ping(&mut self, nonce: u64, timeout: Duration) -> Result<()> {
        self.send(&AgentCommand::Ping { nonce: Some(nonce) })
            .await?;
        let wait = Wait::new(timeout);
        loop {
            match self.recv_observed(wait, "pong").await? {
                AgentServerFrame::Pong { nonce: Some(n) } if n == nonce => return Ok(()),
                AgentServerFrame::Pong { .. } => {}
                other => self.socket.push_pending(other)?,
            }
        }
    }

    /// Closes the socket with a close handshake.
    pub async fn close(mut self) -> Result<()> {
        self.socket.close().await
    }
}

/// The client id a command carries, if it carries one.
pub fn command_id(command: &AgentCommand) -> Option<&ClientId> {
    match command {
        AgentCommand::Accept { id, .. }
        | AgentCommand::Decline { id, .. }
        | AgentCommand::SendMessage { id, .. }
        | AgentCommand::MarkRead { id, .. }
        | AgentCommand::EndChat { id, .. }
        | AgentCommand::SetAvailability { id, .. }
        | AgentCommand::ShareCalendar { id, .. } => Some(id),
        AgentCommand::Hello { .. } | AgentCommand::Ping { .. } | AgentCommand::Typing { .. } => {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::{
        AgentProfile, Availability, AvailabilitySource, ErrorBody, ErrorCode, Offer, VisitorId,
        VisitorInfo,
    };
    use serde_json::json;

    use super::*;

    fn round_trip<T>(value: &T) -> T
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        let text = serde_json::to_string(value).unwrap_or_else(|e| panic!("encode: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("decode {text}: {e}"))
    }

    #[test]
    fn hello_encodes_as_the_protocol_says() {
        let hello = AgentCommand::Hello {
            protocol: PROTOCOL_VERSION,
            resume: None,
        };
        assert_eq!(
            serde_json::to_value(&hello).ok(),
            Some(json!({"type": "hello", "protocol": 1}))
        );
        let resume = AgentCommand::Hello {
            protocol: PROTOCOL_VERSION,
            resume: Some(ResumeFrom {
                epoch: "e1".into(),
                seq: 41,
            }),
        };
        assert_eq!(
            serde_json::to_value(&resume).ok(),
            Some(json!({"type": "hello", "protocol": 1, "resume": {"epoch": "e1", "seq": 41}}))
        );
        assert_eq!(round_trip(&resume), resume);
    }

    #[test]
    fn commands_round_trip_and_carry_their_ids() {
        let commands = [
            AgentCommand::Accept {
                id: "a".into(),
                offer_id: OfferId(3),
            },
            AgentCommand::Decline {
                id: "b".into(),
                offer_id: OfferId(3),
            },
            AgentCommand::SendMessage {
                id: "c".into(),
                conversation_id: ConversationId(9),
                text: "<b>hi</b> ✓".into(),
            },
            AgentCommand::MarkRead {
                id: "d".into(),
                conversation_id: ConversationId(9),
                message_id: MessageId(100),
            },
            AgentCommand::EndChat {
                id: "e".into(),
                conversation_id: ConversationId(9),
            },
            AgentCommand::SetAvailability {
                id: "f".into(),
                status: None,
            },
            AgentCommand::ShareCalendar {
                id: "g".into(),
                conversation_id: ConversationId(9),
                calendar_agent_id: AgentId(2),
            },
        ];
        for (command, id) in commands.iter().zip(["a", "b", "c", "d", "e", "f", "g"]) {
            assert_eq!(&round_trip(command), command);
            assert_eq!(command_id(command).map(String::as_str), Some(id));
        }
        let typing = AgentCommand::Typing {
            conversation_id: ConversationId(9),
            typing: true,
        };
        assert_eq!(command_id(&typing), None);
        assert_eq!(
            serde_json::to_value(&typing).ok(),
            Some(json!({"type": "typing", "conversation_id": 9, "typing": true}))
        );
        let ping = AgentCommand::Ping { nonce: None };
        assert_eq!(
            serde_json::to_value(&ping).ok(),
            Some(json!({"type": "ping"}))
        );
    }

    #[test]
    fn server_frames_decode_from_wire_json() {
        let ready: AgentServerFrame = serde_json::from_value(json!({
            "type": "ready",
            "protocol": 1,
            "epoch": "ep",
            "seq": 7,
            "agent": {"id": 1, "email": "ada@example.com", "name": "Ada"},
            "availability": {"effective": "available", "source": "schedule", "scheduled": "available"},
            "conversations": [],
            "heartbeat_secs": 20
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let expected = AgentServerFrame::Ready(ReadySnapshot {
            protocol: 1,
            epoch: "ep".into(),
            seq: 7,
            agent: AgentProfile {
                id: AgentId(1),
                email: "ada@example.com".into(),
                name: "Ada".into(),
            },
            availability: Availability {
                effective: AvailabilityStatus::Available,
                source: AvailabilitySource::Schedule,
                scheduled: AvailabilityStatus::Available,
                override_status: None,
                override_until: None,
                next_change: None,
            },
            conversations: vec![],
            offer: None,
            heartbeat_secs: 20,
        });
        assert_eq!(ready, expected);
        assert_eq!(round_trip(&expected), expected);

        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let offer = AgentServerFrame::Event {
            seq: 8,
            event: AgentEvent::Offer {
                offer: Offer {
                    id: OfferId(5),
                    conversation_id: ConversationId(6),
                    visitor: VisitorInfo {
                        id: VisitorId(4),
                        name: Some("Zoë".into()),
                        ..VisitorInfo::default()
                    },
                    first_message: Some("Hello?".into()),
                    created_at: at,
                    expires_at: at + chrono::Duration::seconds(45),
                },
            },
        };
        let value = serde_json::to_value(&offer).unwrap_or_default();
        assert_eq!(value["type"], "event");
        assert_eq!(value["event"]["kind"], "offer");
        assert_eq!(
            value["event"]["offer"]["visitor"],
            json!({"id": 4, "name": "Zoë"})
        );
        assert_eq!(round_trip(&offer), offer);

        let error: AgentServerFrame = serde_json::from_value(json!({
            "type": "error", "id": "x", "error": {"code": "limit_reached", "message": "10 chats"}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            error,
            AgentServerFrame::Error {
                id: Some("x".into()),
                error: ErrorBody::new(ErrorCode::LimitReached, "10 chats"),
            }
        );
        let pong: AgentServerFrame =
            serde_json::from_str(r#"{"type":"pong"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pong, AgentServerFrame::Pong { nonce: None });
        let ack: AgentServerFrame =
            serde_json::from_str(r#"{"type":"ack","id":"k"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ack,
            AgentServerFrame::Ack {
                id: "k".into(),
                message: None
            }
        );
    }

    #[test]
    fn unknown_frame_types_do_not_decode() {
        assert!(serde_json::from_str::<AgentServerFrame>(r#"{"type":"nope"}"#).is_err());
        assert!(serde_json::from_str::<AgentServerFrame>(r#"{"seq":1}"#).is_err());
    }
}
