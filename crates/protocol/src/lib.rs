//! Agent Inbox wire protocol, version 1.
//!
//! Every type that crosses the network between the chat service, the desktop client and the
//! visitor widget lives here, once. The TypeScript bindings in `bindings/` are generated from
//! these types (`cargo test -p agent-inbox-protocol`), and a test fails when they drift.
//!
//! Shape: REST (JSON under `/api/v1`) for login and reads ([`rest`]); one WebSocket per agent
//! for everything live ([`agent_ws`]); one WebSocket per visitor ([`visitor_ws`]). Errors are
//! always [`ErrorBody`] `{code, message}`.

pub mod agent_ws;
pub mod error;
pub mod model;
pub mod rest;
pub mod ts_check;
pub mod visitor_ws;

pub use error::{ErrorBody, ErrorCode};
pub use model::*;

/// The protocol version spoken by this crate. Sent in `hello` and `ready`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest WebSocket frame or HTTP JSON body either side accepts, in bytes.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Longest chat message text, in characters.
pub const MAX_MESSAGE_CHARS: usize = 5_000;
