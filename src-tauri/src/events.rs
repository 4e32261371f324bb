//! Forwarding the engine to the window and the tray: every new state as `state://changed`
//! (an [`agent_core::StateUpdate`]: what changed since the last one), every engine event as
//! `core://event`; offers raise the window's attention, and notification clicks open the
//! conversation.

use std::sync::Arc;

use agent_core::{AgentCore, CoreEvent, StateUpdates};
use tauri::{AppHandle, Emitter, Runtime};
use tokio::task::JoinHandle;

pub const STATE_CHANGED: &str = "state://changed";
pub const CORE_EVENT: &str = "core://event";
pub const OPEN_CONVERSATION: &str = "window://open-conversation";

/// Starts the forwarding tasks for a freshly started engine.
pub fn forward<R: Runtime>(app: AppHandle<R>, core: Arc<AgentCore>) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    let mut state = core.watch();
    let a = app.clone();
    tasks.push(tokio::spawn(async move {
        let mut updates = StateUpdates::new();
        loop {
            let current = state.borrow_and_update().clone();
            crate::tray::update(&a, &current);
            if let Err(e) = a.emit(STATE_CHANGED, updates.next(&current)) {
                tracing::warn!(error = %e, "cannot emit the state");
            }
            if state.changed().await.is_err() {
                break;
            }
        }
    }));
    let mut events = core.events();
    tasks.push(tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "UI event stream lagged");
                    continue;
                }
                Err(_) => break,
            };
            match &event {
                CoreEvent::OfferAlert { .. } => crate::window::request_attention(&app),
                CoreEvent::OpenWindow { conversation_id } => {
                    crate::window::show(&app);
                    let _ = app.emit(OPEN_CONVERSATION, conversation_id);
                }
                _ => {}
            }
            let _ = app.emit(CORE_EVENT, &event);
        }
    }));
    tasks
}
