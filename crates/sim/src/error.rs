//! The crate's one error type.

use std::time::Duration;

use protocol::{ErrorBody, ErrorCode};
use reqwest::StatusCode;
use tokio_tungstenite::tungstenite;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The service answered an HTTP request (or a WebSocket upgrade) with a non-2xx status and
    /// an `{code, message}` body.
    #[error("HTTP {1}: {0}")]
    Api(ErrorBody, StatusCode),

    /// A non-2xx status whose body is not an [`ErrorBody`].
    #[error("HTTP {status} without an error body: {body:?}")]
    Status { status: StatusCode, body: String },

    /// The service answered a WebSocket command (or the connection) with an `error` frame.
    #[error("error frame (command {id:?}): {error}")]
    Rejected {
        id: Option<String>,
        error: ErrorBody,
    },

    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),

    #[error("WebSocket: {0}")]
    WebSocket(Box<tungstenite::Error>),

    /// A frame or body did not decode as the protocol says.
    #[error("decoding {what}: {source}")]
    Decode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },

    #[error("encoding a frame: {0}")]
    Encode(#[source] serde_json::Error),

    #[error("timed out after {after:?} waiting for {waiting_for}")]
    Timeout {
        after: Duration,
        waiting_for: String,
    },

    /// The peer closed the socket (close code and reason when it sent a close frame).
    #[error("connection closed (code {code:?}, reason {reason:?})")]
    Closed { code: Option<u16>, reason: String },

    /// A well-formed frame that makes no sense at this point of the protocol.
    #[error("unexpected frame: {0}")]
    Unexpected(String),

    #[error("invalid base URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
}

impl Error {
    /// The protocol error code, for errors that carry one (`Api` and `Rejected`).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Api(body, _) => Some(body.code),
            Error::Rejected { error, .. } => Some(error.code),
            _ => None,
        }
    }

    /// The HTTP status, for `Api` and `Status` errors.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(_, status) => Some(*status),
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn timeout(after: Duration, waiting_for: impl Into<String>) -> Self {
        Error::Timeout {
            after,
            waiting_for: waiting_for.into(),
        }
    }

    /// Maps a failed WebSocket handshake carrying an HTTP error response to `Api`/`Status`.
    pub(crate) fn from_ws(err: tungstenite::Error) -> Self {
        match err {
            tungstenite::Error::Http(response) => {
                let status = StatusCode::from_u16(response.status().as_u16())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let body = response.body().clone().unwrap_or_default();
                from_error_response(status, &body)
            }
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                Error::Closed {
                    code: None,
                    reason: String::new(),
                }
            }
            other => Error::WebSocket(Box::new(other)),
        }
    }
}

impl From<tungstenite::Error> for Error {
    fn from(err: tungstenite::Error) -> Self {
        Error::from_ws(err)
    }
}

/// Turns a non-2xx response body into `Api` when it is an [`ErrorBody`], `Status` otherwise.
pub(crate) fn from_error_response(status: StatusCode, body: &[u8]) -> Error {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(body) => Error::Api(body, status),
        Err(_) => Error::Status {
            status,
            body: String::from_utf8_lossy(body).into_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_becomes_api_error_with_code() {
        let err = from_error_response(
            StatusCode::UNAUTHORIZED,
            br#"{"code":"unauthorized","message":"bad token"}"#,
        );
        assert_eq!(err.code(), Some(ErrorCode::Unauthorized));
        assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
        assert!(matches!(err, Error::Api(ref b, _) if b.message == "bad token"));
    }

    #[test]
    fn other_body_becomes_status_error() {
        let err = from_error_response(StatusCode::BAD_GATEWAY, b"<html>oops</html>");
        assert_eq!(err.code(), None);
        assert!(
            matches!(err, Error::Status { status, ref body } if status == StatusCode::BAD_GATEWAY && body.contains("oops"))
        );
    }
}
