//! Passwords (argon2), bearer tokens (random, stored as SHA-256), and the extractors that
//! authenticate agents and visitors.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::Utc;
use protocol::{AgentId, ErrorCode, VisitorId};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::TokenOwner;

pub fn hash_password(password: &str) -> Result<String> {
    let mut salt_bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| Error::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing password: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A fresh random token (256 bits, hex) and its stored hash.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The bearer token of a request, if it has a well-formed `Authorization: Bearer` header.
pub fn bearer(parts: &Parts) -> Result<&str> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| Error::unauthorized("missing Authorization: Bearer header"))?;
    let value = value
        .to_str()
        .map_err(|_| Error::unauthorized("malformed Authorization header"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| Error::unauthorized("Authorization must be `Bearer <token>`"))?
        .trim();
    if token.is_empty() || token.len() > 256 {
        return Err(Error::unauthorized("malformed bearer token"));
    }
    Ok(token)
}

/// Resolves a token to its owner, or a clear `unauthorized` error.
pub async fn resolve(state: &AppState, token: &str) -> Result<TokenOwner> {
    state
        .store
        .token_owner(&token_hash(token), Utc::now())
        .await?
        .ok_or_else(|| Error::unauthorized("the token is wrong, expired or revoked; log in again"))
}

/// An authenticated agent.
#[derive(Debug, Clone)]
pub struct AgentAuth {
    pub agent_id: AgentId,
    pub token_hash: String,
}

impl FromRequestParts<AppState> for AgentAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = bearer(parts)?;
        match resolve(state, token).await? {
            TokenOwner::Agent(agent_id) => Ok(AgentAuth {
                agent_id,
                token_hash: token_hash(token),
            }),
            TokenOwner::Visitor(_) => Err(Error::client(
                ErrorCode::Forbidden,
                "a visitor token cannot be used here",
            )),
        }
    }
}

/// An authenticated visitor.
#[derive(Debug, Clone, Copy)]
pub struct VisitorAuth {
    pub visitor_id: VisitorId,
}

impl FromRequestParts<AppState> for VisitorAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = bearer(parts)?;
        match resolve(state, token).await? {
            TokenOwner::Visitor(visitor_id) => Ok(VisitorAuth { visitor_id }),
            TokenOwner::Agent(_) => Err(Error::client(
                ErrorCode::Forbidden,
                "an agent token cannot be used here",
            )),
        }
    }
}

/// Checks the request's `Origin` against the allowlist; the service's own origin is allowed.
pub fn check_origin(state: &AppState, parts_headers: &axum::http::HeaderMap) -> Result<()> {
    let origin = parts_headers
        .get(axum::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::client(ErrorCode::OriginNotAllowed, "missing Origin header"))?;
    let allowed = &state.config.allowed_origins;
    if allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return Ok(());
    }
    let host = parts_headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let own = [format!("http://{host}"), format!("https://{host}")];
    if !host.is_empty() && own.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
        return Ok(());
    }
    Err(Error::client(
        ErrorCode::OriginNotAllowed,
        format!("origin {origin} is not allowed"),
    ))
}
