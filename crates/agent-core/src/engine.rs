//! The engine: one task that owns the agent's WebSocket, the client state, the outbox and the
//! offers' notifications. [`AgentCore`] is its handle.
//!
//! Connection life: connect with `Authorization: Bearer` on the upgrade, `hello` (resuming
//! from the last processed sequence when there is one), `ready` or `resumed`, then events in
//! sequence order. The outbox is replayed right after each (re)connect. WebSocket pings go out
//! every heartbeat; a connection silent for three heartbeats is dead. A lost connection is
//! retried with exponential backoff and full jitter, or at once on [`AgentCore::reconnect_now`]
//! (after system resume or a network change). A refused token signs the engine out.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use protocol::agent_ws::{AgentCommand, AgentEvent, AgentServerFrame, ResumeFrom};
use protocol::*;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::api_client::ServiceUrl;
use crate::backoff::Backoff;
use crate::error::{Error, Result};
use crate::notifier::{AnswerSink, NotificationAction, Notifier, OfferAnswer};
use crate::outbox::{Outbox, OutboxEntry};
use crate::state::{Applied, ClientState, ConnectionStatus, PendingMessage};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct CoreOptions {
    pub service_url: ServiceUrl,
    pub token: String,
    /// Where the outbox is kept; `None` keeps it in memory only.
    pub outbox_path: Option<PathBuf>,
    pub backoff: Backoff,
    /// Heartbeat interval; `None` uses what the service announces in `ready`.
    pub heartbeat: Option<Duration>,
    /// How often an unanswered offer alerts again (R9).
    pub realert_every: Duration,
    /// Notify new visitor messages while the window is not focused.
    pub notify_messages: bool,
    /// How long to wait for the connection and for `ready`.
    pub connect_timeout: Duration,
}

