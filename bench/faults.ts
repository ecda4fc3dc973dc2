/**
 * Fault campaign: the longer version of the fault tests (test/fault-tolerance/, test/worker-kill*).
 * Under real pipelines (materialize-features on many events, train-model on penguins repeated to
 * the same order of rows, batch-scoring of those rows into a table), round after round, it breaks
 * the real pieces: (a) SIGKILL of the CPU worker at random moments, (b) kill -9 of the Temporal
 * dev server, restarted on the same SQLite file, (c) PostgreSQL stopped for 20–30 s, (d) all of it
 * at once. A first round without faults is the baseline. After each round it prints runs
 * completed and failed, rows expected against rows in the tables, duplicate rows (must be 0),
 * steps left `running`, attempts spent on retries, and how long recovery took.
 *
 * Sizes: SLUICE_FAULT_ROUNDS (default 1) rounds of each fault, SLUICE_FAULT_EVENTS (default
 * 50,000) events per round (3/4 as many rows trained on and scored); the defaults take under 10
 * minutes on a 2-core machine. Prints figures; asserts nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { envSchema } from '../infra/config';
import { createPool, type Db } from '../infra/db/pool';
import { createLogger } from '../infra/log';
import { batchScoring } from '../pipelines/batch-scoring';
import { materializeFeatures } from '../pipelines/materialize-features';
import { col, featureView, rollingCount, rollingMean } from '../pipelines/steps/features';
import { trainModel } from '../pipelines/train-model';
import { startRun } from '../test/helpers/runs';
import { temporalClient, tempDir } from '../test/helpers/stack';
import { mulberry32 as seeded } from '../pipelines/util/seeded-random';
import { writeEvents, writePenguins } from './fault-data';
import { startFaultStack, type FaultStack } from './fault-stack';
import { failureText } from './failure-text';
import type { Benchmark, BenchContext } from './run';

const SEED = 20_241_203;
/** Origins in the events: the online table's expected rows. */
const ENTITIES = 2_000;
/** Worker and Temporal kills per round of those faults. */
const KILLS_PER_ROUND = 2;
const OUTAGE_MS: [number, number] = [20_000, 30_000];
/** A round that has not finished by then counts its open runs as stalled (and terminates them). */
const ROUND_TIMEOUT_MS = 6 * 60_000;

const FAULTS = {
  none: 'no fault (baseline)',
  worker: `SIGKILL of the CPU worker ×${KILLS_PER_ROUND}`,
  temporal: `kill -9 of Temporal ×${KILLS_PER_ROUND}`,
  postgres: 'PostgreSQL stopped 20–30 s',
  all: 'all at once (workers, Temporal, PostgreSQL) 20–30 s',
} as const;
type Fault = keyof typeof FAULTS;

export const benchmark: Benchmark = {
  name: 'faults',
  description: 'fault campaign under real pipelines: worker SIGKILL, Temporal kill -9, PostgreSQL outage, all at once; counts runs, rows and duplicates per round',
  run,
};

interface Ctx {
  bench: BenchContext;
  stack: FaultStack;
  client: Client;
  db: Db;
  dataDir: string;
  events: number;
  penguins: { file: string; rows: number };
  rnd: () => number;
}

interface RoundResult {
  round: number;
  fault: Fault;
  seconds: number;
  runs: { done: number; failed: number; stalled: number; failures: string[] };
  features: { expectedOnline: number; online: number | null; onlineDup: number | null; reportedOnline: number | null; expectedOffline: number; offline: number | null };
  scores: { expected: number; rows: number | null; dup: number | null };
  models: { versions: number | null; dup: number };
  stepsRunning: number | null;
  dupEdges: number | null;
  retries: number | null;
  /** Per fault: seconds until every broken piece was back, then until the next step completed; for killed workers, until a killed step's retry started. */
  faults: { what: string; atS: number; outageS: number; recoveryS: number | null; retryS: number | null }[];
  crashes: number;
}

