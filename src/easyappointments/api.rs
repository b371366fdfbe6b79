//! Reading Easy!Appointments' REST API v1 (resources as `api_encode` shapes them:
//! appointments `{"id","book","start","end","status","customerId","providerId",
//! "serviceId",...}`, customers `{"id","firstName","lastName","email","phone","address",
//! "city","zip","timezone","language",...}`, services `{"id","name",...}`, providers
//! `{"id","firstName","lastName",...}`).

use crate::auth::TenantScope;
use std::collections::HashMap;

use serde_json::Value;

use super::{EasyAppointments, PROVIDER};
use crate::inbound::outside::Target;
use crate::jobs::JobFailure;
use crate::signups::{self, Contact};

/// The API's page size is `length` (default 20); tessera asks for this many per page.
const PAGE_LENGTH: usize = 100;
const MAX_PAGES: usize = 100;

/// One appointment (the fields tessera uses).
#[derive(Debug, Clone)]
pub struct Appointment {
    pub id: String,
    /// `YYYY-MM-DD` of `start`.
    pub day: String,
    /// `start` as the API gives it (`YYYY-MM-DD HH:MM:SS`, the installation's time).
    pub start: String,
    /// When it was booked (`book`), same format.
    pub booked: Option<String>,
    pub status: String,
    pub customer_id: Option<String>,
    pub service_id: Option<String>,
    pub provider_id: Option<String>,
}

impl Appointment {
    pub fn status_label(&self) -> String {
        if self.status.is_empty() {
            "(none)".to_owned()
        } else {
            self.status.clone()
        }
    }

    pub fn is_cancelled(&self) -> bool {
        let status = self.status.to_ascii_lowercase();
        status.starts_with("cancel")
    }
}

/// A customer record (who booked).
#[derive(Debug, Clone, Default)]
pub struct Customer {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub city: Option<String>,
    pub timezone: Option<String>,
    pub language: Option<String>,
    pub has_phone: bool,
}

impl Customer {
    /// The person as a signup contact, when the record has a usable email.
    pub fn contact(&self) -> Option<Contact> {
        Some(Contact {
            email: self.email.as_deref().and_then(signups::normalise_email)?,
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
        })
    }
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn get(state: &EasyAppointments, scope: &TenantScope, path: &str) -> Result<Value, JobFailure> {
    state
        .calls
        .call(scope, PROVIDER, "GET", Target::Path(path), None, &[])?
        .map(|(v, _)| v)
        .ok_or_else(|| JobFailure::Permanent("this tenant has no easyappointments connection".into()))
}

/// Every appointment starting between the two dates (inclusive), page by page.
pub fn appointments(
    state: &EasyAppointments,
    scope: &TenantScope,
    from: &str,
    to: &str,
) -> Result<Vec<Appointment>, JobFailure> {
    let mut out = Vec::new();
    for page in 1..=MAX_PAGES {
        let doc = get(
            state,
            scope,
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
                start: start.to_owned(),
                booked: text(&row["book"]),
                status: row["status"].as_str().unwrap_or("").to_owned(),
                customer_id: id_text(&row["customerId"]),
                service_id: id_text(&row["serviceId"]),
                provider_id: id_text(&row["providerId"]),
            });
        }
        if rows.len() < PAGE_LENGTH {
            break;
        }
    }
    Ok(out)
}

fn names_of(
    state: &EasyAppointments,
    scope: &TenantScope,
    resource: &str,
    name: impl Fn(&Value) -> Option<String>,
) -> Result<HashMap<String, String>, JobFailure> {
    let doc = get(state, scope, &format!("/{resource}?length={}", PAGE_LENGTH * 10))?;
    Ok(doc
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| Some((id_text(&r["id"])?, name(r)?)))
                .collect()
        })
        .unwrap_or_default())
}

/// Service names by id.
pub fn service_names(state: &EasyAppointments, scope: &TenantScope) -> Result<HashMap<String, String>, JobFailure> {
    names_of(state, scope, "services", |r| text(&r["name"]))
}

/// Provider (staff) names by id.
pub fn provider_names(state: &EasyAppointments, scope: &TenantScope) -> Result<HashMap<String, String>, JobFailure> {
    names_of(state, scope, "providers", |r| {
        let name = [text(&r["firstName"]), text(&r["lastName"])]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!name.is_empty()).then_some(name)
    })
}

/// The name for an id, `"<kind> <id>"` when unknown, `"(none)"` without an id.
pub fn name_of(names: &HashMap<String, String>, id: Option<&str>, kind: &str) -> String {
    match id {
        Some(id) => names.get(id).cloned().unwrap_or_else(|| format!("{kind} {id}")),
        None => "(none)".into(),
    }
}

/// One customer record.
pub fn customer(state: &EasyAppointments, scope: &TenantScope, id: &str) -> Result<Customer, JobFailure> {
    let doc = get(state, scope, &format!("/customers/{id}"))?;
    Ok(Customer {
        email: text(&doc["email"]),
        first_name: text(&doc["firstName"]),
        last_name: text(&doc["lastName"]),
        city: text(&doc["city"]),
        timezone: text(&doc["timezone"]),
        language: text(&doc["language"]),
        has_phone: text(&doc["phone"]).is_some() || text(&doc["mobile"]).is_some(),
    })
}

/// A customer read once per job (bookers often have several appointments).
pub fn customer_cached<'a>(
    state: &EasyAppointments,
    scope: &TenantScope,
    cache: &'a mut HashMap<String, Option<Customer>>,
    id: Option<&str>,
) -> Result<Option<&'a Customer>, JobFailure> {
    let Some(id) = id else { return Ok(None) };
    if !cache.contains_key(id) {
        let record = customer(state, scope, id)?;
        cache.insert(id.to_owned(), Some(record));
    }
    Ok(cache.get(id).and_then(Option::as_ref))
}
