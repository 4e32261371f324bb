//! [`DesktopNotifier`]: native notifications on Linux and the BSDs through the freedesktop
//! notification service (`org.freedesktop.Notifications` on the session bus), spoken with
//! zbus directly.
//!
//! # How it works
//!
//! All D-Bus work happens on one dedicated thread (`notifications`) that runs a
//! single-threaded tokio runtime. The [`Notifier`] methods only queue a command for it
//! (`try_send`: they never block the engine's runtime), so notifications are raised, replaced
//! and closed in the order the engine asked. The thread holds **one** session-bus connection
//! for everything:
//!
//! - before its first `Notify` it subscribes to the server's `ActionInvoked` and
//!   `NotificationClosed` signals with a match rule and one long-lived message stream, so no
//!   click can arrive before someone listens;
//! - `Notify` raises an offer; a re-alert is a `Notify` with `replaces_id` = the shown id
//!   (one notification, never a stack), from the same connection (some servers only let the
//!   client that raised a notification replace or close it, and send its signals only to it);
//! - `close_offer` forgets the id first and then calls `CloseNotification(id)`, so a late
//!   click on a withdrawn offer answers nothing;
//! - Accept / Decline become [`NotificationAction::Answer`] once: the notification is closed
//!   and later re-alerts for that offer are ignored until the engine withdraws it.
//!
//! When the connection fails the command is logged and dropped and the next command connects
//! again (the offer banner in the window does not depend on it).
//!
//! Why not notify-rust's `NotificationHandle::wait_for_action`: it opens a connection per
//! notification, subscribes only when waiting starts (a click right after `Notify` is lost),
//! and re-creates its message stream after every signal it sees, so a signal arriving while it
//! handles another (say, another notification closing) is lost too. Both were seen in tests.
//!
//! Visitor text is escaped (`&`, `<`, `>`) when the server renders body markup, so it is
//! always shown as the characters typed.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use protocol::{ConversationId, Message, MessageContent, Offer, OfferId};
use tokio::sync::mpsc;
use zbus::Variant;

use super::{AnswerSink, NotificationAction, Notifier, OfferAnswer};
use crate::error::{Error, Result};

/// The application name the notification server shows.
pub const APP_NAME: &str = "Agent Inbox";
/// Action keys on an offer's notification.
pub const ACTION_ACCEPT: &str = "accept";
pub const ACTION_DECLINE: &str = "decline";
/// The freedesktop key of a click on the notification itself.
pub const ACTION_DEFAULT: &str = "default";
/// The freedesktop category of both kinds of notification.
pub const CATEGORY: &str = "im.received";
/// The freedesktop sound name played with offers and their re-alerts.
pub const SOUND_NAME: &str = "message-new-instant";

const BUS_NAME: &str = "org.freedesktop.Notifications";
const OBJECT_PATH: &str = "/org/freedesktop/Notifications";
const INTERFACE: &str = "org.freedesktop.Notifications";
const SIGNALS: &str =
    "type='signal',interface='org.freedesktop.Notifications',path='/org/freedesktop/Notifications'";

/// How many commands may wait for the notification thread. It only waits for D-Bus round
/// trips, so a full queue means the bus is stuck; further commands are dropped and logged.
const QUEUE: usize = 256;
/// How many signals may wait while the thread is in a call (a burst of closes and clicks).
const SIGNAL_QUEUE: usize = 1024;
/// The longest one D-Bus call may take before the command is given up.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest visitor name shown in a summary, in characters.
const MAX_NAME: usize = 60;
/// Longest message text shown in a body, in characters.
const MAX_TEXT: usize = 240;

/// Native notifications on the freedesktop notification service.
///
/// Create one per app and keep it; dropping it closes the offers' notifications it still
/// shows and ends its thread.
#[derive(Debug)]
pub struct DesktopNotifier {
    commands: mpsc::Sender<Command>,
    shown: Shown,
    sound: Arc<AtomicBool>,
    messages: AtomicBool,
}

/// The server's id of each offer's notification while it is shown.
type Shown = Arc<Mutex<HashMap<OfferId, u32>>>;