async function run(bench: BenchContext): Promise<void> {
  const { SLUICE_FAULT_ROUNDS: repeat, SLUICE_FAULT_EVENTS: events } = envSchema
    .pick({ SLUICE_FAULT_ROUNDS: true, SLUICE_FAULT_EVENTS: true })
    .parse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined && v !== '')));
  const home = tempDir('faults');
  bench.onCleanup(() => fs.rmSync(home, { recursive: true, force: true }));
  const dataDir = path.join(home, 'data');
  fs.mkdirSync(dataDir);

  bench.log('starting its own Temporal (SQLite file), PostgreSQL cluster and CPU/GPU workers');
  const stack = await startFaultStack(home, { SLUICE_WORKFLOW_BUNDLE: bench.workflowBundle }, bench.log);
  bench.onCleanup(() => stack.stop());
  const client = await temporalClient(stack.temporalAddress);
  bench.onCleanup(() => client.connection.close());
  // Quiet: the outages make every pooled connection complain.
  const db = createPool(stack.databaseUrl, { log: createLogger({}, 'error', () => undefined) });
  bench.onCleanup(() => db.end());

  const penguins = writePenguins(dataDir, 'penguins-many', Math.round(events * 0.75));
  const ctx: Ctx = { bench, stack, client, db, dataDir, events, penguins, rnd: seeded(SEED) };
  bench.log('training the champion that scoring uses');
  const champion = await (await startRun({ client, workers: stack.workers }, trainModel, { model: 'fault-penguins', search: {}, gbdt: { nEstimators: 10 } })).result().catch((e: unknown) => {
    throw new Error(`the champion's training run failed: ${failureText(e)}`);
  });
  if (!champion.outputs.promoted) throw new Error(`the first model was not made champion: ${JSON.stringify({ ...champion.outputs, report: undefined, trainingData: undefined })}`);

  const plan: Fault[] = ['none', ...Array.from({ length: repeat }, () => ['worker', 'temporal', 'postgres', 'all'] as const).flat()];
  const results: RoundResult[] = [];
  bench.print(
    `faults (${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}; per round: materialize-features over ${events.toLocaleString('en-US')} events of ${ENTITIES.toLocaleString('en-US')} origins, ` +
      `train-model on ${penguins.rows.toLocaleString('en-US')} penguin rows (one trial, 30 trees), batch-scoring of those rows into a table; seed ${SEED})`,
  );
  for (const [i, fault] of plan.entries()) {
    const baseline = results[0]?.seconds;
    bench.log(`round ${i + 1}/${plan.length}: ${FAULTS[fault]}`);
    const r = await round(ctx, i + 1, fault, baseline);
    results.push(r);
    bench.print(`  ${line(r, results[0]!)}`);
    if (fault === 'none' && r.runs.done < 3) throw new Error(`the baseline round did not complete (${r.runs.failures.join('; ')}): nothing to compare faults with`);
  }
  summary(bench, results);
}

