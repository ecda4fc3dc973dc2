-- Feature store bookkeeping: view versions, offline datasets (Parquet parts and training sets),
-- materialization intervals. Online values live in one table per view version,
-- fv_<view>_v<version>, created on first materialization (activities/features/online-store.ts).

-- One row per (view, version): its definition as declared (plain JSON) and, once first
-- materialized, the resolved column types. A changed definition needs a new version.
CREATE TABLE feature_view_versions (
  name               text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,47}$'),
  version            integer NOT NULL CHECK (version > 0),
  definition         jsonb NOT NULL,
  definition_sha256  text NOT NULL CHECK (definition_sha256 ~ '^[0-9a-f]{64}$'),
  -- [{ name, type, role: 'entity' | 'feature' }] in table order; NULL until first materialized.
  schema             jsonb,
  online_table       text NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version)
);

-- Parquet datasets the feature steps write: each materialization's offline part
-- (kind 'offline', name '<view>.v<version>') and training sets (kind 'training').
-- Versions count from 1 per name; identical content gets the version it already has.
CREATE TABLE feature_datasets (
  name          text NOT NULL,
  version       integer NOT NULL CHECK (version > 0),
  kind          text NOT NULL CHECK (kind IN ('offline', 'training')),
  view_name     text,
  view_version  integer,
  uri           text NOT NULL,
  sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
  rows          bigint NOT NULL CHECK (rows >= 0),
  schema        jsonb NOT NULL,
  -- What it was made from: source/entity dataset refs, views, interval.
  inputs        jsonb NOT NULL DEFAULT '{}'::jsonb,
  run_id        text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version),
  UNIQUE (name, sha256),
  FOREIGN KEY (view_name, view_version) REFERENCES feature_view_versions (name, version),
  CHECK ((kind = 'offline') = (view_name IS NOT NULL AND view_version IS NOT NULL))
);
CREATE INDEX feature_datasets_view ON feature_datasets (view_name, view_version) WHERE kind = 'offline';

-- Materializations: the interval [start_ts, end_ts] (both inclusive, as Feast) each one covered.
-- Keyed by (run, node, view version), so a retried step finds its own interval and created_at
-- again instead of recording a second one. created_at (ms precision) is the created_ts of rows
-- whose view declares no created column.
CREATE TABLE feature_materializations (
  id             bigserial PRIMARY KEY,
  view_name      text NOT NULL,
  view_version   integer NOT NULL,
  run_id         text NOT NULL,
  node           text NOT NULL,
  start_ts       timestamptz NOT NULL,
  end_ts         timestamptz NOT NULL,
  online         boolean NOT NULL,
  source_uri     text NOT NULL,
  source_sha256  text NOT NULL,
  status         text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded')),
  created_at     timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  finished_at    timestamptz,
  offline_name     text,
  offline_version  integer,
  rows_written     bigint,
  online_rows      bigint,
  -- The step's output, returned as is when the same (run, node) asks again after succeeding.
  result         jsonb,
  UNIQUE (run_id, node, view_name, view_version),
  FOREIGN KEY (view_name, view_version) REFERENCES feature_view_versions (name, version),
  CHECK (start_ts <= end_ts)
);
CREATE INDEX feature_materializations_last ON feature_materializations (view_name, view_version, end_ts DESC) WHERE status = 'succeeded';