#[derive(Debug)]
enum Command {
    Offer {
        offer: Box<Offer>,
        time_left: Duration,
        answers: AnswerSink,
    },
    CloseOffer(OfferId),
    Message {
        conversation_id: ConversationId,
        visitor_name: String,
        text: String,
        answers: AnswerSink,
    },
}

impl Default for DesktopNotifier {
    fn default() -> Self {
        DesktopNotifier::new()
    }
}

impl DesktopNotifier {
    /// Starts the notification thread. Nothing touches D-Bus until the first notification.
    /// Never fails: when the thread cannot start, notifications are logged as lost.
    pub fn new() -> Self {
        let (commands, receiver) = mpsc::channel(QUEUE);
        let shown = Shown::default();
        let sound = Arc::new(AtomicBool::new(true));
        let worker = Worker {
            shown: shown.clone(),
            sound: sound.clone(),
            bus: None,
            offers: HashMap::new(),
            chats: HashMap::new(),
            targets: HashMap::new(),
        };
        let spawned = std::thread::Builder::new()
            .name("notifications".into())
            .spawn(move || worker.run_thread(receiver));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the notification thread; no native notifications");
        }
        DesktopNotifier {
            commands,
            shown,
            sound,
            messages: AtomicBool::new(true),
        }
    }

    /// Whether offers and re-alerts ask the server to play a sound (default on).
    pub fn set_sound(&self, on: bool) {
        self.sound.store(on, Ordering::Relaxed);
    }

    /// Whether [`Notifier::message`] raises notifications (default on).
    pub fn set_message_notifications(&self, on: bool) {
        self.messages.store(on, Ordering::Relaxed);
    }

    /// The server's id of the offer's notification while it is shown: `None` until the
    /// server answered the first `Notify`, and again once it was answered or withdrawn.
    pub fn notification_id(&self, offer_id: OfferId) -> Option<u32> {
        lock(&self.shown).get(&offer_id).copied()
    }

    /// Asks the notification server what it supports (`actions`, `body-markup`, `sound`,
    /// ...). An error means there is no notification server on the session bus, so offers
    /// cannot be answered from notifications. Blocks for a D-Bus round trip (on a thread of
    /// its own, so it is safe anywhere; from async code prefer `spawn_blocking`).
    pub fn server_capabilities() -> Result<Vec<String>> {
        let ask = || {
            zbus::block_on(async {
                let connection = zbus::Connection::session().await?;
                capabilities(&connection).await
            })
        };
        std::thread::scope(|s| s.spawn(ask).join())
            .map_err(|_| Error::Notification("the D-Bus library failed unexpectedly".into()))?
            .map_err(|e| Error::Notification(e.to_string()))
    }

    fn queue(&self, command: Command) {
        if let Err(e) = self.commands.try_send(command) {
            let reason = match e {
                mpsc::error::TrySendError::Full(_) => "the notification queue is full",
                mpsc::error::TrySendError::Closed(_) => "the notification thread has stopped",
            };
            tracing::warn!("notification dropped: {reason}");
        }
    }
}

impl Notifier for DesktopNotifier {
    fn set_preferences(&self, sound: bool, messages: bool) {
        self.set_sound(sound);
        self.set_message_notifications(messages);
    }

    fn offer(&self, offer: &Offer, time_left: Duration, realert: bool, answers: &AnswerSink) {
        tracing::debug!(offer = %offer.id, realert, "offer notification");
        self.queue(Command::Offer {
            offer: Box::new(offer.clone()),
            time_left,
            answers: answers.clone(),
        });
    }

    fn close_offer(&self, offer_id: OfferId) {
        self.queue(Command::CloseOffer(offer_id));
    }

    fn message(&self, visitor_name: &str, message: &Message, answers: &AnswerSink) {
        if !self.messages.load(Ordering::Relaxed) {
            return;
        }
        let text = match &message.content {
            MessageContent::Text { text } | MessageContent::Notice { text } => text.clone(),
            MessageContent::CalendarShare {
                calendar_agent_name,
                ..
            } => format!("Shared the calendar of {calendar_agent_name}"),
            MessageContent::Booking { .. } => "Booked a meeting".to_owned(),
        };
        self.queue(Command::Message {
            conversation_id: message.conversation_id,
            visitor_name: visitor_name.to_owned(),
            text,
            answers: answers.clone(),
        });
    }
}

