-- The PostgreSQL schema: the same tables, columns and indexes as the SQLite history
-- (migrations/sqlite) ends with, in PostgreSQL's types. Integers are BIGINT (the
-- application reads and binds 64-bit integers), BLOB is BYTEA, times stay RFC 3339
-- text or epoch seconds exactly as on SQLite, so the domain code is the same on both.
-- A later change to the schema is a migration in both folders.

CREATE TABLE health_probe (
    id BIGINT PRIMARY KEY,
    at TEXT NOT NULL
);
CREATE TABLE key_versions (
    version BIGINT PRIMARY KEY,
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
CREATE TABLE data_keys (
    scope TEXT PRIMARY KEY,
    tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    key_version BIGINT NOT NULL REFERENCES key_versions(version),
    sealed_key BYTEA NOT NULL,
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
    active BIGINT NOT NULL DEFAULT 1,
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
    credentials BYTEA NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_verified_at TEXT,
    last_error TEXT,
    expires_at TEXT,
    UNIQUE (tenant_id, provider)
);
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
CREATE TABLE platform_apps (
    provider TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    client_secret BYTEA NOT NULL,
    scopes TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE oauth_states (
    id TEXT PRIMARY KEY,
    state_hash TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    pkce_verifier BYTEA NOT NULL,
    return_to TEXT,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX oauth_states_expiry ON oauth_states(expires_at);
CREATE TABLE oauth_tokens (
    connection_id TEXT PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    access_token BYTEA NOT NULL,
    refresh_token BYTEA,
    token_type TEXT NOT NULL,
    scopes TEXT,
    expires_at TEXT,
    obtained_at TEXT NOT NULL,
    check_after TEXT,
    failures BIGINT NOT NULL DEFAULT 0,
    retry_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX oauth_tokens_tenant ON oauth_tokens(tenant_id);
CREATE TABLE inbound_events (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    event_type TEXT,
    external_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('received', 'processed', 'failed', 'rejected')),
    payload BYTEA,
    headers TEXT NOT NULL DEFAULT '{}',
    detail TEXT NOT NULL DEFAULT '{}',
    received_at TEXT NOT NULL,
    received_epoch BIGINT NOT NULL,
    processed_at TEXT,
    error TEXT,
    UNIQUE (tenant_id, provider, external_id)
);
CREATE INDEX inbound_events_tenant ON inbound_events(tenant_id, id);
CREATE INDEX inbound_events_time ON inbound_events(tenant_id, received_epoch);
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT,
    result TEXT
);
CREATE INDEX jobs_due ON jobs(status, run_at);
CREATE INDEX jobs_tenant ON jobs(tenant_id, id);
CREATE TABLE signups (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'invited')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    invited_at TEXT,
    UNIQUE (tenant_id, email)
);
CREATE INDEX signups_tenant ON signups(tenant_id, id);
CREATE TABLE signup_sources (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    signup_id TEXT NOT NULL REFERENCES signups(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    reference TEXT NOT NULL,
    event_id TEXT,
    event_name TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'refunded', 'attended', 'transferred')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (tenant_id, provider, reference, signup_id)
);
CREATE INDEX signup_sources_signup ON signup_sources(signup_id);
CREATE TABLE inbound_bindings (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    mapping TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, provider)
);
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- JSON array of event types, or ["*"].
    events TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    retry_policy TEXT NOT NULL CHECK (retry_policy IN ('exponential', 'linear', 'none')),
    -- Sealed `whsec_...` (vault, tenant scope).
    secret BYTEA NOT NULL,
    -- After a rotation the previous secret keeps signing until previous_secret_expires_at.
    previous_secret BYTEA,
    previous_secret_expires_at BIGINT,
    -- Why the endpoint stopped: 'gone' (410), 'failing' (5 days of failures), 'manual'.
    disabled_reason TEXT,
    disabled_at BIGINT,
    -- First failure since the last success; cleared by a success.
    failing_since BIGINT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    transform_plugin TEXT
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints(tenant_id, active, id);
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    -- The outbox event; `webhook-id` is "msg_" + this id, stable across retries and replays.
    event_id TEXT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    -- 'event' (fan-out), 'test' (ping), 'replay', 'retry' (manual).
    origin TEXT NOT NULL DEFAULT 'event',
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'exhausted')),
    attempts BIGINT NOT NULL DEFAULT 0,
    -- When the next attempt is due. While a worker holds the delivery this is the lease
    -- expiry, so a crash makes it due again. NULL once finished.
    next_attempt_at BIGINT,
    lease_token TEXT,
    response_status BIGINT,
    response_excerpt TEXT,
    error TEXT,
    duration_ms BIGINT,
    last_attempt_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_id, endpoint_id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    succeeded BIGINT NOT NULL,
    response_status BIGINT,
    response_excerpt TEXT,
    error TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, attempt);
