//! `POST .../easyappointments/sync-to-email-list`: the people who booked in a range into
//! the tenant's Brevo list, through Brevo's documented contact upsert
//! (`POST /v3/contacts` with `listIds` and `updateEnabled`,
//! https://developers.brevo.com/reference/createcontact), as a durable, retried job.
//! Every step can be repeated: an upsert of a contact already on the list changes nothing.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{EasyAppointments, StatusFilter, admits, api};
use crate::jobs::{self, Job, JobFailure};

pub const JOB_SYNC: &str = "easyappointments.sync_email_list";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    pub date_from: String,
    pub date_to: String,
    /// The Brevo list; the Brevo connection's `config.list_id` when absent.
    #[serde(default)]
    pub list_id: Option<i64>,
    #[serde(default)]
    pub status_filter: Option<StatusFilter>,
}

/// Records `{"found","synced","skipped","list_id"}`: appointments in the range, distinct
/// bookers upserted into the list, and appointments whose booker was not (another
/// status, no email, or already counted).
pub fn run_sync_job(state: &EasyAppointments, job: &Job) -> Result<(), JobFailure> {
    let scope = crate::jobs::scope_of(job)?;
    let request: SyncRequest =
        serde_json::from_value(jobs::payload_of(job)).map_err(|e| JobFailure::Permanent(e.to_string()))?;
    let list_id = request
        .list_id
        .ok_or_else(|| JobFailure::Permanent("no Brevo list id".into()))?;
    let list = api::appointments(state, &scope, &request.date_from, &request.date_to)?;
    let mut customers: HashMap<String, Option<api::Customer>> = HashMap::new();
    let mut synced: BTreeSet<String> = BTreeSet::new();
    for appointment in &list {
        if !admits(request.status_filter.as_ref(), &appointment.status) {
            continue;
        }
        let Some(customer) = api::customer_cached(state, &scope, &mut customers, appointment.customer_id.as_deref())?
        else {
            continue;
        };
        let Some(contact) = customer.contact() else { continue };
        if synced.contains(&contact.email) {
            continue;
        }
        let added = state.calls.add_to_brevo_list(
            &scope,
            &contact.email,
            contact.first_name.as_deref(),
            contact.last_name.as_deref(),
            list_id,
        )?;
        if !added {
            return Err(JobFailure::Permanent("this tenant has no brevo connection".into()));
        }
        synced.insert(contact.email);
    }
    let found = list.len() as u64;
    let count = synced.len() as u64;
    state.report(
        job,
        &json!({"found": found, "synced": count, "skipped": found.saturating_sub(count), "list_id": list_id}),
    )
}
