-- Core schema: key material, tenants, API tokens, connections, audit, outbox, notifications.
-- Every tenant-owned row carries tenant_id; ids are application UUIDs (v7), never rowids.

CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL
);

-- One row per master key version ever used. check_value detects a wrong master key.
CREATE TABLE key_versions (
    version INTEGER PRIMARY KEY,
    check_value TEXT NOT NULL,
    created_at TEXT NOT NULL,
    retired_at TEXT
);

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    tier TEXT NOT NULL CHECK (tier IN ('free', 'pro', 'enterprise')),
    notification_emails TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Random data keys, stored only sealed under a key derived from the master key.
-- scope is 'platform' or a tenant id; deleting a tenant deletes its key (crypto-shredding).
CREATE TABLE data_keys (
    scope TEXT PRIMARY KEY,
    tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    key_version INTEGER NOT NULL REFERENCES key_versions(version),
    sealed_key BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_by TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    last_used_at TEXT
);
CREATE INDEX api_tokens_tenant ON api_tokens(tenant_id, id);

CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    auth_mode TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'pending', 'needs_reauth', 'invalid')),
    credentials BLOB NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_verified_at TEXT,
    last_error TEXT,
    expires_at TEXT,
    UNIQUE (tenant_id, provider)
);

-- Kept after a tenant is deleted: the record of who did what outlives the data.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    tenant_id TEXT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    ip TEXT,
    request_id TEXT,
    detail TEXT
);
CREATE INDEX audit_log_tenant ON audit_log(tenant_id, id);

-- Domain events written in the transaction of the change that caused them.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    dispatched_at TEXT
);
CREATE INDEX outbox_pending ON outbox(dispatched_at, id);

CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    read_at TEXT
);
CREATE INDEX notifications_tenant ON notifications(tenant_id, id);
