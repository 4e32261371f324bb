//! The REST client (reqwest + rustls): login and logout, conversation lists, messages,
//! visitor details, activities, calendars and slots, and transcript export.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use protocol::rest::*;
use protocol::*;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// A checked service base URL such as `http://127.0.0.1:8080`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUrl(reqwest::Url);

impl ServiceUrl {
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |reason: &str| Error::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = url.trim();
        if trimmed.is_empty() {
            return Err(bad("the service URL is empty"));
        }
        let parsed = reqwest::Url::parse(trimmed).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("use an http:// or https:// URL"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("the URL has no host"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad("the URL must not have a query or fragment"));
        }
        let mut base = parsed;
        let path = base.path().trim_end_matches('/').to_owned();
        base.set_path(&path);
        Ok(ServiceUrl(base))
    }

    /// The base URL as text, without a trailing slash.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.as_str(), path)
    }

    /// The agent socket's URL (`ws://` or `wss://`).
    pub fn agent_socket(&self) -> String {
        let base = self.as_str();
        let ws = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_owned()
        };
        format!("{ws}/api/v1/agent/ws")
    }
}

impl std::fmt::Display for ServiceUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone)]
pub struct ApiClient {
    base: ServiceUrl,
    http: reqwest::Client,
    token: Option<String>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("ApiClient")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "…"))
            .finish()
    }
}

impl ApiClient {
    pub fn new(base: ServiceUrl) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("agent-inbox/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Protocol(format!("cannot build the HTTP client: {e}")))?;
        Ok(ApiClient {
            base,
            http,
            token: None,
        })
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn base(&self) -> &ServiceUrl {
        &self.base
    }

    async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<reqwest::Response> {
        let mut req = self.http.request(method, self.base.join(path));
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await.map_err(|e| Error::Unreachable {
            url: self.base.to_string(),
            reason: describe(&e),
        })?;
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => Err(Error::Service(body)),
            Err(_) if status == StatusCode::NOT_FOUND => Err(Error::Protocol(format!(
                "{} answered 404 for {path}: is this an Agent Inbox chat service?",
                self.base
            ))),
            Err(_) => Err(Error::Protocol(format!(
                "HTTP {status} from {path}: {}",
                text.chars().take(200).collect::<String>()
            ))),
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T> {
        let res = self.call::<()>(Method::GET, path, query, None).await?;
        decode(res, path).await
    }

    async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let res = self.call(method, path, &[], Some(body)).await?;
        decode(res, path).await
    }

    /// Logs in; the returned client carries the token.
    pub async fn login(&self, email: &str, password: &str) -> Result<(ApiClient, LoginResponse)> {
        let req = LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
        };
        let res: LoginResponse = self.send(Method::POST, "/api/v1/auth/login", &req).await?;
        Ok((self.clone().with_token(res.token.clone()), res))
    }

    /// Revokes the token on the service.
    pub async fn logout(&self) -> Result<()> {
        self.call::<()>(Method::POST, "/api/v1/auth/logout", &[], None)
            .await
            .map(drop)
    }

    pub async fn health(&self) -> Result<Health> {
        self.get("/healthz", &[]).await
    }

    pub async fn me(&self) -> Result<MeResponse> {
        self.get("/api/v1/me", &[]).await
    }

    pub async fn settings(&self) -> Result<AgentSettings> {
        self.get("/api/v1/me/settings", &[]).await
    }

    pub async fn put_settings(&self, settings: &AgentSettings) -> Result<AgentSettings> {
        self.send(Method::PUT, "/api/v1/me/settings", settings)
            .await
    }

    pub async fn set_availability(
        &self,
        status: Option<AvailabilityStatus>,
    ) -> Result<Availability> {
        self.send(
            Method::PUT,
            "/api/v1/me/availability",
            &SetAvailabilityRequest { status },
        )
        .await
    }

    pub async fn agents(&self) -> Result<Vec<AgentSummary>> {
        self.get("/api/v1/agents", &[]).await
    }

