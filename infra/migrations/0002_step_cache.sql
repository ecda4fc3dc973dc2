-- Step runs are per pipeline node (map items as "node[i]"); record which step ran and its cache key.
ALTER TABLE step_runs ADD COLUMN step text;
ALTER TABLE step_runs ADD COLUMN cache_key text;

-- Outputs of successful steps by cache key: hash of (step, version, code fingerprint, inputs
-- with artifacts by content hash). A hit is reused only while its artifacts still exist.
CREATE TABLE step_cache (
  cache_key         text PRIMARY KEY CHECK (cache_key ~ '^[0-9a-f]{64}$'),
  step              text NOT NULL,
  step_version      text NOT NULL,
  code_fingerprint  text,
  output            jsonb NOT NULL,
  run_id            text,
  node              text,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX step_cache_step ON step_cache (step, created_at DESC);
