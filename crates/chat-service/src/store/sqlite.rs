//! The SQLite implementation of [`Store`]: one file in WAL mode, migrations applied at open.
//!
//! All writes go through a pool of exactly one connection, so write transactions are
//! serialised by construction (no `SQLITE_BUSY` upgrades) and each runs with the invariants
//! checked inside it. Reads use a separate pool and run concurrently thanks to WAL.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use protocol::rest::{ConversationPage, ConversationScope, MessagePage, Page};
use protocol::*;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};

use super::*;
use crate::error::{Error, Result};

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

fn status_str(s: ConversationStatus) -> &'static str {
    match s {
        ConversationStatus::Waiting => "waiting",
        ConversationStatus::Live => "live",
        ConversationStatus::Ended => "ended",
        ConversationStatus::LeftMessage => "left_message",
    }
}

fn parse_status(s: &str) -> ConversationStatus {
    match s {
        "live" => ConversationStatus::Live,
        "ended" => ConversationStatus::Ended,
        "left_message" => ConversationStatus::LeftMessage,
        _ => ConversationStatus::Waiting,
    }
}

fn end_reason_str(r: EndReason) -> &'static str {
    match r {
        EndReason::Agent => "agent",
        EndReason::Visitor => "visitor",
        EndReason::Inactivity => "inactivity",
        EndReason::Abandoned => "abandoned",
    }
}

fn parse_end_reason(s: &str) -> Option<EndReason> {
    Some(match s {
        "agent" => EndReason::Agent,
        "visitor" => EndReason::Visitor,
        "inactivity" => EndReason::Inactivity,
        "abandoned" => EndReason::Abandoned,
        _ => return None,
    })
}

fn availability_str(s: AvailabilityStatus) -> &'static str {
    match s {
        AvailabilityStatus::Available => "available",
        AvailabilityStatus::Unavailable => "unavailable",
    }
}

pub(crate) fn activity_kind_str(k: ActivityKind) -> &'static str {
    match k {
        ActivityKind::PageVisit => "page_visit",
        ActivityKind::FormFill => "form_fill",
        ActivityKind::EmailOpen => "email_open",
        ActivityKind::Chat => "chat",
        ActivityKind::MeetingBooked => "meeting_booked",
        ActivityKind::MessageLeft => "message_left",
    }
}

fn parse_activity_kind(s: &str) -> ActivityKind {
    match s {
        "form_fill" => ActivityKind::FormFill,
        "email_open" => ActivityKind::EmailOpen,
        "chat" => ActivityKind::Chat,
        "meeting_booked" => ActivityKind::MeetingBooked,
        "message_left" => ActivityKind::MessageLeft,
        _ => ActivityKind::PageVisit,
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn is_limit_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.message().contains("live chat limit reached"))
}

fn agent_from_row(row: &SqliteRow) -> Result<AgentRecord> {
    let settings_json: String = row.try_get("settings_json")?;
    let settings: AgentSettings = serde_json::from_str(&settings_json)
        .map_err(|e| Error::Internal(format!("stored agent settings are unreadable: {e}")))?;
    let override_status: Option<String> = row.try_get("override_status")?;
    Ok(AgentRecord {
        profile: AgentProfile {
            id: AgentId(row.try_get("id")?),
            email: row.try_get("email")?,
            name: row.try_get("name")?,
        },
        password_hash: row.try_get("password_hash")?,
        settings,
        override_status: override_status.map(|s| {
            if s == "available" {
                AvailabilityStatus::Available
            } else {
                AvailabilityStatus::Unavailable
            }
        }),
        override_until: row
            .try_get::<Option<i64>, _>("override_until")?
            .map(from_ms),
        last_offer_at: from_ms(row.try_get("last_offer_at")?),
    })
}

fn conversation_from_row(row: &SqliteRow) -> Result<ConversationRow> {
    let status: String = row.try_get("status")?;
    Ok(ConversationRow {
        id: ConversationId(row.try_get("id")?),
        visitor_id: VisitorId(row.try_get("visitor_id")?),
        agent_id: row.try_get::<Option<i64>, _>("agent_id")?.map(AgentId),
        status: parse_status(&status),
        created_at: from_ms(row.try_get("created_at")?),
    })
}

const MESSAGE_SELECT: &str = "SELECT m.id, m.conversation_id, m.author_role, m.agent_id, a.name AS agent_name, \
     m.content_json, m.client_id, m.created_at FROM messages m LEFT JOIN agents a ON a.id = m.agent_id";

