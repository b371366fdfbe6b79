use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    Oauth2,
    ClientCredentials,
    ApiKey,
    Basic,
    PrivateToken,
    Webhook,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Oauth2 => "oauth2",
            AuthMode::ClientCredentials => "client_credentials",
            AuthMode::ApiKey => "api_key",
            AuthMode::Basic => "basic",
            AuthMode::PrivateToken => "private_token",
            AuthMode::Webhook => "webhook",
        }
    }

    pub fn parse(value: &str) -> Option<AuthMode> {
        [
            AuthMode::Oauth2,
            AuthMode::ClientCredentials,
            AuthMode::ApiKey,
            AuthMode::Basic,
            AuthMode::PrivateToken,
            AuthMode::Webhook,
        ]
        .into_iter()
        .find(|m| m.as_str() == value)
    }

    /// Modes whose API credential is an access token tessera obtains.
    pub fn uses_access_token(self) -> bool {
        matches!(self, AuthMode::Oauth2 | AuthMode::ClientCredentials)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub help: String,
    /// The value used when the connection leaves this (optional) field empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The auth modes this field belongs to; all of them when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modes: Option<Vec<AuthMode>>,
    /// For a config field that shapes a URL: the hosts its value may name, exactly
    /// (`mypurecloud.de`) or as `*.suffix` (`*.myshopify.com`); any host when empty.
    /// An operator's providers file adds more with `[providers.<key>.allow]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
}

impl Field {
    pub fn applies_to(&self, mode: AuthMode) -> bool {
        self.modes.as_ref().is_none_or(|m| m.contains(&mode))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectionType {
    Bearer,
    Basic,
    Header,
}

/// How a tenant's credentials reach the provider's API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Injection {
    #[serde(rename = "type")]
    pub kind: InjectionType,
    /// The credential field sent (bearer / header), for key-based modes.
    pub field: Option<String>,
    pub header: Option<String>,
    /// Prepended to the value in a named header (e.g. `"Token "`).
    #[serde(default)]
    pub prefix: String,
    pub username_field: Option<String>,
    pub password_field: Option<String>,
    /// Static headers every request carries (e.g. `anthropic-version`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    #[serde(default = "default_method")]
    pub method: String,
    pub path: String,
}

fn default_method() -> String {
    "GET".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    Basic,
    Body,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentialsGrant {
    #[serde(default = "default_grant")]
    pub grant_type: String,
    #[serde(default = "default_client_auth")]
    pub client_auth: ClientAuth,
    /// Credential fields sent as form parameters (Zoom's `account_id`).
    #[serde(default)]
    pub params: Vec<String>,
}

fn default_grant() -> String {
    "client_credentials".into()
}

fn default_client_auth() -> ClientAuth {
    ClientAuth::Basic
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    pub scheme: String,
    pub header: String,
    #[serde(default)]
    pub events: Vec<String>,
    /// Header carrying the provider's unique delivery/event id (the de-duplication key).
    #[serde(default)]
    pub id_header: Option<String>,
    /// JSON pointers whose values (those present, joined) form the de-duplication key when
    /// there is no id header; a hash of the body when none is present either.
    #[serde(default)]
    pub id_fields: Vec<String>,
    /// Header naming the event type (Shopify's topic, GitHub's event) ...
    #[serde(default)]
    pub type_header: Option<String>,
    /// ... or a JSON pointer to it in the body (default `/type`).
    #[serde(default)]
    pub type_field: Option<String>,
    /// Allowed clock difference for timestamped schemes (default 300 s).
    #[serde(default)]
    pub tolerance_secs: Option<u64>,
    /// What tessera does with each event type, with its default field mapping.
    #[serde(default)]
    pub handlers: BTreeMap<String, EventHandler>,
    /// A delivery in the provider's documented shape, sent by "Test with a sample event".
    #[serde(default)]
    pub sample: Option<SampleEvent>,
}

/// An example delivery, exactly as the provider documents it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleEvent {
    /// The event type it is (sent in `type_header` where the provider names it there).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The JSON body. The string `{api_base_url}` inside it stands for the provider's API
    /// base as the tenant's connection expands it (for bodies that point back at the API).
    pub body: String,
    /// JSON pointers to string values given a fresh suffix on every test, so each test is
    /// a new delivery rather than a duplicate of the last one.
    #[serde(default)]
    pub unique: Vec<String>,
    /// Where the documented shape comes from.
    pub source: String,
}

impl SampleEvent {
    /// The body as JSON (checked when the catalog loads).
    pub fn document(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    fn validate(&self) -> Result<(), String> {
        let doc: serde_json::Value =
            serde_json::from_str(&self.body).map_err(|e| format!("webhook.sample.body is not JSON: {e}"))?;
        if !doc.is_object() {
            return Err("webhook.sample.body must be a JSON object".into());
        }
        for pointer in &self.unique {
            if !doc.pointer(pointer).is_some_and(serde_json::Value::is_string) {
                return Err(format!("webhook.sample.unique: {pointer} is not a string in the body"));
            }
        }
        Ok(())
    }
}

/// Processing of one inbound event type.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventHandler {
    /// `contact` (the person becomes a pending signup), `refunded` or `attended` (marks
    /// the source named by `reference`).
    pub action: String,
    /// A JSON pointer to a URL on the provider's API to fetch (with the tenant's
    /// credentials); the mapping then applies to the fetched document.
    #[serde(default)]
    pub fetch: Option<String>,
    /// Query parameters added to the fetched URL (e.g. Eventbrite's `expand=event`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_query: Option<String>,
    /// Field → JSON pointer: `email`, `first_name`, `last_name`, `name`, `reference`,
    /// `event_name`. Tenants override these with bindings.
    #[serde(default)]
    pub mapping: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    #[serde(skip_deserializing)]
    pub key: String,
    pub name: String,
    pub category: String,
    #[serde(default)]
    pub description: String,
    pub auth_modes: Vec<AuthMode>,
    pub api_base_url: Option<String>,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub revocation_url: Option<String>,
    /// The authorization server's issuer identifier, checked against the callback's `iss`
    /// (RFC 9207). When absent, an `iss` must share the authorization URL's origin.
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default)]
    pub config_fields: Vec<Field>,
    pub inject: Option<Injection>,
    pub verify: Option<VerifyRequest>,
    pub client_credentials: Option<ClientCredentialsGrant>,
    pub webhook: Option<WebhookSpec>,
    #[serde(default)]
    pub setup_steps: Vec<String>,
    pub docs_url: Option<String>,
    /// More host patterns per config field, beside the field's own `allowed` (how an
    /// operator or a test admits its own hosts without restating the catalog's list).
    #[serde(default, skip_serializing)]
    pub allow: BTreeMap<String, Vec<String>>,
}

