use super::scopes::{Scope, ScopeSet};

/// Who is making a request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Stable label for the audit log: `token:<id>` or `user:<id>`.
    pub actor: String,
    pub token_id: Option<String>,
    /// `None` for the platform (operator); otherwise the one tenant it may act on.
    pub tenant_id: Option<String>,
    pub scopes: ScopeSet,
    /// When the credential behind this principal stops working (a token's expiry); a
    /// token this principal creates may not outlive it. `None` for sessions and tokens
    /// without an expiry.
    pub expires_at: Option<time::OffsetDateTime>,
}

impl Principal {
    pub fn is_platform(&self) -> bool {
        self.tenant_id.is_none()
    }

    /// Platform principals and tenant `admin` hold every tenant scope.
    pub fn has(&self, scope: Scope) -> bool {
        self.is_platform() || self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }

    /// Whether this principal may hand `scope` to a new token.
    pub fn can_grant(&self, scope: Scope) -> bool {
        match scope {
            Scope::Admin => self.is_platform() || self.scopes.contains(&Scope::Admin),
            other => self.has(other),
        }
    }

    pub fn may_act_on(&self, tenant_id: &str) -> bool {
        self.tenant_id.as_deref().is_none_or(|own| own == tenant_id)
    }
}
