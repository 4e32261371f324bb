//! The signed-in session lives in `agent-core` (shared with the web bridge); the shell uses it
//! as its managed state.

pub use agent_core::session::*;
