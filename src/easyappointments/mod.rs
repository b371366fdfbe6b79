//! Easy!Appointments (self-hosted scheduler): import bookers into the signup queue and
//! booking statistics, read from its REST API (`/appointments`, `/customers/{id}`,
//! `/services`) with the tenant's API token.
//!
//! `base_url` is tenant-supplied, so every call goes through the SSRF-guarded agent.

pub mod routes;

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::inbound::ProviderCalls;
use crate::inbound::outside::Target;
use crate::jobs::{self, Job, JobFailure, Queue};
use crate::signups::{self, Contact, SourceRef};
use crate::store::Store;

pub const PROVIDER: &str = "easyappointments";
pub const JOB_IMPORT: &str = "easyappointments.import";
const PAGE_LENGTH: usize = 100;
const MAX_PAGES: usize = 100;

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    pub date_from: String,
    pub date_to: String,
    /// Appointment statuses to import (e.g. `"Booked"`); all when absent.
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
    fn accepts(&self, status: &str) -> bool {
        match self {
            StatusFilter::One(s) => s.eq_ignore_ascii_case(status),
            StatusFilter::Many(list) => list.iter().any(|s| s.eq_ignore_ascii_case(status)),
        }
    }
}

/// Imports and booking statistics from a tenant's Easy!Appointments. Cheap to clone.
#[derive(Clone)]
pub struct EasyAppointments {
    store: Store,
    calls: ProviderCalls,
    jobs: Queue,
}

impl EasyAppointments {
    pub fn new(store: Store, calls: ProviderCalls, jobs: Queue) -> EasyAppointments {
        EasyAppointments { store, calls, jobs }
    }

    /// The import job's handler, for the worker pool.
    pub fn job_handlers(&self) -> crate::jobs::Registry {
        let importer = self.clone();
        crate::jobs::Registry::default().with(JOB_IMPORT, move |job| run_import_job(&importer, job))
    }
}

/// `YYYY-MM-DD`, checked.
pub fn valid_date(value: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &format).is_ok()
}

