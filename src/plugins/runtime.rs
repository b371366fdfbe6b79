//! The transformations in force: which plugin's script runs for a tenant's delivery or
//! endpoint, with that tenant's configuration, and running it in the sandbox within the
//! operator's limits. Blocking: call from a job or delivery worker thread.

use std::sync::Arc;

use crate::store::sql::Db;
use serde_json::Value;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::configuration::{self, Configuration};
use super::repo;
use super::transform::{
    self, HOOKDECK_HANDLER, InboundAction, ON_OUTBOUND, OutboundAction, OutboundMessage, SVIX_HANDLER, TransformError,
};
use super::{PluginError, Plugins};
use crate::vault::Vault;

/// A script and configuration ready to run for one tenant.
#[derive(Clone)]
pub struct Runnable {
    pub plugin_id: String,
    pub version: String,
    pub script: Arc<str>,
    pub entry_points: Vec<String>,
    /// The configuration fields the manifest shows the script.
    pub config: Value,
    /// The secret values among them, scrubbed from whatever the script reports.
    secrets: Vec<Zeroizing<String>>,
}

/// Why a script call failed, in words safe to store and log: every secret value the
/// script was shown is replaced by `****`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptFailure(String);

impl std::fmt::Display for ScriptFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Runnable {
    fn failure(&self, error: TransformError) -> ScriptFailure {
        let mut text = error.to_string();
        // Longest first, so a secret containing another is replaced whole.
        let mut secrets: Vec<&str> = self.secrets.iter().map(|s| s.as_str()).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in secrets {
            if text.contains(secret) {
                text = text.replace(secret, "****");
            }
        }
        ScriptFailure(text)
    }
}

