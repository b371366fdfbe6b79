//! The marketplace's rules: publishing and upgrading packages, installing them per
//! tenant with a configuration, the limits, and keeping every tenant's effective catalog
//! and the transformations in force in step with what is stored.
//!
//! Every method is blocking (database, vault, sandbox): call it from `Store::run` or a
//! worker thread. Every change is audited in the transaction that makes it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use crate::store::sql::Db;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::configuration::{self, Configuration};
use super::manifest::{self, ConfigField, Package, Version};
use super::repo::{self, InstallationRow, Published, VersionRow};
use super::transform::ON_INBOUND;
use super::{PluginError, PluginLimits};
use crate::audit::{self, AuditEntry};
use crate::auth::{PlatformScope, Reach, TenantScope};
use crate::catalog::{Catalogs, Overlay};
use crate::outbound::Outbound;
use crate::store::Store;
use crate::store::postgres::changes;
use crate::time::Clock;
use crate::vault::Vault;

/// The marketplace and the transformations in force. Cheap to clone.
#[derive(Clone)]
pub struct Plugins {
    store: Store,
    pub(super) vault: Arc<Vault>,
    /// Every tenant's catalog: this service keeps the plugins' overlays in it current.
    catalogs: Arc<Catalogs>,
    /// Told which endpoints to re-read when a transformation changes.
    outbound: Outbound,
    pub(super) limits: PluginLimits,
    clock: Clock,
    /// Provider key → plugins that define it and have `onInbound`, in id order.
    pub(super) inbound: Arc<RwLock<BTreeMap<String, Vec<InboundPlugin>>>>,
}

/// What [`Plugins::new`] is built from.
pub struct PluginsParts {
    pub store: Store,
    pub vault: Arc<Vault>,
    pub catalogs: Arc<Catalogs>,
    pub outbound: Outbound,
    pub limits: PluginLimits,
    pub clock: Clock,
}

#[derive(Debug, Clone)]
pub(super) struct InboundPlugin {
    pub(super) id: String,
    pub(super) platform_wide: bool,
    pub(super) tenants: BTreeSet<String>,
}

/// A marketplace entry as the API shows it.
#[derive(Debug, Serialize)]
pub struct PluginView {
    pub id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub category: Option<String>,
    pub author: Option<String>,
    pub config_fields: Vec<ConfigField>,
    /// Keys of the providers the plugin adds or overrides.
    pub providers: Vec<String>,
    /// Entry points its script defines.
    pub entry_points: Vec<String>,
    pub platform_wide: bool,
    pub builtin: bool,
    pub size_bytes: i64,
    pub sha256: String,
    pub published_at: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Published> for PluginView {
    fn from(p: &Published) -> Self {
        let m = &p.current.manifest;
        PluginView {
            id: p.plugin.id.clone(),
            name: m.name.clone(),
            version: p.plugin.version.clone(),
            description: m.description.clone(),
            category: m.category.clone(),
            author: m.author.clone(),
            config_fields: m.config_fields.clone(),
            providers: p.current.provider_keys.clone(),
            entry_points: p.current.entry_points.clone(),
            platform_wide: p.plugin.platform_wide,
            builtin: p.plugin.builtin,
            size_bytes: p.current.size_bytes,
            sha256: p.current.sha256.clone(),
            published_at: p.current.published_at.clone(),
            created_at: p.plugin.created_at.clone(),
            updated_at: p.plugin.updated_at.clone(),
        }
    }
}

/// One plugin in full: the view, its package text and its versions.
#[derive(Debug, Serialize)]
pub struct PluginDetail {
    #[serde(flatten)]
    pub plugin: PluginView,
    pub package: Value,
    pub versions: Vec<Value>,
    pub installations: u64,
}

/// A tenant's installation as the API shows it: secrets masked.
#[derive(Debug, Serialize)]
pub struct InstallationView {
    pub plugin_id: String,
    pub name: String,
    pub version: String,
    /// `active`, or `needs_configuration` when an upgrade added required fields.
    pub status: &'static str,
    pub missing_fields: Vec<String>,
    pub configuration: Map<String, Value>,
    pub providers: Vec<String>,
    pub entry_points: Vec<String>,
    pub installed_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// What publishing did.
pub struct Publication {
    pub view: PluginView,
    pub created: bool,
}

impl Plugins {
    pub fn new(parts: PluginsParts) -> Plugins {
        Plugins {
            store: parts.store,
            vault: parts.vault,
            catalogs: parts.catalogs,
            outbound: parts.outbound,
            limits: parts.limits,
            clock: parts.clock,
            inbound: Arc::default(),
        }
    }

