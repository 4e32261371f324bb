//! Native notifications (R3, R9): the [`Notifier`] trait the engine talks to, and its
//! freedesktop implementation (zbus, one bus connection) for the Linux desktop.
//!
//! The engine calls [`Notifier::offer`] when an offer arrives and again for each re-alert
//! while it stays unanswered, [`Notifier::close_offer`] when it is answered anywhere, expires
//! or is withdrawn, and [`Notifier::message`] for new visitor messages while the window is not
//! focused. Answers given on a notification come back through the [`AnswerSink`].

use std::time::Duration;

use protocol::{ConversationId, Message, Offer, OfferId};
use tokio::sync::mpsc;

#[cfg(all(unix, not(target_os = "macos")))]
mod xdg;
#[cfg(all(unix, not(target_os = "macos")))]
pub use xdg::DesktopNotifier;

/// An answer to an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferAnswer {
    Accept,
    Decline,
}

/// Something the agent did on a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationAction {
    /// Accept or Decline on an offer's notification.
    Answer {
        offer_id: OfferId,
        answer: OfferAnswer,
    },
    /// The notification body was clicked: open the window (on this conversation, if any).
    Open {
        conversation_id: Option<ConversationId>,
    },
}

/// Where notification actions go: the engine's command queue.
#[derive(Debug, Clone)]
pub struct AnswerSink(pub(crate) mpsc::Sender<NotificationAction>);

impl AnswerSink {
    /// A sink and the receiver its actions arrive on (for implementations and tests).
    pub fn channel(capacity: usize) -> (AnswerSink, mpsc::Receiver<NotificationAction>) {
        let (tx, rx) = mpsc::channel(capacity);
        (AnswerSink(tx), rx)
    }

    /// Delivers an action; returns false when the engine has stopped. Safe from any thread.
    pub fn send(&self, action: NotificationAction) -> bool {
        self.0.try_send(action).is_ok()
    }
}

/// How the engine raises and withdraws native notifications.
pub trait Notifier: Send + Sync + 'static {
    /// Shows the offer with Accept and Decline actions: visitor name, first message, time
    /// left. Called again with `realert = true` every few seconds while it is unanswered; an
    /// implementation replaces its notification (and may play a sound) rather than stacking.
    fn offer(&self, offer: &Offer, time_left: Duration, realert: bool, answers: &AnswerSink);

    /// Withdraws the offer's notification (answered, expired, taken, withdrawn). Idempotent.
    fn close_offer(&self, offer_id: OfferId);

    /// A new visitor message in a live chat while the window is not focused.
    fn message(&self, visitor_name: &str, message: &Message, answers: &AnswerSink);

    /// Applies the agent's preferences: a sound with offers, notifications for messages.
    fn set_preferences(&self, _sound: bool, _messages: bool) {}
}

/// A notifier that shows nothing (for headless use such as the command-line client).
#[derive(Debug, Default)]
pub struct NoNotifier;

impl Notifier for NoNotifier {
    fn offer(&self, _: &Offer, _: Duration, _: bool, _: &AnswerSink) {}
    fn close_offer(&self, _: OfferId) {}
    fn message(&self, _: &str, _: &Message, _: &AnswerSink) {}
}
