//! The UI's TypeScript types (`ui/src/lib/bindings/`) are generated from the Rust types of the
//! engine and the protocol; this test fails when the committed files drift. Rewrite them with
//! `UPDATE_BINDINGS=1 cargo test -p agent-core --test bindings`.

use std::path::{Path, PathBuf};

use ts_rs::TS;

fn export_all(dir: &Path) {
    macro_rules! export {
        ($($t:ty),* $(,)?) => { $( <$t>::export_all_to(dir).expect(stringify!($t)); )* };
    }
    use protocol::rest::*;
    export!(
        agent_core::ClientState,
        agent_core::StateUpdate,
        agent_core::SessionInfo,
        agent_core::CoreEvent,
        agent_core::config::Preferences,
        protocol::AgentSettings,
        protocol::ErrorBody,
        protocol::AgentSummary,
        protocol::CalendarSummary,
        ConversationScope,
        ConversationPage,
        MessagePage,
        ActivityList,
        SlotList,
        LoginResponse,
    );
}

#[test]
fn ui_bindings_match_rust_types() {
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings");
    let stale = protocol::ts_check::check_bindings(&committed, export_all);
    assert!(
        stale.is_empty(),
        "ui/src/lib/bindings drifted from the Rust types: {stale:?}. \
         Run `UPDATE_BINDINGS=1 cargo test -p agent-core --test bindings` and commit."
    );
}
