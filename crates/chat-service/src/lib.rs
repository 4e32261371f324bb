//! Agent Inbox chat service: authentication, routing (R2), persistence, the agent and visitor
//! WebSockets, REST reads, calendars and the visitor widget.
//!
//! [`run`] serves on a listener until a shutdown future resolves; the binary in `main.rs`
//! only parses flags, binds, and calls it.

pub mod agent_socket;
pub mod auth;
pub mod availability;
pub mod calendar;
pub mod chat;
pub mod config;
pub mod demo;
pub mod error;
pub mod frames;
pub mod http;
pub mod hub;
pub mod routing;
pub mod state;
pub mod store;
pub mod visitor_socket;
pub mod widget;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::Config;
pub use error::{Error, Result};

use crate::hub::Hub;
use crate::state::{AppState, Shared};
use crate::store::{SqliteStore, Store};

/// Serves on `listener` until `shutdown` resolves, then closes sockets with "going away",
/// lets in-flight requests finish, and closes the database.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    config.validate().map_err(Error::invalid)?;
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&config.db, config.sync_full, config.max_live_chats).await?);
    if config.demo && store.agent_count().await? == 0 {
        demo::seed(store.as_ref()).await?;
        tracing::info!("seeded demo data");
    }
    let hub = Arc::new(Hub::new(config.resume_buffer));
    let (router, router_task) = routing::start(store.clone(), hub.clone(), &config).await?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let state = AppState(Arc::new(Shared {
        config,
        store: store.clone(),
        hub: hub.clone(),
        router,
        shutdown: shutdown_rx,
    }));
    let app = http::router(state.clone());

    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = shutdown_tx.send(true);
    };
    // Chat frames are small and latency matters: no Nagle delay on any connection.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .await
    .map_err(|e| Error::Internal(format!("server: {e}")))?;

    // Sockets close themselves on the signal; give them a moment to send their close frames.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while hub.connection_counts() != (0, 0) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(state);
    router_task.abort();
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// A service running in this process, for tests and embedding.
pub struct RunningService {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl RunningService {
    /// Binds `config.listen` (use port 0) and starts serving.
    pub async fn start(config: Config) -> Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| Error::Internal(format!("cannot listen on {}: {e}", config.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(listener, config, async move {
            let _ = stopped.await;
        }));
        Ok(RunningService {
            addr,
            stop: Some(stop),
            task,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Shuts down gracefully and waits until the database is closed.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .map_err(|e| Error::Internal(format!("service task: {e}")))?
    }
}