    pub async fn conversations(
        &self,
        scope: ConversationScope,
        search: Option<&str>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ConversationPage> {
        let mut q = vec![(
            "scope",
            match scope {
                ConversationScope::Active => "active".to_owned(),
                ConversationScope::All => "all".to_owned(),
            },
        )];
        if let Some(s) = search.filter(|s| !s.trim().is_empty()) {
            q.push(("q", s.to_owned()));
        }
        if let Some(c) = cursor {
            q.push(("cursor", c.to_owned()));
        }
        if let Some(l) = limit {
            q.push(("limit", l.to_string()));
        }
        self.get("/api/v1/conversations", &q).await
    }

    pub async fn conversation(&self, id: ConversationId) -> Result<ConversationSummary> {
        self.get(&format!("/api/v1/conversations/{id}"), &[]).await
    }

    pub async fn messages(
        &self,
        id: ConversationId,
        before: Option<MessageId>,
        limit: Option<u32>,
    ) -> Result<MessagePage> {
        let mut q = Vec::new();
        if let Some(b) = before {
            q.push(("before", b.to_string()));
        }
        if let Some(l) = limit {
            q.push(("limit", l.to_string()));
        }
        self.get(&format!("/api/v1/conversations/{id}/messages"), &q)
            .await
    }

    pub async fn visitor(&self, id: ConversationId) -> Result<VisitorInfo> {
        self.get(&format!("/api/v1/conversations/{id}/visitor"), &[])
            .await
    }

    /// The visitor's activities of the last 90 days (the service filters).
    pub async fn activities(&self, id: ConversationId) -> Result<ActivityList> {
        self.get(&format!("/api/v1/conversations/{id}/activities"), &[])
            .await
    }

    pub async fn transcript(&self, id: ConversationId) -> Result<String> {
        let path = format!("/api/v1/conversations/{id}/transcript");
        let res = self.call::<()>(Method::GET, &path, &[], None).await?;
        res.text()
            .await
            .map_err(|e| Error::Protocol(format!("reading the transcript: {e}")))
    }

    /// Saves the transcript as a `.txt` file (written atomically).
    pub async fn export_transcript(&self, id: ConversationId, path: &Path) -> Result<()> {
        let text = self.transcript(id).await?;
        crate::fsutil::write_atomically(path, text.as_bytes())
    }

    pub async fn calendars(&self) -> Result<Vec<CalendarSummary>> {
        self.get("/api/v1/calendars", &[]).await
    }

    pub async fn slots(
        &self,
        agent: AgentId,
        from: Option<DateTime<Utc>>,
        days: Option<u32>,
    ) -> Result<SlotList> {
        let mut q = Vec::new();
        if let Some(f) = from {
            q.push(("from", f.to_rfc3339()));
        }
        if let Some(d) = days {
            q.push(("days", d.to_string()));
        }
        self.get(&format!("/api/v1/calendars/{agent}/slots"), &q)
            .await
    }
}

async fn decode<T: DeserializeOwned>(res: reqwest::Response, path: &str) -> Result<T> {
    let bytes = res
        .bytes()
        .await
        .map_err(|e| Error::Protocol(format!("reading {path}: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::Protocol(format!("{path} answered with an unexpected body: {e}")))
}

/// A one-line reason for a transport error, without reqwest's nesting.
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection refused or host unreachable".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_urls_are_checked_and_normalised() {
        let u = ServiceUrl::parse(" http://127.0.0.1:8080/ ").expect("valid");
        assert_eq!(u.as_str(), "http://127.0.0.1:8080");
        assert_eq!(u.agent_socket(), "ws://127.0.0.1:8080/api/v1/agent/ws");
        let s = ServiceUrl::parse("https://chat.example.com/inbox/").expect("valid");
        assert_eq!(
            s.agent_socket(),
            "wss://chat.example.com/inbox/api/v1/agent/ws"
        );
        for bad in ["", "ftp://x", "not a url", "http://", "http://h/?q=1"] {
            assert!(ServiceUrl::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
