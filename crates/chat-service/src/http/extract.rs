//! JSON body and query extractors whose rejections are `{code, message}` errors.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use protocol::ErrorCode;
use serde::de::DeserializeOwned;

use crate::error::Error;

pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> Error {
    match r {
        JsonRejection::JsonDataError(e) => Error::client(
            ErrorCode::InvalidField,
            format!("invalid field: {}", e.body_text()),
        ),
        JsonRejection::JsonSyntaxError(e) => Error::client(
            ErrorCode::BadRequest,
            format!("malformed JSON: {}", e.body_text()),
        ),
        JsonRejection::MissingJsonContentType(_) => Error::client(
            ErrorCode::BadRequest,
            "expected a body with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(e) => Error::client(
            ErrorCode::TooLarge,
            format!(
                "the body could not be read (at most {} bytes): {}",
                protocol::MAX_FRAME_BYTES,
                e.body_text()
            ),
        ),
        other => Error::client(ErrorCode::BadRequest, other.body_text()),
    }
}

pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(Error::client(
                ErrorCode::InvalidField,
                format!("invalid query: {}", e.body_text()),
            )),
            Err(other) => Err(Error::client(ErrorCode::BadRequest, other.body_text())),
        }
    }
}

/// A path id that must be a positive integer.
pub struct PathId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| Error::client(ErrorCode::BadRequest, e.body_text()))?;
        match raw.parse::<i64>() {
            Ok(id) if id > 0 => Ok(PathId(id)),
            _ => Err(Error::invalid(format!("{raw:?} is not a valid id"))),
        }
    }
}
