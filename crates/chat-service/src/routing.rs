//! R2 routing: one task owns the queue and the open offers, so that routing decisions are
//! made one at a time; the database has the last word on every assignment (see `store`).
//!
//! A waiting chat is offered to one eligible agent at a time: effectively available,
//! connected, below the live-chat limit, without another open offer, and not yet offered this
//! chat in the current round. Among them: fewest live chats, then longest since last offer.
//! Decline, timeout, disconnect or becoming unavailable moves the offer on. When every
//! eligible agent has been tried, the chat waits; a new round starts for it when an agent
//! comes online, becomes available or frees a slot. Visitors are told their queue position.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use protocol::agent_ws::AgentEvent;
use protocol::visitor_ws::VisitorServerFrame;
use protocol::*;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::availability;
use crate::chat;
use crate::config::Config;
use crate::error::Result;
use crate::hub::Hub;
use crate::store::{OfferOutcome, Store};

/// Queued visitors whose position moved hear of it at most this often: when a long queue
/// drains, each offer would otherwise send a frame to every visitor behind it (quadratic in
/// the queue's length). A visitor new to the queue is told at once.
const POSITION_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug)]
enum Msg {
    ChatRequested(ConversationId),
    AgentOnline(AgentId),
    AgentOffline(AgentId),
    AvailabilityChanged(AgentId),
    OfferAccepted {
        offer_id: OfferId,
        conversation_id: ConversationId,
        agent_id: AgentId,
    },
    Decline {
        offer_id: OfferId,
        agent_id: AgentId,
        reply: oneshot::Sender<Result<()>>,
    },
    ChatEnded(AgentId),
    VisitorGone(ConversationId),
    ResendPosition(ConversationId),
    AgentsAvailable(oneshot::Sender<bool>),
    Availability(AgentId, oneshot::Sender<Option<Availability>>),
    OpenOffer(AgentId, oneshot::Sender<Option<OfferId>>),
    Flush(oneshot::Sender<()>),
}

/// The handle through which sockets and handlers talk to the router.
#[derive(Clone)]
pub struct RouterHandle {
    tx: mpsc::Sender<Msg>,
}

impl RouterHandle {
    async fn send(&self, msg: Msg) {
        if self.tx.send(msg).await.is_err() {
            tracing::debug!("router stopped; message dropped during shutdown");
        }
    }
    pub async fn chat_requested(&self, id: ConversationId) {
        self.send(Msg::ChatRequested(id)).await;
    }
    pub async fn agent_online(&self, id: AgentId) {
        self.send(Msg::AgentOnline(id)).await;
    }
    pub async fn agent_offline(&self, id: AgentId) {
        self.send(Msg::AgentOffline(id)).await;
    }
    /// The agent's toggle or settings changed: recompute, publish, route.
    pub async fn availability_changed(&self, id: AgentId) {
        self.send(Msg::AvailabilityChanged(id)).await;
    }
    pub async fn offer_accepted(
        &self,
        offer_id: OfferId,
        conversation_id: ConversationId,
        agent_id: AgentId,
    ) {
        self.send(Msg::OfferAccepted {
            offer_id,
            conversation_id,
            agent_id,
        })
        .await;
    }
    pub async fn decline(&self, offer_id: OfferId, agent_id: AgentId) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.send(Msg::Decline {
            offer_id,
            agent_id,
            reply,
        })
        .await;
        rx.await.unwrap_or(Ok(()))
    }
    pub async fn chat_ended(&self, agent: AgentId) {
        self.send(Msg::ChatEnded(agent)).await;
    }
    pub async fn visitor_gone(&self, id: ConversationId) {
        self.send(Msg::VisitorGone(id)).await;
    }
    pub async fn resend_position(&self, id: ConversationId) {
        self.send(Msg::ResendPosition(id)).await;
    }
    pub async fn agents_available(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        self.send(Msg::AgentsAvailable(tx)).await;
        rx.await.unwrap_or(false)
    }
    /// The agent's availability as the router last computed it (online agents only).
    pub async fn availability(&self, agent: AgentId) -> Option<Availability> {
        let (tx, rx) = oneshot::channel();
        self.send(Msg::Availability(agent, tx)).await;
        rx.await.ok().flatten()
    }
    /// The offer currently open for the agent, if any.
    pub async fn open_offer(&self, agent: AgentId) -> Option<OfferId> {
        let (tx, rx) = oneshot::channel();
        self.send(Msg::OpenOffer(agent, tx)).await;
        rx.await.ok().flatten()
    }
    /// Resolves once the router has handled everything sent before it.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        self.send(Msg::Flush(tx)).await;
        let _ = rx.await;
    }
}

