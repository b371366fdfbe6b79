//! Configuration: defaults ← `tessera.toml` in the data dir ← `TESSERA_*` env ← flags.
//!
//! Every setting has one name (`public_url`) used in the file and, upper-cased with the
//! `TESSERA_` prefix, in the environment (`TESSERA_PUBLIC_URL`). Both go through
//! [`Config::apply`], so adding a setting means adding one arm there.
//!
//! The config parses and checks its own values ([`parse`]) and holds them typed —
//! durations, a list of retry delays, IP networks — so a bad value stops the start with
//! its setting's name, and the domain modules build their own types from plain values.

pub mod parse;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use parse::IpNet;

use crate::vault::Secret;

mod server;
pub use server::ServerSettings;

pub const CONFIG_FILE_NAME: &str = "tessera.toml";
const ENV_PREFIX: &str = "TESSERA_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Base for webhook URLs and the OAuth redirect URI, without a trailing slash.
    pub public_url: Option<String>,
    /// Base64 master key(s): `KEY` (version 1) or `1:KEY,2:KEY`.
    pub master_key: Option<Secret>,
    pub master_key_file: Option<PathBuf>,
    /// PostgreSQL for several nodes on one database (`database_url`, `postgres://…`);
    /// without it, the SQLite file in the data dir. Held as a secret: it may carry a
    /// password.
    pub database_url: Option<Secret>,
    /// A file holding the database password instead of the URL (`database_password_file`).
    pub database_password_file: Option<PathBuf>,
    /// Connections per node to PostgreSQL (`database_pool_size`, default 16).
    pub database_pool_size: u32,
    /// PEM file of the authorities the database server's certificate is checked against
    /// (`database_ca_file`); without it, the bundled public roots.
    pub database_ca_file: Option<PathBuf>,
    pub providers_file: Option<PathBuf>,
    pub allow_private_targets: bool,
    pub log_format: LogFormat,
    /// Largest request body accepted anywhere (webhooks answer 413 above it).
    pub body_limit_bytes: usize,
    /// Timeout for every call tessera makes to an outside service.
    pub outbound_timeout: Duration,
    /// How long a graceful shutdown waits for background work (an attempt or job in flight)
    /// before leaving the rest to its lease (`shutdown_grace_secs`, default 10).
    pub shutdown_grace: Duration,
    /// Delays between outbound webhook retries (`retry_schedule`, comma-separated
    /// seconds); `None` keeps the built-in schedule, an empty list never retries.
    pub retry_schedule: Option<Vec<Duration>>,

    /// Origins (besides the public URL's) that `authorize`'s `return_to` may point at.
    pub allowed_return_origins: Vec<String>,
    /// The background refresher renews tokens expiring within this margin (default 10 min).
    pub oauth_refresh_margin: Duration,
    /// How often the background refresher looks for expiring tokens (default 30 s).
    pub oauth_refresh_interval: Duration,
    /// `/token` refreshes first when the token expires within this (default 60 s).
    pub oauth_read_margin: Duration,
    /// Platform OAuth apps from `TESSERA_APP_<PROVIDER>_CLIENT_ID` / `_CLIENT_SECRET`.
    pub platform_apps: BTreeMap<String, PlatformApp>,

    /// Job worker threads (outside calls block, so a few run side by side).
    pub job_workers: usize,
    /// Failed webhook deliveries (bad signatures, unknown tenants) answered per minute per
    /// source address and tenant before the rest are refused with 429.
    pub webhook_failure_limit: u32,
    /// Rejected deliveries stored one row each per tenant; beyond this they are counted
    /// per hour, provider and reason instead.
    pub rejected_events_max: u32,
    /// Rejected deliveries (rows and hourly counts) are kept this many days.
    pub rejected_events_days: u32,
    /// First retry delay of a failed job; doubles per attempt (capped at an hour), ±25 % jitter.
    pub job_retry_base: Duration,

    /// Internal networks tenant-supplied URLs may reach anyway (CIDRs, comma-separated).
    pub allowed_target_cidrs: Vec<IpNet>,
    /// Blocking threads that send outbound webhooks.
    pub webhook_workers: usize,
    /// Attempts in flight per endpoint at most, so one slow endpoint cannot hold them all.
    pub webhook_endpoint_concurrency: usize,
    /// Timeout of one outbound webhook attempt.
    pub webhook_timeout: Duration,
    /// An endpoint failing without a success for this long is disabled.
    pub webhook_disable_after: Duration,

    /// Requests per token per minute for tenants on each tier.
    pub rate_limit_free: u32,
    pub rate_limit_pro: u32,
    pub rate_limit_enterprise: u32,
    /// Requests per minute for a platform (operator) token.
    pub rate_limit_platform: u32,
    /// Requests per minute per signed-in UI user of a tenant (a page makes several calls).
    pub rate_limit_session: u32,
    /// Requests per minute per client address for API calls without valid credentials.
    pub rate_limit_anonymous: u32,
    /// Verified webhook deliveries per tenant per minute; 0 (the default): no limit, so a
    /// provider's burst is never refused. Failures are limited by `webhook_failure_limit`.
    pub rate_limit_webhooks: u32,
    /// How often in-memory usage counters are written to the database.
    pub usage_flush_interval: Duration,
    /// Audit entries older than this many days are purged.
    pub audit_retention_days: u32,
    /// How often the audit purge runs.
    pub audit_purge_interval: Duration,
    /// Serve `/metrics` without a token (default: a platform token is required).
    pub metrics_public: bool,
    /// Start with every outside effect held (`paused`, `serve --paused`); resume with
    /// `tessera resume` or `POST /api/v1/platform/resume`.
    pub paused: bool,
    /// Demo mode (`tessera demo`): the sandbox provider under `/sandbox`.
    pub demo: bool,
    /// In demo mode, how often the sandbox emits a purchase webhook (`None`: never).
    pub demo_emit_interval: Option<Duration>,

    /// A session ends after this long without a request (`session_idle_timeout_secs`, default 1 h).
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in whatever happens (`session_absolute_timeout_secs`, default 12 h).
    pub session_absolute_timeout: Duration,
    /// Failed sign-ins allowed per account within `login_window_secs` (`login_max_failures`, default 5).
    pub login_max_failures: usize,
    /// Failed sign-ins allowed per client IP within the window (`login_max_failures_per_ip`, default 20).
    pub login_max_failures_per_ip: usize,
    /// The sliding window for sign-in limits (`login_window_secs`, default 900).
    pub login_window: Duration,

    /// Largest plugin package (manifest + providers + script), bytes (`plugin_max_size_bytes`).
    pub plugin_max_size_bytes: usize,
    /// Installed plugins per tenant at most (`plugin_max_installs_per_tenant`, default 100).
    pub plugin_max_installs_per_tenant: u64,
    /// Time limit of one script call (`plugin_execution_timeout_ms`, default 1000, at most 30 s).
    pub plugin_execution_timeout: Duration,
    /// Memory limit of one script call (`plugin_memory_limit_bytes`, default 32 MiB).
    pub plugin_memory_limit_bytes: usize,
    /// The listener: timeouts, connection cap, trusted proxies.
    pub server: ServerSettings,
    /// Settings that were named but not understood, reported once logging is up.
    pub warnings: Vec<String>,
}

