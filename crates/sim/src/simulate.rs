//! The visitor simulator: many visitors chatting at once against a running service, for the
//! demo and for benchmarks. Optionally it also plays agents that accept every offer and answer
//! every visitor message, so a benchmark needs no human.
//!
//! Each visitor opens a session (a generated name and email, either sometimes missing), asks
//! a plausible website question, waits for an agent (or is queued, and may leave a message),
//! then sends its messages one `interval` apart; when an agent wrote since its last message the
//! next one is a reply and comes sooner (half an interval). It records every ack latency
//! (send -> ack), gives the agent one more interval to answer the last message, and ends the
//! chat.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use protocol::agent_ws::{AgentEvent, AgentServerFrame};
use protocol::visitor_ws::VisitorServerFrame;
use protocol::{Author, AvailabilityStatus, ConversationId};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::agent::AgentClient;
use crate::error::{Error, Result};
use crate::http::{ApiClient, BaseUrl};
use crate::visitor::VisitorClient;

/// An agent account the simulator signs in as (it accepts offers and replies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLogin {
    pub email: String,
    pub password: String,
}

impl std::str::FromStr for AgentLogin {
    type Err = String;

    /// `email:password`
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((email, password)) if !email.is_empty() && !password.is_empty() => {
                Ok(AgentLogin {
                    email: email.to_owned(),
                    password: password.to_owned(),
                })
            }
            _ => Err(format!("expected EMAIL:PASSWORD, got {s:?}")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The service, such as `http://127.0.0.1:8080`.
    pub base_url: String,
    /// How many visitors chat at once.
    pub visitors: usize,
    /// Messages each visitor sends after the first one.
    pub messages_per_visitor: usize,
    /// Time between a visitor's messages.
    pub interval: Duration,
    /// Visitors start evenly spread over this time.
    pub ramp: Duration,
    /// Leave a message when queued with no agent available (or when no agent joins in time)
    /// instead of waiting or giving up.
    pub leave_when_unavailable: bool,
    /// Stop every chat after this long, sent messages or not.
    pub duration: Option<Duration>,
    /// How long a visitor waits for an agent to join.
    pub join_timeout: Duration,
    /// Agents to play (accept every offer, reply to every visitor message).
    pub agents: Vec<AgentLogin>,
    /// Seed for names, emails and texts, so runs are repeatable.
    pub seed: u64,
}

impl SimConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            visitors: 10,
            messages_per_visitor: 5,
            interval: Duration::from_secs(2),
            ramp: Duration::from_secs(1),
            leave_when_unavailable: false,
            duration: None,
            join_timeout: Duration::from_secs(60),
            agents: Vec::new(),
            seed: 1,
        }
    }
}

/// Most error descriptions a report keeps (all are counted).
pub const MAX_REPORTED_ERRORS: usize = 20;

/// What a run did. Counts are over all visitors (and simulated agents).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimReport {
    pub visitors: usize,
    pub sessions_opened: usize,
    pub chats_started: usize,
    /// Chats that were told they are queued at least once.
    pub queued: usize,
    pub joined: usize,
    pub left_messages: usize,
    /// Visitor messages sent after the first question (replies included).
    pub messages_sent: usize,
    /// Of `messages_sent`, those acknowledged.
    pub messages_acked: usize,
    /// Of `messages_sent`, those sent in reply to an agent message.
    pub replies_sent: usize,
    /// Agent-written messages the visitors received.
    pub agent_messages_received: usize,
    pub chats_ended_by_visitor: usize,
    /// Chats the service ended (agent, inactivity, ...).
    pub chats_ended_by_service: usize,
    /// Visitors who gave up waiting for an agent.
    pub gave_up_waiting: usize,
    pub agents_connected: usize,
    pub offers_received: usize,
    pub offers_accepted: usize,
    pub agent_messages_sent: usize,
    /// Agent answers refused because the visitor had ended the chat meanwhile.
    pub agent_late_replies: usize,
    /// Visitor `send_message` -> ack, one per acked message.
    pub ack_latencies: Vec<Duration>,
    /// Visitor `start_chat` -> ack, one per chat started (this includes routing).
    pub start_latencies: Vec<Duration>,
    /// Chat start -> `agent_joined`.
    pub join_latencies: Vec<Duration>,
    pub error_count: usize,
    /// The first [`MAX_REPORTED_ERRORS`] errors.
    pub errors: Vec<String>,
    pub elapsed: Duration,
}

