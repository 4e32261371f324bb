//! A real, private desktop session for tests: a `dbus-daemon` session bus of its own, the
//! python3-dbusmock notification server on it, an unlocked gnome-keyring Secret Service, and a
//! second `dbus-daemon` standing in for the system bus (where logind and NetworkManager speak).
//!
//! # How it works
//!
//! D-Bus clients (the notifier, the keyring crate) find the session bus through the process environment
//! (`DBUS_SESSION_BUS_ADDRESS`, and the system bus through `DBUS_SYSTEM_BUS_ADDRESS`), which
//! must be set before anything touches D-Bus. Changing the
//! environment of a running test process is `unsafe` in edition 2024 (and the workspace
//! forbids unsafe code), so [`run`] re-runs the test in a child process of the test binary:
//!
//! 1. the test (parent) starts a fresh [`Session`] in a temporary folder: `dbus-daemon` with a
//!    minimal config (no service activation, so nothing else can grab a name), waits for the
//!    address it prints, starts the mock notification server and
//!    `gnome-keyring-daemon --foreground --unlock --components=secrets` (password on stdin)
//!    on that bus, and waits until both own their names (`NameHasOwner`, polled with a bound);
//! 2. it runs `<this test binary> <test name> --exact` with `HOME`, `XDG_*`,
//!    `DBUS_SESSION_BUS_ADDRESS`, `DBUS_SYSTEM_BUS_ADDRESS` (the private stand-in, so the
//!    machine's own logind or NetworkManager never reach a test) and a marker variable set,
//!    bounded by a deadline;
//! 3. in the child, [`run`] sees the marker and runs the test's body on a tokio runtime;
//! 4. the parent checks the child ran exactly that one test and passed, prints its output,
//!    and on drop of the [`Session`] kills the daemons (keyring, mock, then the buses) and
//!    removes the folder, also when the test failed (drop on unwind). Only a test process
//!    killed with SIGKILL leaves them behind: they run with their working folder in
//!    `/tmp/agent-inbox-session-*`, and the mock and the keyring exit once the bus is killed.
//!
//! Every test gets its own bus, so notification ids start at 1 and calls seen by the mock are
//! only the test's own. A missing tool makes the test fail with what to install.

#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zbus::OwnedVariant;

/// Set in the child process that runs a test's body.
const CHILD_MARKER: &str = "AGENT_INBOX_TEST_PRIVATE_SESSION";
/// The longest a daemon may take to appear on the bus.
const START_WAIT: Duration = Duration::from_secs(20);
/// The longest one test's child may run.
const TEST_WAIT: Duration = Duration::from_secs(180);
/// The longest a test waits for something to happen on the bus.
pub const WAIT: Duration = Duration::from_secs(10);

pub const NOTIFICATIONS: &str = "org.freedesktop.Notifications";
pub const NOTIFICATIONS_PATH: &str = "/org/freedesktop/Notifications";
pub const SECRETS: &str = "org.freedesktop.secrets";
pub const KEYRING_PASSWORD: &str = "test-keyring-password";

const HOW_TO_INSTALL: &str = "install the test packages with `scripts/setup.sh test` \
     (Debian: dbus-daemon python3-dbusmock gnome-keyring libsecret-tools)";

/// Runs `body` inside a private desktop session (see the module docs). `name` is the test
/// function's name as the harness knows it (its path inside the test crate).
pub fn run<F: Future<Output = ()>>(name: &str, body: F) {
    if std::env::var_os(CHILD_MARKER).is_some() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(body);
        return;
    }
    drop(body);
    let session = Session::start();
    session.run_child(name);
}

