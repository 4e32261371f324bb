//! `chat-service`: flags and environment in, the service out.

use anyhow::Context;
use chat_service::Config;
use clap::Parser;
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(name = "chat-service", version, about = "Agent Inbox chat service")]
struct Cli {
    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("chat_service=info,tower_http=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = cli.config;
    config.validate().map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    println!("chat-service listening on http://{addr}");
    println!("  visitor widget: http://{addr}/widget");
    println!("  API document:   http://{addr}/api/v1/openapi.json");
    println!("  database:       {}", config.db.display());
    if config.demo {
        println!("  demo agents (password {}):", chat_service::demo::PASSWORD);
        for (email, name, note) in chat_service::demo::AGENTS_FOR_PRINT {
            println!("    {email:<24} {name:<20} {note}");
        }
    }
    let shutdown = async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    chat_service::run(listener, config, shutdown)
        .await
        .context("chat service failed")?;
    Ok(())
}
