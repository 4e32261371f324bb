//! The HTTP surface: REST under `/api/v1`, the two WebSockets, the widget, OpenAPI, health.

mod agents;
mod conversations;
mod extract;
pub mod openapi;
mod visitor;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use protocol::rest::Health;
use protocol::{ErrorCode, PROTOCOL_VERSION};

pub use conversations::{HISTORY_DAYS, render_transcript};

use crate::error::Error;
use crate::state::AppState;
use crate::{agent_socket, visitor_socket, widget};

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/auth/login", post(agents::login))
        .route("/auth/logout", post(agents::logout))
        .route("/me", get(agents::me))
        .route(
            "/me/settings",
            get(agents::get_settings).put(agents::put_settings),
        )
        .route("/me/availability", put(agents::put_availability))
        .route("/agents", get(agents::agents))
        .route("/calendars", get(agents::calendars))
        .route("/calendars/{agent_id}/slots", get(agents::slots))
        .route("/conversations", get(conversations::list))
        .route("/conversations/{id}", get(conversations::get))
        .route("/conversations/{id}/messages", get(conversations::messages))
        .route(
            "/conversations/{id}/transcript",
            get(conversations::transcript),
        )
        .route("/conversations/{id}/visitor", get(conversations::visitor))
        .route(
            "/conversations/{id}/activities",
            get(conversations::activities),
        )
        .route("/agent/ws", get(agent_socket::upgrade))
        .route("/visitor/sessions", post(visitor::open_session))
        .route("/visitor/ws", get(visitor_socket::upgrade))
        .route("/visitor/calendars/{agent_id}/slots", get(visitor::slots))
        .route("/visitor/bookings", post(visitor::book))
        .route(
            "/openapi.json",
            get(|| async { axum::Json(openapi::document()) }),
        )
        .fallback(|| async { Error::client(ErrorCode::NotFound, "no such endpoint") });
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(health))
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
