//! The error body used on every boundary: HTTP responses, WebSocket frames, IPC.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Machine-readable error codes. Clients branch on these, never on the message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request body or frame is not valid JSON or does not match the expected shape.
    BadRequest,
    /// A field has an invalid value; the message names the field.
    InvalidField,
    /// The frame type is unknown.
    UnknownType,
    /// The frame or body is larger than [`crate::MAX_FRAME_BYTES`].
    TooLarge,
    /// No credentials, or wrong, expired or revoked credentials.
    Unauthorized,
    /// Authenticated, but this resource is not yours (another agent's live chat, for example).
    Forbidden,
    NotFound,
    /// The request conflicts with the current state (offer already answered, slot taken, ...).
    Conflict,
    /// The agent already has the maximum number of live chats.
    LimitReached,
    /// Too many requests or messages; slow down.
    RateLimited,
    /// The WebSocket `Origin` is not on the service's allowlist.
    OriginNotAllowed,
    /// `hello` was expected first, or a frame came before authentication.
    ProtocolViolation,
    /// The peer speaks a protocol version this side does not.
    UnsupportedVersion,
    /// The service is shutting down.
    ShuttingDown,
    Internal,
}

/// `{code, message}`: the one error shape on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for ErrorBody {}
