//! The client state the UI renders, and how server frames change it.
//!
//! One [`ClientState`] holds everything: connection status, the agent, availability, live
//! chats with their messages, pending (queued) messages, unread counts, open offers with
//! deadlines, and typing. Events apply in sequence order exactly once; a duplicate is skipped
//! and a gap asks the connection to resume ([`Applied::Gap`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use protocol::agent_ws::{AgentEvent, LiveConversation, ReadySnapshot};
use protocol::*;
use serde::Serialize;
use ts_rs::TS;

/// Who is signed in, where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SessionInfo {
    pub service_url: String,
    pub email: String,
    pub agent: AgentProfile,
}

/// Whether the engine can talk to the service (R8, R9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// First connection attempt under way.
    Connecting,
    Connected,
    /// Lost; the next attempt is at `next_attempt_at`.
    Reconnecting {
        attempt: u32,
        next_attempt_at: DateTime<Utc>,
        last_error: String,
    },
    /// The service refused the credentials; the agent must log in again.
    SignedOut {
        reason: String,
    },
    /// The engine was stopped.
    Offline,
}

/// A message the agent sent that the service has not acknowledged yet (R9: delivered exactly
/// once after reconnect), or that it refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct PendingMessage {
    pub client_id: ClientId,
    pub conversation_id: ConversationId,
    pub text: String,
    pub queued_at: DateTime<Utc>,
    /// Set when the service refused it; it stays visible until dismissed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub failed: Option<ErrorBody>,
}

/// One of the agent's live chats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct LiveChat {
    pub summary: ConversationSummary,
    /// Stored messages, oldest first.
    pub messages: Vec<Message>,
    /// Messages queued while offline or not yet acknowledged, oldest first.
    pub pending: Vec<PendingMessage>,
    pub visitor_typing: bool,
}

/// An open offer (R3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct OfferState {
    pub offer: Offer,
    /// The agent answered; waiting for the service.
    pub answering: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ClientState {
    pub connection: ConnectionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub agent: Option<AgentProfile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub availability: Option<Availability>,
    /// Live chats, newest activity first.
    pub chats: Vec<LiveChat>,
    pub offers: Vec<OfferState>,
    /// Commands waiting in the outbox.
    pub outbox_len: u32,
    /// Why native notifications cannot raise offers (no notification server, no action
    /// buttons), so that the window and tray can say so (R9).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub notifications_problem: Option<String>,
    #[serde(skip)]
    pub epoch: String,
    #[serde(skip)]
    pub seq: u64,
    /// Connections since the engine started that continued the event stream (`resumed`) and
    /// that started over from a snapshot (`ready`): for tests and diagnostics.
    #[serde(skip)]
    pub resumed_connections: u64,
    #[serde(skip)]
    pub snapshot_connections: u64,
}

impl Default for ClientState {
    fn default() -> Self {
        ClientState {
            connection: ConnectionStatus::Connecting,
            agent: None,
            availability: None,
            chats: Vec::new(),
            offers: Vec::new(),
            outbox_len: 0,
            notifications_problem: None,
            epoch: String::new(),
            seq: 0,
            resumed_connections: 0,
            snapshot_connections: 0,
        }
    }
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Applied; the state changed.
    Changed,
    /// Already applied (sequence at or below the last one): skipped.
    Duplicate,
    /// A sequence number was skipped: resume from `last`.
    Gap { last: u64, got: u64 },
}

impl ClientState {
    /// Replaces the state with a fresh snapshot; pending messages of the outbox are kept.
    pub fn apply_ready(&mut self, snapshot: ReadySnapshot) {
        let pending: BTreeMap<ConversationId, Vec<PendingMessage>> = self
            .chats
            .drain(..)
            .map(|c| (c.summary.id, c.pending))
            .filter(|(_, p)| !p.is_empty())
            .collect();
        self.agent = Some(snapshot.agent);
        self.availability = Some(snapshot.availability);
        self.epoch = snapshot.epoch;
        self.seq = snapshot.seq;
        self.chats = snapshot.conversations.into_iter().map(live_chat).collect();
        for chat in &mut self.chats {
            if let Some(p) = pending.get(&chat.summary.id) {
                chat.pending = p.clone();
                chat.pending.retain(|p| {
                    !chat
                        .messages
                        .iter()
                        .any(|m| m.client_id.as_ref() == Some(&p.client_id))
                });
            }
        }
        self.sort_chats();
        self.offers = snapshot
            .offer
            .into_iter()
            .map(|offer| OfferState {
                offer,
                answering: false,
            })
            .collect();
    }

    /// Applies one sequenced event.
    pub fn apply_event(&mut self, seq: u64, event: &AgentEvent) -> Applied {
        if seq <= self.seq {
            return Applied::Duplicate;
        }
        if seq != self.seq + 1 {
            return Applied::Gap {
                last: self.seq,
                got: seq,
            };
        }
        self.seq = seq;
        self.apply(event);
        Applied::Changed
    }

