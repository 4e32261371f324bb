//! `bench`: the load generators behind `bench/run.sh` (issue 5). Each subcommand drives a
//! running chat service on loopback and prints one JSON object (its result) as the last line
//! of stdout; progress goes to stderr.
//!
//! - `connections` (P4): N idle sockets, half agents (a few logins, many sockets each), half
//!   visitors (one session each); then the service's VmRSS, PSS and open fds.
//! - `throughput` (P5): M visitors in live chats with a few agents; visitors send as fast as
//!   their acks allow, agents answer every message; delivered messages per second per core of
//!   service CPU, and send -> delivered latency.
//! - `routing` (P8): V visitors ask at once, a few agents accept every offer at once; offers per
//!   second and request -> offer time.
//!
//! Raw tokio-tungstenite sockets with small buffers (not [`sim::AgentClient`]) so that one
//! process can hold tens of thousands of them and read and write concurrently.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use protocol::PROTOCOL_VERSION;
use protocol::agent_ws::{AgentCommand, AgentEvent, AgentServerFrame};
use protocol::visitor_ws::{VisitorCommand, VisitorServerFrame};
use protocol::{Author, AvailabilityStatus, MessageContent};
use serde_json::json;
use sim::ApiClient;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Mutex, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

type Ws = WebSocketStream<TcpStream>;

#[derive(Parser)]
#[command(about = "Load generators for bench/run.sh (loopback only)")]
struct Cli {
    /// The chat service (must be on loopback).
    #[arg(long, global = true, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The service's process id, for CPU time, VmRSS and fds from /proc.
    #[arg(long, global = true)]
    pid: Option<u32>,
    /// Agent logins to use (the demo agents by default).
    #[arg(
        long = "agent",
        global = true,
        default_values_t = [
            "ada@example.com".to_string(),
            "grace@example.com".to_string(),
            "linus@example.com".to_string(),
            "margaret@example.com".to_string(),
        ]
    )]
    agents: Vec<String>,
    #[arg(long, global = true, default_value = "demo1234")]
    password: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// P4: hold N idle sockets (half agents, half visitors), then measure the service.
    Connections {
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Local source addresses 127.0.0.2 .. (each has its own ephemeral port range).
        #[arg(long, default_value_t = 4)]
        sources: u8,
        /// Sockets being opened at once.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Give up opening after this long.
        #[arg(long, default_value_t = 240)]
        timeout_secs: u64,
        /// Seconds to wait after the last socket opened before measuring.
        #[arg(long, default_value_t = 3)]
        settle_secs: u64,
        /// The pss-tree tool.
        #[arg(long)]
        pss_tree: Option<String>,
    },
    /// P5: visitors and agents chatting as fast as acks allow.
    Throughput {
        #[arg(long, default_value_t = 100)]
        visitors: usize,
        /// Exchanges each chat keeps going at once (visitor message, then the agent's answer).
        #[arg(long, default_value_t = 1)]
        window: usize,
        #[arg(long, default_value_t = 2)]
        warmup_secs: u64,
        #[arg(long, default_value_t = 10)]
        duration_secs: u64,
    },
    /// A bare tokio-tungstenite echo server on 127.0.0.1 (prints its port; exits after
    /// `max_secs`), the floor's stand-in for the service.
    EchoServer {
        #[arg(long, default_value_t = 600)]
        max_secs: u64,
    },
    /// The floor, measured side by side: `clients` ping-pong clients against `echo-server`
    /// (`--url`, `--pid`); messages per second per core of the server, round-trip times.
    Floor {
        #[arg(long, default_value_t = 100)]
        clients: usize,
        #[arg(long, default_value_t = 5)]
        duration_secs: u64,
    },
    /// P8: visitors asking at once; agents accept every offer at once.
    Routing {
        #[arg(long, default_value_t = 1000)]
        visitors: usize,
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let addr = loopback_addr(&cli.url)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        match &cli.command {
            Command::Connections {
                count,
                sources,
                concurrency,
                timeout_secs,
                settle_secs,
                pss_tree,
            } => {
                connections(
                    &cli,
                    addr,
                    *count,
                    *sources,
                    *concurrency,
                    Duration::from_secs(*timeout_secs),
                    Duration::from_secs(*settle_secs),
                    pss_tree.as_deref(),
                )
                .await
            }
            Command::Throughput {
                visitors,
                window,
                warmup_secs,
                duration_secs,
            } => {
                throughput(
                    &cli,
                    addr,
                    *visitors,
                    (*window).max(1),
                    Duration::from_secs(*warmup_secs),
                    Duration::from_secs(*duration_secs),
                )
                .await
            }
            Command::Floor {
                clients,
                duration_secs,
            } => floor(&cli, addr, *clients, Duration::from_secs(*duration_secs)).await,
            Command::EchoServer { max_secs } => echo_server(Duration::from_secs(*max_secs)).await,
            Command::Routing {
                visitors,
                timeout_secs,
            } => routing(&cli, addr, *visitors, Duration::from_secs(*timeout_secs)).await,
        }
    })?;
    println!("{result}");
    // Do not wait for thousands of socket tasks to wind down.
    rt.shutdown_timeout(Duration::from_millis(200));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Plumbing