impl CoreOptions {
    pub fn new(service_url: ServiceUrl, token: impl Into<String>) -> Self {
        CoreOptions {
            service_url,
            token: token.into(),
            outbox_path: None,
            backoff: Backoff::default(),
            heartbeat: None,
            realert_every: Duration::from_secs(8),
            notify_messages: true,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Why an offer left the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum OfferClosed {
    Accepted,
    Declined,
    Expired,
    /// Taken elsewhere, withdrawn by the service, or the visitor left.
    Withdrawn,
}

/// Things that happened, for the UI and the shell (state changes are in the watch channel).
#[derive(Debug, Clone, PartialEq, serde::Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CoreEvent {
    Connection {
        status: ConnectionStatus,
    },
    OfferReceived {
        offer: Offer,
    },
    /// An offer's notification was raised (`realert` for the repeats while it is unanswered):
    /// the shell plays the sound and asks for tray attention (R9).
    OfferAlert {
        offer_id: OfferId,
        realert: bool,
    },
    OfferClosed {
        offer_id: OfferId,
        reason: OfferClosed,
    },
    MessageReceived {
        message: Message,
    },
    ConversationStarted {
        conversation_id: ConversationId,
    },
    ConversationEnded {
        conversation_id: ConversationId,
        reason: EndReason,
    },
    MessageLeft {
        conversation: ConversationSummary,
    },
    /// The service refused a queued command.
    CommandFailed {
        client_id: ClientId,
        error: ErrorBody,
    },
    /// A notification asked for the window (on this conversation).
    OpenWindow {
        conversation_id: Option<ConversationId>,
    },
}

enum Cmd {
    Enqueue(AgentCommand, oneshot::Sender<Result<()>>),
    Answer(OfferId, OfferAnswer, Option<oneshot::Sender<Result<()>>>),
    Typing(ConversationId, bool),
    ReconnectNow,
    SetFocused(bool),
    NotificationsProblem(Option<String>),
    DismissPending(ClientId),
    Presence { away: Option<bool>, resumed: bool },
    Stop(oneshot::Sender<()>),
}

/// The handle to a running engine. Cheap to share behind an `Arc`.
pub struct AgentCore {
    cmd: mpsc::Sender<Cmd>,
    state: watch::Receiver<Arc<ClientState>>,
    events: broadcast::Sender<CoreEvent>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn new_id() -> ClientId {
    uuid::Uuid::new_v4().to_string()
}

fn invalid(message: impl Into<String>) -> Error {
    Error::Service(ErrorBody::new(ErrorCode::InvalidField, message))
}

impl AgentCore {
    /// Starts the engine on the current tokio runtime.
    pub fn start(options: CoreOptions, notifier: Arc<dyn Notifier>) -> Result<AgentCore> {
        let outbox = match &options.outbox_path {
            Some(path) => Outbox::open(path)?,
            None => Outbox::in_memory(),
        };
        let (cmd_tx, cmd_rx) = mpsc::channel(256);
        let (sink, actions_rx) = AnswerSink::channel(64);
        let mut initial = ClientState {
            outbox_len: u32::try_from(outbox.len()).unwrap_or(u32::MAX),
            ..Default::default()
        };
        initial.connection = ConnectionStatus::Connecting;
        let (state_tx, state_rx) = watch::channel(Arc::new(initial.clone()));
        let (events, _) = broadcast::channel(1024);
        let engine = Engine {
            opts: options,
            notifier,
            sink,
            actions_rx,
            cmd_rx,
            state: initial,
            state_tx,
            events: events.clone(),
            outbox,
            waiters: HashMap::new(),
            answers: HashMap::new(),
            notified: HashSet::new(),
            last_alert: HashMap::new(),
            focused: false,
            away_restore: None,
        };
        let task = tokio::spawn(engine.run());
        Ok(AgentCore {
            cmd: cmd_tx,
            state: state_rx,
            events,
            task: Mutex::new(Some(task)),
        })
    }

    /// The current state.
    pub fn state(&self) -> Arc<ClientState> {
        self.state.borrow().clone()
    }

    /// A receiver that sees every new state.
    pub fn watch(&self) -> watch::Receiver<Arc<ClientState>> {
        self.state.clone()
    }

    pub fn events(&self) -> broadcast::Receiver<CoreEvent> {
        self.events.subscribe()
    }

    /// Waits until the state satisfies `pred`, at most `timeout`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&ClientState) -> bool,
    ) -> Result<Arc<ClientState>> {
        let mut rx = self.state.clone();
        let found = tokio::time::timeout(timeout, async {
            loop {
                let current = rx.borrow_and_update().clone();
                if pred(&current) {
                    return Ok(current);
                }
                if rx.changed().await.is_err() {
                    return Err(Error::Stopped);
                }
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            Err(Error::Protocol(format!(
                "state condition not reached within {timeout:?}"
            )))
        })
    }

    async fn enqueue(&self, command: AgentCommand) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::Enqueue(command, tx))
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    /// Queues a message (delivered now, or after reconnect); returns its client id.
    pub async fn send_message(
        &self,
        conversation_id: ConversationId,
        text: &str,
    ) -> Result<ClientId> {
        if text.trim().is_empty() {
            return Err(invalid("text: a message cannot be empty"));
        }
        if text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(invalid(format!(
                "text: at most {MAX_MESSAGE_CHARS} characters"
            )));
        }
        let id = new_id();
        self.enqueue(AgentCommand::SendMessage {
            id: id.clone(),
            conversation_id,
            text: text.to_owned(),
        })
        .await?;
        Ok(id)
    }

    /// Sets (or with `None` clears) the manual availability toggle (R1).
    pub async fn set_availability(&self, status: Option<AvailabilityStatus>) -> Result<()> {
        self.enqueue(AgentCommand::SetAvailability {
            id: new_id(),
            status,
        })
        .await
    }

    pub async fn end_chat(&self, conversation_id: ConversationId) -> Result<()> {
        self.enqueue(AgentCommand::EndChat {
            id: new_id(),
            conversation_id,
        })
        .await
    }

    pub async fn mark_read(
        &self,
        conversation_id: ConversationId,
        message_id: MessageId,
    ) -> Result<()> {
        self.enqueue(AgentCommand::MarkRead {
            id: new_id(),
            conversation_id,
            message_id,
        })
        .await
    }

    pub async fn share_calendar(
        &self,
        conversation_id: ConversationId,
        calendar_agent_id: AgentId,
    ) -> Result<()> {
        self.enqueue(AgentCommand::ShareCalendar {
            id: new_id(),
            conversation_id,
            calendar_agent_id,
        })
        .await
    }

    /// Answers an offer; resolves when the service has applied it. An offer is answered once:
    /// a second answer (from the UI after the notification, say) gets `NoSuchOffer`.
    pub async fn answer(&self, offer_id: OfferId, answer: OfferAnswer) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::Answer(offer_id, answer, Some(tx)))
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    pub async fn accept(&self, offer_id: OfferId) -> Result<()> {
        self.answer(offer_id, OfferAnswer::Accept).await
    }

    pub async fn decline(&self, offer_id: OfferId) -> Result<()> {
        self.answer(offer_id, OfferAnswer::Decline).await
    }

    /// Typing indicator; dropped while offline.
    pub async fn typing(&self, conversation_id: ConversationId, typing: bool) {
        let _ = self.cmd.send(Cmd::Typing(conversation_id, typing)).await;
    }

    /// Reconnects at once (after system resume or a network change).
    pub fn reconnect_now(&self) {
        let _ = self.cmd.try_send(Cmd::ReconnectNow);
    }

    /// Whether the window is focused (message notifications are only raised when it is not).
    pub fn set_focused(&self, focused: bool) {
        let _ = self.cmd.try_send(Cmd::SetFocused(focused));
    }

