//! `GET .../easyappointments/insights`: figures computed from the appointments of a
//! range, by analysis type, and on request a short written summary from the tenant's own
//! Anthropic account (Messages API, https://docs.anthropic.com/en/api/messages). Only
//! aggregate figures are ever sent there: counts by status, service, weekday, hour, email
//! domain and city — never a customer's name or email, and staff appear as "provider N".

use crate::auth::TenantScope;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use super::{EasyAppointments, api, counted};
use crate::inbound::outside::Target;
use crate::jobs::JobFailure;

pub const ANALYSIS_TYPES: &[&str] = &["overview", "demographics", "patterns", "conversion"];
const NARRATIVE_PROVIDER: &str = "anthropic";
const NARRATIVE_MAX_TOKENS: u32 = 600;
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The figures of one analysis; `for_narrative` is what may leave tessera.
pub struct Figures {
    pub shown: Value,
    pub for_narrative: Value,
}

/// Computes `analysis_type`'s figures for the appointments between the two dates.
pub fn figures(
    state: &EasyAppointments,
    scope: &TenantScope,
    from: &str,
    to: &str,
    analysis_type: &str,
) -> Result<Figures, JobFailure> {
    let list = api::appointments(state, scope, from, to)?;
    match analysis_type {
        "overview" => overview(state, scope, &list),
        "patterns" => Ok(same(patterns(&list))),
        "demographics" => demographics(state, scope, &list).map(same),
        "conversion" => conversion(state, scope, &list).map(same),
        other => Err(JobFailure::Permanent(format!("unknown analysis type `{other}`"))),
    }
}

fn same(value: Value) -> Figures {
    Figures {
        for_narrative: value.clone(),
        shown: value,
    }
}

fn overview(state: &EasyAppointments, scope: &TenantScope, list: &[api::Appointment]) -> Result<Figures, JobFailure> {
    let services = api::service_names(state, scope)?;
    let providers = api::provider_names(state, scope)?;
    let by_provider = counted(
        list.iter()
            .map(|a| api::name_of(&providers, a.provider_id.as_deref(), "provider")),
        "provider",
    );
    // Staff are people too: the summary sees them numbered, not named.
    let anonymous: Vec<Value> = by_provider
        .iter()
        .enumerate()
        .map(|(i, row)| json!({"provider": format!("provider {}", i + 1), "count": row["count"]}))
        .collect();
    let base = json!({
        "total": list.len(),
        "by_status": counted(list.iter().map(api::Appointment::status_label), "status"),
        "by_service": counted(list.iter().map(|a| api::name_of(&services, a.service_id.as_deref(), "service")), "service"),
    });
    let mut shown = base.clone();
    shown["by_provider"] = json!(by_provider);
    let mut for_narrative = base;
    for_narrative["by_provider"] = json!(anonymous);
    Ok(Figures { shown, for_narrative })
}

fn parse_datetime(value: &str) -> Option<time::PrimitiveDateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(value.get(..19)?, &format).ok()
}

fn patterns(list: &[api::Appointment]) -> Value {
    let mut weekdays = [0u64; 7];
    let mut hours: BTreeMap<u8, u64> = BTreeMap::new();
    let mut lead_days: Vec<f64> = Vec::new();
    for a in list {
        let Some(start) = parse_datetime(&a.start) else {
            continue;
        };
        weekdays[start.weekday().number_days_from_monday() as usize] += 1;
        *hours.entry(start.hour()).or_default() += 1;
        if let Some(booked) = a.booked.as_deref().and_then(parse_datetime) {
            lead_days.push((start - booked).as_seconds_f64().max(0.0) / 86_400.0);
        }
    }
    lead_days.sort_by(f64::total_cmp);
    let round = |x: f64| (x * 10.0).round() / 10.0;
    let lead_time = (!lead_days.is_empty()).then(|| {
        json!({
            "average": round(lead_days.iter().sum::<f64>() / lead_days.len() as f64),
            "median": round(lead_days[lead_days.len() / 2]),
        })
    });
    json!({
        "total": list.len(),
        "by_weekday": WEEKDAYS.iter().zip(weekdays).map(|(d, n)| json!({"weekday": d, "count": n})).collect::<Vec<_>>(),
        "by_hour": hours.into_iter().map(|(h, n)| json!({"hour": h, "count": n})).collect::<Vec<_>>(),
        "lead_time_days": lead_time,
    })
}

/// The distinct customers of the range, read once each.
fn customers_of(
    state: &EasyAppointments,
    scope: &TenantScope,
    list: &[api::Appointment],
) -> Result<Vec<api::Customer>, JobFailure> {
    let mut cache: HashMap<String, Option<api::Customer>> = HashMap::new();
    let ids: BTreeSet<&str> = list.iter().filter_map(|a| a.customer_id.as_deref()).collect();
    let mut out = Vec::new();
    for id in ids {
        if let Some(customer) = api::customer_cached(state, scope, &mut cache, Some(id))? {
            out.push(customer.clone());
        }
    }
    Ok(out)
}

