//! The agent WebSocket, `GET /api/v1/agent/ws`, authenticated by `Authorization: Bearer` on
//! the upgrade request (never a URL parameter).
//!
//! The client sends [`AgentCommand::Hello`] first (optionally resuming from a sequence), the
//! service answers [`AgentServerFrame::Ready`] with a snapshot, or [`AgentServerFrame::Resumed`]
//! followed by the missed events, then streams [`AgentServerFrame::Event`]s, each carrying the
//! next per-agent sequence number. Commands carry client-generated ids and are applied once per
//! id; each is answered by an `ack` or an `error` with the same id. Heartbeats: either side
//! sends WebSocket pings (or `ping` frames); a side that hears nothing for three heartbeat
//! intervals drops the connection.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::ErrorBody;
use crate::model::*;

/// Where a reconnecting client left off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ResumeFrom {
    /// The `epoch` of the `ready` frame the sequence belongs to.
    pub epoch: String,
    /// The last sequence number the client processed.
    #[ts(type = "number")]
    pub seq: u64,
}

/// Frames from the agent's client to the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentCommand {
    Hello {
        protocol: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        resume: Option<ResumeFrom>,
    },
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "number")]
        nonce: Option<u64>,
    },
    Accept {
        id: ClientId,
        offer_id: OfferId,
    },
    Decline {
        id: ClientId,
        offer_id: OfferId,
    },
    SendMessage {
        id: ClientId,
        conversation_id: ConversationId,
        text: String,
    },
    /// Ephemeral: not acknowledged, not sequenced.
    Typing {
        conversation_id: ConversationId,
        typing: bool,
    },
    MarkRead {
        id: ClientId,
        conversation_id: ConversationId,
        message_id: MessageId,
    },
    EndChat {
        id: ClientId,
        conversation_id: ConversationId,
    },
    /// `status` sets the manual toggle (R1); `null` returns to the schedule.
    SetAvailability {
        id: ClientId,
        status: Option<AvailabilityStatus>,
    },
    /// Send a booking card with `calendar_agent_id`'s calendar into the chat (R7).
    ShareCalendar {
        id: ClientId,
        conversation_id: ConversationId,
        calendar_agent_id: AgentId,
    },
}

/// A live conversation with its recent messages, as in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LiveConversation {
    pub summary: ConversationSummary,
    /// The most recent messages, oldest first.
    pub messages: Vec<Message>,
}

/// The state an agent's client starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReadySnapshot {
    pub protocol: u32,
    /// Identifies this run of the service's event stream; resume only within one epoch.
    pub epoch: String,
    /// The sequence of the last event included in this snapshot; the next event is `seq + 1`.
    #[ts(type = "number")]
    pub seq: u64,
    pub agent: AgentProfile,
    pub availability: Availability,
    pub conversations: Vec<LiveConversation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub offer: Option<Offer>,
    /// How often the client should send a heartbeat.
    pub heartbeat_secs: u32,
}

/// Sequenced events pushed to an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AgentEvent {
    /// A chat is offered to this agent; answer before `expires_at`.
    Offer {
        offer: Offer,
    },
    /// The offer is no longer open; close its banner and notification.
    OfferWithdrawn {
        offer_id: OfferId,
        conversation_id: ConversationId,
        reason: WithdrawReason,
    },
    /// A chat became this agent's live chat.
    ConversationStarted {
        conversation: LiveConversation,
    },
    Message {
        message: Message,
    },
    ConversationEnded {
        conversation_id: ConversationId,
        reason: EndReason,
    },
    /// Effective availability changed (toggle, schedule boundary, override lapsed).
    Availability {
        availability: Availability,
    },
    /// The agent read up to `message_id` (synchronises the agent's devices).
    Read {
        conversation_id: ConversationId,
        message_id: MessageId,
    },
    /// A visitor left a message while nobody was available; it appears in All for everyone.
    MessageLeft {
        conversation: ConversationSummary,
    },
}

/// Frames from the service to an agent's client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentServerFrame {
    Ready(ReadySnapshot),
    /// The resume was accepted; events `from_seq..=to_seq` follow, exactly once each.
    Resumed {
        epoch: String,
        #[ts(type = "number")]
        from_seq: u64,
        #[ts(type = "number")]
        to_seq: u64,
    },
    Event {
        #[ts(type = "number")]
        seq: u64,
        event: AgentEvent,
    },
    /// A command was applied (or had been applied before under the same id).
    Ack {
        id: ClientId,
        /// For `send_message` and `share_calendar`: the stored message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        message: Option<Message>,
    },
    Error {
        /// The command's id, when the error answers a command.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        id: Option<ClientId>,
        error: ErrorBody,
    },
    /// Ephemeral, unsequenced: the visitor is typing or stopped.
    Typing {
        conversation_id: ConversationId,
        typing: bool,
    },
    Pong {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "number")]
        nonce: Option<u64>,
    },
}
