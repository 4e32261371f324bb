//! Shared set-up for the service's integration tests: a real service on 127.0.0.1:0 with a
//! real SQLite file in a temporary folder, agents created in that database, and the typed
//! clients of the `sim` crate.

#![allow(dead_code)]

use std::time::Duration;

use chat_service::store::{NewAgent, SqliteStore, Store};
use chat_service::{Config, RunningService};
use protocol::agent_ws::{AgentEvent, AgentServerFrame};
use protocol::*;
use sim::agent::AgentClient;
use sim::http::ApiClient;
use sim::visitor::VisitorClient;

pub const PASSWORD: &str = "correct horse battery staple";
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestAgent {
    pub id: AgentId,
    pub email: String,
    pub name: String,
}

pub struct TestService {
    pub service: Option<RunningService>,
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub agents: Vec<TestAgent>,
    pub url: String,
}

/// On duty around the clock; calendar every day 00:00-24:00, 30 min meetings, 10 min buffer.
pub fn always_available() -> AgentSettings {
    AgentSettings::around_the_clock(30, 10)
}

/// Never on duty by schedule.
pub fn never_scheduled() -> AgentSettings {
    AgentSettings {
        schedule: Vec::new(),
        ..always_available()
    }
}

impl TestService {
    /// Starts a service with `n` agents available around the clock.
    pub async fn start(n: usize) -> TestService {
        Self::start_with(n, |_| {}).await
    }

    pub async fn start_with(n: usize, tweak: impl FnOnce(&mut Config)) -> TestService {
        let settings = vec![always_available(); n];
        Self::start_with_settings(settings, tweak).await
    }

    pub async fn start_with_settings(
        settings: Vec<AgentSettings>,
        tweak: impl FnOnce(&mut Config),
    ) -> TestService {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_db(dir.path().join("chat.db"));
        // Tests send quickly; the rate limit has its own test, which lowers this again.
        config.visitor_messages_per_10s = 100_000;
        tweak(&mut config);
        let agents = create_agents(&config, settings).await;
        let service = RunningService::start(config.clone())
            .await
            .expect("service starts");
        let url = service.url();
        TestService {
            service: Some(service),
            dir,
            config,
            agents,
            url,
        }
    }

    pub fn api(&self) -> ApiClient {
        ApiClient::new(&self.url).expect("api client")
    }

    /// Logs agent `i` in and returns an API client holding the token.
    pub async fn login(&self, i: usize) -> ApiClient {
        let mut api = self.api();
        api.login(&self.agents[i].email, PASSWORD)
            .await
            .expect("login");
        api
    }

    /// Logs agent `i` in and opens their socket; returns after `ready`.
    pub async fn agent(&self, i: usize) -> (ApiClient, AgentClient) {
        let api = self.login(i).await;
        let token = api.token().expect("token").to_owned();
        let (client, first) = AgentClient::connect(&self.url, &token, None)
            .await
            .expect("agent socket");
        assert!(
            matches!(first, AgentServerFrame::Ready(_)),
            "expected ready, got {first:?}"
        );
        (api, client)
    }

    pub async fn visitor(&self, name: &str) -> VisitorClient {
        VisitorClient::start(&self.url, Some(name), None)
            .await
            .expect("visitor session")
    }

    /// A raw connection to the service's database, for checking what was stored.
    pub async fn db(&self) -> sqlx::SqlitePool {
        sqlx::SqlitePool::connect(&format!("sqlite://{}", self.config.db.display()))
            .await
            .expect("open db")
    }

    pub async fn stop(&mut self) {
        if let Some(service) = self.service.take() {
            service.stop().await.expect("clean stop");
        }
    }
}

pub async fn create_agents(config: &Config, settings: Vec<AgentSettings>) -> Vec<TestAgent> {
    let store = SqliteStore::open(&config.db, false, config.max_live_chats)
        .await
        .expect("open store");
    let hash = chat_service::auth::hash_password(PASSWORD).expect("hash");
    let mut agents = Vec::new();
    for (i, settings) in settings.into_iter().enumerate() {
        let email = format!("agent{i}@test.example");
        let name = format!("Agent {i}");
        let id = store
            .create_agent(NewAgent {
                email: email.clone(),
                name: name.clone(),
                password_hash: hash.clone(),
                settings,
            })
            .await
            .expect("create agent");
        agents.push(TestAgent { id, email, name });
    }
    store.close().await;
    agents
}

/// Waits for the next offer event on this socket.
pub async fn next_offer(agent: &mut AgentClient) -> Offer {
    agent.expect_offer(WAIT).await.expect("an offer")
}

/// Proves that nothing matching `bad` was queued for this socket before now: frames queued
/// before a ping are sent before its pong (the service's select is biased to outbound).
pub async fn assert_nothing_pending(
    agent: &mut AgentClient,
    what: &str,
    bad: impl Fn(&AgentServerFrame) -> bool,
) {
    agent.ping(0x5eed, WAIT).await.expect("ping answered");
    if let Some(frame) = agent.buffered().find(|f| bad(f)) {
        panic!("{what}: unexpected {frame:?}");
    }
}

pub fn is_offer(frame: &AgentServerFrame) -> bool {
    matches!(
        frame,
        AgentServerFrame::Event {
            event: AgentEvent::Offer { .. },
            ..
        }
    )
}