/// A platform OAuth app named in the file or the environment (`app_<provider>_client_id`,
/// `app_<provider>_client_secret`). The secret prints as `<redacted>`.
#[derive(Debug, Clone, Default)]
pub struct PlatformApp {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("setting {name}: {message}")]
    Invalid { name: String, message: String },
    #[error("no data directory: pass --data-dir or set TESSERA_DATA_DIR")]
    NoDataDir,
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
}

impl Config {
    /// The built-in defaults for a data dir.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 7700)),
            public_url: None,
            master_key: None,
            master_key_file: None,
            database_url: None,
            database_password_file: None,
            database_pool_size: 16,
            database_ca_file: None,
            providers_file: None,
            allow_private_targets: false,
            log_format: LogFormat::Text,
            body_limit_bytes: 1024 * 1024,
            outbound_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            retry_schedule: None,
            allowed_return_origins: Vec::new(),
            oauth_refresh_margin: Duration::from_secs(600),
            oauth_refresh_interval: Duration::from_secs(30),
            oauth_read_margin: Duration::from_secs(60),
            platform_apps: Default::default(),

            job_workers: 4,
            job_retry_base: Duration::from_secs(5),
            webhook_failure_limit: 120,
            rejected_events_max: 10_000,
            rejected_events_days: 30,

