//! Who is connected, and the per-agent sequenced event streams.
//!
//! Every event for an agent gets the next sequence number of that agent and is kept in a
//! bounded ring so that a client reconnecting within the same epoch (run of the service) is
//! replayed exactly what it missed. Frames are serialised once and fanned out to the agent's
//! sockets through bounded channels; a socket whose channel is full is dropped (policy: the
//! client reconnects and resumes), so a slow client never slows the others.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use protocol::agent_ws::{AgentEvent, AgentServerFrame, ResumeFrom};
use protocol::visitor_ws::VisitorServerFrame;
use protocol::{AgentId, VisitorId};
use tokio::sync::mpsc;

/// A serialised frame, shared by every socket it goes to.
pub type Frame = Arc<str>;

/// Frames queued per socket before it counts as too slow and is dropped.
pub const SOCKET_QUEUE: usize = 1024;

struct Conn {
    id: u64,
    tx: mpsc::Sender<Frame>,
    /// The hash of the token the socket was opened with (agents only).
    token_hash: String,
}

#[derive(Default)]
struct AgentStream {
    last_seq: u64,
    ring: VecDeque<(u64, Frame)>,
    conns: Vec<Conn>,
    /// Answers to recent commands by client id, so that a retried command is answered, not
    /// applied again.
    answered: HashMap<String, Frame>,
    answered_order: VecDeque<String>,
    /// Sockets dropped because their token was revoked.
    signed_out: Vec<u64>,
}

/// How an attached agent socket starts.
pub enum AgentStart {
    /// Send a fresh snapshot whose sequence is `seq`.
    Snapshot { seq: u64 },
    /// Send `Resumed`, then `replay` (events `from..=to`), then the live stream.
    Resumed {
        from: u64,
        to: u64,
        replay: Vec<Frame>,
    },
}

pub struct AgentAttachment {
    pub conn_id: u64,
    pub rx: mpsc::Receiver<Frame>,
    pub start: AgentStart,
    /// Whether this is the agent's first open socket.
    pub first: bool,
}

pub struct Hub {
    epoch: String,
    resume_buffer: usize,
    next_conn: AtomicU64,
    agents: Mutex<HashMap<AgentId, AgentStream>>,
    visitors: Mutex<HashMap<VisitorId, Vec<Conn>>>,
}

const ANSWERED_KEEP: usize = 2048;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these maps half-updated in a way that
    // matters more than losing the service; keep serving.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn to_frame<T: serde::Serialize>(value: &T) -> Frame {
    match serde_json::to_string(value) {
        Ok(s) => s.into(),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a frame");
            Arc::from("{}")
        }
    }
}

impl Hub {
    pub fn new(resume_buffer: usize) -> Self {
        let epoch = uuid::Uuid::new_v4().simple().to_string();
        Hub {
            epoch,
            resume_buffer: resume_buffer.max(1),
            next_conn: AtomicU64::new(1),
            agents: Mutex::new(HashMap::new()),
            visitors: Mutex::new(HashMap::new()),
        }
    }

    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Appends an event to the agent's stream and sends it to their open sockets.
    pub fn publish(&self, agent: AgentId, event: AgentEvent) -> u64 {
        let mut agents = lock(&self.agents);
        let stream = agents.entry(agent).or_default();
        stream.last_seq += 1;
        let seq = stream.last_seq;
        let frame = to_frame(&AgentServerFrame::Event { seq, event });
        stream.ring.push_back((seq, frame.clone()));
        while stream.ring.len() > self.resume_buffer {
            stream.ring.pop_front();
        }
        fan_out(&mut stream.conns, &frame, agent);
        seq
    }

    /// Sends an unsequenced frame (typing) to the agent's open sockets.
    pub fn send_agent(&self, agent: AgentId, frame: &AgentServerFrame) {
        let mut agents = lock(&self.agents);
        if let Some(stream) = agents.get_mut(&agent)
            && !stream.conns.is_empty()
        {
            let frame = to_frame(frame);
            fan_out(&mut stream.conns, &frame, agent);
        }
    }

