//! The signed-in session: the engine, the REST client, and where credentials and
//! preferences live. The desktop shell and the web bridge reach the engine only through here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{ConfigFile, Preferences};
use crate::credentials::Credentials;
use crate::notifier::Notifier;
use crate::{AgentCore, ApiClient, CoreOptions, Error, ServiceUrl, SessionInfo};
use protocol::{ConversationId, ErrorCode};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// Called when an engine starts, to forward its state and events to the window and tray;
/// returns the forwarding tasks (aborted at logout).
pub type OnStart = Box<dyn Fn(Arc<AgentCore>) -> Vec<JoinHandle<()>> + Send + Sync>;

/// Checks whether native notifications can raise offers; `Some(reason)` when they cannot.
pub type NotificationCheck = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// Where the engine keeps its outbox: `AGENT_INBOX_DATA_DIR`, else the user's local data
/// folder, else a temporary folder.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("AGENT_INBOX_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::data_local_dir().map(|d| d.join("agent-inbox")))
        .unwrap_or_else(|| std::env::temp_dir().join("agent-inbox"))
}

/// The preferences file: the default location, else a temporary folder.
pub fn default_preferences() -> ConfigFile {
    ConfigFile::default_location().unwrap_or_else(|_| {
        ConfigFile::new(std::env::temp_dir().join("agent-inbox").join("config.json"))
    })
}

pub struct Running {
    pub core: Arc<AgentCore>,
    pub api: ApiClient,
    pub info: SessionInfo,
    tasks: Vec<JoinHandle<()>>,
}

pub struct Session {
    running: Mutex<Option<Running>>,
    credentials: Credentials,
    prefs: ConfigFile,
    data_dir: PathBuf,
    notifier: Arc<dyn Notifier>,
    on_start: OnStart,
    check_notifications: Option<NotificationCheck>,
    /// False while the sign-in at start runs: [`Session::restore`] (the window asking whether
    /// anyone is signed in) waits for it instead of answering "nobody" too early.
    started: tokio::sync::watch::Sender<bool>,
}

fn keychain<T: Send + 'static>(
    f: impl FnOnce(Credentials) -> crate::Result<T> + Send + 'static,
    c: &Credentials,
) -> impl std::future::Future<Output = crate::Result<T>> {
    let c = c.clone();
    async move {
        tokio::task::spawn_blocking(move || f(c))
            .await
            .map_err(|e| Error::Keychain(e.to_string()))?
    }
}

impl Session {
    pub fn new(
        prefs: ConfigFile,
        data_dir: PathBuf,
        notifier: Arc<dyn Notifier>,
        on_start: OnStart,
        check_notifications: Option<NotificationCheck>,
    ) -> Self {
        Session {
            running: Mutex::new(None),
            credentials: Credentials::new(),
            prefs,
            data_dir,
            notifier,
            on_start,
            check_notifications,
            started: tokio::sync::watch::channel(true).0,
        }
    }

    /// Says that [`Session::sign_in_at_start`] is about to run (call it before the window can
    /// ask), so that [`Session::restore`] waits for its outcome.
    pub fn expect_sign_in_at_start(&self) {
        self.started.send_replace(false);
    }

    pub fn preferences(&self) -> crate::Result<Preferences> {
        self.prefs.load()
    }

    pub fn save_preferences(&self, prefs: &Preferences) -> crate::Result<()> {
        self.prefs.save(prefs)?;
        self.notifier
            .set_preferences(prefs.sound, prefs.notify_messages);
        Ok(())
    }