/// A private session bus with a mock notification server and an unlocked keyring.
pub struct Session {
    dir: tempfile::TempDir,
    address: String,
    /// The bus standing in for the system bus.
    system_address: String,
    children: Vec<(&'static str, Child)>,
}

impl Session {
    pub fn start() -> Session {
        let dir = tempfile::Builder::new()
            .prefix("agent-inbox-session-")
            .tempdir()
            .expect("temp dir");
        let mut session = Session {
            dir,
            address: String::new(),
            system_address: String::new(),
            children: Vec::new(),
        };
        for sub in [
            "home",
            "run",
            "home/.local/share",
            "home/.config",
            "home/.cache",
            "config",
        ] {
            std::fs::create_dir_all(session.dir.path().join(sub)).expect("session folders");
        }
        set_mode_700(&session.dir.path().join("run"));
        session.address = session.start_bus("dbus-daemon", "bus", "session");
        session.system_address = session.start_bus("system dbus-daemon", "system-bus", "system");
        session.start_notification_mock();
        session.start_keyring();
        session
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn system_address(&self) -> &str {
        &self.system_address
    }

    pub fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// The environment of everything run in this session.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        let home = self.path("home");
        let mut env = vec![
            ("HOME", home.clone().into_os_string()),
            ("XDG_RUNTIME_DIR", self.path("run").into_os_string()),
            ("XDG_DATA_HOME", home.join(".local/share").into_os_string()),
            ("XDG_CONFIG_HOME", home.join(".config").into_os_string()),
            ("XDG_CACHE_HOME", home.join(".cache").into_os_string()),
            (
                "AGENT_INBOX_CONFIG_DIR",
                self.path("config").into_os_string(),
            ),
        ];
        if !self.address.is_empty() {
            env.push(("DBUS_SESSION_BUS_ADDRESS", self.address.clone().into()));
        }
        if !self.system_address.is_empty() {
            env.push((
                "DBUS_SYSTEM_BUS_ADDRESS",
                self.system_address.clone().into(),
            ));
        }
        env
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .envs(self.env())
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .current_dir(self.dir.path());
        command
    }

    fn log(&self, name: &str) -> Stdio {
        std::fs::File::create(self.path(&format!("{name}.log")))
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null())
    }