    /// R9 presence: the screen was locked or unlocked, the machine slept or resumed, or the
    /// network came back. With `follow` (the agent's preference), lock and sleep make the
    /// agent unavailable and unlock and resume restore what the agent and the schedule chose;
    /// a resume or a network change reconnects at once either way (and never touches
    /// availability).
    #[cfg(all(unix, not(target_os = "macos")))]
    pub fn presence(&self, signal: crate::presence::PresenceSignal, follow: bool) {
        use crate::presence::PresenceSignal;
        let (away, resumed) = match signal {
            PresenceSignal::ScreenLocked(locked) => (Some(locked), false),
            PresenceSignal::Sleeping(sleeping) => (Some(sleeping), !sleeping),
            PresenceSignal::NetworkConnected => (None, true),
        };
        let away = if follow { away } else { None };
        let _ = self.cmd.try_send(Cmd::Presence { away, resumed });
    }

    /// Removes a message the service refused from its chat (the agent dismissed it).
    pub fn dismiss_failed(&self, client_id: ClientId) {
        let _ = self.cmd.try_send(Cmd::DismissPending(client_id));
    }

    /// Records why native notifications cannot raise offers (`None` when they can).
    pub fn set_notifications_problem(&self, problem: Option<String>) {
        let _ = self.cmd.try_send(Cmd::NotificationsProblem(problem));
    }

    /// Closes the connection and stops the engine; the outbox stays on disk.
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Cmd::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Why a connection ended.
enum End {
    Stop(Option<oneshot::Sender<()>>),
    SignedOut(String),
    /// Lost; `connected` says whether it had been up (resets the backoff).
    Lost {
        error: String,
        connected: bool,
    },
    /// Reconnect at once: a sequence gap (resume) or a reconnect request.
    Again,
}

struct InFlightAnswer {
    offer_id: OfferId,
    conversation_id: ConversationId,
    answer: OfferAnswer,
    reply: Option<oneshot::Sender<Result<()>>>,
}

struct Engine {
    opts: CoreOptions,
    notifier: Arc<dyn Notifier>,
    sink: AnswerSink,
    actions_rx: mpsc::Receiver<NotificationAction>,
    cmd_rx: mpsc::Receiver<Cmd>,
    state: ClientState,
    state_tx: watch::Sender<Arc<ClientState>>,
    events: broadcast::Sender<CoreEvent>,
    outbox: Outbox,
    /// Callers waiting for a queued command's answer.
    waiters: HashMap<ClientId, oneshot::Sender<Result<()>>>,
    /// Offer answers in flight by client id.
    answers: HashMap<ClientId, InFlightAnswer>,
    /// Offers whose notification is up.
    notified: HashSet<OfferId>,
    last_alert: HashMap<OfferId, Instant>,
    focused: bool,
    /// Set while presence made the agent unavailable: the toggle to restore afterwards
    /// (`None` = back to the schedule).
    away_restore: Option<Option<AvailabilityStatus>>,
}

impl Engine {
    fn publish(&mut self) {
        self.state.outbox_len = u32::try_from(self.outbox.len()).unwrap_or(u32::MAX);
        self.state_tx.send_replace(Arc::new(self.state.clone()));
    }

    fn emit(&self, event: CoreEvent) {
        let _ = self.events.send(event);
    }

    fn set_connection(&mut self, status: ConnectionStatus) {
        if self.state.connection != status {
            self.state.connection = status.clone();
            self.emit(CoreEvent::Connection { status });
        }
        self.publish();
    }

    async fn run(mut self) {
        let mut attempt: u32 = 0;
        let stop_reply;
        loop {
            match self.connect_and_serve().await {
                End::Stop(reply) => {
                    stop_reply = reply;
                    break;
                }
                End::SignedOut(reason) => {
                    self.close_all_offers(OfferClosed::Withdrawn);
                    self.set_connection(ConnectionStatus::SignedOut { reason });
                    stop_reply = self.idle_until_stopped().await;
                    break;
                }
                End::Again => {
                    attempt = 0;
                    continue;
                }
                End::Lost { error, connected } => {
                    if connected {
                        attempt = 0;
                    }
                    let delay = self.opts.backoff.delay(attempt);
                    attempt = attempt.saturating_add(1);
                    let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                    tracing::info!(%error, ?delay, attempt, "connection lost; retrying");
                    self.set_connection(ConnectionStatus::Reconnecting {
                        attempt,
                        next_attempt_at: next,
                        last_error: error,
                    });
                    if let Some(reply) = self.wait_offline(delay).await {
                        stop_reply = reply;
                        break;
                    }
                }
            }
        }
        self.close_all_offers(OfferClosed::Withdrawn);
        self.set_connection(ConnectionStatus::Offline);
        for (_, tx) in self.waiters.drain() {
            let _ = tx.send(Err(Error::Stopped));
        }
        if let Some(tx) = stop_reply {
            let _ = tx.send(());
        }
    }

