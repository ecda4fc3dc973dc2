-- Validation reports: one row per validate step run, linking a dataset version to the JSON and
-- HTML reports (artifacts) a suite produced for it. Keyed by (run_id, node), so a retried step
-- updates its row instead of adding one. No foreign keys to runs or datasets: a report row is
-- written by the step itself (which may be called outside a recorded run) and outlives neither.

CREATE TABLE validation_reports (
  id                 bigserial PRIMARY KEY,
  dataset_name       text NOT NULL,
  dataset_version    integer NOT NULL CHECK (dataset_version > 0),
  suite_name         text NOT NULL,
  success            boolean NOT NULL,
  statistics         jsonb NOT NULL,
  report_uri         text NOT NULL,
  html_uri           text NOT NULL,
  -- The version compared with, when there was one.
  reference_name     text,
  reference_version  integer,
  run_id             text NOT NULL,
  node               text NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (run_id, node)
);
CREATE INDEX validation_reports_dataset ON validation_reports (dataset_name, dataset_version, created_at DESC);
CREATE INDEX validation_reports_suite ON validation_reports (suite_name, created_at DESC);
