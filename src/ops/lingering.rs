//! Bodies declared larger than the limit are refused with 413 *after* reading (and
//! discarding) what the client sends, up to a cap. Answering before the client finished
//! writing and then closing makes many clients see a broken pipe or reset instead of the
//! 413 (a "lingering close", as nginx does it).

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use crate::error::ApiError;

/// At most this much of an oversized body is read before giving up on the client.
const DRAIN_CAP: u64 = 16 * 1024 * 1024;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

async fn drain(mut body: Body) {
    let mut read = 0u64;
    let reading = async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                read += data.len() as u64;
                if read > DRAIN_CAP {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, reading).await;
}

/// The request, or the 413 for a body declared larger than `limit` (once what the client
/// sends of it has been read).
pub async fn refuse_oversized(limit: usize, request: Request) -> Result<Request, Response> {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => {
            if length <= DRAIN_CAP {
                drain(request.into_body()).await;
            }
            Err(ApiError::payload_too_large("the request body is larger than this server accepts").into_response())
        }
        _ => Ok(request),
    }
}