    /// Handles commands while disconnected until `delay` passes or a reconnect is asked for.
    /// Returns `Some` when the engine should stop.
    async fn wait_offline(&mut self, delay: Duration) -> Option<Option<oneshot::Sender<()>>> {
        let deadline = Instant::now() + delay;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => return None,
                cmd = self.cmd_rx.recv() => match cmd {
                    None => return Some(None),
                    Some(Cmd::Stop(tx)) => return Some(Some(tx)),
                    Some(Cmd::ReconnectNow) => return None,
                    Some(Cmd::Presence { away, resumed: true }) => {
                        self.presence_away(away);
                        return None;
                    }
                    Some(cmd) => self.handle_offline(cmd),
                },
                action = self.actions_rx.recv() => {
                    if let Some(action) = action {
                        self.handle_offline_action(action);
                    }
                }
                _ = tick.tick() => self.offer_timers(),
            }
        }
    }

    async fn idle_until_stopped(&mut self) -> Option<oneshot::Sender<()>> {
        loop {
            match self.cmd_rx.recv().await {
                None => return None,
                Some(Cmd::Stop(tx)) => return Some(tx),
                Some(Cmd::ReconnectNow) => {}
                Some(cmd) => self.handle_offline(cmd),
            }
        }
    }

    /// Applies a command that does not need the connection; returns the others.
    fn apply_local(&mut self, cmd: Cmd) -> Option<Cmd> {
        match cmd {
            Cmd::SetFocused(f) => self.focused = f,
            Cmd::NotificationsProblem(p) => {
                self.state.notifications_problem = p;
                self.publish();
            }
            Cmd::DismissPending(id) => self.dismiss_failed(&id),
            other => return Some(other),
        }
        None
    }

    fn handle_offline(&mut self, cmd: Cmd) {
        let Some(cmd) = self.apply_local(cmd) else {
            return;
        };
        match cmd {
            Cmd::Enqueue(command, reply) => {
                let result = self.queue(command);
                let _ = reply.send(result.map(drop));
            }
            Cmd::Answer(_, _, reply) => {
                if let Some(tx) = reply {
                    let _ = tx.send(Err(Error::Offline));
                }
            }
            Cmd::Presence { away, .. } => self.presence_away(away),
            Cmd::SetFocused(_)
            | Cmd::NotificationsProblem(_)
            | Cmd::DismissPending(_)
            | Cmd::Typing(..)
            | Cmd::ReconnectNow
            | Cmd::Stop(_) => {}
        }
    }

    fn handle_offline_action(&mut self, action: NotificationAction) {
        if let NotificationAction::Open { conversation_id } = action {
            self.emit(CoreEvent::OpenWindow { conversation_id });
        }
    }

    /// The availability command presence asks for, if any, remembering what to restore.
    fn presence_command(&mut self, away: Option<bool>) -> Option<AgentCommand> {
        match (away, self.away_restore) {
            (Some(true), None) => {
                let current = self.state.availability.as_ref();
                // Restore the manual toggle only if one was in force; otherwise the schedule.
                let restore = current.and_then(|a| a.override_status);
                if current.is_some_and(|a| a.effective == AvailabilityStatus::Unavailable)
                    && restore.is_none()
                {
                    // Already unavailable by schedule: nothing to do or undo.
                    return None;
                }
                self.away_restore = Some(restore);
                Some(AgentCommand::SetAvailability {
                    id: new_id(),
                    status: Some(AvailabilityStatus::Unavailable),
                })
            }
            (Some(false), Some(restore)) => {
                self.away_restore = None;
                Some(AgentCommand::SetAvailability {
                    id: new_id(),
                    status: restore,
                })
            }
            _ => None,
        }
    }

    /// Offline: queue the presence change in the outbox (delivered after reconnect).
    fn presence_away(&mut self, away: Option<bool>) {
        if let Some(command) = self.presence_command(away)
            && let Err(e) = self.queue(command)
        {
            tracing::warn!(error = %e, "presence: cannot queue the availability change");
        }
    }

    /// Drops a refused message from its chat; a message still on its way is kept.
    fn dismiss_failed(&mut self, client_id: &str) {
        for chat in &mut self.state.chats {
            chat.pending
                .retain(|p| p.client_id != client_id || p.failed.is_none());
        }
        self.publish();
    }

    /// Puts a command in the outbox (persisted) and shows a pending message for it.
    fn queue(&mut self, command: AgentCommand) -> Result<OutboxEntry> {
        let id = match &command {
            AgentCommand::SendMessage { id, .. }
            | AgentCommand::SetAvailability { id, .. }
            | AgentCommand::EndChat { id, .. }
            | AgentCommand::MarkRead { id, .. }
            | AgentCommand::ShareCalendar { id, .. }
            | AgentCommand::Accept { id, .. }
            | AgentCommand::Decline { id, .. } => id.clone(),
            AgentCommand::Hello { .. }
            | AgentCommand::Ping { .. }
            | AgentCommand::Typing { .. } => {
                return Err(Error::Protocol("not a queueable command".into()));
            }
        };
        let entry = OutboxEntry {
            id,
            command,
            queued_at: Utc::now(),
        };
        self.outbox.push(entry.clone())?;
        if let AgentCommand::SendMessage {
            id,
            conversation_id,
            text,
        } = &entry.command
        {
            self.state.add_pending(PendingMessage {
                client_id: id.clone(),
                conversation_id: *conversation_id,
                text: text.clone(),
                queued_at: entry.queued_at,
                failed: None,
            });
        }
        self.publish();
        Ok(entry)
    }

    async fn connect(&self) -> std::result::Result<Socket, End> {
        let url = self.opts.service_url.agent_socket();
        let lost = |error: String| End::Lost {
            error,
            connected: false,
        };
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| lost(format!("bad socket URL {url}: {e}")))?;
        let bearer = HeaderValue::from_str(&format!("Bearer {}", self.opts.token))
            .map_err(|_| End::SignedOut("the stored token is malformed".into()))?;
        request.headers_mut().insert(AUTHORIZATION, bearer);
        let connecting = tokio_tungstenite::connect_async_with_config(request, None, true);
        match tokio::time::timeout(self.opts.connect_timeout, connecting).await {
            Err(_) => Err(lost(format!(
                "no answer from {} within {:?}",
                self.opts.service_url, self.opts.connect_timeout
            ))),
            Ok(Ok((socket, _))) => Ok(socket),
            Ok(Err(tungstenite::Error::Http(response))) => {
                let status = response.status();
                let body = response
                    .body()
                    .as_deref()
                    .and_then(|b| serde_json::from_slice::<ErrorBody>(b).ok());
                if status == 401
                    || body
                        .as_ref()
                        .is_some_and(|b| b.code == ErrorCode::Unauthorized)
                {
                    Err(End::SignedOut(body.map_or_else(
                        || "the service refused the token".into(),
                        |b| b.message,
                    )))
                } else {
                    Err(lost(format!(
                        "the service answered HTTP {status} to the socket upgrade"
                    )))
                }
            }
            Ok(Err(e)) => Err(lost(format!(
                "cannot connect to {}: {e}",
                self.opts.service_url
            ))),
        }
    }

    async fn connect_and_serve(&mut self) -> End {
        let mut socket = match self.connect().await {
            Ok(s) => s,
            Err(end) => return end,
        };
        let resume = (!self.state.epoch.is_empty()).then(|| ResumeFrom {
            epoch: self.state.epoch.clone(),
            seq: self.state.seq,
        });
        let hello = AgentCommand::Hello {
            protocol: PROTOCOL_VERSION,
            resume,
        };
        if let Err(e) = send_json(&mut socket, &hello).await {
            return End::Lost {
                error: e,
                connected: false,
            };
        }
        // The first frame: ready (snapshot) or resumed (replay follows).
        let heartbeat_from_service =
            match tokio::time::timeout(self.opts.connect_timeout, read_frame(&mut socket)).await {
                Err(_) => {
                    return End::Lost {
                        error: "no ready frame from the service".into(),
                        connected: false,
                    };
                }
                Ok(Err(e)) => {
                    return End::Lost {
                        error: e,
                        connected: false,
                    };
                }
                Ok(Ok(AgentServerFrame::Ready(snapshot))) => {
                    let heartbeat = snapshot.heartbeat_secs;
                    self.state.apply_ready(snapshot);
                    self.state.snapshot_connections += 1;
                    Some(heartbeat)
                }
                Ok(Ok(AgentServerFrame::Resumed { .. })) => {
                    self.state.resumed_connections += 1;
                    None
                }
                Ok(Ok(AgentServerFrame::Error { error, .. }))
                    if error.code == ErrorCode::Unauthorized =>
                {
                    return End::SignedOut(error.message);
                }
                Ok(Ok(other)) => {
                    return End::Lost {
                        error: format!("expected ready, got {}", frame_name(&other)),
                        connected: false,
                    };
                }
            };
        let heartbeat = self
            .opts
            .heartbeat
            .or_else(|| heartbeat_from_service.map(|s| Duration::from_secs(u64::from(s.max(1)))))
            .unwrap_or(Duration::from_secs(15));
        self.set_connection(ConnectionStatus::Connected);
        self.reconcile_offers();

        // Replay the outbox in order; the service applies each id once.
        let pending: Vec<AgentCommand> = self.outbox.entries().map(|e| e.command.clone()).collect();
        for command in pending {
            if let Err(e) = send_json(&mut socket, &command).await {
                return End::Lost {
                    error: e,
                    connected: true,
                };
            }
        }

        let end = self.serve(&mut socket, heartbeat).await;
        // In-flight offer answers cannot be confirmed any more.
        for (
            _,
            InFlightAnswer {
                offer_id, reply, ..
            },
        ) in self.answers.drain()
        {
            if let Some(o) = self
                .state
                .offers
                .iter_mut()
                .find(|o| o.offer.id == offer_id)
            {
                o.answering = false;
            }
            if let Some(tx) = reply {
                let _ = tx.send(Err(Error::Offline));
            }
        }
        self.publish();
        if let End::Stop(_) = &end {
            let _ = socket
                .close(Some(CloseFrame {
                    code: 1000.into(),
                    reason: "bye".into(),
                }))
                .await;
        }
        end
    }

    async fn serve(&mut self, socket: &mut Socket, heartbeat: Duration) -> End {
        let mut last_heard = Instant::now();
        let mut ping = tokio::time::interval(heartbeat);
        ping.reset();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let lost = |error: String| End::Lost {
            error,
            connected: true,
        };
        loop {
            tokio::select! {
                incoming = socket.next() => {
                    let message = match incoming {
                        None => return lost("the service closed the connection".into()),
                        Some(Err(e)) => return lost(format!("connection error: {e}")),
                        Some(Ok(m)) => m,
                    };
                    last_heard = Instant::now();
                    match message {
                        WsMessage::Text(text) => match serde_json::from_str::<AgentServerFrame>(text.as_str()) {
                            Ok(frame) => {
                                if let Some(end) = self.on_frame(frame) {
                                    return end;
                                }
                            }
                            Err(e) => tracing::warn!(error = %e, "skipping a frame that is not the protocol"),
                        },
                        WsMessage::Close(Some(frame)) if u16::from(frame.code) == 4001 => {
                            return End::SignedOut("signed out on the service (logged out)".into());
                        }
                        WsMessage::Close(frame) => {
                            let reason = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason)).unwrap_or_default();
                            return lost(format!("the service closed the connection {reason}").trim().to_owned());
                        }
                        WsMessage::Binary(_) => tracing::warn!("skipping a binary frame"),
                        WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {}
                    }
                }
                cmd = self.cmd_rx.recv() => {
                    let Some(cmd) = cmd else { return End::Stop(None) };
                    let Some(cmd) = self.apply_local(cmd) else { continue };
                    match cmd {
                        Cmd::Stop(tx) => return End::Stop(Some(tx)),
                        Cmd::ReconnectNow => return End::Again,
                        // Applied by apply_local above.
                        Cmd::SetFocused(_) | Cmd::NotificationsProblem(_) | Cmd::DismissPending(_) => {}
                        Cmd::Presence { away, resumed } => {
                            if let Some(command) = self.presence_command(away) {
                                match self.queue(command) {
                                    Ok(entry) => {
                                        if let Err(e) = send_json(socket, &entry.command).await {
                                            return lost(e);
                                        }
                                    }
                                    Err(e) => tracing::warn!(error = %e, "presence: cannot queue the availability change"),
                                }
                            }
                            if resumed {
                                // The connection may look alive but be dead after a sleep.
                                return End::Again;
                            }
                        }
                        Cmd::Typing(conversation_id, typing) => {
                            if let Err(e) = send_json(socket, &AgentCommand::Typing { conversation_id, typing }).await {
                                return lost(e);
                            }
                        }
                        Cmd::Enqueue(command, reply) => match self.queue(command) {
                            Ok(entry) => {
                                self.waiters.insert(entry.id.clone(), reply);
                                if let Err(e) = send_json(socket, &entry.command).await {
                                    return lost(e);
                                }
                            }
                            Err(e) => {
                                let _ = reply.send(Err(e));
                            }
                        },
                        Cmd::Answer(offer_id, answer, reply) => {
                            if let Err(e) = self.answer(socket, offer_id, answer, reply).await {
                                return lost(e);
                            }
                        }
                    }
                }
                action = self.actions_rx.recv() => match action {
                    Some(NotificationAction::Answer { offer_id, answer }) => {
                        if let Err(e) = self.answer(socket, offer_id, answer, None).await {
                            return lost(e);
                        }
                    }
                    Some(NotificationAction::Open { conversation_id }) => self.emit(CoreEvent::OpenWindow { conversation_id }),
                    None => {}
                },
                _ = ping.tick() => {
                    if last_heard.elapsed() > heartbeat * 3 {
                        return lost(format!("no heartbeat from the service for {:?}", heartbeat * 3));
                    }
                    if socket.send(WsMessage::Ping(Default::default())).await.is_err() {
                        return lost("cannot send a heartbeat".into());
                    }
                }
                _ = tick.tick() => self.offer_timers(),
            }
        }
    }

    /// Sends an offer answer, once per offer.
    async fn answer(
        &mut self,
        socket: &mut Socket,
        offer_id: OfferId,
        answer: OfferAnswer,
        reply: Option<oneshot::Sender<Result<()>>>,
    ) -> std::result::Result<(), String> {
        let open = self
            .state
            .offers
            .iter_mut()
            .find(|o| o.offer.id == offer_id && !o.answering);
        let Some(offer) = open else {
            if let Some(tx) = reply {
                let _ = tx.send(Err(Error::NoSuchOffer));
            }
            return Ok(());
        };
        offer.answering = true;
        let conversation_id = offer.offer.conversation_id;
        let id = new_id();
        let command = match answer {
            OfferAnswer::Accept => AgentCommand::Accept {
                id: id.clone(),
                offer_id,
            },
            OfferAnswer::Decline => AgentCommand::Decline {
                id: id.clone(),
                offer_id,
            },
        };
        self.answers.insert(
            id,
            InFlightAnswer {
                offer_id,
                conversation_id,
                answer,
                reply,
            },
        );
        self.publish();
        send_json(socket, &command).await
    }

    /// Applies a frame; `Some` ends the connection.
    fn on_frame(&mut self, frame: AgentServerFrame) -> Option<End> {
        match frame {
            AgentServerFrame::Event { seq, event } => match self.state.apply_event(seq, &event) {
                Applied::Duplicate => {}
                Applied::Gap { last, got } => {
                    tracing::warn!(last, got, "event sequence gap; resuming");
                    return Some(End::Again);
                }
                Applied::Changed => {
                    self.after_event(&event);
                    self.publish();
                }
            },
            AgentServerFrame::Ack { id, message } => self.on_answer(&id, Ok(message)),
            AgentServerFrame::Error {
                id: Some(id),
                error,
            } => self.on_answer(&id, Err(error)),
            AgentServerFrame::Error { id: None, error } => {
                tracing::warn!(code = ?error.code, message = %error.message, "service error");
                if error.code == ErrorCode::Unauthorized {
                    return Some(End::SignedOut(error.message));
                }
            }
            AgentServerFrame::Typing {
                conversation_id,
                typing,
            } => {
                if self.state.set_typing(conversation_id, typing) {
                    self.publish();
                }
            }
            AgentServerFrame::Ready(snapshot) => {
                self.state.apply_ready(snapshot);
                self.reconcile_offers();
                self.publish();
            }
            AgentServerFrame::Resumed { .. } | AgentServerFrame::Pong { .. } => {}
        }
        None
    }

    fn after_event(&mut self, event: &AgentEvent) {
        match event {
            AgentEvent::Message { message } => {
                if message.author == Author::Visitor {
                    if !self.focused && self.opts.notify_messages {
                        let name = self
                            .state
                            .chat(message.conversation_id)
                            .and_then(|c| c.summary.visitor.name.clone())
                            .unwrap_or_else(|| "A visitor".into());
                        self.notifier.message(&name, message, &self.sink);
                    }
                    self.emit(CoreEvent::MessageReceived {
                        message: message.clone(),
                    });
                }
            }
            AgentEvent::ConversationStarted { conversation } => {
                self.emit(CoreEvent::ConversationStarted {
                    conversation_id: conversation.summary.id,
                });
            }
            AgentEvent::ConversationEnded {
                conversation_id,
                reason,
            } => {
                self.emit(CoreEvent::ConversationEnded {
                    conversation_id: *conversation_id,
                    reason: *reason,
                });
            }
            AgentEvent::MessageLeft { conversation } => self.emit(CoreEvent::MessageLeft {
                conversation: conversation.clone(),
            }),
            AgentEvent::OfferWithdrawn {
                offer_id, reason, ..
            } => {
                let why = match reason {
                    WithdrawReason::Expired => OfferClosed::Expired,
                    WithdrawReason::Declined => OfferClosed::Declined,
                    WithdrawReason::Taken => OfferClosed::Accepted,
                    WithdrawReason::VisitorLeft | WithdrawReason::AgentUnavailable => {
                        OfferClosed::Withdrawn
                    }
                };
                self.close_offer_notification(*offer_id, why);
            }
            AgentEvent::Offer { .. }
            | AgentEvent::Availability { .. }
            | AgentEvent::Read { .. } => {}
        }
        self.reconcile_offers();
    }

    /// An `ack` or `error` for a command id.
    fn on_answer(&mut self, id: &str, result: std::result::Result<Option<Message>, ErrorBody>) {
        if let Some(InFlightAnswer {
            offer_id,
            conversation_id,
            answer,
            reply,
        }) = self.answers.remove(id)
        {
            let outcome = match &result {
                Ok(_) => {
                    self.state.offers.retain(|o| o.offer.id != offer_id);
                    let why = if answer == OfferAnswer::Accept {
                        OfferClosed::Accepted
                    } else {
                        OfferClosed::Declined
                    };
                    self.close_offer_notification(offer_id, why);
                    if answer == OfferAnswer::Accept {
                        self.emit(CoreEvent::OpenWindow {
                            conversation_id: Some(conversation_id),
                        });
                    }
                    Ok(())
                }
                Err(error) => {
                    // Taken, expired or not ours: the offer is over either way.
                    self.state.offers.retain(|o| o.offer.id != offer_id);
                    self.close_offer_notification(offer_id, OfferClosed::Withdrawn);
                    Err(Error::Service(error.clone()))
                }
            };
            if let Some(tx) = reply {
                let _ = tx.send(outcome);
            }
            self.publish();
            return;
        }
        match self.outbox.remove(id) {
            Ok(Some(_)) => {}
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot update the outbox file"),
        }
        match &result {
            Ok(Some(message)) => self.state.confirm_pending(message),
            Ok(None) => {}
            Err(error) => {
                self.state.fail_pending(id, error.clone());
                self.emit(CoreEvent::CommandFailed {
                    client_id: id.to_owned(),
                    error: error.clone(),
                });
            }
        }
        if let Some(tx) = self.waiters.remove(id) {
            let _ = tx.send(result.map(drop).map_err(Error::Service));
        }
        self.publish();
    }

    /// Raises notifications for offers that have none and closes those of vanished offers.
    fn reconcile_offers(&mut self) {
        let now = Utc::now();
        let open: Vec<Offer> = self.state.offers.iter().map(|o| o.offer.clone()).collect();
        for offer in &open {
            if self.notified.insert(offer.id) {
                let left = (offer.expires_at - now).to_std().unwrap_or_default();
                self.notifier.offer(offer, left, false, &self.sink);
                self.last_alert.insert(offer.id, Instant::now());
                self.emit(CoreEvent::OfferReceived {
                    offer: offer.clone(),
                });
                self.emit(CoreEvent::OfferAlert {
                    offer_id: offer.id,
                    realert: false,
                });
            }
        }
        let gone: Vec<OfferId> = self
            .notified
            .iter()
            .filter(|id| !open.iter().any(|o| o.id == **id))
            .copied()
            .collect();
        for id in gone {
            self.close_offer_notification(id, OfferClosed::Withdrawn);
        }
    }

    fn close_offer_notification(&mut self, offer_id: OfferId, reason: OfferClosed) {
        if self.notified.remove(&offer_id) {
            self.notifier.close_offer(offer_id);
            self.last_alert.remove(&offer_id);
            self.emit(CoreEvent::OfferClosed { offer_id, reason });
        }
    }

    fn close_all_offers(&mut self, reason: OfferClosed) {
        self.state.offers.clear();
        let ids: Vec<OfferId> = self.notified.iter().copied().collect();
        for id in ids {
            self.close_offer_notification(id, reason);
        }
    }

    /// Re-alerts unanswered offers (R9) and drops offers past their deadline that the service
    /// could not withdraw (while disconnected).
    fn offer_timers(&mut self) {
        let now = Utc::now();
        let expired: Vec<OfferId> = self
            .state
            .offers
            .iter()
            .filter(|o| o.offer.expires_at + chrono::Duration::seconds(2) <= now)
            .map(|o| o.offer.id)
            .collect();
        if !expired.is_empty() {
            self.state.offers.retain(|o| !expired.contains(&o.offer.id));
            for id in expired {
                self.close_offer_notification(id, OfferClosed::Expired);
            }
            self.publish();
        }
        let due: Vec<Offer> = self
            .state
            .offers
            .iter()
            .filter(|o| !o.answering)
            .filter(|o| {
                self.last_alert
                    .get(&o.offer.id)
                    .is_none_or(|t| t.elapsed() >= self.opts.realert_every)
            })
            .map(|o| o.offer.clone())
            .collect();
        for offer in due {
            let left = (offer.expires_at - now).to_std().unwrap_or_default();
            let first = !self.notified.contains(&offer.id);
            self.notified.insert(offer.id);
            self.notifier.offer(&offer, left, !first, &self.sink);
            self.last_alert.insert(offer.id, Instant::now());
            self.emit(CoreEvent::OfferAlert {
                offer_id: offer.id,
                realert: !first,
            });
        }
    }
}

