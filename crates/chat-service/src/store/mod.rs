//! Persistence behind a trait, so that a PostgreSQL implementation can sit beside SQLite.
//!
//! Invariants live in the database: the live-chat limit (a trigger inside the accepting
//! transaction), one open offer per conversation and one offer per agent per round (unique
//! indexes), one booking per slot (a unique constraint), one message per client id.

mod sqlite;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use protocol::rest::{ConversationPage, ConversationScope, MessagePage};
use protocol::*;

use crate::error::Result;
pub use sqlite::SqliteStore;

/// An agent as stored.
#[derive(Debug, Clone)]
pub struct AgentRecord {
    pub profile: AgentProfile,
    pub password_hash: String,
    pub settings: AgentSettings,
    pub override_status: Option<AvailabilityStatus>,
    pub override_until: Option<DateTime<Utc>>,
    pub last_offer_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub settings: AgentSettings,
}

/// Who a bearer token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOwner {
    Agent(AgentId),
    Visitor(VisitorId),
}

/// The routing-relevant facts of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRow {
    pub id: ConversationId,
    pub visitor_id: VisitorId,
    pub agent_id: Option<AgentId>,
    pub status: ConversationStatus,
    pub created_at: DateTime<Utc>,
}

/// Where [`Store::post_message`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostTo {
    /// The agent's own live chat.
    OwnLiveChat {
        agent: AgentId,
        conversation: ConversationId,
    },
    /// The visitor's open chat.
    OpenChatOf(VisitorId),
}