fn top(names: impl Iterator<Item = String>, label: &str, limit: usize) -> Vec<Value> {
    let mut rows = counted(names, label);
    rows.sort_by(|a, b| b["count"].as_u64().cmp(&a["count"].as_u64()));
    rows.truncate(limit);
    rows
}

fn demographics(state: &EasyAppointments, scope: &TenantScope, list: &[api::Appointment]) -> Result<Value, JobFailure> {
    let customers = customers_of(state, scope, list)?;
    let domains = customers
        .iter()
        .filter_map(|c| c.contact())
        .filter_map(|c| c.email.split_once('@').map(|(_, d)| d.to_owned()));
    let field =
        |get: fn(&api::Customer) -> Option<&String>| customers.iter().filter_map(move |c| get(c).map(|v| v.to_owned()));
    Ok(json!({
        "customers": customers.len(),
        "with_email": customers.iter().filter(|c| c.contact().is_some()).count(),
        "with_phone": customers.iter().filter(|c| c.has_phone).count(),
        "email_domains": top(domains, "domain", 10),
        "cities": top(field(|c| c.city.as_ref()), "city", 10),
        "timezones": top(field(|c| c.timezone.as_ref()), "timezone", 10),
        "languages": top(field(|c| c.language.as_ref()), "language", 10),
    }))
}

fn rate(part: u64, whole: u64) -> Value {
    if whole == 0 {
        Value::Null
    } else {
        json!(((part as f64 / whole as f64) * 1000.0).round() / 1000.0)
    }
}

/// Booked → attended (started before now, not cancelled; Easy!Appointments records no
/// attendance) or cancelled, and how far the bookers got in the signup queue.
fn conversion(state: &EasyAppointments, scope: &TenantScope, list: &[api::Appointment]) -> Result<Value, JobFailure> {
    let now = state.clock.now();
    let now = time::PrimitiveDateTime::new(now.date(), now.time());
    let cancelled = list.iter().filter(|a| a.is_cancelled()).count() as u64;
    let attended = list
        .iter()
        .filter(|a| !a.is_cancelled() && parse_datetime(&a.start).is_some_and(|s| s < now))
        .count() as u64;
    let booked = list.len() as u64;
    let emails: BTreeSet<String> = customers_of(state, scope, list)?
        .iter()
        .filter_map(|c| c.contact().map(|c| c.email))
        .collect();
    let bookers = emails.len() as u64;
    let scope = scope.clone();
    let statuses = state.store.read(|conn| -> Result<BTreeMap<String, u64>, JobFailure> {
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        for email in &emails {
            if let Some(status) = crate::signups::repo::status_by_email(conn, &scope, email)? {
                *out.entry(status).or_default() += 1;
            }
        }
        Ok(out)
    })?;
    let in_queue: u64 = statuses.values().sum();
    let of = |s: &str| statuses.get(s).copied().unwrap_or(0);
    Ok(json!({
        "booked": booked,
        "cancelled": cancelled,
        "attended": attended,
        "upcoming": booked - cancelled - attended,
        "attendance_rate": rate(attended, attended + cancelled),
        "bookers": bookers,
        "signups": {
            "in_queue": in_queue,
            "pending": of("pending"),
            "approved": of("approved"),
            "invited": of("invited"),
            "rejected": of("rejected"),
        },
        "approval_rate": rate(of("approved") + of("invited"), bookers),
    }))
}

/// A short written summary of `figures` from the tenant's Anthropic account, with the
/// model of its connection's config (or the catalog's default).
pub fn narrative(
    state: &EasyAppointments,
    scope: &TenantScope,
    context: &Value,
) -> Result<(String, String), JobFailure> {
    let model = state
        .calls
        .config_or_default(scope, NARRATIVE_PROVIDER, "model")?
        .ok_or_else(|| JobFailure::Permanent("no model is configured for the anthropic connection".into()))?;
    let body = json!({
        "model": model,
        "max_tokens": NARRATIVE_MAX_TOKENS,
        "system": "You write for the owner of a business that takes bookings. Summarise the booking figures you are given in three to five plain sentences: what stands out, and one thing worth acting on. Use only the figures given; do not invent numbers.",
        "messages": [{"role": "user", "content": format!("Booking figures (JSON):\n{context}")}],
    });
    let (answer, _) = state
        .calls
        .call(
            scope,
            NARRATIVE_PROVIDER,
            "POST",
            Target::Path("/v1/messages"),
            Some(&body),
            &[],
        )?
        .ok_or_else(|| JobFailure::Permanent("this tenant has no anthropic connection".into()))?;
    let text = answer["content"]
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .filter(|b| b["type"] == "text")
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    if text.trim().is_empty() {
        return Err(JobFailure::Permanent("Anthropic answered without any text".into()));
    }
    let used = answer["model"].as_str().unwrap_or(&model).to_owned();
    Ok((text.trim().to_owned(), used))
}
