//! Prometheus metrics: in-process counters (`Metrics::inc`) plus gauges read from the
//! database at scrape time (see [`gauges`]).

pub mod gauges;
pub mod routes;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Help text for the counters tessera increments.
pub const COUNTERS: &[(&str, &str)] = &[
    (
        "tessera_http_requests_total",
        "HTTP requests answered, by route template and status",
    ),
    (
        "tessera_rate_limited_total",
        "Requests rejected by a rate limit, by kind of limit",
    ),
    (
        "tessera_webhooks_received_total",
        "Inbound webhooks, by provider and outcome (accepted, rejected, duplicate)",
    ),
    (
        "tessera_webhooks_rejected_total",
        "Rejected inbound webhooks by how they were recorded (event row, hourly summary, none past the failure limit)",
    ),
    (
        "tessera_deliveries_total",
        "Outbound webhook delivery attempts, by outcome",
    ),
    (
        "tessera_token_refreshes_total",
        "OAuth token refreshes, by provider and outcome (ok, failed)",
    ),
];

type Labels = Vec<(String, String)>;

/// One counter series: its labels and its value.
struct Series {
    labels: Labels,
    value: u64,
}

/// Counters by name and label set. Cheap to increment (every request counts one: an
/// existing series is found without allocating); rendered on scrape.
#[derive(Default)]
pub struct Metrics {
    /// Series by name, then by [`series_key`] of their labels.
    counters: Mutex<BTreeMap<String, BTreeMap<String, Series>>>,
}

thread_local! {
    /// Where [`series_key`] is written for a lookup, so counting allocates nothing.
    static SCRATCH_KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// An unambiguous encoding of a label set (length-prefixed keys and values).
fn series_key(labels: &[(&str, &str)], key: &mut String) {
    key.clear();
    for (name, value) in labels {
        let _ = write!(key, "{}:{name}{}:{value}", name.len(), value.len());
    }
}

impl Metrics {
    pub fn inc(&self, name: &str, labels: &[(&str, &str)]) {
        self.add(name, labels, 1);
    }

    pub fn add(&self, name: &str, labels: &[(&str, &str)], by: u64) {
        SCRATCH_KEY.with_borrow_mut(|key| {
            series_key(labels, key);
            let Ok(mut counters) = self.counters.lock() else {
                return;
            };
            // Name and series are nearly always there already: look them up before
            // allocating either.
            let all = match counters.get_mut(name) {
                Some(all) => all,
                None => counters.entry(name.to_owned()).or_default(),
            };
            match all.get_mut(key.as_str()) {
                Some(series) => series.value += by,
                None => {
                    let labels = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
                    all.insert(key.clone(), Series { labels, value: by });
                }
            }
        });
    }

    /// Inbound webhook call site: `outcome` is `accepted`, `rejected` or `duplicate`.
    pub fn webhook_received(&self, provider: &str, outcome: &str) {
        self.inc(
            "tessera_webhooks_received_total",
            &[("provider", provider), ("outcome", outcome)],
        );
    }

    /// Outbound delivery attempt call site: `outcome` is `succeeded`, `failed` or `exhausted`.
    pub fn delivery(&self, outcome: &str) {
        self.inc("tessera_deliveries_total", &[("outcome", outcome)]);
    }

    /// OAuth refresh call site (background or forced).
    pub fn token_refresh(&self, provider: &str, ok: bool) {
        let outcome = if ok { "ok" } else { "failed" };
        self.inc(
            "tessera_token_refreshes_total",
            &[("provider", provider), ("outcome", outcome)],
        );
    }

    /// The current value of one counter series (tests and status).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let mut key = String::new();
        series_key(labels, &mut key);
        self.counters
            .lock()
            .ok()
            .and_then(|c| c.get(name).and_then(|all| all.get(&key)).map(|series| series.value))
            .unwrap_or(0)
    }

    /// Prometheus text exposition of every counter (declared ones even at zero).
    pub fn render(&self, out: &mut String) {
        let Ok(counters) = self.counters.lock() else {
            return;
        };
        let mut names: Vec<&str> = COUNTERS.iter().map(|(n, _)| *n).collect();
        for name in counters.keys() {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        for name in names {
            let help = COUNTERS.iter().find(|(n, _)| *n == name).map_or("", |(_, h)| *h);
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            if let Some(all) = counters.get(name) {
                let mut series: Vec<&Series> = all.values().collect();
                series.sort_by(|a, b| a.labels.cmp(&b.labels));
                for Series { labels, value } in series {
                    let _ = writeln!(out, "{name}{} {value}", format_labels(labels));
                }
            }
        }
    }
}

pub fn format_labels(labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_escaped_labels() {
        let metrics = Metrics::default();
        metrics.inc("tessera_rate_limited_total", &[("kind", "token")]);
        metrics.inc("tessera_rate_limited_total", &[("kind", "token")]);
        metrics.inc("custom_total", &[("x", "a\"b")]);
        metrics.webhook_received("stripe", "duplicate");
        metrics.token_refresh("zoom", false);
        let mut out = String::new();
        metrics.render(&mut out);
        assert!(out.contains("tessera_rate_limited_total{kind=\"token\"} 2\n"), "{out}");
        assert!(out.contains("custom_total{x=\"a\\\"b\"} 1\n"), "{out}");
        assert!(out.contains("# TYPE tessera_deliveries_total counter"));
        assert_eq!(metrics.value("tessera_rate_limited_total", &[("kind", "token")]), 2);
        assert!(
            out.contains("tessera_webhooks_received_total{provider=\"stripe\",outcome=\"duplicate\"} 1"),
            "{out}"
        );
        assert_eq!(
            metrics.value(
                "tessera_token_refreshes_total",
                &[("provider", "zoom"), ("outcome", "failed")]
            ),
            1
        );
    }
}
