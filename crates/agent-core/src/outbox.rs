//! What the agent sends while disconnected (or before the service acknowledged it), kept in
//! order in a file so that restarting the app loses nothing. Each entry carries its client id;
//! the service applies a command once per id, so replaying the outbox after a reconnect
//! delivers every command exactly once, in order.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use protocol::ClientId;
use protocol::agent_ws::AgentCommand;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::fsutil::write_atomically;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: ClientId,
    pub command: AgentCommand,
    pub queued_at: DateTime<Utc>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct OutboxFile {
    version: u32,
    entries: VecDeque<OutboxEntry>,
}

/// The outbox; persisted after every change when it has a path.
#[derive(Debug)]
pub struct Outbox {
    path: Option<PathBuf>,
    entries: VecDeque<OutboxEntry>,
}

impl Outbox {
    /// An outbox that lives only in memory.
    pub fn in_memory() -> Self {
        Outbox {
            path: None,
            entries: VecDeque::new(),
        }
    }

    /// Opens the outbox file (a missing file is an empty outbox). A file that cannot be read
    /// is moved aside (never deleted) and reported in the log.
    pub fn open(path: &Path) -> Result<Self> {
        let entries = match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<OutboxFile>(&bytes) {
                Ok(file) => file.entries,
                Err(e) => {
                    let aside = path
                        .with_extension(format!("corrupt-{}", Utc::now().format("%Y%m%dT%H%M%S")));
                    tracing::error!(file = %path.display(), error = %e, aside = %aside.display(), "outbox unreadable; moved aside");
                    std::fs::rename(path, &aside).map_err(|e| {
                        crate::Error::io(format!("moving {} aside", path.display()), e)
                    })?;
                    VecDeque::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => VecDeque::new(),
            Err(e) => return Err(crate::Error::io(format!("reading {}", path.display()), e)),
        };
        Ok(Outbox {
            path: Some(path.to_owned()),
            entries,
        })
    }

    fn persist(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let file = OutboxFile {
            version: 1,
            entries: self.entries.clone(),
        };
        let bytes = serde_json::to_vec(&file).map_err(|e| crate::Error::Protocol(e.to_string()))?;
        write_atomically(path, &bytes)
    }

    /// Appends a command and writes the file before returning.
    pub fn push(&mut self, entry: OutboxEntry) -> Result<()> {
        if self.entries.iter().any(|e| e.id == entry.id) {
            return Ok(());
        }
        self.entries.push_back(entry);
        if let Err(e) = self.persist() {
            self.entries.pop_back();
            return Err(e);
        }
        Ok(())
    }

    /// Removes an answered command; returns it.
    pub fn remove(&mut self, id: &str) -> Result<Option<OutboxEntry>> {
        let Some(pos) = self.entries.iter().position(|e| e.id == id) else {
            return Ok(None);
        };
        let entry = self.entries.remove(pos);
        self.persist()?;
        Ok(entry)
    }

    pub fn entries(&self) -> impl Iterator<Item = &OutboxEntry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::ConversationId;

    fn entry(id: &str) -> OutboxEntry {
        OutboxEntry {
            id: id.into(),
            command: AgentCommand::SendMessage {
                id: id.into(),
                conversation_id: ConversationId(1),
                text: format!("text {id}"),
            },
            queued_at: Utc::now(),
        }
    }

    #[test]
    fn survives_a_restart_in_order() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("outbox.json");
        let mut o = Outbox::open(&path).expect("open");
        for id in ["a", "b", "c"] {
            o.push(entry(id)).expect("push");
        }
        o.push(entry("b")).expect("duplicate push is a no-op");
        o.remove("a").expect("remove");
        drop(o);
        let o = Outbox::open(&path).expect("reopen");
        let ids: Vec<_> = o.entries().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
    }

    #[test]
    fn a_corrupt_file_is_moved_aside_not_lost() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("outbox.json");
        std::fs::write(&path, b"{not json").expect("write");
        let o = Outbox::open(&path).expect("open");
        assert!(o.is_empty());
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
            .collect();
        assert_eq!(aside.len(), 1);
        assert_eq!(std::fs::read(aside[0].path()).expect("read"), b"{not json");
    }
}
