-- Inbound webhooks, the durable job queue, signups and per-tenant field bindings.

-- One row per delivery received at /webhooks/{provider}/{tenant}. Accepted deliveries
-- keep the raw body sealed under the tenant key; rejected ones keep only what can be
-- said without trusting the content (reason, size, body hash, source address).
CREATE TABLE inbound_events (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    event_type TEXT,
    external_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('received', 'processed', 'failed', 'rejected')),
    payload BLOB,
    headers TEXT NOT NULL DEFAULT '{}',
    detail TEXT NOT NULL DEFAULT '{}',
    received_at TEXT NOT NULL,
    received_epoch INTEGER NOT NULL,
    processed_at TEXT,
    error TEXT,
    UNIQUE (tenant_id, provider, external_id)
);
CREATE INDEX inbound_events_tenant ON inbound_events(tenant_id, id);
CREATE INDEX inbound_events_time ON inbound_events(tenant_id, received_epoch);

-- The job queue. run_at / lease_until are unix milliseconds so due work is one range scan.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX jobs_due ON jobs(status, run_at);
CREATE INDEX jobs_tenant ON jobs(tenant_id, id);

-- One row per email per tenant.
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

-- Where a signup came from: one row per provider reference (purchase, order, booking).
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
CREATE INDEX signup_sources_ref ON signup_sources(tenant_id, provider, reference);

-- Per-tenant field mappings overriding the catalog's defaults.
CREATE TABLE inbound_bindings (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    mapping TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, provider)
);