fn message_from_row(row: &SqliteRow) -> Result<Message> {
    let role: String = row.try_get("author_role")?;
    let author = match role.as_str() {
        "visitor" => Author::Visitor,
        "agent" => Author::Agent {
            agent_id: AgentId(
                row.try_get::<Option<i64>, _>("agent_id")?
                    .unwrap_or_default(),
            ),
            name: row
                .try_get::<Option<String>, _>("agent_name")?
                .unwrap_or_default(),
        },
        _ => Author::System,
    };
    let content_json: String = row.try_get("content_json")?;
    let content: MessageContent = serde_json::from_str(&content_json)
        .map_err(|e| Error::Internal(format!("stored message is unreadable: {e}")))?;
    Ok(Message {
        id: MessageId(row.try_get("id")?),
        conversation_id: ConversationId(row.try_get("conversation_id")?),
        author,
        content,
        client_id: row.try_get("client_id")?,
        created_at: from_ms(row.try_get("created_at")?),
    })
}

const SUMMARY_SELECT: &str = "SELECT c.id, c.status, c.visitor_id, v.name AS v_name, v.job_title AS v_job_title, \
     v.email AS v_email, v.phone AS v_phone, v.crm_status AS v_crm_status, c.agent_id, a.name AS agent_name, \
     c.created_at, c.last_activity_at, c.last_message, c.ended_at, c.end_reason, \
     (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.author_role = 'visitor' \
        AND m.id > COALESCE((SELECT r.last_read_message_id FROM reads r \
                             WHERE r.agent_id = ?1 AND r.conversation_id = c.id), 0)) AS unread \
     FROM conversations c JOIN visitors v ON v.id = c.visitor_id LEFT JOIN agents a ON a.id = c.agent_id";

fn visitor_from_prefixed(row: &SqliteRow, id: i64, prefix: &str) -> Result<VisitorInfo> {
    let get = |col: &str| -> Result<Option<String>> {
        let v: Option<String> = row.try_get(format!("{prefix}{col}").as_str())?;
        Ok(v.filter(|s| !s.trim().is_empty()))
    };
    Ok(VisitorInfo {
        id: VisitorId(id),
        name: get("name")?,
        job_title: get("job_title")?,
        email: get("email")?,
        phone: get("phone")?,
        crm_status: get("crm_status")?,
    })
}

