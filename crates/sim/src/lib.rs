//! Typed async clients for the Agent Inbox chat service and a visitor simulator.
//!
//! - [`http::ApiClient`]: the REST API (`/api/v1`), agent or visitor bearer token.
//! - [`agent::AgentClient`]: the agent WebSocket (`hello` -> `ready`/`resumed` -> events).
//! - [`visitor::VisitorClient`]: a visitor's session and WebSocket.
//! - [`simulate::run`]: many visitors (and optionally agents) chatting at once, for the
//!   demo and benchmarks; the `visitor-sim` binary is its command line.
//!
//! Used by the service's integration tests, so every helper reports what it waited for when
//! it times out, and frames read while waiting for another one are never dropped.
//!
//! One chat, end to end:
//!
//! ```no_run
//! # async fn chat(base: &str) -> sim::Result<()> {
//! use std::time::Duration;
//! use protocol::agent_ws::{AgentEvent, AgentServerFrame};
//! use sim::{AgentClient, ApiClient, VisitorClient};
//!
//! let t = Duration::from_secs(5);
//! let mut api = ApiClient::new(base)?;
//! let login = api.login("ada@example.com", "password").await?;
//! let (mut agent, ready) = AgentClient::connect(base, &login.token, None).await?;
//! assert!(matches!(ready, AgentServerFrame::Ready(_)));
//!
//! let mut visitor = VisitorClient::start(base, Some("Zoë"), None).await?;
//! visitor.start_chat("Do you ship to Norway?").await?;
//! let offer = agent.expect_offer(t).await?;
//! agent.accept(offer.id).await?;
//! visitor.expect_agent_joined(t).await?;
//! agent.send_text(offer.conversation_id, "We do!").await?;
//! let reply = visitor.expect_agent_message(t).await?;
//! # let _ = reply;
//! let (_seq, _started) = agent
//!     .expect_event(t, |e| matches!(e, AgentEvent::ConversationStarted { .. }))
//!     .await?;
//! visitor.end_chat().await?;
//! # Ok(())
//! # }
//! ```

pub mod agent;
pub mod error;
pub mod http;
pub mod simulate;
pub mod visitor;
mod ws;

pub use agent::{AgentClient, SeqGap};
pub use error::{Error, Result};
pub use http::{ApiClient, BaseUrl};
pub use simulate::{AgentLogin, SimConfig, SimReport, run};

pub use visitor::{VisitorClient, Welcome};
pub use ws::{CONNECT_TIMEOUT, MAX_BUFFERED_FRAMES, new_client_id};
