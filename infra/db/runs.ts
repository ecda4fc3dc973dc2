import type { RunStart } from '../../pipelines/dsl/engine-activities';
import type { RunStatus as RunStatusWord, StepRunStatus } from '../../pipelines/dsl/protocol';
import { Batcher, perConnection } from './batcher';
import type { Db } from './pool';

/**
 * The run bookkeeping every pipeline writes. Each write is an upsert on a natural key, so an
 * activity retried after a crash records the same rows again instead of adding new ones.
 */

/** A runs row's status: the run statuses but `starting` (a row is written once the run runs). */
export type RunStatus = Exclude<RunStatusWord, 'starting'>;
export type StepStatus = StepRunStatus;

export async function recordRunStart(db: Db, r: RunStart): Promise<void> {
  await db.query(
    `INSERT INTO runs (run_id, workflow_id, pipeline_name, pipeline_version, params, status)
     VALUES ($1, $2, $3, $4, $5, 'running')
     ON CONFLICT (run_id) DO NOTHING`,
    [r.runId, r.workflowId, r.pipelineName, r.pipelineVersion, JSON.stringify(r.params ?? {})],
  );
}

export async function recordRunEnd(db: Db, runId: string, status: Exclude<RunStatus, 'running'>, error?: string): Promise<void> {
  const { rowCount } = await db.query(
    `UPDATE runs SET status = $2, ended_at = COALESCE(ended_at, now()), error = $3 WHERE run_id = $1`,
    [runId, status, error ?? null],
  );
  if (!rowCount) throw new Error(`run ${runId} was never recorded as started`);
}

/**
 * Gives every step of an ended run still recorded as `running` its final state, `failed`: its
 * last attempt ended without writing one (timed out, its worker died, or the database was
 * unreachable when it failed), and nothing else will. Returns the nodes it closed.
 */
export async function closeRunningSteps(db: Db, runId: string, runStatus: 'failed' | 'cancelled'): Promise<string[]> {
  const { rows } = await db.query<{ node_id: string }>(
    `UPDATE step_runs SET status = 'failed', ended_at = now(),
            error = COALESCE(error, $2)
      WHERE run_id = $1 AND status = 'running'
      RETURNING node_id`,
    [runId, `the run ${runStatus === 'cancelled' ? 'was cancelled' : 'failed'} while this step was running; its last attempt ended without recording a result (a timeout, a lost worker, or the database unreachable)`],
  );
  return rows.map((r) => r.node_id).sort();
}

export type StepStart = { runId: string; node: string; step: string; stepVersion: string; queue: string; attempt: number };
export type StepEnd = { runId: string; node: string; status: Exclude<StepStatus, 'running'>; outputs?: unknown; error?: string; cacheKey?: string };
/** A step run recorded once it ended (no `running` row before): its start time, when not now. */
export type FinishedStepRun = StepStart & Omit<StepEnd, 'runId' | 'node'> & { startedAt?: Date };
type Edge = { from: [kind: string, id: string]; relation: string; to: [kind: string, id: string]; runId?: string };

/**
 * Step-run and lineage writes go through per-pool batchers (./batcher.ts): the items of a fan-out
 * running at once on one worker share statements instead of making one round trip (and one
 * commit) each. Each call still resolves only once its row is written.
 */