fn lock(shown: &Shown) -> std::sync::MutexGuard<'_, HashMap<OfferId, u32>> {
    shown
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn capabilities(connection: &zbus::Connection) -> zbus::Result<Vec<String>> {
    connection
        .call_method(
            Some(BUS_NAME),
            OBJECT_PATH,
            Some(INTERFACE),
            "GetCapabilities",
            &(),
        )
        .await?
        .body()
        .deserialize()
}

// ---------------------------------------------------------------------------------------
// The notification thread

/// The session-bus connection and what the server said about itself.
struct Bus {
    connection: zbus::Connection,
    signals: zbus::MessageStream,
    /// Escape visitor text: the server renders markup in bodies.
    escape: bool,
}

/// An offer's notification.
struct OfferNote {
    id: Option<u32>,
    conversation_id: ConversationId,
    answers: AnswerSink,
    /// Answered on the notification: it stays closed until the engine withdraws the offer.
    answered: bool,
}

/// A conversation's message notification.
struct ChatNote {
    id: u32,
    answers: AnswerSink,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Offer(OfferId),
    Chat(ConversationId),
}

struct Worker {
    shown: Shown,
    sound: Arc<AtomicBool>,
    bus: Option<Bus>,
    offers: HashMap<OfferId, OfferNote>,
    chats: HashMap<ConversationId, ChatNote>,
    /// Notification id -> what it shows, for the server's signals.
    targets: HashMap<u32, Target>,
}

enum Event {
    Command(Option<Command>),
    Signal(Option<zbus::Result<zbus::Message>>),
}

