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

-- Paused mode: while paused, no background worker acts on the outside world (jobs,
-- outbound deliveries, token refreshes, emails). One row; `version` increases with every
-- change so a running server picks up a change made by the CLI.
CREATE TABLE platform_pause (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    paused INTEGER NOT NULL,
    version INTEGER NOT NULL,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    reason TEXT
);
