use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

macro_rules! scopes {
    ($($variant:ident => $name:literal, $description:literal;)*) => {
        /// What a token may do within its tenant.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Scope {
            $(#[serde(rename = $name)] $variant,)*
        }

        impl Scope {
            pub const ALL: &'static [Scope] = &[$(Scope::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Scope::$variant => $name,)* }
            }

            pub fn description(self) -> &'static str {
                match self { $(Scope::$variant => $description,)* }
            }

            pub fn parse(value: &str) -> Option<Scope> {
                match value { $($name => Some(Scope::$variant),)* _ => None }
            }
        }
    };
}

scopes! {
    Admin => "admin", "Everything within the tenant";
    ConnectionsRead => "connections:read", "List and read connections (credentials masked)";
    ConnectionsWrite => "connections:write", "Create, replace, verify and delete connections";
    CredentialsReveal => "credentials:reveal", "Read plaintext credentials and access tokens (audited)";
    TokensWrite => "tokens:write", "Create, list and revoke API tokens";
    WebhooksRead => "webhooks:read", "Read inbound webhook settings and outbound endpoints";
    WebhooksWrite => "webhooks:write", "Manage outbound webhook endpoints";
    EventsRead => "events:read", "Read received webhook events";
    EventsWrite => "events:write", "Replay received webhook events";
    SignupsRead => "signups:read", "Read pending signups and notifications";
    SignupsWrite => "signups:write", "Approve, reject and invite signups";
    ConsentsRead => "consents:read", "Read consent records";
    ConsentsWrite => "consents:write", "Grant and revoke consents";
    AuditRead => "audit:read", "Read the audit log";
    Proxy => "proxy", "Call provider APIs through the authenticated proxy";
    PluginsRead => "plugins:read", "Browse the plugin marketplace and read installed plugins";
    PluginsWrite => "plugins:write", "Install, configure and uninstall plugins";
}

pub type ScopeSet = BTreeSet<Scope>;

/// Parses scope names, naming the first unknown one.
/// The scopes named; `Err(i)` names the position of the first unknown one (never its
/// text: a caller may have pasted a secret into the wrong field).
pub fn parse_scopes(names: &[String]) -> Result<ScopeSet, usize> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| Scope::parse(n.trim()).ok_or(i))
        .collect()
}
