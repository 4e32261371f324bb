//! The desktop shell's commands (src-tauri/src/commands.rs), by the same names and with the
//! same camelCase argument names, so the UI's web backend sends what the Tauri backend sends.
//! Each one is a thin call into the session's engine or REST client.

use agent_core::config::Preferences;
use agent_core::notifier::OfferAnswer;
use agent_core::session::Session;
use protocol::rest::ConversationScope;
use protocol::*;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

type Result<T> = std::result::Result<T, ErrorBody>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Login {
    service_url: String,
    email: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Offer {
    offer_id: OfferId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Conversation {
    conversation_id: ConversationId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendMessage {
    conversation_id: ConversationId,
    text: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pending {
    client_id: ClientId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Typing {
    conversation_id: ConversationId,
    typing: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MarkRead {
    conversation_id: ConversationId,
    message_id: MessageId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShareCalendar {
    conversation_id: ConversationId,
    calendar_agent_id: AgentId,
}

#[derive(Deserialize)]
struct Availability {
    #[serde(default)]
    status: Option<AvailabilityStatus>,
}

#[derive(Deserialize)]
struct ListConversations {
    scope: ConversationScope,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetMessages {
    conversation_id: ConversationId,
    #[serde(default)]
    before: Option<MessageId>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Slots {
    agent_id: AgentId,
    #[serde(default)]
    days: Option<u32>,
}

#[derive(Deserialize)]
struct Settings {
    settings: AgentSettings,
}

#[derive(Deserialize)]
struct PutPreferences {
    preferences: Preferences,
}

fn args<T: DeserializeOwned>(command: &str, args: Value) -> Result<T> {
    // A command without arguments may be sent `null` or nothing; the structs with only
    // optional fields accept `{}`.
    let args = if args.is_null() {
        Value::Object(Default::default())
    } else {
        args
    };
    serde_json::from_value(args).map_err(|e| {
        ErrorBody::new(
            ErrorCode::BadRequest,
            format!("invalid arguments for {command}: {e}"),
        )
    })
}

fn reply<T: serde::Serialize>(r: agent_core::Result<T>) -> Result<Value> {
    let value = r.map_err(|e| e.body())?;
    serde_json::to_value(value).map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))
}

/// Runs `command` with its JSON arguments; the answer is what the shell's command returns.
pub async fn dispatch(session: &Session, command: &str, raw: Value) -> Result<Value> {
    match command {
        "session_restore" => reply(session.restore().await),
        "login" => {
            let a: Login = args(command, raw)?;
            reply(session.login(&a.service_url, &a.email, &a.password).await)
        }
        "logout" => reply(session.logout().await),
        "get_state" => {
            let (core, _) = current(session).await?;
            reply(Ok((*core.state()).clone()))
        }
        "accept_offer" | "decline_offer" => {
            let a: Offer = args(command, raw)?;
            let answer = if command == "accept_offer" {
                OfferAnswer::Accept
            } else {
                OfferAnswer::Decline
            };
            let (core, _) = current(session).await?;
            reply(core.answer(a.offer_id, answer).await)
        }
        "send_message" => {
            let a: SendMessage = args(command, raw)?;
            let (core, _) = current(session).await?;
            reply(core.send_message(a.conversation_id, &a.text).await)
        }
        "dismiss_pending" => {
            let a: Pending = args(command, raw)?;
            let (core, _) = current(session).await?;
            core.dismiss_failed(a.client_id);
            reply(Ok(()))
        }
        "set_typing" => {
            let a: Typing = args(command, raw)?;
            let (core, _) = current(session).await?;
            core.typing(a.conversation_id, a.typing).await;
            reply(Ok(()))
        }
        "end_chat" => {
            let a: Conversation = args(command, raw)?;
            let (core, _) = current(session).await?;
            reply(core.end_chat(a.conversation_id).await)
        }
        "mark_read" => {
            let a: MarkRead = args(command, raw)?;
            let (core, _) = current(session).await?;
            reply(core.mark_read(a.conversation_id, a.message_id).await)
        }
        "share_calendar" => {
            let a: ShareCalendar = args(command, raw)?;
            let (core, _) = current(session).await?;
            reply(
                core.share_calendar(a.conversation_id, a.calendar_agent_id)
                    .await,
            )
        }
        "set_availability" => {
            let a: Availability = args(command, raw)?;
            let (core, _) = current(session).await?;
            reply(core.set_availability(a.status).await)
        }
        "list_conversations" => {
            let a: ListConversations = args(command, raw)?;
            let (_, api) = current(session).await?;
            reply(
                api.conversations(a.scope, a.query.as_deref(), a.cursor.as_deref(), a.limit)
                    .await,
            )
        }
        "get_messages" => {
            let a: GetMessages = args(command, raw)?;
            let (_, api) = current(session).await?;
            reply(api.messages(a.conversation_id, a.before, a.limit).await)
        }
        "get_visitor" => {
            let a: Conversation = args(command, raw)?;
            let (_, api) = current(session).await?;
            reply(api.visitor(a.conversation_id).await)
        }
        "get_activities" => {
            let a: Conversation = args(command, raw)?;
            let (_, api) = current(session).await?;
            reply(api.activities(a.conversation_id).await)
        }
        "get_transcript" => {
            let a: Conversation = args(command, raw)?;
            let (_, api) = current(session).await?;
            reply(api.transcript(a.conversation_id).await)
        }
        "save_transcript" => {
            let a: Conversation = args(command, raw)?;
            reply(
                session
                    .save_transcript(a.conversation_id)
                    .await
                    .map(|p| p.display().to_string()),
            )
        }
        "list_calendars" => {
            let (_, api) = current(session).await?;
            reply(api.calendars().await)
        }
        "get_slots" => {
            let a: Slots = args(command, raw)?;
            let (_, api) = current(session).await?;
            reply(api.slots(a.agent_id, None, a.days).await)
        }
        "get_settings" => {
            let (_, api) = current(session).await?;
            reply(api.settings().await)
        }
        "put_settings" => {
            let a: Settings = args(command, raw)?;
            let (_, api) = current(session).await?;
            reply(api.put_settings(&a.settings).await)
        }
        "get_preferences" => reply(session.preferences()),
        "put_preferences" => {
            // Launch at login is the desktop shell's; a browser has nothing to register.
            let a: PutPreferences = args(command, raw)?;
            reply(
                session
                    .save_preferences(&a.preferences)
                    .map(|()| a.preferences),
            )
        }
        "report_startup" => {
            // The browser's own start is not the bridge's: only the page's marks are logged.
            let report: agent_core::startup::StartupReport = args(command, raw)?;
            report.log(None)?;
            reply(Ok(()))
        }
        _ => Err(ErrorBody::new(
            ErrorCode::NotFound,
            format!("no command named {command}"),
        )),
    }
}

async fn current(
    session: &Session,
) -> Result<(std::sync::Arc<agent_core::AgentCore>, agent_core::ApiClient)> {
    session.current().await.map_err(|e| e.body())
}