/// A message author as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorRef {
    Visitor,
    Agent(AgentId),
    System,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferRow {
    pub id: OfferId,
    pub conversation_id: ConversationId,
    pub agent_id: AgentId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferOutcome {
    Accepted,
    Declined,
    Expired,
    Withdrawn,
}

impl OfferOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            OfferOutcome::Accepted => "accepted",
            OfferOutcome::Declined => "declined",
            OfferOutcome::Expired => "expired",
            OfferOutcome::Withdrawn => "withdrawn",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewBooking {
    pub calendar_agent_id: AgentId,
    pub visitor_id: VisitorId,
    pub conversation_id: Option<ConversationId>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Buffer kept free around every meeting of this calendar; overlapping bookings conflict.
    pub buffer_minutes: i32,
}

/// A conversation that already happened, for [`Store::import_conversation`].
#[derive(Debug, Clone)]
pub struct PastConversation {
    pub visitor_id: VisitorId,
    pub agent_id: Option<AgentId>,
    pub status: ConversationStatus,
    pub created_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub end_reason: Option<EndReason>,
    pub messages: Vec<(AuthorRef, String, DateTime<Utc>)>,
}

#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    // Agents and tokens.
    async fn create_agent(&self, agent: NewAgent) -> Result<AgentId>;
    async fn agent(&self, id: AgentId) -> Result<AgentRecord>;
    async fn agent_by_email(&self, email: &str) -> Result<Option<AgentRecord>>;
    async fn agents(&self) -> Result<Vec<AgentRecord>>;
    async fn agent_count(&self) -> Result<u64>;
    async fn update_settings(&self, id: AgentId, settings: &AgentSettings) -> Result<()>;
    async fn set_override(
        &self,
        id: AgentId,
        status: Option<AvailabilityStatus>,
        until: Option<DateTime<Utc>>,
    ) -> Result<()>;
    async fn insert_token(
        &self,
        token_hash: &str,
        owner: TokenOwner,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// The owner of a token that exists, is not revoked and has not expired at `now`.
    async fn token_owner(&self, token_hash: &str, now: DateTime<Utc>)
    -> Result<Option<TokenOwner>>;
    async fn revoke_token(&self, token_hash: &str, now: DateTime<Utc>) -> Result<()>;

    // Visitors.
    async fn create_visitor(&self, visitor: VisitorInfo, now: DateTime<Utc>) -> Result<VisitorId>;
    async fn visitor(&self, id: VisitorId) -> Result<VisitorInfo>;

    // Conversations.
    async fn create_conversation(
        &self,
        visitor_id: VisitorId,
        status: ConversationStatus,
        now: DateTime<Utc>,
    ) -> Result<ConversationId>;
    async fn conversation(&self, id: ConversationId) -> Result<ConversationRow>;
    /// The summary as `viewer` sees it (unread counts are per agent).
    async fn summary(
        &self,
        id: ConversationId,
        viewer: Option<AgentId>,
    ) -> Result<ConversationSummary>;
    async fn list_conversations(
        &self,
        viewer: AgentId,
        scope: ConversationScope,
        query: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ConversationPage>;
    /// The visitor's waiting or live conversation, if any.
    async fn open_conversation_of_visitor(
        &self,
        visitor_id: VisitorId,
    ) -> Result<Option<ConversationRow>>;
    /// Waiting conversations, oldest first.
    async fn waiting_conversations(&self) -> Result<Vec<ConversationRow>>;
    async fn live_counts(&self) -> Result<HashMap<AgentId, u32>>;
    async fn live_conversations_of(&self, agent_id: AgentId) -> Result<Vec<ConversationId>>;
    /// Ends a waiting or live conversation; `None` when it was already over.
    async fn end_conversation(
        &self,
        id: ConversationId,
        reason: EndReason,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationRow>>;
    /// Ends live chats with no activity since `before`.
    async fn end_inactive(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ConversationRow>>;
    /// Turns the visitor's waiting conversation (or a new one) into a left message.
    async fn leave_message(
        &self,
        visitor_id: VisitorId,
        text: &str,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(ConversationId, Message)>;

    // Messages.
    /// Stores a message (once per client id) and returns it with `true` when it is new.
    async fn insert_message(
        &self,
        conversation_id: ConversationId,
        author: AuthorRef,
        content: &MessageContent,
        client_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(Message, bool)>;
    /// Stores a message where its author may write, checked inside the same write so that
    /// the chat cannot end or change hands in between (R4): an agent in their own live chat,
    /// a visitor in their open chat (waiting or live). Returns the conversation as the
    /// message found it, the message, and `true` when it is new (once per client id).
    async fn post_message(
        &self,
        to: PostTo,
        content: &MessageContent,
        client_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(ConversationRow, Message, bool)>;
    async fn messages(
        &self,
        id: ConversationId,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<MessagePage>;
    /// The conversation a message belongs to, if the message exists.
    async fn message_conversation(&self, id: MessageId) -> Result<Option<ConversationId>>;
    async fn first_visitor_text(&self, id: ConversationId) -> Result<Option<String>>;
    async fn mark_read(
        &self,
        agent_id: AgentId,
        id: ConversationId,
        message_id: MessageId,
    ) -> Result<()>;

    // Offers.
    /// Records an offer if the conversation is still waiting with no open offer and the agent
    /// was not offered it in this round; `None` otherwise.
    async fn create_offer(
        &self,
        conversation_id: ConversationId,
        agent_id: AgentId,
        round: u32,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<OfferRow>>;
    /// Assigns the chat to the agent in one transaction: the offer must be open and theirs,
    /// the conversation waiting, and the agent below the limit.
    async fn accept_offer(
        &self,
        offer_id: OfferId,
        agent_id: AgentId,
        now: DateTime<Utc>,
    ) -> Result<ConversationRow>;
    /// Closes an open offer; `false` when it was already answered.
    async fn close_offer(
        &self,
        offer_id: OfferId,
        outcome: OfferOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    async fn offer(&self, offer_id: OfferId) -> Result<OfferRow>;
    /// Agents offered this conversation in `round`.
    async fn offered_agents(
        &self,
        conversation_id: ConversationId,
        round: u32,
    ) -> Result<Vec<AgentId>>;
    /// Closes every open offer (at start-up, offers of a previous run are void).
    async fn withdraw_all_open_offers(&self, now: DateTime<Utc>) -> Result<u64>;

    // Activities, calendars, bookings.
    async fn add_activity(
        &self,
        visitor_id: VisitorId,
        kind: ActivityKind,
        title: &str,
        occurred_at: DateTime<Utc>,
        conversation_id: Option<ConversationId>,
    ) -> Result<ActivityId>;
    async fn activities(
        &self,
        visitor_id: VisitorId,
        since: DateTime<Utc>,
    ) -> Result<Vec<Activity>>;
    async fn share_calendar(
        &self,
        conversation_id: ConversationId,
        calendar_agent_id: AgentId,
    ) -> Result<()>;
    async fn is_calendar_shared(
        &self,
        conversation_id: ConversationId,
        calendar_agent_id: AgentId,
    ) -> Result<bool>;
    async fn bookings_between(
        &self,
        calendar_agent_id: AgentId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>>;
    /// Books a slot; a slot taken (or overlapping one, buffer included) is a `conflict`.
    async fn book(&self, booking: NewBooking, now: DateTime<Utc>) -> Result<Booking>;

    /// Writes a finished conversation with its messages as they happened (demo data, imports).
    async fn import_conversation(&self, past: PastConversation) -> Result<ConversationId>;

    /// Finishes writes and closes the database.
    async fn close(&self);
}