impl std::fmt::Debug for Runnable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runnable")
            .field("plugin_id", &self.plugin_id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Plugins {
    /// The `onInbound` transformation for a tenant's deliveries of `provider`, if a
    /// plugin in force for the tenant defines one. A platform-wide plugin the tenant did
    /// not install runs with an empty configuration.
    pub fn inbound_for(&self, conn: &Db<'_>, tenant_id: &str, provider: &str) -> Result<Option<Runnable>, PluginError> {
        let candidate = self.inbound.read().ok().and_then(|map| {
            map.get(provider)?
                .iter()
                .find(|p| p.tenants.contains(tenant_id) || p.platform_wide)
                .map(|p| p.id.clone())
        });
        match candidate {
            Some(plugin_id) => runnable(conn, &self.vault, tenant_id, &plugin_id, true).map(Some),
            None => Ok(None),
        }
    }

    /// The outbound transformation an endpoint names, for the delivery engine: the plugin
    /// must be installed by the endpoint's tenant and define an outbound entry point.
    /// The error is the sentence a failed attempt records.
    pub fn outbound_for(&self, conn: &Db<'_>, tenant_id: &str, plugin_id: &str) -> Result<Runnable, String> {
        let runnable = runnable(conn, &self.vault, tenant_id, plugin_id, false).map_err(|e| match e {
            PluginError::Store(_) | PluginError::Vault(_) => format!("plugin `{plugin_id}` could not be loaded"),
            other => other.to_string(),
        })?;
        if !has_outbound_entry(&runnable.entry_points) {
            return Err(format!("plugin `{plugin_id}` has no outbound transformation"));
        }
        Ok(runnable)
    }

    /// Runs `onInbound` for one event. `now_ms` is the script's fixed clock; its
    /// `Math.random` is seeded by the event id, so a retry computes the same.
    pub fn run_inbound(
        &self,
        plugin: &Runnable,
        event: &Value,
        event_id: &str,
        now_ms: i64,
    ) -> Result<InboundAction, ScriptFailure> {
        transform::run_inbound(
            self.limits.script,
            &plugin.script,
            event,
            &plugin.config,
            now_ms,
            seed_for(event_id),
        )
        .map_err(|e| plugin.failure(e))
    }

    /// Runs the outbound entry point for one message, like [`Plugins::run_inbound`].
    pub fn run_outbound(
        &self,
        plugin: &Runnable,
        message: &OutboundMessage<'_>,
        event_id: &str,
        now_ms: i64,
    ) -> Result<OutboundAction, ScriptFailure> {
        transform::run_outbound(
            self.limits.script,
            &plugin.script,
            &plugin.entry_points,
            message,
            &plugin.config,
            now_ms,
            seed_for(event_id),
        )
        .map_err(|e| plugin.failure(e))
    }
}

/// The seed of a script's `Math.random` for the event it runs for.
fn seed_for(event_id: &str) -> u64 {
    let digest = Sha256::digest(event_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

fn has_outbound_entry(entry_points: &[String]) -> bool {
    entry_points
        .iter()
        .any(|e| e == ON_OUTBOUND || e == SVIX_HANDLER || e == HOOKDECK_HANDLER)
}

/// Loads a plugin's script and the tenant's configuration of it. `allow_uninstalled`
/// lets a platform-wide plugin run with an empty configuration.
fn runnable(
    conn: &Db<'_>,
    vault: &Vault,
    tenant_id: &str,
    plugin_id: &str,
    allow_uninstalled: bool,
) -> Result<Runnable, PluginError> {
    let published = repo::find(conn, plugin_id)?.ok_or_else(|| PluginError::NotFound(plugin_id.to_owned()))?;
    let fields = &published.current.manifest.config_fields;
    let config = match repo::find_installation(conn, tenant_id, plugin_id)? {
        Some(row) => configuration::open(conn, vault, tenant_id, &row.id, &row.configuration)?,
        None if allow_uninstalled && published.plugin.platform_wide => Configuration::default(),
        None => return Err(PluginError::NotInstalled(plugin_id.to_owned())),
    };
    let missing = config.missing(fields);
    if !missing.is_empty() {
        return Err(PluginError::Conflict(format!(
            "plugin `{plugin_id}` {} needs configuration: {} required",
            published.plugin.version,
            missing.join(", ")
        )));
    }
    let script = published
        .current
        .script
        .clone()
        .ok_or_else(|| PluginError::Conflict(format!("plugin `{plugin_id}` has no script")))?;
    Ok(Runnable {
        plugin_id: plugin_id.to_owned(),
        version: published.plugin.version.clone(),
        script: Arc::from(script),
        entry_points: published.current.entry_points.clone(),
        config: config.for_script(fields),
        secrets: config.script_secrets(fields),
    })
}

/// Checks an endpoint's `transform` when it is set: installed, with an outbound entry.
pub fn check_endpoint_transform(conn: &Db<'_>, tenant_id: &str, plugin_id: &str) -> Result<(), String> {
    let installed = repo::find_installation(conn, tenant_id, plugin_id)
        .map_err(|_| "could not be checked".to_owned())?
        .is_some();
    let published = repo::find(conn, plugin_id).map_err(|_| "could not be checked".to_owned())?;
    match published {
        Some(p) if installed => {
            if has_outbound_entry(&p.current.entry_points) {
                Ok(())
            } else {
                Err(format!("plugin `{plugin_id}` has no outbound transformation"))
            }
        }
        _ => Err(format!("plugin `{plugin_id}` is not installed for this tenant")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_script_reports_is_scrubbed_of_its_secrets() {
        let plugin = Runnable {
            plugin_id: "p".into(),
            version: "1.0.0".into(),
            script: Arc::from(""),
            entry_points: Vec::new(),
            config: Value::Null,
            secrets: vec![Zeroizing::new("tok".into()), Zeroizing::new("tok_live_9f8e".into())],
        };
        let failure = plugin.failure(TransformError::Result(
            "line 2: Error: tok_live_9f8e rejected (tok)".into(),
        ));
        assert_eq!(failure.to_string(), "line 2: Error: **** rejected (****)");
        assert!(!format!("{plugin:?}").contains("tok"), "{plugin:?}");
    }
}
