//! Agent Inbox client engine: everything the desktop app does that needs no window.
//!
//! [`AgentCore`] keeps the agent's WebSocket to the chat service alive (heartbeats, reconnect
//! with backoff and jitter, resume from the last processed sequence), holds the client state
//! that the UI renders, queues what the agent sends while offline in a persistent outbox, and
//! raises native notifications for offers through a [`notifier::Notifier`].

pub mod api_client;
pub mod backoff;
pub mod config;
pub mod credentials;
pub mod engine;
pub mod error;
mod fsutil;
pub mod notifier;
pub mod outbox;
#[cfg(all(unix, not(target_os = "macos")))]
pub mod presence;
pub mod session;
pub mod startup;
pub mod state;
pub mod updates;

pub use api_client::{ApiClient, ServiceUrl};
pub use engine::{AgentCore, CoreEvent, CoreOptions, OfferClosed};
pub use error::{Error, Result};
pub use state::{ClientState, ConnectionStatus, SessionInfo};
pub use updates::{StateUpdate, StateUpdates};