async function round(ctx: Ctx, n: number, fault: Fault, baselineS: number | undefined): Promise<RoundResult> {
  const { client, stack, db } = ctx;
  const ev = writeEvents(ctx.dataDir, `events-r${n}`, ctx.events, ENTITIES, SEED + n);
  const view = featureView({
    name: `fault_r${n}`,
    entities: ['origin'],
    timestamp: 'date',
    ttl: '30d',
    version: 1,
    features: [col('distance').as('last_distance'), rollingMean('delay', '7d').as('delay_mean_7d'), rollingCount('delay', '1d').as('flights_1d')],
  });
  const table = `fault_predictions_r${n}`;
  const on = { client, workers: stack.workers };
  const t0 = performance.now();
  const wallT0 = Date.now();
  const since = () => performance.now() - t0;
  const features = await startRun(on, materializeFeatures, {
    source: { kind: 'file', path: ev.file },
    name: `fault-events-r${n}`,
    schema: [{ name: 'date', type: 'timestamp', nullable: false }],
    view,
    start: '2023-12-01T00:00:00Z',
    end: '2024-03-02T00:00:00Z',
  });
  // margin 1: the challengers are never promoted, so every round scores with the same champion.
  const training = await startRun(on, trainModel, { model: 'fault-penguins', source: { kind: 'file', path: ctx.penguins.file }, dataset: 'fault-penguins-many', search: {}, gbdt: { nEstimators: 30 }, seed: n, margin: 1 });
  const scoring = await startRun(on, batchScoring, {
    model: 'fault-penguins@champion',
    source: { kind: 'file', path: ctx.penguins.file },
    inputName: 'fault-scoring-input',
    keep: ['Species'],
    destination: { parquet: true, table },
  });
  const handles = [features, training, scoring];
  const runIds = handles.map((h) => h.firstExecutionRunId);

  // Steps completed, as the metadata database sees them: recovery is the wait for the next one.
  const progress: number[] = [];
  let done = -1;
  let polling = false;
  const poller = setInterval(() => {
    if (polling) return;
    polling = true;
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM step_runs WHERE run_id = ANY($1) AND status IN ('succeeded', 'cached')`, [runIds])
      .then(({ rows }) => {
        if (rows[0]!.n > done) {
          if (done >= 0) progress.push(since());
          done = rows[0]!.n;
        }
      })
      .catch(() => undefined)
      .finally(() => (polling = false));
  }, 250);

  const crashesBefore = stack.crashes.cpu + stack.crashes.gpu;
  let finished = false;
  const outcomes = Promise.all(handles.map((h) => outcome(h, t0 + ROUND_TIMEOUT_MS))).finally(() => (finished = true));
  const injected = inject(ctx, fault, baselineS ?? 30, since, () => finished);
  const [results, faults] = await Promise.all([outcomes, injected]);
  const seconds = since() / 1000;
  await stack.workersUp();
  clearInterval(poller);

  for (const [i, o] of results.entries()) if (o.kind === 'stalled') await handles[i]!.terminate('fault campaign: round timed out').catch(() => undefined);
  const featureOut = results[0]!.kind === 'done' ? (results[0]!.value as { outputs: { offline: { rows: number }; onlineRows: number } }).outputs : undefined;

  const q = async <T>(sql: string, params: unknown[] = []): Promise<T | null> => {
    for (let tries = 0; tries < 20; tries++) {
      try {
        return (await db.query(sql, params)).rows[0] as T;
      } catch (e) {
        if ((e as { code?: string }).code === '42P01') return null; // no such table: nothing was written
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    return null;
  };
  const online = await q<{ n: number; d: number }>(`SELECT count(*)::int AS n, count(DISTINCT origin)::int AS d FROM fv_fault_r${n}_v1`);
  const scored = await q<{ n: number; d: number }>(`SELECT count(*)::int AS n, count(DISTINCT row_id)::int AS d FROM ${table}`);
  const models = await q<{ n: number }>(`SELECT count(*)::int AS n FROM model_versions WHERE run_id = $1`, [training.firstExecutionRunId]);
  const running = await q<{ n: number }>(`SELECT count(*)::int AS n FROM step_runs WHERE run_id = ANY($1) AND status = 'running'`, [runIds]);
  const edges = await q<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM lineage_edges WHERE run_id = ANY($1) GROUP BY from_id, relation, to_id HAVING count(*) > 1) d`,
    [runIds],
  );
  const retries = await q<{ n: number }>(`SELECT coalesce(sum(attempt - 1), 0)::int AS n FROM step_runs WHERE run_id = ANY($1)`, [runIds]);
  // When steps' later attempts started (each row keeps its latest attempt's start): how long a
  // killed step waited for its retry, which its heartbeat timeout decides.
  const retried = await db
    .query<{ at: number }>(`SELECT (extract(epoch FROM started_at) * 1000)::float8 AS at FROM step_runs WHERE run_id = ANY($1) AND attempt > 1 ORDER BY started_at`, [runIds])
    .then((r) => r.rows.map((x) => x.at - wallT0), () => [] as number[]);

  return {
    round: n,
    fault,
    seconds,
    runs: {
      done: results.filter((o) => o.kind === 'done').length,
      failed: results.filter((o) => o.kind === 'failed').length,
      stalled: results.filter((o) => o.kind === 'stalled').length,
      failures: results.flatMap((o, i) => (o.kind === 'done' ? [] : [`${['materialize-features', 'train-model', 'batch-scoring'][i]}: ${o.kind === 'failed' ? o.why : 'stalled'}`])),
    },
    features: {
      expectedOnline: ev.entities,
      online: online?.n ?? null,
      onlineDup: online ? online.n - online.d : null,
      reportedOnline: featureOut?.onlineRows ?? null,
      expectedOffline: ev.rows,
      offline: featureOut?.offline.rows ?? null,
    },
    scores: { expected: ctx.penguins.rows, rows: scored?.n ?? null, dup: scored ? scored.n - scored.d : null },
    models: { versions: models?.n ?? null, dup: Math.max(0, (models?.n ?? 0) - 1) },
    stepsRunning: running?.n ?? null,
    dupEdges: edges?.n ?? null,
    retries: retries?.n ?? null,
    faults: faults.map((f) => ({ what: f.what, atS: f.at / 1000, outageS: (f.over - f.at) / 1000, recoveryS: recoveryAfter(progress, f.over), retryS: f.killsWorkers ? recoveryAfter(retried, f.at) : null })),
    crashes: stack.crashes.cpu + stack.crashes.gpu - crashesBefore,
  };
}

/** Seconds from the end of a fault to the next completed step, if one completed after it. */
function recoveryAfter(progress: number[], overMs: number): number | null {
  const next = progress.find((t) => t >= overMs);
  return next === undefined ? null : (next - overMs) / 1000;
}

type Outcome = { kind: 'done'; value: unknown } | { kind: 'failed'; why: string } | { kind: 'stalled' };

/** A run's result, waiting through Temporal's absence (the client's calls fail while it is down). */
async function outcome(handle: { result(): Promise<unknown> }, deadline: number): Promise<Outcome> {
  while (performance.now() < deadline) {
    const left = deadline - performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), left)));
    try {
      const value = await Promise.race([handle.result(), timeout]);
      if (value === 'timeout') break;
      return { kind: 'done', value };
    } catch (e) {
      if (e instanceof WorkflowFailedError) return { kind: 'failed', why: failureText(e.cause ?? e).slice(0, 300) };
      await new Promise((r) => setTimeout(r, 1_000)); // Temporal unreachable: ask again
    } finally {
      clearTimeout(timer);
    }
  }
  return { kind: 'stalled' };
}

