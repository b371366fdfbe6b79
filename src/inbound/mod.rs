//! Inbound webhooks: per-tenant URLs, signature schemes, the durable event store, and
//! processing into signups, notifications and email-list sync.

pub mod bench;
pub mod bindings;
pub mod events;
pub mod ingest;
pub mod outside;
pub mod process;
pub mod rejections;
pub mod routes;
pub mod signature;

use crate::error::ApiError;
use crate::store::StoreError;
use crate::vault::VaultError;

/// Job kinds this module runs.
pub const JOB_PROCESS: &str = "inbound.process";
pub const JOB_NOTIFY_EMAIL: &str = "resend.signup_notification";
pub const JOB_INVITE_EMAIL: &str = "resend.signup_invite";
pub const JOB_BREVO_UPSERT: &str = "brevo.upsert_contact";

/// Largest webhook body accepted (API.md: over 1 MiB → 413).
pub const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("unknown provider `{0}`")]
    UnknownProvider(String),
    #[error("{0} does not send webhooks tessera understands")]
    NoWebhooks(String),
    #[error("no such tenant")]
    UnknownTenant,
    #[error("this tenant has no `{0}` connection")]
    NoConnection(String),
    #[error("no such event")]
    EventNotFound,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<rusqlite::Error> for InboundError {
    fn from(e: rusqlite::Error) -> Self {
        InboundError::Store(e.into())
    }
}

impl From<InboundError> for ApiError {
    fn from(err: InboundError) -> Self {
        match err {
            InboundError::UnknownProvider(_)
            | InboundError::NoWebhooks(_)
            | InboundError::UnknownTenant
            | InboundError::NoConnection(_)
            | InboundError::EventNotFound => ApiError::not_found(err.to_string()),
            InboundError::Invalid(message) => ApiError::invalid_input(message),
            InboundError::Store(e) => e.into(),
            InboundError::Vault(e) => e.into(),
        }
    }
}

/// The job handlers of inbound processing, for the worker pool.
pub fn job_handlers() -> crate::jobs::Registry {
    crate::jobs::Registry::default()
        .with(JOB_PROCESS, process::run_process_job)
        .with(JOB_NOTIFY_EMAIL, outside::run_notify_email)
        .with(JOB_INVITE_EMAIL, outside::run_invite_email)
        .with(JOB_BREVO_UPSERT, outside::run_brevo_upsert)
        .with(
            crate::easyappointments::JOB_IMPORT,
            crate::easyappointments::run_import_job,
        )
}
