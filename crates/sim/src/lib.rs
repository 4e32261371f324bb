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
