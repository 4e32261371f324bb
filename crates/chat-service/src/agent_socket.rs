//! The agent WebSocket: hello, a snapshot or a resume, then sequenced events down and
//! commands up. One task owns each socket; it selects over the socket, the agent's event
//! channel, the heartbeat and shutdown.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use chrono::Utc;
use protocol::agent_ws::{AgentCommand, AgentEvent, AgentServerFrame, ReadySnapshot};
use protocol::visitor_ws::VisitorServerFrame;
use protocol::*;
use tokio::time::Instant;

use crate::auth::AgentAuth;
use crate::availability;
use crate::chat;
use crate::error::{Error, Result};
use crate::frames::{self, check_client_id, check_text, close, send_queued, shared, text, ws_err};
use crate::hub::{AgentStart, Frame, to_frame};
use crate::state::AppState;
use crate::store::PostTo;

const COMMAND_TYPES: &[&str] = &[
    "hello",
    "ping",
    "accept",
    "decline",
    "send_message",
    "typing",
    "mark_read",
    "end_chat",
    "set_availability",
    "share_calendar",
];

/// Close codes: 1001 going away (shutdown), 1008 policy (protocol violation), 4000 resync,
/// 4001 signed out.
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_RESYNC: u16 = 4000;
/// The token was revoked (logout); the client must log in again.
const CLOSE_SIGNED_OUT: u16 = 4001;

/// Largest frame the transport accepts; frames between 64 KiB and this get a `too_large`
/// error and the connection stays open.
pub const TRANSPORT_MAX: usize = 1024 * 1024;

/// Read and write buffer per socket. Chat frames are small, and the default 128 KiB read
/// buffer is zero-filled before every read, so it stays resident: 4 KiB (growing for larger
/// frames) took idle sockets from ~7,400 to ~57,000 per GiB of service RSS (BENCHMARKS.md, P4).
pub const SOCKET_BUFFER: usize = 4096;

pub async fn upgrade(
    State(state): State<AppState>,
    auth: AgentAuth,
    ws: WebSocketUpgrade,
) -> Response {
    ws.read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .max_message_size(TRANSPORT_MAX)
        .max_frame_size(TRANSPORT_MAX)
        .on_upgrade(move |socket| async move {
            let agent = auth.agent_id;
            if let Err(e) = run(state, agent, auth.token_hash, socket).await {
                tracing::debug!(agent = %agent, error = %e, "agent socket ended with an error");
            }
        })
}

fn error_frame(id: Option<String>, error: ErrorBody) -> AgentServerFrame {
    AgentServerFrame::Error { id, error }
}

async fn run(
    state: AppState,
    agent: AgentId,
    token_hash: String,
    mut socket: WebSocket,
) -> Result<()> {
    let heartbeat = state.config.heartbeat();
    // 1. hello, within a heartbeat interval or so.
    let hello = tokio::time::timeout(heartbeat.max(Duration::from_secs(10)), socket.recv()).await;
    let resume = match hello {
        Ok(Some(Ok(WsMessage::Text(t)))) => {
            match frames::decode::<AgentCommand>(t.as_str(), COMMAND_TYPES) {
                Ok(AgentCommand::Hello { protocol, resume }) if protocol == PROTOCOL_VERSION => {
                    resume
                }
                Ok(AgentCommand::Hello { protocol, .. }) => {
                    let err = ErrorBody::new(
                        ErrorCode::UnsupportedVersion,
                        format!(
                            "protocol {protocol} is not supported; this service speaks {PROTOCOL_VERSION}"
                        ),
                    );
                    let _ = socket.send(text(&error_frame(None, err))).await;
                    close(&mut socket, CLOSE_POLICY, "unsupported protocol").await;
                    return Ok(());
                }
                Ok(_) => {
                    let err = ErrorBody::new(
                        ErrorCode::ProtocolViolation,
                        "the first frame must be hello",
                    );
                    let _ = socket.send(text(&error_frame(None, err))).await;
                    close(&mut socket, CLOSE_POLICY, "hello expected").await;
                    return Ok(());
                }
                Err(bad) => {
                    let _ = socket.send(text(&error_frame(bad.id, bad.error))).await;
                    close(&mut socket, CLOSE_POLICY, "hello expected").await;
                    return Ok(());
                }
            }
        }
        _ => {
            close(&mut socket, CLOSE_POLICY, "hello expected").await;
            return Ok(());
        }
    };

    // 2. attach, then snapshot or replay.
    let attachment = state.hub.attach_agent(agent, resume.as_ref(), &token_hash);
    let conn_id = attachment.conn_id;
    let mut rx = attachment.rx;
    if attachment.first {
        state.router.agent_online(agent).await;
    }
    let result = async {
        match attachment.start {
            AgentStart::Snapshot { seq } => {
                let snapshot = snapshot(&state, agent, seq).await?;
                socket
                    .send(text(&AgentServerFrame::Ready(snapshot)))
                    .await
                    .map_err(ws_err)?;
            }
            AgentStart::Resumed { from, to, replay } => {
                let resumed = AgentServerFrame::Resumed {
                    epoch: state.hub.epoch().to_owned(),
                    from_seq: from,
                    to_seq: to,
                };
                socket.send(text(&resumed)).await.map_err(ws_err)?;
                for frame in replay {
                    socket.send(shared(&frame)).await.map_err(ws_err)?;
                }
            }
        }
        serve(&state, agent, conn_id, &mut socket, &mut rx, heartbeat).await
    }
    .await;
    if state.hub.detach_agent(agent, conn_id) {
        state.router.agent_offline(agent).await;
    }
    result
}

