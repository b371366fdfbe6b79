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
pub mod sample;
pub mod signature;
pub mod sync;

use std::sync::Arc;

use crate::auth::Auth;
use crate::catalog::Catalogs;
use crate::error::ApiError;
use crate::jobs::Queue;
use crate::metrics::Metrics;
use crate::outbound::Outbound;
use crate::plugins::Plugins;
use crate::ratelimit::{WebhookBudgets, WebhookLimits};
use crate::store::writer::Writer;
use crate::store::{Store, StoreError};
use crate::time::Clock;
use crate::vault::{Vault, VaultError};

pub use outside::ProviderCalls;

/// Inbound webhooks: verifying and storing deliveries, processing them into signups,
/// notifications and follow-up jobs, and the calls those jobs make. Cheap to clone.
#[derive(Clone)]
pub struct Inbound {
    store: Store,
    vault: Arc<Vault>,
    /// Every tenant's providers (built-ins, providers file, its plugins).
    catalogs: Arc<Catalogs>,
    /// Runs the `onInbound` transformations of the plugins a tenant installed.
    plugins: Plugins,
    /// Deliveries and processing writes share its batches.
    writer: Writer,
    jobs: Queue,
    /// Woken after processing commits outbox rows.
    outbound: Outbound,
    metrics: Arc<Metrics>,
    calls: ProviderCalls,
    clock: Clock,
    /// This server's own base URL as reached from itself, for test deliveries.
    own_url: String,
    own_agent: ureq::Agent,
    /// The public receiver's tenant lookups and limits.
    receiver: Arc<Receiver>,
}

/// What the public receiver needs beyond storage: the tenant cache (so most deliveries
/// cost no lookup) and the limits on failures, verified deliveries and rejected rows.
pub struct Receiver {
    auth: Auth,
    limits: WebhookLimits,
    budgets: WebhookBudgets,
    rejected_events_max: u32,
}

/// The receiver's settings.
#[derive(Debug, Clone, Copy)]
pub struct ReceiverSettings {
    pub budgets: WebhookBudgets,
    /// Rejected deliveries stored one row each per tenant; beyond, counted per hour.
    pub rejected_events_max: u32,
}

impl ReceiverSettings {
    pub fn from_config(config: &crate::Config) -> Self {
        ReceiverSettings {
            budgets: WebhookBudgets::from_config(config),
            rejected_events_max: config.rejected_events_max.max(1),
        }
    }
}

/// What [`Inbound::new`] is built from.
pub struct InboundParts {
    pub store: Store,
    pub vault: Arc<Vault>,
    pub catalogs: Arc<Catalogs>,
    pub plugins: Plugins,
    pub writer: Writer,
    pub jobs: Queue,
    pub outbound: Outbound,
    pub metrics: Arc<Metrics>,
    pub calls: ProviderCalls,
    pub clock: Clock,
    /// Where this server listens, as reached from itself (`http://127.0.0.1:7700`).
    pub own_url: String,
    /// An agent for calls to this server itself.
    pub own_agent: ureq::Agent,
    pub auth: Auth,
    pub receiver: ReceiverSettings,
}

impl Inbound {
    pub fn new(parts: InboundParts) -> Inbound {
        Inbound {
            store: parts.store,
            vault: parts.vault,
            catalogs: parts.catalogs,
            plugins: parts.plugins,
            writer: parts.writer,
            jobs: parts.jobs,
            outbound: parts.outbound,
            metrics: parts.metrics,
            calls: parts.calls,
            clock: parts.clock,
            own_url: parts.own_url,
            own_agent: parts.own_agent,
            receiver: Arc::new(Receiver {
                auth: parts.auth,
                limits: WebhookLimits::default(),
                budgets: parts.receiver.budgets,
                rejected_events_max: parts.receiver.rejected_events_max,
            }),
        }
    }

    /// The job handlers of inbound processing, for the worker pool.
    pub fn job_handlers(&self) -> crate::jobs::Registry {
        let (process, notify, invite, brevo) =
            (self.clone(), self.calls.clone(), self.calls.clone(), self.calls.clone());
        let syncer = self.clone();
        crate::jobs::Registry::default()
            .with_write(JOB_PROCESS, move |job| process::run_process_job(&process, job))
            .with(JOB_SYNC_BINDING, move |job| sync::run_sync_job(&syncer, job))
            .with(JOB_NOTIFY_EMAIL, move |job| outside::run_notify_email(&notify, job))
            .with(JOB_INVITE_EMAIL, move |job| outside::run_invite_email(&invite, job))
            .with(JOB_BREVO_UPSERT, move |job| outside::run_brevo_upsert(&brevo, job))
    }
}

/// Job kinds this module runs.
pub const JOB_PROCESS: &str = "inbound.process";
pub const JOB_SYNC_BINDING: &str = "inbound.sync_binding";
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
    #[error("the catalog has no sample event for {0}")]
    NoSample(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<InboundError> for ApiError {
    fn from(err: InboundError) -> Self {
        match err {
            InboundError::UnknownProvider(_)
            | InboundError::NoWebhooks(_)
            | InboundError::UnknownTenant
            | InboundError::NoConnection(_)
            | InboundError::EventNotFound
            | InboundError::NoSample(_) => ApiError::not_found(err.to_string()),
            InboundError::Invalid(message) => ApiError::invalid_input(message),
            InboundError::Store(e) => e.into(),
            InboundError::Vault(e) => e.into(),
        }
    }
}
