-- OAuth broker and token service (issue 3).
-- Every secret here is sealed by the vault with its location as associated data.

-- The operator's own OAuth app per provider (Level 1). client_secret sealed under the
-- platform key at (platform_apps, provider, client_secret).
CREATE TABLE platform_apps (
    provider TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    client_secret BLOB NOT NULL,
    scopes TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Pending authorization requests. Only the SHA-256 of `state` is stored; the PKCE
-- verifier is sealed under the tenant key at (oauth_states, id, pkce_verifier).
CREATE TABLE oauth_states (
    id TEXT PRIMARY KEY,
    state_hash TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    pkce_verifier BLOB NOT NULL,
    return_to TEXT,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX oauth_states_expiry ON oauth_states(expires_at);

-- Tokens tessera obtained for a connection (authorization code or client credentials),
-- sealed under the tenant key at (oauth_tokens, connection id, access_token|refresh_token).
-- expires_at NULL: the provider sent no expires_in; re-verified at check_after.
CREATE TABLE oauth_tokens (
    connection_id TEXT PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    access_token BLOB NOT NULL,
    refresh_token BLOB,
    token_type TEXT NOT NULL,
    scopes TEXT,
    expires_at TEXT,
    obtained_at TEXT NOT NULL,
    check_after TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    retry_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX oauth_tokens_tenant ON oauth_tokens(tenant_id);
