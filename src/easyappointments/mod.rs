//! Easy!Appointments (self-hosted scheduler): bookers into the signup queue or the
//! tenant's Brevo list, booking statistics and insights, read from its REST API
//! (`/appointments?from&till&page&length`, `/customers/{id}`, `/services`, `/providers`,
//! https://easyappointments.org/documentation/rest-api/) with the tenant's API token.
//!
//! `base_url` is tenant-supplied, so every call goes through the SSRF-guarded agent.

pub mod api;
pub mod insights;
pub mod routes;
pub mod sync;

use crate::auth::TenantScope;
use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::inbound::ProviderCalls;
use crate::jobs::{self, Job, JobFailure, Queue};
use crate::signups::{self, SourceRef};
use crate::store::Store;
use crate::time::Clock;
pub use api::{Appointment, Customer};

pub const PROVIDER: &str = "easyappointments";
pub const JOB_IMPORT: &str = "easyappointments.import";

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    pub date_from: String,
    pub date_to: String,
    /// Appointment statuses to import (e.g. `"Booked"`); every status when absent or `"all"`.
    #[serde(default)]
    pub status_filter: Option<StatusFilter>,
    #[serde(default)]
    pub auto_invite: bool,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum StatusFilter {
    One(String),
    Many(Vec<String>),
}

impl StatusFilter {
    pub fn accepts(&self, status: &str) -> bool {
        let matches = |wanted: &str| wanted.eq_ignore_ascii_case("all") || wanted.eq_ignore_ascii_case(status);
        match self {
            StatusFilter::One(s) => matches(s),
            StatusFilter::Many(list) => list.iter().any(|s| matches(s)),
        }
    }
}

/// Whether `filter` (absent: every status) lets an appointment of `status` through.
pub fn admits(filter: Option<&StatusFilter>, status: &str) -> bool {
    filter.is_none_or(|f| f.accepts(status))
}

/// Imports, list sync, statistics and insights from a tenant's Easy!Appointments.
/// Cheap to clone.
#[derive(Clone)]
pub struct EasyAppointments {
    store: Store,
    calls: ProviderCalls,
    jobs: Queue,
    /// "Attended" means an appointment that started before now.
    clock: Clock,
}

impl EasyAppointments {
    pub fn new(store: Store, calls: ProviderCalls, jobs: Queue, clock: Clock) -> EasyAppointments {
        EasyAppointments {
            store,
            calls,
            jobs,
            clock,
        }
    }

    /// The import and list-sync jobs' handlers, for the worker pool.
    pub fn job_handlers(&self) -> crate::jobs::Registry {
        let (importer, syncer) = (self.clone(), self.clone());
        crate::jobs::Registry::default()
            .with(JOB_IMPORT, move |job| run_import_job(&importer, job))
            .with(sync::JOB_SYNC, move |job| sync::run_sync_job(&syncer, job))
    }

    /// Records what a job found and did, visible in `GET .../jobs`.
    fn report(&self, job: &Job, result: &Value) -> Result<(), JobFailure> {
        Ok(self.store.write(|tx| jobs::set_result(tx, &job.id, result))?)
    }
}

/// `YYYY-MM-DD`, checked.
pub fn valid_date(value: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &format).is_ok()
}

/// Booking counts by day, service and status.
pub fn stats(state: &EasyAppointments, scope: &TenantScope, from: &str, to: &str) -> Result<Value, JobFailure> {
    let list = api::appointments(state, scope, from, to)?;
    let services = api::service_names(state, scope)?;
    let mut by_day: BTreeMap<String, u64> = BTreeMap::new();
    for a in &list {
        *by_day.entry(a.day.clone()).or_default() += 1;
    }
    Ok(json!({
        "date_from": from,
        "date_to": to,
        "total": list.len(),
        "by_day": by_day.into_iter().map(|(day, count)| json!({"day": day, "count": count})).collect::<Vec<_>>(),
        "by_service": counted(list.iter().map(|a| api::name_of(&services, a.service_id.as_deref(), "service")), "service"),
        "by_status": counted(list.iter().map(|a| a.status_label()), "status"),
    }))
}

/// `[{"<label>": name, "count": n}]`, by name.
pub fn counted(names: impl Iterator<Item = String>, label: &str) -> Vec<Value> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for name in names {
        *counts.entry(name).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(name, count)| json!({ label: name, "count": count }))
        .collect()
}

/// The import job: bookers become pending signups (sources merged by appointment id);
/// new ones are announced like webhook signups and invited when asked. Records
/// `{"found","imported","skipped"}`: appointments in the range, bookers added to the
/// queue, and the rest (another status, no customer or email, already imported).
pub fn run_import_job(state: &EasyAppointments, job: &Job) -> Result<(), JobFailure> {
    let scope = crate::jobs::scope_of(job)?;
    let request: ImportRequest =
        serde_json::from_value(jobs::payload_of(job)).map_err(|e| JobFailure::Permanent(e.to_string()))?;
    let list = api::appointments(state, &scope, &request.date_from, &request.date_to)?;
    let found = list.len();
    let services = api::service_names(state, &scope)?;
    let mut customers: HashMap<String, Option<Customer>> = HashMap::new();
    let (mut imported, mut created, mut queued) = (0u64, 0u64, false);
    for appointment in list {
        if !admits(request.status_filter.as_ref(), &appointment.status) {
            continue;
        }
        let Some(customer) = api::customer_cached(state, &scope, &mut customers, appointment.customer_id.as_deref())?
        else {
            continue;
        };
        let Some(contact) = customer.contact() else { continue };
        let source = SourceRef {
            provider: PROVIDER.to_owned(),
            reference: format!("appointment:{}", appointment.id),
            event_id: None,
            event_name: appointment.service_id.as_ref().and_then(|id| services.get(id).cloned()),
        };
        let (added, new_signup, wake) = state.store.write(|tx| -> Result<(bool, bool, bool), JobFailure> {
            let outcome = signups::upsert_from_source(tx, &scope, &contact, &source)?;
            let mut wake = false;
            if outcome.created {
                wake |= crate::inbound::process::announce_signup(
                    tx,
                    &state.jobs,
                    &scope,
                    &outcome.signup_id,
                    &contact,
                    &source,
                )?;
                if request.auto_invite {
                    signups::set_status(tx, &scope, &outcome.signup_id, "invited")?;
                    wake |=
                        crate::inbound::outside::queue_invite(tx, &state.jobs, &scope, &outcome.signup_id)?.is_some();
                }
            }
            Ok((outcome.new_source, outcome.created, wake))
        })?;
        imported += u64::from(added);
        created += u64::from(new_signup);
        queued |= wake;
    }
    if queued {
        state.jobs.wake();
    }
    state.report(
        job,
        &json!({
            "found": found,
            "imported": imported,
            "skipped": found as u64 - imported,
            "new_signups": created,
        }),
    )
}
