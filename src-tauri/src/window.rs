//! The main window (R8): closing hides it to the tray, focus is told to the engine (message
//! notifications only when unfocused), offers ask for attention, Quit really quits.

use std::sync::atomic::{AtomicBool, Ordering};

use tauri::webview::{PageLoadEvent, PageLoadPayload};
use tauri::{
    AppHandle, Manager, Runtime, UserAttentionType, Webview, WebviewWindow, Window, WindowEvent,
};

pub const MAIN: &str = "main";

/// Set once the main window has been shown at start.
static SHOWN_AT_START: AtomicBool = AtomicBool::new(false);

/// The main window starts hidden (tauri.conf.json) and shows once its page has loaded, the
/// first time only. Shown earlier, WebKitGTK draws the empty view and, while the web process
/// is still starting, holds the app's main thread up to 500 ms for its first frame (a
/// timed-out wait in `webkit_web_view_base`'s draw, seen with `strace -k`), which cost 2 of
/// 5 cold starts ~500 ms (issue 5, P6); and the agent saw a blank window meanwhile.
pub fn on_page_load<R: Runtime>(webview: &Webview<R>, payload: &PageLoadPayload<'_>) {
    if payload.event() == PageLoadEvent::Finished
        && webview.label() == MAIN
        && !SHOWN_AT_START.swap(true, Ordering::SeqCst)
    {
        show(webview.app_handle());
    }
}

/// Should the page never finish loading (a web process that died while starting), the window
/// still shows, blank or not, after this long.
const SHOW_AT_START_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The fallback for [`on_page_load`]: shows the main window [`SHOW_AT_START_WITHIN`] after the
/// start if its page has not shown it by then.
pub fn show_at_start_anyway<R: Runtime>(app: AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(SHOW_AT_START_WITHIN).await;
        if !SHOWN_AT_START.swap(true, Ordering::SeqCst) {
            tracing::warn!("the window's page has not loaded; showing the window anyway");
            show(&app);
        }
    });
}

/// Set when Quit was chosen, so that exit is not prevented.
pub static QUITTING: AtomicBool = AtomicBool::new(false);

/// Turns launch at login on or off (the autostart plugin on desktop).
pub struct Autostart(pub Box<dyn Fn(bool) + Send + Sync>);

fn main_window<R: Runtime>(app: &AppHandle<R>) -> Option<WebviewWindow<R>> {
    app.get_webview_window(MAIN)
}

pub fn show<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = main_window(app) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// R9: an offer waiting asks for the agent's attention (taskbar flash / urgency hint).
pub fn request_attention<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = main_window(app)
        && !w.is_focused().unwrap_or(false)
    {
        let _ = w.request_user_attention(Some(UserAttentionType::Critical));
    }
}

pub fn quit<R: Runtime>(app: &AppHandle<R>) {
    QUITTING.store(true, Ordering::SeqCst);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        app.state::<crate::session::Session>().shutdown().await;
        app.exit(0);
    });
}

/// Window events: close hides, focus goes to the engine.
pub fn on_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    match event {
        WindowEvent::CloseRequested { api, .. } if window.label() == MAIN => {
            api.prevent_close();
            let _ = window.hide();
            tell_focus(window.app_handle(), false);
        }
        WindowEvent::Focused(focused) if window.label() == MAIN => {
            tell_focus(window.app_handle(), *focused)
        }
        _ => {}
    }
}

fn tell_focus<R: Runtime>(app: &AppHandle<R>, focused: bool) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Some(core) = app.state::<crate::session::Session>().core().await {
            core.set_focused(focused);
        }
    });
}
