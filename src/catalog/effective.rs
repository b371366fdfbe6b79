//! Effective catalogs: what one tenant sees is the built-in catalog and the providers
//! file, with the providers of the plugins it installed (and of platform-wide plugins)
//! merged over. Built lazily per tenant, cached, and rebuilt after every change of the
//! overlays (a plugin published, upgraded, removed, installed or uninstalled).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use super::Catalog;

/// Providers one plugin adds or overrides, and whose catalogs they belong in.
#[derive(Debug, Clone)]
pub struct Overlay {
    /// The plugin's id (for logs when an overlay no longer merges).
    pub origin: String,
    pub platform_wide: bool,
    /// Tenants that installed the plugin.
    pub tenants: BTreeSet<String>,
    /// `[providers.<key>]` tables in the catalog's format, already validated.
    pub providers: toml::Table,
}

impl Overlay {
    fn applies_to(&self, tenant_id: Option<&str>) -> bool {
        self.platform_wide || tenant_id.is_some_and(|t| self.tenants.contains(t))
    }
}

/// Every tenant's effective catalog. Cheap to share (`Arc`); lookups after the first
/// for a tenant are a map read.
pub struct Catalogs {
    base: Arc<Catalog>,
    overlays: RwLock<Arc<Vec<Overlay>>>,
    /// Effective catalogs by tenant id (`""` for the platform's view).
    cache: Mutex<HashMap<String, Arc<Catalog>>>,
}

impl std::fmt::Debug for Catalogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalogs").finish_non_exhaustive()
    }
}

impl Catalogs {
    pub fn new(base: Catalog) -> Catalogs {
        Catalogs {
            base: Arc::new(base),
            overlays: RwLock::new(Arc::new(Vec::new())),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The built-in catalog and the providers file, without any plugin.
    pub fn base(&self) -> &Arc<Catalog> {
        &self.base
    }

    /// Replaces every overlay and forgets the cached catalogs.
    pub fn set_overlays(&self, overlays: Vec<Overlay>) {
        let overlays = Arc::new(overlays);
        if let Ok(mut current) = self.overlays.write() {
            *current = overlays;
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }

    /// The catalog `tenant_id` sees.
    pub fn for_tenant(&self, tenant_id: &str) -> Arc<Catalog> {
        self.effective(Some(tenant_id))
    }

    /// `key` as `tenant_id` sees it.
    pub fn provider(&self, tenant_id: &str, key: &str) -> Option<Arc<super::Provider>> {
        self.for_tenant(tenant_id).shared(key)
    }

    /// The catalog a platform principal sees without naming a tenant: built-ins, the
    /// providers file and platform-wide plugins.
    pub fn platform(&self) -> Arc<Catalog> {
        self.effective(None)
    }

    fn effective(&self, tenant_id: Option<&str>) -> Arc<Catalog> {
        let key = tenant_id.unwrap_or("");
        if let Some(found) = self.cache.lock().ok().and_then(|c| c.get(key).cloned()) {
            return found;
        }
        let overlays = self.overlays.read().map(|o| o.clone()).unwrap_or_default();
        let applicable: Vec<&Overlay> = overlays.iter().filter(|o| o.applies_to(tenant_id)).collect();
        let built = if applicable.is_empty() {
            self.base.clone()
        } else {
            let mut catalog = (*self.base).clone();
            for overlay in applicable {
                // Validated when published; a providers file changed since can still make
                // one fail to merge: that plugin's providers are left out, loudly.
                match catalog.extended(&overlay.providers) {
                    Ok(next) => catalog = next,
                    Err(e) => {
                        tracing::error!(plugin = %overlay.origin, error = %e, "plugin providers left out of the catalog")
                    }
                }
            }
            Arc::new(catalog)
        };
        // Only cache what was built from the overlays still in force.
        if let (Ok(mut cache), Ok(current)) = (self.cache.lock(), self.overlays.read())
            && Arc::ptr_eq(&current, &overlays)
        {
            cache.insert(key.to_owned(), built.clone());
        }
        built
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlay(origin: &str, platform_wide: bool, tenants: &[&str], text: &str) -> Overlay {
        Overlay {
            origin: origin.into(),
            platform_wide,
            tenants: tenants.iter().map(|t| t.to_string()).collect(),
            providers: super::super::parse_providers(text, origin).unwrap(),
        }
    }

    const ACME: &str = "[providers.acme]\nname = \"Acme\"\ncategory = \"crm\"\nauth_modes = [\"webhook\"]\n";

    #[test]
    fn a_tenant_sees_only_its_plugins_providers() {
        let catalogs = Catalogs::new(Catalog::built_in().unwrap());
        catalogs.set_overlays(vec![overlay("acme", false, &["t1"], ACME)]);
        assert!(catalogs.for_tenant("t1").get("acme").is_some());
        assert!(catalogs.for_tenant("t2").get("acme").is_none());
        assert!(catalogs.platform().get("acme").is_none());
        assert!(catalogs.for_tenant("t2").get("stripe").is_some());
    }

    #[test]
    fn platform_wide_reaches_everyone_and_changes_apply_at_once() {
        let catalogs = Catalogs::new(Catalog::built_in().unwrap());
        assert!(catalogs.for_tenant("t2").get("acme").is_none());
        catalogs.set_overlays(vec![overlay("acme", true, &[], ACME)]);
        assert!(catalogs.for_tenant("t2").get("acme").is_some());
        assert!(catalogs.platform().get("acme").is_some());
        catalogs.set_overlays(Vec::new());
        assert!(catalogs.for_tenant("t2").get("acme").is_none());
    }

    #[test]
    fn an_override_changes_only_the_named_fields_for_that_tenant() {
        let catalogs = Catalogs::new(Catalog::built_in().unwrap());
        let text = "[providers.stripe]\napi_base_url = \"http://127.0.0.1:9\"\n";
        catalogs.set_overlays(vec![overlay("local-stripe", false, &["t1"], text)]);
        let mine = catalogs.for_tenant("t1");
        let stripe = mine.get("stripe").unwrap();
        assert_eq!(stripe.api_base_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(stripe.name, "Stripe");
        let theirs = catalogs.for_tenant("t2");
        assert_eq!(
            theirs.get("stripe").unwrap().api_base_url.as_deref(),
            Some("https://api.stripe.com")
        );
    }

    #[test]
    fn parse_errors_name_the_line() {
        let err = super::super::parse_providers("[providers.a]\nname = \"A\"\ncategory = \n", "p").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }
}
