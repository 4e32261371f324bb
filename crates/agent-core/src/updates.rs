//! The state as it goes to a window: each change sends the whole [`ClientState`] except the
//! messages of a live chat that the window was sent already. A chat of 300 messages costs
//! the same to update as a chat of 3, where sending the whole state every time (a typing
//! flag, one new message) serialised, copied and parsed every message of every live chat.
//!
//! The window keeps the first [`KeptMessages::count`] messages it has for that chat and
//! appends the ones in the update. It checks that its own copy ends with
//! [`KeptMessages::last_id`] at that position; when it does not (it was reloaded, or missed
//! an update), it asks for the whole state again.

use std::sync::Arc;

use protocol::{ConversationId, MessageId};
use serde::Serialize;
use ts_rs::TS;

use crate::state::{ClientState, LiveChat};

/// One change of the state for a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct StateUpdate {
    /// The state; for the chats named in `kept`, only the messages after the kept ones.
    pub state: ClientState,
    /// The chats whose first messages the window keeps.
    pub kept: Vec<KeptMessages>,
}

/// For one live chat: keep your first `count` messages (the last of which is `last_id`),
/// then append the update's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub struct KeptMessages {
    pub conversation_id: ConversationId,
    pub count: u32,
    pub last_id: MessageId,
}

impl StateUpdate {
    /// The whole state, nothing kept: for a window that has nothing yet.
    pub fn whole(state: &ClientState) -> Self {
        StateUpdate {
            state: state.clone(),
            kept: Vec::new(),
        }
    }
}

/// Turns successive states into updates for one stream of windows that have seen every
/// update since the first.
#[derive(Debug, Default)]
pub struct StateUpdates {
    sent: Option<Arc<ClientState>>,
}

impl StateUpdates {
    pub fn new() -> Self {
        Self::default()
    }

    /// The update from the last state sent to `current`, which becomes the last sent.
    pub fn next(&mut self, current: &Arc<ClientState>) -> StateUpdate {
        let update = match &self.sent {
            None => StateUpdate::whole(current),
            Some(sent) => diff(sent, current),
        };
        self.sent = Some(current.clone());
        update
    }
}