/// The `p`th percentile (0 < p <= 100) by nearest rank, or `None` without samples.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let p = p.clamp(0.0, 100.0);
    // Nearest rank: the smallest value with at least p% of the samples at or below it.
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    let index = rank.clamp(1, n) - 1;
    sorted.get(index).copied()
}

impl SimReport {
    pub fn ack_p50(&self) -> Option<Duration> {
        percentile(&self.ack_latencies, 50.0)
    }

    pub fn ack_p99(&self) -> Option<Duration> {
        percentile(&self.ack_latencies, 99.0)
    }

    pub fn join_p50(&self) -> Option<Duration> {
        percentile(&self.join_latencies, 50.0)
    }

    pub fn join_p99(&self) -> Option<Duration> {
        percentile(&self.join_latencies, 99.0)
    }

    pub fn record_error(&mut self, context: &str, error: impl fmt::Display) {
        self.error_count += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(format!("{context}: {error}"));
        }
    }

    /// Adds another partial report's counts, samples and errors (not its `visitors` or
    /// `elapsed`, which describe the whole run).
    pub fn merge(&mut self, other: SimReport) {
        self.sessions_opened += other.sessions_opened;
        self.chats_started += other.chats_started;
        self.queued += other.queued;
        self.joined += other.joined;
        self.left_messages += other.left_messages;
        self.messages_sent += other.messages_sent;
        self.messages_acked += other.messages_acked;
        self.replies_sent += other.replies_sent;
        self.agent_messages_received += other.agent_messages_received;
        self.chats_ended_by_visitor += other.chats_ended_by_visitor;
        self.chats_ended_by_service += other.chats_ended_by_service;
        self.gave_up_waiting += other.gave_up_waiting;
        self.agents_connected += other.agents_connected;
        self.offers_received += other.offers_received;
        self.offers_accepted += other.offers_accepted;
        self.agent_messages_sent += other.agent_messages_sent;
        self.agent_late_replies += other.agent_late_replies;
        self.ack_latencies.extend(other.ack_latencies);
        self.start_latencies.extend(other.start_latencies);
        self.join_latencies.extend(other.join_latencies);
        self.error_count += other.error_count;
        for error in other.errors {
            if self.errors.len() < MAX_REPORTED_ERRORS {
                self.errors.push(error);
            }
        }
    }
}

fn ms(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!("{:.1}ms", d.as_secs_f64() * 1000.0),
        None => "-".to_owned(),
    }
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "visitor-sim: {} visitors in {:.1}s",
            self.visitors,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(f, "  sessions opened       {}", self.sessions_opened)?;
        writeln!(
            f,
            "  chats started         {} (start_chat ack p50 {}, p99 {})",
            self.chats_started,
            ms(percentile(&self.start_latencies, 50.0)),
            ms(percentile(&self.start_latencies, 99.0))
        )?;
        writeln!(f, "  queued                {}", self.queued)?;
        writeln!(
            f,
            "  agent joined          {} (join p50 {}, p99 {})",
            self.joined,
            ms(self.join_p50()),
            ms(self.join_p99())
        )?;
        writeln!(f, "  left a message        {}", self.left_messages)?;
        writeln!(f, "  gave up waiting       {}", self.gave_up_waiting)?;
        writeln!(
            f,
            "  messages sent         {} ({} replies), acked {}",
            self.messages_sent, self.replies_sent, self.messages_acked
        )?;
        writeln!(
            f,
            "  ack latency           p50 {}, p99 {} over {} samples",
            ms(self.ack_p50()),
            ms(self.ack_p99()),
            self.ack_latencies.len()
        )?;
        writeln!(
            f,
            "  agent messages seen   {}",
            self.agent_messages_received
        )?;
        writeln!(
            f,
            "  chats ended           {} by visitors, {} by the service",
            self.chats_ended_by_visitor, self.chats_ended_by_service
        )?;
        if self.agents_connected > 0 {
            writeln!(
                f,
                "  simulated agents      {} connected, {} offers, {} accepted, {} messages ({} too late)",
                self.agents_connected,
                self.offers_received,
                self.offers_accepted,
                self.agent_messages_sent,
                self.agent_late_replies
            )?;
        }
        writeln!(f, "  errors                {}", self.error_count)?;
        for error in &self.errors {
            writeln!(f, "    {error}")?;
        }
        Ok(())
    }
}

