-- Datasets and their versions. A version is an immutable Parquet artifact (content-addressed),
-- numbered per name from 1; identical content (same sha256) under the same name is the same
-- version, so re-ingesting unchanged data adds nothing.

CREATE TABLE datasets (
  name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z][A-Za-z0-9_.-]{0,127}$'),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dataset_versions (
  name                text NOT NULL REFERENCES datasets (name) ON DELETE CASCADE,
  version             integer NOT NULL CHECK (version > 0),
  uri                 text NOT NULL,
  sha256              text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes          bigint NOT NULL CHECK (size_bytes >= 0),
  rows                bigint NOT NULL CHECK (rows >= 0),
  schema              jsonb NOT NULL,          -- [{ name, type, nullable }]
  profile             jsonb,                   -- pipelines/steps/profile.ts
  profile_uri         text,
  source              jsonb NOT NULL,          -- what was read (never a secret: env var names, not URLs)
  source_fingerprint  text,                    -- sha256 of the source bytes as read
  bad_rows            bigint NOT NULL DEFAULT 0 CHECK (bad_rows >= 0),
  quarantine_uri      text,
  run_id              text,                    -- the run that made it (no FK: steps run outside runs too)
  created_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version),
  UNIQUE (name, sha256)
);
CREATE INDEX dataset_versions_sha256 ON dataset_versions (sha256);
CREATE INDEX dataset_versions_run ON dataset_versions (run_id);