/// The service's address; anything but loopback is refused.
fn loopback_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let parsed = reqwest::Url::parse(url).context("--url")?;
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow!("--url has no host"))?;
    let ip: IpAddr = if host == "localhost" {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.trim_matches(['[', ']'])
            .parse()
            .context("--url must name a loopback IP")?
    };
    if !ip.is_loopback() {
        bail!("refusing to benchmark {ip}: loopback only");
    }
    let port = parsed.port_or_known_default().unwrap_or(80);
    Ok(SocketAddr::new(ip, port))
}

fn ws_config() -> WebSocketConfig {
    // Small buffers so that the load generator's own memory stays small.
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// Opens a WebSocket to `path` from `source` (port chosen by the kernel).
async fn ws_connect(
    addr: SocketAddr,
    source: Option<Ipv4Addr>,
    base: &str,
    path: &str,
    header: Option<(&'static str, String)>,
) -> anyhow::Result<Ws> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(IpAddr::V4(ip), 0))?;
    }
    let stream = tokio::time::timeout(Duration::from_secs(20), socket.connect(addr))
        .await
        .map_err(|_| anyhow!("tcp connect timed out"))??;
    stream.set_nodelay(true)?;
    let url = format!(
        "{}{}",
        base.replace("http", "ws").trim_end_matches('/'),
        path
    );
    let mut request = url.as_str().into_client_request()?;
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(base.trim_end_matches('/'))?);
    if let Some((name, value)) = header {
        request
            .headers_mut()
            .insert(name, HeaderValue::from_str(&value)?);
    }
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(20),
        tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config())),
    )
    .await
    .map_err(|_| anyhow!("websocket upgrade timed out"))??;
    Ok(ws)
}

fn text<T: serde::Serialize>(frame: &T) -> WsMessage {
    WsMessage::Text(Utf8Bytes::from(
        serde_json::to_string(frame).unwrap_or_default(),
    ))
}

/// The next text frame decoded as `F`, skipping pings and pongs.
async fn next_frame<F: serde::de::DeserializeOwned>(
    ws: &mut Ws,
    timeout: Duration,
) -> anyhow::Result<F> {
    let deadline = Instant::now() + timeout;
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| anyhow!("timed out waiting for a frame"))?
            .ok_or_else(|| anyhow!("socket closed"))??;
        match message {
            WsMessage::Text(t) => return Ok(serde_json::from_str(t.as_str())?),
            WsMessage::Close(c) => bail!("socket closed: {c:?}"),
            _ => continue,
        }
    }
}

async fn agent_hello(ws: &mut Ws) -> anyhow::Result<()> {
    ws.send(text(&AgentCommand::Hello {
        protocol: PROTOCOL_VERSION,
        resume: None,
    }))
    .await?;
    match next_frame::<AgentServerFrame>(ws, Duration::from_secs(30)).await? {
        AgentServerFrame::Ready(_) => Ok(()),
        other => bail!("expected ready, got {other:?}"),
    }
}

async fn visitor_hello(ws: &mut Ws, token: &str) -> anyhow::Result<()> {
    ws.send(text(&VisitorCommand::Hello {
        protocol: PROTOCOL_VERSION,
        token: token.to_owned(),
    }))
    .await?;
    loop {
        match next_frame::<VisitorServerFrame>(ws, Duration::from_secs(30)).await? {
            VisitorServerFrame::Welcome { .. } => return Ok(()),
            VisitorServerFrame::Error { error, .. } => bail!("hello refused: {error:?}"),
            _ => continue,
        }
    }
}

async fn login_all(cli: &Cli) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::new();
    for email in &cli.agents {
        let mut api = ApiClient::new(&cli.url)?;
        let login = api
            .login(email, &cli.password)
            .await
            .with_context(|| format!("login {email}"))?;
        tokens.push(login.token);
    }
    Ok(tokens)
}