async fn send_json<T: serde::Serialize>(
    socket: &mut Socket,
    value: &T,
) -> std::result::Result<(), String> {
    let text = serde_json::to_string(value).map_err(|e| format!("encoding a command: {e}"))?;
    socket
        .send(WsMessage::Text(text.into()))
        .await
        .map_err(|e| format!("sending: {e}"))
}

async fn read_frame(socket: &mut Socket) -> std::result::Result<AgentServerFrame, String> {
    loop {
        match socket.next().await {
            None => return Err("the service closed the connection".into()),
            Some(Err(e)) => return Err(format!("connection error: {e}")),
            Some(Ok(WsMessage::Text(text))) => {
                return serde_json::from_str(text.as_str())
                    .map_err(|e| format!("not a protocol frame: {e}"));
            }
            Some(Ok(WsMessage::Close(frame))) => {
                let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                return Err(format!("the service closed the connection: {reason}"));
            }
            Some(Ok(_)) => {}
        }
    }
}

fn frame_name(frame: &AgentServerFrame) -> &'static str {
    match frame {
        AgentServerFrame::Ready(_) => "ready",
        AgentServerFrame::Resumed { .. } => "resumed",
        AgentServerFrame::Event { .. } => "event",
        AgentServerFrame::Ack { .. } => "ack",
        AgentServerFrame::Error { .. } => "error",
        AgentServerFrame::Typing { .. } => "typing",
        AgentServerFrame::Pong { .. } => "pong",
    }
}