    /// A service over `store` and `vault` with only the built-in catalog, for code that
    /// runs the delivery engine without the server (benchmarks, tests).
    pub fn standalone(
        store: Store,
        vault: Arc<Vault>,
        limits: PluginLimits,
    ) -> Result<Plugins, crate::catalog::CatalogError> {
        Ok(Plugins::new(PluginsParts {
            store,
            vault,
            catalogs: Arc::new(Catalogs::new(crate::catalog::Catalog::built_in()?)),
            outbound: Outbound::default(),
            limits,
            clock: Clock::system(),
        }))
    }

    /// Publishes the packages shipped in the binary that are missing or older in the
    /// database, then loads what is in force. Run once at start-up.
    pub fn start(&self) -> Result<(), PluginError> {
        for package in super::builtin::packages() {
            let id = package.manifest.id.clone();
            let shipped = Version::parse(&package.manifest.version);
            let stored = self
                .store
                .read(|conn| repo::find(conn, &id))?
                .and_then(|p| Version::parse(&p.plugin.version));
            if stored.is_some() && stored >= shipped {
                continue;
            }
            let entry = AuditEntry::new(None, "tessera", "plugin.published", Some(&id), &Default::default());
            if let Err(e) = self.publish_as(package, entry, true) {
                tracing::error!(plugin = %id, error = %e, "a built-in plugin could not be published");
            }
        }
        self.store.read(|conn| self.reload(conn))
    }

    /// Validates and stores a package: a new plugin, or a higher version of one.
    /// The marketplace is the platform's: publishing needs its scope.
    pub fn publish(&self, _: &PlatformScope, package: Package, entry: AuditEntry) -> Result<Publication, PluginError> {
        self.publish_as(package, entry, false)
    }

    fn publish_as(&self, package: Package, entry: AuditEntry, builtin: bool) -> Result<Publication, PluginError> {
        let size = manifest::package_size(&package);
        if size > self.limits.max_package_bytes {
            return Err(PluginError::TooLarge {
                size,
                limit: self.limits.max_package_bytes,
            });
        }
        let wants_platform_wide = package.platform_wide;
        let checked =
            manifest::check(package, self.catalogs.base(), self.limits.script).map_err(PluginError::Invalid)?;
        let id = checked.manifest.id.clone();
        let publication = self.store.write(|tx| -> Result<Publication, PluginError> {
            let existing = repo::find(tx, &id)?;
            if let Some(current) = &existing {
                let stored = Version::parse(&current.plugin.version).unwrap_or(Version(0, 0, 0));
                if checked.version <= stored {
                    return Err(PluginError::Conflict(format!(
                        "plugin `{id}` is at version {stored}; publish a higher version to upgrade it"
                    )));
                }
                if current.plugin.builtin && !builtin {
                    return Err(PluginError::Conflict(format!(
                        "plugin `{id}` ships with tessera; publish yours under another id"
                    )));
                }
            }
            for other in repo::list(tx)?.iter().filter(|p| p.plugin.id != id) {
                if let Some(key) = checked
                    .provider_keys
                    .iter()
                    .find(|k| other.current.provider_keys.contains(k))
                {
                    return Err(PluginError::field(
                        "providers",
                        format!("provider `{key}` is already defined by plugin `{}`", other.plugin.id),
                    ));
                }
            }
            let platform_wide = wants_platform_wide
                .or(existing.as_ref().map(|p| p.plugin.platform_wide))
                .unwrap_or(false);
            let row = VersionRow {
                plugin_id: id.clone(),
                version: checked.version.to_string(),
                manifest: checked.manifest.clone(),
                providers: checked.providers.clone(),
                script: checked.script.clone(),
                entry_points: checked.entry_points.clone(),
                provider_keys: checked.provider_keys.clone(),
                sha256: checked.sha256.clone(),
                size_bytes: checked.size_bytes as i64,
                published_by: entry.actor.clone(),
                published_at: self.clock.now_rfc3339(),
            };
            repo::publish(tx, &row, platform_wide, builtin)?;
            let action = if existing.is_some() {
                "plugin.upgraded"
            } else {
                "plugin.published"
            };
            let detail = json!({
                "version": row.version,
                "from_version": existing.as_ref().map(|p| p.plugin.version.clone()),
                "platform_wide": platform_wide,
                "sha256": row.sha256,
            });
            audit::record(
                tx,
                &AuditEntry {
                    action: action.into(),
                    ..entry.clone()
                }
                .with_detail(detail),
            )?;
            let published = repo::find(tx, &id)?.ok_or_else(|| PluginError::NotFound(id.clone()))?;
            tx.announce(&changes::plugin(&id))?;
            Ok(Publication {
                view: PluginView::from(&published),
                created: existing.is_none(),
            })
        })?;
        self.after_change(&Reach::from(PlatformScope::for_server_work()), &id)?;
        Ok(publication)
    }