/// Visitor session tokens, `n` of them, `parallel` requests at a time.
async fn visitor_sessions(cli: &Cli, n: usize, parallel: usize) -> anyhow::Result<Vec<String>> {
    let api = ApiClient::new(&cli.url)?;
    let results: Vec<_> = futures_util::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move {
                api.visitor_session(Some(&format!("Bench visitor {i}")), None)
                    .await
                    .map(|s| s.token)
            }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    results
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("visitor session: {e}"))
}

/// utime + stime of a process, in seconds.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 14 (utime) is index 11 after the state field (field 3 is index 0).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

fn clock_ticks() -> f64 {
    std::env::var("CLK_TCK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100.0)
}

/// A `Vm*:` line of /proc/PID/status, in KiB.
fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn fd_count(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// PSS of the process and its descendants in KiB: the sum of pss-tree's per-process lines
/// (its total line is in MiB), or the process's own smaps_rollup without the tool.
fn pss_kib(tool: Option<&str>, pid: u32) -> Option<u64> {
    if let Some(tool) = tool {
        let out = std::process::Command::new(tool)
            .arg(pid.to_string())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let sum: u64 = text
            .lines()
            .filter_map(|l| {
                let rest = l.split("pss=").nth(1)?;
                rest.split_whitespace().next()?.parse::<u64>().ok()
            })
            .sum();
        return (sum > 0).then_some(sum);
    }
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    rollup
        .lines()
        .find(|l| l.starts_with("Pss:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Nearest-rank percentile of microsecond samples.
fn pct(sorted: &[u64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0)
}

fn summary_ms(mut samples: Vec<u64>) -> serde_json::Value {
    samples.sort_unstable();
    json!({
        "n": samples.len(),
        "p50_ms": pct(&samples, 50.0),
        "p90_ms": pct(&samples, 90.0),
        "p99_ms": pct(&samples, 99.0),
        "max_ms": samples.last().map(|v| *v as f64 / 1000.0),
    })
}

/// Microseconds since the Unix epoch; stamped into message texts, so both ends of a message
/// (in this one process) compute its latency.
fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn stamp_of(text: &str) -> Option<u64> {
    text.split_once(':')?.1.split(' ').next()?.parse().ok()
}

// ---------------------------------------------------------------------------------------
// P4: idle connections

#[allow(clippy::too_many_arguments)]
async fn connections(
    cli: &Cli,
    addr: SocketAddr,
    count: usize,
    sources: u8,
    concurrency: usize,
    timeout: Duration,
    settle: Duration,
    pss_tree: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    let pid = cli.pid.ok_or_else(|| anyhow!("--pid is required"))?;
    let agents = count / 2;
    let visitors = count - agents;
    let tokens = login_all(cli).await?;
    eprintln!("connections: creating {visitors} visitor sessions");
    let started = Instant::now();
    let visitor_tokens = visitor_sessions(cli, visitors, 32).await?;
    eprintln!(
        "connections: sessions in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let before_rss = status_kib(pid, "VmRSS:").unwrap_or(0);
    let before_pss = pss_kib(pss_tree, pid).unwrap_or(0);

    let open = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    let deadline = Instant::now() + timeout;
    let opening = Instant::now();
    for i in 0..count {
        let permit = tokio::time::timeout_at(deadline, gate.clone().acquire_owned()).await;
        let Ok(Ok(permit)) = permit else { break };
        let source = Ipv4Addr::new(127, 0, 0, 2 + (i % usize::from(sources.max(1))) as u8);
        let base = cli.url.clone();
        let is_agent = i % 2 == 0;
        let token = if is_agent {
            tokens[(i / 2) % tokens.len()].clone()
        } else {
            visitor_tokens[i / 2].clone()
        };
        let (open_c, failed_c, first_error) = (open.clone(), failed.clone(), first_error.clone());
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let (open, failed) = (open_c, failed_c);
            let result = async {
                if is_agent {
                    let mut ws = ws_connect(
                        addr,
                        Some(source),
                        &base,
                        "/api/v1/agent/ws",
                        Some(("authorization", format!("Bearer {token}"))),
                    )
                    .await?;
                    agent_hello(&mut ws).await?;
                    Ok::<_, anyhow::Error>(ws)
                } else {
                    let mut ws =
                        ws_connect(addr, Some(source), &base, "/api/v1/visitor/ws", None).await?;
                    visitor_hello(&mut ws, &token).await?;
                    Ok(ws)
                }
            }
            .await;
            drop(permit);
            let mut ws = match result {
                Ok(ws) => ws,
                Err(e) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    first_error.lock().await.get_or_insert(e.to_string());
                    return;
                }
            };
            open.fetch_add(1, Ordering::Relaxed);
            // Idle: read (answering the service's pings) until told to stop.
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    m = ws.next() => match m {
                        Some(Ok(_)) => {}
                        _ => { open.fetch_sub(1, Ordering::Relaxed); failed.fetch_add(1, Ordering::Relaxed); return; }
                    }
                }
            }
            // Leave without a close handshake: the process exits next.
            std::mem::forget(ws);
        });
        if i % 2000 == 1999 {
            eprintln!(
                "connections: {} open, {} failed",
                open.load(Ordering::Relaxed),
                failed.load(Ordering::Relaxed)
            );
        }
    }
    // Wait for the last ones to finish opening.
    while open.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < count
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let open_secs = opening.elapsed().as_secs_f64();
    tokio::time::sleep(settle).await;
    let established = open.load(Ordering::Relaxed);
    let rss = status_kib(pid, "VmRSS:").unwrap_or(0);
    let hwm = status_kib(pid, "VmHWM:").unwrap_or(0);
    let pss = pss_kib(pss_tree, pid).unwrap_or(0);
    let fds = fd_count(pid).unwrap_or(0);
    let threads = status_kib(pid, "Threads:").unwrap_or(0);
    let own_rss = status_kib(std::process::id(), "VmRSS:").unwrap_or(0);
    let _ = stop_tx.send(true);
    let gib = |kib: u64| kib as f64 / (1024.0 * 1024.0);
    let per_gib = |kib: u64| {
        if kib == 0 {
            None
        } else {
            Some(established as f64 / gib(kib))
        }
    };
    let marginal = |after: u64, before: u64| {
        if established == 0 {
            None
        } else {
            Some((after.saturating_sub(before) as f64 * 1024.0) / established as f64)
        }
    };
    Ok(json!({
        "bench": "connections",
        "target": count,
        "established": established,
        "failed": failed.load(Ordering::Relaxed),
        "first_error": first_error.lock().await.clone(),
        "agent_logins": tokens.len(),
        "open_secs": open_secs,
        "service_rss_kib_before": before_rss,
        "service_rss_kib": rss,
        "service_hwm_kib": hwm,
        "service_pss_kib_before": before_pss,
        "service_pss_kib": pss,
        "service_fds": fds,
        "service_threads": threads,
        "per_gib_rss": per_gib(rss),
        "per_gib_pss": per_gib(pss),
        "bytes_per_conn_rss": marginal(rss, before_rss),
        "bytes_per_conn_pss": marginal(pss, before_pss),
        "loadgen_rss_kib": own_rss,
    }))
}

// ---------------------------------------------------------------------------------------
// P5: throughput

#[derive(Default)]
struct Counters {
    /// Visitor -> agent messages received by agents in the measured window.
    to_agents: AtomicU64,
    /// Agent -> visitor messages received by visitors in the measured window.
    to_visitors: AtomicU64,
    visitor_sent: AtomicU64,
    errors: AtomicU64,
    offers: AtomicU64,
}

/// Where the run is: 0 setting up, 1 warming up, 2 measuring, 3 draining.
struct Phase {
    value: AtomicUsize,
}

impl Phase {
    fn get(&self) -> usize {
        self.value.load(Ordering::Relaxed)
    }
}

async fn agent_set_available(ws: &mut Ws) -> anyhow::Result<()> {
    ws.send(text(&AgentCommand::SetAvailability {
        id: "bench-available".into(),
        status: Some(AvailabilityStatus::Available),
    }))
    .await?;
    loop {
        match next_frame::<AgentServerFrame>(ws, Duration::from_secs(10)).await? {
            AgentServerFrame::Ack { id, .. } if id == "bench-available" => return Ok(()),
            AgentServerFrame::Error { error, .. } => bail!("set_availability: {error:?}"),
            _ => continue,
        }
    }
}

/// An agent that accepts every offer and, when `reply`, answers every visitor message with a
/// stamped message. Returns its latency samples (visitor -> agent, µs) from the measured phase.
async fn run_agent(
    mut ws: Ws,
    reply: bool,
    counters: Arc<Counters>,
    phase: Arc<Phase>,
    offers_at: Option<Arc<Mutex<HashMap<i64, Instant>>>>,
    mut stop: watch::Receiver<bool>,
) -> Vec<u64> {
    let mut samples = Vec::new();
    let mut n = 0u64;
    loop {
        let message = tokio::select! {
            _ = stop.changed() => break,
            m = ws.next() => m,
        };
        let Some(Ok(WsMessage::Text(t))) = message else {
            match message {
                Some(Ok(_)) => continue,
                _ => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        };
        let Ok(frame) = serde_json::from_str::<AgentServerFrame>(t.as_str()) else {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        match frame {
            AgentServerFrame::Event {
                event: AgentEvent::Offer { offer },
                ..
            } => {
                if let Some(map) = &offers_at {
                    map.lock()
                        .await
                        .insert(offer.conversation_id.0, Instant::now());
                }
                counters.offers.fetch_add(1, Ordering::Relaxed);
                n += 1;
                let accept = AgentCommand::Accept {
                    id: format!("acc-{n}-{}", offer.id.0),
                    offer_id: offer.id,
                };
                if ws.send(text(&accept)).await.is_err() {
                    break;
                }
            }
            AgentServerFrame::Event {
                event: AgentEvent::Message { message },
                ..
            } if matches!(message.author, Author::Visitor) => {
                let MessageContent::Text { text: body } = &message.content else {
                    continue;
                };
                if phase.get() == 2 {
                    counters.to_agents.fetch_add(1, Ordering::Relaxed);
                    if let Some(sent) = stamp_of(body) {
                        samples.push(now_us().saturating_sub(sent));
                    }
                }
                if reply && phase.get() <= 2 {
                    n += 1;
                    let answer = AgentCommand::SendMessage {
                        id: format!("a{n}"),
                        conversation_id: message.conversation_id,
                        text: format!("a:{} re {}", now_us(), message.id.0),
                    };
                    if ws.send(text(&answer)).await.is_err() {
                        break;
                    }
                }
            }
            AgentServerFrame::Error { .. } => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
    samples
}

async fn connect_agents(cli: &Cli, addr: SocketAddr) -> anyhow::Result<Vec<Ws>> {
    let tokens = login_all(cli).await?;
    let mut sockets = Vec::new();
    for token in tokens {
        let mut ws = ws_connect(
            addr,
            None,
            &cli.url,
            "/api/v1/agent/ws",
            Some(("authorization", format!("Bearer {token}"))),
        )
        .await?;
        agent_hello(&mut ws).await?;
        agent_set_available(&mut ws).await?;
        sockets.push(ws);
    }
    Ok(sockets)
}

/// A visitor with a session and a greeted socket.
async fn connect_visitor(addr: SocketAddr, base: &str, token: &str) -> anyhow::Result<Ws> {
    let mut ws = ws_connect(addr, None, base, "/api/v1/visitor/ws", None).await?;
    visitor_hello(&mut ws, token).await?;
    Ok(ws)
}

/// Sends start_chat; returns the conversation id (from the ack) once an agent joined.
async fn start_and_join(ws: &mut Ws, timeout: Duration) -> anyhow::Result<()> {
    ws.send(text(&VisitorCommand::StartChat {
        id: "start".into(),
        text: "s:0 hello".into(),
    }))
    .await?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_frame::<VisitorServerFrame>(ws, left).await? {
            VisitorServerFrame::AgentJoined { .. } => return Ok(()),
            VisitorServerFrame::Error { error, .. } => bail!("start_chat: {error:?}"),
            _ => continue,
        }
    }
}

async fn throughput(
    cli: &Cli,
    addr: SocketAddr,
    visitors: usize,
    window: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<serde_json::Value> {
    let pid = cli.pid.ok_or_else(|| anyhow!("--pid is required"))?;
    let counters = Arc::new(Counters::default());
    let phase = Arc::new(Phase {
        value: AtomicUsize::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let agent_sockets = connect_agents(cli, addr).await?;
    let n_agents = agent_sockets.len();
    let mut agents = JoinSet::new();
    for ws in agent_sockets {
        agents.spawn(run_agent(
            ws,
            true,
            counters.clone(),
            phase.clone(),
            None,
            stop_rx.clone(),
        ));
    }
    let tokens = visitor_sessions(cli, visitors, 16).await?;
    let joined = Arc::new(AtomicUsize::new(0));
    let (go_tx, go_rx) = watch::channel(false);
    let mut visitor_tasks = JoinSet::new();
    for token in tokens {
        let base = cli.url.clone();
        let (counters, phase, joined) = (counters.clone(), phase.clone(), joined.clone());
        let mut go = go_rx.clone();
        let mut stop = stop_rx.clone();
        visitor_tasks.spawn(async move {
            let mut samples = Vec::new();
            let mut ws = match connect_visitor(addr, &base, &token).await {
                Ok(ws) => ws,
                Err(e) => return Err(e),
            };
            start_and_join(&mut ws, Duration::from_secs(60)).await?;
            joined.fetch_add(1, Ordering::Relaxed);
            let _ = go.wait_for(|g| *g).await;
            // Ping-pong: each of `window` exchanges sends the next message when the agent's
            // answer to the previous one arrives. Acks are counted, not waited for.
            let mut n = 0u64;
            let mut owed = window;
            loop {
                while owed > 0 && phase.get() <= 2 {
                    n += 1;
                    let frame = VisitorCommand::SendMessage {
                        id: format!("v{n}"),
                        text: format!("v:{} #{n}", now_us()),
                    };
                    ws.send(text(&frame)).await?;
                    owed -= 1;
                    if phase.get() == 2 {
                        counters.visitor_sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let message = tokio::select! {
                    _ = stop.changed() => break,
                    m = ws.next() => m,
                };
                let Some(Ok(WsMessage::Text(t))) = message else {
                    match message {
                        Some(Ok(_)) => continue,
                        _ => bail!("visitor socket closed"),
                    }
                };
                match serde_json::from_str::<VisitorServerFrame>(t.as_str())? {
                    VisitorServerFrame::Ack { .. } => {}
                    VisitorServerFrame::Error { error, .. } => {
                        // A refused message gets no answer: send another instead.
                        owed += 1;
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                        if counters.errors.load(Ordering::Relaxed) < 5 {
                            eprintln!("throughput: visitor error {error:?}");
                        }
                    }
                    VisitorServerFrame::Message { message }
                        if matches!(message.author, Author::Agent { .. }) =>
                    {
                        owed += 1;
                        if phase.get() == 2 {
                            counters.to_visitors.fetch_add(1, Ordering::Relaxed);
                            if let MessageContent::Text { text } = &message.content
                                && let Some(sent) = stamp_of(text)
                            {
                                samples.push(now_us().saturating_sub(sent));
                            }
                        }
                    }
                    VisitorServerFrame::ChatEnded { .. } => bail!("chat ended during the run"),
                    _ => {}
                }
            }
            Ok::<_, anyhow::Error>(samples)
        });
    }
    let setup_deadline = Instant::now() + Duration::from_secs(120);
    while joined.load(Ordering::Relaxed) < visitors && Instant::now() < setup_deadline {
        if visitor_tasks.len() < visitors - joined.load(Ordering::Relaxed) {
            // Some visitor task failed before joining.
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let live = joined.load(Ordering::Relaxed);
    if live == 0 {
        bail!("no visitor got an agent");
    }
    eprintln!("throughput: {live} live chats with {n_agents} agents; warming up");
    phase.value.store(1, Ordering::Relaxed);
    let _ = go_tx.send(true);
    tokio::time::sleep(warmup).await;
    let cpu0 = cpu_secs(pid).unwrap_or(0.0);
    let own0 = cpu_secs(std::process::id()).unwrap_or(0.0);
    let t0 = Instant::now();
    phase.value.store(2, Ordering::Relaxed);
    tokio::time::sleep(duration).await;
    phase.value.store(3, Ordering::Relaxed);
    let wall = t0.elapsed().as_secs_f64();
    let cpu1 = cpu_secs(pid).unwrap_or(0.0);
    let own1 = cpu_secs(std::process::id()).unwrap_or(0.0);
    // Let messages in flight arrive (they count only if they arrived in the window anyway).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop_tx.send(true);
    let mut to_agent_lat = Vec::new();
    while let Some(r) = agents.join_next().await {
        to_agent_lat.extend(r.unwrap_or_default());
    }
    let mut to_visitor_lat = Vec::new();
    let mut visitor_failures = 0usize;
    let mut first_failure = None;
    while let Some(r) = visitor_tasks.join_next().await {
        match r {
            Ok(Ok(s)) => to_visitor_lat.extend(s),
            Ok(Err(e)) => {
                visitor_failures += 1;
                first_failure.get_or_insert(e.to_string());
            }
            Err(e) => {
                visitor_failures += 1;
                first_failure.get_or_insert(e.to_string());
            }
        }
    }
    let to_agents = counters.to_agents.load(Ordering::Relaxed);
    let to_visitors = counters.to_visitors.load(Ordering::Relaxed);
    let delivered = to_agents + to_visitors;
    let rate = delivered as f64 / wall;
    let cores = (cpu1 - cpu0) / wall;
    let mut all = to_agent_lat.clone();
    all.extend(&to_visitor_lat);
    Ok(json!({
        "bench": "throughput",
        "visitors": visitors,
        "live_chats": live,
        "agents": n_agents,
        "window": window,
        "seconds": wall,
        "delivered": delivered,
        "delivered_per_sec": rate,
        "visitor_to_agent_per_sec": to_agents as f64 / wall,
        "agent_to_visitor_per_sec": to_visitors as f64 / wall,
        "service_cores": cores,
        "delivered_per_sec_per_core": if cores > 0.0 { Some(rate / cores) } else { None },
        "loadgen_cores": (own1 - own0) / wall,
        "latency": summary_ms(all),
        "latency_visitor_to_agent": summary_ms(to_agent_lat),
        "latency_agent_to_visitor": summary_ms(to_visitor_lat),
        "errors": counters.errors.load(Ordering::Relaxed),
        "visitor_failures": visitor_failures,
        "first_failure": first_failure,
    }))
}

// ---------------------------------------------------------------------------------------
// P8: routing under a burst of requests

async fn routing(
    cli: &Cli,
    addr: SocketAddr,
    visitors: usize,
    timeout: Duration,
) -> anyhow::Result<serde_json::Value> {
    let pid = cli.pid;
    let counters = Arc::new(Counters::default());
    let phase = Arc::new(Phase {
        value: AtomicUsize::new(2),
    });
    let offers_at: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let agent_sockets = connect_agents(cli, addr).await?;
    let n_agents = agent_sockets.len();
    let mut agents = JoinSet::new();
    for ws in agent_sockets {
        agents.spawn(run_agent(
            ws,
            false,
            counters.clone(),
            phase.clone(),
            Some(offers_at.clone()),
            stop_rx.clone(),
        ));
    }
    let tokens = visitor_sessions(cli, visitors, 16).await?;
    eprintln!("routing: {visitors} sessions; connecting");
    let mut sockets = Vec::new();
    {
        let results: Vec<_> = futures_util::stream::iter(tokens)
            .map(|token| {
                let base = cli.url.clone();
                async move { connect_visitor(addr, &base, &token).await }
            })
            .buffer_unordered(64)
            .collect()
            .await;
        for r in results {
            sockets.push(r?);
        }
    }
    let (go_tx, go_rx) = watch::channel(false);
    let ready = Arc::new(AtomicUsize::new(0));
    let any_failed = Arc::new(AtomicBool::new(false));
    let mut tasks = JoinSet::new();
    for mut ws in sockets {
        let mut go = go_rx.clone();
        let ready = ready.clone();
        let any_failed = any_failed.clone();
        tasks.spawn(async move {
            ready.fetch_add(1, Ordering::Relaxed);
            let _ = go.wait_for(|g| *g).await;
            let sent = Instant::now();
            let result = async {
                ws.send(text(&VisitorCommand::StartChat {
                    id: "start".into(),
                    text: "s:0 I need help".into(),
                }))
                .await?;
                let deadline = sent + timeout;
                let mut conversation = None;
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match next_frame::<VisitorServerFrame>(&mut ws, left).await? {
                        VisitorServerFrame::Ack { message, .. } => {
                            conversation = message.map(|m| m.conversation_id.0).or(conversation);
                        }
                        VisitorServerFrame::Queued {
                            conversation_id, ..
                        } => conversation = Some(conversation_id.0),
                        VisitorServerFrame::AgentJoined {
                            conversation_id, ..
                        } => return Ok((conversation_id.0, sent, Instant::now())),
                        VisitorServerFrame::Error { error, .. } => {
                            bail!("start_chat: {error:?}")
                        }
                        _ => {}
                    }
                }
            }
            .await;
            if result.is_err() {
                any_failed.store(true, Ordering::Relaxed);
            }
            // Keep the socket open until the end: closing would end the chat.
            (result, ws)
        });
    }
    while ready.load(Ordering::Relaxed) < visitors {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cpu0 = pid.and_then(cpu_secs).unwrap_or(0.0);
    let t0 = Instant::now();
    let _ = go_tx.send(true);
    let mut results = Vec::new();
    let mut failures = 0usize;
    let mut first_failure = None;
    let mut held = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok((Ok(x), ws)) => {
                results.push(x);
                held.push(ws);
            }
            Ok((Err(e), ws)) => {
                failures += 1;
                first_failure.get_or_insert(e.to_string());
                held.push(ws);
            }
            Err(e) => {
                failures += 1;
                first_failure.get_or_insert(e.to_string());
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu1 = pid.and_then(cpu_secs).unwrap_or(0.0);
    let offers = offers_at.lock().await.clone();
    let _ = stop_tx.send(true);
    let mut to_offer = Vec::new();
    let mut to_join = Vec::new();
    let mut first_offer: Option<Instant> = None;
    let mut last_offer: Option<Instant> = None;
    for (conversation, sent, joined) in &results {
        to_join.push(joined.duration_since(*sent).as_micros() as u64);
        if let Some(at) = offers.get(conversation) {
            to_offer.push(at.saturating_duration_since(*sent).as_micros() as u64);
            first_offer = Some(first_offer.map_or(*at, |f| f.min(*at)));
            last_offer = Some(last_offer.map_or(*at, |l| l.max(*at)));
        }
    }
    let span = last_offer.map(|l| l.duration_since(t0).as_secs_f64());
    let n_offers = to_offer.len();
    drop(held);
    Ok(json!({
        "bench": "routing",
        "visitors": visitors,
        "agents": n_agents,
        "joined": results.len(),
        "failures": failures,
        "first_failure": first_failure,
        "offers": n_offers,
        "offers_total_received": counters.offers.load(Ordering::Relaxed),
        "seconds_to_last_offer": span,
        "offers_per_sec": span.filter(|s| *s > 0.0).map(|s| n_offers as f64 / s),
        "request_to_offer": summary_ms(to_offer),
        "request_to_joined": summary_ms(to_join),
        "seconds": wall,
        "service_cpu_secs": cpu1 - cpu0,
        "errors": counters.errors.load(Ordering::Relaxed),
    }))
}

// ---------------------------------------------------------------------------------------
// The floor: bare WebSocket ping-pong on loopback

async fn echo_server(max: Duration) -> anyhow::Result<serde_json::Value> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?.port());
    let serve = async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let Ok(mut ws) =
                    tokio_tungstenite::accept_async_with_config(stream, Some(ws_config())).await
                else {
                    return;
                };
                while let Some(Ok(m)) = ws.next().await {
                    if m.is_text() && ws.send(m).await.is_err() {
                        break;
                    }
                }
            });
        }
    };
    let _ = tokio::time::timeout(max, serve).await;
    Ok(json!({"bench": "echo-server"}))
}

async fn floor(
    cli: &Cli,
    addr: SocketAddr,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<serde_json::Value> {
    let server = cli
        .pid
        .ok_or_else(|| anyhow!("--pid (of echo-server) is required"))?;
    let base = cli.url.clone();
    let (stop_tx, stop_rx) = watch::channel(false);
    let measuring = Arc::new(AtomicBool::new(false));
    let mut tasks = JoinSet::new();
    for _ in 0..clients {
        let base = base.clone();
        let mut stop = stop_rx.clone();
        let measuring = measuring.clone();
        tasks.spawn(async move {
            let mut ws = ws_connect(addr, None, &base, "/", None).await?;
            // About the size of a chat message frame.
            let body = format!(
                "{{\"type\":\"send_message\",\"id\":\"v1\",\"text\":\"{}\"}}",
                "x".repeat(120)
            );
            let mut samples = Vec::new();
            loop {
                let sent = Instant::now();
                ws.send(WsMessage::text(body.clone())).await?;
                tokio::select! {
                    _ = stop.changed() => break,
                    m = ws.next() => match m {
                        Some(Ok(_)) => {
                            if measuring.load(Ordering::Relaxed) {
                                samples.push(sent.elapsed().as_micros() as u64);
                            }
                        }
                        _ => bail!("echo socket closed"),
                    }
                }
            }
            Ok::<_, anyhow::Error>(samples)
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu0 = cpu_secs(server).unwrap_or(0.0);
    let t0 = Instant::now();
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(duration).await;
    measuring.store(false, Ordering::Relaxed);
    let wall = t0.elapsed().as_secs_f64();
    let cpu1 = cpu_secs(server).unwrap_or(0.0);
    let _ = stop_tx.send(true);
    let mut rtt = Vec::new();
    while let Some(r) = tasks.join_next().await {
        if let Ok(Ok(s)) = r {
            rtt.extend(s);
        }
    }
    let round_trips = rtt.len() as f64;
    let cores = (cpu1 - cpu0) / wall;
    // Each round trip delivers two messages (the ping and its echo).
    let msgs = 2.0 * round_trips / wall;
    Ok(json!({
        "bench": "floor",
        "clients": clients,
        "seconds": wall,
        "round_trips_per_sec": round_trips / wall,
        "messages_per_sec": msgs,
        "cores": cores,
        "messages_per_sec_per_core": if cores > 0.0 { Some(msgs / cores) } else { None },
        "rtt": summary_ms(rtt),
    }))
}
