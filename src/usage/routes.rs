//! `GET /api/v1/tenants/{tenant}/usage?from&to` (scope `audit:read`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::{usage_between, usage_by_actor, usage_by_hour};
use crate::api::extract::ApiQuery;
use crate::app::AppState;
use crate::auth::TenantAccess;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    from: Option<String>,
    to: Option<String>,
}

fn parse_bound(field: &str, value: Option<&str>, default: OffsetDateTime) -> ApiResult<OffsetDateTime> {
    match value {
        None => Ok(default),
        Some(v) => crate::time::parse_rfc3339(v)
            .ok_or_else(|| ApiError::invalid_field(field, "expected an RFC 3339 time like 2026-01-31T00:00:00Z")),
    }
}

fn hour_floor(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_minute(0)
        .and_then(|t| t.replace_second(0))
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(at)
}

/// Counts are kept per hour: `from` is rounded down to its hour, `to` is exclusive.
pub async fn get_usage(
    State(state): State<AppState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<UsageQuery>,
) -> ApiResult<Json<Value>> {
    let now = crate::time::now();
    let to = parse_bound("to", query.to.as_deref(), now + Duration::seconds(1))?;
    let from = parse_bound("from", query.from.as_deref(), to - Duration::days(30))?;
    if from >= to {
        return Err(ApiError::invalid_field("from", "must be before `to`"));
    }
    // Answer with what has been counted so far, not just what the last batch wrote.
    state.usage.flush_now().await;
    let (from_s, to_s) = (
        crate::time::format_rfc3339(hour_floor(from)),
        crate::time::format_rfc3339(to),
    );
    let scope = access.scope.clone();
    let (f, t) = (from_s.clone(), to_s.clone());
    let (rows, by_token, hourly) = state
        .store
        .read_async(move |conn| {
            Ok::<_, crate::store::StoreError>((
                usage_between(conn, &scope, &f, &t)?,
                usage_by_actor(conn, &scope, &f, &t)?,
                usage_by_hour(conn, &scope, &f, &t)?,
            ))
        })
        .await?;

    let mut by_route: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_class: BTreeMap<&str, u64> = BTreeMap::new();
    for row in &rows {
        *by_route.entry(&row.route).or_default() += row.count;
        *by_class.entry(&row.status_class).or_default() += row.count;
    }
    let mut by_hour: BTreeMap<&str, (u64, BTreeMap<&str, u64>)> = BTreeMap::new();
    for (hour, class, count) in &hourly {
        let bucket = by_hour.entry(hour).or_default();
        bucket.0 += count;
        bucket.1.insert(class, *count);
    }
    let total: u64 = rows.iter().map(|r| r.count).sum();
    Ok(Json(json!({
        "tenant_id": access.tenant.id,
        "from": from_s,
        "to": to_s,
        "granularity": "hour",
        "total": total,
        "by_token": by_token,
        "by_hour": by_hour.iter().map(|(hour, (count, classes))| json!({
            "hour": hour,
            "count": count,
            "by_status_class": classes,
        })).collect::<Vec<_>>(),
        "by_route": by_route.iter().map(|(route, count)| json!({"route": route, "count": count})).collect::<Vec<_>>(),
        "by_status_class": by_class,
        "items": rows,
    })))
}
