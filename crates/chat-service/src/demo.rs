//! `--demo`: a realistic data set so that one command starts a usable system. Several agents
//! (one on a weekday schedule, the others around the clock; a calendar each), visitors with
//! CRM fields (some missing), activity histories reaching back beyond 90 days, ended
//! conversations with transcripts, and messages left while nobody was available.

use chrono::{Duration, Utc};
use protocol::*;

use crate::auth::hash_password;
use crate::error::Result;
use crate::store::{AuthorRef, NewAgent, PastConversation, Store};

pub const PASSWORD: &str = "demo1234";

/// (email, name, note) as printed at start-up.
pub const AGENTS_FOR_PRINT: &[(&str, &str, &str)] = &[
    (
        "ada@example.com",
        "Ada Lovelace",
        "Europe/London, on schedule Mon-Fri 09:00-17:00",
    ),
    (
        "grace@example.com",
        "Grace Hopper",
        "America/New_York, available around the clock",
    ),
    (
        "linus@example.com",
        "Linus Torvalds",
        "Europe/Helsinki, available around the clock",
    ),
    (
        "margaret@example.com",
        "Margaret Hamilton",
        "UTC, available around the clock",
    ),
];

fn block(day: Weekday, start: &str, end: &str) -> TimeBlock {
    TimeBlock {
        day,
        start: start.into(),
        end: end.into(),
    }
}

const WEEKDAYS: [Weekday; 5] = Weekday::WORKDAYS;
const ALL_DAYS: [Weekday; 7] = Weekday::ALL;

fn settings(
    tz: &str,
    schedule: Vec<TimeBlock>,
    hours: Vec<TimeBlock>,
    meeting: i32,
    buffer: i32,
) -> AgentSettings {
    AgentSettings {
        time_zone: tz.into(),
        schedule,
        calendar: CalendarSettings {
            working_hours: hours,
            meeting_minutes: meeting,
            buffer_minutes: buffer,
        },
    }
}

/// A small deterministic generator, so the demo data is the same on every machine.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FIRST: &[&str] = &[
    "Amara", "Ben", "Chloé", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kofi",
    "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma",
    "Viktor", "Wen", "Yara", "Zoltán",
];
const LAST: &[&str] = &[
    "Okafor", "Schmidt", "Dubois", "Ivanov", "García", "Haddad", "Larsen", "Tanaka", "Moreau",
    "Weber", "Mensah", "Novak", "Rossi", "Silva", "Nakamura", "Kowalski", "O'Brien", "Müller",
];
const TITLES: &[&str] = &[
    "Head of Operations",
    "CTO",
    "Procurement Manager",
    "Marketing Lead",
    "Founder",
    "IT Administrator",
    "Finance Director",
    "Product Manager",
];
const COMPANIES: &[&str] = &[
    "acme.io",
    "globex.com",
    "initech.net",
    "umbrella.co",
    "hooli.com",
    "stark.dev",
];
const CRM: &[&str] = &[
    "Lead",
    "Qualified lead",
    "Opportunity",
    "Customer",
    "Churned",
];
const PAGES: &[&str] = &[
    "/pricing",
    "/features/routing",
    "/docs/getting-started",
    "/blog/live-chat-tips",
    "/contact",
    "/integrations",
];
const FORMS: &[&str] = &[
    "Demo request form",
    "Newsletter sign-up",
    "Whitepaper download",
    "Contact form",
];
const EMAILS: &[&str] = &[
    "Welcome to Agent Inbox",
    "Your trial ends in 3 days",
    "November product update",
    "Invoice #2041",
];
const QUESTIONS: &[&str] = &[
    "Hi! Does the Pro plan include SSO?",
    "Can I move my team from another chat tool without losing history?",
    "Is there a discount for non-profits?",
    "How many agents can share one inbox?",
    "Our widget stopped loading on Safari, can you help?",
    "Do you offer a data processing agreement?",
    "Could we get a demo for our support team next week?",
];
const AGENT_REPLIES: &[&str] = &[
    "Happy to help! Let me check that for you.",
    "Yes, that's included. I can send you the details.",
    "Good question. Could you tell me a bit more about your setup?",
    "I've noted that. Anything else I can do for you today?",
];
const VISITOR_REPLIES: &[&str] = &[
    "Thanks, that's great.",
    "Perfect, thank you!",
    "Sure: we're about 40 agents.",
    "That answers it.",
];

