//! The SQLite implementation of [`Store`]: one file in WAL mode, migrations applied at open.
//!
//! All writes go through exactly one read-write connection, owned by the writer thread, so
//! write transactions are serialised by construction (`BEGIN IMMEDIATE`, never an
//! `SQLITE_BUSY` upgrade) and each runs with the invariants checked inside it. The writer
//! commits whatever writes are waiting as one transaction (group commit). Copying the WAL back
//! into the database (checkpointing) runs mostly on a thread of its own, so a checkpoint does
//! not hold up the writes behind it. Reads use a few read-only connections and run
//! concurrently thanks to WAL.
//!
//! Point reads run on the calling thread: they take tens of microseconds, far less than handing
//! each statement to a worker thread and back, which is what the store did before and what
//! bounded message throughput (benchmark P5). The critical sections never `.await`. Scans
//! whose cost grows with the data (conversation lists and search) run on the blocking pool
//! instead, so they never hold up a runtime worker.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, TryLockError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use protocol::rest::{ConversationPage, ConversationScope, MessagePage, Page};
use protocol::*;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Params, Row, TransactionBehavior, ffi, params,
};

use super::*;
use crate::error::{Error, Result};

/// Read-only connections kept open beside the writer.
const READERS: usize = 4;

/// The migrations in `migrations/`, embedded by `build.rs`: (version, description, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

pub struct SqliteStore {
    db: Arc<Db>,
}

/// A write waiting for the writer thread. It runs inside the batch's transaction (`None`
/// when the transaction could not begin) and returns whether it succeeded and how to hand
/// over its result once the batch's commit is known.
type Job = Box<dyn for<'c> FnOnce(Option<&'c Connection>) -> (bool, Deliver) + Send>;
type Deliver = Box<dyn FnOnce(std::result::Result<(), &rusqlite::Error>) + Send>;

/// Writes waiting beyond this many block their senders (back-pressure).
const WRITE_QUEUE: usize = 4096;
/// The most writes committed together.
const MAX_BATCH: usize = 256;
/// While writes go on, the checkpointer copies the WAL back into the database at most this
/// often. Each copy writes every page changed since the last one once, however many commits
/// changed it, so copying less often costs less: SQLite's own automatic checkpoint after every
/// 1,000 WAL frames ran about 20 times a second under benchmark P5, on the writer thread, and
/// took ~11% of the service's CPU.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// The checkpointer's passive copies cannot restart the WAL while the writer keeps appending
/// to it; beyond this many frames the writer checkpoints itself between two transactions
/// (most frames are copied already, so this is quick), and the WAL starts over from the top.
const WRITER_AUTOCHECKPOINT: i64 = 4000;

struct Db {
    /// `None` once closed.
    jobs: RwLock<Option<SyncSender<Job>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Vec<Mutex<Option<Connection>>>,
    next_reader: AtomicUsize,
}

fn closed() -> Error {
    Error::client(ErrorCode::ShuttingDown, "the service is shutting down")
}

/// A poisoned lock only means a panic elsewhere; the connection itself is still sound (an
/// open transaction was rolled back when its guard dropped).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The writer thread: owns the one read-write connection and commits whatever writes are
/// waiting as one transaction (group commit), each write inside its own savepoint so that a
/// failing one is rolled back alone. Results are handed over only after the commit, so an
/// acknowledged write is durable.
fn writer_loop(conn: Connection, jobs: Receiver<Job>, checkpointer: Option<Checkpointer>) {
    let (mut commits, mut writes) = (0u64, 0u64);
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commits += 1;
        writes += batch.len() as u64;
        run_batch(&conn, batch);
        if let Some(c) = &checkpointer {
            // Full means a wake-up is pending already.
            let _ = c.wake.try_send(());
        }
    }
    if let Some(c) = checkpointer {
        drop(c.wake);
        if c.thread.join().is_err() {
            tracing::error!("the checkpointer panicked");
        }
    }
    tracing::info!(commits, writes, "database writer stopped");
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(error = %e, "checkpoint at shutdown failed");
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the database failed");
    }
}

/// The checkpointer thread, woken by the writer after each commit.
struct Checkpointer {
    wake: SyncSender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Checkpointer {
    /// Starts the thread on its own connection; `None` (the writer then checkpoints alone, as
    /// SQLite does by default) when that connection cannot be had.
    fn start(path: &Path) -> Option<Self> {
        let started = (|| -> Result<Self> {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            configure(&conn)?;
            let (wake, woken) = std::sync::mpsc::sync_channel(1);
            let thread = std::thread::Builder::new()
                .name("sqlite-checkpoint".into())
                .spawn(move || checkpointer_loop(conn, woken))
                .map_err(|e| Error::Internal(format!("cannot start the checkpointer: {e}")))?;
            Ok(Checkpointer { wake, thread })
        })();
        started
            .inspect_err(
                |e| tracing::warn!(error = %e, "no checkpointer; the writer checkpoints alone"),
            )
            .ok()
    }
}

/// Copies the WAL into the database (a passive checkpoint: it never blocks the writer or the
/// readers) at most every [`CHECKPOINT_EVERY`] while commits keep coming, and once more after
/// the last one; ends when the writer drops its end of `woken`.
fn checkpointer_loop(conn: Connection, woken: Receiver<()>) {
    let mut last: Option<Instant> = None;
    while woken.recv().is_ok() {
        if let Some(wait) = last.map(|t| CHECKPOINT_EVERY.saturating_sub(t.elapsed())) {
            // Pacing, not synchronisation: commits during the wait are covered by this copy.
            std::thread::sleep(wait);
        }
        let _ = woken.try_recv();
        let copied = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        match copied {
            Ok((frames, done)) => tracing::trace!(frames, done, "checkpoint"),
            Err(e) => tracing::debug!(error = %e, "checkpoint deferred"),
        }
        last = Some(Instant::now());
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the checkpointer's connection failed");
    }
}

/// Runs a transaction-control statement from the statement cache: `execute_batch` would parse
/// it again for every write, and a batch runs four of them per write.
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_batch(conn: &Connection, batch: Vec<Job>) {
    if let Err(e) = control(conn, "BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "cannot begin a write transaction");
        for job in batch {
            let (_, deliver) = job(None);
            deliver(Ok(()));
        }
        return;
    }
    let mut delivers = Vec::with_capacity(batch.len());
    for job in batch {
        let savepoint = control(conn, "SAVEPOINT job");
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            job(savepoint.is_ok().then_some(conn))
        }));
        let ok = matches!(ran, Ok((true, _)));
        let undo = if ok {
            control(conn, "RELEASE job")
        } else {
            control(conn, "ROLLBACK TO job").and_then(|()| control(conn, "RELEASE job"))
        };
        if let Err(e) = undo {
            tracing::error!(error = %e, "savepoint failed");
        }
        // A write that panicked dropped its result sender: its caller sees an error.
        if let Ok((_, deliver)) = ran {
            delivers.push(deliver);
        }
    }
    match control(conn, "COMMIT") {
        Ok(()) => delivers.into_iter().for_each(|d| d(Ok(()))),
        Err(e) => {
            tracing::error!(error = %e, "commit failed; the batch is rolled back");
            let _ = control(conn, "ROLLBACK");
            delivers.into_iter().for_each(|d| d(Err(&e)));
        }
    }
}