impl Worker {
    fn run_thread(self, commands: mpsc::Receiver<Command>) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the notification runtime; no native notifications");
                return;
            }
        };
        runtime.block_on(self.run(commands));
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            let event = match self.bus.as_mut() {
                Some(bus) => tokio::select! {
                    // Signals first: a click that reached us before a close is delivered (the
                    // engine drops an answer for an offer that is gone).
                    biased;
                    signal = bus.signals.next() => Event::Signal(signal),
                    command = commands.recv() => Event::Command(command),
                },
                None => Event::Command(commands.recv().await),
            };
            match event {
                Event::Command(Some(command)) => self.command(command).await,
                Event::Command(None) => break,
                Event::Signal(Some(Ok(message))) => self.signal(&message).await,
                Event::Signal(Some(Err(e))) => {
                    tracing::debug!(error = %e, "unreadable message from the notification server");
                }
                Event::Signal(None) => {
                    tracing::warn!("lost the session bus; reconnecting with the next notification");
                    self.disconnected();
                }
            }
        }
        // The notifier was dropped: withdraw the offers, which can no longer be answered.
        let open: Vec<OfferId> = self.offers.keys().copied().collect();
        for offer_id in open {
            self.close_offer(offer_id).await;
        }
    }

    /// The connection, connecting (and subscribing to the server's signals) when needed.
    async fn bus(&mut self) -> Option<&Bus> {
        if self.bus.is_none() {
            match connect().await {
                Ok(bus) => self.bus = Some(bus),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reach the notification service on the session bus");
                    return None;
                }
            }
        }
        self.bus.as_ref()
    }

    fn disconnected(&mut self) {
        self.bus = None;
        self.targets.clear();
        self.chats.clear();
        for note in self.offers.values_mut() {
            note.id = None;
        }
        lock(&self.shown).clear();
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Offer {
                offer,
                time_left,
                answers,
            } => self.offer(&offer, time_left, answers).await,
            Command::CloseOffer(offer_id) => self.close_offer(offer_id).await,
            Command::Message {
                conversation_id,
                visitor_name,
                text,
                answers,
            } => {
                self.message(conversation_id, &visitor_name, &text, answers)
                    .await
            }
        }
    }

    async fn offer(&mut self, offer: &Offer, time_left: Duration, answers: AnswerSink) {
        if self.offers.get(&offer.id).is_some_and(|n| n.answered) {
            return;
        }
        let replaces = self.offers.get(&offer.id).and_then(|n| n.id).unwrap_or(0);
        let sound = self.sound.load(Ordering::Relaxed);
        let Some(bus) = self.bus().await else {
            return;
        };
        let notification = offer_notification(offer, time_left, sound, bus.escape);
        let Some(id) = self.notify(&notification, replaces).await else {
            return;
        };
        if replaces != 0 && replaces != id {
            self.targets.remove(&replaces);
        }
        self.targets.insert(id, Target::Offer(offer.id));
        self.offers.insert(
            offer.id,
            OfferNote {
                id: Some(id),
                conversation_id: offer.conversation_id,
                answers,
                answered: false,
            },
        );
        lock(&self.shown).insert(offer.id, id);
    }

    async fn close_offer(&mut self, offer_id: OfferId) {
        lock(&self.shown).remove(&offer_id);
        let Some(note) = self.offers.remove(&offer_id) else {
            return;
        };
        if let Some(id) = note.id {
            self.targets.remove(&id);
            self.close(id).await;
        }
    }

    async fn message(
        &mut self,
        conversation_id: ConversationId,
        visitor_name: &str,
        text: &str,
        answers: AnswerSink,
    ) {
        let replaces = self.chats.get(&conversation_id).map_or(0, |n| n.id);
        let Some(bus) = self.bus().await else {
            return;
        };
        let notification = message_notification(visitor_name, text, bus.escape);
        let Some(id) = self.notify(&notification, replaces).await else {
            return;
        };
        if replaces != 0 && replaces != id {
            self.targets.remove(&replaces);
        }
        self.targets.insert(id, Target::Chat(conversation_id));
        self.chats.insert(conversation_id, ChatNote { id, answers });
    }

    /// `Notify`; the server's id, or `None` (logged) when it failed.
    async fn notify(&mut self, n: &Notification, replaces_id: u32) -> Option<u32> {
        let bus = self.bus.as_ref()?;
        let hints: HashMap<&str, Variant<'_>> =
            n.hints.iter().map(|(k, v)| (*k, v.as_variant())).collect();
        let body = (
            APP_NAME,
            replaces_id,
            "",
            n.summary.as_str(),
            n.body.as_str(),
            &n.actions,
            hints,
            n.timeout_ms,
        );
        let call = bus.connection.call_method(
            Some(BUS_NAME),
            OBJECT_PATH,
            Some(INTERFACE),
            "Notify",
            &body,
        );
        let result = match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(reply)) => reply.body().deserialize::<u32>(),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                tracing::warn!(summary = %n.summary, "the notification server did not answer Notify");
                return None;
            }
        };
        match result {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::warn!(error = %e, summary = %n.summary, "cannot show a notification");
                if is_disconnect(&e) {
                    self.disconnected();
                }
                None
            }
        }
    }

    /// `CloseNotification(id)`; failures are logged (the server may have closed it already).
    async fn close(&mut self, id: u32) {
        let Some(bus) = self.bus.as_ref() else {
            return;
        };
        let body = (id,);
        let call = bus.connection.call_method(
            Some(BUS_NAME),
            OBJECT_PATH,
            Some(INTERFACE),
            "CloseNotification",
            &body,
        );
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::debug!(error = %e, id, "CloseNotification failed");
                if is_disconnect(&e) {
                    self.disconnected();
                }
            }
            Err(_) => tracing::warn!(
                id,
                "the notification server did not answer CloseNotification"
            ),
        }
    }

    async fn signal(&mut self, message: &zbus::Message) {
        let header = message.header();
        let Some(member) = header.member() else {
            return;
        };
        match member.as_str() {
            "ActionInvoked" => {
                if let Ok((id, action)) = message.body().deserialize::<(u32, String)>() {
                    self.action(id, &action).await;
                }
            }
            "NotificationClosed" => {
                if let Ok((id, reason)) = message.body().deserialize::<(u32, u32)>() {
                    self.closed_by_server(id, reason);
                }
            }
            _ => {}
        }
    }

    async fn action(&mut self, id: u32, action: &str) {
        let Some(target) = self.targets.get(&id).copied() else {
            return;
        };
        match target {
            Target::Offer(offer_id) => {
                let Some(note) = self.offers.get_mut(&offer_id) else {
                    return;
                };
                let answer = match action {
                    ACTION_ACCEPT => OfferAnswer::Accept,
                    ACTION_DECLINE => OfferAnswer::Decline,
                    ACTION_DEFAULT => {
                        note.answers.send(NotificationAction::Open {
                            conversation_id: Some(note.conversation_id),
                        });
                        return;
                    }
                    other => {
                        tracing::debug!(offer = %offer_id, action = other, "ignored notification action");
                        return;
                    }
                };
                tracing::info!(offer = %offer_id, ?answer, "offer answered on its notification");
                if !note
                    .answers
                    .send(NotificationAction::Answer { offer_id, answer })
                {
                    tracing::warn!(offer = %offer_id, "the engine did not take the answer");
                }
                note.answered = true;
                note.id = None;
                // Withdrawn at once (a resident notification would stay otherwise); no second
                // answer can come from it.
                self.targets.remove(&id);
                lock(&self.shown).remove(&offer_id);
                self.close(id).await;
            }
            Target::Chat(conversation_id) => {
                if action == ACTION_DEFAULT
                    && let Some(note) = self.chats.get(&conversation_id)
                {
                    note.answers.send(NotificationAction::Open {
                        conversation_id: Some(conversation_id),
                    });
                }
            }
        }
    }

    fn closed_by_server(&mut self, id: u32, reason: u32) {
        let Some(target) = self.targets.get(&id).copied() else {
            return;
        };
        match target {
            // Dismissed or timed out: the offer stays until the engine withdraws it, and the
            // next re-alert shows it again (replacing the same id).
            Target::Offer(offer_id) => {
                tracing::debug!(offer = %offer_id, reason, "offer notification closed by the server");
            }
            Target::Chat(conversation_id) => {
                self.targets.remove(&id);
                if self.chats.get(&conversation_id).is_some_and(|n| n.id == id) {
                    self.chats.remove(&conversation_id);
                }
            }
        }
    }
}