    pub fn list(&self) -> Result<Vec<PluginView>, PluginError> {
        let rows = self.store.read(repo::list)?;
        Ok(rows.iter().map(PluginView::from).collect())
    }

    pub fn detail(&self, id: &str) -> Result<PluginDetail, PluginError> {
        self.store.read(|conn| {
            let published = repo::find(conn, id)?.ok_or_else(|| PluginError::NotFound(id.to_owned()))?;
            let versions = repo::versions(conn, id)?
                .into_iter()
                .map(|(version, published_at, sha256)| json!({"version": version, "published_at": published_at, "sha256": sha256}))
                .collect();
            Ok(PluginDetail {
                package: json!({
                    "manifest": published.current.manifest,
                    "providers": published.current.providers,
                    "script": published.current.script,
                }),
                versions,
                installations: repo::count_installations(conn, id)?,
                plugin: PluginView::from(&published),
            })
        })
    }

    /// Removes a plugin from the marketplace. Refused while installed unless `force`,
    /// which uninstalls it everywhere (each tenant's audit log says so).
    pub fn delete(
        &self,
        platform: &PlatformScope,
        id: &str,
        force: bool,
        entry: AuditEntry,
    ) -> Result<(), PluginError> {
        self.store.write(|tx| -> Result<(), PluginError> {
            let published = repo::find(tx, id)?.ok_or_else(|| PluginError::NotFound(id.to_owned()))?;
            if published.plugin.builtin {
                return Err(PluginError::Conflict(format!(
                    "plugin `{id}` ships with tessera and cannot be removed; tenants may uninstall it"
                )));
            }
            let tenants: Vec<String> = repo::all_installations(tx)?
                .into_iter()
                .filter(|(_, p)| p == id)
                .map(|(t, _)| t)
                .collect();
            if !tenants.is_empty() && !force {
                return Err(PluginError::Conflict(format!(
                    "plugin `{id}` is installed by {} tenant(s); uninstall it first or delete with ?force=true",
                    tenants.len()
                )));
            }
            for tenant in &tenants {
                let mut removed = entry.clone();
                removed.tenant_id = Some(tenant.clone());
                removed.action = "plugin.uninstalled".into();
                audit::record(
                    tx,
                    &removed.with_detail(json!({"reason": "removed from the marketplace"})),
                )?;
            }
            repo::delete(tx, id)?;
            tx.announce(&changes::plugin(id))?;
            audit::record(
                tx,
                &entry
                    .clone()
                    .with_detail(json!({"version": published.plugin.version, "uninstalled_from": tenants.len()})),
            )?;
            Ok(())
        })?;
        self.after_change(&Reach::from(*platform), id)
    }