const FIRST_NAMES: &[&str] = &[
    "Amelia", "Noah", "Sofia", "Liam", "Mia", "Lucas", "Hana", "Mateo", "Aisha", "Oliver", "Chloé",
    "Kenji", "Priya", "Jonas", "Zoë", "Tomás", "Ingrid", "Yusuf", "Ava", "Björn",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "García",
    "Müller",
    "Okafor",
    "Tanaka",
    "Rossi",
    "Nowak",
    "Johansson",
    "Dubois",
    "Patel",
    "O'Brien",
    "Kowalski",
    "Silva",
    "Nguyen",
    "Fischer",
    "Cohen",
];

const EMAIL_DOMAINS: &[&str] = &["example.com", "example.org", "example.net"];

const FIRST_QUESTIONS: &[&str] = &[
    "Hi! Do you offer a free trial?",
    "Hello, what's the difference between the Team and Business plans?",
    "Can I change my plan later, or am I locked in for a year?",
    "Do you integrate with Salesforce?",
    "Is there a discount for non-profits?",
    "I was charged twice this month, can someone help?",
    "How long does onboarding usually take for a team of 20?",
    "Can I get a demo of the reporting features?",
    "Where are your servers located? We need data to stay in the EU.",
    "Do you have an API for exporting contacts?",
    "I forgot which email I signed up with. Can you look it up?",
    "Is SSO included in the standard plan?",
    "What happens to my data if I cancel?",
    "Hi, I'd like to talk to someone about an enterprise contract.",
    "Does the mobile app work offline?",
    "Can I import my history from Zendesk?",
];

const FOLLOW_UPS: &[&str] = &[
    "Thanks. And how is billing handled, monthly or yearly?",
    "OK. Is there a limit on the number of users?",
    "Got it. Could you send me a link to the documentation?",
    "And what about support hours, are you available on weekends?",
    "Makes sense. Is there a setup fee?",
    "Can we pay by invoice?",
    "How does that compare to what we use today?",
    "Is that included, or an add-on?",
    "One more thing: do you have a status page?",
    "Could a colleague join this chat?",
];

const REPLIES: &[&str] = &[
    "Thanks, that helps!",
    "Great, thank you.",
    "Ah, I see. Let me think about it.",
    "Perfect, that's what I needed.",
    "Hmm, not sure I follow. Could you explain?",
    "OK, sounds good.",
];

const AGENT_REPLIES: &[&str] = &[
    "Good question! Let me check that for you.",
    "Yes, that's possible. I'll send you the details.",
    "Thanks for waiting. Here is what I found.",
    "Happy to help with that.",
];

/// A generated visitor: name and email, either possibly missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorProfile {
    pub name: Option<String>,
    pub email: Option<String>,
    pub first_question: String,
}

/// Generates a visitor profile: about 3 in 4 give a name, about 3 in 5 an email.
pub fn generate_profile(rng: &mut impl Rng) -> VisitorProfile {
    let first = FIRST_NAMES.choose(rng).copied().unwrap_or("Alex");
    let last = LAST_NAMES.choose(rng).copied().unwrap_or("Doe");
    let name = rng.random_bool(0.75).then(|| format!("{first} {last}"));
    let email = rng.random_bool(0.6).then(|| {
        let local: String = format!("{first}.{last}")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect::<String>()
            .to_lowercase();
        let domain = EMAIL_DOMAINS.choose(rng).copied().unwrap_or("example.com");
        let n: u16 = rng.random_range(1..1000);
        format!("{local}{n}@{domain}")
    });
    let first_question = FIRST_QUESTIONS
        .choose(rng)
        .copied()
        .unwrap_or("Hello?")
        .to_owned();
    VisitorProfile {
        name,
        email,
        first_question,
    }
}

