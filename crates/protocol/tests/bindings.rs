//! The TypeScript bindings in `crates/protocol/bindings/` are generated from the Rust types.
//! This test regenerates them into a scratch folder and fails when the committed files differ.
//! Run with `UPDATE_BINDINGS=1` to rewrite the committed files after changing a type.

use std::path::{Path, PathBuf};

use protocol::agent_ws::{AgentCommand, AgentServerFrame};
use protocol::rest::*;
use protocol::visitor_ws::{VisitorCommand, VisitorServerFrame};
use ts_rs::TS;

fn export_all(dir: &Path) {
    macro_rules! export {
        ($($t:ty),* $(,)?) => { $( <$t>::export_all_to(dir).expect(stringify!($t)); )* };
    }
    export!(
        AgentCommand,
        AgentServerFrame,
        VisitorCommand,
        VisitorServerFrame,
        LoginRequest,
        LoginResponse,
        MeResponse,
        SetAvailabilityRequest,
        ConversationScope,
        ConversationPage,
        MessagePage,
        ActivityList,
        SlotList,
        VisitorSessionRequest,
        VisitorSessionResponse,
        BookingRequest,
        Health,
        protocol::AgentSettings,
        protocol::ErrorBody,
    );
}

#[test]
fn typescript_bindings_match_rust_types() {
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bindings");
    let stale = protocol::ts_check::check_bindings(&committed, export_all);
    assert!(
        stale.is_empty(),
        "TypeScript bindings drifted from the Rust types: {stale:?}. \
         Run `UPDATE_BINDINGS=1 cargo test -p agent-inbox-protocol --test bindings` and commit."
    );
}
