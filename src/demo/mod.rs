//! `tessera demo`: an air-gapped walk-through. A built-in sandbox provider is served by
//! the binary itself under `/sandbox` — an OAuth 2.0 authorization server (code + PKCE,
//! refresh), a small API (`/sandbox/api/me`), a webhook emitter that posts signed
//! purchase webhooks to the demo tenant's webhook URL, and an inbox that receives and
//! verifies tessera's outbound webhooks. A demo tenant and its sandbox connection are
//! seeded through the public API at start.

pub mod cli;
pub mod oauth;
mod page;
pub mod seed;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;
use crate::config::Config;
use crate::vault::Secret;

/// The sandbox's one registered OAuth app. Public on purpose: the sandbox only runs in
/// demo mode and guards nothing real.
pub const CLIENT_ID: &str = "tessera-demo";
pub const CLIENT_SECRET: &str = "sandbox-demo-secret";
pub const DEMO_TENANT: &str = "demo";
pub const OVERLAY_FILE: &str = "demo-providers.toml";
/// The demo's admin UI user (a platform admin); its password is new at every start.
pub const ADMIN_EMAIL: &str = "admin@demo.tessera.test";

/// Creates the demo admin user, or gives it a fresh password; returns the password.
/// Blocking (password hashing).
pub fn ensure_admin_user(store: &crate::store::Store) -> anyhow::Result<crate::vault::Secret> {
    let password = crate::vault::random_token("demo-");
    store.write(|tx| {
        match crate::users::set_password(tx, ADMIN_EMAIL, password.expose()) {
            Err(crate::users::UserError::UnknownUser) => {
                crate::users::create_user(
                    tx,
                    &crate::users::NewUser {
                        email: ADMIN_EMAIL,
                        password: password.expose(),
                        tenant: None,
                    },
                )?;
            }
            other => {
                other?;
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(password)
}

/// The sandbox provider, added to the catalog in demo mode. `{base_url}` comes from the
/// connection's config (seeded as `{public_url}/sandbox`).
pub const SANDBOX_PROVIDER: &str = r#"
[providers.sandbox]
name = "Sandbox (demo)"
category = "demo"
description = "Built-in demo provider served by tessera itself: OAuth, an API and signed purchase webhooks."
auth_modes = ["oauth2"]
api_base_url = "{base_url}/api"
authorization_url = "{base_url}/oauth/authorize"
token_url = "{base_url}/oauth/token"
scopes = ["profile", "orders"]
docs_url = "/sandbox"
setup_steps = [
  "Click Connect: the sandbox's consent page opens; approve it.",
  "Press \"Send a purchase webhook\" on /sandbox: a signed webhook arrives for this tenant.",
]
fields = [
  { name = "client_id", label = "Client id", secret = false, required = false, help = "tessera-demo", modes = ["oauth2"] },
  { name = "client_secret", label = "Client secret", secret = true, required = false, help = "", modes = ["oauth2"] },
  { name = "webhook_secret", label = "Webhook signing secret", secret = true, required = false, help = "" },
]
config_fields = [
  { name = "base_url", label = "Sandbox base URL", secret = false, required = true, help = "{public_url}/sandbox" },
]
[providers.sandbox.inject]
type = "bearer"
[providers.sandbox.verify]
method = "GET"
path = "/me"
[providers.sandbox.webhook]
scheme = "hmac-sha256-hex"
header = "X-Sandbox-Signature"
events = ["order.completed", "ticket.issued"]
type_field = "/type"
id_fields = ["/id"]
[providers.sandbox.webhook.handlers."order.completed"]
action = "contact"
mapping = { email = "/data/attendee/email", first_name = "/data/attendee/first_name", last_name = "/data/attendee/last_name", reference = "/data/order_id", event_name = "/data/event_name" }
[providers.sandbox.webhook.handlers."ticket.issued"]
action = "contact"
mapping = { email = "/data/attendee/email", first_name = "/data/attendee/first_name", last_name = "/data/attendee/last_name", reference = "/data/order_id", event_name = "/data/event_name" }
[providers.sandbox.webhook.sample]
type = "order.completed"
source = "the sandbox's own emitter (POST /sandbox/emit)"
unique = ["/id", "/data/order_id"]
body = '''
{"id": "evt_sample", "type": "order.completed", "created_at": "2026-01-01T00:00:00Z",
 "data": {"order_id": "ord_sample", "event_name": "Sandbox Launch Night",
   "attendee": {"email": "ada@example.test", "first_name": "Ada", "last_name": "Lovelace"}, "amount": 2500, "currency": "EUR"}}
'''
"#;

/// In-memory state of the sandbox provider.
pub struct Sandbox {
    pub auth: oauth::AuthServer,
    /// Secret the emitter signs with; the same value is in the demo connection.
    pub webhook_secret: Mutex<Secret>,
    /// Secret of the demo's outbound endpoint, to verify what the inbox receives.
    pub inbox_secret: Mutex<Option<Secret>>,
    pub inbox: Mutex<Vec<webhooks::InboxEntry>>,
    pub emitted: Mutex<Vec<serde_json::Value>>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox {
            auth: oauth::AuthServer::default(),
            webhook_secret: Mutex::new(crate::vault::random_token("sbx_whsec_")),
            inbox_secret: Mutex::new(None),
            inbox: Mutex::new(Vec::new()),
            emitted: Mutex::new(Vec::new()),
        }
    }
}

/// The demo: the sandbox provider's state, its seeding and its webhook emitter. Cheap to
/// clone.
#[derive(Clone)]
pub struct Demo {
    sandbox: Arc<Sandbox>,
    store: crate::store::Store,
    /// For calls to tessera's own public API and webhook URL.
    http: ureq::Agent,
    public_url: String,
    listen: SocketAddr,
    emit_interval: Option<Duration>,
}

impl Demo {
    pub fn new(store: crate::store::Store, http: ureq::Agent, config: &Config) -> Demo {
        Demo {
            sandbox: Arc::default(),
            store,
            http,
            public_url: config.public_url(),
            listen: config.listen,
            emit_interval: config.demo_emit_interval,
        }
    }

    /// The sandbox provider's in-memory state.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// How often the sandbox sends a purchase webhook, if at all.
    pub fn emit_interval(&self) -> Option<Duration> {
        self.emit_interval
    }
}

/// Adjusts a configuration for demo mode: sandbox routes on, outbound calls to loopback
/// allowed (the inbox is on this host), and the sandbox provider in the catalog (written
/// as an overlay that keeps the operator's own providers file, if any).
pub fn prepare(config: &mut Config) -> anyhow::Result<()> {
    config.demo = true;
    config.allow_private_targets = true;
    std::fs::create_dir_all(&config.data_dir)?;
    let mut overlay = String::from("# Written by `tessera demo`: the operator's providers file, then the sandbox.\n");
    if let Some(own) = &config.providers_file
        && !own.ends_with(OVERLAY_FILE)
    {
        overlay.push_str(&std::fs::read_to_string(own)?);
        overlay.push('\n');
    }
    overlay.push_str(SANDBOX_PROVIDER);
    let path = config.data_dir.join(OVERLAY_FILE);
    std::fs::write(&path, overlay)?;
    config.providers_file = Some(path);
    Ok(())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sandbox", get(page::landing))
        .route(
            "/sandbox/oauth/authorize",
            get(oauth::authorize_page).post(oauth::authorize_decision),
        )
        .route("/sandbox/oauth/token", post(oauth::token))
        .route("/sandbox/api/me", get(oauth::me))
        .route("/sandbox/emit", post(webhooks::emit_handler))
        .route("/sandbox/inbox", get(webhooks::list_inbox).post(webhooks::receive))
}
