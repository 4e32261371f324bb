//! The drift check for generated TypeScript bindings, shared by every crate that exports them.

use std::collections::BTreeMap;
use std::path::Path;

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

/// Exports the bindings with `export` into a scratch folder and compares them with the
/// committed folder `committed`. With `UPDATE_BINDINGS` set, rewrites `committed` instead.
/// Returns the names of the files that differ (empty when in step).
pub fn check_bindings(committed: &Path, export: impl FnOnce(&Path)) -> Vec<String> {
    let scratch = std::env::temp_dir().join(format!(
        "agent-inbox-bindings-{}-{}",
        std::process::id(),
        committed.display().to_string().len()
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    export(&scratch);
    let fresh = read_tree(&scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(!fresh.is_empty(), "no bindings were generated");
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        let _ = std::fs::remove_dir_all(committed);
        std::fs::create_dir_all(committed).expect("create the bindings folder");
        for (name, text) in &fresh {
            std::fs::write(committed.join(name), text).expect("write a binding");
        }
        return Vec::new();
    }
    let current = read_tree(committed);
    fresh
        .iter()
        .filter(|(name, text)| current.get(*name) != Some(*text))
        .map(|(name, _)| name.clone())
        .chain(current.keys().filter(|n| !fresh.contains_key(*n)).cloned())
        .collect()
}
