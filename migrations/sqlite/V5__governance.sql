-- Governance and operations: usage counters, GDPR consents.

-- Request counts, flushed from memory in batches. One row per (tenant, actor, route,
-- status class, hour). tenant_id is '' for platform principals.
CREATE TABLE usage_counters (
    tenant_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    route TEXT NOT NULL,
    status_class TEXT NOT NULL,
    hour TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, hour, actor, route, status_class)
);

-- Consents a tenant records for its data subjects; revoking keeps the row.
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
