//! Agent Inbox client engine: everything the desktop app does that needs no window.
//!
//! [`AgentCore`] keeps the agent's WebSocket to the chat service alive (heartbeats, reconnect
//! with backoff and jitter, resume from the last processed sequence), holds the client state
//! that the UI renders, queues what the agent sends while offline in a persistent outbox, and
//! raises native notifications for offers through a [`notifier::Notifier`].

pub mod api_client;
pub mod config;
pub mod credentials;
pub mod error;
pub mod notifier;

pub use error::{Error, Result};
