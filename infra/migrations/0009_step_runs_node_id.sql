-- step_runs.step_name has held the pipeline node id ("node[i]" for a fan-out item) since 0002
-- added `step` for the step's name: the column is named for what it holds. The primary key
-- (run_id, node_id) follows the rename.
ALTER TABLE step_runs RENAME COLUMN step_name TO node_id;
