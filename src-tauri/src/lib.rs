//! Agent Inbox desktop app: a thin Tauri 2 shell over `agent-core`. Commands and events are
//! typed end to end (the UI's TypeScript types are generated from the Rust ones); the shell
//! adds the window, the tray, launch at login, and the keychain-backed session.

pub mod commands;
pub mod events;
pub mod session;
pub mod tray;
pub mod window;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use agent_core::config::ConfigFile;
use agent_core::notifier::{DesktopNotifier, Notifier};
use tauri::{AppHandle, Manager, RunEvent, Runtime};

use crate::session::{OnStart, Session};

/// Where the app keeps its files, and whether it has a tray.
pub struct Paths {
    pub prefs: ConfigFile,
    pub data_dir: PathBuf,
    /// Checks the desktop's notification service at sign-in (R9).
    pub check_notifications: Option<session::NotificationCheck>,
    /// Create the tray icon (off in tests on the mock runtime, which has no GTK).
    pub tray: bool,
}

impl Paths {
    pub fn from_environment() -> Self {
        let prefs = session::default_preferences();
        let data_dir = session::default_data_dir();
        Paths {
            prefs,
            data_dir,
            tray: true,
            check_notifications: Some(Arc::new(check_notifications)),
        }
    }
}

/// Adds the app's commands, window behaviour, tray and session to a builder (the real one in
/// [`run`], or `tauri::test::mock_builder()` in tests).
pub fn build<R: Runtime>(
    builder: tauri::Builder<R>,
    notifier: Arc<dyn Notifier>,
    paths: Paths,
    autostart: impl Fn(&AppHandle<R>, bool) + Send + Sync + 'static,
) -> tauri::Builder<R> {
    builder
        .invoke_handler(tauri::generate_handler![
            commands::session_restore,
            commands::login,
            commands::logout,
            commands::get_state,
            commands::accept_offer,
            commands::decline_offer,
            commands::send_message,
            commands::dismiss_pending,
            commands::set_typing,
            commands::end_chat,
            commands::mark_read,
            commands::share_calendar,
            commands::set_availability,
            commands::list_conversations,
            commands::get_messages,
            commands::get_visitor,
            commands::get_activities,
            commands::get_transcript,
            commands::save_transcript,
            commands::list_calendars,
            commands::get_slots,
            commands::get_settings,
            commands::put_settings,
            commands::get_preferences,
            commands::put_preferences,
            commands::report_startup,
        ])
        .on_window_event(window::on_event)
        .on_page_load(window::on_page_load)
        .setup(move |app| {
            let handle = app.handle().clone();
            let on_start: OnStart = Box::new(move |core| events::forward(handle.clone(), core));
            app.manage(Session::new(
                paths.prefs.clone(),
                paths.data_dir.clone(),
                notifier.clone(),
                on_start,
                paths.check_notifications.clone(),
            ));
            let handle = app.handle().clone();
            let autostart = Arc::new(autostart);
            app.manage(window::Autostart(Box::new(move |on| {
                autostart(&handle, on)
            })));
            if !paths.tray {
                tracing::debug!("running without a tray");
            } else if let Err(e) = tray::create(app.handle()) {
                // No tray host: the window still works; closing it would hide the app, so
                // keep it open instead.
                tracing::warn!(error = %e, "no system tray");
            }
            follow_presence(app.handle().clone());
            window::show_at_start_anyway(app.handle().clone());
            // Sign in at start: the keychain session, or the demo agent from the environment.
            // The window's first question (session_restore) waits for the outcome.
            app.state::<Session>().expect_sign_in_at_start();
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                handle.state::<Session>().sign_in_at_start().await;
            });
            Ok(())
        })
}

/// R9: screen lock and suspend reach the engine; the agent's preference decides whether
/// they change availability (a resume always reconnects at once).
fn follow_presence<R: Runtime>(app: AppHandle<R>) {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        if let Err(e) = agent_core::presence::watch(tx) {
            tracing::warn!(error = %e, "presence is not followed");
            return;
        }
        tauri::async_runtime::spawn(async move {
            while let Some(signal) = rx.recv().await {
                let session = app.state::<Session>();
                let follow = session
                    .preferences()
                    .map(|p| p.presence_follows_lock)
                    .unwrap_or(false);
                if let Some(core) = session.core().await {
                    tracing::info!(?signal, follow, "presence");
                    core.presence(signal, follow);
                }
            }
        });
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    let _ = app;
}

/// Whether the desktop's notification service can raise offers with Accept and Decline.
fn check_notifications() -> Option<String> {
    match DesktopNotifier::server_capabilities() {
        Err(e) => Some(format!(
            "Desktop notifications are unavailable ({e}): chat requests only show in this window."
        )),
        Ok(caps) if !caps.iter().any(|c| c == "actions") => Some(
            "Desktop notifications cannot show Accept and Decline: answer chat requests in this window.".to_owned(),
        ),
        Ok(_) => None,
    }
}

