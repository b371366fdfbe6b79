-- Which node holds a lease, and which nodes are alive: several nodes on one database
-- hand back only the work of a node that stopped answering, never a live node's.
-- `seen_at` is unix milliseconds, refreshed by each node's heartbeat.
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    seen_at BIGINT NOT NULL
);
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN lease_owner TEXT;
