//! R9 presence on Linux: screen lock (the session bus's `ScreenSaver.ActiveChanged`, as GNOME,
//! KDE and others announce it) and suspend (logind's `PrepareForSleep` on the system bus).
//!
//! [`watch`] turns those D-Bus signals into [`PresenceSignal`]s; the engine
//! ([`crate::AgentCore::presence`]) makes the agent unavailable while locked or asleep when the
//! agent asked for that, restores what the agent and the schedule chose afterwards, and
//! reconnects at once after a resume.

use futures_util::StreamExt;
use tokio::sync::mpsc;

/// Something the OS said about the agent's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceSignal {
    /// The screen was locked (`true`) or unlocked (`false`).
    ScreenLocked(bool),
    /// The machine is about to sleep (`true`) or has resumed (`false`).
    Sleeping(bool),
}

/// Interfaces that announce a locked screen with `ActiveChanged(bool)`.
const SCREENSAVERS: [&str; 3] = [
    "org.freedesktop.ScreenSaver",
    "org.gnome.ScreenSaver",
    "org.mate.ScreenSaver",
];

/// Watches the session and system buses on a thread of their own and sends what they say to
/// `tx`. A missing bus is logged and skipped (the app works without presence).
pub fn watch(tx: mpsc::Sender<PresenceSignal>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("presence".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::warn!(error = %e, "presence: no runtime");
                    return;
                }
            };
            runtime.block_on(async {
                tokio::join!(watch_session(tx.clone()), watch_system(tx));
            });
        })
}

fn rule(interface: &'static str, member: &'static str) -> zbus::Result<zbus::MatchRule<'static>> {
    zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(interface)
        .member(member)
        .build()
}

async fn watch_session(tx: mpsc::Sender<PresenceSignal>) {
    let conn = match zbus::Connection::session().await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(error = %e, "presence: no session bus; screen lock is not followed");
            return;
        }
    };
    let mut streams = Vec::new();
    for interface in SCREENSAVERS {
        match rule(interface, "ActiveChanged") {
            Ok(r) => match zbus::MessageStream::for_match_rule(r, &conn, None).await {
                Ok(s) => streams.push(s),
                Err(e) => tracing::warn!(error = %e, interface, "presence: cannot subscribe"),
            },
            Err(e) => tracing::warn!(error = %e, interface, "presence: bad match rule"),
        }
    }
    let mut all = futures_util::stream::select_all(streams);
    while let Some(message) = all.next().await {
        let Ok(message) = message else { continue };
        match message.body().deserialize::<bool>() {
            Ok(locked) => {
                if tx.send(PresenceSignal::ScreenLocked(locked)).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::debug!(error = %e, "presence: ActiveChanged without a boolean"),
        }
    }
}

async fn watch_system(tx: mpsc::Sender<PresenceSignal>) {
    let conn = match zbus::Connection::system().await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(error = %e, "presence: no system bus; suspend is not followed");
            return;
        }
    };
    let stream = match rule("org.freedesktop.login1.Manager", "PrepareForSleep") {
        Ok(r) => zbus::MessageStream::for_match_rule(r, &conn, None).await,
        Err(e) => Err(e),
    };
    let mut stream = match stream {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "presence: cannot subscribe to logind");
            return;
        }
    };
    while let Some(message) = stream.next().await {
        let Ok(message) = message else { continue };
        if let Ok(sleeping) = message.body().deserialize::<bool>()
            && tx.send(PresenceSignal::Sleeping(sleeping)).await.is_err()
        {
            return;
        }
    }
}