    pub fn install(
        &self,
        scope: &TenantScope,
        plugin_id: &str,
        given: &Map<String, Value>,
        entry: AuditEntry,
    ) -> Result<InstallationView, PluginError> {
        let tenant_id = scope.id();
        let view = self.store.write(|tx| -> Result<InstallationView, PluginError> {
            let published = repo::find(tx, plugin_id)?.ok_or_else(|| PluginError::NotFound(plugin_id.to_owned()))?;
            if repo::find_installation(tx, tenant_id, plugin_id)?.is_some() {
                return Err(PluginError::Conflict(format!(
                    "plugin `{plugin_id}` is already installed; PATCH its configuration instead"
                )));
            }
            let count = repo::count_for_tenant(tx, tenant_id)?;
            if count >= self.limits.max_installs_per_tenant {
                return Err(PluginError::Conflict(format!(
                    "this tenant has {count} plugins installed, the most allowed (plugin_max_installs_per_tenant)"
                )));
            }
            let fields = &published.current.manifest.config_fields;
            let config = Configuration::merged(fields, None, given).map_err(PluginError::Invalid)?;
            let now = self.clock.now_rfc3339();
            let id = crate::ids::new_id();
            let row = InstallationRow {
                configuration: configuration::seal(tx, &self.vault, tenant_id, &id, &config)?,
                id,
                tenant_id: tenant_id.to_owned(),
                plugin_id: plugin_id.to_owned(),
                installed_by: entry.actor.clone(),
                created_at: now.clone(),
                updated_at: now,
            };
            repo::insert_installation(tx, &row)?;
            tx.announce(&changes::plugin(plugin_id))?;
            audit::record(
                tx,
                &entry.with_detail(json!({"version": published.plugin.version, "fields": config.names()})),
            )?;
            Ok(installation_view(&published, &row, &config))
        })?;
        self.after_change(&Reach::from(scope.clone()), plugin_id)?;
        Ok(view)
    }

    pub fn configure(
        &self,
        scope: &TenantScope,
        plugin_id: &str,
        given: &Map<String, Value>,
        entry: AuditEntry,
    ) -> Result<InstallationView, PluginError> {
        let tenant_id = scope.id();
        let view = self.store.write(|tx| -> Result<InstallationView, PluginError> {
            let (published, mut row) = self.installed(tx, tenant_id, plugin_id)?;
            let old = configuration::open(tx, &self.vault, tenant_id, &row.id, &row.configuration)?;
            let fields = &published.current.manifest.config_fields;
            let config = Configuration::merged(fields, Some(&old), given).map_err(PluginError::Invalid)?;
            row.updated_at = self.clock.now_rfc3339();
            row.configuration = configuration::seal(tx, &self.vault, tenant_id, &row.id, &config)?;
            repo::update_configuration(tx, tenant_id, &row.id, &row.configuration, &row.updated_at)?;
            tx.announce(&changes::plugin(plugin_id))?;
            let changed: Vec<&String> = given.keys().collect();
            audit::record(tx, &entry.with_detail(json!({"fields": changed})))?;
            Ok(installation_view(&published, &row, &config))
        })?;
        self.after_change(&Reach::from(scope.clone()), plugin_id)?;
        Ok(view)
    }

    pub fn uninstall(&self, scope: &TenantScope, plugin_id: &str, entry: AuditEntry) -> Result<(), PluginError> {
        let tenant_id = scope.id();
        self.store.write(|tx| -> Result<(), PluginError> {
            self.installed(tx, tenant_id, plugin_id)?;
            let using = repo::endpoints_using(tx, &Reach::from(scope.clone()), plugin_id)?;
            if !using.is_empty() {
                return Err(PluginError::Conflict(format!(
                    "webhook endpoint(s) {} reshape their messages with this plugin; change their `transform` first",
                    using.join(", ")
                )));
            }
            repo::delete_installation(tx, tenant_id, plugin_id)?;
            tx.announce(&changes::plugin(plugin_id))?;
            audit::record(tx, &entry)?;
            Ok(())
        })?;
        self.after_change(&Reach::from(scope.clone()), plugin_id)
    }

    pub fn installation(&self, scope: &TenantScope, plugin_id: &str) -> Result<InstallationView, PluginError> {
        let tenant_id = scope.id();
        self.store.read(|conn| {
            let (published, row) = self.installed(conn, tenant_id, plugin_id)?;
            let config = configuration::open(conn, &self.vault, tenant_id, &row.id, &row.configuration)?;
            Ok(installation_view(&published, &row, &config))
        })
    }

    pub fn installed_list(&self, scope: &TenantScope) -> Result<Vec<InstallationView>, PluginError> {
        let tenant_id = scope.id();
        self.store.read(|conn| {
            let mut views = Vec::new();
            for row in repo::list_installations(conn, tenant_id)? {
                let Some(published) = repo::find(conn, &row.plugin_id)? else {
                    continue;
                };
                let config = configuration::open(conn, &self.vault, tenant_id, &row.id, &row.configuration)?;
                views.push(installation_view(&published, &row, &config));
            }
            Ok(views)
        })
    }