    /// Applies an event's effect. Idempotent: events after a snapshot may repeat its state.
    pub fn apply(&mut self, event: &AgentEvent) {
        match event {
            AgentEvent::Offer { offer } => {
                if !self.offers.iter().any(|o| o.offer.id == offer.id) {
                    self.offers.push(OfferState {
                        offer: offer.clone(),
                        answering: false,
                    });
                }
            }
            AgentEvent::OfferWithdrawn { offer_id, .. } => {
                self.offers.retain(|o| o.offer.id != *offer_id)
            }
            AgentEvent::ConversationStarted { conversation } => {
                let id = conversation.summary.id;
                self.offers.retain(|o| o.offer.conversation_id != id);
                let fresh = live_chat(conversation.clone());
                match self.chats.iter_mut().find(|c| c.summary.id == id) {
                    Some(chat) => {
                        let pending = std::mem::take(&mut chat.pending);
                        *chat = fresh;
                        chat.pending = pending;
                    }
                    None => self.chats.push(fresh),
                }
                self.sort_chats();
            }
            AgentEvent::Message { message } => {
                if let Some(chat) = self
                    .chats
                    .iter_mut()
                    .find(|c| c.summary.id == message.conversation_id)
                {
                    if !chat.messages.iter().any(|m| m.id == message.id) {
                        chat.messages.push(message.clone());
                        chat.summary.last_activity_at = message.created_at;
                        if let MessageContent::Text { text } = &message.content {
                            chat.summary.last_message = Some(text.chars().take(200).collect());
                        }
                        if message.author == Author::Visitor {
                            chat.summary.unread += 1;
                            chat.visitor_typing = false;
                        }
                    }
                    if let Some(cid) = &message.client_id {
                        chat.pending.retain(|p| &p.client_id != cid);
                    }
                    self.sort_chats();
                }
            }
            AgentEvent::ConversationEnded {
                conversation_id, ..
            } => {
                self.chats.retain(|c| c.summary.id != *conversation_id);
                self.offers
                    .retain(|o| o.offer.conversation_id != *conversation_id);
            }
            AgentEvent::Availability { availability } => {
                self.availability = Some(availability.clone())
            }
            AgentEvent::Read {
                conversation_id,
                message_id,
            } => {
                if let Some(chat) = self
                    .chats
                    .iter_mut()
                    .find(|c| c.summary.id == *conversation_id)
                {
                    chat.summary.unread = chat
                        .messages
                        .iter()
                        .filter(|m| m.author == Author::Visitor && m.id > *message_id)
                        .count()
                        .try_into()
                        .unwrap_or(u32::MAX);
                }
            }
            AgentEvent::MessageLeft { .. } => {}
        }
    }

    pub fn set_typing(&mut self, conversation_id: ConversationId, typing: bool) -> bool {
        match self
            .chats
            .iter_mut()
            .find(|c| c.summary.id == conversation_id)
        {
            Some(chat) if chat.visitor_typing != typing => {
                chat.visitor_typing = typing;
                true
            }
            _ => false,
        }
    }

    /// Shows a queued message in its chat.
    pub fn add_pending(&mut self, pending: PendingMessage) {
        if let Some(chat) = self
            .chats
            .iter_mut()
            .find(|c| c.summary.id == pending.conversation_id)
            && !chat
                .pending
                .iter()
                .any(|p| p.client_id == pending.client_id)
        {
            chat.pending.push(pending);
        }
    }

    /// The service stored a pending message: it becomes a normal message.
    pub fn confirm_pending(&mut self, message: &Message) {
        if let Some(chat) = self
            .chats
            .iter_mut()
            .find(|c| c.summary.id == message.conversation_id)
        {
            chat.pending
                .retain(|p| message.client_id.as_ref() != Some(&p.client_id));
            if !chat.messages.iter().any(|m| m.id == message.id) {
                chat.messages.push(message.clone());
                chat.messages.sort_by_key(|m| m.id);
            }
        }
    }

    /// The service refused a pending message.
    pub fn fail_pending(&mut self, client_id: &str, error: ErrorBody) {
        for chat in &mut self.chats {
            if let Some(p) = chat.pending.iter_mut().find(|p| p.client_id == client_id) {
                p.failed = Some(error.clone());
            }
        }
    }

    pub fn offer(&self, id: OfferId) -> Option<&OfferState> {
        self.offers.iter().find(|o| o.offer.id == id)
    }

    pub fn chat(&self, id: ConversationId) -> Option<&LiveChat> {
        self.chats.iter().find(|c| c.summary.id == id)
    }

    fn sort_chats(&mut self) {
        self.chats.sort_by(|a, b| {
            b.summary
                .last_activity_at
                .cmp(&a.summary.last_activity_at)
                .then(b.summary.id.cmp(&a.summary.id))
        });
    }
}

