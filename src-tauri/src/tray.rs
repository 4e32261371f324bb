//! The tray (R1, R8, R9): an icon per status, and a menu with the availability toggle,
//! "Open inbox", a plain "not receiving chats" line when that is true, and Quit.

use std::sync::Mutex;

use agent_core::{ClientState, ConnectionStatus};
use protocol::AvailabilityStatus;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};

pub const TRAY_ID: &str = "agent-inbox";

/// The tray menu's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayItem {
    Available,
    Open,
    NotReceiving,
    Quit,
}

impl TrayItem {
    pub fn id(self) -> &'static str {
        match self {
            TrayItem::Available => "available",
            TrayItem::Open => "open",
            TrayItem::NotReceiving => "not-receiving",
            TrayItem::Quit => "quit",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        [
            TrayItem::Available,
            TrayItem::Open,
            TrayItem::NotReceiving,
            TrayItem::Quit,
        ]
        .into_iter()
        .find(|i| i.id() == id)
    }
}

/// What the tray shows, derived from the engine's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayView {
    pub icon: TrayIconKind,
    pub tooltip: String,
    pub available: bool,
    /// "Not receiving chats: ..." when the agent is available but chats cannot reach them.
    pub not_receiving: Option<String>,
    pub signed_in: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayIconKind {
    Available,
    Unavailable,
    Offline,
    Offer,
}

impl TrayIconKind {
    fn png(self) -> &'static [u8] {
        match self {
            TrayIconKind::Available => include_bytes!("../../icons/tray-available.png"),
            TrayIconKind::Unavailable => include_bytes!("../../icons/tray-unavailable.png"),
            TrayIconKind::Offline => include_bytes!("../../icons/tray-offline.png"),
            TrayIconKind::Offer => include_bytes!("../../icons/tray-offer.png"),
        }
    }
}

/// The tray view for a state (`None` when nobody is signed in).
pub fn view(state: Option<&ClientState>) -> TrayView {
    let Some(state) = state else {
        return TrayView {
            icon: TrayIconKind::Offline,
            tooltip: "Agent Inbox: signed out".into(),
            available: false,
            not_receiving: Some("Not receiving chats: signed out".into()),
            signed_in: false,
        };
    };
    let available = state
        .availability
        .as_ref()
        .is_some_and(|a| a.effective == AvailabilityStatus::Available);
    let not_receiving = match &state.connection {
        ConnectionStatus::Connected => None,
        ConnectionStatus::Connecting => Some("Not receiving chats: connecting…".to_owned()),
        ConnectionStatus::Reconnecting { .. } => {
            Some("Not receiving chats: reconnecting…".to_owned())
        }
        ConnectionStatus::SignedOut { .. } => Some("Not receiving chats: signed out".to_owned()),
        ConnectionStatus::Offline => Some("Not receiving chats: offline".to_owned()),
    }
    .filter(|_| available || !matches!(state.connection, ConnectionStatus::Connected))
    .or_else(|| {
        // Connected and available, but offers cannot pop up outside the window.
        state
            .notifications_problem
            .as_ref()
            .filter(|_| available)
            .map(|_| "Notifications unavailable: answer chats in the window".to_owned())
    });
    let icon = if !state.offers.is_empty() {
        TrayIconKind::Offer
    } else if not_receiving.is_some() {
        TrayIconKind::Offline
    } else if available {
        TrayIconKind::Available
    } else {
        TrayIconKind::Unavailable
    };
    let tooltip = match (icon, state.offers.len()) {
        (TrayIconKind::Offer, n) => format!(
            "Agent Inbox: {n} chat request{} waiting",
            if n == 1 { "" } else { "s" }
        ),
        (TrayIconKind::Offline, _) => {
            format!("Agent Inbox: {}", not_receiving.clone().unwrap_or_default())
        }
        (TrayIconKind::Available, _) => {
            format!("Agent Inbox: available ({} live chats)", state.chats.len())
        }
        (TrayIconKind::Unavailable, _) => "Agent Inbox: unavailable".to_owned(),
    };
    TrayView {
        icon,
        tooltip,
        available,
        not_receiving,
        signed_in: true,
    }
}

fn menu<R: Runtime>(app: &AppHandle<R>, v: &TrayView) -> tauri::Result<Menu<R>> {
    let toggle = CheckMenuItem::with_id(
        app,
        TrayItem::Available.id(),
        "Available",
        v.signed_in,
        v.available,
        None::<&str>,
    )?;
    let open = MenuItem::with_id(app, TrayItem::Open.id(), "Open inbox", true, None::<&str>)?;
    let quit = MenuItem::with_id(
        app,
        TrayItem::Quit.id(),
        "Quit Agent Inbox",
        true,
        None::<&str>,
    )?;
    let sep = PredefinedMenuItem::separator(app)?;
    match &v.not_receiving {
        Some(text) => {
            let line =
                MenuItem::with_id(app, TrayItem::NotReceiving.id(), text, false, None::<&str>)?;
            Menu::with_items(
                app,
                &[
                    &line,
                    &sep,
                    &toggle,
                    &open,
                    &PredefinedMenuItem::separator(app)?,
                    &quit,
                ],
            )
        }
        None => Menu::with_items(app, &[&toggle, &open, &sep, &quit]),
    }
}

