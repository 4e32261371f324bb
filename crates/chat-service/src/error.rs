//! The service's error type. Every error that leaves the service is an [`ErrorBody`]
//! `{code, message}`; HTTP responses carry the matching status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::{ErrorBody, ErrorCode};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error meant for the client, with its code.
    #[error("{}", .0.message)]
    Client(ErrorBody),
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("database migration: {0}")]
    Migrate(String),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn client(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Client(ErrorBody::new(code, message))
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::client(ErrorCode::InvalidField, message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::client(ErrorCode::NotFound, format!("{what} not found"))
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::client(ErrorCode::Forbidden, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::client(ErrorCode::Conflict, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::client(ErrorCode::Unauthorized, message)
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Client(body) => body.code,
            _ => ErrorCode::Internal,
        }
    }

    /// The body sent to the client. Internal details are logged, not sent.
    pub fn body(&self) -> ErrorBody {
        match self {
            Error::Client(body) => body.clone(),
            other => {
                tracing::error!(error = %other, "internal error");
                ErrorBody::new(
                    ErrorCode::Internal,
                    "internal error; the request was not applied",
                )
            }
        }
    }
}

pub fn status_for(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadRequest | ErrorCode::InvalidField | ErrorCode::UnknownType => {
            StatusCode::BAD_REQUEST
        }
        ErrorCode::ProtocolViolation | ErrorCode::UnsupportedVersion => StatusCode::BAD_REQUEST,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::OriginNotAllowed => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict | ErrorCode::LimitReached => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An [`ErrorBody`] as an HTTP response.
pub fn error_response(body: ErrorBody) -> Response {
    (status_for(body.code), axum::Json(body)).into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        error_response(self.body())
    }
}
