-- Indexes for the console's pages (issue 17), which must stay fast with 10,000 runs and 1,000,000
-- node runs: the runs list newest first, with or without a status filter, and a run's artifacts
-- (lineage_edges by run, which listStepArtifacts and the cascade from runs both read), and a run's
-- failed or retried node runs without reading its other 100,000 fan-out items.
CREATE INDEX runs_started ON runs (started_at DESC);
CREATE INDEX runs_status_started ON runs (status, started_at DESC);
CREATE INDEX lineage_edges_run ON lineage_edges (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX step_runs_problems ON step_runs (run_id, started_at DESC) WHERE status = 'failed' OR attempt > 1 OR error IS NOT NULL;
-- A run's node runs are summed per pipeline node (a fan-out's `node[i]` items under `node`): these
-- statistics tell the planner that there are few such nodes, so it sums them in one hash table.
CREATE STATISTICS step_runs_node_base ON (split_part(node_id, '[', 1)) FROM step_runs;