impl Db {
    /// Runs `f` on the writer thread inside a transaction; its result once committed
    /// (an `Err` from `f` rolls back its own changes only).
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn: Option<&Connection>| {
            let out = match conn {
                Some(c) => f(c),
                None => Err(Error::Internal(
                    "the database could not start a write".into(),
                )),
            };
            let ok = out.is_ok();
            let deliver: Deliver = Box::new(move |commit| {
                let out = match commit {
                    Err(e) if ok => Err(Error::Internal(format!("commit failed: {e}"))),
                    _ => out,
                };
                let _ = done.send(out);
            });
            (ok, deliver)
        });
        let sender = self
            .jobs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(closed)?;
        sender.send(job).map_err(|_| closed())?;
        result
            .await
            .map_err(|_| Error::Internal("the write failed on the writer thread".into()))?
    }

    /// Runs `f` on a free read-only connection (waiting for one when all are busy).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            let guard = match self.readers[(start + i) % n].try_lock() {
                Ok(g) => g,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => continue,
            };
            return f(guard.as_ref().ok_or_else(closed)?);
        }
        let guard = lock(&self.readers[start % n]);
        f(guard.as_ref().ok_or_else(closed)?)
    }
}

/// One row of `sql`, mapped by `f`, or `None`.
fn one<T>(
    conn: &Connection,
    sql: &str,
    p: impl Params,
    f: impl FnOnce(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(p)?;
    match rows.next()? {
        Some(row) => Ok(Some(f(row)?)),
        None => Ok(None),
    }
}

/// Every row of `sql`, mapped by `f`.
fn all<T>(
    conn: &Connection,
    sql: &str,
    p: impl Params,
    mut f: impl FnMut(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(p)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(f(row)?);
    }
    Ok(out)
}

/// Runs a statement; the number of rows it changed.
fn exec(conn: &Connection, sql: &str, p: impl Params) -> Result<usize> {
    Ok(conn.prepare_cached(sql)?.execute(p)?)
}

/// Runs an `INSERT`; the new row's id.
fn insert(conn: &Connection, sql: &str, p: impl Params) -> rusqlite::Result<i64> {
    conn.prepare_cached(sql)?.execute(p)?;
    Ok(conn.last_insert_rowid())
}

fn scalar<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str, p: impl Params) -> Result<T> {
    Ok(conn.prepare_cached(sql)?.query_row(p, |r| r.get(0))?)
}

fn opt_scalar<T: rusqlite::types::FromSql>(
    conn: &Connection,
    sql: &str,
    p: impl Params,
) -> Result<Option<T>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row(p, |r| r.get(0))
        .optional()?)
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(e.to_string()))
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

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

fn is_limit_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(m)) if m.contains("live chat limit reached"))
}

fn agent_from_row(row: &Row<'_>) -> Result<AgentRecord> {
    let settings_json: String = row.get("settings_json")?;
    let settings: AgentSettings = serde_json::from_str(&settings_json)
        .map_err(|e| Error::Internal(format!("stored agent settings are unreadable: {e}")))?;
    let override_status: Option<String> = row.get("override_status")?;
    Ok(AgentRecord {
        profile: AgentProfile {
            id: AgentId(row.get("id")?),
            email: row.get("email")?,
            name: row.get("name")?,
        },
        password_hash: row.get("password_hash")?,
        settings,
        override_status: override_status.map(|s| {
            if s == "available" {
                AvailabilityStatus::Available
            } else {
                AvailabilityStatus::Unavailable
            }
        }),
        override_until: row.get::<_, Option<i64>>("override_until")?.map(from_ms),
        last_offer_at: from_ms(row.get("last_offer_at")?),
    })
}

fn conversation_from_row(row: &Row<'_>) -> Result<ConversationRow> {
    let status: String = row.get("status")?;
    Ok(ConversationRow {
        id: ConversationId(row.get("id")?),
        visitor_id: VisitorId(row.get("visitor_id")?),
        agent_id: row.get::<_, Option<i64>>("agent_id")?.map(AgentId),
        status: parse_status(&status),
        created_at: from_ms(row.get("created_at")?),
    })
}

const MESSAGE_SELECT: &str = "SELECT m.id, m.conversation_id, m.author_role, m.agent_id, a.name AS agent_name, \
     m.content_json, m.client_id, m.created_at FROM messages m LEFT JOIN agents a ON a.id = m.agent_id";

