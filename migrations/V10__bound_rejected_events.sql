-- Rejected webhook deliveries are kept one row each only up to a per-tenant bound
-- (`rejected_events_max`); beyond it they are counted here per hour, provider and
-- reason, so a flood of forged deliveries cannot fill a tenant's event table.
CREATE TABLE inbound_rejection_counts (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    reason TEXT NOT NULL,
    hour_epoch INTEGER NOT NULL,
    count INTEGER NOT NULL,
    body_bytes INTEGER NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, hour_epoch, provider, reason)
) WITHOUT ROWID;
CREATE INDEX inbound_rejection_counts_time ON inbound_rejection_counts(hour_epoch);

-- Counting and purging the rejected rows of a tenant reads only rejected rows.
CREATE INDEX inbound_events_rejected ON inbound_events(tenant_id, received_epoch) WHERE status = 'rejected';
