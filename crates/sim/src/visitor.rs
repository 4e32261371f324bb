//! A typed client for the visitor side: the session (`POST /api/v1/visitor/sessions`) and the
//! visitor WebSocket (`GET /api/v1/visitor/ws`, token in the first frame, `Origin` on the
//! upgrade).
//!
//! As with the agent client, frames read while a helper waits for another one are kept in
//! order and handed out by later calls.

use std::time::Duration;

use protocol::rest::VisitorSessionResponse;
use protocol::visitor_ws::{VisitorChat, VisitorCommand, VisitorServerFrame};
use protocol::{Author, ClientId, ConversationId, Message, PROTOCOL_VERSION, VisitorInfo};
use tokio_tungstenite::tungstenite::http::header::ORIGIN;
use tokio_tungstenite::tungstenite::{self, Bytes};

use crate::agent::DEFAULT_TIMEOUT;
use crate::error::{Error, Result};
use crate::http::{ApiClient, BaseUrl};
use crate::ws::{FrameSocket, Wait, new_client_id};

pub const VISITOR_WS_PATH: &str = "/api/v1/visitor/ws";

/// What the service said in `welcome`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    pub protocol: u32,
    pub visitor: VisitorInfo,
    pub chat: Option<VisitorChat>,
    pub agents_available: bool,
}

pub struct VisitorClient {
    socket: FrameSocket<VisitorServerFrame>,
    api: ApiClient,
    session: Option<VisitorSessionResponse>,
    welcome: Option<Welcome>,
    conversation_id: Option<ConversationId>,
    timeout: Duration,
}

impl VisitorClient {
    /// Opens a visitor session, connects the socket with `Origin` = the base URL's origin,
    /// sends `hello` and returns once `welcome` arrived.
    pub async fn start(
        base_url: &str,
        name: Option<&str>,
        email: Option<&str>,
    ) -> Result<VisitorClient> {
        let api = ApiClient::new(base_url)?;
        let session = api.visitor_session(name, email).await?;
        Self::connect(base_url, session).await
    }

    /// Connects an existing session (a reconnect): socket, `hello`, `welcome`.
    pub async fn connect(base_url: &str, session: VisitorSessionResponse) -> Result<VisitorClient> {
        let origin = BaseUrl::parse(base_url)?.origin().to_owned();
        let mut client = Self::connect_raw(base_url, Some(&origin)).await?;
        client.hello(&session.token).await?;
        client.api.set_token(Some(session.token.clone()));
        client.session = Some(session);
        Ok(client)
    }