fn message_from_row(row: &Row<'_>) -> Result<Message> {
    let role: String = row.get("author_role")?;
    let author = match role.as_str() {
        "visitor" => Author::Visitor,
        "agent" => Author::Agent {
            agent_id: AgentId(row.get::<_, Option<i64>>("agent_id")?.unwrap_or_default()),
            name: row
                .get::<_, Option<String>>("agent_name")?
                .unwrap_or_default(),
        },
        _ => Author::System,
    };
    let content_json: String = row.get("content_json")?;
    let content: MessageContent = serde_json::from_str(&content_json)
        .map_err(|e| Error::Internal(format!("stored message is unreadable: {e}")))?;
    Ok(Message {
        id: MessageId(row.get("id")?),
        conversation_id: ConversationId(row.get("conversation_id")?),
        author,
        content,
        client_id: row.get("client_id")?,
        created_at: from_ms(row.get("created_at")?),
    })
}

const SUMMARY_SELECT: &str = "SELECT c.id, c.status, c.visitor_id, v.name AS v_name, v.job_title AS v_job_title, \
     v.email AS v_email, v.phone AS v_phone, v.crm_status AS v_crm_status, c.agent_id, a.name AS agent_name, \
     c.created_at, c.last_activity_at, c.last_message, c.ended_at, c.end_reason, \
     (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.author_role = 'visitor' \
        AND m.id > COALESCE((SELECT r.last_read_message_id FROM reads r \
                             WHERE r.agent_id = ?1 AND r.conversation_id = c.id), 0)) AS unread \
     FROM conversations c JOIN visitors v ON v.id = c.visitor_id LEFT JOIN agents a ON a.id = c.agent_id";

fn visitor_from_prefixed(row: &Row<'_>, id: i64, prefix: &str) -> Result<VisitorInfo> {
    let get = |col: &str| -> Result<Option<String>> {
        let v: Option<String> = row.get(format!("{prefix}{col}").as_str())?;
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

fn summary_from_row(row: &Row<'_>) -> Result<ConversationSummary> {
    let status: String = row.get("status")?;
    let visitor_id: i64 = row.get("visitor_id")?;
    let agent = match row.get::<_, Option<i64>>("agent_id")? {
        Some(id) => Some(AgentSummary {
            id: AgentId(id),
            name: row
                .get::<_, Option<String>>("agent_name")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    let unread: i64 = row.get("unread")?;
    Ok(ConversationSummary {
        id: ConversationId(row.get("id")?),
        status: parse_status(&status),
        visitor: visitor_from_prefixed(row, visitor_id, "v_")?,
        agent,
        created_at: from_ms(row.get("created_at")?),
        last_activity_at: from_ms(row.get("last_activity_at")?),
        last_message: row.get("last_message")?,
        unread: u32::try_from(unread).unwrap_or(u32::MAX),
        ended_at: row.get::<_, Option<i64>>("ended_at")?.map(from_ms),
        end_reason: row
            .get::<_, Option<String>>("end_reason")?
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

const CONVERSATION_COLUMNS: &str = "id, visitor_id, agent_id, status, created_at";

fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
           version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )?;
    // Databases created by earlier builds (sqlx) recorded their migrations in its table.
    let from_sqlx: i64 = scalar(
        conn,
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        [],
    )?;
    if from_sqlx > 0 {
        conn.execute(
            "INSERT OR IGNORE INTO schema_migrations (version, description, applied_at) \
             SELECT version, description, 0 FROM _sqlx_migrations WHERE success",
            [],
        )?;
    }
    for &(version, description, sql) in MIGRATIONS {
        let applied: i64 = scalar(
            conn,
            "SELECT count(*) FROM schema_migrations WHERE version = ?1",
            [version],
        )?;
        if applied > 0 {
            continue;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)
            .map_err(|e| Error::Migrate(format!("{version} {description}: {e}")))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)",
            params![version, description, ms(Utc::now())],
        )?;
        tx.commit()?;
    }
    Ok(())
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
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
        let path = path.to_owned();
        // Opening may wait on another process's lock; keep that off the runtime.
        tokio::task::spawn_blocking(move || Self::open_blocking(&path, sync_full, max_live_chats))
            .await
            .map_err(|e| Error::Internal(format!("opening the database: {e}")))?
    }

    fn open_blocking(path: &Path, sync_full: bool, max_live_chats: u32) -> Result<Self> {
        let mut writer = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&writer)?;
        let mode: String = writer.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Internal(format!(
                "{} cannot use WAL mode (got {mode})",
                path.display()
            )));
        }
        writer.pragma_update(
            None,
            "synchronous",
            if sync_full { "FULL" } else { "NORMAL" },
        )?;
        migrate(&mut writer)?;
        writer.execute(
            "INSERT INTO service_settings (key, value) VALUES ('max_live_chats', ?1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [max_live_chats.to_string()],
        )?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            configure(&r)?;
            readers.push(Mutex::new(Some(r)));
        }
        let checkpointer = Checkpointer::start(path);
        if checkpointer.is_some() {
            writer.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT)?;
        }
        let (jobs, queue) = std::sync::mpsc::sync_channel(WRITE_QUEUE);
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(writer, queue, checkpointer))
            .map_err(|e| Error::Internal(format!("cannot start the database writer: {e}")))?;
        Ok(SqliteStore {
            db: Arc::new(Db {
                jobs: RwLock::new(Some(jobs)),
                writer: Mutex::new(Some(thread)),
                readers,
                next_reader: AtomicUsize::new(0),
            }),
        })
    }

    /// Runs a read whose cost grows with the data on the blocking pool.
    async fn read_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.read(f))
            .await
            .map_err(|e| Error::Internal(format!("database read: {e}")))?
    }
}

fn message_by_id(conn: &Connection, id: i64) -> Result<Message> {
    one(
        conn,
        &format!("{MESSAGE_SELECT} WHERE m.id = ?1"),
        [id],
        message_from_row,
    )?
    .ok_or_else(|| Error::not_found("message"))
}