const batches = perConnection((db: Db) => ({
  starts: new Batcher<StepStart>(
    async (rows) => {
      await db.query(
        `INSERT INTO step_runs (run_id, node_id, step, step_version, queue, status, attempt)
         SELECT r, n, s, v, q, 'running', a FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[]) AS t(r, n, s, v, q, a)
         ON CONFLICT (run_id, node_id) DO UPDATE
           SET status = 'running', attempt = EXCLUDED.attempt, started_at = now(), ended_at = NULL, error = NULL`,
        [rows.map((r) => r.runId), rows.map((r) => r.node), rows.map((r) => r.step), rows.map((r) => r.stepVersion), rows.map((r) => r.queue), rows.map((r) => r.attempt)],
      );
      return rows.map(() => undefined);
    },
    { key: (r) => `${r.runId}\0${r.node}` },
  ),
  // A step run written once, already ended: a cache probe's hit, or an item of a batch
  // (activities/runtime/step-book.ts), which would otherwise cost a start and an end statement.
  finished: new Batcher<FinishedStepRun>(
    async (rows) => {
      await db.query(
        `INSERT INTO step_runs (run_id, node_id, step, step_version, queue, status, attempt, started_at, ended_at, outputs, error, cache_key)
         SELECT r, n, s, v, q, st, a, COALESCE(t0, now()), now(), o::jsonb, e, k
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::timestamptz[], $9::text[], $10::text[], $11::text[])
             AS t(r, n, s, v, q, st, a, t0, o, e, k)
         ON CONFLICT (run_id, node_id) DO UPDATE
           SET status = EXCLUDED.status, attempt = EXCLUDED.attempt, started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at,
               outputs = EXCLUDED.outputs, error = EXCLUDED.error, cache_key = COALESCE(EXCLUDED.cache_key, step_runs.cache_key)`,
        [
          rows.map((r) => r.runId),
          rows.map((r) => r.node),
          rows.map((r) => r.step),
          rows.map((r) => r.stepVersion),
          rows.map((r) => r.queue),
          rows.map((r) => r.status),
          rows.map((r) => r.attempt),
          rows.map((r) => r.startedAt ?? null),
          rows.map((r) => (r.outputs === undefined ? null : JSON.stringify(r.outputs))),
          rows.map((r) => r.error ?? null),
          rows.map((r) => r.cacheKey ?? null),
        ],
      );
      return rows.map(() => undefined);
    },
    { key: (r) => `${r.runId}\0${r.node}` },
  ),
  ends: new Batcher<StepEnd>(
    async (rows) => {
      await db.query(
        `UPDATE step_runs s SET status = t.status, ended_at = now(), outputs = t.outputs::jsonb, error = t.error, cache_key = COALESCE(t.cache_key, s.cache_key)
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS t(run_id, node_id, status, outputs, error, cache_key)
          WHERE s.run_id = t.run_id AND s.node_id = t.node_id`,
        [
          rows.map((r) => r.runId),
          rows.map((r) => r.node),
          rows.map((r) => r.status),
          rows.map((r) => (r.outputs === undefined ? null : JSON.stringify(r.outputs))),
          rows.map((r) => r.error ?? null),
          rows.map((r) => r.cacheKey ?? null),
        ],
      );
      return rows.map(() => undefined);
    },
    { key: (r) => `${r.runId}\0${r.node}` },
  ),
  artifacts: new Batcher<ArtifactRecord>(async (rows) => {
    await db.query(
      `INSERT INTO artifacts (uri, sha256, size_bytes, media_type)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
       ON CONFLICT (uri) DO NOTHING`,
      [rows.map((a) => a.uri), rows.map((a) => a.sha256), rows.map((a) => a.size), rows.map((a) => a.mediaType ?? null)],
    );
    return rows.map(() => undefined);
  }),
  edges: new Batcher<Edge>(async (rows) => {
    await db.query(
      `INSERT INTO lineage_edges (from_kind, from_id, relation, to_kind, to_id, run_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
       ON CONFLICT (from_kind, from_id, relation, to_kind, to_id) DO NOTHING`,
      [rows.map((e) => e.from[0]), rows.map((e) => e.from[1]), rows.map((e) => e.relation), rows.map((e) => e.to[0]), rows.map((e) => e.to[1]), rows.map((e) => e.runId ?? null)],
    );
    return rows.map(() => undefined);
  }),
}));

/** `node` is the pipeline node id (column node_id); `step` the step signature's name. */
export async function recordStepStart(db: Db, s: StepStart): Promise<void> {
  await batches(db).starts.add(s);
}

/** A step run answered from the cache by a shard's probe, recorded in one statement (started and ended). */
export async function recordCachedStepRun(db: Db, s: StepStart & { outputs: unknown; cacheKey: string }): Promise<void> {
  await batches(db).finished.add({ ...s, status: 'cached' });
}

/** A step run that ended, recorded in one statement (started and ended): see FinishedStepRun. */
export async function recordFinishedStepRun(db: Db, s: FinishedStepRun): Promise<void> {
  await batches(db).finished.add(s);
}

export async function recordStepEnd(db: Db, s: StepEnd): Promise<void> {
  await batches(db).ends.add(s);
}

export interface ArtifactRecord {
  uri: string;
  sha256: string;
  size: number;
  mediaType?: string;
}

/**
 * Registers an artifact and the edge "step_run produced artifact". Content addressing makes the
 * URI stable across retries, so both inserts are no-ops the second time.
 */
export async function recordStepOutput(db: Db, runId: string, node: string, a: ArtifactRecord, relation: 'produced' | 'reused' = 'produced'): Promise<void> {
  await batches(db).artifacts.add(a);
  await recordEdge(db, { from: ['step_run', `${runId}/${node}`], relation, to: ['artifact', a.uri], runId });
}

export async function recordStepInput(db: Db, runId: string, node: string, uri: string): Promise<void> {
  await recordEdge(db, { from: ['artifact', uri], relation: 'consumed_by', to: ['step_run', `${runId}/${node}`], runId });
}

export async function recordEdge(db: Db, e: Edge): Promise<void> {
  await batches(db).edges.add(e);
}

export interface RunRow {
  run_id: string;
  workflow_id: string;
  pipeline_name: string;
  pipeline_version: string;
  status: RunStatus;
  started_at: Date;
  ended_at: Date | null;
  error: string | null;
}

