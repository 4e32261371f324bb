//! What the agent and visitor sockets share: connecting with headers, JSON text frames,
//! deadlines, and a bounded queue of frames read while waiting for another one.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::Url;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{Error, Result};

/// How long the TCP connect plus WebSocket upgrade may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Most frames kept while a helper waits for a different one. Past this the helper fails
/// instead of growing without bound: a test that lets this many frames pile up is not
/// reading its socket.
pub const MAX_BUFFERED_FRAMES: usize = 10_000;

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A fresh client command id (a UUID v4).
pub fn new_client_id() -> protocol::ClientId {
    uuid::Uuid::new_v4().to_string()
}

/// A timeout turned into a deadline, remembering the timeout for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wait {
    pub(crate) deadline: Instant,
    pub(crate) timeout: Duration,
}

impl Wait {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            deadline: Instant::now() + timeout,
            timeout,
        }
    }
}

pub(crate) struct FrameSocket<F> {
    ws: Stream,
    pending: VecDeque<F>,
    what: &'static str,
}

impl<F: DeserializeOwned + Debug> FrameSocket<F> {
    pub(crate) async fn connect(
        url: Url,
        headers: Vec<(HeaderName, String)>,
        what: &'static str,
    ) -> Result<Self> {
        let mut request = url.as_str().into_client_request()?;
        for (name, value) in headers {
            let value = HeaderValue::from_str(&value).map_err(|e| Error::BadUrl {
                url: url.to_string(),
                reason: format!("header {name}: {e}"),
            })?;
            request.headers_mut().insert(name, value);
        }
        // Small frames both ways: without TCP_NODELAY, Nagle plus delayed ACKs add ~40 ms.
        let connect = tokio_tungstenite::connect_async_with_config(request, None, true);
        let (ws, _response) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| Error::timeout(CONNECT_TIMEOUT, format!("{what} connect")))??;
        Ok(Self {
            ws,
            pending: VecDeque::new(),
            what,
        })
    }

    pub(crate) async fn send_json<C: Serialize>(&mut self, frame: &C) -> Result<()> {
        let text = serde_json::to_string(frame).map_err(Error::Encode)?;
        self.send_raw(Message::text(text)).await
    }

    pub(crate) async fn send_raw(&mut self, message: Message) -> Result<()> {
        self.ws.send(message).await?;
        Ok(())
    }

    /// The next WebSocket message of any kind (pings and pongs included), bypassing the queue.
    pub(crate) async fn next_message(&mut self, wait: Wait) -> Result<Message> {
        match tokio::time::timeout_at(wait.deadline, self.ws.next()).await {
            Err(_) => Err(self.timeout_error(wait, "a WebSocket message")),
            Ok(None) => Err(Error::Closed {
                code: None,
                reason: String::new(),
            }),
            Ok(Some(message)) => Ok(message?),
        }
    }

    /// The next protocol frame from the wire (not the queue). WebSocket pings and pongs are
    /// skipped (tungstenite answers pings itself); a close frame becomes [`Error::Closed`].
    pub(crate) async fn recv(&mut self, wait: Wait, waiting_for: &str) -> Result<F> {
        loop {
            let message = match tokio::time::timeout_at(wait.deadline, self.ws.next()).await {
                Err(_) => return Err(self.timeout_error(wait, waiting_for)),
                Ok(None) => {
                    return Err(Error::Closed {
                        code: None,
                        reason: String::new(),
                    });
                }
                Ok(Some(message)) => message?,
            };
            let bytes = match &message {
                Message::Text(text) => text.as_bytes(),
                Message::Binary(bytes) => bytes.as_ref(),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                Message::Close(frame) => {
                    return Err(Error::Closed {
                        code: frame.as_ref().map(|f| u16::from(f.code)),
                        reason: frame
                            .as_ref()
                            .map(|f| f.reason.to_string())
                            .unwrap_or_default(),
                    });
                }
            };
            return serde_json::from_slice(bytes).map_err(|source| Error::Decode {
                what: self.what,
                source,
            });
        }
    }

    pub(crate) fn take_pending(&mut self) -> Option<F> {
        self.pending.pop_front()
    }

    pub(crate) fn take_pending_matching(
        &mut self,
        predicate: &mut impl FnMut(&F) -> bool,
    ) -> Option<F> {
        let index = self.pending.iter().position(predicate)?;
        self.pending.remove(index)
    }

    pub(crate) fn push_pending(&mut self, frame: F) -> Result<()> {
        if self.pending.len() >= MAX_BUFFERED_FRAMES {
            return Err(Error::Unexpected(format!(
                "{} unconsumed {} frames buffered; read them with next_frame",
                self.pending.len(),
                self.what
            )));
        }
        self.pending.push_back(frame);
        Ok(())
    }

    pub(crate) fn pending(&self) -> impl Iterator<Item = &F> {
        self.pending.iter()
    }

    pub(crate) fn timeout_error(&self, wait: Wait, waiting_for: &str) -> Error {
        let mut description = waiting_for.to_owned();
        if !self.pending.is_empty() {
            let shown: Vec<String> = self
                .pending
                .iter()
                .take(8)
                .map(|f| {
                    let mut s = format!("{f:?}");
                    if s.len() > 160 {
                        let mut cut = 160;
                        while !s.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        s.truncate(cut);
                        s.push('…');
                    }
                    s
                })
                .collect();
            description.push_str(&format!(
                " ({} other frames buffered, first: {})",
                self.pending.len(),
                shown.join("; ")
            ));
        }
        Error::timeout(wait.timeout, description)
    }

    pub(crate) async fn close(&mut self) -> Result<()> {
        match self.ws.close(None).await {
            Ok(())
            | Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}
