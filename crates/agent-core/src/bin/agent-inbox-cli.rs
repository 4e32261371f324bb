//! `agent-inbox-cli`: the client engine without a window, for scripting, benchmarks, and
//! exercising the core.
//!
//! The token is kept in the OS keychain after `login` (never in a file). For scripts without a
//! keychain, `AGENT_INBOX_TOKEN` can carry it instead.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agent_core::config::{ConfigFile, Preferences};
use agent_core::credentials::Credentials;
use agent_core::notifier::{NoNotifier, Notifier};
use agent_core::{AgentCore, ApiClient, ConnectionStatus, CoreEvent, CoreOptions, ServiceUrl};
use anyhow::{Context, anyhow, bail};
use clap::{Parser, Subcommand, ValueEnum};
use protocol::rest::ConversationScope;
use protocol::{AvailabilityStatus, ConversationId, OfferId};

#[derive(Parser)]
#[command(
    name = "agent-inbox-cli",
    version,
    about = "Agent Inbox from the command line"
)]
struct Cli {
    /// Chat service URL (default: the one remembered at login).
    #[arg(long, env = "AGENT_INBOX_URL", global = true)]
    url: Option<String>,
    /// Agent email (default: the one remembered at login).
    #[arg(long, env = "AGENT_INBOX_EMAIL", global = true)]
    email: Option<String>,
    /// Raise desktop notifications for offers and messages while connected.
    #[arg(long, global = true)]
    notify: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Log in and keep the token in the OS keychain. The password comes from
    /// AGENT_INBOX_PASSWORD or standard input.
    Login {
        /// Print the token instead of storing it (for AGENT_INBOX_TOKEN in scripts).
        #[arg(long)]
        print_token: bool,
    },
    /// Revoke the token on the service and delete it from the keychain.
    Logout,
    /// Connect, print the connection, availability, live chats and open offers.
    Status,
    /// Print events as they happen (one JSON object per line).
    Watch {
        /// Stop after this many seconds.
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// Accept an offer: the given one, or the next one to arrive.
    Accept {
        #[arg(long)]
        offer: Option<i64>,
        /// How long to wait for an offer.
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Decline an offer: the given one, or the next one to arrive.
    Decline {
        #[arg(long)]
        offer: Option<i64>,
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Send a message in a live chat (delivered once the service acknowledges it).
    Send { conversation: i64, text: String },
    /// Set availability: available, unavailable, or back to the schedule.
    Availability { status: Toggle },
    /// List conversations.
    Conversations {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Print or save a conversation's transcript.
    Transcript {
        conversation: i64,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Toggle {
    Available,
    Unavailable,
    Schedule,
}

struct Session {
    url: ServiceUrl,
    email: String,
    token: String,
    api: ApiClient,
}

fn prefs_file() -> anyhow::Result<ConfigFile> {
    Ok(ConfigFile::default_location()?)
}

fn target(cli: &Cli) -> anyhow::Result<(ServiceUrl, String, Preferences)> {
    let prefs = prefs_file()?.load().unwrap_or_default();
    let url = cli
        .url
        .clone()
        .or_else(|| prefs.service_url.clone())
        .ok_or_else(|| anyhow!("no service URL: pass --url (it is remembered after login)"))?;
    let email = cli
        .email
        .clone()
        .or_else(|| prefs.email.clone())
        .ok_or_else(|| anyhow!("no email: pass --email (it is remembered after login)"))?;
    Ok((ServiceUrl::parse(&url)?, email, prefs))
}

async fn session(cli: &Cli) -> anyhow::Result<Session> {
    let (url, email, _) = target(cli)?;
    let token = match std::env::var("AGENT_INBOX_TOKEN") {
        Ok(t) if !t.is_empty() => t,
        _ => {
            let (u, e) = (url.to_string(), email.clone());
            tokio::task::spawn_blocking(move || Credentials::new().load(&u, &e))
                .await??
                .ok_or_else(|| {
                    anyhow!("not logged in as {email} at {url}: run `agent-inbox-cli login`")
                })?
        }
    };
    let api = ApiClient::new(url.clone())?.with_token(token.clone());
    Ok(Session {
        url,
        email,
        token,
        api,
    })
}

fn outbox_path(url: &ServiceUrl, email: &str) -> Option<PathBuf> {
    let base = std::env::var_os("AGENT_INBOX_DATA_DIR")
        .map(PathBuf::from)
        .or_else(dirs::data_local_dir)?;
    let key: String = format!("{url}-{email}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Some(base.join("agent-inbox").join(format!("outbox-{key}.json")))
}

async fn engine(cli: &Cli, s: &Session) -> anyhow::Result<AgentCore> {
    let mut options = CoreOptions::new(s.url.clone(), s.token.clone());
    options.outbox_path = outbox_path(&s.url, &s.email);
    let notifier: Arc<dyn Notifier> = if cli.notify {
        Arc::new(agent_core::notifier::DesktopNotifier::new())
    } else {
        Arc::new(NoNotifier)
    };
    let core = AgentCore::start(options, notifier)?;
    let state = core
        .wait_for(Duration::from_secs(30), |s| {
            !matches!(
                s.connection,
                ConnectionStatus::Connecting
                    | ConnectionStatus::Reconnecting { attempt: 0..=2, .. }
            )
        })
        .await?;
    match &state.connection {
        ConnectionStatus::Connected => Ok(core),
        ConnectionStatus::SignedOut { reason } => {
            bail!("signed out: {reason}; run `agent-inbox-cli login`")
        }
        ConnectionStatus::Reconnecting { last_error, .. } => bail!("cannot connect: {last_error}"),
        other => bail!("cannot connect: {other:?}"),
    }
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

async fn next_offer(core: &AgentCore, given: Option<i64>, wait: u64) -> anyhow::Result<OfferId> {
    if let Some(id) = given {
        return Ok(OfferId(id));
    }
    let state = core
        .wait_for(Duration::from_secs(wait), |s| {
            s.offers.iter().any(|o| !o.answering)
        })
        .await
        .context("no offer arrived")?;
    state
        .offers
        .first()
        .map(|o| o.offer.id)
        .ok_or_else(|| anyhow!("no offer"))
}

fn event_json(ev: &CoreEvent) -> String {
    json(ev)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Login { print_token } => {
            let (url, email, mut prefs) = target(&cli)?;
            let password = match std::env::var("AGENT_INBOX_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut p = String::new();
                    std::io::stdin()
                        .read_to_string(&mut p)
                        .context("reading the password from standard input")?;
                    p.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let (_, res) = ApiClient::new(url.clone())?
                .login(&email, &password)
                .await?;
            if *print_token {
                println!("{}", res.token);
            } else {
                let (u, e, t) = (url.to_string(), email.clone(), res.token.clone());
                tokio::task::spawn_blocking(move || Credentials::new().save(&u, &e, &t)).await??;
                println!(
                    "logged in as {} ({}) at {url}; token kept in the keychain",
                    res.agent.name, res.agent.email
                );
            }
            prefs.service_url = Some(url.to_string());
            prefs.email = Some(email);
            prefs_file()?.save(&prefs)?;
        }
        Command::Logout => {
            let s = session(&cli).await?;
            let revoked = s.api.logout().await;
            let (u, e) = (s.url.to_string(), s.email.clone());
            tokio::task::spawn_blocking(move || Credentials::new().delete(&u, &e)).await??;
            revoked?;
            println!("logged out; token revoked and removed from the keychain");
        }
        Command::Status => {
            let s = session(&cli).await?;
            let core = engine(&cli, &s).await?;
            let state = core.state();
            println!("{}", json(&*state));
            core.stop().await;
        }
        Command::Watch { seconds } => {
            let s = session(&cli).await?;
            let core = engine(&cli, &s).await?;
            let mut events = core.events();
            println!("{}", json(&*core.state()));
            let deadline = seconds.map(|n| tokio::time::Instant::now() + Duration::from_secs(n));
            loop {
                let next = async {
                    match deadline {
                        Some(d) => tokio::time::timeout_at(d, events.recv()).await.ok(),
                        None => Some(events.recv().await),
                    }
                };
                tokio::select! {
                    ev = next => match ev {
                        None => break,
                        Some(Ok(ev)) => println!("{}", event_json(&ev)),
                        Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => eprintln!("skipped {n} events"),
                        Some(Err(_)) => break,
                    },
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
            core.stop().await;
        }
        Command::Accept { offer, wait } | Command::Decline { offer, wait } => {
            let s = session(&cli).await?;
            let core = engine(&cli, &s).await?;
            let id = next_offer(&core, *offer, *wait).await?;
            let result = if matches!(cli.command, Command::Accept { .. }) {
                core.accept(id).await
            } else {
                core.decline(id).await
            };
            core.stop().await;
            result?;
            println!(
                "{} offer {id}",
                if matches!(cli.command, Command::Accept { .. }) {
                    "accepted"
                } else {
                    "declined"
                }
            );
        }
        Command::Send { conversation, text } => {
            let s = session(&cli).await?;
            let core = engine(&cli, &s).await?;
            let id = core.send_message(ConversationId(*conversation), text).await;
            let delivered = core
                .wait_for(Duration::from_secs(30), |s| s.outbox_len == 0)
                .await;
            core.stop().await;
            let id = id?;
            delivered.context(
                "not acknowledged yet; it stays in the outbox and goes out on the next connection",
            )?;
            println!("sent ({id})");
        }
        Command::Availability { status } => {
            let s = session(&cli).await?;
            let status = match status {
                Toggle::Available => Some(AvailabilityStatus::Available),
                Toggle::Unavailable => Some(AvailabilityStatus::Unavailable),
                Toggle::Schedule => None,
            };
            let availability = s.api.set_availability(status).await?;
            println!("{}", json(&availability));
        }
        Command::Conversations { all, search, limit } => {
            let s = session(&cli).await?;
            let scope = if *all {
                ConversationScope::All
            } else {
                ConversationScope::Active
            };
            let page = s
                .api
                .conversations(scope, search.as_deref(), None, Some(*limit))
                .await?;
            for c in &page.items {
                println!("{}", json(c));
            }
        }
        Command::Transcript { conversation, out } => {
            let s = session(&cli).await?;
            let id = ConversationId(*conversation);
            match out {
                Some(path) => {
                    s.api.export_transcript(id, path).await?;
                    println!("saved to {}", path.display());
                }
                None => print!("{}", s.api.transcript(id).await?),
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("agent_core=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("agent-inbox-cli: {e:#}");
        std::process::exit(1);
    }
}