            allowed_target_cidrs: Vec::new(),
            webhook_workers: 32,
            webhook_endpoint_concurrency: 8,
            webhook_timeout: Duration::from_secs(30),
            webhook_disable_after: Duration::from_secs(5 * 24 * 3600),

            rate_limit_free: 60,
            rate_limit_pro: 1000,
            rate_limit_enterprise: 5000,
            rate_limit_platform: 20_000,
            rate_limit_session: 1200,
            rate_limit_anonymous: 120,
            rate_limit_webhooks: 0,
            usage_flush_interval: Duration::from_secs(10),
            audit_retention_days: 7 * 365 + 2,
            audit_purge_interval: Duration::from_secs(3600),
            metrics_public: false,
            paused: false,
            demo: false,
            demo_emit_interval: None,

            session_idle_timeout: Duration::from_secs(3600),
            session_absolute_timeout: Duration::from_secs(12 * 3600),
            login_max_failures: 5,
            login_max_failures_per_ip: 20,
            login_window: Duration::from_secs(900),

            plugin_max_size_bytes: 512 * 1024,
            plugin_max_installs_per_tenant: 100,
            plugin_execution_timeout: Duration::from_millis(1000),
            plugin_memory_limit_bytes: 32 * 1024 * 1024,
            server: ServerSettings::default(),
            warnings: Vec::new(),
        }
    }

    /// Reads the whole configuration once: defaults, file, environment, flags.
    pub fn load(overrides: &Overrides) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with(ENV_PREFIX)).collect();
        Self::load_from(overrides, &env)
    }

    pub fn load_from(overrides: &Overrides, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let env_data_dir = env
            .iter()
            .find(|(k, _)| k == "TESSERA_DATA_DIR")
            .map(|(_, v)| PathBuf::from(v));
        let data_dir = overrides
            .data_dir
            .clone()
            .or(env_data_dir)
            .or_else(default_data_dir)
            .ok_or(ConfigError::NoDataDir)?;
        let mut config = Config::with_data_dir(data_dir);

        let file = config.data_dir.join(CONFIG_FILE_NAME);
        if file.exists() {
            config.apply_file(&file)?;
        }
        for (key, value) in env {
            let name = key[ENV_PREFIX.len()..].to_ascii_lowercase();
            if name == "data_dir" || name == "log" {
                continue;
            }
            if !config.apply(&name, value)? {
                config
                    .warnings
                    .push(format!("unknown environment variable {key} ignored"));
            }
        }
        if let Some(listen) = overrides.listen {
            config.listen = listen;
        }
        Ok(config)
    }

    fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Parse {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })?;
        for (name, value) in table {
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|v| match v {
                        toml::Value::String(s) => s.clone(),
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                other => {
                    return Err(ConfigError::Invalid {
                        name,
                        message: format!("unsupported value {other:?}"),
                    });
                }
            };
            if !self.apply(&name, &value)? {
                self.warnings
                    .push(format!("unknown setting `{name}` in {} ignored", path.display()));
            }
        }
        Ok(())
    }

    /// Applies one named setting. Returns `Ok(false)` for a name tessera does not know.
    pub fn apply(&mut self, name: &str, value: &str) -> Result<bool, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            name: name.to_owned(),
            message,
        };
        match name {
            "listen" => {
                self.listen = value
                    .parse()
                    .map_err(|_| invalid(format!("`{value}` is not an address like 127.0.0.1:7700")))?;
            }
            "public_url" => self.public_url = Some(parse::base_url(value).map_err(invalid)?),
            "master_key" => self.master_key = Some(Secret::new(value.trim().to_owned())),
            "master_key_file" => self.master_key_file = Some(PathBuf::from(value)),
            "database_url" => {
                let url = value.trim();
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(invalid(
                        "a PostgreSQL URL starts with postgres:// or postgresql://".into(),
                    ));
                }
                self.database_url = Some(Secret::new(url.to_owned()));
            }
            "database_password_file" => self.database_password_file = Some(PathBuf::from(value)),
            "database_ca_file" => self.database_ca_file = Some(PathBuf::from(value)),
            "database_pool_size" => {
                self.database_pool_size = parse::number::<u32>(value, "connections")
                    .map_err(invalid)?
                    .clamp(2, 256)
            }
            "providers_file" => self.providers_file = Some(PathBuf::from(value)),
            "allow_private_targets" => self.allow_private_targets = parse::flag(value).map_err(invalid)?,
            "log_format" => {
                self.log_format = match value {
                    "json" => LogFormat::Json,
                    "text" | "pretty" => LogFormat::Text,
                    _ => return Err(invalid("expected `text` or `json`".into())),
                }
            }
            "body_limit_bytes" => self.body_limit_bytes = parse::number(value, "bytes").map_err(invalid)?,
            "outbound_timeout_secs" => {
                self.outbound_timeout = parse::whole_seconds(value)
                    .map_err(invalid)?
                    .max(Duration::from_secs(1));
            }
            "shutdown_grace_secs" => self.shutdown_grace = parse::whole_seconds(value).map_err(invalid)?,
            "retry_schedule" => self.retry_schedule = Some(parse::delays(value).map_err(invalid)?),

            "allowed_return_origins" => self.allowed_return_origins = parse::origins(value).map_err(invalid)?,
            "oauth_refresh_margin_secs" => self.oauth_refresh_margin = parse::seconds(value).map_err(invalid)?,
            "oauth_refresh_interval_secs" => {
                self.oauth_refresh_interval = parse::seconds(value).map_err(invalid)?.max(Duration::from_millis(200))
            }
            "oauth_read_margin_secs" => self.oauth_read_margin = parse::seconds(value).map_err(invalid)?,
            app if app.starts_with("app_") && (app.ends_with("_client_id") || app.ends_with("_client_secret")) => {
                let (provider, is_secret) = match app.strip_suffix("_client_secret") {
                    Some(rest) => (&rest[4..], true),
                    None => (&app[4..app.len() - "_client_id".len()], false),
                };
                if provider.is_empty() {
                    return Ok(false);
                }
                let entry = self.platform_apps.entry(provider.to_owned()).or_default();
                if is_secret {
                    entry.client_secret = Some(Secret::new(value.trim().to_owned()));
                } else {
                    entry.client_id = Some(value.trim().to_owned());
                }
            }

            "job_workers" => self.job_workers = parse::number::<usize>(value, "threads").map_err(invalid)?.clamp(1, 64),
            "job_retry_base_ms" => {
                self.job_retry_base = parse::milliseconds(value)
                    .map_err(invalid)?
                    .max(Duration::from_millis(1));
            }
            "webhook_failure_limit" => self.webhook_failure_limit = parse::positive_count(value).map_err(invalid)?,
            "rejected_events_max" => self.rejected_events_max = parse::positive_count(value).map_err(invalid)?,
            "rejected_events_days" => self.rejected_events_days = parse::positive_count(value).map_err(invalid)?,

            "allowed_target_cidrs" => self.allowed_target_cidrs = parse::networks(value).map_err(invalid)?,
            "webhook_workers" | "webhook_endpoint_concurrency" => {
                let n: usize = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=1024).contains(n))
                    .ok_or_else(|| invalid("expected a number from 1 to 1024".into()))?;
                if name == "webhook_workers" {
                    self.webhook_workers = n;
                } else {
                    self.webhook_endpoint_concurrency = n;
                }
            }
            "webhook_timeout_secs" => {
                self.webhook_timeout = parse::whole_seconds(value)
                    .map_err(invalid)?
                    .clamp(Duration::from_secs(1), Duration::from_secs(300));
            }
            "webhook_disable_after_secs" => {
                self.webhook_disable_after = parse::whole_seconds(value)
                    .map_err(invalid)?
                    .max(Duration::from_secs(1));
            }

            "rate_limit_free" => self.rate_limit_free = parse::positive_count(value).map_err(invalid)?,
            "rate_limit_pro" => self.rate_limit_pro = parse::positive_count(value).map_err(invalid)?,
            "rate_limit_enterprise" => self.rate_limit_enterprise = parse::positive_count(value).map_err(invalid)?,
            "rate_limit_platform" => self.rate_limit_platform = parse::positive_count(value).map_err(invalid)?,
            "rate_limit_session" => self.rate_limit_session = parse::positive_count(value).map_err(invalid)?,
            "rate_limit_anonymous" => self.rate_limit_anonymous = parse::positive_count(value).map_err(invalid)?,
            "rate_limit_webhooks" => {
                self.rate_limit_webhooks = parse::number(value, "deliveries (0: no limit)").map_err(invalid)?
            }
            "usage_flush_interval_secs" => {
                self.usage_flush_interval = Duration::from_secs(parse::positive_count(value).map_err(invalid)?.into())
            }
            "audit_retention_days" => self.audit_retention_days = parse::positive_count(value).map_err(invalid)?,
            "audit_purge_interval_secs" => {
                self.audit_purge_interval = Duration::from_secs(parse::positive_count(value).map_err(invalid)?.into())
            }
            "metrics_public" => self.metrics_public = parse::flag(value).map_err(invalid)?,
            "paused" => self.paused = parse::flag(value).map_err(invalid)?,
            "demo" => self.demo = parse::flag(value).map_err(invalid)?,
            "demo_emit_interval_secs" => {
                let every = parse::whole_seconds(value).map_err(invalid)?;
                self.demo_emit_interval = (!every.is_zero()).then_some(every);
            }

            "session_idle_timeout_secs" => {
                self.session_idle_timeout = parse::whole_seconds(value)
                    .map_err(invalid)?
                    .max(Duration::from_secs(1))
            }
            "session_absolute_timeout_secs" => {
                self.session_absolute_timeout = parse::whole_seconds(value)
                    .map_err(invalid)?
                    .max(Duration::from_secs(1))
            }
            "login_window_secs" => {
                self.login_window = parse::whole_seconds(value)
                    .map_err(invalid)?
                    .max(Duration::from_secs(1))
            }
            "login_max_failures" => self.login_max_failures = parse::number(value, "failures").map_err(invalid)?,
            "login_max_failures_per_ip" => {
                self.login_max_failures_per_ip = parse::number(value, "failures").map_err(invalid)?;
            }

            "plugin_max_size_bytes" => {
                self.plugin_max_size_bytes = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1024..=64 * 1024 * 1024).contains(n))
                    .ok_or_else(|| invalid("expected a number of bytes from 1024 to 67108864".into()))?;
            }
            "plugin_max_installs_per_tenant" => {
                self.plugin_max_installs_per_tenant = value.parse().map_err(|_| invalid("expected a number".into()))?;
            }
            "plugin_execution_timeout_ms" => {
                let ms: u64 = value
                    .parse()
                    .ok()
                    .filter(|ms| (1..=crate::plugins::MAX_EXECUTION_TIMEOUT.as_millis() as u64).contains(ms))
                    .ok_or_else(|| invalid("expected milliseconds from 1 to 30000".into()))?;
                self.plugin_execution_timeout = Duration::from_millis(ms);
            }
            "plugin_memory_limit_bytes" => {
                self.plugin_memory_limit_bytes = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1024 * 1024..=1024 * 1024 * 1024).contains(n))
                    .ok_or_else(|| invalid("expected a number of bytes from 1 MiB to 1 GiB".into()))?;
            }
            other => return self.server.apply(other, value).map_err(invalid),
        }
        Ok(true)
    }

    /// The externally reachable base URL (no trailing slash).
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("tessera.db")
    }

    /// How to reach PostgreSQL, when `database_url` selects it (the password file read).
    pub fn postgres_settings(&self) -> Result<Option<crate::store::postgres::PgSettings>, ConfigError> {
        let Some(url) = &self.database_url else {
            return Ok(None);
        };
        let password = match &self.database_password_file {
            Some(file) => Some(
                crate::store::postgres::read_password_file(file).map_err(|e| ConfigError::Invalid {
                    name: "database_password_file".into(),
                    message: e.to_string(),
                })?,
            ),
            None => None,
        };
        Ok(Some(crate::store::postgres::PgSettings {
            url: url.expose().to_owned(),
            password,
            pool_size: self.database_pool_size,
            ca_file: self.database_ca_file.clone(),
        }))
    }

    pub fn default_master_key_path(&self) -> PathBuf {
        self.data_dir.join("master.key")
    }
}

fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "tessera", "tessera").map(|d| d.data_dir().to_owned())
}

#[cfg(test)]
mod tests;
