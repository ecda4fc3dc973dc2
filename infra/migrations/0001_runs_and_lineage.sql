-- Runs, step runs, artifacts and the lineage graph between them.
-- Rows are keyed by natural keys so that a retried activity upserts instead of duplicating.

CREATE TABLE runs (
  run_id            text PRIMARY KEY,          -- Temporal run id
  workflow_id       text NOT NULL,
  pipeline_name     text NOT NULL,
  pipeline_version  text NOT NULL,
  params            jsonb NOT NULL DEFAULT '{}'::jsonb,
  status            text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
  started_at        timestamptz NOT NULL DEFAULT now(),
  ended_at          timestamptz,
  error             text
);
CREATE INDEX runs_pipeline_started ON runs (pipeline_name, started_at DESC);
CREATE INDEX runs_workflow_id ON runs (workflow_id);

CREATE TABLE step_runs (
  run_id        text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  step_name     text NOT NULL,
  step_version  text NOT NULL,
  queue         text NOT NULL,
  status        text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cached', 'skipped')),
  attempt       integer NOT NULL DEFAULT 1,
  started_at    timestamptz NOT NULL DEFAULT now(),
  ended_at      timestamptz,
  outputs       jsonb,
  error         text,
  PRIMARY KEY (run_id, step_name)
);

CREATE TABLE artifacts (
  uri          text PRIMARY KEY,
  sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
  media_type   text,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX artifacts_sha256 ON artifacts (sha256);

-- A typed edge between two nodes of the lineage graph: run, step_run, artifact (and later
-- dataset versions, feature views, model versions). `relation` reads "from <relation> to".
CREATE TABLE lineage_edges (
  id          bigserial PRIMARY KEY,
  from_kind   text NOT NULL,
  from_id     text NOT NULL,
  relation    text NOT NULL,
  to_kind     text NOT NULL,
  to_id       text NOT NULL,
  run_id      text REFERENCES runs (run_id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (from_kind, from_id, relation, to_kind, to_id)
);
CREATE INDEX lineage_to ON lineage_edges (to_kind, to_id);