async fn connect() -> zbus::Result<Bus> {
    let connection = zbus::Connection::session().await?;
    // Subscribe before the first Notify, so no signal can come before someone listens.
    let signals =
        zbus::MessageStream::for_match_rule(SIGNALS, &connection, NonZeroUsize::new(SIGNAL_QUEUE))
            .await?;
    let escape = match capabilities(&connection).await {
        Ok(caps) => {
            tracing::info!(capabilities = ?caps, "notification server");
            if !caps.iter().any(|c| c == "actions") {
                tracing::warn!(
                    "the notification server shows no actions: offers cannot be answered from notifications"
                );
            }
            caps.iter().any(|c| c == "body-markup")
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot ask the notification server for its capabilities");
            true
        }
    };
    Ok(Bus {
        connection,
        signals,
        escape,
    })
}

fn is_disconnect(e: &zbus::Error) -> bool {
    matches!(e, zbus::Error::InputOutput(_))
}

// ---------------------------------------------------------------------------------------
// What the notifications say

/// A hint value.
#[derive(Debug, Clone, PartialEq)]
enum HintValue {
    Byte(u8),
    Bool(bool),
    Text(&'static str),
}

impl HintValue {
    fn as_variant(&self) -> Variant<'static> {
        match *self {
            HintValue::Byte(b) => Variant::from(b),
            HintValue::Bool(b) => Variant::from(b),
            HintValue::Text(s) => Variant::from(s),
        }
    }
}

/// A notification as `Notify` sends it (the app name and icon are fixed).
#[derive(Debug, Clone, PartialEq)]
struct Notification {
    summary: String,
    body: String,
    /// Key, label, key, label, ...
    actions: Vec<&'static str>,
    hints: Vec<(&'static str, HintValue)>,
    /// -1: the server's default.
    timeout_ms: i32,
}

/// Urgency hint values of the specification.
const URGENCY_NORMAL: u8 = 1;
const URGENCY_CRITICAL: u8 = 2;

fn offer_notification(
    offer: &Offer,
    time_left: Duration,
    sound: bool,
    escape: bool,
) -> Notification {
    let name = visitor_name(offer.visitor.name.as_deref());
    let left = seconds_left(time_left);
    let body = match offer.first_message.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => {
            format!("{} \u{2014} {left}", body_text(text, escape))
        }
        _ => left,
    };
    let mut hints = vec![
        ("urgency", HintValue::Byte(URGENCY_CRITICAL)),
        ("category", HintValue::Text(CATEGORY)),
    ];
    if sound {
        hints.push(("sound-name", HintValue::Text(SOUND_NAME)));
    } else {
        hints.push(("suppress-sound", HintValue::Bool(true)));
    }
    Notification {
        summary: format!("Chat request from {name}"),
        body,
        actions: vec![
            ACTION_ACCEPT,
            "Accept",
            ACTION_DECLINE,
            "Decline",
            ACTION_DEFAULT,
            "Open",
        ],
        hints,
        // Servers that honour timeouts drop it when the offer expires, even if the app died.
        timeout_ms: i32::try_from(time_left.as_millis())
            .unwrap_or(i32::MAX)
            .max(1),
    }
}