impl Provider {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.auth_modes.is_empty() {
            return Err("auth_modes must name at least one mode".into());
        }
        let mut seen = std::collections::HashSet::new();
        for field in self.fields.iter().chain(&self.config_fields) {
            if !seen.insert(field.name.as_str()) {
                return Err(format!("field `{}` is declared twice", field.name));
            }
        }
        for (name, patterns) in &self.allow {
            if self.config_field(name).is_none() {
                return Err(format!("allow names unknown config field `{name}`"));
            }
            if let Some(bad) = patterns.iter().find(|p| !is_host_pattern(p)) {
                return Err(format!("allow.{name}: `{bad}` is not a host or *.suffix"));
            }
        }
        if let Some((field, bad)) = self
            .config_fields
            .iter()
            .find_map(|f| f.allowed.iter().find(|p| !is_host_pattern(p)).map(|p| (&f.name, p)))
        {
            return Err(format!("config field `{field}`: `{bad}` is not a host or *.suffix"));
        }
        if self.verify.is_some() && self.api_base_url.is_none() {
            return Err("verify needs api_base_url".into());
        }
        if self.auth_modes.contains(&AuthMode::Oauth2) && (self.authorization_url.is_none() || self.token_url.is_none())
        {
            return Err("mode oauth2 needs authorization_url and token_url".into());
        }
        if self.auth_modes.contains(&AuthMode::ClientCredentials) && self.token_url.is_none() {
            return Err("mode client_credentials needs token_url".into());
        }
        if let Some(inject) = &self.inject {
            for name in [&inject.field, &inject.username_field, &inject.password_field]
                .into_iter()
                .flatten()
            {
                if self.field(name).is_none() {
                    return Err(format!("inject names unknown field `{name}`"));
                }
            }
            if inject.kind == InjectionType::Header && inject.header.is_none() {
                return Err("inject type header needs `header`".into());
            }
        }
        if let Some(sample) = self.webhook.as_ref().and_then(|w| w.sample.as_ref()) {
            sample.validate()?;
        }
        Ok(())
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn config_field(&self, name: &str) -> Option<&Field> {
        self.config_fields.iter().find(|f| f.name == name)
    }

