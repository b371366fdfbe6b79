//! GDPR consents a tenant records for its data subjects: grant, list, revoke (the row is
//! kept with `revoked_at`), and the current status for one resource. Every change is
//! audited in the same transaction.

pub mod repo;
pub mod routes;

use serde::Serialize;

pub const CONSENT_TYPES: &[&str] = &["THIRD_PARTY", "DATA_PROCESSING", "MARKETING"];

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Consent {
    pub id: String,
    pub consent_type: String,
    pub resource_type: String,
    pub resource_id: String,
    pub description: String,
    pub subject: Option<String>,
    pub granted_by: String,
    pub granted_at: String,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
    pub active: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("no such consent")]
    NotFound,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl From<ConsentError> for crate::error::ApiError {
    fn from(err: ConsentError) -> Self {
        use crate::error::ApiError;
        match err {
            ConsentError::Invalid { field, message } => ApiError::invalid_field(field, message),
            ConsentError::NotFound => ApiError::not_found("no such consent"),
            ConsentError::Store(e) => e.into(),
        }
    }
}

/// Trims a required text field and bounds its length.
pub fn required_text(field: &'static str, value: &str, max: usize) -> Result<String, ConsentError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ConsentError::Invalid {
            field,
            message: "must not be empty".into(),
        });
    }
    if value.chars().count() > max {
        return Err(ConsentError::Invalid {
            field,
            message: format!("at most {max} characters"),
        });
    }
    Ok(value.to_owned())
}

pub fn consent_type(value: &str) -> Result<String, ConsentError> {
    if CONSENT_TYPES.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(ConsentError::Invalid {
            field: "consent_type",
            message: format!("must be one of {}", CONSENT_TYPES.join(", ")),
        })
    }
}
