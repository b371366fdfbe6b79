//! `GET /metrics` (Prometheus text) and `GET /api/v1/status`.

use crate::store::sql::Db;
use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::gauges::{self, failing_endpoints};
use crate::app::AppState;
use crate::auth::{Caller, Reach};
use crate::error::{ApiError, ApiResult};
use crate::store::StoreError;

/// Platform token required unless `metrics_public` is set.
pub async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let gauges = state
        .store
        .read_async(move |conn| Ok::<_, ApiError>(gauges::collect(conn)))
        .await?;
    let mut out = String::with_capacity(4096);
    state.metrics.render(&mut out);
    gauges::render(&gauges, &mut out);
    out.push_str("# HELP tessera_uptime_seconds Seconds since the server started\n");
    out.push_str("# TYPE tessera_uptime_seconds gauge\n");
    out.push_str(&format!(
        "tessera_uptime_seconds {}\n",
        state.started_at.elapsed().as_secs()
    ));
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response())
}

fn status_counts(conn: &Db<'_>, reach: &Reach) -> Result<Value, StoreError> {
    let tenant_id = reach.tenant_filter();
    let tenants: i64 = conn.query_row(
        "SELECT COUNT(*) FROM tenants WHERE ?1 IS NULL OR id = ?1",
        [tenant_id],
        |r| r.get(0),
    )?;
    let by_status = conn.query(
        "SELECT status, COUNT(*) FROM connections WHERE ?1 IS NULL OR tenant_id = ?1 GROUP BY status",
        [tenant_id],
        |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)),
    )?;
    let mut connections = serde_json::Map::new();
    for status in ["active", "pending", "needs_reauth", "invalid"] {
        connections.insert(status.to_owned(), json!(0));
    }
    for (status, n) in by_status {
        connections.insert(status, json!(n));
    }
    let jobs = gauges::pending_jobs(conn, reach);
    Ok(json!({
        "tenants": tenants,
        "connections": connections,
        "pending_jobs": jobs.map(|(n, _)| n),
        "oldest_pending_job_age_seconds": jobs.and_then(|(_, age)| age).map(|a| a.round() as i64),
        "failing_endpoints": failing_endpoints(conn, reach),
    }))
}

/// Any valid token; a tenant token sees its own tenant's figures only.
pub async fn status(State(state): State<AppState>, auth: Caller) -> ApiResult<Json<Value>> {
    let reach = auth.reach.clone();
    let counts = state
        .store
        .read_async(move |conn| status_counts(conn, &reach).map_err(ApiError::from))
        .await?;
    let mut body = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started_at.elapsed().as_secs(),
        "scope": if auth.principal.is_platform() { "platform" } else { "tenant" },
        // Paused mode: no job, delivery, refresh or email goes out until resumed.
        "paused": state.pause.pause().is_paused(),
    });
    if let (Some(body), Value::Object(counts)) = (body.as_object_mut(), counts) {
        body.extend(counts);
    }
    Ok(Json(body))
}
