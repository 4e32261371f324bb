//! The TypeScript bindings in `crates/protocol/bindings/` are generated from the Rust types.
//! This test regenerates them into a scratch folder and fails when the committed files differ.
//! Run with `UPDATE_BINDINGS=1` to rewrite the committed files after changing a type.

use std::collections::BTreeMap;
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

fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "ts") {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.insert(name, std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
    out
}

#[test]
fn typescript_bindings_match_rust_types() {
    let committed_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bindings");
    let scratch = std::env::temp_dir().join(format!("agent-inbox-bindings-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    export_all(&scratch);
    let fresh = read_tree(&scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(
        fresh.len() > 20,
        "expected many generated types, got {}",
        fresh.len()
    );

    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        let _ = std::fs::remove_dir_all(&committed_dir);
        std::fs::create_dir_all(&committed_dir).expect("create bindings dir");
        for (name, text) in &fresh {
            std::fs::write(committed_dir.join(name), text).expect("write binding");
        }
        return;
    }
    let committed = read_tree(&committed_dir);
    let stale: Vec<_> = fresh
        .iter()
        .filter(|(name, text)| committed.get(*name) != Some(*text))
        .map(|(name, _)| name.clone())
        .chain(
            committed
                .keys()
                .filter(|n| !fresh.contains_key(*n))
                .cloned(),
        )
        .collect();
    assert!(
        stale.is_empty(),
        "TypeScript bindings drifted from the Rust types: {stale:?}. \
         Run `UPDATE_BINDINGS=1 cargo test -p agent-inbox-protocol --test bindings` and commit."
    );
}
