//! Conversation reads for agents (R4-R6). Every endpoint refuses another agent's live chat.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{Duration, Utc};
use protocol::rest::*;
use protocol::*;
use serde::Deserialize;

use super::extract::{PathId, Query};
use crate::auth::AgentAuth;
use crate::chat;
use crate::error::{Error, Result};
use crate::state::AppState;

/// R6: activities older than this are never returned.
pub const HISTORY_DAYS: i64 = 90;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub scope: ConversationScope,
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

pub async fn list(
    State(state): State<AppState>,
    auth: AgentAuth,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<ConversationPage>> {
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 200 {
        return Err(Error::invalid("limit must be between 1 and 200"));
    }
    if q.q.as_ref().is_some_and(|s| s.chars().count() > 200) {
        return Err(Error::invalid("q: at most 200 characters"));
    }
    let page = state
        .store
        .list_conversations(
            auth.agent_id,
            q.scope,
            q.q.as_deref(),
            q.cursor.as_deref(),
            limit,
        )
        .await?;
    Ok(axum::Json(page))
}

pub async fn get(
    State(state): State<AppState>,
    auth: AgentAuth,
    PathId(id): PathId,
) -> Result<axum::Json<ConversationSummary>> {
    let id = ConversationId(id);
    chat::conversation_visible_to(&state, id, auth.agent_id).await?;
    Ok(axum::Json(
        state.store.summary(id, Some(auth.agent_id)).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct MessagesQuery {
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

pub async fn messages(
    State(state): State<AppState>,
    auth: AgentAuth,
    PathId(id): PathId,
    Query(q): Query<MessagesQuery>,
) -> Result<axum::Json<MessagePage>> {
    let id = ConversationId(id);
    chat::conversation_visible_to(&state, id, auth.agent_id).await?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 500 {
        return Err(Error::invalid("limit must be between 1 and 500"));
    }
    Ok(axum::Json(
        state
            .store
            .messages(id, q.before.map(MessageId), limit)
            .await?,
    ))
}

pub async fn visitor(
    State(state): State<AppState>,
    auth: AgentAuth,
    PathId(id): PathId,
) -> Result<axum::Json<VisitorInfo>> {
    let row = chat::conversation_visible_to(&state, ConversationId(id), auth.agent_id).await?;
    Ok(axum::Json(state.store.visitor(row.visitor_id).await?))
}

pub async fn activities(
    State(state): State<AppState>,
    auth: AgentAuth,
    PathId(id): PathId,
) -> Result<axum::Json<ActivityList>> {
    let row = chat::conversation_visible_to(&state, ConversationId(id), auth.agent_id).await?;
    let since = Utc::now() - Duration::days(HISTORY_DAYS);
    let items = state.store.activities(row.visitor_id, since).await?;
    Ok(axum::Json(ActivityList { items, since }))
}

/// The conversation as plain text, for reading in place and saving as a `.txt` file.
pub async fn transcript(
    State(state): State<AppState>,
    auth: AgentAuth,
    PathId(id): PathId,
) -> Result<impl IntoResponse> {
    let id = ConversationId(id);
    chat::conversation_visible_to(&state, id, auth.agent_id).await?;
    let summary = state.store.summary(id, Some(auth.agent_id)).await?;
    let mut messages = Vec::new();
    let mut before = None;
    loop {
        let page = state.store.messages(id, before, 500).await?;
        let done = page.older_cursor.is_none();
        before = page.older_cursor;
        let mut items = page.items;
        items.extend(messages);
        messages = items;
        if done {
            break;
        }
    }
    let text = render_transcript(&summary, &messages);
    let disposition = format!("inline; filename=\"conversation-{}.txt\"", id.0);
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    ))
}

pub fn render_transcript(summary: &ConversationSummary, messages: &[Message]) -> String {
    let visitor_name = summary
        .visitor
        .name
        .clone()
        .unwrap_or_else(|| "Visitor".to_owned());
    let mut out = format!(
        "Conversation #{} with {}\nStarted {}\n",
        summary.id,
        visitor_name,
        summary.created_at.format("%Y-%m-%d %H:%M UTC")
    );
    if let Some(agent) = &summary.agent {
        out.push_str(&format!("Agent: {}\n", agent.name));
    }
    if let Some(ended) = summary.ended_at {
        out.push_str(&format!("Ended {}\n", ended.format("%Y-%m-%d %H:%M UTC")));
    }
    out.push('\n');
    for m in messages {
        let who = match &m.author {
            Author::Visitor => visitor_name.clone(),
            Author::Agent { name, .. } => name.clone(),
            Author::System => "System".to_owned(),
        };
        let body = match &m.content {
            MessageContent::Text { text } | MessageContent::Notice { text } => text.clone(),
            MessageContent::CalendarShare {
                calendar_agent_name,
                ..
            } => format!("[shared {calendar_agent_name}'s calendar]"),
            MessageContent::Booking { booking } => format!(
                "[meeting booked with {} on {}]",
                booking.calendar_agent_name,
                booking.start.format("%Y-%m-%d %H:%M UTC")
            ),
        };
        out.push_str(&format!(
            "[{}] {}: {}\n",
            m.created_at.format("%Y-%m-%d %H:%M:%S"),
            who,
            body
        ));
    }
    out
}
