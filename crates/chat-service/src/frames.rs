//! Decoding client frames with errors that say what is wrong: malformed JSON, a missing or
//! unknown `type`, an invalid field, or a frame over the size limit.

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use protocol::{ErrorBody, ErrorCode, MAX_FRAME_BYTES};
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::hub::{Frame, to_frame};

/// A server frame as a WebSocket text message.
pub fn text<T: serde::Serialize>(frame: &T) -> WsMessage {
    WsMessage::Text(Utf8Bytes::from(to_frame(frame).as_ref()))
}

/// An already serialised frame as a WebSocket text message.
pub fn shared(frame: &Frame) -> WsMessage {
    WsMessage::Text(Utf8Bytes::from(frame.as_ref()))
}

/// Sends `first`, then whatever else is already queued for this socket, then `last`, in as few
/// writes as the socket's buffer allows (one flush), instead of one write per frame when a
/// burst is queued (in P5's ping-pong few are, and it measured no different). The queue is bounded (the hub
/// drops a client that falls too far behind), so draining it is too; `last` (a command's answer)
/// never overtakes an event queued before it.
pub async fn send_queued(
    socket: &mut WebSocket,
    first: Option<&Frame>,
    rx: &mut tokio::sync::mpsc::Receiver<Frame>,
    last: Option<WsMessage>,
) -> Result<(), axum::Error> {
    use futures_util::SinkExt;
    if let Some(frame) = first {
        socket.feed(shared(frame)).await?;
    }
    while let Ok(frame) = rx.try_recv() {
        socket.feed(shared(&frame)).await?;
    }
    if let Some(message) = last {
        socket.feed(message).await?;
    }
    socket.flush().await
}

/// Sends a close frame; a socket that is already gone is fine.
pub async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(WsMessage::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        })))
        .await;
}

pub fn ws_err(e: axum::Error) -> Error {
    Error::Internal(format!("websocket: {e}"))
}

/// A frame that could not be decoded, with the command id when one could be read.
pub struct BadFrame {
    pub id: Option<String>,
    pub error: ErrorBody,
}

pub fn decode<T: DeserializeOwned>(text: &str, known_types: &[&str]) -> Result<T, BadFrame> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(BadFrame {
            id: None,
            error: ErrorBody::new(
                ErrorCode::TooLarge,
                format!(
                    "frame of {} bytes is over the limit of {MAX_FRAME_BYTES} bytes",
                    text.len()
                ),
            ),
        });
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| BadFrame {
        id: None,
        error: ErrorBody::new(ErrorCode::BadRequest, format!("malformed JSON: {e}")),
    })?;
    let id = value
        .get("id")
        .and_then(|v| v.as_str())
        .map(|s| s.chars().take(200).collect());
    let Some(kind) = value
        .get("type")
        .and_then(|t| t.as_str())
        .map(str::to_owned)
    else {
        return Err(BadFrame {
            id,
            error: ErrorBody::new(
                ErrorCode::BadRequest,
                "a frame must be a JSON object with a string field `type`",
            ),
        });
    };
    if !known_types.contains(&kind.as_str()) {
        let kind: String = kind.chars().take(100).collect();
        return Err(BadFrame {
            id,
            error: ErrorBody::new(
                ErrorCode::UnknownType,
                format!(
                    "unknown frame type {kind:?}; expected one of {}",
                    known_types.join(", ")
                ),
            ),
        });
    }
    serde_json::from_value(value).map_err(|e| BadFrame {
        id,
        error: ErrorBody::new(
            ErrorCode::InvalidField,
            format!("invalid {kind} frame: {e}"),
        ),
    })
}

/// A client id must be present and reasonable.
pub fn check_client_id(id: &str) -> Result<(), ErrorBody> {
    if id.is_empty() || id.len() > 100 {
        return Err(ErrorBody::new(
            ErrorCode::InvalidField,
            "id: a client id of 1 to 100 characters is required",
        ));
    }
    Ok(())
}

/// Message text: not blank, not too long.
pub fn check_text(text: &str) -> Result<(), ErrorBody> {
    if text.trim().is_empty() {
        return Err(ErrorBody::new(
            ErrorCode::InvalidField,
            "text: a message cannot be empty",
        ));
    }
    let chars = text.chars().count();
    if chars > protocol::MAX_MESSAGE_CHARS {
        return Err(ErrorBody::new(
            ErrorCode::InvalidField,
            format!(
                "text: {chars} characters is over the limit of {}",
                protocol::MAX_MESSAGE_CHARS
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::agent_ws::AgentCommand;

    const TYPES: &[&str] = &["hello", "ping", "accept"];

    fn code(text: &str) -> ErrorCode {
        match decode::<AgentCommand>(text, TYPES) {
            Ok(_) => panic!("expected an error for {text}"),
            Err(e) => e.error.code,
        }
    }

    #[test]
    fn each_kind_of_bad_frame_has_its_code() {
        assert_eq!(code("{not json"), ErrorCode::BadRequest);
        assert_eq!(code("[1,2]"), ErrorCode::BadRequest);
        assert_eq!(
            code(r#"{"type":"launch_missiles"}"#),
            ErrorCode::UnknownType
        );
        assert_eq!(
            code(r#"{"type":"accept","id":"x","offer_id":"seven"}"#),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code(&format!(
                r#"{{"type":"ping","pad":"{}"}}"#,
                "x".repeat(MAX_FRAME_BYTES)
            )),
            ErrorCode::TooLarge
        );
    }

    #[test]
    fn the_command_id_is_kept_for_the_error() {
        let Err(e) = decode::<AgentCommand>(r#"{"type":"accept","id":"c1"}"#, TYPES) else {
            panic!("should fail")
        };
        assert_eq!(e.id.as_deref(), Some("c1"));
    }
}
