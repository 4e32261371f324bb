//! Domain types shared by REST bodies and WebSocket frames.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(transparent)]
        #[ts(type = "number")]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(AgentId);
id_type!(VisitorId);
id_type!(ConversationId);
id_type!(MessageId);
id_type!(OfferId);
id_type!(BookingId);
id_type!(ActivityId);

/// A client-generated command id (a UUID is fine). A command is applied once per id.
pub type ClientId = String;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AvailabilityStatus {
    Available,
    Unavailable,
}

/// Where the effective status comes from (R1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AvailabilitySource {
    /// The agent's manual toggle, until `override_until`.
    Override,
    /// The weekly schedule.
    Schedule,
}

/// An agent's availability as the service computes it (R1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Availability {
    pub effective: AvailabilityStatus,
    pub source: AvailabilitySource,
    /// What the schedule alone says right now.
    pub scheduled: AvailabilityStatus,
    /// The manual toggle when one is in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub override_status: Option<AvailabilityStatus>,
    /// When the manual toggle lapses: the next block boundary or midnight, whichever is first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub override_until: Option<DateTime<Utc>>,
    /// When the effective status next changes by itself, if it does within a week.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub next_change: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgentProfile {
    pub id: AgentId,
    pub email: String,
    pub name: String,
}

/// Another agent, as listed for the calendar picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgentSummary {
    pub id: AgentId,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    pub const WORKDAYS: [Weekday; 5] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];
}

/// A block of time on one weekday, in the agent's time zone. `start` and `end` are `HH:MM`;
/// `end` may be `24:00`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TimeBlock {
    pub day: Weekday,
    pub start: String,
    pub end: String,
}

impl TimeBlock {
    pub fn new(day: Weekday, start: &str, end: &str) -> Self {
        TimeBlock {
            day,
            start: start.to_owned(),
            end: end.to_owned(),
        }
    }

    /// The same block on each of `days`.
    pub fn on(days: &[Weekday], start: &str, end: &str) -> Vec<TimeBlock> {
        days.iter()
            .map(|d| TimeBlock::new(*d, start, end))
            .collect()
    }
}

/// Calendar settings (R7): when meetings can be booked, how long they are, and the gap kept
/// free after each one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CalendarSettings {
    pub working_hours: Vec<TimeBlock>,
    pub meeting_minutes: i32,
    pub buffer_minutes: i32,
}

/// Everything an agent configures (R1, R7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgentSettings {
    /// IANA time zone name, such as `Europe/Berlin`. `UTC` when none was chosen.
    pub time_zone: String,
    /// Weekly live-chat schedule.
    pub schedule: Vec<TimeBlock>,
    pub calendar: CalendarSettings,
}

impl AgentSettings {
    /// On duty around the clock in UTC; meetings any time, `meeting_minutes` long.
    pub fn around_the_clock(meeting_minutes: i32, buffer_minutes: i32) -> Self {
        let all_day = TimeBlock::on(&Weekday::ALL, "00:00", "24:00");
        AgentSettings {
            time_zone: "UTC".to_owned(),
            schedule: all_day.clone(),
            calendar: CalendarSettings {
                working_hours: all_day,
                meeting_minutes,
                buffer_minutes,
            },
        }
    }
}

/// What is known of a visitor (R5). Fields the visitor did not give are absent, never `""`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VisitorInfo {
    pub id: VisitorId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub job_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub crm_status: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// Waiting for an agent (in the queue or being offered).
    Waiting,
    /// Assigned to an agent and open.
    Live,
    /// Over.
    Ended,
    /// The visitor left a message while nobody was available; every agent sees it in All.
    LeftMessage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Agent,
    Visitor,
    /// No message from either side for the inactivity timeout (R2).
    Inactivity,
    /// The visitor gave up while waiting.
    Abandoned,
}

/// A conversation as listed (R4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ConversationSummary {
    pub id: ConversationId,
    pub status: ConversationStatus,
    pub visitor: VisitorInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub agent: Option<AgentSummary>,
    pub created_at: DateTime<Utc>,
    /// Newest message or state change; lists sort on it, newest first.
    pub last_activity_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub last_message: Option<String>,
    /// Visitor messages the requesting agent has not read.
    pub unread: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub end_reason: Option<EndReason>,
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Author {
    Visitor,
    Agent { agent_id: AgentId, name: String },
    System,
}

/// What a message carries. Text is always plain text, never markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageContent {
    Text {
        text: String,
    },
    /// An agent shared a booking calendar (R7); the widget shows a booking card.
    CalendarShare {
        calendar_agent_id: AgentId,
        calendar_agent_name: String,
    },
    /// A visitor booked a meeting (R7).
    Booking {
        booking: Booking,
    },
    /// A status line such as "Ada joined the chat".
    Notice {
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub author: Author,
    pub content: MessageContent,
    /// The sender's client id, echoed so the sender can match its pending copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub client_id: Option<ClientId>,
    pub created_at: DateTime<Utc>,
}

/// A chat offered to one agent (R2, R3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Offer {
    pub id: OfferId,
    pub conversation_id: ConversationId,
    pub visitor: VisitorInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub first_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum WithdrawReason {
    /// Nobody answered within the window.
    Expired,
    /// This agent declined.
    Declined,
    /// Accepted (by this agent on another device; or the chat was otherwise taken).
    Taken,
    /// The visitor left before anyone accepted.
    VisitorLeft,
    /// The agent became unavailable or disconnected.
    AgentUnavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    PageVisit,
    FormFill,
    EmailOpen,
    Chat,
    MeetingBooked,
    MessageLeft,
}

/// One entry of a visitor's activity history (R6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Activity {
    pub id: ActivityId,
    pub kind: ActivityKind,
    pub title: String,
    pub occurred_at: DateTime<Utc>,
    /// For chats: the conversation whose transcript opens in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub conversation_id: Option<ConversationId>,
}

/// A bookable meeting slot (R7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Booking {
    pub id: BookingId,
    pub calendar_agent_id: AgentId,
    pub calendar_agent_name: String,
    pub visitor_id: VisitorId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub conversation_id: Option<ConversationId>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A calendar as listed in the picker: one per agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CalendarSummary {
    pub agent_id: AgentId,
    pub agent_name: String,
    pub time_zone: String,
    pub meeting_minutes: i32,
    pub buffer_minutes: i32,
}
