//! Agent REST endpoints: login, logout, profile, settings, availability, agents, calendars.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use protocol::rest::*;
use protocol::*;
use serde::Deserialize;

use super::extract::{Json, PathId, Query};
use crate::auth::{self, AgentAuth};
use crate::availability;
use crate::calendar;
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::TokenOwner;

pub async fn login(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> Result<axum::Json<LoginResponse>> {
    if req.email.trim().is_empty() || req.password.is_empty() {
        return Err(Error::invalid("email and password are required"));
    }
    if req.email.len() > 320 || req.password.len() > 1024 {
        return Err(Error::invalid("email or password is too long"));
    }
    let record = state.store.agent_by_email(&req.email).await?;
    let hash = record.as_ref().map(|r| r.password_hash.clone());
    let password = req.password.clone();
    // Verify even for unknown emails so that timing does not tell which emails exist.
    let ok = tokio::task::spawn_blocking(move || match hash {
        Some(h) => auth::verify_password(&password, &h),
        None => {
            let _ = auth::verify_password(&password, dummy_hash());
            false
        }
    })
    .await
    .unwrap_or(false);
    let Some(record) = record.filter(|_| ok) else {
        return Err(Error::unauthorized("wrong email or password"));
    };
    let (token, hash) = auth::new_token();
    let expires_at = Utc::now() + Duration::hours(i64::from(state.config.token_ttl_hours));
    state
        .store
        .insert_token(&hash, TokenOwner::Agent(record.profile.id), expires_at)
        .await?;
    Ok(axum::Json(LoginResponse {
        token,
        expires_at,
        agent: record.profile,
    }))
}

/// A hash of a random password, verified against for unknown emails.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| auth::hash_password(&uuid::Uuid::new_v4().to_string()).unwrap_or_default())
}

pub async fn logout(State(state): State<AppState>, auth: AgentAuth) -> Result<StatusCode> {
    state
        .store
        .revoke_token(&auth.token_hash, Utc::now())
        .await?;
    state.hub.sign_out(auth.agent_id, &auth.token_hash);
    Ok(StatusCode::NO_CONTENT)
}

async fn availability_of(
    state: &AppState,
    agent: AgentId,
) -> Result<(crate::store::AgentRecord, Availability)> {
    let record = state.store.agent(agent).await?;
    let availability = match state.router.availability(agent).await {
        Some(a) => a,
        None => availability::compute(
            &record.settings,
            record.override_status,
            record.override_until,
            Utc::now(),
        ),
    };
    Ok((record, availability))
}

pub async fn me(State(state): State<AppState>, auth: AgentAuth) -> Result<axum::Json<MeResponse>> {
    let (record, availability) = availability_of(&state, auth.agent_id).await?;
    Ok(axum::Json(MeResponse {
        agent: record.profile,
        availability,
        settings: record.settings,
    }))
}

pub async fn get_settings(
    State(state): State<AppState>,
    auth: AgentAuth,
) -> Result<axum::Json<AgentSettings>> {
    Ok(axum::Json(state.store.agent(auth.agent_id).await?.settings))
}

pub async fn put_settings(
    State(state): State<AppState>,
    auth: AgentAuth,
    Json(settings): Json<AgentSettings>,
) -> Result<axum::Json<AgentSettings>> {
    availability::validate_settings(&settings)?;
    state
        .store
        .update_settings(auth.agent_id, &settings)
        .await?;
    state.router.availability_changed(auth.agent_id).await;
    Ok(axum::Json(settings))
}

pub async fn put_availability(
    State(state): State<AppState>,
    auth: AgentAuth,
    Json(req): Json<SetAvailabilityRequest>,
) -> Result<axum::Json<Availability>> {
    let record = state.store.agent(auth.agent_id).await?;
    let now = Utc::now();
    let until = req
        .status
        .map(|_| availability::override_until(&record.settings, now));
    state
        .store
        .set_override(auth.agent_id, req.status, until)
        .await?;
    state.router.availability_changed(auth.agent_id).await;
    let record = state.store.agent(auth.agent_id).await?;
    Ok(axum::Json(availability::compute(
        &record.settings,
        record.override_status,
        record.override_until,
        now,
    )))
}

pub async fn agents(
    State(state): State<AppState>,
    _auth: AgentAuth,
) -> Result<axum::Json<Vec<AgentSummary>>> {
    let list = state.store.agents().await?;
    Ok(axum::Json(
        list.into_iter()
            .map(|a| AgentSummary {
                id: a.profile.id,
                name: a.profile.name,
            })
            .collect(),
    ))
}

pub fn calendar_summary(record: &crate::store::AgentRecord) -> CalendarSummary {
    CalendarSummary {
        agent_id: record.profile.id,
        agent_name: record.profile.name.clone(),
        time_zone: record.settings.time_zone.clone(),
        meeting_minutes: record.settings.calendar.meeting_minutes,
        buffer_minutes: record.settings.calendar.buffer_minutes,
    }
}

pub async fn calendars(
    State(state): State<AppState>,
    _auth: AgentAuth,
) -> Result<axum::Json<Vec<CalendarSummary>>> {
    Ok(axum::Json(
        state
            .store
            .agents()
            .await?
            .iter()
            .map(calendar_summary)
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
pub struct SlotQuery {
    pub from: Option<chrono::DateTime<Utc>>,
    pub days: Option<u32>,
}

/// Free slots of an agent's calendar.
pub async fn slot_list(state: &AppState, agent_id: AgentId, q: &SlotQuery) -> Result<SlotList> {
    let days = q.days.unwrap_or(7);
    if days == 0 || days > calendar::MAX_DAYS {
        return Err(Error::invalid(format!(
            "days must be between 1 and {}",
            calendar::MAX_DAYS
        )));
    }
    let record = state
        .store
        .agent(agent_id)
        .await
        .map_err(|_| Error::not_found("calendar"))?;
    let now = Utc::now();
    let from = q.from.unwrap_or(now).max(now);
    let to = from + Duration::days(i64::from(days) + 1);
    let booked = state
        .store
        .bookings_between(agent_id, from - Duration::days(1), to)
        .await?;
    let slots = calendar::free_slots(&record.settings, from, days, &booked, now);
    Ok(SlotList {
        calendar: calendar_summary(&record),
        slots,
    })
}

pub async fn slots(
    State(state): State<AppState>,
    _auth: AgentAuth,
    PathId(id): PathId,
    Query(q): Query<SlotQuery>,
) -> Result<axum::Json<SlotList>> {
    Ok(axum::Json(slot_list(&state, AgentId(id), &q).await?))
}
