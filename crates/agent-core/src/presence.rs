//! R9 presence on Linux: screen lock (the session bus's `ScreenSaver.ActiveChanged`, as GNOME,
//! KDE and others announce it), suspend (logind's `PrepareForSleep` on the system bus) and the
//! network coming back (NetworkManager's `StateChanged` on the system bus).
//!
//! [`watch`] turns those D-Bus signals into [`PresenceSignal`]s; the engine
//! ([`crate::AgentCore::presence`]) makes the agent unavailable while locked or asleep when the
//! agent asked for that, restores what the agent and the schedule chose afterwards, and
//! reconnects at once after a resume or when the network is connected again.

use futures_util::StreamExt;
use tokio::sync::mpsc;

/// Something the OS said about the agent's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceSignal {
    /// The screen was locked (`true`) or unlocked (`false`).
    ScreenLocked(bool),
    /// The machine is about to sleep (`true`) or has resumed (`false`).
    Sleeping(bool),
    /// The network became connected after having been something else (NetworkManager's
    /// state reached `CONNECTED_SITE` or `CONNECTED_GLOBAL`). Reconnects at once; availability
    /// is not touched.
    NetworkConnected,
}

/// NetworkManager's bus name, object and interface (`StateChanged(u32)`, property `State`).
const NETWORK_MANAGER: &str = "org.freedesktop.NetworkManager";
const NETWORK_MANAGER_PATH: &str = "/org/freedesktop/NetworkManager";
/// `NM_STATE_CONNECTED_SITE` and `NM_STATE_CONNECTED_GLOBAL`: a network the service may be
/// reached on (`CONNECTED_LOCAL`, 50, has no route beyond the machine).
const NM_STATE_CONNECTED_SITE: u32 = 60;
const NM_STATE_CONNECTED_GLOBAL: u32 = 70;
/// The longest the watcher waits for NetworkManager's current state at start.
const NM_STATE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn nm_connected(state: u32) -> bool {
    matches!(state, NM_STATE_CONNECTED_SITE | NM_STATE_CONNECTED_GLOBAL)
}

/// Whether NetworkManager going from `previous` (`None`: not known) to `state` means the
/// network came back: connected now, and not connected before (site <-> global is no change).
fn came_online(previous: Option<u32>, state: u32) -> bool {
    nm_connected(state) && !previous.is_some_and(nm_connected)
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
            tracing::info!(
                error = %e,
                "presence: no system bus; suspend and network changes are not followed"
            );
            return;
        }
    };
    tokio::join!(watch_sleep(&conn, tx.clone()), watch_network(&conn, tx));
}

async fn watch_sleep(conn: &zbus::Connection, tx: mpsc::Sender<PresenceSignal>) {
    let stream = match rule("org.freedesktop.login1.Manager", "PrepareForSleep") {
        Ok(r) => zbus::MessageStream::for_match_rule(r, conn, None).await,
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

/// NetworkManager's `State` property now, if it answers (it is not on every machine).
async fn nm_state(conn: &zbus::Connection) -> Option<u32> {
    let call = conn.call_method(
        Some(NETWORK_MANAGER),
        NETWORK_MANAGER_PATH,
        Some("org.freedesktop.DBus.Properties"),
        "Get",
        &(NETWORK_MANAGER, "State"),
    );
    let reply = match tokio::time::timeout(NM_STATE_WAIT, call).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "presence: NetworkManager's state is not known");
            return None;
        }
        Err(_) => {
            tracing::debug!("presence: NetworkManager did not tell its state");
            return None;
        }
    };
    let value = reply.body().deserialize::<zbus::OwnedVariant>().ok()?;
    u32::try_from(&*value).ok()
}

async fn watch_network(conn: &zbus::Connection, tx: mpsc::Sender<PresenceSignal>) {
    let stream = match zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(NETWORK_MANAGER)
        .path(NETWORK_MANAGER_PATH)
        .member("StateChanged")
        .build()
    {
        Ok(r) => zbus::MessageStream::for_match_rule(r, conn, None).await,
        Err(e) => Err(e),
    };
    let mut stream = match stream {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "presence: cannot subscribe to NetworkManager");
            return;
        }
    };
    // Subscribed first, then asked: a change in between is not missed.
    let mut previous = nm_state(conn).await;
    while let Some(message) = stream.next().await {
        let Ok(message) = message else { continue };
        let Ok(state) = message.body().deserialize::<u32>() else {
            tracing::debug!("presence: StateChanged without a u32");
            continue;
        };
        let online = came_online(previous, state);
        previous = Some(state);
        if online {
            tracing::info!(state, "presence: the network is connected again");
            if tx.send(PresenceSignal::NetworkConnected).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_change_to_connected_from_something_else_is_coming_online() {
        // Disconnected, connecting, local only -> site or global: back online.
        for before in [None, Some(20), Some(40), Some(50)] {
            assert!(came_online(before, 70), "{before:?} -> 70");
            assert!(came_online(before, 60), "{before:?} -> 60");
        }
        // Site <-> global, or the same state again: no change of network.
        for before in [Some(60), Some(70)] {
            assert!(!came_online(before, 70), "{before:?} -> 70");
            assert!(!came_online(before, 60), "{before:?} -> 60");
        }
        // Going down or only half-way is not coming online.
        for state in [0, 10, 20, 30, 40, 50] {
            assert!(!came_online(None, state));
            assert!(!came_online(Some(70), state));
        }
    }
}
