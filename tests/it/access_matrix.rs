//! The access matrix: every route of the route table (read from the table itself, so a
//! new route is covered the day it is added) tried by every kind of principal, one row
//! per route × principal, each with the status it must get.
//!
//! - no token → 401 on every route that is not public;
//! - tenant routes: a full admin of another tenant → 403 `tenant_mismatch`; a token of
//!   the right tenant lacking the route's scope → 403; a token holding exactly that
//!   scope → neither 401 nor 403 (2xx, or the route's own 4xx for an empty body);
//! - platform routes: a tenant admin → 403; the platform token → allowed;
//! - routes outside any tenant: their scope, or any valid token.
//!
//! Path parameters are real ids made here (a token, a connection, an endpoint with a
//! delivery, a consent, an event with its signup, notification and job, an installed
//! plugin). Deleting routes run last, so every other route sees its things present.

use serde_json::{Value, json};
use tessera::api::Access;
use tessera::auth::Scope;

use crate::support::inbound::{connect_posh, items, post_posh, purchase, wait_for, wait_processed};
use crate::support::{Client, FakeServer, Response, TestServer, providers_file};

const POSH_SECRET: &str = "posh-matrix-secret-0123456789";

/// The routes anyone may call. A route joins this list only by a decision made here.
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/oauth/callback"),
    ("POST", "/webhooks/{provider}/{tenant}"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/session"),
    ("GET", "/api/v1/session"),
    ("DELETE", "/api/v1/session"),
];

/// The things a route's path parameters name, all in tenant `alpha`.
struct Things {
    tenant: String,
    /// A tenant only the platform's deleting routes may remove.
    disposable_tenant: String,
    token: String,
    event: String,
    signup: String,
    notification: String,
    job: String,
    endpoint: String,
    delivery: String,
    consent: String,
    plugin: String,
}

/// Everything the walk needs: the server, one token per scope of `alpha`, and the ids.
struct World {
    _fake: FakeServer,
    server: TestServer,
    things: Things,
    /// A token of `alpha` holding exactly one scope, for each scope.
    holding: Vec<(Scope, Client)>,
    alpha_admin: Client,
    beta_admin: Client,
}

