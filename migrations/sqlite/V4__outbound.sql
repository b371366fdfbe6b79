-- Outbound webhooks: tenants' endpoints, one delivery per (event, endpoint), one row per attempt.
-- Scheduling columns are unix milliseconds (compared on every poll); API views render RFC 3339.

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- JSON array of event types, or ["*"].
    events TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    retry_policy TEXT NOT NULL CHECK (retry_policy IN ('exponential', 'linear', 'none')),
    -- Sealed `whsec_...` (vault, tenant scope).
    secret BLOB NOT NULL,
    -- After a rotation the previous secret keeps signing until previous_secret_expires_at.
    previous_secret BLOB,
    previous_secret_expires_at INTEGER,
    -- Why the endpoint stopped: 'gone' (410), 'failing' (5 days of failures), 'manual'.
    disabled_reason TEXT,
    disabled_at INTEGER,
    -- First failure since the last success; cleared by a success.
    failing_since INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
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
    attempts INTEGER NOT NULL DEFAULT 0,
    -- When the next attempt is due. While a worker holds the delivery this is the lease
    -- expiry, so a crash makes it due again. NULL once finished.
    next_attempt_at INTEGER,
    lease_token TEXT,
    response_status INTEGER,
    response_excerpt TEXT,
    error TEXT,
    duration_ms INTEGER,
    last_attempt_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_id, endpoint_id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE next_attempt_at IS NOT NULL;

CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at INTEGER NOT NULL,
    succeeded INTEGER NOT NULL,
    response_status INTEGER,
    response_excerpt TEXT,
    error TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, attempt);
CREATE INDEX webhook_attempts_endpoint_at ON webhook_attempts(tenant_id, endpoint_id, at);
