-- `signup_sources_ref` (tenant_id, provider, reference) repeats the leading columns of the
-- table's UNIQUE (tenant_id, provider, reference, signup_id) index, which answers the same
-- lookups; every new source paid for a second, randomly placed index entry.
DROP INDEX IF EXISTS signup_sources_ref;
