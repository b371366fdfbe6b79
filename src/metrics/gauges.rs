//! Gauges computed from the database at scrape time, from the tables the jobs, inbound
//! and outbound areas own. A failing query yields no series, never an error.

use crate::store::sql::{Db, Dialect};

use crate::auth::{PlatformScope, Reach};

use super::format_labels;

pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
    pub series: Vec<(Vec<(String, String)>, f64)>,
}

/// Whether `table` exists with every column in `columns`.
pub fn table_has(conn: &Db<'_>, table: &str, columns: &[&str]) -> bool {
    let sql = match conn.dialect() {
        Dialect::Sqlite => "SELECT name FROM pragma_table_info(?1)",
        Dialect::Postgres => {
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = ?1"
        }
    };
    let Ok(found) = conn.query(sql, [table], |r| r.get::<String>(0)) else {
        return false;
    };
    !found.is_empty() && columns.iter().all(|c| found.iter().any(|f| f == c))
}

/// `SELECT label, COUNT(*) ... GROUP BY label` as series; empty on any failure.
fn count_by(conn: &Db<'_>, table: &str, column: &str, label: &str, filter: &str) -> Vec<(Vec<(String, String)>, f64)> {
    let sql = format!("SELECT {column}, COUNT(*) FROM {table} {filter} GROUP BY {column}");
    let Ok(rows) = conn.query(&sql, [], |r| Ok((r.get::<Option<String>>(0)?, r.get::<i64>(1)?))) else {
        return Vec::new();
    };
    rows.into_iter()
        .map(|(value, n)| (vec![(label.to_owned(), value.unwrap_or_default())], n as f64))
        .collect()
}

/// Jobs waiting in the queue (`jobs.status = 'pending'`, including retries waiting for
/// their `run_at`) and the age in seconds of the oldest one.
pub fn pending_jobs(conn: &Db<'_>, reach: &Reach) -> Option<(i64, Option<f64>)> {
    let (count, oldest): (i64, Option<String>) = conn
        .query_row(
            "SELECT COUNT(*), MIN(created_at) FROM jobs
             WHERE status = 'pending' AND (?1 IS NULL OR tenant_id = ?1)",
            [reach.tenant_filter()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok()?;
    let age = oldest
        .as_deref()
        .and_then(crate::time::parse_rfc3339)
        .map(|at| (crate::time::now() - at).as_seconds_f64().max(0.0));
    Some((count, age))
}

/// Outbound endpoints failing or disabled for failing (the outbound area's definition).
pub fn failing_endpoints(conn: &Db<'_>, reach: &Reach) -> Option<i64> {
    crate::outbound::endpoints::count_failing(conn, reach)
        .ok()
        .map(|n| n as i64)
}

/// Every tenant's figures: `/metrics` is the operator's (or public by the operator's choice).
pub fn collect(conn: &Db<'_>) -> Vec<Gauge> {
    let everyone = Reach::from(PlatformScope::for_server_work());
    let mut gauges = Vec::new();
    let tenants: f64 = conn
        .query_row("SELECT COUNT(*) FROM tenants", [], |r| r.get::<i64>(0))
        .map(|n| n as f64)
        .unwrap_or(0.0);
    gauges.push(Gauge {
        name: "tessera_tenants",
        help: "Tenants",
        series: vec![(Vec::new(), tenants)],
    });
    gauges.push(Gauge {
        name: "tessera_connections",
        help: "Connections by status",
        series: count_by(conn, "connections", "status", "status", ""),
    });
    if let Some((count, age)) = pending_jobs(conn, &everyone) {
        gauges.push(Gauge {
            name: "tessera_jobs_pending",
            help: "Jobs waiting to run",
            series: vec![(Vec::new(), count as f64)],
        });
        gauges.push(Gauge {
            name: "tessera_jobs_oldest_pending_age_seconds",
            help: "Age of the oldest pending job (0 when none)",
            series: vec![(Vec::new(), age.unwrap_or(0.0))],
        });
    }
    if table_has(conn, "inbound_events", &["status"]) {
        gauges.push(Gauge {
            name: "tessera_inbound_events",
            help: "Stored inbound webhook events by status",
            series: count_by(conn, "inbound_events", "status", "status", ""),
        });
    }
    if table_has(conn, "webhook_deliveries", &["status"]) {
        gauges.push(Gauge {
            name: "tessera_deliveries",
            help: "Outbound webhook deliveries by status",
            series: count_by(conn, "webhook_deliveries", "status", "status", ""),
        });
    }
    if let Some(failing) = failing_endpoints(conn, &everyone) {
        gauges.push(Gauge {
            name: "tessera_endpoints_failing",
            help: "Outbound endpoints failing or disabled for failing",
            series: vec![(Vec::new(), failing as f64)],
        });
    }
    gauges
}

pub fn render(gauges: &[Gauge], out: &mut String) {
    use std::fmt::Write;
    for gauge in gauges {
        let _ = writeln!(out, "# HELP {} {}", gauge.name, gauge.help);
        let _ = writeln!(out, "# TYPE {} gauge", gauge.name);
        for (labels, value) in &gauge.series {
            let _ = writeln!(out, "{}{} {value}", gauge.name, format_labels(labels));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tables_yield_no_series() {
        let memory = rusqlite::Connection::open_in_memory().unwrap();
        let conn = Db::sqlite(&memory);
        conn.execute_batch(
            "CREATE TABLE tenants (id TEXT); CREATE TABLE connections (status TEXT);
             INSERT INTO connections VALUES ('active'), ('active'), ('invalid');",
        )
        .unwrap();
        let gauges = collect(&conn);
        let names: Vec<_> = gauges.iter().map(|g| g.name).collect();
        assert_eq!(names, ["tessera_tenants", "tessera_connections"]);
        let mut out = String::new();
        render(&gauges, &mut out);
        assert!(out.contains("tessera_connections{status=\"active\"} 2"), "{out}");
        conn.execute_batch(
            "CREATE TABLE jobs (status TEXT, created_at TEXT, tenant_id TEXT);
             INSERT INTO jobs VALUES ('pending', '2000-01-01T00:00:00Z', 't');",
        )
        .unwrap();
        let (count, age) = pending_jobs(&conn, &PlatformScope::for_server_work().into()).unwrap();
        assert_eq!(count, 1);
        assert!(age.unwrap() > 1e8);
    }
}