CREATE INDEX webhook_attempts_endpoint_at ON webhook_attempts(tenant_id, endpoint_id, at);
CREATE TABLE usage_counters (
    tenant_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    route TEXT NOT NULL,
    status_class TEXT NOT NULL,
    hour TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, hour, actor, route, status_class)
);
CREATE TABLE consents (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    consent_type TEXT NOT NULL CHECK (consent_type IN ('THIRD_PARTY', 'DATA_PROCESSING', 'MARKETING')),
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    description TEXT NOT NULL,
    subject TEXT,
    granted_by TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT
);
CREATE INDEX consents_tenant ON consents(tenant_id, id);
CREATE INDEX consents_resource ON consents(tenant_id, resource_type, resource_id);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('platform_admin', 'tenant_admin')),
    tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_login_at TEXT,
    CHECK ((role = 'platform_admin' AND tenant_id IS NULL) OR (role = 'tenant_admin' AND tenant_id IS NOT NULL))
);
-- Emails compare without case, as SQLite's COLLATE NOCASE does.
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_tenant ON users(tenant_id);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    session_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ip TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE plugins (
    -- The manifest's id (lowercase letters, digits, `-`).
    id TEXT PRIMARY KEY,
    -- The version installations use: the highest published.
    version TEXT NOT NULL,
    -- Its providers appear in every tenant's catalog, installed or not.
    platform_wide BIGINT NOT NULL DEFAULT 0,
    -- Shipped in the binary (re-published at start-up when the binary's is newer).
    builtin BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE plugin_versions (
    plugin_id TEXT NOT NULL REFERENCES plugins(id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    -- The manifest as JSON.
    manifest TEXT NOT NULL,
    -- Provider definitions in the catalog's TOML format, and the script, as published.
    providers TEXT,
    script TEXT,
    -- JSON array of the entry points the script defines (`onInbound`, `onOutbound`, ...).
    entry_points TEXT NOT NULL DEFAULT '[]',
    -- JSON array of the provider keys `providers` defines or overrides.
    provider_keys TEXT NOT NULL DEFAULT '[]',
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    published_by TEXT NOT NULL,
    published_at TEXT NOT NULL,
    PRIMARY KEY (plugin_id, version)
);
CREATE TABLE plugin_installations (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    plugin_id TEXT NOT NULL REFERENCES plugins(id) ON DELETE CASCADE,
    -- The configuration as JSON, sealed under the tenant's key (bound to this row).
    configuration BYTEA NOT NULL,
    installed_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (tenant_id, plugin_id)
);
CREATE INDEX plugin_installations_plugin ON plugin_installations(plugin_id);
CREATE TABLE inbound_rejection_counts (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    reason TEXT NOT NULL,
    hour_epoch BIGINT NOT NULL,
    count BIGINT NOT NULL,
    body_bytes BIGINT NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, hour_epoch, provider, reason)
);
CREATE INDEX inbound_rejection_counts_time ON inbound_rejection_counts(hour_epoch);
CREATE INDEX inbound_events_rejected ON inbound_events(tenant_id, received_epoch) WHERE status = 'rejected';
CREATE TABLE platform_pause (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    paused BIGINT NOT NULL,
    version BIGINT NOT NULL,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    reason TEXT
);