struct OnlineAgent {
    settings: AgentSettings,
    override_status: Option<AvailabilityStatus>,
    override_until: Option<DateTime<Utc>>,
    availability: Availability,
    last_offer_at: DateTime<Utc>,
}

struct OpenOffer {
    offer_id: OfferId,
    agent_id: AgentId,
    deadline: Instant,
}

#[derive(Default)]
struct Round {
    number: u32,
    tried: HashSet<AgentId>,
}

struct Router {
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    offer_timeout: Duration,
    inactivity_timeout: Duration,
    max_live: u32,
    /// Waiting chats, oldest first.
    queue: Vec<ConversationId>,
    open: HashMap<ConversationId, OpenOffer>,
    agent_offer: HashMap<AgentId, ConversationId>,
    rounds: HashMap<ConversationId, Round>,
    online: HashMap<AgentId, OnlineAgent>,
    told: HashMap<ConversationId, (u32, bool)>,
    /// The visitor of each queued chat, so that position updates need no database read.
    visitors: HashMap<ConversationId, VisitorId>,
    next_inactivity_check: Instant,
    /// When moved positions are next sent (`None`: nothing to send).
    positions_due: Option<Instant>,
    positions_sent_at: Instant,
}

/// Starts the router task. Waiting chats of a previous run are queued again; their offers
/// are void.
pub async fn start(
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    config: &Config,
) -> Result<(RouterHandle, tokio::task::JoinHandle<()>)> {
    store.withdraw_all_open_offers(Utc::now()).await?;
    let waiting = store.waiting_conversations().await?;
    let queue = waiting.iter().map(|c| c.id).collect();
    let visitors = waiting.iter().map(|c| (c.id, c.visitor_id)).collect();
    let (tx, rx) = mpsc::channel(4096);
    let router = Router {
        store,
        hub,
        offer_timeout: config.offer_timeout(),
        inactivity_timeout: config.inactivity_timeout(),
        max_live: config.max_live_chats,
        queue,
        open: HashMap::new(),
        agent_offer: HashMap::new(),
        rounds: HashMap::new(),
        online: HashMap::new(),
        told: HashMap::new(),
        visitors,
        next_inactivity_check: Instant::now(),
        positions_due: None,
        positions_sent_at: Instant::now() - POSITION_INTERVAL,
    };
    let task = tokio::spawn(router.run(rx));
    Ok((RouterHandle { tx }, task))
}