interface Injected {
  what: string;
  /** ms since the round started: when the fault began, and when every broken piece was back. */
  at: number;
  over: number;
  killsWorkers: boolean;
}

/** Breaks the round's pieces at random moments while its runs go on (none once they are all done). */
async function inject(ctx: Ctx, fault: Fault, baselineS: number, since: () => number, finished: () => boolean): Promise<Injected[]> {
  const { stack, rnd } = ctx;
  const out: Injected[] = [];
  const between = (lo: number, hi: number) => lo + rnd() * (hi - lo);
  const waitUntil = async (ms: number) => {
    while (since() < ms && !finished()) await new Promise((r) => setTimeout(r, 100));
    return !finished();
  };
  const outage = () => between(...OUTAGE_MS);
  const base = baselineS * 1000;
  switch (fault) {
    case 'none':
      return out;
    case 'worker':
    case 'temporal': {
      let next = between(0.15, 0.5) * base;
      for (let k = 0; k < KILLS_PER_ROUND; k++) {
        if (!(await waitUntil(next))) break;
        const at = since();
        if (fault === 'worker') {
          await stack.killWorker('cpu');
          await stack.workersUp();
        } else {
          await stack.killTemporal();
          await new Promise((r) => setTimeout(r, 1_000));
          await stack.startTemporal();
        }
        out.push({ what: fault === 'worker' ? 'cpu worker SIGKILL' : 'Temporal kill -9', at, over: since(), killsWorkers: fault === 'worker' });
        next = since() + between(0.1, 0.4) * base;
      }
      return out;
    }
    case 'postgres': {
      if (!(await waitUntil(between(0.15, 0.5) * base))) return out;
      const at = since();
      const down = outage();
      await stack.stopPostgres();
      await new Promise((r) => setTimeout(r, Math.max(0, down - (since() - at))));
      await stack.startPostgres();
      out.push({ what: `PostgreSQL down ${(down / 1000).toFixed(0)} s`, at, over: since(), killsWorkers: false });
      return out;
    }
    case 'all': {
      if (!(await waitUntil(between(0.15, 0.5) * base))) return out;
      const at = since();
      const down = outage();
      // Workers come back only once the database and Temporal are there to start against.
      stack.hold();
      await Promise.all([stack.killTemporal(), stack.killWorker('cpu'), stack.killWorker('gpu'), stack.stopPostgres()]);
      await new Promise((r) => setTimeout(r, Math.max(0, down - (since() - at))));
      await stack.startPostgres();
      await stack.startTemporal();
      stack.release();
      await stack.workersUp();
      out.push({ what: `everything down ${(down / 1000).toFixed(0)} s`, at, over: since(), killsWorkers: true });
      return out;
    }
  }
}