/// One appointment as the API returns it (fields tessera uses).
#[derive(Debug, Clone)]
pub struct Appointment {
    pub id: String,
    pub day: String,
    pub status: String,
    pub customer_id: Option<String>,
    pub service_id: Option<String>,
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn get(state: &EasyAppointments, tenant_id: &str, path: &str) -> Result<Value, JobFailure> {
    state
        .calls
        .call(tenant_id, PROVIDER, "GET", Target::Path(path), None, &[])?
        .map(|(v, _)| v)
        .ok_or_else(|| JobFailure::Permanent("this tenant has no easyappointments connection".into()))
}

/// Every appointment starting between the two dates (inclusive), page by page.
pub fn appointments(
    state: &EasyAppointments,
    tenant_id: &str,
    from: &str,
    to: &str,
) -> Result<Vec<Appointment>, JobFailure> {
    let mut out = Vec::new();
    for page in 1..=MAX_PAGES {
        let doc = get(
            state,
            tenant_id,
            &format!("/appointments?from={from}&till={to}&page={page}&length={PAGE_LENGTH}"),
        )?;
        let rows = doc
            .as_array()
            .ok_or_else(|| JobFailure::Permanent("Easy!Appointments did not answer a list".into()))?;
        for row in rows {
            let start = row["start"].as_str().unwrap_or_default();
            let day: String = start.chars().take(10).collect();
            // The server filters too; this keeps the range exact whatever its version does.
            if day.as_str() < from || day.as_str() > to {
                continue;
            }
            let Some(id) = id_text(&row["id"]) else { continue };
            out.push(Appointment {
                id,
                day,
                status: row["status"].as_str().unwrap_or("").to_owned(),
                customer_id: id_text(&row["customerId"]),
                service_id: id_text(&row["serviceId"]),
            });
        }
        if rows.len() < PAGE_LENGTH {
            break;
        }
    }
    Ok(out)
}

fn service_names(state: &EasyAppointments, tenant_id: &str) -> Result<HashMap<String, String>, JobFailure> {
    let doc = get(state, tenant_id, &format!("/services?length={}", PAGE_LENGTH * 10))?;
    Ok(doc
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| Some((id_text(&r["id"])?, r["name"].as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default())
}

/// Booking counts by day, service and status.
pub fn stats(state: &EasyAppointments, tenant_id: &str, from: &str, to: &str) -> Result<Value, JobFailure> {
    let list = appointments(state, tenant_id, from, to)?;
    let services = service_names(state, tenant_id)?;
    let mut by_day: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_service: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for a in &list {
        *by_day.entry(a.day.clone()).or_default() += 1;
        let service = a
            .service_id
            .as_ref()
            .map(|id| services.get(id).cloned().unwrap_or_else(|| format!("service {id}")))
            .unwrap_or_else(|| "(none)".into());
        *by_service.entry(service).or_default() += 1;
        let status = if a.status.is_empty() {
            "(none)".to_owned()
        } else {
            a.status.clone()
        };
        *by_status.entry(status).or_default() += 1;
    }
    Ok(json!({
        "date_from": from,
        "date_to": to,
        "total": list.len(),
        "by_day": by_day.into_iter().map(|(day, count)| json!({"day": day, "count": count})).collect::<Vec<_>>(),
        "by_service": by_service.into_iter().map(|(service, count)| json!({"service": service, "count": count})).collect::<Vec<_>>(),
        "by_status": by_status.into_iter().map(|(status, count)| json!({"status": status, "count": count})).collect::<Vec<_>>(),
    }))
}

/// The import job: bookers become pending signups (sources merged by appointment id);
/// new ones are announced like webhook signups and invited when asked.
pub fn run_import_job(state: &EasyAppointments, job: &Job) -> Result<(), JobFailure> {
    let tenant_id = job
        .tenant_id
        .clone()
        .ok_or_else(|| JobFailure::Permanent("job has no tenant".into()))?;
    let request: ImportRequest =
        serde_json::from_value(jobs::payload_of(job)).map_err(|e| JobFailure::Permanent(e.to_string()))?;
    let list = appointments(state, &tenant_id, &request.date_from, &request.date_to)?;
    let services = service_names(state, &tenant_id)?;
    let mut customers: HashMap<String, Option<Contact>> = HashMap::new();
    let mut queued = false;
    for appointment in list {
        if let Some(filter) = &request.status_filter
            && !filter.accepts(&appointment.status)
        {
            continue;
        }
        let Some(customer_id) = appointment.customer_id.clone() else {
            continue;
        };
        if !customers.contains_key(&customer_id) {
            let doc = get(state, &tenant_id, &format!("/customers/{customer_id}"))?;
            let contact = doc["email"]
                .as_str()
                .and_then(signups::normalise_email)
                .map(|email| Contact {
                    email,
                    first_name: doc["firstName"].as_str().map(str::to_owned).filter(|s| !s.is_empty()),
                    last_name: doc["lastName"].as_str().map(str::to_owned).filter(|s| !s.is_empty()),
                });
            customers.insert(customer_id.clone(), contact);
        }
        let Some(Some(contact)) = customers.get(&customer_id) else {
            continue;
        };
        let source = SourceRef {
            provider: PROVIDER.to_owned(),
            reference: format!("appointment:{}", appointment.id),
            event_id: None,
            event_name: appointment.service_id.as_ref().and_then(|id| services.get(id).cloned()),
        };
        queued |= state.store.write(|tx| -> Result<bool, JobFailure> {
            let outcome = signups::upsert_from_source(tx, &tenant_id, contact, &source)?;
            let mut queued = false;
            if outcome.created {
                queued |= crate::inbound::process::announce_signup(
                    tx,
                    &state.jobs,
                    &tenant_id,
                    &outcome.signup_id,
                    contact,
                    &source,
                )?;
                if request.auto_invite {
                    signups::set_status(tx, &tenant_id, &outcome.signup_id, "invited")?;
                    queued |= crate::inbound::outside::queue_invite(tx, &state.jobs, &tenant_id, &outcome.signup_id)?
                        .is_some();
                }
            }
            Ok(queued)
        })?;
    }
    if queued {
        state.jobs.wake();
    }
    Ok(())
}
