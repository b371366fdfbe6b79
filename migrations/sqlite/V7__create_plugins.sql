-- Plugins: packages the operator publishes (manifest, catalog providers, a JavaScript
-- transformation), every published version kept, and tenants' installations.

CREATE TABLE plugins (
    -- The manifest's id (lowercase letters, digits, `-`).
    id TEXT PRIMARY KEY,
    -- The version installations use: the highest published.
    version TEXT NOT NULL,
    -- Its providers appear in every tenant's catalog, installed or not.
    platform_wide INTEGER NOT NULL DEFAULT 0,
    -- Shipped in the binary (re-published at start-up when the binary's is newer).
    builtin INTEGER NOT NULL DEFAULT 0,
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
    size_bytes INTEGER NOT NULL,
    published_by TEXT NOT NULL,
    published_at TEXT NOT NULL,
    PRIMARY KEY (plugin_id, version)
);

CREATE TABLE plugin_installations (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    plugin_id TEXT NOT NULL REFERENCES plugins(id) ON DELETE CASCADE,
    -- The configuration as JSON, sealed under the tenant's key (bound to this row).
    configuration BLOB NOT NULL,
    installed_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (tenant_id, plugin_id)
);
CREATE INDEX plugin_installations_plugin ON plugin_installations(plugin_id);

-- An endpoint may have its messages reshaped by an installed plugin's transformation.
ALTER TABLE webhook_endpoints ADD COLUMN transform_plugin TEXT;