const num = (x: number | null) => (x === null ? '—' : x.toLocaleString('en-US'));

function line(r: RoundResult, base: RoundResult): string {
  const f = r.features;
  const parts = [
    `round ${r.round} ${FAULTS[r.fault]}`,
    `runs ${r.runs.done} completed, ${r.runs.failed} failed${r.runs.stalled ? `, ${r.runs.stalled} stalled` : ''}`,
    `online ${num(f.online)}/${num(f.expectedOnline)} (dup ${num(f.onlineDup)}; reported ${num(f.reportedOnline)}), offline ${num(f.offline)}/${num(f.expectedOffline)}`,
    `scored ${num(r.scores.rows)}/${num(r.scores.expected)} (dup ${num(r.scores.dup)})`,
    `model versions ${num(r.models.versions)}/1`,
    `steps left running ${num(r.stepsRunning)}, duplicate edges ${num(r.dupEdges)}, retried attempts ${num(r.retries)}`,
    `${r.seconds.toFixed(0)} s${r === base ? '' : ` (${r.seconds >= base.seconds ? '+' : ''}${(r.seconds - base.seconds).toFixed(0)} s vs baseline)`}`,
  ];
  if (r.faults.length) {
    parts.push(
      `faults: ${r.faults
        .map(
          (x) =>
            `${x.what} at ${x.atS.toFixed(0)} s, back after ${x.outageS.toFixed(0)} s, next step done ${x.recoveryS === null ? '— (none after)' : `${x.recoveryS.toFixed(1)} s later`}` +
            (x.retryS === null ? '' : `, a killed step's retry started ${x.retryS.toFixed(0)} s after the kill`),
        )
        .join('; ')}`,
    );
  } else if (r.fault !== 'none') parts.push('faults: none injected (the runs finished first)');
  if (r.crashes) parts.push(`WORKER CRASHES ${r.crashes}`);
  let s = parts.join(' | ');
  if (r.runs.failures.length) s += `\n      ${r.runs.failures.join('\n      ')}`;
  return s;
}

function summary(bench: BenchContext, results: RoundResult[]): void {
  const sum = (pick: (r: RoundResult) => number | null) => results.reduce((a, r) => a + (pick(r) ?? 0), 0);
  const short = results.filter(
    (r) =>
      r.features.online !== r.features.expectedOnline ||
      (r.features.offline !== null && r.features.offline !== r.features.expectedOffline) ||
      r.scores.rows !== r.scores.expected ||
      (r.features.reportedOnline !== null && r.features.reportedOnline !== r.features.online),
  );
  const dups = sum((r) => r.features.onlineDup) + sum((r) => r.scores.dup) + sum((r) => r.models.dup) + sum((r) => r.dupEdges);
  bench.print(
    `  total: ${results.length} rounds, ${sum((r) => r.runs.done)} runs completed, ${sum((r) => r.runs.failed)} failed, ${sum((r) => r.runs.stalled)} stalled; ` +
      `rounds with rows missing or misreported: ${short.length ? short.map((r) => r.round).join(', ') : 'none'}; duplicate rows: ${dups}; steps left running: ${sum((r) => r.stepsRunning)}; worker crashes: ${sum((r) => r.crashes)}`,
  );
}