fn message_notification(visitor_name_raw: &str, text: &str, escape: bool) -> Notification {
    let name = visitor_name(Some(visitor_name_raw));
    Notification {
        summary: format!("New message from {name}"),
        body: body_text(text, escape),
        actions: vec![ACTION_DEFAULT, "Open"],
        hints: vec![
            ("urgency", HintValue::Byte(URGENCY_NORMAL)),
            ("category", HintValue::Text(CATEGORY)),
        ],
        timeout_ms: -1,
    }
}

/// The visitor's name for a summary (plain text by the specification): one line, bounded,
/// "A visitor" when none was given.
fn visitor_name(name: Option<&str>) -> String {
    let name = one_line(name.unwrap_or_default());
    if name.is_empty() {
        "A visitor".to_owned()
    } else {
        truncate(&name, MAX_NAME)
    }
}

/// Visitor text for a body: one line, bounded, and escaped when the server renders markup.
fn body_text(text: &str, escape: bool) -> String {
    let text = truncate(&one_line(text), MAX_TEXT);
    if escape { escape_markup(&text) } else { text }
}

/// `&`, `<` and `>` as entities, so body markup shows as the characters typed.
fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Control characters (line breaks included) become spaces; runs of white space one space.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}\u{2026}", text[..end].trim_end()),
        None => text.to_owned(),
    }
}

/// "38 s left", rounded up so the last second does not read "0 s".
fn seconds_left(time_left: Duration) -> String {
    let secs = time_left.as_secs() + u64::from(time_left.subsec_nanos() > 0);
    format!("{secs} s left")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape_markup("<b>x</b> & <script>"),
            "&lt;b&gt;x&lt;/b&gt; &amp; &lt;script&gt;"
        );
        assert_eq!(body_text("a < b", false), "a < b");
    }

    #[test]
    fn names_and_text_are_one_bounded_line() {
        assert_eq!(visitor_name(None), "A visitor");
        assert_eq!(visitor_name(Some("  \n ")), "A visitor");
        assert_eq!(visitor_name(Some(" Ada\nLovelace ")), "Ada Lovelace");
        let long = "x".repeat(500);
        let shown = body_text(&long, true);
        assert_eq!(shown.chars().count(), MAX_TEXT + 1);
        assert!(shown.ends_with('\u{2026}'));
        assert_eq!(truncate("héllo", 2), "hé\u{2026}");
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(seconds_left(Duration::from_millis(37_200)), "38 s left");
        assert_eq!(seconds_left(Duration::from_secs(38)), "38 s left");
        assert_eq!(seconds_left(Duration::ZERO), "0 s left");
    }

    #[test]
    fn offer_hints_and_actions() {
        let offer = Offer {
            id: OfferId(1),
            conversation_id: ConversationId(2),
            visitor: Default::default(),
            first_message: None,
            created_at: chrono::Utc::now(),
            expires_at: chrono::Utc::now(),
        };
        let n = offer_notification(&offer, Duration::from_secs(10), false, true);
        assert_eq!(n.summary, "Chat request from A visitor");
        assert_eq!(n.body, "10 s left");
        assert_eq!(n.timeout_ms, 10_000);
        assert!(n.hints.contains(&("suppress-sound", HintValue::Bool(true))));
        assert!(n.hints.contains(&("urgency", HintValue::Byte(2))));
    }
}
