//! Conversation operations shared by the sockets, the REST handlers and the router: building
//! what clients see, delivering messages to both sides, ending chats, access checks (R4).

use chrono::Utc;
use protocol::agent_ws::{AgentEvent, LiveConversation};
use protocol::visitor_ws::{VisitorChat, VisitorServerFrame};
use protocol::*;

use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::{ConversationRow, OfferRow, Store};

/// Messages included with a live conversation in snapshots.
pub const SNAPSHOT_MESSAGES: u32 = 50;

/// R4: an agent may see their own live chats and every ended conversation, never another
/// agent's live chat nor a chat still waiting for an agent.
pub fn check_view(row: &ConversationRow, agent: AgentId) -> Result<()> {
    match row.status {
        ConversationStatus::Live if row.agent_id == Some(agent) => Ok(()),
        ConversationStatus::Live => Err(Error::forbidden("this is another agent's live chat")),
        ConversationStatus::Ended | ConversationStatus::LeftMessage => Ok(()),
        ConversationStatus::Waiting => Err(Error::forbidden("this chat is waiting for an agent")),
    }
}

/// The agent's own live chat, or a clear error.
pub fn check_own_live(row: &ConversationRow, agent: AgentId) -> Result<()> {
    match row.status {
        ConversationStatus::Live if row.agent_id == Some(agent) => Ok(()),
        ConversationStatus::Live => Err(Error::forbidden("this is another agent's live chat")),
        ConversationStatus::Waiting => Err(Error::forbidden("this chat is waiting for an agent")),
        ConversationStatus::Ended | ConversationStatus::LeftMessage => Err(Error::conflict(
            "the conversation has ended; it is read-only",
        )),
    }
}

pub async fn conversation_visible_to(
    state: &AppState,
    id: ConversationId,
    agent: AgentId,
) -> Result<ConversationRow> {
    let row = state.store.conversation(id).await?;
    check_view(&row, agent)?;
    Ok(row)
}

pub async fn live_conversation(
    store: &dyn Store,
    id: ConversationId,
    viewer: AgentId,
) -> Result<LiveConversation> {
    let summary = store.summary(id, Some(viewer)).await?;
    let messages = store.messages(id, None, SNAPSHOT_MESSAGES).await?.items;
    Ok(LiveConversation { summary, messages })
}

pub async fn build_offer(store: &dyn Store, row: &OfferRow) -> Result<Offer> {
    let conversation = store.conversation(row.conversation_id).await?;
    let visitor = store.visitor(conversation.visitor_id).await?;
    let first_message = store.first_visitor_text(row.conversation_id).await?;
    Ok(Offer {
        id: row.id,
        conversation_id: row.conversation_id,
        visitor,
        first_message,
        created_at: row.created_at,
        expires_at: row.expires_at,
    })
}

/// The visitor's open chat as the widget shows it after (re)connecting.
pub async fn visitor_chat(state: &AppState, row: &ConversationRow) -> Result<VisitorChat> {
    let messages = state.store.messages(row.id, None, 200).await?.items;
    let agent_name = match row.agent_id {
        Some(a) if row.status == ConversationStatus::Live => {
            Some(state.store.agent(a).await?.profile.name)
        }
        _ => None,
    };
    Ok(VisitorChat {
        conversation_id: row.id,
        status: row.status,
        agent_name,
        queue_position: None,
        messages,
    })
}

/// Sends a stored message to everyone in the conversation: the assigned agent (sequenced)
/// and the visitor's sockets.
pub fn deliver(state: &AppState, row: &ConversationRow, message: &Message) {
    if let (Some(agent), ConversationStatus::Live) = (row.agent_id, row.status) {
        state.hub.publish(
            agent,
            AgentEvent::Message {
                message: message.clone(),
            },
        );
    }
    state.hub.send_visitor(
        row.visitor_id,
        &VisitorServerFrame::Message {
            message: message.clone(),
        },
    );
}

/// Ends a conversation and tells both sides and the router. Idempotent.
pub async fn end(
    state: &AppState,
    id: ConversationId,
    reason: EndReason,
) -> Result<Option<ConversationRow>> {
    let Some(before) = state.store.end_conversation(id, reason, Utc::now()).await? else {
        return Ok(None);
    };
    announce_end(state, &before, reason).await;
    Ok(Some(before))
}

/// Tells both sides that a conversation ended (its row as it was before ending).
pub async fn announce_end(state: &AppState, before: &ConversationRow, reason: EndReason) {
    match (before.status, before.agent_id) {
        (ConversationStatus::Live, Some(agent)) => {
            state.hub.publish(
                agent,
                AgentEvent::ConversationEnded {
                    conversation_id: before.id,
                    reason,
                },
            );
            state.router.chat_ended(agent).await;
        }
        _ => state.router.visitor_gone(before.id).await,
    }
    state.hub.send_visitor(
        before.visitor_id,
        &VisitorServerFrame::ChatEnded {
            conversation_id: before.id,
            reason,
        },
    );
}
