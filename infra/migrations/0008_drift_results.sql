-- Drift results per model as a time series: one row per checked batch, written by the drift monitor.
CREATE TABLE drift_results (
  model          text NOT NULL,
  batch_id       text NOT NULL,
  checked_at     timestamptz NOT NULL DEFAULT now(),
  dataset_name   text NOT NULL,
  dataset_version integer NOT NULL,
  reference_name text NOT NULL,
  reference_version integer NOT NULL,
  share          double precision NOT NULL,
  dataset_drift  boolean NOT NULL,
  drifted        text[] NOT NULL,
  columns        jsonb NOT NULL,
  report_uri     text NOT NULL,
  html_uri       text NOT NULL,
  PRIMARY KEY (model, batch_id)
);
CREATE INDEX drift_results_model_time ON drift_results (model, checked_at DESC);

-- Every decision the monitor makes, with its numbers and reason.
CREATE TABLE monitor_decisions (
  id         bigserial PRIMARY KEY,
  model      text NOT NULL,
  decided_at timestamptz NOT NULL,
  kind       text NOT NULL,
  reason     text NOT NULL,
  numbers    jsonb,
  workflow_id text NOT NULL,
  seq        integer NOT NULL,
  UNIQUE (workflow_id, seq)
);
CREATE INDEX monitor_decisions_model ON monitor_decisions (model, decided_at DESC);