/// The visitor's chat that is still waiting or live, if any (the newest).
fn open_conversation_of(conn: &Connection, visitor: VisitorId) -> Result<Option<ConversationRow>> {
    one(
        conn,
        &format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations \
             WHERE visitor_id = ?1 AND status IN ('waiting', 'live') ORDER BY id DESC LIMIT 1"
        ),
        [visitor.0],
        conversation_from_row,
    )
}

/// A message about to be stored, serialised before it goes to the writer thread.
struct NewMessage {
    author: AuthorRef,
    content: MessageContent,
    content_json: String,
    client_id: Option<String>,
    now: DateTime<Utc>,
}

impl NewMessage {
    fn new(
        author: AuthorRef,
        content: &MessageContent,
        client_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        Ok(NewMessage {
            author,
            content_json: json(content)?,
            content: content.clone(),
            client_id: client_id.map(str::to_owned),
            now,
        })
    }
}

/// Stores a message inside the caller's write: once per client id (a retry gets the stored
/// message and `false`), touching the conversation's activity, and for an agent's message
/// their read mark.
fn store_message(
    tx: &Connection,
    conversation_id: ConversationId,
    new: NewMessage,
) -> Result<(Message, bool)> {
    let NewMessage {
        author,
        content,
        content_json,
        client_id,
        now,
    } = new;
    let (role, agent_id) = match author {
        AuthorRef::Visitor => ("visitor", None),
        AuthorRef::Agent(a) => ("agent", Some(a.0)),
        AuthorRef::System => ("system", None),
    };
    // A retry (same client id) is caught by the unique index the insert goes through anyway,
    // rather than by a lookup before every insert.
    let inserted = exec(
        tx,
        "INSERT INTO messages (conversation_id, author_role, agent_id, content_json, client_id, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (conversation_id, author_role, client_id) WHERE client_id IS NOT NULL DO NOTHING",
        params![
            conversation_id.0,
            role,
            agent_id,
            content_json,
            client_id,
            ms(now)
        ],
    )?;
    if inserted == 0 {
        let stored = one(
            tx,
            &format!(
                "{MESSAGE_SELECT} WHERE m.conversation_id = ?1 AND m.author_role = ?2 AND m.client_id = ?3"
            ),
            params![conversation_id.0, role, client_id],
            message_from_row,
        )?;
        return Ok((stored.ok_or_else(|| Error::not_found("message"))?, false));
    }
    let id = tx.last_insert_rowid();
    // Notices do not count as activity for the inactivity timeout.
    if !matches!(content, MessageContent::Notice { .. }) {
        exec(
            tx,
            "UPDATE conversations SET last_activity_at = ?1, last_message = ?2 WHERE id = ?3",
            params![ms(now), preview(&content), conversation_id.0],
        )?;
    }
    let author = match author {
        AuthorRef::Visitor => Author::Visitor,
        AuthorRef::System => Author::System,
        AuthorRef::Agent(agent) => {
            // An agent has read everything up to their own reply.
            exec(
                tx,
                "INSERT INTO reads (agent_id, conversation_id, last_read_message_id) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (agent_id, conversation_id) DO UPDATE SET last_read_message_id = \
                 max(last_read_message_id, excluded.last_read_message_id)",
                params![agent.0, conversation_id.0, id],
            )?;
            let name: Option<String> =
                opt_scalar(tx, "SELECT name FROM agents WHERE id = ?1", [agent.0])?;
            Author::Agent {
                agent_id: agent,
                name: name.ok_or_else(|| Error::not_found("agent"))?,
            }
        }
    };
    let message = Message {
        id: MessageId(id),
        conversation_id,
        author,
        content,
        client_id,
        created_at: from_ms(ms(now)),
    };
    Ok((message, true))
}

fn conversation_by_id(conn: &Connection, id: i64) -> Result<Option<ConversationRow>> {
    one(
        conn,
        &format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?1"),
        [id],
        conversation_from_row,
    )
}

