-- What a finished job found and did (counts of an import or a sync), as JSON.
ALTER TABLE jobs ADD COLUMN result TEXT;