/// The last view shown, so the menu is rebuilt only when it changes.
#[derive(Default)]
pub struct Shown(Mutex<Option<TrayView>>);

pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<TrayIcon<R>> {
    let v = view(None);
    let tray = TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(v.icon.png())?)
        .tooltip(&v.tooltip)
        .menu(&menu(app, &v)?)
        .show_menu_on_left_click(false)
        .on_menu_event(on_menu)
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                crate::window::show(tray.app_handle());
            }
        })
        .build(app)?;
    app.manage(Shown::default());
    if let Some(shown) = app.try_state::<Shown>()
        && let Ok(mut s) = shown.0.lock()
    {
        *s = Some(v);
    }
    Ok(tray)
}

/// Brings the tray in line with the state.
pub fn update<R: Runtime>(app: &AppHandle<R>, state: &ClientState) {
    show_view(app, view(Some(state)));
}

pub fn show_view<R: Runtime>(app: &AppHandle<R>, v: TrayView) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let Some(shown) = app.try_state::<Shown>() else {
        return;
    };
    let Ok(mut last) = shown.0.lock() else { return };
    if last.as_ref() == Some(&v) {
        return;
    }
    let result = (|| -> tauri::Result<()> {
        if last.as_ref().map(|l| l.icon) != Some(v.icon) {
            tray.set_icon(Some(Image::from_bytes(v.icon.png())?))?;
        }
        tray.set_tooltip(Some(&v.tooltip))?;
        tray.set_menu(Some(menu(app, &v)?))?;
        Ok(())
    })();
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot update the tray");
    }
    *last = Some(v);
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match TrayItem::from_id(event.id().as_ref()) {
        Some(TrayItem::Open) => crate::window::show(app),
        Some(TrayItem::Quit) => crate::window::quit(app),
        Some(TrayItem::Available) => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let session = app.state::<crate::session::Session>();
                let Some(core) = session.core().await else {
                    return;
                };
                let available = core
                    .state()
                    .availability
                    .as_ref()
                    .is_some_and(|a| a.effective == AvailabilityStatus::Available);
                let next = if available {
                    AvailabilityStatus::Unavailable
                } else {
                    AvailabilityStatus::Available
                };
                if let Err(e) = core.set_availability(Some(next)).await {
                    tracing::warn!(error = %e, "cannot toggle availability from the tray");
                }
            });
        }
        Some(TrayItem::NotReceiving) | None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_core::state::OfferState;
    use protocol::*;

    fn state(connection: ConnectionStatus, available: bool) -> ClientState {
        let status = if available {
            AvailabilityStatus::Available
        } else {
            AvailabilityStatus::Unavailable
        };
        ClientState {
            connection,
            availability: Some(Availability {
                effective: status,
                source: AvailabilitySource::Schedule,
                scheduled: status,
                override_status: None,
                override_until: None,
                next_change: None,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn each_status_has_its_icon_and_the_menu_says_when_chats_cannot_arrive() {
        assert_eq!(
            view(Some(&state(ConnectionStatus::Connected, true))).icon,
            TrayIconKind::Available
        );
        assert_eq!(
            view(Some(&state(ConnectionStatus::Connected, false))).icon,
            TrayIconKind::Unavailable
        );
        let lost = view(Some(&state(
            ConnectionStatus::Reconnecting {
                attempt: 2,
                next_attempt_at: chrono::Utc::now(),
                last_error: "x".into(),
            },
            true,
        )));
        assert_eq!(lost.icon, TrayIconKind::Offline);
        assert_eq!(
            lost.not_receiving.as_deref(),
            Some("Not receiving chats: reconnecting…")
        );
        assert!(
            view(Some(&state(ConnectionStatus::Connected, true)))
                .not_receiving
                .is_none()
        );
        let signed_out = view(None);
        assert!(signed_out.not_receiving.is_some() && !signed_out.signed_in);

        let mut offered = state(ConnectionStatus::Connected, true);
        offered.offers.push(OfferState {
            offer: Offer {
                id: OfferId(1),
                conversation_id: ConversationId(1),
                visitor: VisitorInfo::default(),
                first_message: None,
                created_at: chrono::Utc::now(),
                expires_at: chrono::Utc::now(),
            },
            answering: false,
        });
        let v = view(Some(&offered));
        assert_eq!(v.icon, TrayIconKind::Offer);
        assert!(v.tooltip.contains("1 chat request waiting"));
    }

    #[test]
    fn blocked_notifications_are_said_plainly() {
        let mut s = state(ConnectionStatus::Connected, true);
        s.notifications_problem = Some("no notification server".into());
        let v = view(Some(&s));
        assert_eq!(v.icon, TrayIconKind::Offline);
        assert!(
            v.not_receiving
                .is_some_and(|t| t.contains("Notifications unavailable"))
        );
        // Unavailable agents are not told: they are not receiving chats by choice.
        let mut away = state(ConnectionStatus::Connected, false);
        away.notifications_problem = Some("x".into());
        assert!(view(Some(&away)).not_receiving.is_none());
    }

    #[test]
    fn menu_ids_round_trip() {
        for item in [
            TrayItem::Available,
            TrayItem::Open,
            TrayItem::NotReceiving,
            TrayItem::Quit,
        ] {
            assert_eq!(TrayItem::from_id(item.id()), Some(item));
        }
        assert_eq!(TrayItem::from_id("nope"), None);
    }
}
