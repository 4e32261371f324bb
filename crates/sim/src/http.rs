//! A small typed client for the service's REST API (`/api/v1`).

use protocol::rest::{
    ActivityList, BookingRequest, ConversationPage, ConversationScope, Health, LoginRequest,
    LoginResponse, MeResponse, MessagePage, SetAvailabilityRequest, SlotList,
    VisitorSessionRequest, VisitorSessionResponse,
};
use protocol::{
    AgentId, AgentSettings, AgentSummary, AvailabilityStatus, Booking, CalendarSummary,
    ConversationId, ConversationSummary, MessageId, VisitorInfo,
};
use reqwest::header::ORIGIN;
use reqwest::{Method, RequestBuilder, Response, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result, from_error_response};

/// A parsed base URL such as `http://127.0.0.1:8080`, with the derived origin and socket URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    url: Url,
    origin: String,
}

impl BaseUrl {
    pub fn parse(base_url: &str) -> Result<Self> {
        let bad = |reason: &str| Error::BadUrl {
            url: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let mut url = Url::parse(base_url).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(bad("the scheme must be http or https"));
        }
        if url.host_str().is_none() {
            return Err(bad("no host"));
        }
        // Paths are joined onto the base, so it must end in '/'.
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        url.set_query(None);
        url.set_fragment(None);
        let origin = url.origin().ascii_serialization();
        Ok(Self { url, origin })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// `scheme://host[:port]`, the value to send as `Origin`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `path` (with or without a leading '/') resolved against the base.
    pub fn join(&self, path: &str) -> Result<Url> {
        self.url
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::BadUrl {
                url: format!("{}{}", self.url, path),
                reason: e.to_string(),
            })
    }

    /// The `ws://` / `wss://` URL of a socket path.
    pub fn ws(&self, path: &str) -> Result<Url> {
        let mut url = self.join(path)?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme).map_err(|()| Error::BadUrl {
            url: url.to_string(),
            reason: "cannot switch to a WebSocket scheme".to_owned(),
        })?;
        Ok(url)
    }
}

/// A typed REST client. Cheap to clone; the bearer token (an agent's or a visitor's) is
/// optional and per clone.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: BaseUrl,
    token: Option<String>,
}

