//! The engine's error type. Errors that reach the UI carry a [`protocol::ErrorCode`] so that
//! it branches on codes, never on strings.

use protocol::{ErrorBody, ErrorCode};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The service refused the request with `{code, message}`.
    #[error("{}", .0.message)]
    Service(ErrorBody),
    /// The service could not be reached (wrong URL, down, no network).
    #[error("cannot reach the chat service at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The service URL is not a usable http(s) URL.
    #[error("not a valid service URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The service answered something that is not the protocol.
    #[error("unexpected answer from the chat service: {0}")]
    Protocol(String),
    /// Not connected, and the action cannot wait (answering an offer).
    #[error("not connected to the chat service")]
    Offline,
    #[error("no such offer, or it was already answered")]
    NoSuchOffer,
    /// The OS keychain refused or failed.
    #[error("keychain: {0}")]
    Keychain(String),
    /// The desktop notification service failed.
    #[error("notifications: {0}")]
    Notification(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The engine has stopped.
    #[error("the client engine has stopped")]
    Stopped,
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The code the UI branches on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Service(body) => body.code,
            Error::BadUrl { .. } => ErrorCode::InvalidField,
            Error::NoSuchOffer => ErrorCode::Conflict,
            Error::Offline | Error::Unreachable { .. } => ErrorCode::ShuttingDown,
            _ => ErrorCode::Internal,
        }
    }

    /// `{code, message}` for the UI.
    pub fn body(&self) -> ErrorBody {
        match self {
            Error::Service(body) => body.clone(),
            other => ErrorBody::new(other.code(), other.to_string()),
        }
    }
}
