//! Outbound webhooks: tenants subscribe endpoints to tessera's domain events, which are
//! fanned out from the outbox, signed per the Standard Webhooks spec and delivered with
//! retries by background workers (see [`engine`]).
//!
//! Ordering per endpoint is not guaranteed: deliveries run concurrently and retries
//! interleave with new events. Receivers de-duplicate on `webhook-id`.

pub mod bench;
pub mod dispatch;
pub mod endpoints;
pub mod engine;
pub mod history;
pub mod outcome;

pub mod routes;
pub mod schedule;
pub mod signing;

use crate::error::ApiError;
use crate::net::TargetError;
use crate::store::StoreError;
use crate::vault::VaultError;

pub use engine::Outbound;

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("url: {0}")]
    Target(#[from] TargetError),
    #[error("no such webhook endpoint")]
    EndpointNotFound,
    #[error("no such delivery")]
    DeliveryNotFound,
    #[error("no such event")]
    EventNotFound,
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl OutboundError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        OutboundError::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<OutboundError> for ApiError {
    fn from(err: OutboundError) -> Self {
        match err {
            OutboundError::Invalid { field, message } => ApiError::invalid_field(field, message),
            OutboundError::Target(e) => ApiError::invalid_field("url", e.to_string()),
            OutboundError::EndpointNotFound | OutboundError::DeliveryNotFound | OutboundError::EventNotFound => {
                ApiError::not_found(err.to_string())
            }
            OutboundError::Conflict(detail) => ApiError::conflict(detail),
            OutboundError::Store(e) => e.into(),
            OutboundError::Vault(e) => e.into(),
        }
    }
}

/// Unix milliseconds for an RFC 3339 string given by a client.
pub fn rfc3339_to_ms(field: &'static str, value: &str) -> Result<i64, OutboundError> {
    crate::time::rfc3339_to_ms(value)
        .ok_or_else(|| OutboundError::invalid(field, "expected an RFC 3339 timestamp like 2026-11-24T03:00:00Z"))
}

#[cfg(test)]
mod tests;