impl ApiClient {
    pub fn new(base_url: &str) -> Result<Self> {
        let http = reqwest::Client::builder().build()?;
        Ok(Self {
            http,
            base: BaseUrl::parse(base_url)?,
            token: None,
        })
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    pub fn set_token(&mut self, token: Option<String>) {
        self.token = token;
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn base(&self) -> &BaseUrl {
        &self.base
    }

    /// A request to `path` with the bearer token (if any) and `Origin` set; for requests the
    /// typed methods do not cover, such as deliberately malformed bodies.
    pub fn request(&self, method: Method, path: &str) -> Result<RequestBuilder> {
        Ok(self.request_url(method, self.base.join(path)?))
    }

    fn request_url(&self, method: Method, url: Url) -> RequestBuilder {
        let mut req = self
            .http
            .request(method, url)
            .header(ORIGIN, self.base.origin());
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        req
    }

    /// Sends `req`; a non-2xx status becomes [`Error::Api`] (or [`Error::Status`]).
    pub async fn send(req: RequestBuilder) -> Result<Response> {
        let response = req.send().await?;
        let status = response.status();
        if status.is_success() {
            Ok(response)
        } else {
            let body = response.bytes().await?;
            Err(from_error_response(status, &body))
        }
    }

    async fn decode<T: DeserializeOwned>(response: Response, what: &'static str) -> Result<T> {
        let bytes = response.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Decode { what, source })
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let response = Self::send(self.request(Method::GET, path)?).await?;
        Self::decode(response, "response body").await
    }

    pub async fn get_json_query<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let mut url = self.base.join(path)?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                pairs.append_pair(key, value);
            }
        }
        let response = Self::send(self.request_url(Method::GET, url)).await?;
        Self::decode(response, "response body").await
    }

    pub async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let response = Self::send(self.request(method, path)?.json(body)).await?;
        Self::decode(response, "response body").await
    }

    /// `GET /healthz`
    pub async fn health(&self) -> Result<Health> {
        self.get_json("/healthz").await
    }

    /// `POST /api/v1/auth/login`; on success the client keeps the token.
    pub async fn login(&mut self, email: &str, password: &str) -> Result<LoginResponse> {
        let body = LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
        };
        let response: LoginResponse = self
            .send_json(Method::POST, "/api/v1/auth/login", &body)
            .await?;
        self.token = Some(response.token.clone());
        Ok(response)
    }

    /// `POST /api/v1/auth/logout`; the client forgets its token.
    pub async fn logout(&mut self) -> Result<()> {
        Self::send(self.request(Method::POST, "/api/v1/auth/logout")?).await?;
        self.token = None;
        Ok(())
    }

    /// `GET /api/v1/me`
    pub async fn me(&self) -> Result<MeResponse> {
        self.get_json("/api/v1/me").await
    }

    /// `PUT /api/v1/me/availability`
    pub async fn set_availability(
        &self,
        status: Option<AvailabilityStatus>,
    ) -> Result<protocol::Availability> {
        self.send_json(
            Method::PUT,
            "/api/v1/me/availability",
            &SetAvailabilityRequest { status },
        )
        .await
    }

    /// `GET /api/v1/me/settings`
    pub async fn settings(&self) -> Result<AgentSettings> {
        self.get_json("/api/v1/me/settings").await
    }

    /// `PUT /api/v1/me/settings`
    pub async fn put_settings(&self, settings: &AgentSettings) -> Result<AgentSettings> {
        self.send_json(Method::PUT, "/api/v1/me/settings", settings)
            .await
    }

    /// `GET /api/v1/agents`
    pub async fn agents(&self) -> Result<Vec<AgentSummary>> {
        self.get_json("/api/v1/agents").await
    }

    /// `GET /api/v1/conversations?scope=&q=&cursor=&limit=`
    pub async fn conversations(
        &self,
        scope: ConversationScope,
        q: Option<&str>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ConversationPage> {
        let scope = match scope {
            ConversationScope::Active => "active",
            ConversationScope::All => "all",
        };
        let mut query = vec![("scope", scope.to_owned())];
        if let Some(q) = q {
            query.push(("q", q.to_owned()));
        }
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_owned()));
        }
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        self.get_json_query("/api/v1/conversations", &query).await
    }

    /// `GET /api/v1/conversations/{id}`
    pub async fn conversation(&self, id: ConversationId) -> Result<ConversationSummary> {
        self.get_json(&format!("/api/v1/conversations/{id}")).await
    }

    /// `GET /api/v1/conversations/{id}/messages?before=&limit=`
    pub async fn messages(
        &self,
        id: ConversationId,
        before: Option<MessageId>,
        limit: Option<u32>,
    ) -> Result<MessagePage> {
        let mut query = Vec::new();
        if let Some(before) = before {
            query.push(("before", before.to_string()));
        }
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        self.get_json_query(&format!("/api/v1/conversations/{id}/messages"), &query)
            .await
    }

    /// `GET /api/v1/conversations/{id}/transcript` (text/plain)
    pub async fn transcript(&self, id: ConversationId) -> Result<String> {
        let path = format!("/api/v1/conversations/{id}/transcript");
        let response = Self::send(self.request(Method::GET, &path)?).await?;
        Ok(response.text().await?)
    }

    /// `GET /api/v1/conversations/{id}/visitor`
    pub async fn visitor(&self, id: ConversationId) -> Result<VisitorInfo> {
        self.get_json(&format!("/api/v1/conversations/{id}/visitor"))
            .await
    }

    /// `GET /api/v1/conversations/{id}/activities`
    pub async fn activities(&self, id: ConversationId) -> Result<ActivityList> {
        self.get_json(&format!("/api/v1/conversations/{id}/activities"))
            .await
    }

    /// `GET /api/v1/calendars`
    pub async fn calendars(&self) -> Result<Vec<CalendarSummary>> {
        self.get_json("/api/v1/calendars").await
    }

    /// `GET /api/v1/calendars/{agent_id}/slots?days=`
    pub async fn slots(&self, agent_id: AgentId, days: Option<u32>) -> Result<SlotList> {
        let query: Vec<_> = days.map(|d| ("days", d.to_string())).into_iter().collect();
        self.get_json_query(&format!("/api/v1/calendars/{agent_id}/slots"), &query)
            .await
    }

    /// `POST /api/v1/visitor/sessions`. Sends `Origin` = the base URL's origin. Does not
    /// change this client's token; use [`ApiClient::with_token`] with the answer.
    pub async fn visitor_session(
        &self,
        name: Option<&str>,
        email: Option<&str>,
    ) -> Result<VisitorSessionResponse> {
        let body = VisitorSessionRequest {
            name: name.map(str::to_owned),
            email: email.map(str::to_owned),
            resume_token: None,
        };
        self.visitor_session_with(&body).await
    }

    /// `POST /api/v1/visitor/sessions` with a full request (for resuming a session).
    pub async fn visitor_session_with(
        &self,
        body: &VisitorSessionRequest,
    ) -> Result<VisitorSessionResponse> {
        self.send_json(Method::POST, "/api/v1/visitor/sessions", body)
            .await
    }

    /// `GET /api/v1/visitor/calendars/{agent_id}/slots?days=` (visitor token).
    pub async fn visitor_slots(&self, agent_id: AgentId, days: Option<u32>) -> Result<SlotList> {
        let query: Vec<_> = days.map(|d| ("days", d.to_string())).into_iter().collect();
        self.get_json_query(
            &format!("/api/v1/visitor/calendars/{agent_id}/slots"),
            &query,
        )
        .await
    }

    /// `POST /api/v1/visitor/bookings` (visitor token).
    pub async fn book(&self, request: &BookingRequest) -> Result<Booking> {
        self.send_json(Method::POST, "/api/v1/visitor/bookings", request)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_derives_origin_and_socket_urls() -> Result<()> {
        let base = BaseUrl::parse("http://127.0.0.1:4321")?;
        assert_eq!(base.origin(), "http://127.0.0.1:4321");
        assert_eq!(
            base.join("/api/v1/me")?.as_str(),
            "http://127.0.0.1:4321/api/v1/me"
        );
        assert_eq!(
            base.ws("/api/v1/agent/ws")?.as_str(),
            "ws://127.0.0.1:4321/api/v1/agent/ws"
        );
        Ok(())
    }

    #[test]
    fn base_url_keeps_a_path_prefix_and_maps_https_to_wss() -> Result<()> {
        let base = BaseUrl::parse("https://chat.example.com/inbox?x=1")?;
        assert_eq!(base.origin(), "https://chat.example.com");
        assert_eq!(
            base.ws("api/v1/visitor/ws")?.as_str(),
            "wss://chat.example.com/inbox/api/v1/visitor/ws"
        );
        Ok(())
    }

    #[test]
    fn base_url_rejects_other_schemes_and_garbage() {
        assert!(matches!(
            BaseUrl::parse("ftp://example.com"),
            Err(Error::BadUrl { .. })
        ));
        assert!(matches!(
            BaseUrl::parse("not a url"),
            Err(Error::BadUrl { .. })
        ));
    }
}
