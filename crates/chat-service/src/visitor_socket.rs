//! The visitor WebSocket: the widget's side of a chat. The token comes in the first frame
//! (browsers cannot set headers on a WebSocket); the upgrade's `Origin` is checked.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use protocol::agent_ws::{AgentEvent, AgentServerFrame};
use protocol::visitor_ws::{VisitorCommand, VisitorServerFrame};
use protocol::*;
use tokio::time::Instant;

use crate::agent_socket::{SOCKET_BUFFER, TRANSPORT_MAX};
use crate::auth;
use crate::chat;
use crate::error::{Error, Result};
use crate::frames::{self, check_client_id, check_text, close, send_queued, text, ws_err};
use crate::hub::Frame;
use crate::state::AppState;
use crate::store::{AuthorRef, PostTo, TokenOwner};

const COMMAND_TYPES: &[&str] = &[
    "hello",
    "ping",
    "start_chat",
    "send_message",
    "typing",
    "leave_message",
    "end_chat",
];

pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Err(e) = auth::check_origin(&state, &headers) {
        return e.into_response();
    }
    ws.read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .max_message_size(TRANSPORT_MAX)
        .max_frame_size(TRANSPORT_MAX)
        .on_upgrade(move |socket| async move {
            if let Err(e) = run(state, socket).await {
                tracing::debug!(error = %e, "visitor socket ended with an error");
            }
        })
}

fn error_frame(id: Option<String>, error: ErrorBody) -> VisitorServerFrame {
    VisitorServerFrame::Error { id, error }
}