    fn installed(
        &self,
        conn: &Db<'_>,
        tenant_id: &str,
        plugin_id: &str,
    ) -> Result<(Published, InstallationRow), PluginError> {
        let row = repo::find_installation(conn, tenant_id, plugin_id)?
            .ok_or_else(|| PluginError::NotInstalled(plugin_id.to_owned()))?;
        let published = repo::find(conn, plugin_id)?.ok_or_else(|| PluginError::NotInstalled(plugin_id.to_owned()))?;
        Ok((published, row))
    }

    /// Another node changed `plugin_id` (or, with `None`, this node may have missed
    /// changes): rebuild what is in force here as after a change of its own.
    pub fn changed_elsewhere(&self, plugin_id: Option<&str>) {
        let rebuilt = match plugin_id {
            Some(id) => self.after_change(&Reach::from(PlatformScope::for_server_work()), id),
            // The caller also has the delivery engine re-read every endpoint.
            None => self.store.read(|conn| self.reload(conn)),
        };
        if let Err(e) = rebuilt {
            tracing::error!(error = %e, "rebuilding the plugins in force after another node's change failed");
        }
    }

    /// After a commit: rebuild the catalogs and transformations in force, and make the
    /// delivery engine re-read endpoints whose transformation may have changed.
    fn after_change(&self, reach: &Reach, plugin_id: &str) -> Result<(), PluginError> {
        let endpoints = self.store.read(|conn| {
            self.reload(conn)?;
            repo::endpoints_using(conn, reach, plugin_id).map_err(PluginError::from)
        })?;
        for endpoint in endpoints {
            self.outbound.endpoint_changed(&endpoint);
        }
        Ok(())
    }

    /// Loads the overlays (providers by plugin, with who installed it) and the inbound
    /// transformations from the database.
    fn reload(&self, conn: &Db<'_>) -> Result<(), PluginError> {
        let mut tenants_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (tenant, plugin) in repo::all_installations(conn)? {
            tenants_of.entry(plugin).or_default().insert(tenant);
        }
        let mut overlays = Vec::new();
        let mut inbound: BTreeMap<String, Vec<InboundPlugin>> = BTreeMap::new();
        for published in repo::list(conn)? {
            let id = published.plugin.id.clone();
            let tenants = tenants_of.remove(&id).unwrap_or_default();
            if let Some(text) = &published.current.providers {
                match crate::catalog::parse_providers(text, &id) {
                    Ok(providers) => overlays.push(Overlay {
                        origin: id.clone(),
                        platform_wide: published.plugin.platform_wide,
                        tenants: tenants.clone(),
                        providers,
                    }),
                    Err(e) => tracing::error!(plugin = %id, error = %e, "stored plugin providers do not parse"),
                }
            }
            if published.current.entry_points.iter().any(|e| e == ON_INBOUND) {
                for key in &published.current.provider_keys {
                    inbound.entry(key.clone()).or_default().push(InboundPlugin {
                        id: id.clone(),
                        platform_wide: published.plugin.platform_wide,
                        tenants: tenants.clone(),
                    });
                }
            }
        }
        self.catalogs.set_overlays(overlays);
        if let Ok(mut current) = self.inbound.write() {
            *current = inbound;
        }
        Ok(())
    }
}

fn installation_view(published: &Published, row: &InstallationRow, config: &Configuration) -> InstallationView {
    let fields = &published.current.manifest.config_fields;
    let missing = config.missing(fields);
    InstallationView {
        plugin_id: row.plugin_id.clone(),
        name: published.current.manifest.name.clone(),
        version: published.plugin.version.clone(),
        status: if missing.is_empty() {
            "active"
        } else {
            "needs_configuration"
        },
        missing_fields: missing,
        configuration: config.masked(fields),
        providers: published.current.provider_keys.clone(),
        entry_points: published.current.entry_points.clone(),
        installed_by: row.installed_by.clone(),
        created_at: row.created_at.clone(),
        updated_at: row.updated_at.clone(),
    }
}