impl Router {
    fn inactivity_interval(&self) -> Duration {
        (self.inactivity_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }

    fn next_deadline(&self) -> Instant {
        let mut next = self.next_inactivity_check;
        if let Some(due) = self.positions_due {
            next = next.min(due);
        }
        for o in self.open.values() {
            next = next.min(o.deadline);
        }
        let now_utc = Utc::now();
        for a in self.online.values() {
            if let Some(change) = a.availability.next_change {
                let wait = (change - now_utc).to_std().unwrap_or(Duration::ZERO);
                next = next.min(Instant::now() + wait);
            }
        }
        next
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    if let Err(e) = self.handle(msg).await {
                        tracing::error!(error = %e, "routing step failed");
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    if let Err(e) = self.on_timers().await {
                        tracing::error!(error = %e, "routing timers failed");
                    }
                }
            }
        }
        tracing::debug!("router stopped");
    }

    async fn handle(&mut self, msg: Msg) -> Result<()> {
        match msg {
            Msg::ChatRequested(id) => {
                if !self.queue.contains(&id) {
                    let row = self.store.conversation(id).await?;
                    self.visitors.insert(id, row.visitor_id);
                    self.queue.push(id);
                }
                self.dispatch().await
            }
            Msg::AgentOnline(id) => {
                self.load_agent(id).await?;
                self.new_round_for(id);
                self.dispatch().await
            }
            Msg::AgentOffline(id) => {
                // Another socket of the same agent may have come up meanwhile.
                if self.hub.is_agent_connected(id) {
                    return Ok(());
                }
                self.online.remove(&id);
                self.withdraw_from(id, WithdrawReason::AgentUnavailable)
                    .await?;
                self.dispatch().await
            }
            Msg::AvailabilityChanged(id) => {
                if self.hub.is_agent_connected(id) {
                    self.load_agent(id).await?;
                } else {
                    self.online.remove(&id);
                }
                let availability = match self.online.get(&id) {
                    Some(a) => a.availability.clone(),
                    None => {
                        let rec = self.store.agent(id).await?;
                        availability::compute(
                            &rec.settings,
                            rec.override_status,
                            rec.override_until,
                            Utc::now(),
                        )
                    }
                };
                self.hub.publish(
                    id,
                    AgentEvent::Availability {
                        availability: availability.clone(),
                    },
                );
                if availability.effective == AvailabilityStatus::Available {
                    self.new_round_for(id);
                } else {
                    self.withdraw_from(id, WithdrawReason::AgentUnavailable)
                        .await?;
                }
                self.dispatch().await
            }
            Msg::OfferAccepted {
                offer_id,
                conversation_id,
                agent_id,
            } => {
                if self
                    .open
                    .get(&conversation_id)
                    .is_some_and(|o| o.offer_id == offer_id)
                {
                    self.open.remove(&conversation_id);
                }
                if self.agent_offer.get(&agent_id) == Some(&conversation_id) {
                    self.agent_offer.remove(&agent_id);
                }
                self.forget(conversation_id);
                self.dispatch().await
            }
            Msg::Decline {
                offer_id,
                agent_id,
                reply,
            } => {
                let result = self.decline(offer_id, agent_id).await;
                let _ = reply.send(result);
                self.dispatch().await
            }
            Msg::ChatEnded(agent) => {
                self.new_round_for(agent);
                self.dispatch().await
            }
            Msg::VisitorGone(id) => {
                if let Some(open) = self.open.remove(&id) {
                    self.agent_offer.remove(&open.agent_id);
                    // The store closed the offer when the chat ended.
                    self.hub.publish(
                        open.agent_id,
                        AgentEvent::OfferWithdrawn {
                            offer_id: open.offer_id,
                            conversation_id: id,
                            reason: WithdrawReason::VisitorLeft,
                        },
                    );
                }
                self.forget(id);
                self.dispatch().await
            }
            Msg::ResendPosition(id) => {
                self.told.remove(&id);
                self.tell_positions(false).await;
                Ok(())
            }
            Msg::AgentsAvailable(reply) => {
                let _ = reply.send(self.any_available());
                Ok(())
            }
            Msg::Availability(agent, reply) => {
                let _ = reply.send(self.online.get(&agent).map(|a| a.availability.clone()));
                Ok(())
            }
            Msg::OpenOffer(agent, reply) => {
                let offer = self
                    .agent_offer
                    .get(&agent)
                    .and_then(|c| self.open.get(c))
                    .map(|o| o.offer_id);
                let _ = reply.send(offer);
                Ok(())
            }
            Msg::Flush(reply) => {
                let _ = reply.send(());
                Ok(())
            }
        }
    }

    fn forget(&mut self, id: ConversationId) {
        self.queue.retain(|c| *c != id);
        self.rounds.remove(&id);
        self.told.remove(&id);
        self.visitors.remove(&id);
    }

    fn any_available(&self) -> bool {
        self.online
            .values()
            .any(|a| a.availability.effective == AvailabilityStatus::Available)
    }

    async fn load_agent(&mut self, id: AgentId) -> Result<()> {
        let rec = self.store.agent(id).await?;
        let availability = availability::compute(
            &rec.settings,
            rec.override_status,
            rec.override_until,
            Utc::now(),
        );
        self.online.insert(
            id,
            OnlineAgent {
                settings: rec.settings,
                override_status: rec.override_status,
                override_until: rec.override_until,
                availability,
                last_offer_at: rec.last_offer_at,
            },
        );
        Ok(())
    }

    /// The agent may be offered again the chats whose round already tried them.
    fn new_round_for(&mut self, agent: AgentId) {
        for round in self.rounds.values_mut() {
            if round.tried.contains(&agent) {
                round.number += 1;
                round.tried.clear();
            }
        }
    }

    async fn withdraw_from(&mut self, agent: AgentId, reason: WithdrawReason) -> Result<()> {
        if let Some(conversation_id) = self.agent_offer.remove(&agent)
            && let Some(open) = self.open.remove(&conversation_id)
            && self
                .store
                .close_offer(open.offer_id, OfferOutcome::Withdrawn, Utc::now())
                .await?
        {
            self.hub.publish(
                agent,
                AgentEvent::OfferWithdrawn {
                    offer_id: open.offer_id,
                    conversation_id,
                    reason,
                },
            );
        }
        Ok(())
    }

    async fn decline(&mut self, offer_id: OfferId, agent_id: AgentId) -> Result<()> {
        let row = self.store.offer(offer_id).await?;
        if row.agent_id != agent_id {
            return Err(crate::error::Error::forbidden(
                "this offer was made to another agent",
            ));
        }
        if !self
            .store
            .close_offer(offer_id, OfferOutcome::Declined, Utc::now())
            .await?
        {
            return Err(crate::error::Error::conflict("the offer is no longer open"));
        }
        if self
            .open
            .get(&row.conversation_id)
            .is_some_and(|o| o.offer_id == offer_id)
        {
            self.open.remove(&row.conversation_id);
        }
        self.agent_offer.remove(&agent_id);
        self.hub.publish(
            agent_id,
            AgentEvent::OfferWithdrawn {
                offer_id,
                conversation_id: row.conversation_id,
                reason: WithdrawReason::Declined,
            },
        );
        Ok(())
    }

    async fn on_timers(&mut self) -> Result<()> {
        let now = Instant::now();
        if self.positions_due.is_some_and(|due| due <= now) {
            self.tell_positions(true).await;
        }
        // Offers whose window passed.
        let expired: Vec<(ConversationId, OfferId, AgentId)> = self
            .open
            .iter()
            .filter(|(_, o)| o.deadline <= now)
            .map(|(c, o)| (*c, o.offer_id, o.agent_id))
            .collect();
        for (conversation_id, offer_id, agent_id) in expired {
            self.open.remove(&conversation_id);
            self.agent_offer.remove(&agent_id);
            if self
                .store
                .close_offer(offer_id, OfferOutcome::Expired, Utc::now())
                .await?
            {
                self.hub.publish(
                    agent_id,
                    AgentEvent::OfferWithdrawn {
                        offer_id,
                        conversation_id,
                        reason: WithdrawReason::Expired,
                    },
                );
            }
        }
        // Schedule boundaries and lapsed toggles.
        let now_utc = Utc::now();
        let due: Vec<AgentId> = self
            .online
            .iter()
            .filter(|(_, a)| a.availability.next_change.is_some_and(|c| c <= now_utc))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(a) = self.online.get_mut(&id) else {
                continue;
            };
            let before = a.availability.effective;
            a.availability =
                availability::compute(&a.settings, a.override_status, a.override_until, now_utc);
            let availability = a.availability.clone();
            self.hub.publish(
                id,
                AgentEvent::Availability {
                    availability: availability.clone(),
                },
            );
            if availability.effective != before {
                if availability.effective == AvailabilityStatus::Available {
                    self.new_round_for(id);
                } else {
                    self.withdraw_from(id, WithdrawReason::AgentUnavailable)
                        .await?;
                }
            }
        }
        // R2: inactive live chats end by themselves.
        if self.next_inactivity_check <= now {
            self.next_inactivity_check = now + self.inactivity_interval();
            let before =
                now_utc - chrono::Duration::from_std(self.inactivity_timeout).unwrap_or_default();
            let ended = self.store.end_inactive(before, now_utc).await?;
            for row in ended {
                if let Some(agent) = row.agent_id {
                    self.hub.publish(
                        agent,
                        AgentEvent::ConversationEnded {
                            conversation_id: row.id,
                            reason: EndReason::Inactivity,
                        },
                    );
                    self.new_round_for(agent);
                }
                self.hub.send_visitor(
                    row.visitor_id,
                    &VisitorServerFrame::ChatEnded {
                        conversation_id: row.id,
                        reason: EndReason::Inactivity,
                    },
                );
            }
        }
        self.dispatch().await
    }

    /// Offers every waiting chat that can be offered, then tells visitors their positions.
    async fn dispatch(&mut self) -> Result<()> {
        // Agents who could take an offer now; the queue is walked only while one is left.
        let mut free: Vec<AgentId> = self
            .online
            .iter()
            .filter(|(id, a)| {
                a.availability.effective == AvailabilityStatus::Available
                    && !self.agent_offer.contains_key(id)
                    && self.hub.is_agent_connected(**id)
            })
            .map(|(id, _)| *id)
            .collect();
        if !free.is_empty() && self.queue.iter().any(|c| !self.open.contains_key(c)) {
            let live = self.store.live_counts().await?;
            let live_of = |id: &AgentId| live.get(id).copied().unwrap_or(0);
            free.retain(|id| live_of(id) < self.max_live);
            let queue = self.queue.clone();
            for conversation_id in queue {
                if free.is_empty() {
                    break;
                }
                if self.open.contains_key(&conversation_id) {
                    continue;
                }
                let round = self.rounds.entry(conversation_id).or_default();
                let number = round.number;
                let online = &self.online;
                let candidate = free
                    .iter()
                    .filter(|id| !round.tried.contains(id))
                    .min_by_key(|id| {
                        let last = online.get(id).map(|a| a.last_offer_at);
                        (live_of(id), last, **id)
                    })
                    .copied();
                let Some(agent_id) = candidate else { continue };
                let now = Utc::now();
                let expires =
                    now + chrono::Duration::from_std(self.offer_timeout).unwrap_or_default();
                let created = self
                    .store
                    .create_offer(conversation_id, agent_id, number, now, expires)
                    .await?;
                if let Some(round) = self.rounds.get_mut(&conversation_id) {
                    round.tried.insert(agent_id);
                }
                let Some(row) = created else {
                    // No longer waiting (accepted, ended, left a message): drop it from the queue.
                    if self.store.conversation(conversation_id).await?.status
                        != ConversationStatus::Waiting
                    {
                        self.forget(conversation_id);
                    }
                    continue;
                };
                free.retain(|a| *a != agent_id);
                if let Some(a) = self.online.get_mut(&agent_id) {
                    a.last_offer_at = now;
                }
                self.open.insert(
                    conversation_id,
                    OpenOffer {
                        offer_id: row.id,
                        agent_id,
                        deadline: Instant::now() + self.offer_timeout,
                    },
                );
                self.agent_offer.insert(agent_id, conversation_id);
                let offer = chat::build_offer(self.store.as_ref(), &row).await?;
                self.hub.publish(agent_id, AgentEvent::Offer { offer });
            }
        }
        self.positions_changed().await;
        Ok(())
    }

    /// Tells new visitors their position now, and the others whose position moved within
    /// [`POSITION_INTERVAL`].
    async fn positions_changed(&mut self) {
        let now = Instant::now();
        if now >= self.positions_sent_at + POSITION_INTERVAL {
            self.tell_positions(true).await;
        } else {
            self.tell_positions(false).await;
            if self.positions_due.is_none() {
                self.positions_due = Some(self.positions_sent_at + POSITION_INTERVAL);
            }
        }
    }

    /// Sends queue positions that changed: to every queued visitor when `all`, otherwise only
    /// to visitors not told anything yet.
    async fn tell_positions(&mut self, all: bool) {
        let available = self.any_available();
        let mut updates = Vec::new();
        for (i, id) in self.queue.iter().enumerate() {
            let position = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let told = self.told.get(id);
            if (all || told.is_none()) && told != Some(&(position, available)) {
                updates.push((*id, position));
            }
        }
        if all {
            self.positions_due = None;
            self.positions_sent_at = Instant::now();
        }
        for (id, position) in updates {
            self.told.insert(id, (position, available));
            let visitor = match self.visitors.get(&id) {
                Some(v) => *v,
                None => match self.store.conversation(id).await {
                    Ok(row) => row.visitor_id,
                    Err(e) => {
                        tracing::warn!(error = %e, conversation = %id, "cannot tell queue position");
                        continue;
                    }
                },
            };
            let frame = VisitorServerFrame::Queued {
                conversation_id: id,
                position,
                agents_available: available,
            };
            self.hub.send_visitor(visitor, &frame);
        }
    }
}
