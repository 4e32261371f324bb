//! REST bodies under `/api/v1`. Agents authenticate with `Authorization: Bearer <token>`;
//! visitor endpoints take the visitor token the same way.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::*;

/// `POST /api/v1/auth/login`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub agent: AgentProfile,
}

/// `GET /api/v1/me`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MeResponse {
    pub agent: AgentProfile,
    pub availability: Availability,
    pub settings: AgentSettings,
}

/// `PUT /api/v1/me/availability`: `status` sets the manual toggle; `null` clears it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SetAvailabilityRequest {
    pub status: Option<AvailabilityStatus>,
}

/// `GET /api/v1/conversations?scope=active|all&q=&cursor=&limit=`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConversationScope {
    /// The agent's own live chats.
    #[default]
    Active,
    /// Own live chats plus every ended conversation, anyone's (R4).
    All,
}

/// A page of results. `next_cursor` is opaque; pass it back as `cursor` for the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[ts(concrete(T = ConversationSummary))]
#[cfg_attr(feature = "schema", schemars(rename = "{T}Page"))]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub next_cursor: Option<String>,
}

pub type ConversationPage = Page<ConversationSummary>;

/// `GET /api/v1/conversations/{id}/messages?before=&limit=`: oldest first within the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MessagePage {
    pub items: Vec<Message>,
    /// Pass as `before` to load older messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub older_cursor: Option<MessageId>,
}

/// `GET /api/v1/conversations/{id}/activities`: the last 90 days, newest first (R6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ActivityList {
    pub items: Vec<Activity>,
    /// The oldest instant included; the service filters, not the client.
    pub since: DateTime<Utc>,
}

/// `GET /api/v1/calendars/{agent_id}/slots?from=&days=` and the visitor equivalent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SlotList {
    pub calendar: CalendarSummary,
    pub slots: Vec<Slot>,
}

/// `POST /api/v1/visitor/sessions`: a visitor opens the widget. Name and email are optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VisitorSessionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub email: Option<String>,
    /// A token from an earlier session of this visitor, to continue it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub resume_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VisitorSessionResponse {
    pub token: String,
    pub visitor_id: VisitorId,
    pub expires_at: DateTime<Utc>,
}

/// `POST /api/v1/visitor/bookings`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BookingRequest {
    pub conversation_id: ConversationId,
    pub calendar_agent_id: AgentId,
    pub start: DateTime<Utc>,
}

/// `GET /healthz`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Health {
    pub status: String,
    pub version: String,
    pub protocol: u32,
}
