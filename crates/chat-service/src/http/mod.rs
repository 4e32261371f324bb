//! The HTTP surface: REST under `/api/v1`, the two WebSockets, the widget, OpenAPI, health.

mod agents;
mod conversations;
mod extract;
pub mod openapi;
mod visitor;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use protocol::rest::Health;
use protocol::{ErrorCode, PROTOCOL_VERSION};

pub use conversations::{HISTORY_DAYS, render_transcript};

use crate::error::Error;
use crate::state::AppState;
use crate::{agent_socket, visitor_socket, widget};

/// Every route, each registered with the operation that documents it in [`openapi`].
pub fn routes() -> openapi::Routes<AppState> {
    use openapi::*;
    Routes::default()
        .add(&LOGIN, agents::login)
        .add(&LOGOUT, agents::logout)
        .add(&ME, agents::me)
        .add(&GET_SETTINGS, agents::get_settings)
        .add(&PUT_SETTINGS, agents::put_settings)
        .add(&PUT_AVAILABILITY, agents::put_availability)
        .add(&AGENTS, agents::agents)
        .add(&CALENDARS, agents::calendars)
        .add(&SLOTS, agents::slots)
        .add(&CONVERSATIONS, conversations::list)
        .add(&CONVERSATION, conversations::get)
        .add(&MESSAGES, conversations::messages)
        .add(&TRANSCRIPT, conversations::transcript)
        .add(&CONVERSATION_VISITOR, conversations::visitor)
        .add(&ACTIVITIES, conversations::activities)
        .add(&AGENT_WS, agent_socket::upgrade)
        .add(&VISITOR_SESSION, visitor::open_session)
        .add(&VISITOR_WS, visitor_socket::upgrade)
        .add(&VISITOR_SLOTS, visitor::slots)
        .add(&BOOK, visitor::book)
        .add(&OPENAPI, || async { axum::Json(document()) })
        .add(&HEALTH, health)
}

pub fn router(state: AppState) -> Router {
    let (api, root) = routes().into_routers();
    let api = api.fallback(|| async { Error::client(ErrorCode::NotFound, "no such endpoint") });
    Router::new()
        .nest(openapi::PREFIX, api)
        .merge(root)
        .merge(widget::router())
        .fallback(|| async { Error::client(ErrorCode::NotFound, "no such page") })
        .layer(DefaultBodyLimit::max(protocol::MAX_FRAME_BYTES))
        .method_not_allowed_fallback(|| async {
            Error::client(ErrorCode::BadRequest, "method not allowed on this endpoint")
        })
        .with_state(state)
}

async fn health() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        protocol: PROTOCOL_VERSION,
    })
}