    fn outbox_path(&self, url: &ServiceUrl, email: &str) -> PathBuf {
        let key: String = format!("{url}-{email}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        self.data_dir.join(format!("outbox-{key}.json"))
    }

    async fn start(
        &self,
        url: ServiceUrl,
        email: String,
        token: String,
        agent: protocol::AgentProfile,
    ) -> crate::Result<SessionInfo> {
        let mut guard = self.running.lock().await;
        if let Some(old) = guard.take() {
            stop(old).await;
        }
        let prefs = self.prefs.load().unwrap_or_default();
        self.notifier
            .set_preferences(prefs.sound, prefs.notify_messages);
        let mut options = CoreOptions::new(url.clone(), token.clone());
        options.outbox_path = Some(self.outbox_path(&url, &email));
        options.notify_messages = prefs.notify_messages;
        let core = Arc::new(AgentCore::start(options, self.notifier.clone())?);
        let mut tasks = (self.on_start)(core.clone());
        if let Some(check) = self.check_notifications.clone() {
            let core = core.clone();
            tasks.push(tokio::spawn(async move {
                if let Ok(problem) = tokio::task::spawn_blocking(move || check()).await {
                    core.set_notifications_problem(problem);
                }
            }));
        }
        let api = ApiClient::new(url.clone())?.with_token(token);
        let info = SessionInfo {
            service_url: url.to_string(),
            email,
            agent,
        };
        *guard = Some(Running {
            core,
            api,
            info: info.clone(),
            tasks,
        });
        Ok(info)
    }

    /// Signs in with the token kept in the keychain for the remembered service and email.
    /// While the sign-in at start runs, waits for it first (its session is then the answer).
    pub async fn restore(&self) -> crate::Result<Option<SessionInfo>> {
        let mut started = self.started.subscribe();
        // The sender lives in `self`, so this cannot fail.
        let _ = started.wait_for(|done| *done).await;
        self.restore_now().await
    }

    async fn restore_now(&self) -> crate::Result<Option<SessionInfo>> {
        if let Some(r) = self.running.lock().await.as_ref() {
            return Ok(Some(r.info.clone()));
        }
        let prefs = self.prefs.load().unwrap_or_default();
        let (Some(url), Some(email)) = (prefs.service_url, prefs.email) else {
            return Ok(None);
        };
        let url = ServiceUrl::parse(&url)?;
        let (u, e) = (url.to_string(), email.clone());
        let Some(token) = keychain(move |c| c.load(&u, &e), &self.credentials).await? else {
            return Ok(None);
        };
        let api = ApiClient::new(url.clone())?.with_token(token.clone());
        let agent = match api.me().await {
            Ok(me) => me.agent,
            Err(Error::Service(body)) if body.code == ErrorCode::Unauthorized => {
                let (u, e) = (url.to_string(), email.clone());
                keychain(move |c| c.delete(&u, &e), &self.credentials).await?;
                return Ok(None);
            }
            // Offline at start: sign in anyway; the engine reconnects when it can.
            Err(_) => protocol::AgentProfile {
                id: protocol::AgentId(0),
                email: email.clone(),
                name: email.clone(),
            },
        };
        self.start(url, email, token, agent).await.map(Some)
    }

    /// Logs in, keeps the token in the keychain and the URL and email in the preferences.
    pub async fn login(
        &self,
        service_url: &str,
        email: &str,
        password: &str,
    ) -> crate::Result<SessionInfo> {
        let url = ServiceUrl::parse(service_url)?;
        let email = email.trim().to_owned();
        let (_, res) = ApiClient::new(url.clone())?.login(&email, password).await?;
        let (u, e, t) = (url.to_string(), email.clone(), res.token.clone());
        if let Err(e) = keychain(move |c| c.save(&u, &e, &t), &self.credentials).await {
            // Still signed in for this run; the token is never written to a plain file, so
            // the next start asks for the password again.
            tracing::warn!(error = %e, "the keychain is unavailable; the session will not be remembered");
        }
        let mut prefs = self.prefs.load().unwrap_or_default();
        prefs.service_url = Some(url.to_string());
        prefs.email = Some(email.clone());
        self.prefs.save(&prefs)?;
        self.start(url, email, res.token, res.agent).await
    }

    /// Revokes the token, forgets it, and stops the engine.
    pub async fn logout(&self) -> crate::Result<()> {
        let Some(running) = self.running.lock().await.take() else {
            return Ok(());
        };
        let revoked = running.api.logout().await;
        let (u, e) = (running.info.service_url.clone(), running.info.email.clone());
        stop(running).await;
        if let Err(e) = keychain(move |c| c.delete(&u, &e), &self.credentials).await {
            // The token is revoked on the service either way; a stale keychain entry is
            // refused at the next start and then deleted.
            tracing::warn!(error = %e, "cannot delete the token from the keychain");
        }
        match revoked {
            Ok(()) | Err(Error::Unreachable { .. }) => Ok(()),
            Err(Error::Service(b)) if b.code == ErrorCode::Unauthorized => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The running engine and REST client, or `unauthorized`.
    pub async fn current(&self) -> crate::Result<(Arc<AgentCore>, ApiClient)> {
        match self.running.lock().await.as_ref() {
            Some(r) => Ok((r.core.clone(), r.api.clone())),
            None => Err(Error::Service(protocol::ErrorBody::new(
                ErrorCode::Unauthorized,
                "not signed in",
            ))),
        }
    }

    /// At start: the keychain session, else `AGENT_INBOX_URL`, `AGENT_INBOX_EMAIL` and
    /// `AGENT_INBOX_PASSWORD` from the environment (the README's run command uses them for the
    /// demo agent). Failures are logged; the window then shows the login screen.
    pub async fn sign_in_at_start(&self) {
        /// Marks the sign-in at start as over when dropped, so that a panic inside it still
        /// lets the window's question be answered instead of waiting forever.
        struct Over<'a>(&'a tokio::sync::watch::Sender<bool>);
        impl Drop for Over<'_> {
            fn drop(&mut self) {
                self.0.send_replace(true);
            }
        }
        self.started.send_replace(false);
        let _over = Over(&self.started);
        self.sign_in_from_keychain_or_environment().await;
    }

    async fn sign_in_from_keychain_or_environment(&self) {
        match self.restore_now().await {
            Ok(Some(info)) => {
                tracing::info!(agent = %info.email, "signed in from the keychain");
                return;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot restore the session"),
        }
        let (Ok(url), Ok(email), Ok(password)) = (
            std::env::var("AGENT_INBOX_URL"),
            std::env::var("AGENT_INBOX_EMAIL"),
            std::env::var("AGENT_INBOX_PASSWORD"),
        ) else {
            return;
        };
        match self.login(&url, &email, &password).await {
            Ok(info) => tracing::info!(agent = %info.email, "signed in from the environment"),
            Err(e) => tracing::warn!(error = %e, "automatic sign-in failed"),
        }
    }

    /// Saves the transcript as a `.txt` file in the Downloads folder (or the home folder);
    /// returns its path. An existing file is never overwritten.
    pub async fn save_transcript(&self, conversation_id: ConversationId) -> crate::Result<PathBuf> {
        let (_, api) = self.current().await?;
        let dir = dirs::download_dir()
            .or_else(dirs::home_dir)
            .unwrap_or_else(|| PathBuf::from("."));
        let path = free_path(&dir, conversation_id);
        api.export_transcript(conversation_id, &path).await?;
        Ok(path)
    }

    pub async fn core(&self) -> Option<Arc<AgentCore>> {
        self.running.lock().await.as_ref().map(|r| r.core.clone())
    }

    pub async fn shutdown(&self) {
        if let Some(r) = self.running.lock().await.take() {
            stop(r).await;
        }
    }
}

async fn stop(running: Running) {
    for t in running.tasks {
        t.abort();
    }
    running.core.stop().await;
}

/// `conversation-ID.txt` in `dir`, or `conversation-ID (N).txt` when that is taken.
fn free_path(dir: &Path, conversation_id: ConversationId) -> PathBuf {
    let mut path = dir.join(format!("conversation-{conversation_id}.txt"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = dir.join(format!("conversation-{conversation_id} ({n}).txt"));
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifier::NoNotifier;

    #[tokio::test]
    async fn restore_waits_for_the_sign_in_at_start() {
        if std::env::var_os("AGENT_INBOX_URL").is_some() {
            return; // this test needs no sign-in from the environment
        }
        let dir = tempfile::tempdir().expect("tmp");
        let session = Arc::new(Session::new(
            ConfigFile::new(dir.path().join("config.json")),
            dir.path().join("data"),
            Arc::new(NoNotifier),
            Box::new(|_| Vec::new()),
            None,
        ));
        // Nobody signing in at start: answered at once.
        assert!(session.restore().await.expect("restore").is_none());

        session.expect_sign_in_at_start();
        let s = session.clone();
        let asked = tokio::spawn(async move { s.restore().await });
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(
            !asked.is_finished(),
            "restore answered before the sign-in at start ended"
        );
        session.sign_in_at_start().await;
        let answer = asked.await.expect("joined").expect("restore");
        assert!(
            answer.is_none(),
            "nothing remembered, nothing in the environment"
        );
    }
}