/// Seeds the demo data set into an empty store.
pub async fn seed(store: &dyn Store) -> Result<()> {
    let hash = tokio::task::spawn_blocking(|| hash_password(PASSWORD))
        .await
        .map_err(|e| crate::Error::Internal(e.to_string()))??;
    let all_day: Vec<_> = ALL_DAYS
        .iter()
        .map(|d| block(*d, "00:00", "24:00"))
        .collect();
    let agents = [
        settings(
            "Europe/London",
            WEEKDAYS
                .iter()
                .map(|d| block(*d, "09:00", "17:00"))
                .collect(),
            WEEKDAYS
                .iter()
                .map(|d| block(*d, "09:00", "17:00"))
                .collect(),
            30,
            15,
        ),
        settings(
            "America/New_York",
            all_day.clone(),
            WEEKDAYS
                .iter()
                .map(|d| block(*d, "10:00", "16:00"))
                .collect(),
            45,
            15,
        ),
        settings(
            "Europe/Helsinki",
            all_day.clone(),
            WEEKDAYS[..4]
                .iter()
                .flat_map(|d| [block(*d, "09:00", "12:00"), block(*d, "13:00", "17:00")])
                .collect(),
            30,
            10,
        ),
        settings(
            "UTC",
            all_day,
            WEEKDAYS[1..]
                .iter()
                .map(|d| block(*d, "08:00", "14:00"))
                .collect(),
            60,
            0,
        ),
    ];
    let mut agent_ids = Vec::new();
    for ((email, name, _), settings) in AGENTS_FOR_PRINT.iter().zip(agents) {
        let id = store
            .create_agent(NewAgent {
                email: (*email).into(),
                name: (*name).into(),
                password_hash: hash.clone(),
                settings,
            })
            .await?;
        agent_ids.push(id);
    }

    let mut rng = Lcg(0x5eed_a6e7);
    let now = Utc::now();
    for i in 0..40 {
        let first = rng.pick(FIRST);
        let last = rng.pick(LAST);
        let company = rng.pick(COMPANIES);
        // Some visitors gave little: exercise the dash for missing fields (R5).
        let visitor = VisitorInfo {
            id: VisitorId(0),
            name: (i % 9 != 4).then(|| format!("{first} {last}")),
            job_title: (i % 3 != 0).then(|| rng.pick(TITLES).to_owned()),
            email: (i % 5 != 2).then(|| {
                format!(
                    "{}.{}@{company}",
                    first.to_lowercase(),
                    last.to_lowercase().replace('\'', "")
                )
            }),
            phone: (i % 4 == 1).then(|| format!("+44 20 7946 {:04}", 100 + i * 37)),
            crm_status: (i % 6 != 5).then(|| rng.pick(CRM).to_owned()),
        };
        let created = now - Duration::days(150);
        let visitor_id = store.create_visitor(visitor, created).await?;

        // Activities spread over 150 days: the service shows only the last 90 (R6).
        for _ in 0..(6 + rng.below(8)) {
            let at = now - Duration::minutes((rng.below(150 * 24 * 60) + 60) as i64);
            let (kind, title) = match rng.below(3) {
                0 => (
                    ActivityKind::PageVisit,
                    format!("Visited {}", rng.pick(PAGES)),
                ),
                1 => (
                    ActivityKind::FormFill,
                    format!("Filled in: {}", rng.pick(FORMS)),
                ),
                _ => (
                    ActivityKind::EmailOpen,
                    format!("Opened email \"{}\"", rng.pick(EMAILS)),
                ),
            };
            store
                .add_activity(visitor_id, kind, &title, at, None)
                .await?;
        }

        // Past chats with transcripts, some older than 90 days.
        for _ in 0..(1 + rng.below(3)) {
            let agent = agent_ids[rng.below(agent_ids.len())];
            let start = now - Duration::minutes((rng.below(120 * 24 * 60) + 120) as i64);
            let mut at = start;
            let mut messages = vec![(AuthorRef::Visitor, rng.pick(QUESTIONS).to_owned(), at)];
            for turn in 0..(2 + rng.below(5)) {
                at += Duration::seconds(20 + rng.below(120) as i64);
                let (who, text) = if turn % 2 == 0 {
                    (AuthorRef::Agent(agent), rng.pick(AGENT_REPLIES))
                } else {
                    (AuthorRef::Visitor, rng.pick(VISITOR_REPLIES))
                };
                messages.push((who, text.to_owned(), at));
            }
            let conversation = store
                .import_conversation(PastConversation {
                    visitor_id,
                    agent_id: Some(agent),
                    status: ConversationStatus::Ended,
                    created_at: start,
                    ended_at: at + Duration::seconds(30),
                    end_reason: Some(if rng.below(4) == 0 {
                        EndReason::Visitor
                    } else {
                        EndReason::Agent
                    }),
                    messages,
                })
                .await?;
            store
                .add_activity(
                    visitor_id,
                    ActivityKind::Chat,
                    "Live chat",
                    start,
                    Some(conversation),
                )
                .await?;
        }

        // A few messages left while nobody was available.
        if i % 8 == 3 {
            let at = now - Duration::hours((rng.below(72) + 1) as i64);
            let text = "Nobody was online, so leaving a note: please call me back about the enterprise plan.";
            let conversation = store
                .import_conversation(PastConversation {
                    visitor_id,
                    agent_id: None,
                    status: ConversationStatus::LeftMessage,
                    created_at: at,
                    ended_at: at,
                    end_reason: None,
                    messages: vec![(AuthorRef::Visitor, text.to_owned(), at)],
                })
                .await?;
            store
                .add_activity(
                    visitor_id,
                    ActivityKind::MessageLeft,
                    "Left a message while no agent was available",
                    at,
                    Some(conversation),
                )
                .await?;
        }
    }
    Ok(())
}