/// A token bucket: `capacity` messages, refilled over ten seconds.
struct RateLimit {
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    fn new(per_10s: u32) -> Self {
        let capacity = f64::from(per_10s.max(1));
        RateLimit {
            capacity,
            tokens: capacity,
            last: Instant::now(),
        }
    }
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.capacity / 10.0;
        self.tokens = (self.tokens + refill).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

async fn run(state: AppState, mut socket: WebSocket) -> Result<()> {
    let heartbeat = state.config.heartbeat();
    let hello = tokio::time::timeout(heartbeat.max(Duration::from_secs(10)), socket.recv()).await;
    let token = match hello {
        Ok(Some(Ok(WsMessage::Text(t)))) => {
            match frames::decode::<VisitorCommand>(t.as_str(), COMMAND_TYPES) {
                Ok(VisitorCommand::Hello { protocol, token }) if protocol == PROTOCOL_VERSION => {
                    token
                }
                Ok(VisitorCommand::Hello { protocol, .. }) => {
                    let err = ErrorBody::new(
                        ErrorCode::UnsupportedVersion,
                        format!(
                            "protocol {protocol} is not supported; this service speaks {PROTOCOL_VERSION}"
                        ),
                    );
                    let _ = socket.send(text(&error_frame(None, err))).await;
                    close(&mut socket, 1008, "unsupported protocol").await;
                    return Ok(());
                }
                Ok(_) => {
                    let err = ErrorBody::new(
                        ErrorCode::ProtocolViolation,
                        "the first frame must be hello with the visitor token",
                    );
                    let _ = socket.send(text(&error_frame(None, err))).await;
                    close(&mut socket, 1008, "hello expected").await;
                    return Ok(());
                }
                Err(bad) => {
                    let _ = socket.send(text(&error_frame(bad.id, bad.error))).await;
                    close(&mut socket, 1008, "hello expected").await;
                    return Ok(());
                }
            }
        }
        _ => {
            close(&mut socket, 1008, "hello expected").await;
            return Ok(());
        }
    };
    let visitor_id = match auth::resolve(&state, &token).await {
        Ok(TokenOwner::Visitor(v)) => v,
        Ok(TokenOwner::Agent(_)) => {
            let err = ErrorBody::new(
                ErrorCode::Forbidden,
                "an agent token cannot open a visitor socket",
            );
            let _ = socket.send(text(&error_frame(None, err))).await;
            close(&mut socket, 1008, "unauthorized").await;
            return Ok(());
        }
        Err(e) => {
            let _ = socket.send(text(&error_frame(None, e.body()))).await;
            close(&mut socket, 1008, "unauthorized").await;
            return Ok(());
        }
    };

    let (conn_id, mut rx) = state.hub.attach_visitor(visitor_id);
    let result = async {
        let visitor = state.store.visitor(visitor_id).await?;
        let open = state.store.open_conversation_of_visitor(visitor_id).await?;
        let chat = match &open {
            Some(row) => Some(chat::visitor_chat(&state, row).await?),
            None => None,
        };
        let agents_available = state.router.agents_available().await;
        socket
            .send(text(&VisitorServerFrame::Welcome {
                protocol: PROTOCOL_VERSION,
                visitor,
                chat,
                agents_available,
            }))
            .await
            .map_err(ws_err)?;
        if let Some(row) = open.filter(|r| r.status == ConversationStatus::Waiting) {
            state.router.resend_position(row.id).await;
        }
        serve(&state, visitor_id, &mut socket, &mut rx, heartbeat).await
    }
    .await;
    state.hub.detach_visitor(visitor_id, conn_id);
    result
}

async fn serve(
    state: &AppState,
    visitor: VisitorId,
    socket: &mut WebSocket,
    rx: &mut tokio::sync::mpsc::Receiver<Frame>,
    heartbeat: Duration,
) -> Result<()> {
    let mut shutdown = state.shutdown.clone();
    let mut limit = RateLimit::new(state.config.visitor_messages_per_10s);
    let mut ticker = tokio::time::interval(heartbeat);
    ticker.reset();
    let mut last_heard = Instant::now();
    loop {
        // Biased: frames already queued for the client go out before the next command is
        // handled, so a command's answer never overtakes an event published before it.
        tokio::select! {
            biased;
            _ = shutdown.changed() => {
                close(socket, 1001, "service shutting down").await;
                return Ok(());
            }
            frame = rx.recv() => match frame {
                Some(frame) => send_queued(socket, Some(&frame), rx, None).await.map_err(ws_err)?,
                None => {
                    close(socket, 4000, "too far behind; reconnect").await;
                    return Ok(());
                }
            },
            _ = ticker.tick() => {
                if last_heard.elapsed() > heartbeat * 3 {
                    close(socket, 1008, "heartbeat timeout").await;
                    return Ok(());
                }
                socket.send(WsMessage::Ping(Default::default())).await.map_err(ws_err)?;
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return Ok(()) };
                last_heard = Instant::now();
                match message {
                    WsMessage::Text(t) => {
                        if let Some(reply) = handle_text(state, visitor, &mut limit, t.as_str()).await {
                            // Frames the command caused go out before its answer.
                            send_queued(socket, None, rx, Some(text(&reply))).await.map_err(ws_err)?;
                        }
                    }
                    WsMessage::Binary(_) => {
                        let err = ErrorBody::new(ErrorCode::BadRequest, "binary frames are not supported; send JSON text");
                        socket.send(text(&error_frame(None, err))).await.map_err(ws_err)?;
                    }
                    WsMessage::Close(_) => return Ok(()),
                    WsMessage::Ping(_) | WsMessage::Pong(_) => {}
                }
            }
        }
    }
}