    fn read_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default()
    }

    fn spawn(&mut self, name: &'static str, mut command: Command) -> &mut Child {
        let program = command.get_program().to_string_lossy().into_owned();
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("cannot start {program} for the test session ({e}): {HOW_TO_INSTALL}")
        });
        self.children.push((name, child));
        let last = self.children.len() - 1;
        &mut self.children[last].1
    }

    /// Starts a `dbus-daemon` listening on the socket `file` in the session folder and returns
    /// its address. `kind` is the bus type its config names (`session` or `system`).
    fn start_bus(&mut self, name: &'static str, file: &str, kind: &str) -> String {
        let socket = self.path(file);
        let config = self.path(&format!("{file}.conf"));
        std::fs::write(&config, bus_config(&socket, kind)).expect("bus config");
        let log = name.replace(' ', "-");
        let mut command = self.command("dbus-daemon");
        command
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(self.log(&log));
        let child = self.spawn(name, command);
        // dbus-daemon prints its address once it listens; EOF means it failed.
        let stdout = child.stdout.take().expect("dbus-daemon stdout");
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let address = line.trim().to_owned();
        if address.is_empty() {
            panic!("{name} did not start: {}", self.read_log(&log).trim());
        }
        address
    }

    fn start_notification_mock(&mut self) {
        let mut command = self.command("/usr/bin/python3");
        command
            .args(["-m", "dbusmock", "--template", "notification_daemon"])
            .args([
                "--parameters",
                r#"{"capabilities": "actions body body-markup sound"}"#,
            ])
            .stdin(Stdio::null())
            .stdout(self.log("notification-mock"))
            .stderr(self.log("notification-mock.err"));
        self.spawn("notification mock", command);
        self.wait_for_name(NOTIFICATIONS, "notification mock");
    }

    fn start_keyring(&mut self) {
        let mut command = self.command("gnome-keyring-daemon");
        command
            .args(["--foreground", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(self.log("gnome-keyring"))
            .stderr(self.log("gnome-keyring.err"));
        let child = self.spawn("gnome-keyring", command);
        if let Some(mut stdin) = child.stdin.take() {
            // The password unlocks (and first creates) the login keyring; EOF ends it.
            let _ = stdin.write_all(KEYRING_PASSWORD.as_bytes());
        }
        self.wait_for_name(SECRETS, "gnome-keyring");
    }

    /// Polls `NameHasOwner` until `name` is on the bus; fails early when the daemon exits.
    fn wait_for_name(&mut self, name: &str, daemon: &'static str) {
        let deadline = Instant::now() + START_WAIT;
        let address = self.address.clone();
        let connection = zbus::block_on(async {
            zbus::connection::Builder::address(address.as_str())
                .build()
                .await
        })
        .unwrap_or_else(|e| panic!("cannot connect to the test bus {address}: {e}"));
        loop {
            let owned: bool = zbus::block_on(async {
                connection
                    .call_method(
                        Some("org.freedesktop.DBus"),
                        "/org/freedesktop/DBus",
                        Some("org.freedesktop.DBus"),
                        "NameHasOwner",
                        &(name,),
                    )
                    .await?
                    .body()
                    .deserialize::<bool>()
            })
            .unwrap_or_else(|e| panic!("NameHasOwner({name}) failed: {e}"));
            if owned {
                return;
            }
            if let Some((_, child)) = self.children.iter_mut().find(|(n, _)| *n == daemon)
                && let Ok(Some(status)) = child.try_wait()
            {
                let log = daemon.replace(' ', "-");
                panic!(
                    "{daemon} exited ({status}) before owning {name}: {} {}\n{HOW_TO_INSTALL}",
                    self.read_log(&log).trim(),
                    self.read_log(&format!("{log}.err")).trim(),
                );
            }
            if Instant::now() > deadline {
                panic!("{daemon} did not own {name} within {START_WAIT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs one test of this binary in the session and checks that it passed.
    fn run_child(&self, name: &str) {
        let exe = std::env::current_exe().expect("test binary path");
        let mut child = self
            .command(&exe.to_string_lossy())
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_MARKER, "1")
            .stdin(Stdio::null())
            .stdout(self.log("test"))
            .stderr(self.log("test.err"))
            .spawn()
            .expect("re-run the test binary");
        let deadline = Instant::now() + TEST_WAIT;
        let status = loop {
            match child.try_wait().expect("wait for the test") {
                Some(status) => break Some(status),
                None if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let out = self.read_log("test");
        let err = self.read_log("test.err");
        println!("{out}");
        eprintln!("{err}");
        let Some(status) = status else {
            panic!("{name} did not finish within {TEST_WAIT:?}");
        };
        assert!(
            out.contains("running 1 test"),
            "{name}: the child ran no test of that name"
        );
        assert!(status.success(), "{name} failed in its private session");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The keyring and the mock first, the bus last.
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn bus_config(socket: &Path, kind: &str) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>{}</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        kind,
        socket.display()
    )
}

fn set_mode_700(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
}

// ---------------------------------------------------------------------------------------
// In the child: the mock notification server

/// One method call the mock notification server received.
#[derive(Debug)]
pub struct Call {
    pub method: String,
    pub args: Vec<OwnedVariant>,
}

/// A `Notify` call, decoded.
#[derive(Debug)]
pub struct Notify {
    pub app_name: String,
    pub replaces_id: u32,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
    pub hints: HashMap<String, OwnedVariant>,
    pub timeout: i32,
}

impl Notify {
    pub fn hint_str(&self, key: &str) -> Option<String> {
        self.hints
            .get(key)
            .and_then(|v| String::try_from(&**v).ok())
    }

    pub fn hint_u8(&self, key: &str) -> Option<u8> {
        self.hints.get(key).and_then(|v| u8::try_from(&**v).ok())
    }

    /// The actions as (key, label) pairs.
    pub fn action_pairs(&self) -> Vec<(String, String)> {
        self.actions
            .chunks(2)
            .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
            .collect()
    }
}

/// The python3-dbusmock notification server of the session, driven from the test.
pub struct NotificationMock {
    connection: zbus::Connection,
}

impl NotificationMock {
    pub async fn connect() -> NotificationMock {
        let connection = zbus::Connection::session()
            .await
            .expect("connect to the private session bus");
        NotificationMock { connection }
    }

    async fn call<B>(&self, interface: &str, method: &str, body: &B) -> zbus::Message
    where
        B: serde::Serialize + zbus::DynamicType,
    {
        self.connection
            .call_method(
                Some(NOTIFICATIONS),
                NOTIFICATIONS_PATH,
                Some(interface),
                method,
                body,
            )
            .await
            .unwrap_or_else(|e| panic!("{interface}.{method} on the mock failed: {e}"))
    }

    /// Every call the server received so far.
    pub async fn calls(&self) -> Vec<Call> {
        let reply = self
            .call("org.freedesktop.DBus.Mock", "GetCalls", &())
            .await;
        let calls: Vec<(u64, String, Vec<OwnedVariant>)> =
            reply.body().deserialize().expect("GetCalls reply");
        calls
            .into_iter()
            .map(|(_, method, args)| Call { method, args })
            .collect()
    }

    /// Every `Notify` call so far, in order.
    pub async fn notifies(&self) -> Vec<Notify> {
        self.calls()
            .await
            .into_iter()
            .filter(|c| c.method == "Notify")
            .map(|c| decode_notify(c.args))
            .collect()
    }

    /// The ids of every `CloseNotification` call so far.
    pub async fn closed_ids(&self) -> Vec<u32> {
        self.calls()
            .await
            .into_iter()
            .filter(|c| c.method == "CloseNotification")
            .filter_map(|c| c.args.first().and_then(as_u32))
            .collect()
    }

    /// Polls until `done` holds for the `Notify` calls (bounded by [`WAIT`]).
    pub async fn wait_for_notifies(
        &self,
        what: &str,
        done: impl Fn(&[Notify]) -> bool,
    ) -> Vec<Notify> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notifies = self.notifies().await;
            if done(&notifies) {
                return notifies;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; Notify calls: {notifies:#?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls until a `CloseNotification(id)` call arrived (bounded by [`WAIT`]).
    pub async fn wait_for_close(&self, id: u32) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let closed = self.closed_ids().await;
            if closed.contains(&id) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for CloseNotification({id}); closed: {closed:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Makes the server emit `ActionInvoked(id, action)`, as a click on a button does.
    pub async fn invoke_action(&self, id: u32, action: &str) {
        let args: Vec<zbus::Variant<'_>> = vec![id.into(), action.into()];
        self.call(
            "org.freedesktop.DBus.Mock",
            "EmitSignal",
            &(NOTIFICATIONS, "ActionInvoked", "us", args),
        )
        .await;
    }
}

fn as_u32(v: &OwnedVariant) -> Option<u32> {
    u32::try_from(&**v)
        .ok()
        .or_else(|| i32::try_from(&**v).ok().and_then(|i| u32::try_from(i).ok()))
}

fn decode_notify(args: Vec<OwnedVariant>) -> Notify {
    assert_eq!(args.len(), 8, "Notify has 8 arguments: {args:?}");
    let mut args = args.into_iter();
    let mut next = || args.next().expect("argument");
    let text = |v: OwnedVariant| String::try_from(&*v).expect("a string argument");
    let app_name = text(next());
    let replaces_id = as_u32(&next()).expect("replaces_id");
    let _icon = text(next());
    let summary = text(next());
    let body = text(next());
    let actions = Vec::<String>::try_from(next()).expect("actions");
    let hints = HashMap::<String, OwnedVariant>::try_from(next()).expect("hints");
    let timeout = i32::try_from(&*next()).expect("timeout");
    Notify {
        app_name,
        replaces_id,
        summary,
        body,
        actions,
        hints,
        timeout,
    }
}
