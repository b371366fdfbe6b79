//! The rules around a tenant's lifetime: its data key is created with it and destroyed
//! with it, and every change clears the auth layer's tenant cache before it is answered.

use crate::store::postgres::changes;
use std::sync::Arc;

use super::{Tenant, TenantError, delete_tenant, insert_tenant, update_tenant};
use crate::audit::{self, AuditEntry};
use crate::auth::Auth;
use crate::outbound::Outbound;
use crate::store::Store;
use crate::vault::{KeyScope, Vault};

/// Creates, changes and deletes tenants. Cheap to clone.
#[derive(Clone)]
pub struct Tenants {
    store: Store,
    vault: Arc<Vault>,
    /// Its tenant cache is cleared by every change.
    auth: Auth,
    /// Drops a deleted tenant's deliveries held in memory.
    outbound: Outbound,
}

impl Tenants {
    pub fn new(store: Store, vault: Arc<Vault>, auth: Auth, outbound: Outbound) -> Tenants {
        Tenants {
            store,
            vault,
            auth,
            outbound,
        }
    }

    /// Stores a validated new tenant with a data key of its own.
    pub async fn create(&self, tenant: Tenant, entry: AuditEntry) -> Result<Tenant, TenantError> {
        let vault = self.vault.clone();
        self.store
            .write_async(move |tx| {
                insert_tenant(tx, &tenant)?;
                vault.create_data_key(tx, &KeyScope::Tenant(tenant.id.clone()))?;
                audit::record(tx, &entry)?;
                Ok::<_, TenantError>(tenant)
            })
            .await
    }

    /// Stores a validated change.
    pub async fn update(&self, tenant: Tenant, entry: AuditEntry) -> Result<Tenant, TenantError> {
        let updated = self
            .store
            .write_async(move |tx| {
                update_tenant(tx, &tenant)?;
                audit::record(tx, &entry)?;
                tx.announce(changes::TENANTS)?;
                Ok::<_, TenantError>(tenant)
            })
            .await?;
        self.auth.forget_tenants();
        Ok(updated)
    }

    /// Deletes a tenant with everything it owns and destroys its data key.
    pub async fn delete(&self, tenant_id: &str, entry: AuditEntry) -> Result<(), TenantError> {
        let id = tenant_id.to_owned();
        self.store
            .write_async(move |tx| {
                delete_tenant(tx, &id)?;
                audit::record(tx, &entry)?;
                tx.announce(changes::TENANTS)?;
                tx.announce(&changes::tenant_keys(&id))?;
                Ok::<_, TenantError>(())
            })
            .await?;
        self.vault.forget(&KeyScope::Tenant(tenant_id.to_owned()));
        self.auth.forget_tenants();
        self.outbound.tenant_deleted(tenant_id);
        Ok(())
    }
}