fn diff(sent: &ClientState, current: &ClientState) -> StateUpdate {
    let mut kept = Vec::new();
    let chats = current
        .chats
        .iter()
        .map(|chat| {
            let before = sent
                .chats
                .iter()
                .find(|c| c.summary.id == chat.summary.id)
                .map(|c| c.messages.as_slice());
            match before {
                // Sent before and still the start of this chat's messages (stored messages
                // do not change; a chat that dropped its oldest ones is sent whole).
                Some(old @ [.., last]) if chat.messages.starts_with(old) => {
                    kept.push(KeptMessages {
                        conversation_id: chat.summary.id,
                        count: u32::try_from(old.len()).unwrap_or(u32::MAX),
                        last_id: last.id,
                    });
                    LiveChat {
                        summary: chat.summary.clone(),
                        messages: chat.messages[old.len()..].to_vec(),
                        pending: chat.pending.clone(),
                        visitor_typing: chat.visitor_typing,
                    }
                }
                _ => chat.clone(),
            }
        })
        .collect();
    let state = ClientState {
        connection: current.connection.clone(),
        agent: current.agent.clone(),
        availability: current.availability.clone(),
        chats,
        offers: current.offers.clone(),
        outbox_len: current.outbox_len,
        notifications_problem: current.notifications_problem.clone(),
        epoch: current.epoch.clone(),
        seq: current.seq,
        resumed_connections: current.resumed_connections,
        snapshot_connections: current.snapshot_connections,
    };
    StateUpdate { state, kept }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use protocol::*;

    use super::*;

    fn message(conversation: i64, id: i64) -> Message {
        Message {
            id: MessageId(id),
            conversation_id: ConversationId(conversation),
            author: Author::Visitor,
            content: MessageContent::Text {
                text: format!("message {id}"),
            },
            client_id: None,
            created_at: Utc.timestamp_opt(1_700_000_000 + id, 0).unwrap(),
        }
    }

    fn chat(conversation: i64, ids: impl IntoIterator<Item = i64>) -> LiveChat {
        LiveChat {
            summary: ConversationSummary {
                id: ConversationId(conversation),
                status: ConversationStatus::Live,
                visitor: VisitorInfo::default(),
                agent: None,
                created_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
                last_activity_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
                last_message: None,
                unread: 0,
                ended_at: None,
                end_reason: None,
            },
            messages: ids
                .into_iter()
                .map(|id| message(conversation, id))
                .collect(),
            pending: Vec::new(),
            visitor_typing: false,
        }
    }

    fn state(chats: Vec<LiveChat>) -> Arc<ClientState> {
        Arc::new(ClientState {
            chats,
            ..ClientState::default()
        })
    }

    /// What a window holding `had` makes of `update` (the UI's rule, in Rust).
    fn apply(had: &ClientState, update: &StateUpdate) -> ClientState {
        let mut next = update.state.clone();
        for chat in &mut next.chats {
            if let Some(k) = update
                .kept
                .iter()
                .find(|k| k.conversation_id == chat.summary.id)
            {
                let old = &had
                    .chats
                    .iter()
                    .find(|c| c.summary.id == k.conversation_id)
                    .expect("the window has the chat")
                    .messages;
                assert_eq!(old[k.count as usize - 1].id, k.last_id);
                let mut all = old[..k.count as usize].to_vec();
                all.append(&mut chat.messages);
                chat.messages = all;
            }
        }
        next
    }

    #[test]
    fn the_first_update_is_whole_then_only_new_messages_go() {
        let mut updates = StateUpdates::new();
        let first = state(vec![chat(1, 1..=300), chat(2, 301..=302)]);
        let update = updates.next(&first);
        assert!(update.kept.is_empty());
        assert_eq!(update.state, *first);

        // One new message in chat 1, and chat 2 starts typing.
        let mut second = (*first).clone();
        second.chats[0].messages.push(message(1, 303));
        second.chats[1].visitor_typing = true;
        let second = Arc::new(second);
        let update = updates.next(&second);
        assert_eq!(
            update.kept,
            vec![
                KeptMessages {
                    conversation_id: ConversationId(1),
                    count: 300,
                    last_id: MessageId(300)
                },
                KeptMessages {
                    conversation_id: ConversationId(2),
                    count: 2,
                    last_id: MessageId(302)
                },
            ]
        );
        assert_eq!(update.state.chats[0].messages, vec![message(1, 303)]);
        assert!(update.state.chats[1].messages.is_empty());
        assert!(update.state.chats[1].visitor_typing);
        assert_eq!(apply(&first, &update), *second);
    }

    #[test]
    fn a_new_chat_a_reset_chat_and_an_empty_one_are_sent_whole() {
        let mut updates = StateUpdates::new();
        let first = state(vec![chat(1, 1..=5), chat(2, 6..=6), chat(3, [])]);
        updates.next(&first);
        // Chat 1 starts over from a newer snapshot (its oldest messages dropped), chat 2
        // ended (gone), chat 3 had no messages, chat 4 is new.
        let second = state(vec![chat(1, 3..=7), chat(3, 8..=8), chat(4, 9..=9)]);
        let update = updates.next(&second);
        assert!(update.kept.is_empty(), "{:?}", update.kept);
        assert_eq!(update.state, *second);
        assert_eq!(apply(&first, &update), *second);
    }

    #[test]
    fn each_update_builds_on_the_one_before() {
        let mut updates = StateUpdates::new();
        let mut window = ClientState::default();
        let mut current = state(vec![chat(1, 1..=1)]);
        for id in 2..=20 {
            let update = updates.next(&current);
            window = apply(&window, &update);
            assert_eq!(window, *current);
            let mut next = (*current).clone();
            next.chats[0].messages.push(message(1, id));
            current = Arc::new(next);
        }
    }
}