    /// Registers an agent socket. With a resume point inside the ring of this epoch, the
    /// missed events are returned for replay; otherwise the socket starts from a snapshot.
    pub fn attach_agent(
        &self,
        agent: AgentId,
        resume: Option<&ResumeFrom>,
        token_hash: &str,
    ) -> AgentAttachment {
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE);
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let mut agents = lock(&self.agents);
        let stream = agents.entry(agent).or_default();
        let first = stream.conns.is_empty();
        stream.conns.push(Conn {
            id: conn_id,
            tx,
            token_hash: token_hash.to_owned(),
        });
        let last = stream.last_seq;
        let oldest = stream.ring.front().map_or(last + 1, |(s, _)| *s);
        let start = match resume {
            Some(r) if r.epoch == self.epoch && r.seq <= last && r.seq + 1 >= oldest => {
                AgentStart::Resumed {
                    from: r.seq + 1,
                    to: last,
                    replay: stream
                        .ring
                        .iter()
                        .filter(|(s, _)| *s > r.seq)
                        .map(|(_, f)| f.clone())
                        .collect(),
                }
            }
            _ => AgentStart::Snapshot { seq: last },
        };
        AgentAttachment {
            conn_id,
            rx,
            start,
            first,
        }
    }

    /// Unregisters an agent socket; returns whether it was the agent's last one.
    pub fn detach_agent(&self, agent: AgentId, conn_id: u64) -> bool {
        let mut agents = lock(&self.agents);
        let Some(stream) = agents.get_mut(&agent) else {
            return true;
        };
        let before = stream.conns.len();
        stream.conns.retain(|c| c.id != conn_id);
        before > 0 && stream.conns.is_empty()
    }

    /// Drops the agent's sockets opened with a token that was just revoked (logout).
    pub fn sign_out(&self, agent: AgentId, token_hash: &str) {
        let mut agents = lock(&self.agents);
        if let Some(stream) = agents.get_mut(&agent) {
            let (gone, kept): (Vec<Conn>, Vec<Conn>) = stream
                .conns
                .drain(..)
                .partition(|c| c.token_hash == token_hash);
            stream.conns = kept;
            stream.signed_out.extend(gone.iter().map(|c| c.id));
        }
    }

    /// Whether the socket was dropped by [`Hub::sign_out`] (consumes the mark).
    pub fn was_signed_out(&self, agent: AgentId, conn_id: u64) -> bool {
        let mut agents = lock(&self.agents);
        let Some(stream) = agents.get_mut(&agent) else {
            return false;
        };
        let before = stream.signed_out.len();
        stream.signed_out.retain(|id| *id != conn_id);
        before != stream.signed_out.len()
    }

    pub fn is_agent_connected(&self, agent: AgentId) -> bool {
        lock(&self.agents)
            .get(&agent)
            .is_some_and(|s| !s.conns.is_empty())
    }

    /// The answer already given to a command id, if any.
    pub fn answered(&self, agent: AgentId, client_id: &str) -> Option<Frame> {
        lock(&self.agents)
            .get(&agent)
            .and_then(|s| s.answered.get(client_id).cloned())
    }

    pub fn remember_answer(&self, agent: AgentId, client_id: &str, frame: Frame) {
        let mut agents = lock(&self.agents);
        let stream = agents.entry(agent).or_default();
        if stream
            .answered
            .insert(client_id.to_owned(), frame)
            .is_none()
        {
            stream.answered_order.push_back(client_id.to_owned());
            while stream.answered_order.len() > ANSWERED_KEEP {
                if let Some(old) = stream.answered_order.pop_front() {
                    stream.answered.remove(&old);
                }
            }
        }
    }

    pub fn attach_visitor(&self, visitor: VisitorId) -> (u64, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE);
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        lock(&self.visitors).entry(visitor).or_default().push(Conn {
            id: conn_id,
            tx,
            token_hash: String::new(),
        });
        (conn_id, rx)
    }

    pub fn detach_visitor(&self, visitor: VisitorId, conn_id: u64) {
        let mut visitors = lock(&self.visitors);
        if let Some(conns) = visitors.get_mut(&visitor) {
            conns.retain(|c| c.id != conn_id);
            if conns.is_empty() {
                visitors.remove(&visitor);
            }
        }
    }

    pub fn send_visitor(&self, visitor: VisitorId, frame: &VisitorServerFrame) {
        let mut visitors = lock(&self.visitors);
        if let Some(conns) = visitors.get_mut(&visitor) {
            let frame = to_frame(frame);
            conns.retain(|c| match c.tx.try_send(frame.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(visitor = %visitor, "visitor socket too slow; dropping it");
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        }
    }

    /// Counts of open sockets (agents, visitors).
    pub fn connection_counts(&self) -> (usize, usize) {
        let a = lock(&self.agents).values().map(|s| s.conns.len()).sum();
        let v = lock(&self.visitors).values().map(Vec::len).sum();
        (a, v)
    }
}

fn fan_out(conns: &mut Vec<Conn>, frame: &Frame, agent: AgentId) {
    conns.retain(|c| match c.tx.try_send(frame.clone()) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::warn!(agent = %agent, "agent socket too slow; dropping it so it resumes");
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{ConversationId, MessageId};

    fn ev(n: i64) -> AgentEvent {
        AgentEvent::Read {
            conversation_id: ConversationId(1),
            message_id: MessageId(n),
        }
    }

    #[test]
    fn resume_replays_exactly_the_missed_events() {
        let hub = Hub::new(10);
        let a = AgentId(1);
        for n in 1..=5 {
            hub.publish(a, ev(n));
        }
        let resume = ResumeFrom {
            epoch: hub.epoch().to_owned(),
            seq: 3,
        };
        let att = hub.attach_agent(a, Some(&resume), "t");
        match att.start {
            AgentStart::Resumed { from, to, replay } => {
                assert_eq!((from, to, replay.len()), (4, 5, 2));
                assert!(replay[0].contains("\"seq\":4"));
            }
            AgentStart::Snapshot { .. } => panic!("expected a resume"),
        }
    }

    #[test]
    fn too_far_behind_or_other_epoch_gets_a_snapshot() {
        let hub = Hub::new(3);
        let a = AgentId(1);
        for n in 1..=10 {
            hub.publish(a, ev(n));
        }
        let old = ResumeFrom {
            epoch: hub.epoch().to_owned(),
            seq: 2,
        };
        assert!(matches!(
            hub.attach_agent(a, Some(&old), "t").start,
            AgentStart::Snapshot { seq: 10 }
        ));
        let other = ResumeFrom {
            epoch: "previous-run".into(),
            seq: 9,
        };
        assert!(matches!(
            hub.attach_agent(a, Some(&other), "t").start,
            AgentStart::Snapshot { seq: 10 }
        ));
        let edge = ResumeFrom {
            epoch: hub.epoch().to_owned(),
            seq: 7,
        };
        assert!(matches!(
            hub.attach_agent(a, Some(&edge), "t").start,
            AgentStart::Resumed {
                from: 8,
                to: 10,
                ..
            }
        ));
    }

    #[test]
    fn a_slow_socket_is_dropped_not_waited_for() {
        let hub = Hub::new(10);
        let a = AgentId(1);
        let att = hub.attach_agent(a, None, "t");
        for n in 0..=(SOCKET_QUEUE as i64) {
            hub.publish(a, ev(n));
        }
        assert!(!hub.is_agent_connected(a));
        drop(att);
    }
}