    /// The config fields whose values fill a placeholder in any of the provider's URLs
    /// (and `base_url`): changing one sends the credentials to another host.
    pub fn url_shaping_fields(&self) -> Vec<&str> {
        let urls = [
            &self.api_base_url,
            &self.authorization_url,
            &self.token_url,
            &self.revocation_url,
        ];
        let mut names: Vec<&str> = urls
            .into_iter()
            .flatten()
            .flat_map(|url| super::placeholders::names(url))
            .collect();
        if self.config_field("base_url").is_some() {
            names.push("base_url");
        }
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Whether `value` of config field `name` names a host the catalog allows there
    /// (always, when neither the field nor the operator restricts it).
    pub fn allows_host(&self, name: &str, value: &str) -> bool {
        let own = self
            .config_field(name)
            .map(|f| f.allowed.as_slice())
            .unwrap_or_default();
        let extra = self.allow.get(name).map(Vec::as_slice).unwrap_or_default();
        if own.is_empty() && extra.is_empty() {
            return true;
        }
        // A whole base URL is judged by its host (and port, when it has one).
        let host = match url::Url::parse(value) {
            Ok(url) if url.has_host() => match (url.host_str(), url.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                _ => return false,
            },
            _ => value.trim().to_ascii_lowercase(),
        };
        own.iter().chain(extra).any(|pattern| host_matches(pattern, &host))
    }

    /// The mode used when a connection does not name one.
    pub fn default_mode(&self) -> AuthMode {
        self.auth_modes[0]
    }

    pub fn supports(&self, mode: AuthMode) -> bool {
        self.auth_modes.contains(&mode)
    }

    /// The public description served by `GET /api/v1/providers[/{key}]`.
    pub fn summary(&self) -> ProviderSummary<'_> {
        ProviderSummary {
            key: &self.key,
            name: &self.name,
            category: &self.category,
            description: &self.description,
            auth_modes: &self.auth_modes,
            fields: &self.fields,
            config_fields: &self.config_fields,
            webhook: self.webhook.as_ref().map(|w| WebhookSummary {
                signature: SignatureSummary {
                    scheme: &w.scheme,
                    header: &w.header,
                },
                events: &w.events,
                handlers: &w.handlers,
                sample: w.sample.as_ref().map(|s| SampleSummary {
                    event_type: &s.event_type,
                    body: s.document(),
                    source: &s.source,
                }),
            }),
            verify: self.verify.is_some(),
            scopes: &self.scopes,
            setup_steps: &self.setup_steps,
            docs_url: self.docs_url.as_deref(),
        }
    }
}

/// `example.com`, `*.example.com`, `127.0.0.1:9300`.
fn is_host_pattern(pattern: &str) -> bool {
    let host = pattern.strip_prefix("*.").unwrap_or(pattern);
    !host.is_empty()
        && !host.starts_with('.')
        && !host.contains("..")
        && host
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' || c == ':')
}

/// `*.suffix` matches one or more labels before `.suffix`; anything else matches itself.
fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .and_then(|rest| rest.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.starts_with('.')),
        None => host == pattern,
    }
}

#[derive(Debug, Serialize)]
pub struct ProviderSummary<'a> {
    pub key: &'a str,
    pub name: &'a str,
    pub category: &'a str,
    pub description: &'a str,
    pub auth_modes: &'a [AuthMode],
    pub fields: &'a [Field],
    pub config_fields: &'a [Field],
    pub webhook: Option<WebhookSummary<'a>>,
    pub verify: bool,
    pub scopes: &'a [String],
    pub setup_steps: &'a [String],
    pub docs_url: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct WebhookSummary<'a> {
    pub signature: SignatureSummary<'a>,
    pub events: &'a [String],
    /// The event types tessera processes, with their default field mappings (what the
    /// tenant's bindings override).
    pub handlers: &'a BTreeMap<String, EventHandler>,
    /// What "Test with a sample event" sends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<SampleSummary<'a>>,
}

#[derive(Debug, Serialize)]
pub struct SampleSummary<'a> {
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub body: serde_json::Value,
    pub source: &'a str,
}

#[derive(Debug, Serialize)]
pub struct SignatureSummary<'a> {
    pub scheme: &'a str,
    pub header: &'a str,
}
