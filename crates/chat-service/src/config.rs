//! Service configuration: command-line flags and `CHAT_SERVICE_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// How the service runs. Every flag can also be set through the environment.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "CHAT_SERVICE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// SQLite database file (created with its folder if missing).
    #[arg(long, env = "CHAT_SERVICE_DB", default_value = "agent-inbox.db")]
    pub db: PathBuf,

    /// Seed demo agents, visitors, histories and transcripts when the database is empty.
    #[arg(long, env = "CHAT_SERVICE_DEMO")]
    pub demo: bool,

    /// Seconds an agent has to accept an offer (R2).
    #[arg(long, env = "CHAT_SERVICE_OFFER_TIMEOUT_SECS", default_value_t = 45.0)]
    pub offer_timeout_secs: f64,

    /// Seconds without a message from either side after which a live chat ends (R2).
    #[arg(
        long,
        env = "CHAT_SERVICE_INACTIVITY_TIMEOUT_SECS",
        default_value_t = 600.0
    )]
    pub inactivity_timeout_secs: f64,

    /// Most live chats one agent may have at once (R2).
    #[arg(long, env = "CHAT_SERVICE_MAX_LIVE_CHATS", default_value_t = 10)]
    pub max_live_chats: u32,

    /// Origins allowed to open visitor sessions and sockets, comma separated. The service's
    /// own origin (where it serves the widget) is always allowed; `*` allows any.
    #[arg(long, env = "CHAT_SERVICE_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Lifetime of an agent's bearer token, in hours.
    #[arg(long, env = "CHAT_SERVICE_TOKEN_TTL_HOURS", default_value_t = 24 * 7)]
    pub token_ttl_hours: u32,

    /// Lifetime of a visitor token, in minutes.
    #[arg(
        long,
        env = "CHAT_SERVICE_VISITOR_TOKEN_TTL_MINUTES",
        default_value_t = 120
    )]
    pub visitor_token_ttl_minutes: u32,

    /// Heartbeat interval for both sockets, in seconds; a peer silent for three intervals is
    /// dropped.
    #[arg(long, env = "CHAT_SERVICE_HEARTBEAT_SECS", default_value_t = 15)]
    pub heartbeat_secs: u32,

    /// Events kept per agent for resuming after a reconnect; older resumes get a snapshot.
    #[arg(long, env = "CHAT_SERVICE_RESUME_BUFFER", default_value_t = 4096)]
    pub resume_buffer: usize,

    /// Messages a visitor may send per 10 seconds before being rate limited.
    #[arg(
        long,
        env = "CHAT_SERVICE_VISITOR_MESSAGES_PER_10S",
        default_value_t = 20
    )]
    pub visitor_messages_per_10s: u32,

    /// Use `synchronous=FULL` (survives power loss) instead of `NORMAL` (survives a killed
    /// process).
    #[arg(long, env = "CHAT_SERVICE_SYNC_FULL")]
    pub sync_full: bool,
}

impl Config {
    /// Defaults suitable for tests: a database at `db`, listening address from the caller.
    pub fn for_db(db: impl Into<PathBuf>) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            db: db.into(),
            demo: false,
            offer_timeout_secs: 45.0,
            inactivity_timeout_secs: 600.0,
            max_live_chats: 10,
            allowed_origins: Vec::new(),
            token_ttl_hours: 24 * 7,
            visitor_token_ttl_minutes: 120,
            heartbeat_secs: 15,
            resume_buffer: 4096,
            visitor_messages_per_10s: 20,
            sync_full: false,
        }
    }

    pub fn offer_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.offer_timeout_secs)
    }

    pub fn inactivity_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.inactivity_timeout_secs)
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(u64::from(self.heartbeat_secs.max(1)))
    }

    /// Checks values that clap cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.offer_timeout_secs.is_finite() && self.offer_timeout_secs > 0.0) {
            return Err("--offer-timeout-secs must be a positive number".into());
        }
        if !(self.inactivity_timeout_secs.is_finite() && self.inactivity_timeout_secs > 0.0) {
            return Err("--inactivity-timeout-secs must be a positive number".into());
        }
        if self.max_live_chats == 0 {
            return Err("--max-live-chats must be at least 1".into());
        }
        if self.resume_buffer == 0 {
            return Err("--resume-buffer must be at least 1".into());
        }
        if self.visitor_messages_per_10s == 0 {
            return Err("--visitor-messages-per-10s must be at least 1".into());
        }
        Ok(())
    }
}
