//! Visitor REST endpoints: opening a session, calendar slots and booking (R7).

use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{Duration, Utc};
use protocol::rest::*;
use protocol::*;

use super::agents::{SlotQuery, slot_list};
use super::extract::{Json, PathId, Query};
use crate::auth::{self, VisitorAuth};
use crate::chat;
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::{AuthorRef, NewBooking, TokenOwner};

fn clean(field: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    let Some(v) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(Error::invalid(format!("{field}: at most {max} characters")));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(format!(
            "{field}: control characters are not allowed"
        )));
    }
    Ok(Some(v))
}

pub async fn open_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<VisitorSessionRequest>,
) -> Result<axum::Json<VisitorSessionResponse>> {
    auth::check_origin(&state, &headers)?;
    let name = clean("name", req.name, 100)?;
    let email = clean("email", req.email, 200)?;
    if email
        .as_ref()
        .is_some_and(|e| !e.contains('@') || e.starts_with('@') || e.ends_with('@'))
    {
        return Err(Error::invalid("email: not an email address"));
    }
    let now = Utc::now();
    let expires_at = now + Duration::minutes(i64::from(state.config.visitor_token_ttl_minutes));
    // Continue an earlier session of the same visitor when its token is still good.
    let visitor_id = match req.resume_token.as_deref() {
        Some(token) => match auth::resolve(&state, token).await {
            Ok(TokenOwner::Visitor(v)) => Some(v),
            _ => None,
        },
        None => None,
    };
    let visitor_id = match visitor_id {
        Some(v) => v,
        None => {
            state
                .store
                .create_visitor(
                    VisitorInfo {
                        id: VisitorId(0),
                        name,
                        email,
                        ..Default::default()
                    },
                    now,
                )
                .await?
        }
    };
    let (token, hash) = auth::new_token();
    state
        .store
        .insert_token(&hash, TokenOwner::Visitor(visitor_id), expires_at)
        .await?;
    Ok(axum::Json(VisitorSessionResponse {
        token,
        visitor_id,
        expires_at,
    }))
}

/// Slots of a calendar shared with one of the visitor's conversations.
pub async fn slots(
    State(state): State<AppState>,
    auth: VisitorAuth,
    PathId(agent): PathId,
    Query(q): Query<SlotQuery>,
) -> Result<axum::Json<SlotList>> {
    let agent = AgentId(agent);
    let shared = match state
        .store
        .open_conversation_of_visitor(auth.visitor_id)
        .await?
    {
        Some(row) => state.store.is_calendar_shared(row.id, agent).await?,
        None => false,
    };
    if !shared {
        return Err(Error::forbidden("this calendar was not shared with you"));
    }
    Ok(axum::Json(slot_list(&state, agent, &q).await?))
}

pub async fn book(
    State(state): State<AppState>,
    auth: VisitorAuth,
    Json(req): Json<BookingRequest>,
) -> Result<axum::Json<Booking>> {
    let row = state
        .store
        .conversation(req.conversation_id)
        .await
        .map_err(|_| Error::not_found("conversation"))?;
    if row.visitor_id != auth.visitor_id {
        return Err(Error::forbidden("this conversation is not yours"));
    }
    if !state
        .store
        .is_calendar_shared(row.id, req.calendar_agent_id)
        .await?
    {
        return Err(Error::forbidden(
            "this calendar was not shared in this conversation",
        ));
    }
    let record = state.store.agent(req.calendar_agent_id).await?;
    let q = SlotQuery {
        from: Some(req.start - Duration::minutes(1)),
        days: Some(1),
    };
    let free = slot_list(&state, req.calendar_agent_id, &q).await?;
    let Some(slot) = free.slots.into_iter().find(|s| s.start == req.start) else {
        return Err(Error::conflict(
            "start: that time is not a free slot of this calendar; reload the slots",
        ));
    };
    let booking = state
        .store
        .book(
            NewBooking {
                calendar_agent_id: req.calendar_agent_id,
                visitor_id: auth.visitor_id,
                conversation_id: Some(row.id),
                start: slot.start,
                end: slot.end,
                buffer_minutes: record.settings.calendar.buffer_minutes,
            },
            Utc::now(),
        )
        .await?;
    // Announce to both sides as a message in the conversation.
    let content = MessageContent::Booking {
        booking: booking.clone(),
    };
    let client_id = format!("booking-{}", booking.id);
    let (message, _) = state
        .store
        .insert_message(
            row.id,
            AuthorRef::System,
            &content,
            Some(&client_id),
            Utc::now(),
        )
        .await?;
    let current = state.store.conversation(row.id).await?;
    chat::deliver(&state, &current, &message);
    Ok(axum::Json(booking))
}