impl World {
    fn build() -> World {
        // Stripe's API (verify, proxy) and the endpoint's receiver are a local imitation
        // answering 200 to everything: the matrix is about access, not about providers.
        let fake = FakeServer::start(axum::Router::new().fallback(axum::routing::any(|| async {
            ([("content-type", "application/json")], r#"{"object":"balance"}"#)
        })));
        let toml = format!("[providers.stripe]\napi_base_url = \"{}/stripe\"\n", fake.base);
        let server = TestServer::start_with(|config| {
            config.providers_file = Some(providers_file(&config.data_dir.with_file_name("etc"), &toml));
            config.job_retry_base = std::time::Duration::from_millis(50);
        });
        let tenant = server.create_tenant("alpha");
        server.create_tenant("beta");
        let disposable_tenant = server.create_tenant("gamma");
        let admin = server.admin();
        let alpha = "/api/v1/tenants/alpha";

        let created = admin.post(
            &format!("{alpha}/tokens"),
            &json!({"name": "victim", "scopes": ["events:read"]}),
        );
        let token = id_of(&created);
        ok(&admin.put(
            &format!("{alpha}/connections/stripe"),
            &json!({"credentials": {"secret_key": "sk_test_MATRIX_4242"}}),
        ));
        let endpoint = id_of(&admin.post(
            &format!("{alpha}/webhook-endpoints"),
            &json!({"url": format!("{}/hook", fake.base), "events": ["*"]}),
        ));
        let delivery = id_of(&admin.post(&format!("{alpha}/webhook-endpoints/{endpoint}/test"), &json!({})));
        let consent = id_of(&admin.post(
            &format!("{alpha}/consents"),
            &json!({"consent_type": "MARKETING", "resource_type": "contact", "resource_id": "c-1",
                    "description": "Newsletter", "subject": "ada@example.com"}),
        ));
        let plugin = "calendly".to_owned();
        ok(&admin.post(
            &format!("{alpha}/plugins/{plugin}/install"),
            &json!({"configuration": {}}),
        ));

        connect_posh(&server, "alpha", POSH_SECRET);
        let received = post_posh(
            &server,
            "alpha",
            POSH_SECRET,
            &purchase("purchase.created", "p-matrix", "ada@example.com"),
        );
        ok(&received);
        let event = received.json["event_id"].as_str().expect("event id").to_owned();
        wait_processed(&admin, "alpha", &event);
        let first = |path: &str| {
            let path = format!("{alpha}/{path}");
            wait_for(&path.clone(), || {
                items(&admin.get(&path))
                    .first()
                    .and_then(|item| item["id"].as_str().map(str::to_owned))
            })
        };
        let (signup, notification, job) = (first("signups"), first("notifications"), first("jobs"));

        let holding = Scope::ALL
            .iter()
            .map(|&scope| {
                (
                    scope,
                    server.with_token(&server.tenant_token("alpha", &[scope.as_str()])),
                )
            })
            .collect();
        let alpha_admin = server.with_token(&server.tenant_token("alpha", &["admin"]));
        let beta_admin = server.with_token(&server.tenant_token("beta", &["admin"]));
        World {
            _fake: fake,
            server,
            things: Things {
                tenant,
                disposable_tenant,
                token,
                event,
                signup,
                notification,
                job,
                endpoint,
                delivery,
                consent,
                plugin,
            },
            holding,
            alpha_admin,
            beta_admin,
        }
    }

    /// A token of `alpha` holding `scope` (and nothing else).
    fn holding(&self, scope: Scope) -> &Client {
        &self
            .holding
            .iter()
            .find(|(s, _)| *s == scope)
            .expect("a token per scope")
            .1
    }

    /// A token of `alpha` holding some scope other than `scope` (and not `admin`).
    fn lacking(&self, scope: Scope) -> &Client {
        &self
            .holding
            .iter()
            .find(|(s, _)| *s != scope && *s != Scope::Admin)
            .expect("another scope")
            .1
    }
}

fn id_of(resp: &Response) -> String {
    ok(resp);
    resp.json["id"].as_str().expect("an id").to_owned()
}

fn ok(resp: &Response) {
    assert!((200..300).contains(&resp.status), "{}", resp.text);
}

/// The route's path with every parameter filled: `{tenant}` by `tenant`, the others by
/// the thing the segment before them names.
fn fill(path: &str, tenant: &str, things: &Things) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        let before = if i > 0 { segments[i - 1] } else { "" };
        let value = match *segment {
            "{tenant}" => tenant,
            "{provider}" => match before {
                "webhooks" | "bindings" => "poshvip",
                "apps" => "github",
                _ => "stripe",
            },
            "{delivery_id}" => &things.delivery,
            "{*path}" => "v1/balance",
            "{id}" => match before {
                "tokens" => &things.token,
                "events" => &things.event,
                "signups" => &things.signup,
                "notifications" => &things.notification,
                "jobs" => &things.job,
                "webhook-endpoints" => &things.endpoint,
                "consents" => &things.consent,
                "plugins" => &things.plugin,
                other => panic!("{path}: no id for `{other}/{{id}}`; add one to the matrix"),
            },
            param if param.starts_with('{') => panic!("{path}: no value for {param}; add one to the matrix"),
            literal => literal,
        };
        out.push(value);
    }
    out.join("/")
}

/// One request of the walk: a JSON body (`{}`, the route's own 400 when it needs more).
fn call(client: &Client, method: &str, path: &str) -> Response {
    let method = if method == "ANY" { "GET" } else { method };
    match method {
        "GET" | "DELETE" => client.send(method, path, None, &[]),
        _ => client.send(
            method,
            path,
            Some(b"{}".to_vec()),
            &[("content-type", "application/json")],
        ),
    }
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    Unauthorized,
    Forbidden,
    TenantMismatch,
    NotFound,
    /// Neither 401 nor 403 nor a server error: the route ran.
    Allowed,
}

fn check(expect: Expect, resp: &Response, row: &str, who: &str) {
    let status = resp.status;
    let fine = match expect {
        Expect::Unauthorized => status == 401 && resp.code() == "unauthorized",
        Expect::Forbidden => status == 403 && resp.code() == "forbidden",
        Expect::TenantMismatch => status == 403 && resp.code() == "tenant_mismatch",
        Expect::NotFound => status == 404,
        Expect::Allowed => !matches!(status, 401 | 403) && status < 500,
    };
    assert!(fine, "{row} by {who}: expected {expect:?}, got {status}: {}", resp.text);
}