async fn snapshot(state: &AppState, agent: AgentId, seq: u64) -> Result<ReadySnapshot> {
    let record = state.store.agent(agent).await?;
    let availability = match state.router.availability(agent).await {
        Some(a) => a,
        None => availability::compute(
            &record.settings,
            record.override_status,
            record.override_until,
            Utc::now(),
        ),
    };
    let mut conversations = Vec::new();
    for id in state.store.live_conversations_of(agent).await? {
        conversations.push(chat::live_conversation(state.store.as_ref(), id, agent).await?);
    }
    let offer = match state.router.open_offer(agent).await {
        Some(offer_id) => {
            let row = state.store.offer(offer_id).await?;
            Some(chat::build_offer(state.store.as_ref(), &row).await?)
        }
        None => None,
    };
    Ok(ReadySnapshot {
        protocol: PROTOCOL_VERSION,
        epoch: state.hub.epoch().to_owned(),
        seq,
        agent: record.profile,
        availability,
        conversations,
        offer,
        heartbeat_secs: state.config.heartbeat_secs,
    })
}

async fn serve(
    state: &AppState,
    agent: AgentId,
    conn_id: u64,
    socket: &mut WebSocket,
    rx: &mut tokio::sync::mpsc::Receiver<Frame>,
    heartbeat: Duration,
) -> Result<()> {
    let mut shutdown = state.shutdown.clone();
    let mut ticker = tokio::time::interval(heartbeat);
    ticker.reset();
    let mut last_heard = Instant::now();
    loop {
        // Biased: frames already queued for the client go out before the next command is
        // handled, so a command's answer never overtakes an event published before it.
        tokio::select! {
            biased;
            _ = shutdown.changed() => {
                close(socket, CLOSE_GOING_AWAY, "service shutting down").await;
                return Ok(());
            }
            frame = rx.recv() => match frame {
                Some(frame) => send_queued(socket, Some(&frame), rx, None).await.map_err(ws_err)?,
                None => {
                    // Dropped by the hub: logged out, or too slow to keep up.
                    if state.hub.was_signed_out(agent, conn_id) {
                        close(socket, CLOSE_SIGNED_OUT, "signed out").await;
                    } else {
                        close(socket, CLOSE_RESYNC, "too far behind; reconnect and resume").await;
                    }
                    return Ok(());
                }
            },
            _ = ticker.tick() => {
                if last_heard.elapsed() > heartbeat * 3 {
                    close(socket, CLOSE_POLICY, "heartbeat timeout").await;
                    return Ok(());
                }
                socket.send(WsMessage::Ping(Default::default())).await.map_err(ws_err)?;
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return Ok(()) };
                last_heard = Instant::now();
                match message {
                    WsMessage::Text(t) => {
                        if let Some(reply) = handle_text(state, agent, t.as_str()).await {
                            // Events the command caused go out before its answer.
                            send_queued(socket, None, rx, Some(reply)).await.map_err(ws_err)?;
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

async fn handle_text(state: &AppState, agent: AgentId, text_frame: &str) -> Option<WsMessage> {
    let command = match frames::decode::<AgentCommand>(text_frame, COMMAND_TYPES) {
        Ok(c) => c,
        Err(bad) => return Some(text(&error_frame(bad.id, bad.error))),
    };
    let id = match &command {
        AgentCommand::Hello { .. } => {
            let err = ErrorBody::new(
                ErrorCode::ProtocolViolation,
                "hello was already received on this socket",
            );
            return Some(text(&error_frame(None, err)));
        }
        AgentCommand::Ping { nonce } => {
            return Some(text(&AgentServerFrame::Pong { nonce: *nonce }));
        }
        AgentCommand::Typing {
            conversation_id,
            typing,
        } => {
            // Ephemeral; silently ignored for chats that are not the agent's own.
            if let Ok(row) = state.store.conversation(*conversation_id).await
                && chat::check_own_live(&row, agent).is_ok()
            {
                state.hub.send_visitor(
                    row.visitor_id,
                    &VisitorServerFrame::Typing { typing: *typing },
                );
            }
            return None;
        }
        AgentCommand::Accept { id, .. }
        | AgentCommand::Decline { id, .. }
        | AgentCommand::SendMessage { id, .. }
        | AgentCommand::MarkRead { id, .. }
        | AgentCommand::EndChat { id, .. }
        | AgentCommand::SetAvailability { id, .. }
        | AgentCommand::ShareCalendar { id, .. } => id.clone(),
    };
    if let Err(e) = check_client_id(&id) {
        return Some(text(&error_frame(None, e)));
    }
    if let Some(previous) = state.hub.answered(agent, &id) {
        return Some(shared(&previous));
    }
    let reply = match apply(state, agent, &id, command).await {
        Ok(message) => AgentServerFrame::Ack {
            id: id.clone(),
            message,
        },
        Err(e) => error_frame(Some(id.clone()), e.body()),
    };
    let frame = to_frame(&reply);
    // Only definitive answers are remembered; an internal error may be retried.
    if !matches!(&reply, AgentServerFrame::Error { error, .. } if error.code == ErrorCode::Internal)
    {
        state.hub.remember_answer(agent, &id, frame.clone());
    }
    Some(shared(&frame))
}

/// Applies one command; `Ok(Some(message))` for commands that store a message.
async fn apply(
    state: &AppState,
    agent: AgentId,
    id: &str,
    command: AgentCommand,
) -> Result<Option<Message>> {
    match command {
        AgentCommand::Accept { offer_id, .. } => {
            let row = match state.store.accept_offer(offer_id, agent, Utc::now()).await {
                Ok(row) => row,
                Err(e) if e.code() == ErrorCode::LimitReached => {
                    // The agent cannot take it: move the offer on.
                    let _ = state.router.decline(offer_id, agent).await;
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            state.router.offer_accepted(offer_id, row.id, agent).await;
            state.hub.publish(
                agent,
                AgentEvent::OfferWithdrawn {
                    offer_id,
                    conversation_id: row.id,
                    reason: WithdrawReason::Taken,
                },
            );
            let conversation = chat::live_conversation(state.store.as_ref(), row.id, agent).await?;
            let agent_name = state.store.agent(agent).await?.profile.name;
            state
                .hub
                .publish(agent, AgentEvent::ConversationStarted { conversation });
            state.hub.send_visitor(
                row.visitor_id,
                &VisitorServerFrame::AgentJoined {
                    conversation_id: row.id,
                    agent_name,
                },
            );
            Ok(None)
        }
        AgentCommand::Decline { offer_id, .. } => {
            state.router.decline(offer_id, agent).await?;
            Ok(None)
        }
        AgentCommand::SendMessage {
            conversation_id,
            text,
            ..
        } => {
            check_text(&text).map_err(Error::Client)?;
            let content = MessageContent::Text { text };
            let to = PostTo::OwnLiveChat {
                agent,
                conversation: conversation_id,
            };
            let (row, message, new) = state
                .store
                .post_message(to, &content, Some(id), Utc::now())
                .await?;
            if new {
                chat::deliver(state, &row, &message);
            }
            Ok(Some(message))
        }
        AgentCommand::MarkRead {
            conversation_id,
            message_id,
            ..
        } => {
            chat::conversation_visible_to(state, conversation_id, agent).await?;
            if state.store.message_conversation(message_id).await? != Some(conversation_id) {
                return Err(Error::invalid(format!(
                    "message_id: no message {message_id} in conversation {conversation_id}"
                )));
            }
            state
                .store
                .mark_read(agent, conversation_id, message_id)
                .await?;
            state.hub.publish(
                agent,
                AgentEvent::Read {
                    conversation_id,
                    message_id,
                },
            );
            Ok(None)
        }
        AgentCommand::EndChat {
            conversation_id, ..
        } => {
            let row = state.store.conversation(conversation_id).await?;
            chat::check_own_live(&row, agent)?;
            chat::end(state, conversation_id, EndReason::Agent).await?;
            Ok(None)
        }
        AgentCommand::SetAvailability { status, .. } => {
            let record = state.store.agent(agent).await?;
            let now = Utc::now();
            let until = status.map(|_| availability::override_until(&record.settings, now));
            state.store.set_override(agent, status, until).await?;
            state.router.availability_changed(agent).await;
            Ok(None)
        }
        AgentCommand::ShareCalendar {
            conversation_id,
            calendar_agent_id,
            ..
        } => {
            let row = state.store.conversation(conversation_id).await?;
            chat::check_own_live(&row, agent)?;
            let calendar_agent = state.store.agent(calendar_agent_id).await.map_err(|_| {
                Error::invalid(format!("calendar_agent_id: no agent {calendar_agent_id}"))
            })?;
            state
                .store
                .share_calendar(conversation_id, calendar_agent_id)
                .await?;
            let content = MessageContent::CalendarShare {
                calendar_agent_id,
                calendar_agent_name: calendar_agent.profile.name,
            };
            // Checked again inside the write: the chat may have ended since.
            let to = PostTo::OwnLiveChat {
                agent,
                conversation: conversation_id,
            };
            let (row, message, new) = state
                .store
                .post_message(to, &content, Some(id), Utc::now())
                .await?;
            if new {
                chat::deliver(state, &row, &message);
            }
            Ok(Some(message))
        }
        AgentCommand::Hello { .. } | AgentCommand::Ping { .. } | AgentCommand::Typing { .. } => {
            Ok(None)
        }
    }
}