async fn handle_text(
    state: &AppState,
    visitor: VisitorId,
    limit: &mut RateLimit,
    frame: &str,
) -> Option<VisitorServerFrame> {
    let command = match frames::decode::<VisitorCommand>(frame, COMMAND_TYPES) {
        Ok(c) => c,
        Err(bad) => return Some(error_frame(bad.id, bad.error)),
    };
    let id = match &command {
        VisitorCommand::Hello { .. } => {
            let err = ErrorBody::new(
                ErrorCode::ProtocolViolation,
                "hello was already received on this socket",
            );
            return Some(error_frame(None, err));
        }
        VisitorCommand::Ping {} => return Some(VisitorServerFrame::Pong {}),
        VisitorCommand::Typing { typing } => {
            if let Ok(Some(row)) = state.store.open_conversation_of_visitor(visitor).await
                && let (ConversationStatus::Live, Some(agent)) = (row.status, row.agent_id)
            {
                state.hub.send_agent(
                    agent,
                    &AgentServerFrame::Typing {
                        conversation_id: row.id,
                        typing: *typing,
                    },
                );
            }
            return None;
        }
        VisitorCommand::StartChat { id, .. }
        | VisitorCommand::SendMessage { id, .. }
        | VisitorCommand::LeaveMessage { id, .. }
        | VisitorCommand::EndChat { id } => id.clone(),
    };
    if let Err(e) = check_client_id(&id) {
        return Some(error_frame(None, e));
    }
    let counts = matches!(
        command,
        VisitorCommand::StartChat { .. }
            | VisitorCommand::SendMessage { .. }
            | VisitorCommand::LeaveMessage { .. }
    );
    if counts && !limit.take() {
        let err = ErrorBody::new(
            ErrorCode::RateLimited,
            "too many messages; wait a few seconds and send again",
        );
        return Some(error_frame(Some(id), err));
    }
    Some(match apply(state, visitor, &id, command).await {
        Ok(message) => VisitorServerFrame::Ack { id, message },
        Err(e) => error_frame(Some(id), e.body()),
    })
}

async fn apply(
    state: &AppState,
    visitor: VisitorId,
    id: &str,
    command: VisitorCommand,
) -> Result<Option<Message>> {
    match command {
        VisitorCommand::StartChat { text, .. } => {
            check_text(&text).map_err(Error::Client)?;
            let now = Utc::now();
            let row = match state.store.open_conversation_of_visitor(visitor).await? {
                Some(row) => row,
                None => {
                    let conversation_id = state
                        .store
                        .create_conversation(visitor, ConversationStatus::Waiting, now)
                        .await?;
                    state.store.conversation(conversation_id).await?
                }
            };
            let content = MessageContent::Text { text };
            let (message, new) = state
                .store
                .insert_message(row.id, AuthorRef::Visitor, &content, Some(id), now)
                .await?;
            if new {
                chat::deliver(state, &row, &message);
            }
            if row.status == ConversationStatus::Waiting {
                state.router.chat_requested(row.id).await;
            }
            Ok(Some(message))
        }
        VisitorCommand::SendMessage { text, .. } => {
            check_text(&text).map_err(Error::Client)?;
            let content = MessageContent::Text { text };
            let (row, message, new) = state
                .store
                .post_message(PostTo::OpenChatOf(visitor), &content, Some(id), Utc::now())
                .await?;
            if new {
                chat::deliver(state, &row, &message);
            }
            Ok(Some(message))
        }
        VisitorCommand::LeaveMessage { text, .. } => {
            check_text(&text).map_err(Error::Client)?;
            let (conversation_id, message) = state
                .store
                .leave_message(visitor, &text, id, Utc::now())
                .await?;
            state.router.visitor_gone(conversation_id).await;
            let summary = state.store.summary(conversation_id, None).await?;
            for agent in state.store.agents().await? {
                state.hub.publish(
                    agent.profile.id,
                    AgentEvent::MessageLeft {
                        conversation: summary.clone(),
                    },
                );
            }
            state.hub.send_visitor(
                visitor,
                &VisitorServerFrame::MessageLeft { conversation_id },
            );
            Ok(Some(message))
        }
        VisitorCommand::EndChat { .. } => {
            if let Some(row) = state.store.open_conversation_of_visitor(visitor).await? {
                let reason = if row.status == ConversationStatus::Waiting {
                    EndReason::Abandoned
                } else {
                    EndReason::Visitor
                };
                chat::end(state, row.id, reason).await?;
            }
            Ok(None)
        }
        VisitorCommand::Hello { .. } | VisitorCommand::Ping {} | VisitorCommand::Typing { .. } => {
            Ok(None)
        }
    }
}