fn summary_from_row(row: &SqliteRow) -> Result<ConversationSummary> {
    let status: String = row.try_get("status")?;
    let visitor_id: i64 = row.try_get("visitor_id")?;
    let agent = match row.try_get::<Option<i64>, _>("agent_id")? {
        Some(id) => Some(AgentSummary {
            id: AgentId(id),
            name: row
                .try_get::<Option<String>, _>("agent_name")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    let unread: i64 = row.try_get("unread")?;
    Ok(ConversationSummary {
        id: ConversationId(row.try_get("id")?),
        status: parse_status(&status),
        visitor: visitor_from_prefixed(row, visitor_id, "v_")?,
        agent,
        created_at: from_ms(row.try_get("created_at")?),
        last_activity_at: from_ms(row.try_get("last_activity_at")?),
        last_message: row.try_get("last_message")?,
        unread: u32::try_from(unread).unwrap_or(u32::MAX),
        ended_at: row.try_get::<Option<i64>, _>("ended_at")?.map(from_ms),
        end_reason: row
            .try_get::<Option<String>, _>("end_reason")?
            .as_deref()
            .and_then(parse_end_reason),
    })
}

/// The preview shown in lists for a message's content.
fn preview(content: &MessageContent) -> String {
    let text = match content {
        MessageContent::Text { text } | MessageContent::Notice { text } => text.clone(),
        MessageContent::CalendarShare {
            calendar_agent_name,
            ..
        } => {
            format!("Shared {calendar_agent_name}'s calendar")
        }
        MessageContent::Booking { booking } => {
            format!(
                "Meeting booked for {}",
                booking.start.format("%Y-%m-%d %H:%M UTC")
            )
        }
    };
    text.chars().take(200).collect()
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn parse_cursor(cursor: &str) -> Result<(i64, i64)> {
    let bad = || Error::invalid("cursor: not a cursor returned by this service");
    let (a, b) = cursor.split_once(':').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path` and applies migrations.
    pub async fn open(path: &Path, sync_full: bool, max_live_chats: u32) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::Internal(format!(
                    "cannot create database folder {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if sync_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        sqlx::query(
            "INSERT INTO service_settings (key, value) VALUES ('max_live_chats', ?1) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(max_live_chats.to_string())
        .execute(&writer)
        .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore { writer, reader })
    }

    async fn message_by_id(&self, id: i64) -> Result<Message> {
        let row = sqlx::query(&format!("{MESSAGE_SELECT} WHERE m.id = ?1"))
            .bind(id)
            .fetch_one(&self.reader)
            .await?;
        message_from_row(&row)
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn create_agent(&self, agent: NewAgent) -> Result<AgentId> {
        let settings =
            serde_json::to_string(&agent.settings).map_err(|e| Error::Internal(e.to_string()))?;
        let res = sqlx::query(
            "INSERT INTO agents (email, name, password_hash, settings_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&agent.email)
        .bind(&agent.name)
        .bind(&agent.password_hash)
        .bind(settings)
        .bind(ms(Utc::now()))
        .execute(&self.writer)
        .await;
        match res {
            Ok(r) => Ok(AgentId(r.last_insert_rowid())),
            Err(e) if is_unique_violation(&e) => Err(Error::conflict(format!(
                "an agent with email {} exists",
                agent.email
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn agent(&self, id: AgentId) -> Result<AgentRecord> {
        let row = sqlx::query("SELECT * FROM agents WHERE id = ?1")
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await?
            .ok_or_else(|| Error::not_found("agent"))?;
        agent_from_row(&row)
    }

    async fn agent_by_email(&self, email: &str) -> Result<Option<AgentRecord>> {
        let row = sqlx::query("SELECT * FROM agents WHERE email = ?1")
            .bind(email.trim())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn agents(&self) -> Result<Vec<AgentRecord>> {
        let rows = sqlx::query("SELECT * FROM agents ORDER BY name, id")
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(agent_from_row).collect()
    }

    async fn agent_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM agents")
            .fetch_one(&self.reader)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn update_settings(&self, id: AgentId, settings: &AgentSettings) -> Result<()> {
        let json = serde_json::to_string(settings).map_err(|e| Error::Internal(e.to_string()))?;
        let r = sqlx::query("UPDATE agents SET settings_json = ?1 WHERE id = ?2")
            .bind(json)
            .bind(id.0)
            .execute(&self.writer)
            .await?;
        if r.rows_affected() == 0 {
            return Err(Error::not_found("agent"));
        }
        Ok(())
    }

    async fn set_override(
        &self,
        id: AgentId,
        status: Option<AvailabilityStatus>,
        until: Option<DateTime<Utc>>,
    ) -> Result<()> {
        sqlx::query("UPDATE agents SET override_status = ?1, override_until = ?2 WHERE id = ?3")
            .bind(status.map(availability_str))
            .bind(until.map(ms))
            .bind(id.0)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn insert_token(
        &self,
        token_hash: &str,
        owner: TokenOwner,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let (agent, visitor) = match owner {
            TokenOwner::Agent(a) => (Some(a.0), None),
            TokenOwner::Visitor(v) => (None, Some(v.0)),
        };
        sqlx::query(
            "INSERT INTO auth_tokens (token_hash, agent_id, visitor_id, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(token_hash)
        .bind(agent)
        .bind(visitor)
        .bind(ms(expires_at))
        .bind(ms(Utc::now()))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn token_owner(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenOwner>> {
        let row = sqlx::query(
            "SELECT agent_id, visitor_id FROM auth_tokens WHERE token_hash = ?1 AND revoked_at IS NULL AND expires_at > ?2",
        )
        .bind(token_hash)
        .bind(ms(now))
        .fetch_optional(&self.reader)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let agent: Option<i64> = row.try_get("agent_id")?;
        let visitor: Option<i64> = row.try_get("visitor_id")?;
        Ok(match (agent, visitor) {
            (Some(a), _) => Some(TokenOwner::Agent(AgentId(a))),
            (None, Some(v)) => Some(TokenOwner::Visitor(VisitorId(v))),
            _ => None,
        })
    }

    async fn revoke_token(&self, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE auth_tokens SET revoked_at = ?1 WHERE token_hash = ?2 AND revoked_at IS NULL",
        )
        .bind(ms(now))
        .bind(token_hash)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn create_visitor(&self, v: VisitorInfo, now: DateTime<Utc>) -> Result<VisitorId> {
        let r = sqlx::query(
            "INSERT INTO visitors (name, job_title, email, phone, crm_status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(v.name)
        .bind(v.job_title)
        .bind(v.email)
        .bind(v.phone)
        .bind(v.crm_status)
        .bind(ms(now))
        .execute(&self.writer)
        .await?;
        Ok(VisitorId(r.last_insert_rowid()))
    }

    async fn visitor(&self, id: VisitorId) -> Result<VisitorInfo> {
        let row = sqlx::query(
            "SELECT name AS v_name, job_title AS v_job_title, email AS v_email, phone AS v_phone, \
             crm_status AS v_crm_status FROM visitors WHERE id = ?1",
        )
        .bind(id.0)
        .fetch_optional(&self.reader)
        .await?
        .ok_or_else(|| Error::not_found("visitor"))?;
        visitor_from_prefixed(&row, id.0, "v_")
    }

    async fn create_conversation(
        &self,
        visitor_id: VisitorId,
        status: ConversationStatus,
        now: DateTime<Utc>,
    ) -> Result<ConversationId> {
        let r = sqlx::query(
            "INSERT INTO conversations (visitor_id, status, created_at, last_activity_at) VALUES (?1, ?2, ?3, ?3)",
        )
        .bind(visitor_id.0)
        .bind(status_str(status))
        .bind(ms(now))
        .execute(&self.writer)
        .await?;
        Ok(ConversationId(r.last_insert_rowid()))
    }

    async fn conversation(&self, id: ConversationId) -> Result<ConversationRow> {
        let row = sqlx::query(
            "SELECT id, visitor_id, agent_id, status, created_at FROM conversations WHERE id = ?1",
        )
        .bind(id.0)
        .fetch_optional(&self.reader)
        .await?
        .ok_or_else(|| Error::not_found("conversation"))?;
        conversation_from_row(&row)
    }

    async fn summary(
        &self,
        id: ConversationId,
        viewer: Option<AgentId>,
    ) -> Result<ConversationSummary> {
        let row = sqlx::query(&format!("{SUMMARY_SELECT} WHERE c.id = ?2"))
            .bind(viewer.map(|a| a.0).unwrap_or(0))
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await?
            .ok_or_else(|| Error::not_found("conversation"))?;
        summary_from_row(&row)
    }

    async fn list_conversations(
        &self,
        viewer: AgentId,
        scope: ConversationScope,
        query: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ConversationPage> {
        let limit = limit.clamp(1, 200);
        let mut sql = format!("{SUMMARY_SELECT} WHERE ");
        sql.push_str(match scope {
            ConversationScope::Active => "(c.status = 'live' AND c.agent_id = ?1)",
            ConversationScope::All => {
                "((c.status = 'live' AND c.agent_id = ?1) OR c.status IN ('ended', 'left_message'))"
            }
        });
        let cursor = cursor.map(parse_cursor).transpose()?;
        if cursor.is_some() {
            sql.push_str(
                " AND (c.last_activity_at < ?2 OR (c.last_activity_at = ?2 AND c.id < ?3))",
            );
        }
        let pattern = query
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(like_pattern);
        if pattern.is_some() {
            sql.push_str(
                " AND (v.name LIKE ?4 ESCAPE '\\' OR v.email LIKE ?4 ESCAPE '\\' OR a.name LIKE ?4 ESCAPE '\\' \
                 OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id \
                            AND json_extract(m.content_json, '$.text') LIKE ?4 ESCAPE '\\'))",
            );
        }
        sql.push_str(" ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ?5");
        let (cur_ts, cur_id) = cursor.unwrap_or((0, 0));
        let rows = sqlx::query(&sql)
            .bind(viewer.0)
            .bind(cur_ts)
            .bind(cur_id)
            .bind(pattern.unwrap_or_default())
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.reader)
            .await?;
        let mut items = rows
            .iter()
            .map(summary_from_row)
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items
                .last()
                .map(|c| format!("{}:{}", ms(c.last_activity_at), c.id.0))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn open_conversation_of_visitor(
        &self,
        visitor_id: VisitorId,
    ) -> Result<Option<ConversationRow>> {
        let row = sqlx::query(
            "SELECT id, visitor_id, agent_id, status, created_at FROM conversations \
             WHERE visitor_id = ?1 AND status IN ('waiting', 'live') ORDER BY id DESC LIMIT 1",
        )
        .bind(visitor_id.0)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    async fn waiting_conversations(&self) -> Result<Vec<ConversationRow>> {
        let rows = sqlx::query(
            "SELECT id, visitor_id, agent_id, status, created_at FROM conversations WHERE status = 'waiting' ORDER BY id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(conversation_from_row).collect()
    }

    async fn live_counts(&self) -> Result<HashMap<AgentId, u32>> {
        let rows = sqlx::query("SELECT agent_id, count(*) AS n FROM conversations WHERE status = 'live' GROUP BY agent_id")
            .fetch_all(&self.reader)
            .await?;
        let mut out = HashMap::new();
        for row in rows {
            let id: i64 = row.try_get("agent_id")?;
            let n: i64 = row.try_get("n")?;
            out.insert(AgentId(id), u32::try_from(n).unwrap_or(u32::MAX));
        }
        Ok(out)
    }

    async fn live_conversations_of(&self, agent_id: AgentId) -> Result<Vec<ConversationId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM conversations WHERE status = 'live' AND agent_id = ?1 ORDER BY last_activity_at DESC",
        )
        .bind(agent_id.0)
        .fetch_all(&self.reader)
        .await?;
        Ok(ids.into_iter().map(ConversationId).collect())
    }

    async fn end_conversation(
        &self,
        id: ConversationId,
        reason: EndReason,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationRow>> {
        let mut tx = self.writer.begin().await?;
        // The row as it was before ending: callers need to know whether it was live.
        let row = sqlx::query(
            "SELECT id, visitor_id, agent_id, status, created_at FROM conversations \
             WHERE id = ?1 AND status IN ('waiting', 'live')",
        )
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?;
        if row.is_some() {
            sqlx::query("UPDATE conversations SET status = 'ended', ended_at = ?1, end_reason = ?2, last_activity_at = ?1 WHERE id = ?3")
                .bind(ms(now))
                .bind(end_reason_str(reason))
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE offers SET outcome = 'withdrawn', answered_at = ?1 WHERE conversation_id = ?2 AND outcome IS NULL")
                .bind(ms(now))
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    async fn end_inactive(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ConversationRow>> {
        let rows = sqlx::query(
            "UPDATE conversations SET status = 'ended', ended_at = ?1, end_reason = 'inactivity', last_activity_at = ?1 \
             WHERE status = 'live' AND last_activity_at < ?2 \
             RETURNING id, visitor_id, agent_id, status, created_at",
        )
        .bind(ms(now))
        .bind(ms(before))
        .fetch_all(&self.writer)
        .await?;
        // Reported as they were before ending: live.
        rows.iter()
            .map(|r| {
                conversation_from_row(r).map(|c| ConversationRow {
                    status: ConversationStatus::Live,
                    ..c
                })
            })
            .collect()
    }

    async fn leave_message(
        &self,
        visitor_id: VisitorId,
        text: &str,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(ConversationId, Message)> {
        let mut tx = self.writer.begin().await?;
        // A retried command returns what the first one stored.
        let existing: Option<(i64, i64)> = sqlx::query_as(
            "SELECT m.id, m.conversation_id FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE c.visitor_id = ?1 AND m.author_role = 'visitor' AND m.client_id = ?2",
        )
        .bind(visitor_id.0)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((mid, cid)) = existing {
            tx.commit().await?;
            return Ok((ConversationId(cid), self.message_by_id(mid).await?));
        }
        let waiting: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM conversations WHERE visitor_id = ?1 AND status = 'waiting' ORDER BY id DESC LIMIT 1",
        )
        .bind(visitor_id.0)
        .fetch_optional(&mut *tx)
        .await?;
        let preview_text: String = text.chars().take(200).collect();
        let conversation_id = match waiting {
            Some(id) => {
                sqlx::query(
                    "UPDATE conversations SET status = 'left_message', last_activity_at = ?1, last_message = ?2, ended_at = ?1 \
                     WHERE id = ?3",
                )
                .bind(ms(now))
                .bind(&preview_text)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE offers SET outcome = 'withdrawn', answered_at = ?1 WHERE conversation_id = ?2 AND outcome IS NULL")
                    .bind(ms(now))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                id
            }
            None => sqlx::query(
                "INSERT INTO conversations (visitor_id, status, created_at, last_activity_at, last_message, ended_at) \
                 VALUES (?1, 'left_message', ?2, ?2, ?3, ?2)",
            )
            .bind(visitor_id.0)
            .bind(ms(now))
            .bind(&preview_text)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid(),
        };
        let content = MessageContent::Text {
            text: text.to_owned(),
        };
        let content_json =
            serde_json::to_string(&content).map_err(|e| Error::Internal(e.to_string()))?;
        let mid = sqlx::query(
            "INSERT INTO messages (conversation_id, author_role, content_json, client_id, created_at) \
             VALUES (?1, 'visitor', ?2, ?3, ?4)",
        )
        .bind(conversation_id)
        .bind(content_json)
        .bind(client_id)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        sqlx::query(
            "INSERT INTO activities (visitor_id, kind, title, occurred_at, conversation_id) VALUES (?1, 'message_left', ?2, ?3, ?4)",
        )
        .bind(visitor_id.0)
        .bind("Left a message while no agent was available")
        .bind(ms(now))
        .bind(conversation_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((
            ConversationId(conversation_id),
            self.message_by_id(mid).await?,
        ))
    }

    async fn insert_message(
        &self,
        conversation_id: ConversationId,
        author: AuthorRef,
        content: &MessageContent,
        client_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(Message, bool)> {
        let (role, agent_id) = match author {
            AuthorRef::Visitor => ("visitor", None),
            AuthorRef::Agent(a) => ("agent", Some(a.0)),
            AuthorRef::System => ("system", None),
        };
        let mut tx = self.writer.begin().await?;
        if let Some(cid) = client_id {
            let existing: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM messages WHERE conversation_id = ?1 AND author_role = ?2 AND client_id = ?3",
            )
            .bind(conversation_id.0)
            .bind(role)
            .bind(cid)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(id) = existing {
                tx.commit().await?;
                return Ok((self.message_by_id(id).await?, false));
            }
        }
        let content_json =
            serde_json::to_string(content).map_err(|e| Error::Internal(e.to_string()))?;
        let id = sqlx::query(
            "INSERT INTO messages (conversation_id, author_role, agent_id, content_json, client_id, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(conversation_id.0)
        .bind(role)
        .bind(agent_id)
        .bind(content_json)
        .bind(client_id)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        // Notices do not count as activity for the inactivity timeout.
        if !matches!(content, MessageContent::Notice { .. }) {
            sqlx::query(
                "UPDATE conversations SET last_activity_at = ?1, last_message = ?2 WHERE id = ?3",
            )
            .bind(ms(now))
            .bind(preview(content))
            .bind(conversation_id.0)
            .execute(&mut *tx)
            .await?;
        }
        if let AuthorRef::Agent(agent) = author {
            // An agent has read everything up to their own reply.
            sqlx::query(
                "INSERT INTO reads (agent_id, conversation_id, last_read_message_id) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (agent_id, conversation_id) DO UPDATE SET last_read_message_id = \
                 max(last_read_message_id, excluded.last_read_message_id)",
            )
            .bind(agent.0)
            .bind(conversation_id.0)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let message = Message {
            id: MessageId(id),
            conversation_id,
            author: match author {
                AuthorRef::Visitor => Author::Visitor,
                AuthorRef::System => Author::System,
                AuthorRef::Agent(a) => Author::Agent {
                    agent_id: a,
                    name: self.agent(a).await?.profile.name,
                },
            },
            content: content.clone(),
            client_id: client_id.map(str::to_owned),
            created_at: from_ms(ms(now)),
        };
        Ok((message, true))
    }

    async fn messages(
        &self,
        id: ConversationId,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<MessagePage> {
        let limit = limit.clamp(1, 500);
        let rows = sqlx::query(&format!(
            "{MESSAGE_SELECT} WHERE m.conversation_id = ?1 AND m.id < ?2 ORDER BY m.id DESC LIMIT ?3"
        ))
        .bind(id.0)
        .bind(before.map(|b| b.0).unwrap_or(i64::MAX))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reader)
        .await?;
        let mut items = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>>>()?;
        let older_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|m| m.id)
        } else {
            None
        };
        items.reverse();
        Ok(MessagePage {
            items,
            older_cursor,
        })
    }

    async fn message_conversation(&self, id: MessageId) -> Result<Option<ConversationId>> {
        let c: Option<i64> =
            sqlx::query_scalar("SELECT conversation_id FROM messages WHERE id = ?1")
                .bind(id.0)
                .fetch_optional(&self.reader)
                .await?;
        Ok(c.map(ConversationId))
    }

    async fn first_visitor_text(&self, id: ConversationId) -> Result<Option<String>> {
        let json: Option<String> = sqlx::query_scalar(
            "SELECT content_json FROM messages WHERE conversation_id = ?1 AND author_role = 'visitor' ORDER BY id LIMIT 1",
        )
        .bind(id.0)
        .fetch_optional(&self.reader)
        .await?;
        Ok(json.and_then(|j| match serde_json::from_str(&j) {
            Ok(MessageContent::Text { text }) => Some(text),
            _ => None,
        }))
    }

    async fn mark_read(
        &self,
        agent_id: AgentId,
        id: ConversationId,
        message_id: MessageId,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO reads (agent_id, conversation_id, last_read_message_id) VALUES (?1, ?2, ?3) \
             ON CONFLICT (agent_id, conversation_id) DO UPDATE SET last_read_message_id = \
             max(last_read_message_id, excluded.last_read_message_id)",
        )
        .bind(agent_id.0)
        .bind(id.0)
        .bind(message_id.0)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn create_offer(
        &self,
        conversation_id: ConversationId,
        agent_id: AgentId,
        round: u32,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<OfferRow>> {
        let mut tx = self.writer.begin().await?;
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM conversations WHERE id = ?1")
                .bind(conversation_id.0)
                .fetch_optional(&mut *tx)
                .await?;
        if status.as_deref() != Some("waiting") {
            return Ok(None);
        }
        let inserted = sqlx::query(
            "INSERT INTO offers (conversation_id, agent_id, round, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(conversation_id.0)
        .bind(agent_id.0)
        .bind(i64::from(round))
        .bind(ms(now))
        .bind(ms(expires_at))
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(r) => r.last_insert_rowid(),
            Err(e) if is_unique_violation(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        sqlx::query("UPDATE agents SET last_offer_at = ?1 WHERE id = ?2")
            .bind(ms(now))
            .bind(agent_id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(OfferRow {
            id: OfferId(id),
            conversation_id,
            agent_id,
            created_at: from_ms(ms(now)),
            expires_at: from_ms(ms(expires_at)),
        }))
    }

    async fn accept_offer(
        &self,
        offer_id: OfferId,
        agent_id: AgentId,
        now: DateTime<Utc>,
    ) -> Result<ConversationRow> {
        let mut tx = self.writer.begin().await?;
        let offer: Option<(i64, i64, Option<String>, i64)> = sqlx::query_as(
            "SELECT conversation_id, agent_id, outcome, expires_at FROM offers WHERE id = ?1",
        )
        .bind(offer_id.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((conversation_id, offered_to, outcome, expires_at)) = offer else {
            return Err(Error::not_found("offer"));
        };
        if offered_to != agent_id.0 {
            return Err(Error::forbidden("this offer was made to another agent"));
        }
        if let Some(outcome) = outcome {
            return Err(Error::conflict(format!(
                "the offer is no longer open ({outcome})"
            )));
        }
        if expires_at <= ms(now) {
            return Err(Error::conflict("the offer has expired"));
        }
        let updated = sqlx::query(
            "UPDATE conversations SET status = 'live', agent_id = ?1, last_activity_at = ?2 WHERE id = ?3 AND status = 'waiting'",
        )
        .bind(agent_id.0)
        .bind(ms(now))
        .bind(conversation_id)
        .execute(&mut *tx)
        .await;
        match updated {
            Ok(r) if r.rows_affected() == 1 => {}
            Ok(_) => {
                return Err(Error::conflict(
                    "the chat is no longer waiting for an agent",
                ));
            }
            Err(e) if is_limit_violation(&e) => {
                return Err(Error::client(
                    ErrorCode::LimitReached,
                    "you already have the maximum number of live chats",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        sqlx::query("UPDATE offers SET outcome = 'accepted', answered_at = ?1 WHERE id = ?2")
            .bind(ms(now))
            .bind(offer_id.0)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "SELECT id, visitor_id, agent_id, status, created_at FROM conversations WHERE id = ?1",
        )
        .bind(conversation_id)
        .fetch_one(&mut *tx)
        .await?;
        let visitor_id: i64 = row.try_get("visitor_id")?;
        sqlx::query(
            "INSERT INTO activities (visitor_id, kind, title, occurred_at, conversation_id) VALUES (?1, 'chat', ?2, ?3, ?4)",
        )
        .bind(visitor_id)
        .bind("Live chat")
        .bind(ms(now))
        .bind(conversation_id)
        .execute(&mut *tx)
        .await?;
        let conversation = conversation_from_row(&row)?;
        tx.commit().await?;
        Ok(conversation)
    }

    async fn close_offer(
        &self,
        offer_id: OfferId,
        outcome: OfferOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE offers SET outcome = ?1, answered_at = ?2 WHERE id = ?3 AND outcome IS NULL",
        )
        .bind(outcome.as_str())
        .bind(ms(now))
        .bind(offer_id.0)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn offer(&self, offer_id: OfferId) -> Result<OfferRow> {
        let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT conversation_id, agent_id, created_at, expires_at FROM offers WHERE id = ?1",
        )
        .bind(offer_id.0)
        .fetch_optional(&self.reader)
        .await?;
        let (c, a, created, expires) = row.ok_or_else(|| Error::not_found("offer"))?;
        Ok(OfferRow {
            id: offer_id,
            conversation_id: ConversationId(c),
            agent_id: AgentId(a),
            created_at: from_ms(created),
            expires_at: from_ms(expires),
        })
    }

    async fn offered_agents(
        &self,
        conversation_id: ConversationId,
        round: u32,
    ) -> Result<Vec<AgentId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT agent_id FROM offers WHERE conversation_id = ?1 AND round = ?2",
        )
        .bind(conversation_id.0)
        .bind(i64::from(round))
        .fetch_all(&self.reader)
        .await?;
        Ok(ids.into_iter().map(AgentId).collect())
    }

    async fn withdraw_all_open_offers(&self, now: DateTime<Utc>) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE offers SET outcome = 'withdrawn', answered_at = ?1 WHERE outcome IS NULL",
        )
        .bind(ms(now))
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected())
    }

    async fn add_activity(
        &self,
        visitor_id: VisitorId,
        kind: ActivityKind,
        title: &str,
        occurred_at: DateTime<Utc>,
        conversation_id: Option<ConversationId>,
    ) -> Result<ActivityId> {
        let r = sqlx::query(
            "INSERT INTO activities (visitor_id, kind, title, occurred_at, conversation_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(visitor_id.0)
        .bind(activity_kind_str(kind))
        .bind(title)
        .bind(ms(occurred_at))
        .bind(conversation_id.map(|c| c.0))
        .execute(&self.writer)
        .await?;
        Ok(ActivityId(r.last_insert_rowid()))
    }

    async fn activities(
        &self,
        visitor_id: VisitorId,
        since: DateTime<Utc>,
    ) -> Result<Vec<Activity>> {
        let rows = sqlx::query(
            "SELECT id, kind, title, occurred_at, conversation_id FROM activities \
             WHERE visitor_id = ?1 AND occurred_at >= ?2 ORDER BY occurred_at DESC, id DESC",
        )
        .bind(visitor_id.0)
        .bind(ms(since))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                Ok(Activity {
                    id: ActivityId(row.try_get("id")?),
                    kind: parse_activity_kind(&kind),
                    title: row.try_get("title")?,
                    occurred_at: from_ms(row.try_get("occurred_at")?),
                    conversation_id: row
                        .try_get::<Option<i64>, _>("conversation_id")?
                        .map(ConversationId),
                })
            })
            .collect()
    }

    async fn share_calendar(
        &self,
        conversation_id: ConversationId,
        calendar_agent_id: AgentId,
    ) -> Result<()> {
        sqlx::query("INSERT OR IGNORE INTO calendar_shares (conversation_id, calendar_agent_id) VALUES (?1, ?2)")
            .bind(conversation_id.0)
            .bind(calendar_agent_id.0)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn is_calendar_shared(
        &self,
        conversation_id: ConversationId,
        calendar_agent_id: AgentId,
    ) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM calendar_shares WHERE conversation_id = ?1 AND calendar_agent_id = ?2",
        )
        .bind(conversation_id.0)
        .bind(calendar_agent_id.0)
        .fetch_one(&self.reader)
        .await?;
        Ok(n > 0)
    }

    async fn bookings_between(
        &self,
        calendar_agent_id: AgentId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT start_at, end_at FROM bookings WHERE calendar_agent_id = ?1 AND end_at > ?2 AND start_at < ?3 ORDER BY start_at",
        )
        .bind(calendar_agent_id.0)
        .bind(ms(from))
        .bind(ms(to))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(s, e)| (from_ms(s), from_ms(e)))
            .collect())
    }

    async fn book(&self, b: NewBooking, now: DateTime<Utc>) -> Result<Booking> {
        let buffer_ms = i64::from(b.buffer_minutes.max(0)) * 60_000;
        let mut tx = self.writer.begin().await?;
        let clash: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM bookings WHERE calendar_agent_id = ?1 AND start_at < ?2 AND end_at > ?3",
        )
        .bind(b.calendar_agent_id.0)
        .bind(ms(b.end) + buffer_ms)
        .bind(ms(b.start) - buffer_ms)
        .fetch_one(&mut *tx)
        .await?;
        if clash > 0 {
            return Err(Error::conflict(
                "that slot has just been booked; pick another",
            ));
        }
        let inserted = sqlx::query(
            "INSERT INTO bookings (calendar_agent_id, visitor_id, conversation_id, start_at, end_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(b.calendar_agent_id.0)
        .bind(b.visitor_id.0)
        .bind(b.conversation_id.map(|c| c.0))
        .bind(ms(b.start))
        .bind(ms(b.end))
        .bind(ms(now))
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(r) => r.last_insert_rowid(),
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::conflict(
                    "that slot has just been booked; pick another",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let name: String = sqlx::query_scalar("SELECT name FROM agents WHERE id = ?1")
            .bind(b.calendar_agent_id.0)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO activities (visitor_id, kind, title, occurred_at, conversation_id) VALUES (?1, 'meeting_booked', ?2, ?3, ?4)",
        )
        .bind(b.visitor_id.0)
        .bind(format!("Meeting booked with {name} for {}", b.start.format("%Y-%m-%d %H:%M UTC")))
        .bind(ms(now))
        .bind(b.conversation_id.map(|c| c.0))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Booking {
            id: BookingId(id),
            calendar_agent_id: b.calendar_agent_id,
            calendar_agent_name: name,
            visitor_id: b.visitor_id,
            conversation_id: b.conversation_id,
            start: b.start,
            end: b.end,
        })
    }

    async fn import_conversation(&self, past: PastConversation) -> Result<ConversationId> {
        let mut tx = self.writer.begin().await?;
        let last = past
            .messages
            .last()
            .map(|(_, text, _)| text.chars().take(200).collect::<String>());
        let id = sqlx::query(
            "INSERT INTO conversations (visitor_id, agent_id, status, created_at, last_activity_at, last_message, ended_at, end_reason) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5, ?7)",
        )
        .bind(past.visitor_id.0)
        .bind(past.agent_id.map(|a| a.0))
        .bind(status_str(past.status))
        .bind(ms(past.created_at))
        .bind(ms(past.ended_at))
        .bind(last)
        .bind(past.end_reason.map(end_reason_str))
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        for (author, text, at) in &past.messages {
            let (role, agent) = match author {
                AuthorRef::Visitor => ("visitor", None),
                AuthorRef::Agent(a) => ("agent", Some(a.0)),
                AuthorRef::System => ("system", None),
            };
            let content = serde_json::to_string(&MessageContent::Text { text: text.clone() })
                .map_err(|e| Error::Internal(e.to_string()))?;
            sqlx::query(
                "INSERT INTO messages (conversation_id, author_role, agent_id, content_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .bind(id)
            .bind(role)
            .bind(agent)
            .bind(content)
            .bind(ms(*at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ConversationId(id))
    }

    async fn close(&self) {
        self.reader.close().await;
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await;
        self.writer.close().await;
    }
}
