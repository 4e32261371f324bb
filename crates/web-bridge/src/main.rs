//! `agent-inbox-web`: the Agent Inbox UI in a browser, signed in with the same engine,
//! keychain and preferences as the desktop app (see the crate docs for the HTTP surface).
//!
//! ```text
//! AGENT_INBOX_URL=http://127.0.0.1:8080 AGENT_INBOX_EMAIL=grace@example.com AGENT_INBOX_PASSWORD=demo1234 \
//!   agent-inbox-web --dist ui/dist          # prints the URL to open, e.g. chromium --app=URL
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use agent_core::notifier::{DesktopNotifier, NoNotifier, Notifier};
use agent_core::session::{self, Session};
use anyhow::Context;
use clap::Parser;
use web_bridge::Events;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Serves the Agent Inbox UI to a browser on 127.0.0.1, signed in like the desktop app"
)]
struct Args {
    /// Port on 127.0.0.1 (0: any free port). The bridge never listens beyond loopback.
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// The UI's web build (`cd ui && npm run build`).
    #[arg(long, default_value = "ui/dist")]
    dist: PathBuf,

    /// Raise no desktop notifications (offers then show only in the page).
    #[arg(long)]
    no_notifications: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("web_bridge=info,agent_core=info")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    anyhow::ensure!(
        args.dist.join("index.html").exists(),
        "{} has no index.html: build the UI first (cd ui && npm run build)",
        args.dist.display()
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .context("bind 127.0.0.1")?;
    let addr = listener.local_addr()?;

    let notifier: Arc<dyn Notifier> = if args.no_notifications {
        Arc::new(NoNotifier)
    } else {
        Arc::new(DesktopNotifier::new())
    };
    let events = Events::default();
    let forward = events.clone();
    let session = Arc::new(Session::new(
        session::default_preferences(),
        session::default_data_dir(),
        notifier,
        Box::new(move |core| forward.forward(core)),
        None,
    ));
    let router = web_bridge::router(session.clone(), events, args.dist, addr);

    // Sign in as the shell does at start (keychain, else the environment), then say where
    // to point the browser.
    session.sign_in_at_start().await;
    println!("agent-inbox-web listening on http://{addr}/");

    let stop = session.clone();
    web_bridge::run(listener, router, async {
        shutdown_signal().await;
    })
    .await?;
    stop.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