#[test]
fn every_route_answers_each_principal_as_its_row_says() {
    let world = World::build();
    let server = &world.server;
    let anonymous = server.anonymous();
    let platform = server.admin();
    let things = &world.things;

    let mut table = tessera::api::routes();
    // Deleting routes last, so the others find what they name.
    table.sort_by_key(|route| route.method == axum::http::Method::DELETE);
    let mut public = Vec::new();
    let mut tenant_routes = 0;
    for route in &table {
        let method = route.method.as_str();
        let row = format!("{method} {}", route.path);
        let own = fill(route.path, &things.tenant, things);
        match route.access {
            Access::Public => public.push((method.to_owned(), route.path)),
            Access::Tenant(scope) => {
                tenant_routes += 1;
                check(Expect::Unauthorized, &call(&anonymous, method, &own), &row, "no token");
                check(
                    Expect::TenantMismatch,
                    &call(&world.beta_admin, method, &own),
                    &row,
                    "another tenant's admin",
                );
                let unknown = fill(route.path, "no-such-tenant", things);
                check(
                    Expect::TenantMismatch,
                    &call(&world.beta_admin, method, &unknown),
                    &row,
                    "a tenant admin on an unknown tenant",
                );
                check(
                    Expect::NotFound,
                    &call(&platform, method, &unknown),
                    &row,
                    "the platform on an unknown tenant",
                );
                if scope != Scope::Admin {
                    check(
                        Expect::Forbidden,
                        &call(world.lacking(scope), method, &own),
                        &row,
                        "a token lacking the scope",
                    );
                } else {
                    let narrow = world.holding(Scope::ConnectionsRead);
                    check(
                        Expect::Forbidden,
                        &call(narrow, method, &own),
                        &row,
                        "a non-admin token",
                    );
                }
                check(
                    Expect::Allowed,
                    &call(world.holding(scope), method, &own),
                    &row,
                    &format!("a token holding `{}`", scope.as_str()),
                );
            }
            Access::Platform | Access::PlatformUnlessMetricsPublic => {
                // A platform route naming a tenant acts on a disposable one (deletion).
                let path = fill(route.path, &things.disposable_tenant, things);
                check(Expect::Unauthorized, &call(&anonymous, method, &path), &row, "no token");
                check(
                    Expect::Forbidden,
                    &call(&world.alpha_admin, method, &path),
                    &row,
                    "a tenant admin",
                );
                check(Expect::Allowed, &call(&platform, method, &path), &row, "the platform");
            }
            Access::Scoped(scope) => {
                check(Expect::Unauthorized, &call(&anonymous, method, &own), &row, "no token");
                check(
                    Expect::Forbidden,
                    &call(world.lacking(scope), method, &own),
                    &row,
                    "a token lacking the scope",
                );
                check(
                    Expect::Allowed,
                    &call(world.holding(scope), method, &own),
                    &row,
                    "a token holding the scope",
                );
                check(Expect::Allowed, &call(&platform, method, &own), &row, "the platform");
            }
            Access::Authenticated => {
                check(Expect::Unauthorized, &call(&anonymous, method, &own), &row, "no token");
                let narrow = world.holding(Scope::EventsRead);
                check(Expect::Allowed, &call(narrow, method, &own), &row, "any tenant token");
                check(Expect::Allowed, &call(&platform, method, &own), &row, "the platform");
            }
        }
    }
    let mut expected: Vec<(String, &str)> = PUBLIC.iter().map(|(m, p)| ((*m).to_owned(), *p)).collect();
    expected.sort();
    public.sort();
    assert_eq!(public, expected, "the public routes are exactly the listed ones");
    assert!(tenant_routes >= 55, "the walk saw {tenant_routes} tenant routes");
}

#[test]
fn metrics_opened_by_the_setting_need_no_token() {
    let server = TestServer::start_with(|config| config.metrics_public = true);
    let resp = server.anonymous().get("/metrics");
    assert_eq!(resp.status, 200, "{}", resp.text);
}

/// Beta's things stay invisible through alpha's own path, by id: 404, never its body.
#[test]
fn another_tenants_ids_through_your_own_path_are_not_found() {
    let world = World::build();
    let server = &world.server;
    server.create_tenant("delta");
    let delta = server.with_token(&server.tenant_token("delta", &["admin"]));
    let things = &world.things;
    for route in tessera::api::routes() {
        let Access::Tenant(_) = route.access else { continue };
        // Plugin ids name the marketplace's packages, which every tenant may install.
        if !route.path.contains("{id}")
            || route.path.contains("/plugins/")
            || route.method == axum::http::Method::DELETE
        {
            continue;
        }
        let method = route.method.as_str();
        let path = fill(route.path, "delta", things);
        let resp = call(&delta, method, &path);
        assert!(
            resp.status == 404 || resp.status == 400,
            "{method} {}: another tenant's id answered {}: {}",
            route.path,
            resp.status,
            resp.text
        );
        for secret in [&things.tenant, "sk_test_MATRIX", "ada@example.com"] {
            assert!(!resp.text.contains(secret), "{method} {}: {}", route.path, resp.text);
        }
    }
    // Alpha's things are all still there.
    let alpha = &world.alpha_admin;
    let value: Value = alpha.get("/api/v1/tenants/alpha/signups").json;
    assert_eq!(value["items"].as_array().map(Vec::len), Some(1));
}
