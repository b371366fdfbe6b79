//! Body and query extractors whose rejections are problem documents that name the field
//! and the problem, never the value sent (see [`crate::error::input`]).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, input};

/// A JSON body: malformed JSON, missing, unknown or mistyped fields answer a clear 400
/// (and an oversized body 413, a body that does not arrive in time 408).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

fn is_json(parts: &axum::http::HeaderMap) -> bool {
    let Some(value) = parts.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(crate::error::missing_json_content_type());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(ApiError::from)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// For a field where an explicit `null` means "clear it": with `#[serde(default,
/// deserialize_with = "present")]` an absent field is `None` and `null` is
/// `Some(Value::Null)` (plain `Option<Value>` reads both as `None`).
pub fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// A JSON document already read (an optional body), with [`ApiJson`]'s rejections.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(input::json_error)?;
    deserializer.end().map_err(|e| input::malformed_json(&e))?;
    Ok(value)
}

/// A query string, with the same kind of rejection.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(input::query_error)
    }
}
