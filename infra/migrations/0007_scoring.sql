-- Batch scoring (pipelines/batch-scoring.ts): one prediction log per scoring run and node, with
-- the predictions' summary statistics and a sample. Prediction tables themselves are created per
-- destination by the scoring steps (activities/scoring/pg-writer.ts). infra/db/scoring.ts is the
-- only writer.

CREATE TABLE prediction_logs (
  id                   bigserial PRIMARY KEY,
  run_id               text NOT NULL,
  node                 text NOT NULL,
  model_name           text NOT NULL,
  model_version        integer CHECK (model_version > 0),
  model_uri            text NOT NULL,
  input_name           text NOT NULL,
  input_version        integer NOT NULL CHECK (input_version > 0),
  predictions_name     text NOT NULL,
  predictions_version  integer NOT NULL CHECK (predictions_version > 0),
  rows                 bigint NOT NULL CHECK (rows >= 0),
  window_column        text,
  window_start         timestamptz,
  window_end           timestamptz,
  summary              jsonb NOT NULL,         -- count, value or class distribution
  sample               jsonb NOT NULL,         -- up to sampleSize rows
  manifest_uri         text NOT NULL,
  log_uri              text NOT NULL,
  pg_table             text,
  created_at           timestamptz NOT NULL DEFAULT now(),
  -- A retried finalize records the same row again.
  UNIQUE (run_id, node)
);
CREATE INDEX prediction_logs_model ON prediction_logs (model_name, model_version, created_at DESC);
CREATE INDEX prediction_logs_predictions ON prediction_logs (predictions_name, predictions_version);