export async function listRuns(db: Db, opts: { pipeline?: string; limit?: number } = {}): Promise<RunRow[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT run_id, workflow_id, pipeline_name, pipeline_version, status, started_at, ended_at, error
       FROM runs WHERE ($1::text IS NULL OR pipeline_name = $1) ORDER BY started_at DESC LIMIT $2`,
    [opts.pipeline ?? null, opts.limit ?? 50],
  );
  return rows;
}

export type RunDetailRow = RunRow & { params: unknown };

/** One run by its Temporal run id or, failing that, the latest run of a workflow id. */
export async function findRun(db: Db, id: string): Promise<RunDetailRow | undefined> {
  const { rows } = await db.query<RunDetailRow>(
    `SELECT run_id, workflow_id, pipeline_name, pipeline_version, params, status, started_at, ended_at, error
       FROM runs WHERE run_id = $1 OR workflow_id = $1
      ORDER BY (run_id = $1) DESC, started_at DESC LIMIT 1`,
    [id],
  );
  return rows[0];
}

/** A row of step_runs: `node_id` holds the pipeline node id (`node[i]` for a fan-out item). */
export interface StepRunRow {
  node_id: string;
  step: string | null;
  step_version: string;
  queue: string;
  status: StepStatus;
  attempt: number;
  started_at: Date;
  ended_at: Date | null;
  error: string | null;
  cache_key: string | null;
}

/** A run's step runs in the order they started. */
export async function listStepRuns(db: Db, runId: string): Promise<StepRunRow[]> {
  const { rows } = await db.query<StepRunRow>(
    `SELECT node_id, step, step_version, queue, status, attempt, started_at, ended_at, error, cache_key
       FROM step_runs WHERE run_id = $1 ORDER BY started_at, node_id`,
    [runId],
  );
  return rows;
}

/**
 * One page of a run's step runs in the order they started, and how many match in all: `node`
 * keeps one node's (a fan-out's items included), `items: false` only the pipeline's own nodes
 * (no `node[i]` items), so a run of 100,000 items is never read whole.
 */
export async function listStepRunsPage(
  db: Db,
  runId: string,
  page: { limit: number; offset: number; node?: string; items?: false },
): Promise<{ rows: StepRunRow[]; total: number }> {
  const where = `run_id = $1 AND ($2::text IS NULL OR node_id = $2 OR left(node_id, length($2) + 1) = $2 || '[') AND ($3::boolean OR strpos(node_id, '[') = 0)`;
  const args = [runId, page.node ?? null, page.items !== false];
  const [{ rows }, count] = await Promise.all([
    db.query<StepRunRow>(
      `SELECT node_id, step, step_version, queue, status, attempt, started_at, ended_at, error, cache_key
         FROM step_runs WHERE ${where} ORDER BY started_at, node_id LIMIT $4 OFFSET $5`,
      [...args, page.limit, page.offset],
    ),
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM step_runs WHERE ${where}`, args),
  ]);
  return { rows, total: count.rows[0]!.n };
}

/** What each step run of a run returned (step_runs.outputs; null for one that failed or runs); `nodes`: only those node runs. */
export async function listStepOutputs(db: Db, runId: string, nodes?: string[]): Promise<{ node_id: string; outputs: unknown }[]> {
  const { rows } = await db.query<{ node_id: string; outputs: unknown }>(
    `SELECT node_id, outputs FROM step_runs WHERE run_id = $1 AND outputs IS NOT NULL AND ($2::text[] IS NULL OR node_id = ANY($2)) ORDER BY node_id`,
    [runId, nodes ?? null],
  );
  return rows;
}

/** An edge "step run produced (or reused) artifact": `from_id` is `runId/node`, `to_id` the artifact URI. */
export interface StepArtifactEdge {
  from_id: string;
  relation: 'produced' | 'reused';
  to_id: string;
}

/** A run's step-run → artifact edges; `nodes`: only those of these node runs. */
export async function listStepArtifacts(db: Db, runId: string, nodes?: string[]): Promise<StepArtifactEdge[]> {
  const { rows } = await db.query<StepArtifactEdge>(
    `SELECT from_id, relation, to_id FROM lineage_edges
      WHERE run_id = $1 AND from_kind = 'step_run' AND to_kind = 'artifact' AND relation IN ('produced', 'reused')
        AND ($2::text[] IS NULL OR from_id = ANY($2))
      ORDER BY from_id, id`,
    [runId, nodes ? nodes.map((n) => `${runId}/${n}`) : null],
  );
  return rows;
}

/**
 * What items `[from, to)` of fan-out `node` recorded as their output (step_runs `node[i]`,
 * succeeded or cached), with each item's index: one query for a whole shard's fan-in.
 */
export async function listItemOutputs(db: Db, runId: string, node: string, from: number, to: number): Promise<{ index: number; outputs: unknown }[]> {
  const ids = Array.from({ length: to - from }, (_, k) => `${node}[${from + k}]`);
  const { rows } = await db.query<{ node_id: string; outputs: unknown }>(
    `SELECT node_id, outputs FROM step_runs
      WHERE run_id = $1 AND node_id = ANY($2::text[]) AND status IN ('succeeded', 'cached')`,
    [runId, ids],
  );
  const prefix = node.length + 1;
  return rows.map((r) => ({ index: Number(r.node_id.slice(prefix, -1)), outputs: r.outputs }));
}
