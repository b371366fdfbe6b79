//! Domain tests with an injected clock: the 5-day rule needs no waiting.

use std::collections::HashMap;
use std::sync::Arc;

use crate::store::sql::params;

use super::dispatch::target_for;
use super::endpoints::{self, EndpointRow, RetryPolicy};
use super::outcome::{AttemptReport, DEFAULT_DISABLE_AFTER_MS, HealthRules, WorkItem, record};
use super::schedule::RetrySchedule;
use crate::store::Store;
use crate::vault::{KeyScope, Vault};

const DAY: i64 = 24 * 3600 * 1000;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    vault: Arc<Vault>,
    plugins: crate::plugins::Plugins,
    endpoint: EndpointRow,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::Config::with_data_dir(dir.path().join("data"));
    crate::setup::initialise(&config).unwrap();
    let (store, vault) = crate::setup::open(&config).unwrap();
    let vault = Arc::new(vault);
    let plugins = crate::plugins::Plugins::standalone(store.clone(), vault.clone(), Default::default()).unwrap();
    let tenant = crate::ids::new_id();
    let now = crate::time::now_rfc3339();
    let endpoint = store
        .write(|tx| {
            crate::tenants::insert_tenant(
                tx,
                &crate::tenants::Tenant {
                    id: tenant.clone(),
                    slug: "t".into(),
                    name: "t".into(),
                    tier: crate::tenants::Tier::Free,
                    notification_emails: Vec::new(),
                    created_at: now.clone(),
                    updated_at: now.clone(),
                },
            )
            .unwrap();
            vault.create_data_key(tx, &KeyScope::Tenant(tenant.clone())).unwrap();
            let id = crate::ids::new_id();
            let secret = super::signing::generate_secret();
            let row = EndpointRow {
                secret: endpoints::seal_secret(tx, &vault, &tenant, &id, "secret", &secret)?,
                id,
                tenant_id: tenant.clone(),
                url: "http://127.0.0.1:9/".into(),
                description: String::new(),
                events: vec!["*".into()],
                active: true,
                retry_policy: RetryPolicy::Exponential,
                previous_secret: None,
                previous_secret_expires_at: None,
                disabled_reason: None,
                disabled_at: None,
                failing_since: None,
                created_at: now.clone(),
                updated_at: now.clone(),
                transform_plugin: None,
            };
            endpoints::insert(tx, &row)?;
            Ok::<_, super::OutboundError>(row)
        })
        .unwrap();
    Fixture {
        _dir: dir,
        store,
        vault,
        plugins,
        endpoint,
    }
}

/// A leased delivery of a fresh event, as a worker would hold it.
fn leased_item(f: &Fixture) -> WorkItem {
    f.store
        .write(|tx| {
            let event = crate::outbox::emit(tx, &f.endpoint.tenant_id, "connection.updated", serde_json::json!({}))?;
            let id = crate::ids::new_id();
            tx.execute(
                "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, status, attempts,
                     next_attempt_at, lease_token, created_at) VALUES (?1, ?2, ?3, ?4, 'connection.updated', 'pending', 0, 1, 'tok', 0)",
                params![id, f.endpoint.tenant_id, f.endpoint.id, event],
            )?;
            let target = target_for(tx, &f.vault, &f.plugins, &mut HashMap::new(), &f.endpoint, 0)?;
            Ok::<_, super::OutboundError>(WorkItem {
                delivery_id: id,
                lease_token: Arc::from("tok"),
                lease_until_ms: i64::MAX,
                event_id: event,
                event_type: "connection.updated".into(),
                attempt: 1,
                payload: Arc::from("{}"),
                target,
                event_at_ms: None,
            })
        })
        .unwrap()
}

fn report(at_ms: i64, status: u16) -> AttemptReport {
    AttemptReport {
        at_ms,
        status: Some(status),
        retry_after: None,
        excerpt: None,
        error: None,
        duration_ms: 1,
        skipped: false,
    }
}

fn rules() -> HealthRules {
    HealthRules {
        schedule: RetrySchedule::default(),
        disable_after_ms: DEFAULT_DISABLE_AFTER_MS,
    }
}

fn current(f: &Fixture) -> EndpointRow {
    f.store
        .read(|c| {
            let scope = crate::auth::PlatformScope::for_server_work().narrow_to(&f.endpoint.tenant_id);
            endpoints::get(c, &scope, &f.endpoint.id)
        })
        .unwrap()
}

fn notifications(f: &Fixture) -> i64 {
    f.store
        .read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM notifications WHERE kind = 'webhook_endpoint.disabled'",
                [],
                |r| r.get(0),
            )
        })
        .unwrap()
}

#[test]
fn five_days_of_failure_disable_the_endpoint_and_a_success_resets_the_clock() {
    let f = fixture();
    let t0 = 1_800_000_000_000;
    let rec = |item: &WorkItem, r: AttemptReport| f.store.write(|tx| record(tx, item, &r, &rules())).unwrap();

    use crate::auth::{PlatformScope, Reach};
    let platform = PlatformScope::for_server_work();
    let failing = |reach: Reach| f.store.read(|c| endpoints::count_failing(c, &reach)).unwrap();
    assert_eq!(failing(platform.into()), 0);
    rec(&leased_item(&f), report(t0, 500));
    assert_eq!(current(&f).failing_since, Some(t0));
    assert_eq!(failing(platform.narrow_to(&f.endpoint.tenant_id).into()), 1);
    assert_eq!(failing(platform.narrow_to("another-tenant").into()), 0);
    assert_eq!(failing(platform.into()), 1);
    rec(&leased_item(&f), report(t0 + 4 * DAY, 503));
    assert!(current(&f).active, "four days is not yet five");

    // A success clears the failure clock.
    rec(&leased_item(&f), report(t0 + 4 * DAY + 1, 200));
    assert_eq!(current(&f).failing_since, None);
    rec(&leased_item(&f), report(t0 + 6 * DAY, 500));
    assert!(current(&f).active, "failing since 6 days, not for 5 days");

    let effects = rec(&leased_item(&f), report(t0 + 11 * DAY, 500));
    assert_eq!(effects.disabled_endpoint.as_deref(), Some(f.endpoint.id.as_str()));
    let row = current(&f);
    assert!(!row.active);
    assert_eq!(row.disabled_reason.as_deref(), Some("failing"));
    assert_eq!(notifications(&f), 1);
}

#[test]
fn a_lost_lease_records_nothing() {
    let f = fixture();
    let mut item = leased_item(&f);
    item.lease_token = Arc::from("someone-else");
    let effects = f
        .store
        .write(|tx| record(tx, &item, &report(1, 200), &rules()))
        .unwrap();
    assert!(!effects.recorded);
    let attempts: i64 = f
        .store
        .read(|c| c.query_row("SELECT COUNT(*) FROM webhook_attempts", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(attempts, 0);
}

#[test]
fn gone_disables_at_once() {
    let f = fixture();
    let item = leased_item(&f);
    let effects = f
        .store
        .write(|tx| record(tx, &item, &report(5, 410), &rules()))
        .unwrap();
    assert!(effects.disabled_endpoint.is_some());
    assert_eq!(current(&f).disabled_reason.as_deref(), Some("gone"));
}