fn live_chat(c: LiveConversation) -> LiveChat {
    LiveChat {
        summary: c.summary,
        messages: c.messages,
        pending: Vec::new(),
        visitor_typing: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }

    fn summary(id: i64) -> ConversationSummary {
        ConversationSummary {
            id: ConversationId(id),
            status: ConversationStatus::Live,
            visitor: VisitorInfo {
                id: VisitorId(id),
                name: Some(format!("V{id}")),
                ..Default::default()
            },
            agent: None,
            created_at: t(0),
            last_activity_at: t(id),
            last_message: None,
            unread: 0,
            ended_at: None,
            end_reason: None,
        }
    }

    fn msg(id: i64, conv: i64, author: Author, client_id: Option<&str>) -> Message {
        Message {
            id: MessageId(id),
            conversation_id: ConversationId(conv),
            author,
            content: MessageContent::Text {
                text: format!("m{id}"),
            },
            client_id: client_id.map(str::to_owned),
            created_at: t(100 + id),
        }
    }

    fn ready(seq: u64) -> ReadySnapshot {
        ReadySnapshot {
            protocol: 1,
            epoch: "e1".into(),
            seq,
            agent: AgentProfile {
                id: AgentId(1),
                email: "a@x".into(),
                name: "A".into(),
            },
            availability: Availability {
                effective: AvailabilityStatus::Available,
                source: AvailabilitySource::Schedule,
                scheduled: AvailabilityStatus::Available,
                override_status: None,
                override_until: None,
                next_change: None,
            },
            conversations: vec![LiveConversation {
                summary: summary(1),
                messages: vec![],
            }],
            offer: None,
            heartbeat_secs: 15,
        }
    }

    #[test]
    fn events_apply_once_in_order_and_gaps_are_reported() {
        let mut s = ClientState::default();
        s.apply_ready(ready(10));
        let e = AgentEvent::Message {
            message: msg(5, 1, Author::Visitor, None),
        };
        assert_eq!(s.apply_event(11, &e), Applied::Changed);
        assert_eq!(s.apply_event(11, &e), Applied::Duplicate);
        assert_eq!(s.apply_event(9, &e), Applied::Duplicate);
        assert_eq!(s.chats[0].messages.len(), 1);
        assert_eq!(s.chats[0].summary.unread, 1);
        assert_eq!(s.apply_event(13, &e), Applied::Gap { last: 11, got: 13 });
        assert_eq!(s.seq, 11);
    }

    #[test]
    fn an_event_repeating_the_snapshot_changes_nothing() {
        let mut s = ClientState::default();
        let mut r = ready(3);
        r.conversations[0]
            .messages
            .push(msg(7, 1, Author::Visitor, None));
        s.apply_ready(r);
        s.apply_event(
            4,
            &AgentEvent::Message {
                message: msg(7, 1, Author::Visitor, None),
            },
        );
        assert_eq!(s.chats[0].messages.len(), 1);
    }

    #[test]
    fn pending_messages_survive_a_snapshot_and_are_confirmed_by_client_id() {
        let mut s = ClientState::default();
        s.apply_ready(ready(1));
        s.add_pending(PendingMessage {
            client_id: "c1".into(),
            conversation_id: ConversationId(1),
            text: "hello".into(),
            queued_at: t(5),
            failed: None,
        });
        s.apply_ready(ready(1));
        assert_eq!(s.chats[0].pending.len(), 1, "kept across a snapshot");
        let agent = Author::Agent {
            agent_id: AgentId(1),
            name: "A".into(),
        };
        s.apply_event(
            2,
            &AgentEvent::Message {
                message: msg(9, 1, agent, Some("c1")),
            },
        );
        assert!(s.chats[0].pending.is_empty());
        assert_eq!(s.chats[0].messages.len(), 1);
    }

    #[test]
    fn offers_come_and_go_and_chats_sort_newest_first() {
        let mut s = ClientState::default();
        s.apply_ready(ready(0));
        let offer = Offer {
            id: OfferId(3),
            conversation_id: ConversationId(2),
            visitor: VisitorInfo::default(),
            first_message: None,
            created_at: t(0),
            expires_at: t(45),
        };
        s.apply_event(
            1,
            &AgentEvent::Offer {
                offer: offer.clone(),
            },
        );
        s.apply_event(2, &AgentEvent::Offer { offer });
        assert_eq!(s.offers.len(), 1);
        let started = LiveConversation {
            summary: summary(2),
            messages: vec![],
        };
        s.apply_event(
            3,
            &AgentEvent::ConversationStarted {
                conversation: started,
            },
        );
        assert!(s.offers.is_empty());
        assert_eq!(
            s.chats.iter().map(|c| c.summary.id.0).collect::<Vec<_>>(),
            [2, 1]
        );
        s.apply_event(
            4,
            &AgentEvent::ConversationEnded {
                conversation_id: ConversationId(2),
                reason: EndReason::Agent,
            },
        );
        assert_eq!(s.chats.len(), 1);
    }
}
