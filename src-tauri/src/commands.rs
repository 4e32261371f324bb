//! The commands the UI invokes. Each one is a thin call into the session's engine or REST
//! client; errors cross to the UI as `{code, message}`.

use std::collections::BTreeMap;

use agent_core::config::Preferences;
use agent_core::notifier::OfferAnswer;
use agent_core::startup::StartupReport;
use agent_core::{ClientState, SessionInfo};
use protocol::rest::*;
use protocol::*;
use tauri::State;

use crate::session::Session;

type Result<T> = std::result::Result<T, ErrorBody>;

fn body(e: agent_core::Error) -> ErrorBody {
    e.body()
}

#[tauri::command]
pub async fn session_restore(session: State<'_, Session>) -> Result<Option<SessionInfo>> {
    session.restore().await.map_err(body)
}

#[tauri::command]
pub async fn login(
    session: State<'_, Session>,
    service_url: String,
    email: String,
    password: String,
) -> Result<SessionInfo> {
    session
        .login(&service_url, &email, &password)
        .await
        .map_err(body)
}

#[tauri::command]
pub async fn logout(session: State<'_, Session>) -> Result<()> {
    session.logout().await.map_err(body)
}

#[tauri::command]
pub async fn get_state(session: State<'_, Session>) -> Result<ClientState> {
    let (core, _) = session.current().await.map_err(body)?;
    Ok((*core.state()).clone())
}

#[tauri::command]
pub async fn accept_offer(session: State<'_, Session>, offer_id: OfferId) -> Result<()> {
    let (core, _) = session.current().await.map_err(body)?;
    core.answer(offer_id, OfferAnswer::Accept)
        .await
        .map_err(body)
}

#[tauri::command]
pub async fn decline_offer(session: State<'_, Session>, offer_id: OfferId) -> Result<()> {
    let (core, _) = session.current().await.map_err(body)?;
    core.answer(offer_id, OfferAnswer::Decline)
        .await
        .map_err(body)
}

#[tauri::command]
pub async fn send_message(
    session: State<'_, Session>,
    conversation_id: ConversationId,
    text: String,
) -> Result<ClientId> {
    let (core, _) = session.current().await.map_err(body)?;
    core.send_message(conversation_id, &text)
        .await
        .map_err(body)
}

/// Removes a message the service refused from the chat.
#[tauri::command]
pub async fn dismiss_pending(session: State<'_, Session>, client_id: ClientId) -> Result<()> {
    let (core, _) = session.current().await.map_err(body)?;
    core.dismiss_failed(client_id);
    Ok(())
}

#[tauri::command]
pub async fn set_typing(
    session: State<'_, Session>,
    conversation_id: ConversationId,
    typing: bool,
) -> Result<()> {
    let (core, _) = session.current().await.map_err(body)?;
    core.typing(conversation_id, typing).await;
    Ok(())
}

#[tauri::command]
pub async fn end_chat(session: State<'_, Session>, conversation_id: ConversationId) -> Result<()> {
    let (core, _) = session.current().await.map_err(body)?;
    core.end_chat(conversation_id).await.map_err(body)
}

#[tauri::command]
pub async fn mark_read(
    session: State<'_, Session>,
    conversation_id: ConversationId,
    message_id: MessageId,
) -> Result<()> {
    let (core, _) = session.current().await.map_err(body)?;
    core.mark_read(conversation_id, message_id)
        .await
        .map_err(body)
}

#[tauri::command]
pub async fn share_calendar(
    session: State<'_, Session>,
    conversation_id: ConversationId,
    calendar_agent_id: AgentId,
) -> Result<()> {
    let (core, _) = session.current().await.map_err(body)?;
    core.share_calendar(conversation_id, calendar_agent_id)
        .await
        .map_err(body)
}

#[tauri::command]
pub async fn set_availability(
    session: State<'_, Session>,
    status: Option<AvailabilityStatus>,
) -> Result<()> {
    let (core, _) = session.current().await.map_err(body)?;
    core.set_availability(status).await.map_err(body)
}

#[tauri::command]
pub async fn list_conversations(
    session: State<'_, Session>,
    scope: ConversationScope,
    query: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
) -> Result<ConversationPage> {
    let (_, api) = session.current().await.map_err(body)?;
    api.conversations(scope, query.as_deref(), cursor.as_deref(), limit)
        .await
        .map_err(body)
}

#[tauri::command]
pub async fn get_messages(
    session: State<'_, Session>,
    conversation_id: ConversationId,
    before: Option<MessageId>,
    limit: Option<u32>,
) -> Result<MessagePage> {
    let (_, api) = session.current().await.map_err(body)?;
    api.messages(conversation_id, before, limit)
        .await
        .map_err(body)
}

#[tauri::command]
pub async fn get_visitor(
    session: State<'_, Session>,
    conversation_id: ConversationId,
) -> Result<VisitorInfo> {
    let (_, api) = session.current().await.map_err(body)?;
    api.visitor(conversation_id).await.map_err(body)
}

#[tauri::command]
pub async fn get_activities(
    session: State<'_, Session>,
    conversation_id: ConversationId,
) -> Result<ActivityList> {
    let (_, api) = session.current().await.map_err(body)?;
    api.activities(conversation_id).await.map_err(body)
}

#[tauri::command]
pub async fn get_transcript(
    session: State<'_, Session>,
    conversation_id: ConversationId,
) -> Result<String> {
    let (_, api) = session.current().await.map_err(body)?;
    api.transcript(conversation_id).await.map_err(body)
}

/// Saves the transcript as a `.txt` file in the Downloads folder; returns its path.
#[tauri::command]
pub async fn save_transcript(
    session: State<'_, Session>,
    conversation_id: ConversationId,
) -> Result<String> {
    let path = session
        .save_transcript(conversation_id)
        .await
        .map_err(body)?;
    Ok(path.display().to_string())
}

#[tauri::command]
pub async fn list_calendars(session: State<'_, Session>) -> Result<Vec<CalendarSummary>> {
    let (_, api) = session.current().await.map_err(body)?;
    api.calendars().await.map_err(body)
}

#[tauri::command]
pub async fn get_slots(
    session: State<'_, Session>,
    agent_id: AgentId,
    days: Option<u32>,
) -> Result<SlotList> {
    let (_, api) = session.current().await.map_err(body)?;
    api.slots(agent_id, None, days).await.map_err(body)
}

#[tauri::command]
pub async fn get_settings(session: State<'_, Session>) -> Result<AgentSettings> {
    let (_, api) = session.current().await.map_err(body)?;
    api.settings().await.map_err(body)
}

#[tauri::command]
pub async fn put_settings(
    session: State<'_, Session>,
    settings: AgentSettings,
) -> Result<AgentSettings> {
    let (_, api) = session.current().await.map_err(body)?;
    api.put_settings(&settings).await.map_err(body)
}

#[tauri::command]
pub async fn get_preferences(session: State<'_, Session>) -> Result<Preferences> {
    session.preferences().map_err(body)
}

#[tauri::command]
pub async fn put_preferences(
    session: State<'_, Session>,
    autostart: State<'_, crate::window::Autostart>,
    preferences: Preferences,
) -> Result<Preferences> {
    session.save_preferences(&preferences).map_err(body)?;
    (autostart.0)(preferences.launch_at_login);
    Ok(preferences)
}

/// The window's start-up, as it measured it (`agent_core::startup`): written to the log.
#[tauri::command]
pub fn report_startup(time_origin: f64, marks: BTreeMap<String, f64>) -> Result<()> {
    StartupReport { time_origin, marks }.log(crate::main_started())
}
