//! The visitor WebSocket, `GET /api/v1/visitor/ws`. Browsers cannot set headers on a
//! WebSocket, so the visitor token comes in the first frame ([`VisitorCommand::Hello`]), never
//! in the URL. The upgrade's `Origin` must be on the service's allowlist.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::ErrorBody;
use crate::model::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorCommand {
    Hello {
        protocol: u32,
        token: String,
    },
    Ping {},
    /// Ask for a live agent, with the first message.
    StartChat {
        id: ClientId,
        text: String,
    },
    SendMessage {
        id: ClientId,
        text: String,
    },
    Typing {
        typing: bool,
    },
    /// Nobody is available (or the visitor prefers not to wait): leave a message instead.
    LeaveMessage {
        id: ClientId,
        text: String,
    },
    EndChat {
        id: ClientId,
    },
}

/// The visitor's current chat, as sent in `welcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct VisitorChat {
    pub conversation_id: ConversationId,
    pub status: ConversationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub agent_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub queue_position: Option<u32>,
    pub messages: Vec<Message>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorServerFrame {
    Welcome {
        protocol: u32,
        visitor: VisitorInfo,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        chat: Option<VisitorChat>,
        /// Whether any agent is available right now (the widget offers leave-a-message if not).
        agents_available: bool,
    },
    /// Waiting for an agent; `position` 1 is next.
    Queued {
        conversation_id: ConversationId,
        position: u32,
        /// No agent is available right now; the visitor may leave a message instead.
        agents_available: bool,
    },
    AgentJoined {
        conversation_id: ConversationId,
        agent_name: String,
    },
    Message {
        message: Message,
    },
    Typing {
        typing: bool,
    },
    ChatEnded {
        conversation_id: ConversationId,
        reason: EndReason,
    },
    /// The left message was stored.
    MessageLeft {
        conversation_id: ConversationId,
    },
    Ack {
        id: ClientId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        message: Option<Message>,
    },
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        id: Option<ClientId>,
        error: ErrorBody,
    },
    Pong {},
}