/// Runs the simulation to the end and reports. Fails only for a bad configuration; everything
/// that goes wrong while chatting is counted in the report.
pub async fn run(config: SimConfig) -> Result<SimReport> {
    BaseUrl::parse(&config.base_url)?;
    if config.interval.is_zero() {
        return Err(Error::Unexpected("the interval must be above zero".into()));
    }
    let started = Instant::now();
    let deadline = config.duration.map(|d| started + d);
    let config = Arc::new(config);
    let mut report = SimReport {
        visitors: config.visitors,
        ..SimReport::default()
    };

    // Agents first, so the first visitors find someone.
    let stop = Arc::new(AtomicBool::new(false));
    let mut agents = JoinSet::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(config.agents.len().max(1));
    for login in config.agents.clone() {
        let base_url = config.base_url.clone();
        let stop = Arc::clone(&stop);
        let ready = ready_tx.clone();
        agents.spawn(run_agent(base_url, login, stop, ready));
    }
    drop(ready_tx);
    // Each agent task reports once (connected or not), or ends without reporting.
    while ready_rx.recv().await.is_some() {}

    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut visitors = JoinSet::new();
    for index in 0..config.visitors {
        let profile = generate_profile(&mut rng);
        let seed = rng.random();
        let delay = if config.visitors > 1 {
            config.ramp.mul_f64(index as f64 / config.visitors as f64)
        } else {
            Duration::ZERO
        };
        let config = Arc::clone(&config);
        visitors.spawn(async move {
            tokio::time::sleep(delay).await;
            run_visitor(&config, profile, seed, deadline).await
        });
    }
    while let Some(joined) = visitors.join_next().await {
        match joined {
            Ok(partial) => report.merge(partial),
            Err(e) => report.record_error("visitor task", e),
        }
    }

    stop.store(true, Ordering::Relaxed);
    while let Some(joined) = agents.join_next().await {
        match joined {
            Ok(partial) => report.merge(partial),
            Err(e) => report.record_error("agent task", e),
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

fn until(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

fn earliest(a: Instant, b: Option<Instant>) -> Instant {
    match b {
        Some(b) if b < a => b,
        _ => a,
    }
}

enum Waited {
    Joined,
    Over,
    TimedOut,
}

async fn run_visitor(
    config: &SimConfig,
    profile: VisitorProfile,
    seed: u64,
    deadline: Option<Instant>,
) -> SimReport {
    let mut report = SimReport::default();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut visitor = match VisitorClient::start(
        &config.base_url,
        profile.name.as_deref(),
        profile.email.as_deref(),
    )
    .await
    {
        Ok(visitor) => visitor,
        Err(e) => {
            report.record_error("visitor session", e);
            return report;
        }
    };
    report.sessions_opened += 1;

    let chat_started = Instant::now();
    match visitor.start_chat(profile.first_question.as_str()).await {
        Ok(_) => {
            report.chats_started += 1;
            report.start_latencies.push(chat_started.elapsed());
        }
        Err(e) => {
            report.record_error("start_chat", e);
            let _ = visitor.close().await;
            return report;
        }
    }

    let waited = wait_for_agent(
        config,
        &mut visitor,
        &mut report,
        &mut rng,
        chat_started,
        deadline,
    )
    .await;
    match waited {
        Waited::Joined => {
            report.joined += 1;
            report.join_latencies.push(chat_started.elapsed());
        }
        Waited::Over => {
            let _ = visitor.close().await;
            return report;
        }
        Waited::TimedOut => {
            if config.leave_when_unavailable {
                leave_message(&mut visitor, &mut report, &mut rng).await;
            } else {
                report.gave_up_waiting += 1;
                end_chat(&mut visitor, &mut report).await;
            }
            let _ = visitor.close().await;
            return report;
        }
    }

    if chat(config, &mut visitor, &mut report, &mut rng, deadline).await {
        end_chat(&mut visitor, &mut report).await;
    }
    let _ = visitor.close().await;
    report
}

/// Waits for `agent_joined`. Leaves a message (and returns `Over`) when queued with nobody
/// available and `leave_when_unavailable` is set.
async fn wait_for_agent(
    config: &SimConfig,
    visitor: &mut VisitorClient,
    report: &mut SimReport,
    rng: &mut StdRng,
    chat_started: Instant,
    deadline: Option<Instant>,
) -> Waited {
    let give_up = earliest(chat_started + config.join_timeout, deadline);
    let mut counted_queued = false;
    loop {
        let frame = match visitor.next_frame(until(give_up)).await {
            Ok(frame) => frame,
            Err(Error::Timeout { .. }) => return Waited::TimedOut,
            Err(e) => {
                report.record_error("waiting for an agent", e);
                return Waited::Over;
            }
        };
        match frame {
            VisitorServerFrame::AgentJoined { .. } => return Waited::Joined,
            VisitorServerFrame::Queued {
                agents_available, ..
            } => {
                if !counted_queued {
                    counted_queued = true;
                    report.queued += 1;
                }
                if !agents_available && config.leave_when_unavailable {
                    leave_message(visitor, report, rng).await;
                    return Waited::Over;
                }
            }
            VisitorServerFrame::ChatEnded { .. } => {
                report.chats_ended_by_service += 1;
                return Waited::Over;
            }
            VisitorServerFrame::Message { message } => {
                if matches!(message.author, Author::Agent { .. }) {
                    report.agent_messages_received += 1;
                }
            }
            VisitorServerFrame::Error { error, .. } => {
                report.record_error("while waiting for an agent", error)
            }
            _ => {}
        }
    }
}

/// The chat itself. Returns whether the visitor should still end the chat.
async fn chat(
    config: &SimConfig,
    visitor: &mut VisitorClient,
    report: &mut SimReport,
    rng: &mut StdRng,
    deadline: Option<Instant>,
) -> bool {
    let mut sent = 0;
    let mut last_send = Instant::now();
    let mut agent_wrote = false;
    while sent < config.messages_per_visitor {
        let next_send = if agent_wrote {
            last_send + config.interval / 2
        } else {
            last_send + config.interval
        };
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return true;
        }
        if Instant::now() >= next_send {
            let text = if agent_wrote {
                REPLIES.choose(rng).copied().unwrap_or("Thanks!")
            } else {
                FOLLOW_UPS.choose(rng).copied().unwrap_or("And?")
            };
            if let Err(e) = visitor.typing(true).await {
                report.record_error("typing", e);
                return false;
            }
            last_send = Instant::now();
            report.messages_sent += 1;
            if agent_wrote {
                report.replies_sent += 1;
            }
            match visitor.send_text(text).await {
                Ok(_) => {
                    report.messages_acked += 1;
                    report.ack_latencies.push(last_send.elapsed());
                }
                Err(e @ (Error::Closed { .. } | Error::WebSocket(_))) => {
                    report.record_error("send_message", e);
                    return false;
                }
                Err(e) => report.record_error("send_message", e),
            }
            sent += 1;
            agent_wrote = false;
            continue;
        }
        match visitor
            .next_frame(until(earliest(next_send, deadline)))
            .await
        {
            Ok(VisitorServerFrame::Message { message }) => {
                if matches!(message.author, Author::Agent { .. }) {
                    report.agent_messages_received += 1;
                    agent_wrote = true;
                }
            }
            Ok(VisitorServerFrame::ChatEnded { .. }) => {
                report.chats_ended_by_service += 1;
                return false;
            }
            Ok(VisitorServerFrame::Error { error, .. }) => report.record_error("chat", error),
            Ok(_) | Err(Error::Timeout { .. }) => {}
            Err(e) => {
                report.record_error("chat", e);
                return false;
            }
        }
    }
    // Give the agent up to one more interval to answer the last message before leaving.
    let linger = earliest(Instant::now() + config.interval, deadline);
    loop {
        match visitor.next_frame(until(linger)).await {
            Ok(VisitorServerFrame::Message { message })
                if matches!(message.author, Author::Agent { .. }) =>
            {
                report.agent_messages_received += 1;
                return true;
            }
            Ok(VisitorServerFrame::ChatEnded { .. }) => {
                report.chats_ended_by_service += 1;
                return false;
            }
            Ok(_) => {}
            Err(Error::Timeout { .. }) => return true,
            Err(e) => {
                report.record_error("chat", e);
                return false;
            }
        }
    }
}

async fn leave_message(visitor: &mut VisitorClient, report: &mut SimReport, rng: &mut StdRng) {
    let text = format!(
        "Nobody seems to be around. {} Please email me back.",
        FOLLOW_UPS.choose(rng).copied().unwrap_or("")
    );
    match visitor.leave_message(text).await {
        Ok(_) => report.left_messages += 1,
        Err(e) => report.record_error("leave_message", e),
    }
}

async fn end_chat(visitor: &mut VisitorClient, report: &mut SimReport) {
    match visitor.end_chat().await {
        Ok(()) => report.chats_ended_by_visitor += 1,
        Err(e) => report.record_error("end_chat", e),
    }
}

/// One simulated agent: signs in, makes itself available, accepts every offer and answers
/// every visitor message, until `stop`.
async fn run_agent(
    base_url: String,
    login: AgentLogin,
    stop: Arc<AtomicBool>,
    ready: tokio::sync::mpsc::Sender<()>,
) -> SimReport {
    let mut report = SimReport::default();
    let mut client = match connect_agent(&base_url, &login).await {
        Ok(client) => client,
        Err(e) => {
            report.record_error(&format!("agent {}", login.email), e);
            let _ = ready.send(()).await;
            return report;
        }
    };
    report.agents_connected += 1;
    let _ = ready.send(()).await;
    drop(ready);

    let mut rng = StdRng::seed_from_u64(login.email.len() as u64);
    let mut live: Vec<ConversationId> = Vec::new();
    let poll = Duration::from_millis(250);
    let heartbeat = Duration::from_secs(10);
    let mut last_ping = Instant::now();
    let mut nonce = 0;
    while !stop.load(Ordering::Relaxed) {
        if last_ping.elapsed() >= heartbeat {
            nonce += 1;
            let ping = protocol::agent_ws::AgentCommand::Ping { nonce: Some(nonce) };
            if let Err(e) = client.send(&ping).await {
                report.record_error("agent ping", e);
                break;
            }
            last_ping = Instant::now();
        }
        let event = match client.next_frame(poll).await {
            Ok(AgentServerFrame::Event { event, .. }) => event,
            Ok(AgentServerFrame::Error { error, .. }) => {
                report.record_error("agent", error);
                continue;
            }
            Ok(_) | Err(Error::Timeout { .. }) => continue,
            Err(e) => {
                report.record_error("agent", e);
                break;
            }
        };
        match event {
            AgentEvent::Offer { offer } => {
                report.offers_received += 1;
                match client.accept(offer.id).await {
                    Ok(_) => report.offers_accepted += 1,
                    // Another agent may have been quicker, or the offer expired.
                    Err(e) => report.record_error("accept", e),
                }
            }
            AgentEvent::ConversationStarted { conversation } => {
                let id = conversation.summary.id;
                live.push(id);
                let greeting = match &conversation.summary.visitor.name {
                    Some(name) => format!("Hi {name}, thanks for reaching out!"),
                    None => "Hi there, thanks for reaching out!".to_owned(),
                };
                match client.send_text(id, greeting).await {
                    Ok(_) => report.agent_messages_sent += 1,
                    Err(e) => report.record_error("agent greeting", e),
                }
            }
            AgentEvent::ConversationEnded {
                conversation_id, ..
            } => live.retain(|id| *id != conversation_id),
            AgentEvent::Message { message }
                if matches!(message.author, Author::Visitor)
                    && live.contains(&message.conversation_id) =>
            {
                let text = AGENT_REPLIES.choose(&mut rng).copied().unwrap_or("OK.");
                match client.send_text(message.conversation_id, text).await {
                    Ok(_) => report.agent_messages_sent += 1,
                    // The visitor ended the chat while the answer was on its way.
                    Err(e) if e.code() == Some(protocol::ErrorCode::Conflict) => {
                        report.agent_late_replies += 1
                    }
                    Err(e) => report.record_error("agent send_message", e),
                }
            }
            _ => {}
        }
    }
    let _ = client.close().await;
    report
}

async fn connect_agent(base_url: &str, login: &AgentLogin) -> Result<AgentClient> {
    let mut api = ApiClient::new(base_url)?;
    let response = api.login(&login.email, &login.password).await?;
    let (mut client, _ready) = AgentClient::connect(base_url, &response.token, None).await?;
    client
        .set_availability(Some(AvailabilityStatus::Available))
        .await?;
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn percentile_uses_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&samples, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(
            percentile(&samples, 100.0),
            Some(Duration::from_millis(100))
        );
        assert_eq!(percentile(&samples, 0.0), Some(Duration::from_millis(1)));
    }

    #[test]
    fn percentile_of_unsorted_small_samples() {
        let samples = millis(&[30, 10, 20]);
        assert_eq!(percentile(&samples, 50.0), Some(Duration::from_millis(20)));
        assert_eq!(percentile(&samples, 99.0), Some(Duration::from_millis(30)));
        assert_eq!(
            percentile(&millis(&[7]), 99.0),
            Some(Duration::from_millis(7))
        );
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn merge_adds_counts_and_samples_and_caps_errors() {
        let mut total = SimReport {
            visitors: 3,
            ..SimReport::default()
        };
        for i in 0..3u64 {
            let mut part = SimReport {
                sessions_opened: 1,
                chats_started: 1,
                joined: 1,
                messages_sent: 2,
                messages_acked: 2,
                ack_latencies: millis(&[i + 1, i + 10]),
                ..SimReport::default()
            };
            for n in 0..10 {
                part.record_error("test", n);
            }
            total.merge(part);
        }
        assert_eq!(total.visitors, 3);
        assert_eq!(total.sessions_opened, 3);
        assert_eq!(total.joined, 3);
        assert_eq!(total.messages_acked, 6);
        assert_eq!(total.ack_latencies.len(), 6);
        assert_eq!(total.ack_p50(), Some(Duration::from_millis(3)));
        assert_eq!(total.ack_p99(), Some(Duration::from_millis(12)));
        assert_eq!(total.error_count, 30);
        assert_eq!(total.errors.len(), MAX_REPORTED_ERRORS);
    }

    #[test]
    fn report_prints_a_summary() {
        let report = SimReport {
            visitors: 2,
            chats_started: 2,
            messages_sent: 4,
            messages_acked: 4,
            ack_latencies: millis(&[1, 2, 3, 4]),
            ..SimReport::default()
        };
        let text = report.to_string();
        assert!(text.contains("2 visitors"), "{text}");
        assert!(
            text.contains("p50 2.0ms, p99 4.0ms over 4 samples"),
            "{text}"
        );
        assert!(text.contains("errors                0"), "{text}");
        assert!(!text.contains("simulated agents"), "{text}");
    }

    #[test]
    fn profiles_are_repeatable_and_well_formed() {
        let a: Vec<_> = {
            let mut rng = StdRng::seed_from_u64(7);
            (0..200).map(|_| generate_profile(&mut rng)).collect()
        };
        let b: Vec<_> = {
            let mut rng = StdRng::seed_from_u64(7);
            (0..200).map(|_| generate_profile(&mut rng)).collect()
        };
        assert_eq!(a, b);
        assert!(a.iter().any(|p| p.name.is_none()));
        assert!(a.iter().any(|p| p.email.is_none()));
        assert!(a.iter().any(|p| p.name.is_some() && p.email.is_some()));
        for p in &a {
            if let Some(email) = &p.email {
                let (local, domain) = email.split_once('@').unwrap_or_default();
                assert!(!local.is_empty() && local.is_ascii(), "{email}");
                assert!(EMAIL_DOMAINS.contains(&domain), "{email}");
            }
            assert!(!p.first_question.is_empty());
        }
    }

    #[test]
    fn agent_login_parses_email_colon_password() {
        let login: AgentLogin = "ada@example.com:pa:ss"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(login.email, "ada@example.com");
        assert_eq!(login.password, "pa:ss");
        assert!("nopassword".parse::<AgentLogin>().is_err());
        assert!(":x".parse::<AgentLogin>().is_err());
    }
}