const WITHDRAW_OFFERS: &str = "UPDATE offers SET outcome = 'withdrawn', answered_at = ?1 \
     WHERE conversation_id = ?2 AND outcome IS NULL";

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn create_agent(&self, agent: NewAgent) -> Result<AgentId> {
        let settings = json(&agent.settings)?;
        self.db
            .write(move |tx| {
                let res = insert(
                    tx,
                    "INSERT INTO agents (email, name, password_hash, settings_json, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        agent.email,
                        agent.name,
                        agent.password_hash,
                        settings,
                        ms(Utc::now())
                    ],
                );
                match res {
                    Ok(id) => Ok(AgentId(id)),
                    Err(e) if is_unique_violation(&e) => Err(Error::conflict(format!(
                        "an agent with email {} exists",
                        agent.email
                    ))),
                    Err(e) => Err(e.into()),
                }
            })
            .await
    }

    async fn agent(&self, id: AgentId) -> Result<AgentRecord> {
        self.db.read(|c| {
            one(
                c,
                "SELECT * FROM agents WHERE id = ?1",
                [id.0],
                agent_from_row,
            )?
            .ok_or_else(|| Error::not_found("agent"))
        })
    }

    async fn agent_by_email(&self, email: &str) -> Result<Option<AgentRecord>> {
        self.db.read(|c| {
            one(
                c,
                "SELECT * FROM agents WHERE email = ?1",
                [email.trim()],
                agent_from_row,
            )
        })
    }

    async fn agents(&self) -> Result<Vec<AgentRecord>> {
        self.db.read(|c| {
            all(
                c,
                "SELECT * FROM agents ORDER BY name, id",
                [],
                agent_from_row,
            )
        })
    }

    async fn agent_count(&self) -> Result<u64> {
        let n: i64 = self
            .db
            .read(|c| scalar(c, "SELECT count(*) FROM agents", []))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn update_settings(&self, id: AgentId, settings: &AgentSettings) -> Result<()> {
        let settings = json(settings)?;
        self.db
            .write(move |tx| {
                let n = exec(
                    tx,
                    "UPDATE agents SET settings_json = ?1 WHERE id = ?2",
                    params![settings, id.0],
                )?;
                if n == 0 {
                    return Err(Error::not_found("agent"));
                }
                Ok(())
            })
            .await
    }

    async fn set_override(
        &self,
        id: AgentId,
        status: Option<AvailabilityStatus>,
        until: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.db
            .write(move |tx| {
                exec(
                    tx,
                    "UPDATE agents SET override_status = ?1, override_until = ?2 WHERE id = ?3",
                    params![status.map(availability_str), until.map(ms), id.0],
                )?;
                Ok(())
            })
            .await
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
        let token_hash = token_hash.to_owned();
        self.db.write(move |tx| {
            exec(
                tx,
                "INSERT INTO auth_tokens (token_hash, agent_id, visitor_id, expires_at, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![token_hash, agent, visitor, ms(expires_at), ms(Utc::now())],
            )?;
            Ok(())
        })
        .await
    }

    async fn token_owner(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenOwner>> {
        let row = self.db.read(|c| {
            one(
                c,
                "SELECT agent_id, visitor_id FROM auth_tokens \
                 WHERE token_hash = ?1 AND revoked_at IS NULL AND expires_at > ?2",
                params![token_hash, ms(now)],
                |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)),
            )
        })?;
        Ok(match row {
            Some((Some(a), _)) => Some(TokenOwner::Agent(AgentId(a))),
            Some((None, Some(v))) => Some(TokenOwner::Visitor(VisitorId(v))),
            _ => None,
        })
    }

    async fn revoke_token(&self, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        let token_hash = token_hash.to_owned();
        self.db.write(move |tx| {
            exec(
                tx,
                "UPDATE auth_tokens SET revoked_at = ?1 WHERE token_hash = ?2 AND revoked_at IS NULL",
                params![ms(now), token_hash],
            )?;
            Ok(())
        })
        .await
    }

    async fn create_visitor(&self, v: VisitorInfo, now: DateTime<Utc>) -> Result<VisitorId> {
        self.db
            .write(move |tx| {
                Ok(VisitorId(insert(
                    tx,
                    "INSERT INTO visitors (name, job_title, email, phone, crm_status, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![v.name, v.job_title, v.email, v.phone, v.crm_status, ms(now)],
                )?))
            })
            .await
    }

    async fn visitor(&self, id: VisitorId) -> Result<VisitorInfo> {
        self.db.read(|c| {
            one(
                c,
                "SELECT name AS v_name, job_title AS v_job_title, email AS v_email, phone AS v_phone, \
                 crm_status AS v_crm_status FROM visitors WHERE id = ?1",
                [id.0],
                |r| visitor_from_prefixed(r, id.0, "v_"),
            )?
            .ok_or_else(|| Error::not_found("visitor"))
        })
    }

    async fn create_conversation(
        &self,
        visitor_id: VisitorId,
        status: ConversationStatus,
        now: DateTime<Utc>,
    ) -> Result<ConversationId> {
        self.db
            .write(move |tx| {
                Ok(ConversationId(insert(
                    tx,
                    "INSERT INTO conversations (visitor_id, status, created_at, last_activity_at) \
                 VALUES (?1, ?2, ?3, ?3)",
                    params![visitor_id.0, status_str(status), ms(now)],
                )?))
            })
            .await
    }

    async fn conversation(&self, id: ConversationId) -> Result<ConversationRow> {
        self.db
            .read(|c| conversation_by_id(c, id.0))?
            .ok_or_else(|| Error::not_found("conversation"))
    }

    async fn summary(
        &self,
        id: ConversationId,
        viewer: Option<AgentId>,
    ) -> Result<ConversationSummary> {
        self.db.read(|c| {
            one(
                c,
                &format!("{SUMMARY_SELECT} WHERE c.id = ?2"),
                params![viewer.map(|a| a.0).unwrap_or(0), id.0],
                summary_from_row,
            )?
            .ok_or_else(|| Error::not_found("conversation"))
        })
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
        let pattern = pattern.unwrap_or_default();
        let mut items = self
            .read_blocking(move |c| {
                // Every variant ends in `LIMIT ?5`, so all five parameters are bindable.
                all(
                    c,
                    &sql,
                    params![viewer.0, cur_ts, cur_id, pattern, i64::from(limit) + 1],
                    summary_from_row,
                )
            })
            .await?;
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
        self.db.read(|c| open_conversation_of(c, visitor_id))
    }

    async fn waiting_conversations(&self) -> Result<Vec<ConversationRow>> {
        self.db.read(|c| {
            all(
                c,
                &format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE status = 'waiting' ORDER BY id"
                ),
                [],
                conversation_from_row,
            )
        })
    }

    async fn live_counts(&self) -> Result<HashMap<AgentId, u32>> {
        let rows = self.db.read(|c| {
            all(
                c,
                "SELECT agent_id, count(*) FROM conversations WHERE status = 'live' GROUP BY agent_id",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
        })?;
        Ok(rows
            .into_iter()
            .map(|(id, n)| (AgentId(id), u32::try_from(n).unwrap_or(u32::MAX)))
            .collect())
    }

    async fn live_conversations_of(&self, agent_id: AgentId) -> Result<Vec<ConversationId>> {
        self.db.read(|c| {
            all(
                c,
                "SELECT id FROM conversations WHERE status = 'live' AND agent_id = ?1 \
                 ORDER BY last_activity_at DESC",
                [agent_id.0],
                |r| Ok(ConversationId(r.get(0)?)),
            )
        })
    }

    async fn end_conversation(
        &self,
        id: ConversationId,
        reason: EndReason,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationRow>> {
        self.db.write(move |tx| {
            // The row as it was before ending: callers need to know whether it was live.
            let row = one(
                tx,
                &format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM conversations \
                     WHERE id = ?1 AND status IN ('waiting', 'live')"
                ),
                [id.0],
                conversation_from_row,
            )?;
            if row.is_some() {
                exec(
                    tx,
                    "UPDATE conversations SET status = 'ended', ended_at = ?1, end_reason = ?2, \
                     last_activity_at = ?1 WHERE id = ?3",
                    params![ms(now), end_reason_str(reason), id.0],
                )?;
                exec(tx, WITHDRAW_OFFERS, params![ms(now), id.0])?;
            }
            Ok(row)
        })
        .await
    }

    async fn end_inactive(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ConversationRow>> {
        let rows = self.db.write(move |tx| {
            all(
                tx,
                &format!(
                    "UPDATE conversations SET status = 'ended', ended_at = ?1, end_reason = 'inactivity', \
                     last_activity_at = ?1 WHERE status = 'live' AND last_activity_at < ?2 \
                     RETURNING {CONVERSATION_COLUMNS}"
                ),
                params![ms(now), ms(before)],
                conversation_from_row,
            )
        })
        .await?;
        // Reported as they were before ending: live.
        Ok(rows
            .into_iter()
            .map(|c| ConversationRow {
                status: ConversationStatus::Live,
                ..c
            })
            .collect())
    }

    async fn leave_message(
        &self,
        visitor_id: VisitorId,
        text: &str,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(ConversationId, Message)> {
        let content_json = json(&MessageContent::Text {
            text: text.to_owned(),
        })?;
        let (text, client_id) = (text.to_owned(), client_id.to_owned());
        self.db.write(move |tx| {
            // A retried command returns what the first one stored.
            let existing = one(
                tx,
                "SELECT m.id, m.conversation_id FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE c.visitor_id = ?1 AND m.author_role = 'visitor' AND m.client_id = ?2",
                params![visitor_id.0, client_id],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )?;
            if let Some((mid, cid)) = existing {
                return Ok((ConversationId(cid), message_by_id(tx, mid)?));
            }
            let waiting: Option<i64> = opt_scalar(
                tx,
                "SELECT id FROM conversations WHERE visitor_id = ?1 AND status = 'waiting' \
                 ORDER BY id DESC LIMIT 1",
                [visitor_id.0],
            )?;
            let preview_text: String = text.chars().take(200).collect();
            let conversation_id = match waiting {
                Some(id) => {
                    exec(
                        tx,
                        "UPDATE conversations SET status = 'left_message', last_activity_at = ?1, \
                         last_message = ?2, ended_at = ?1 WHERE id = ?3",
                        params![ms(now), preview_text, id],
                    )?;
                    exec(tx, WITHDRAW_OFFERS, params![ms(now), id])?;
                    id
                }
                None => insert(
                    tx,
                    "INSERT INTO conversations (visitor_id, status, created_at, last_activity_at, last_message, ended_at) \
                     VALUES (?1, 'left_message', ?2, ?2, ?3, ?2)",
                    params![visitor_id.0, ms(now), preview_text],
                )?,
            };
            let mid = insert(
                tx,
                "INSERT INTO messages (conversation_id, author_role, content_json, client_id, created_at) \
                 VALUES (?1, 'visitor', ?2, ?3, ?4)",
                params![conversation_id, content_json, client_id, ms(now)],
            )?;
            exec(
                tx,
                "INSERT INTO activities (visitor_id, kind, title, occurred_at, conversation_id) \
                 VALUES (?1, 'message_left', ?2, ?3, ?4)",
                params![
                    visitor_id.0,
                    "Left a message while no agent was available",
                    ms(now),
                    conversation_id
                ],
            )?;
            Ok((ConversationId(conversation_id), message_by_id(tx, mid)?))
        })
        .await
    }

    async fn insert_message(
        &self,
        conversation_id: ConversationId,
        author: AuthorRef,
        content: &MessageContent,
        client_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(Message, bool)> {
        let new = NewMessage::new(author, content, client_id, now)?;
        self.db
            .write(move |tx| store_message(tx, conversation_id, new))
            .await
    }

    async fn post_message(
        &self,
        to: PostTo,
        content: &MessageContent,
        client_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(ConversationRow, Message, bool)> {
        let author = match to {
            PostTo::OwnLiveChat { agent, .. } => AuthorRef::Agent(agent),
            PostTo::OpenChatOf(_) => AuthorRef::Visitor,
        };
        let new = NewMessage::new(author, content, client_id, now)?;
        self.db
            .write(move |tx| {
                let row = match to {
                    PostTo::OwnLiveChat {
                        agent,
                        conversation,
                    } => {
                        let row = conversation_by_id(tx, conversation.0)?
                            .ok_or_else(|| Error::not_found("conversation"))?;
                        crate::chat::check_own_live(&row, agent)?;
                        row
                    }
                    PostTo::OpenChatOf(visitor) => open_conversation_of(tx, visitor)?
                        .ok_or_else(|| Error::conflict("no open chat; start a chat first"))?,
                };
                let (message, stored) = store_message(tx, row.id, new)?;
                Ok((row, message, stored))
            })
            .await
    }

    async fn messages(
        &self,
        id: ConversationId,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<MessagePage> {
        let limit = limit.clamp(1, 500);
        let mut items = self.db.read(|c| {
            all(
                c,
                &format!(
                    "{MESSAGE_SELECT} WHERE m.conversation_id = ?1 AND m.id < ?2 ORDER BY m.id DESC LIMIT ?3"
                ),
                params![
                    id.0,
                    before.map(|b| b.0).unwrap_or(i64::MAX),
                    i64::from(limit) + 1
                ],
                message_from_row,
            )
        })?;
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
        let c: Option<i64> = self.db.read(|c| {
            opt_scalar(
                c,
                "SELECT conversation_id FROM messages WHERE id = ?1",
                [id.0],
            )
        })?;
        Ok(c.map(ConversationId))
    }

    async fn first_visitor_text(&self, id: ConversationId) -> Result<Option<String>> {
        let json: Option<String> = self.db.read(|c| {
            opt_scalar(
                c,
                "SELECT content_json FROM messages WHERE conversation_id = ?1 AND author_role = 'visitor' \
                 ORDER BY id LIMIT 1",
                [id.0],
            )
        })?;
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
        self.db.write(move |tx| {
            exec(
                tx,
                "INSERT INTO reads (agent_id, conversation_id, last_read_message_id) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (agent_id, conversation_id) DO UPDATE SET last_read_message_id = \
                 max(last_read_message_id, excluded.last_read_message_id)",
                params![agent_id.0, id.0, message_id.0],
            )?;
            Ok(())
        })
        .await
    }

    async fn create_offer(
        &self,
        conversation_id: ConversationId,
        agent_id: AgentId,
        round: u32,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<OfferRow>> {
        self.db
            .write(move |tx| {
                let status: Option<String> = opt_scalar(
                    tx,
                    "SELECT status FROM conversations WHERE id = ?1",
                    [conversation_id.0],
                )?;
                if status.as_deref() != Some("waiting") {
                    return Ok(None);
                }
                let inserted = insert(
                    tx,
                    "INSERT INTO offers (conversation_id, agent_id, round, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        conversation_id.0,
                        agent_id.0,
                        i64::from(round),
                        ms(now),
                        ms(expires_at)
                    ],
                );
                let id = match inserted {
                    Ok(id) => id,
                    Err(e) if is_unique_violation(&e) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                exec(
                    tx,
                    "UPDATE agents SET last_offer_at = ?1 WHERE id = ?2",
                    params![ms(now), agent_id.0],
                )?;
                Ok(Some(OfferRow {
                    id: OfferId(id),
                    conversation_id,
                    agent_id,
                    created_at: from_ms(ms(now)),
                    expires_at: from_ms(ms(expires_at)),
                }))
            })
            .await
    }

    async fn accept_offer(
        &self,
        offer_id: OfferId,
        agent_id: AgentId,
        now: DateTime<Utc>,
    ) -> Result<ConversationRow> {
        self.db.write(move |tx| {
            let offer = one(
                tx,
                "SELECT conversation_id, agent_id, outcome, expires_at FROM offers WHERE id = ?1",
                [offer_id.0],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )?;
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
            let updated = tx
                .prepare_cached(
                    "UPDATE conversations SET status = 'live', agent_id = ?1, last_activity_at = ?2 \
                     WHERE id = ?3 AND status = 'waiting'",
                )?
                .execute(params![agent_id.0, ms(now), conversation_id]);
            match updated {
                Ok(1) => {}
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
            exec(
                tx,
                "UPDATE offers SET outcome = 'accepted', answered_at = ?1 WHERE id = ?2",
                params![ms(now), offer_id.0],
            )?;
            let conversation = conversation_by_id(tx, conversation_id)?
                .ok_or_else(|| Error::not_found("conversation"))?;
            exec(
                tx,
                "INSERT INTO activities (visitor_id, kind, title, occurred_at, conversation_id) \
                 VALUES (?1, 'chat', ?2, ?3, ?4)",
                params![
                    conversation.visitor_id.0,
                    "Live chat",
                    ms(now),
                    conversation_id
                ],
            )?;
            Ok(conversation)
        })
        .await
    }

    async fn close_offer(
        &self,
        offer_id: OfferId,
        outcome: OfferOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.db.write(move |tx| {
            let n = exec(
                tx,
                "UPDATE offers SET outcome = ?1, answered_at = ?2 WHERE id = ?3 AND outcome IS NULL",
                params![outcome.as_str(), ms(now), offer_id.0],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn offer(&self, offer_id: OfferId) -> Result<OfferRow> {
        self.db.read(|c| {
            one(
                c,
                "SELECT conversation_id, agent_id, created_at, expires_at FROM offers WHERE id = ?1",
                [offer_id.0],
                |r| {
                    Ok(OfferRow {
                        id: offer_id,
                        conversation_id: ConversationId(r.get(0)?),
                        agent_id: AgentId(r.get(1)?),
                        created_at: from_ms(r.get(2)?),
                        expires_at: from_ms(r.get(3)?),
                    })
                },
            )?
            .ok_or_else(|| Error::not_found("offer"))
        })
    }

    async fn offered_agents(
        &self,
        conversation_id: ConversationId,
        round: u32,
    ) -> Result<Vec<AgentId>> {
        self.db.read(|c| {
            all(
                c,
                "SELECT agent_id FROM offers WHERE conversation_id = ?1 AND round = ?2",
                params![conversation_id.0, i64::from(round)],
                |r| Ok(AgentId(r.get(0)?)),
            )
        })
    }

    async fn withdraw_all_open_offers(&self, now: DateTime<Utc>) -> Result<u64> {
        let n = self.db.write(move |tx| {
            exec(
                tx,
                "UPDATE offers SET outcome = 'withdrawn', answered_at = ?1 WHERE outcome IS NULL",
                [ms(now)],
            )
        })
        .await?;
        Ok(n as u64)
    }

    async fn add_activity(
        &self,
        visitor_id: VisitorId,
        kind: ActivityKind,
        title: &str,
        occurred_at: DateTime<Utc>,
        conversation_id: Option<ConversationId>,
    ) -> Result<ActivityId> {
        let title = title.to_owned();
        self.db.write(move |tx| {
            Ok(ActivityId(insert(
                tx,
                "INSERT INTO activities (visitor_id, kind, title, occurred_at, conversation_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    visitor_id.0,
                    activity_kind_str(kind),
                    title,
                    ms(occurred_at),
                    conversation_id.map(|c| c.0)
                ],
            )?))
        })
        .await
    }

    async fn activities(
        &self,
        visitor_id: VisitorId,
        since: DateTime<Utc>,
    ) -> Result<Vec<Activity>> {
        self.db.read(|c| {
            all(
                c,
                "SELECT id, kind, title, occurred_at, conversation_id FROM activities \
                 WHERE visitor_id = ?1 AND occurred_at >= ?2 ORDER BY occurred_at DESC, id DESC",
                params![visitor_id.0, ms(since)],
                |row| {
                    let kind: String = row.get("kind")?;
                    Ok(Activity {
                        id: ActivityId(row.get("id")?),
                        kind: parse_activity_kind(&kind),
                        title: row.get("title")?,
                        occurred_at: from_ms(row.get("occurred_at")?),
                        conversation_id: row
                            .get::<_, Option<i64>>("conversation_id")?
                            .map(ConversationId),
                    })
                },
            )
        })
    }

    async fn share_calendar(
        &self,
        conversation_id: ConversationId,
        calendar_agent_id: AgentId,
    ) -> Result<()> {
        self.db.write(move |tx| {
            exec(
                tx,
                "INSERT OR IGNORE INTO calendar_shares (conversation_id, calendar_agent_id) VALUES (?1, ?2)",
                params![conversation_id.0, calendar_agent_id.0],
            )?;
            Ok(())
        })
        .await
    }

    async fn is_calendar_shared(
        &self,
        conversation_id: ConversationId,
        calendar_agent_id: AgentId,
    ) -> Result<bool> {
        let n: i64 = self.db.read(|c| {
            scalar(
                c,
                "SELECT count(*) FROM calendar_shares WHERE conversation_id = ?1 AND calendar_agent_id = ?2",
                params![conversation_id.0, calendar_agent_id.0],
            )
        })?;
        Ok(n > 0)
    }

    async fn bookings_between(
        &self,
        calendar_agent_id: AgentId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
        self.db.read(|c| {
            all(
                c,
                "SELECT start_at, end_at FROM bookings WHERE calendar_agent_id = ?1 AND end_at > ?2 \
                 AND start_at < ?3 ORDER BY start_at",
                params![calendar_agent_id.0, ms(from), ms(to)],
                |r| Ok((from_ms(r.get(0)?), from_ms(r.get(1)?))),
            )
        })
    }

    async fn book(&self, b: NewBooking, now: DateTime<Utc>) -> Result<Booking> {
        let buffer_ms = i64::from(b.buffer_minutes.max(0)) * 60_000;
        let taken = || Error::conflict("that slot has just been booked; pick another");
        self.db.write(move |tx| {
            let clash: i64 = scalar(
                tx,
                "SELECT count(*) FROM bookings WHERE calendar_agent_id = ?1 AND start_at < ?2 AND end_at > ?3",
                params![
                    b.calendar_agent_id.0,
                    ms(b.end) + buffer_ms,
                    ms(b.start) - buffer_ms
                ],
            )?;
            if clash > 0 {
                return Err(taken());
            }
            let inserted = insert(
                tx,
                "INSERT INTO bookings (calendar_agent_id, visitor_id, conversation_id, start_at, end_at, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    b.calendar_agent_id.0,
                    b.visitor_id.0,
                    b.conversation_id.map(|c| c.0),
                    ms(b.start),
                    ms(b.end),
                    ms(now)
                ],
            );
            let id = match inserted {
                Ok(id) => id,
                Err(e) if is_unique_violation(&e) => return Err(taken()),
                Err(e) => return Err(e.into()),
            };
            let name: String = scalar(
                tx,
                "SELECT name FROM agents WHERE id = ?1",
                [b.calendar_agent_id.0],
            )?;
            exec(
                tx,
                "INSERT INTO activities (visitor_id, kind, title, occurred_at, conversation_id) \
                 VALUES (?1, 'meeting_booked', ?2, ?3, ?4)",
                params![
                    b.visitor_id.0,
                    format!(
                        "Meeting booked with {name} for {}",
                        b.start.format("%Y-%m-%d %H:%M UTC")
                    ),
                    ms(now),
                    b.conversation_id.map(|c| c.0)
                ],
            )?;
            Ok(Booking {
                id: BookingId(id),
                calendar_agent_id: b.calendar_agent_id,
                calendar_agent_name: name,
                visitor_id: b.visitor_id,
                conversation_id: b.conversation_id,
                start: b.start,
                end: b.end,
            })
        })
        .await
    }

    async fn import_conversation(&self, past: PastConversation) -> Result<ConversationId> {
        let last = past
            .messages
            .last()
            .map(|(_, text, _)| text.chars().take(200).collect::<String>());
        self.db.write(move |tx| {
            let id = insert(
                tx,
                "INSERT INTO conversations (visitor_id, agent_id, status, created_at, last_activity_at, \
                 last_message, ended_at, end_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5, ?7)",
                params![
                    past.visitor_id.0,
                    past.agent_id.map(|a| a.0),
                    status_str(past.status),
                    ms(past.created_at),
                    ms(past.ended_at),
                    last,
                    past.end_reason.map(end_reason_str)
                ],
            )?;
            for (author, text, at) in &past.messages {
                let (role, agent) = match author {
                    AuthorRef::Visitor => ("visitor", None),
                    AuthorRef::Agent(a) => ("agent", Some(a.0)),
                    AuthorRef::System => ("system", None),
                };
                let content = json(&MessageContent::Text { text: text.clone() })?;
                exec(
                    tx,
                    "INSERT INTO messages (conversation_id, author_role, agent_id, content_json, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, role, agent, content, ms(*at)],
                )?;
            }
            Ok(ConversationId(id))
        })
        .await
    }

    async fn close(&self) {
        let db = self.db.clone();
        // The writer finishes every queued write, checkpoints and closes the file.
        let _ = tokio::task::spawn_blocking(move || {
            db.jobs.write().unwrap_or_else(|p| p.into_inner()).take();
            for r in &db.readers {
                lock(r).take();
            }
            if let Some(thread) = lock(&db.writer).take()
                && thread.join().is_err()
            {
                tracing::error!("the database writer panicked");
            }
        })
        .await;
    }
}