    /// Opens the socket with the given `Origin` (or none) and sends nothing: for tests of the
    /// handshake, the origin allowlist and bad first frames. Follow with
    /// [`VisitorClient::hello`] or raw sends.
    pub async fn connect_raw(base_url: &str, origin: Option<&str>) -> Result<VisitorClient> {
        let api = ApiClient::new(base_url)?;
        let url = api.base().ws(VISITOR_WS_PATH)?;
        let headers = origin.map(|o| (ORIGIN, o.to_owned())).into_iter().collect();
        let socket = FrameSocket::connect(url, headers, "visitor frame").await?;
        Ok(VisitorClient {
            socket,
            api,
            session: None,
            welcome: None,
            conversation_id: None,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Sends `hello` with `token` and waits for `welcome` (an `error` frame becomes
    /// [`Error::Rejected`]).
    pub async fn hello(&mut self, token: &str) -> Result<&Welcome> {
        self.send(&VisitorCommand::Hello {
            protocol: PROTOCOL_VERSION,
            token: token.to_owned(),
        })
        .await?;
        let wait = Wait::new(self.timeout);
        let frame = self.read(wait, "welcome").await?;
        match frame {
            VisitorServerFrame::Welcome {
                protocol,
                visitor,
                chat,
                agents_available,
            } => {
                if let Some(chat) = &chat {
                    self.conversation_id = Some(chat.conversation_id);
                }
                Ok(self.welcome.insert(Welcome {
                    protocol,
                    visitor,
                    chat,
                    agents_available,
                }))
            }
            VisitorServerFrame::Error { id, error } => Err(Error::Rejected { id, error }),
            other => Err(Error::Unexpected(format!(
                "expected welcome after hello, got {other:?}"
            ))),
        }
    }

    /// Changes how long the convenience helpers wait.
    pub fn set_default_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The session this client was started with (`None` after [`VisitorClient::connect_raw`]).
    pub fn session(&self) -> Option<&VisitorSessionResponse> {
        self.session.as_ref()
    }

    /// The `welcome` frame's contents, once `hello` was answered.
    pub fn welcome(&self) -> Option<&Welcome> {
        self.welcome.as_ref()
    }

    /// A REST client carrying the visitor token (for slots and bookings).
    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// The visitor's current conversation, as learned from `welcome`, acks and frames.
    pub fn conversation_id(&self) -> Option<ConversationId> {
        self.conversation_id
    }

    /// Frames read but not yet handed out.
    pub fn buffered(&self) -> impl Iterator<Item = &VisitorServerFrame> {
        self.socket.pending()
    }

    pub async fn send(&mut self, command: &VisitorCommand) -> Result<()> {
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

    /// The next WebSocket message of any kind from the wire, bypassing the frame queue.
    pub async fn next_raw(&mut self, timeout: Duration) -> Result<tungstenite::Message> {
        self.socket.next_message(Wait::new(timeout)).await
    }

    fn observe(&mut self, frame: &VisitorServerFrame) {
        let conversation_id = match frame {
            VisitorServerFrame::Queued {
                conversation_id, ..
            }
            | VisitorServerFrame::AgentJoined {
                conversation_id, ..
            }
            | VisitorServerFrame::MessageLeft { conversation_id } => Some(*conversation_id),
            VisitorServerFrame::Message { message } => Some(message.conversation_id),
            VisitorServerFrame::Ack {
                message: Some(message),
                ..
            } => Some(message.conversation_id),
            _ => None,
        };
        if conversation_id.is_some() {
            self.conversation_id = conversation_id;
        }
    }

    async fn read(&mut self, wait: Wait, waiting_for: &str) -> Result<VisitorServerFrame> {
        loop {
            let frame = self.socket.recv(wait, waiting_for).await?;
            if matches!(frame, VisitorServerFrame::Pong {}) {
                continue;
            }
            self.observe(&frame);
            return Ok(frame);
        }
    }

    /// The next frame (queued first, then from the wire), skipping `pong`s.
    pub async fn next_frame(&mut self, timeout: Duration) -> Result<VisitorServerFrame> {
        if let Some(frame) = self.socket.take_pending() {
            return Ok(frame);
        }
        self.read(Wait::new(timeout), "the next visitor frame")
            .await
    }

    /// The first frame matching `predicate`; frames before it stay queued for later calls.
    pub async fn expect(
        &mut self,
        timeout: Duration,
        mut predicate: impl FnMut(&VisitorServerFrame) -> bool,
    ) -> Result<VisitorServerFrame> {
        if let Some(frame) = self.socket.take_pending_matching(&mut predicate) {
            return Ok(frame);
        }
        let wait = Wait::new(timeout);
        loop {
            let frame = self.read(wait, "a matching visitor frame").await?;
            if predicate(&frame) {
                return Ok(frame);
            }
            self.socket.push_pending(frame)?;
        }
    }

    /// Waits for `agent_joined`; returns the agent's name.
    pub async fn expect_agent_joined(&mut self, timeout: Duration) -> Result<String> {
        match self
            .expect(timeout, |f| {
                matches!(f, VisitorServerFrame::AgentJoined { .. })
            })
            .await?
        {
            VisitorServerFrame::AgentJoined { agent_name, .. } => Ok(agent_name),
            other => Err(Error::Unexpected(format!("{other:?}"))),
        }
    }

    /// Waits for a `message` frame written by an agent.
    pub async fn expect_agent_message(&mut self, timeout: Duration) -> Result<Message> {
        match self
            .expect(timeout, |f| {
                matches!(f, VisitorServerFrame::Message { message } if matches!(message.author, Author::Agent { .. }))
            })
            .await?
        {
            VisitorServerFrame::Message { message } => Ok(message),
            other => Err(Error::Unexpected(format!("{other:?}"))),
        }
    }

    /// Sends a command that carries an id and waits for the `ack` or `error` with that id.
    pub async fn command(&mut self, command: VisitorCommand) -> Result<Option<Message>> {
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
            .expect(timeout, |frame| match frame {
                VisitorServerFrame::Ack { id: got, .. } => got == id,
                VisitorServerFrame::Error { id: Some(got), .. } => got == id,
                _ => false,
            })
            .await?;
        match frame {
            VisitorServerFrame::Ack { message, .. } => Ok(message),
            VisitorServerFrame::Error { id, error } => Err(Error::Rejected { id, error }),
            other => Err(Error::Unexpected(format!("{other:?}"))),
        }
    }

    /// Asks for a live agent with the first message; returns the ack's message, if any.
    /// `queued` / `agent_joined` follow as frames.
    pub async fn start_chat(&mut self, text: impl Into<String>) -> Result<Option<Message>> {
        self.command(VisitorCommand::StartChat {
            id: new_client_id(),
            text: text.into(),
        })
        .await
    }

    /// Sends a message in the current chat and returns the stored message from the ack.
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<Message> {
        self.send_text_with_id(new_client_id(), text).await
    }

    /// As [`VisitorClient::send_text`] with a chosen client id (to test retries).
    pub async fn send_text_with_id(
        &mut self,
        id: ClientId,
        text: impl Into<String>,
    ) -> Result<Message> {
        self.command(VisitorCommand::SendMessage {
            id,
            text: text.into(),
        })
        .await?
        .ok_or_else(|| Error::Unexpected("the send_message ack carries no message".into()))
    }

    pub async fn typing(&mut self, typing: bool) -> Result<()> {
        self.send(&VisitorCommand::Typing { typing }).await
    }

    /// Leaves a message instead of waiting; returns the ack's message, if any.
    pub async fn leave_message(&mut self, text: impl Into<String>) -> Result<Option<Message>> {
        self.command(VisitorCommand::LeaveMessage {
            id: new_client_id(),
            text: text.into(),
        })
        .await
    }

    pub async fn end_chat(&mut self) -> Result<()> {
        self.command(VisitorCommand::EndChat {
            id: new_client_id(),
        })
        .await
        .map(drop)
    }

    /// Sends a protocol `ping` and waits for a `pong`.
    pub async fn ping(&mut self, timeout: Duration) -> Result<()> {
        self.send(&VisitorCommand::Ping {}).await?;
        let wait = Wait::new(timeout);
        loop {
            let frame = self.socket.recv(wait, "pong").await?;
            if matches!(frame, VisitorServerFrame::Pong {}) {
                return Ok(());
            }
            self.observe(&frame);
            self.socket.push_pending(frame)?;
        }
    }

    /// Closes the socket with a close handshake.
    pub async fn close(mut self) -> Result<()> {
        self.socket.close().await
    }
}

/// The client id a visitor command carries, if it carries one.
pub fn command_id(command: &VisitorCommand) -> Option<&ClientId> {
    match command {
        VisitorCommand::StartChat { id, .. }
        | VisitorCommand::SendMessage { id, .. }
        | VisitorCommand::LeaveMessage { id, .. }
        | VisitorCommand::EndChat { id } => Some(id),
        VisitorCommand::Hello { .. } | VisitorCommand::Ping {} | VisitorCommand::Typing { .. } => {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::{
        ConversationStatus, EndReason, ErrorBody, ErrorCode, MessageContent, VisitorId,
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
    fn commands_encode_as_the_protocol_says() {
        let cases = [
            (
                VisitorCommand::Hello {
                    protocol: 1,
                    token: "t".into(),
                },
                json!({"type": "hello", "protocol": 1, "token": "t"}),
            ),
            (VisitorCommand::Ping {}, json!({"type": "ping"})),
            (
                VisitorCommand::StartChat {
                    id: "a".into(),
                    text: "Hi".into(),
                },
                json!({"type": "start_chat", "id": "a", "text": "Hi"}),
            ),
            (
                VisitorCommand::SendMessage {
                    id: "b".into(),
                    text: "<script>x</script>".into(),
                },
                json!({"type": "send_message", "id": "b", "text": "<script>x</script>"}),
            ),
            (
                VisitorCommand::Typing { typing: false },
                json!({"type": "typing", "typing": false}),
            ),
            (
                VisitorCommand::LeaveMessage {
                    id: "c".into(),
                    text: "Call me".into(),
                },
                json!({"type": "leave_message", "id": "c", "text": "Call me"}),
            ),
            (
                VisitorCommand::EndChat { id: "d".into() },
                json!({"type": "end_chat", "id": "d"}),
            ),
        ];
        for (command, wire) in cases {
            assert_eq!(serde_json::to_value(&command).ok(), Some(wire));
            assert_eq!(round_trip(&command), command);
        }
        assert_eq!(
            command_id(&VisitorCommand::EndChat { id: "d".into() }).map(String::as_str),
            Some("d")
        );
        assert_eq!(command_id(&VisitorCommand::Typing { typing: true }), None);
    }

    #[test]
    fn server_frames_decode_from_wire_json() {
        let welcome: VisitorServerFrame = serde_json::from_value(json!({
            "type": "welcome",
            "protocol": 1,
            "visitor": {"id": 12},
            "agents_available": false
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            welcome,
            VisitorServerFrame::Welcome {
                protocol: 1,
                visitor: VisitorInfo {
                    id: VisitorId(12),
                    ..VisitorInfo::default()
                },
                chat: None,
                agents_available: false,
            }
        );

        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let frames = [
            VisitorServerFrame::Queued {
                conversation_id: ConversationId(3),
                position: 2,
                agents_available: true,
            },
            VisitorServerFrame::AgentJoined {
                conversation_id: ConversationId(3),
                agent_name: "Ada".into(),
            },
            VisitorServerFrame::Message {
                message: Message {
                    id: protocol::MessageId(77),
                    conversation_id: ConversationId(3),
                    author: Author::Agent {
                        agent_id: protocol::AgentId(1),
                        name: "Ada".into(),
                    },
                    content: MessageContent::Text {
                        text: "Hello!".into(),
                    },
                    client_id: None,
                    created_at: at,
                },
            },
            VisitorServerFrame::ChatEnded {
                conversation_id: ConversationId(3),
                reason: EndReason::Inactivity,
            },
            VisitorServerFrame::MessageLeft {
                conversation_id: ConversationId(3),
            },
            VisitorServerFrame::Error {
                id: None,
                error: ErrorBody::new(ErrorCode::ProtocolViolation, "hello first"),
            },
            VisitorServerFrame::Welcome {
                protocol: 1,
                visitor: VisitorInfo::default(),
                chat: Some(VisitorChat {
                    conversation_id: ConversationId(3),
                    status: ConversationStatus::Live,
                    agent_name: Some("Ada".into()),
                    queue_position: None,
                    messages: vec![],
                }),
                agents_available: true,
            },
        ];
        for frame in &frames {
            assert_eq!(&round_trip(frame), frame);
        }
        let value = serde_json::to_value(&frames[2]).unwrap_or_default();
        assert_eq!(
            value["message"]["author"],
            json!({"role": "agent", "agent_id": 1, "name": "Ada"})
        );
        assert_eq!(
            value["message"]["content"],
            json!({"kind": "text", "text": "Hello!"})
        );
    }
}