/// WebKitGTK's DMABUF renderer (accelerated compositing through GBM and Mesa) costs the web
/// process about 100 MiB at idle, for a window that needs no GPU: the whole app is 333 MiB PSS
/// with it and 234 MiB without (bench/app-vs-chromium.sh, issue 5 P1). WebKit reads the
/// variable when the first web view is made, so it is set here, first thing in `main`, while
/// the process has one thread (`g_setenv` is not thread-safe; glib's safe wrapper, since
/// `std::env::set_var` needs `unsafe`, which this workspace forbids). It used to re-execute the
/// whole app with the variable set, which cost ~70 ms of a ~550 ms start (P6).
///
/// Without that renderer nothing in this process draws with GL, so GDK's GL is off too
/// (`GDK_GL=disable`): otherwise GTK probes GLX at start to pick a GL-capable visual, which on
/// an X server where no GTK app has done so yet (GTK caches the answer in the root window's
/// `GDK_VISUALS`) loads Mesa and LLVM into the app and took 300-500 ms of the first launch
/// (P6).
///
/// WebKit also tells each web process which DRM render node to use, and finds it by
/// initialising EGL in this process (`WEBKIT_WEB_RENDER_DEVICE_FILE` unset): that loads Mesa and
/// LLVM here for an answer only the DMABUF renderer uses, and costs the app 17 MiB PSS at idle
/// (25 MiB in this process, part of it now counted in the web process, which maps the same
/// libraries for its own compositing; issue 5 P1). So the variable names the first render node
/// in `/dev/dri`, or `/dev/null` where there is none (Xvfb, most VMs).
///
/// An explicit `WEBKIT_DISABLE_DMABUF_RENDERER` (any value) or `AGENT_INBOX_GPU=1` keeps
/// WebKit's and GDK's own choice; so does an explicit value of either other variable.
///
/// Public for the benchmark's WebKitGTK floor (examples/webkit_floor.rs), which starts WebKit
/// the same way.
#[cfg(target_os = "linux")]
pub fn without_gl_rendering() {
    const VAR: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";
    if std::env::var_os("AGENT_INBOX_GPU").is_some_and(|v| v == "1")
        || std::env::var_os(VAR).is_some()
    {
        return;
    }
    let render_node = render_node(Path::new("/dev/dri"));
    for (var, value) in [
        (VAR, "1"),
        ("GDK_GL", "disable"),
        ("WEBKIT_WEB_RENDER_DEVICE_FILE", render_node.as_str()),
    ] {
        if let Err(e) = glib::setenv(var, value, false) {
            eprintln!("agent-inbox: cannot set {var}={value} ({e}); left to WebKit and GTK");
        }
    }
}

/// The first DRM render node (`renderD128`, ...) in `dir`, or `/dev/null` if there is none.
#[cfg(target_os = "linux")]
fn render_node(dir: &Path) -> String {
    let mut nodes: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let number = name.strip_prefix("renderD")?.parse::<u32>().ok()?;
            Some((number, name))
        })
        .collect();
    nodes.sort();
    match nodes.first() {
        Some((_, name)) => dir.join(name).to_string_lossy().into_owned(),
        None => "/dev/null".to_owned(),
    }
}

static MAIN_STARTED: OnceLock<SystemTime> = OnceLock::new();

/// When [`run`] began (`None` in tests that build the app without it).
pub fn main_started() -> Option<SystemTime> {
    MAIN_STARTED.get().copied()
}

/// Runs the desktop app.
pub fn run() {
    MAIN_STARTED.get_or_init(SystemTime::now);
    #[cfg(target_os = "linux")]
    without_gl_rendering();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("agent_inbox_lib=info,agent_core=info")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let builder = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            window::show(app)
        }))
        // Size, position and the rest come back; whether the window shows is the app's own
        // choice (window::on_page_load), not the last run's.
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::all()
                        - tauri_plugin_window_state::StateFlags::VISIBLE,
                )
                .build(),
        )
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ));
    let notifier: Arc<dyn Notifier> = Arc::new(DesktopNotifier::new());
    let app = build(builder, notifier, Paths::from_environment(), |app, on| {
        use tauri_plugin_autostart::ManagerExt;
        let launcher = app.autolaunch();
        let result = if on {
            launcher.enable()
        } else {
            launcher.disable()
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot change launch at login");
        }
    })
    .build(tauri::generate_context!())
    .unwrap_or_else(|e| {
        eprintln!("agent-inbox: cannot start: {e}");
        std::process::exit(1);
    });
    app.run(|_app, event| {
        // Closing the last window keeps the app in the tray; only Quit exits.
        if let RunEvent::ExitRequested { api, code, .. } = event
            && code.is_none()
            && !window::QUITTING.load(Ordering::SeqCst)
        {
            api.prevent_exit();
        }
    });
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::render_node;

    #[test]
    fn render_node_is_the_lowest_numbered_render_device() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in [
            "card0",
            "renderD129",
            "renderD128x",
            "renderD130",
            "renderD128",
        ] {
            std::fs::write(dir.path().join(name), "").expect("write file");
        }
        assert_eq!(
            render_node(dir.path()),
            dir.path().join("renderD128").to_string_lossy()
        );
    }

    #[test]
    fn render_node_is_dev_null_without_render_devices() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("card0"), "").expect("write file");
        assert_eq!(render_node(dir.path()), "/dev/null");
        assert_eq!(render_node(&dir.path().join("missing")), "/dev/null");
    }
}
