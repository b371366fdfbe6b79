//! Limits of the public webhook receiver. What is limited is failure: bad signatures and
//! unknown tenants, counted per source address and (resolved, canonical) tenant, so a
//! stranger's flood neither fills memory nor another tenant's budget, and a provider's
//! verified burst (a flash sale) is never refused for someone else's failures. Verified
//! deliveries have their own optional per-tenant limit (`rate_limit_webhooks`).

use super::window::{Decision, Windows};
use crate::net::ClientAddr;

/// A tenant reference that did not resolve: all of an address's junk shares one budget.
const UNKNOWN_TENANT: &str = "?";

#[derive(Default)]
pub struct WebhookLimits {
    failures: Windows,
    deliveries: Windows,
}

/// Budgets of one receiver from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct WebhookBudgets {
    /// Failures per minute per source address and tenant.
    pub failures: u32,
    /// Verified deliveries per minute per tenant; `None`: unlimited.
    pub deliveries: Option<u32>,
}

impl WebhookBudgets {
    pub fn from_config(config: &crate::Config) -> Self {
        WebhookBudgets {
            failures: config.webhook_failure_limit.max(1),
            deliveries: (config.rate_limit_webhooks > 0).then_some(config.rate_limit_webhooks),
        }
    }
}

fn failure_key(source: &ClientAddr, tenant_id: Option<&str>) -> String {
    format!("{}|{}", source.budget_key(), tenant_id.unwrap_or(UNKNOWN_TENANT))
}

impl WebhookLimits {
    /// Whether `source` has used up its failures on unknown tenants this minute: then a
    /// tenant reference the cache does not know is refused without a database lookup.
    pub fn unknown_spent(&self, budgets: WebhookBudgets, source: &ClientAddr, now_unix: u64) -> bool {
        self.failures
            .is_spent(&failure_key(source, None), budgets.failures, now_unix)
    }

    /// Counts a failure of `source` against a tenant (`None`: no such tenant or no
    /// receiver there). Not allowed: answer 429 and record nothing more.
    pub fn failure(
        &self,
        budgets: WebhookBudgets,
        source: &ClientAddr,
        tenant_id: Option<&str>,
        now_unix: u64,
    ) -> Decision {
        self.failures
            .hit(&failure_key(source, tenant_id), budgets.failures, now_unix)
    }

    /// Counts a verified delivery against its tenant's budget, if there is one.
    pub fn delivery(&self, budgets: WebhookBudgets, tenant_id: &str, now_unix: u64) -> Option<Decision> {
        let limit = budgets.deliveries?;
        Some(self.deliveries.check(tenant_id, limit, now_unix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> ClientAddr {
        ClientAddr(s.parse().unwrap())
    }

    #[test]
    fn failures_are_per_address_and_tenant() {
        let limits = WebhookLimits::default();
        let budgets = WebhookBudgets {
            failures: 2,
            deliveries: None,
        };
        let now = 1_000_000;
        let a = addr("192.0.2.1");
        assert!(limits.failure(budgets, &a, Some("t1"), now).allowed);
        assert!(limits.failure(budgets, &a, Some("t1"), now).allowed);
        assert!(!limits.failure(budgets, &a, Some("t1"), now).allowed);
        // Another tenant, another address: their own budgets.
        assert!(limits.failure(budgets, &a, Some("t2"), now).allowed);
        assert!(limits.failure(budgets, &addr("192.0.2.2"), Some("t1"), now).allowed);
        // Unknown tenants share one budget per address.
        assert!(!limits.unknown_spent(budgets, &a, now));
        limits.failure(budgets, &a, None, now);
        limits.failure(budgets, &a, None, now);
        assert!(limits.unknown_spent(budgets, &a, now));
        assert!(!limits.unknown_spent(budgets, &addr("192.0.2.2"), now));
        // Verified deliveries are unlimited unless configured.
        assert!(limits.delivery(budgets, "t1", now).is_none());
        let limited = WebhookBudgets {
            deliveries: Some(1),
            ..budgets
        };
        assert!(limits.delivery(limited, "t1", now).unwrap().allowed);
        assert!(!limits.delivery(limited, "t1", now).unwrap().allowed);
    }
}
