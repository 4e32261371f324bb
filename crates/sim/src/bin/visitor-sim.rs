//! `visitor-sim`: many simulated website visitors chatting with a running chat service, for
//! the demo and for benchmarks. Prints a summary (chats, joins, messages, ack latency).
//!
//! ```text
//! visitor-sim --url http://127.0.0.1:8080 --visitors 50 --messages 5 --interval-ms 2000
//! visitor-sim --url http://127.0.0.1:8080 --agent ada@example.com:secret --visitors 20
//! ```

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use sim::{AgentLogin, SimConfig};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Simulates website visitors chatting with an Agent Inbox chat service"
)]
struct Args {
    /// The chat service's base URL.
    #[arg(long, env = "AGENT_INBOX_URL", default_value = "http://127.0.0.1:8080")]
    url: String,

    /// How many visitors chat at once.
    #[arg(long, default_value_t = 10)]
    visitors: usize,

    /// Messages each visitor sends after its first question.
    #[arg(long, default_value_t = 5)]
    messages: usize,

    /// Milliseconds between a visitor's messages.
    #[arg(long, default_value_t = 2000)]
    interval_ms: u64,

    /// Visitors start evenly spread over this many milliseconds.
    #[arg(long, default_value_t = 1000)]
    ramp_ms: u64,

    /// End every chat after this many seconds.
    #[arg(long)]
    duration_secs: Option<u64>,

    /// Seconds a visitor waits for an agent to join.
    #[arg(long, default_value_t = 60)]
    join_timeout_secs: u64,

    /// Leave a message when no agent is available instead of waiting.
    #[arg(long)]
    leave_when_unavailable: bool,

    /// Also play this agent (EMAIL:PASSWORD): accept every offer, answer every message.
    /// Repeat for several agents.
    #[arg(long = "agent", value_name = "EMAIL:PASSWORD")]
    agents: Vec<AgentLogin>,

    /// Seed for generated names, emails and texts.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Exit with status 1 when any error was counted.
    #[arg(long)]
    strict: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.interval_ms == 0 {
        bail!("--interval-ms must be at least 1");
    }
    if args.duration_secs == Some(0) {
        bail!("--duration-secs must be at least 1");
    }
    let config = SimConfig {
        base_url: args.url.clone(),
        visitors: args.visitors,
        messages_per_visitor: args.messages,
        interval: Duration::from_millis(args.interval_ms),
        ramp: Duration::from_millis(args.ramp_ms),
        leave_when_unavailable: args.leave_when_unavailable,
        duration: args.duration_secs.map(Duration::from_secs),
        join_timeout: Duration::from_secs(args.join_timeout_secs),
        agents: args.agents,
        seed: args.seed,
    };
    let report = sim::run(config)
        .await
        .with_context(|| format!("simulating visitors against {}", args.url))?;
    print!("{report}");
    if args.strict && report.error_count > 0 {
        std::process::exit(1);
    }
    Ok(())
}
