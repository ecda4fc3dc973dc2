import type { Command } from 'commander';
import { loadConfig } from '../../infra/config';
import { createPool, type Db } from '../../infra/db/pool';
import { runNodeSummary, runProblems, type NodeStatusCount } from '../../infra/db/console-queries';
import { findRun, listRuns, listStepArtifacts, listStepOutputs, listStepRunsPage, type RunRow, type StepArtifactEdge, type StepRunRow } from '../../infra/db/runs';
import { resolveDatabaseUrl } from '../../infra/stack/database-url';
import type { NodeStatus } from '../../pipelines/dsl/protocol';
import type { NodeSpec, PipelineSpec } from '../../pipelines/dsl/spec';
import { cliCatalogue } from '../pipelines';
import { artifactOutputNames } from '../render/artifact-outputs';
import { formatDuration, toMermaid, toText, type RenderNodeState, type RenderStates } from '../render/dag';
import { printTable } from '../render/table';

/** `sluice runs list|show`: runs recorded in PostgreSQL, and one run's DAG with per-node state. */

const ITEM = /^(.*)\[(\d+)\]$/;

/**
 * Per-node state from a run's step_runs rows and artifact edges. Fan-out items (`node[i]`) are
 * folded into their node: items done/total (total = items recorded), worst status, max attempt.
 * With the steps' recorded outputs, each artifact is named by the output it is (`[i].name` for an
 * item's).
 */
export function nodeStatesFromDb(runId: string, steps: StepRunRow[], edges: StepArtifactEdge[], outputs: { node_id: string; outputs: unknown }[] = []): RenderStates {
  const states: RenderStates = {};
  const items = new Map<string, StepRunRow[]>();
  for (const r of steps) {
    const m = ITEM.exec(r.node_id);
    if (m) {
      items.set(m[1]!, [...(items.get(m[1]!) ?? []), r]);
      continue;
    }
    states[r.node_id] = {
      status: r.status,
      attempts: r.attempt,
      startedAt: r.started_at,
      ...(r.ended_at ? { endedAt: r.ended_at } : {}),
      cached: r.status === 'cached',
      ...(r.error ? { error: r.error } : {}),
    };
  }
  for (const [node, rows] of items) {
    const st = rows.map((r) => r.status);
    const done = st.filter((s) => s === 'succeeded' || s === 'cached').length;
    const status: NodeStatus = st.includes('failed')
      ? 'failed'
      : st.includes('running')
        ? 'running'
        : st.every((s) => s === 'cached')
          ? 'cached'
          : st.every((s) => s === 'skipped')
            ? 'skipped'
            : 'succeeded';
    const ended = rows.every((r) => r.ended_at);
    const failed = rows.find((r) => r.status === 'failed' && r.error);
    states[node] = {
      status,
      attempts: Math.max(...rows.map((r) => r.attempt)),
      startedAt: new Date(Math.min(...rows.map((r) => r.started_at.getTime()))),
      ...(ended ? { endedAt: new Date(Math.max(...rows.map((r) => r.ended_at!.getTime()))) } : {}),
      items: { total: rows.length, done },
      cached: status === 'cached',
      ...(failed ? { error: `${failed.node_id}: ${failed.error}` } : {}),
    };
  }
  const prefix = `${runId}/`;
  for (const e of edges) {
    if (!e.from_id.startsWith(prefix)) continue;
    const key = e.from_id.slice(prefix.length);
    const node = ITEM.exec(key)?.[1] ?? key;
    const s = (states[node] ??= { status: 'succeeded' });
    s.artifacts ??= [];
    if (!s.artifacts.includes(e.to_id)) s.artifacts.push(e.to_id);
  }
  for (const o of outputs) {
    const item = ITEM.exec(o.node_id);
    const s = states[item?.[1] ?? o.node_id];
    if (!s?.artifacts) continue;
    for (const [uri, name] of artifactOutputNames(o.outputs, item ? `[${item[2]}]` : '')) {
      if (!s.artifacts.includes(uri)) continue;
      s.artifactOutputs ??= {};
      s.artifactOutputs[uri] = s.artifactOutputs[uri] ? `${s.artifactOutputs[uri]}, ${name}` : name;
    }
  }
  return states;
}

/**
 * Per-node state from a run's step runs summed per node and status (runNodeSummary: one pass in
 * PostgreSQL, whatever the fan-out width): the same folding as nodeStatesFromDb, without reading
 * every item's row. Artifacts and errors come from the rows read (a page, the failures).
 */
export function nodeStatesFromSummary(summary: NodeStatusCount[]): RenderStates {
  const byNode = new Map<string, NodeStatusCount[]>();
  for (const r of summary) byNode.set(r.node, [...(byNode.get(r.node) ?? []), r]);
  const states: RenderStates = {};
  for (const [node, rows] of byNode) {
    const count = (st: string) => rows.filter((r) => r.status === st).reduce((n, r) => n + r.count, 0);
    const total = rows.reduce((n, r) => n + r.count, 0);
    const has = (st: string) => count(st) > 0;
    const status: NodeStatus = has('failed') ? 'failed' : has('running') ? 'running' : count('cached') === total ? 'cached' : count('skipped') === total ? 'skipped' : 'succeeded';
    const ended = !has('running') && rows.every((r) => r.last_ended);
    states[node] = {
      status,
      attempts: Math.max(...rows.map((r) => r.max_attempt)),
      startedAt: new Date(Math.min(...rows.map((r) => new Date(r.first_started).getTime()))),
      ...(ended ? { endedAt: new Date(Math.max(...rows.map((r) => new Date(r.last_ended!).getTime()))) } : {}),
      ...(rows.some((r) => r.fanout) ? { items: { total, done: count('succeeded') + count('cached') } } : {}),
      cached: status === 'cached',
    };
  }
  return states;
}

/** A DAG without edges from what the DB recorded, when the registry has no such pipeline. */
function specFromRows(run: RunRow, states: RenderStates, steps: StepRunRow[]): PipelineSpec {
  const seen = new Set<string>();
  const nodes: NodeSpec[] = [];
  const stepTable: PipelineSpec['steps'] = {};
  for (const r of steps) {
    const id = ITEM.exec(r.node_id)?.[1] ?? r.node_id;
    if (seen.has(id) || !states[id]) continue;
    seen.add(id);
    const name = r.step ?? '?';
    // The DB knows no schemas: an empty interface, only what the DAG shows.
    stepTable[name] ??= {
      version: r.step_version,
      queue: r.queue === 'gpu' ? 'gpu' : 'cpu',
      options: { startToCloseTimeout: '0s', retry: {}, cache: { enabled: false } },
      input: {},
      output: {},
      inputSchemaHash: '',
      outputSchemaHash: '',
    };
    nodes.push({ id, step: name, inputs: { kind: 'literal', value: null }, dependsOn: [], summary: id });
  }
  return { specVersion: 2, name: run.pipeline_name, version: run.pipeline_version, params: {}, steps: stepTable, nodes, outputs: {} };
}

async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const db = createPool(await resolveDatabaseUrl(loadConfig()), { max: 1, application: 'sluice-cli' });
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : '');
const runDuration = (r: Pick<RunRow, 'started_at' | 'ended_at'>) => formatDuration((r.ended_at ?? new Date()).getTime() - r.started_at.getTime());

function parseLimit(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--limit must be a positive integer, got "${s}"`);
  return n;
}

function parseOffset(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--offset must be a whole number, got "${s}"`);
  return n;
}

/** A page of node runs as a table: what `runs show` prints after the DAG when a run has fan-out items or a page was asked for. */
function printStepRunPage(rows: StepRunRow[], page: { offset: number; total: number }, node?: string): void {
  const what = node ? `node runs of ${node}` : 'node runs (fan-out items included)';
  const last = page.offset + rows.length;
  console.log(`\n${what}: ${rows.length ? `${page.offset + 1}–${last}` : 'none'} of ${page.total}${last < page.total ? ` (next page: --offset ${last})` : ''}`);
  if (!rows.length) return;
  printTable(
    ['NODE RUN', 'STATUS', 'ATTEMPT', 'STARTED', 'DURATION', 'ERROR'],
    rows.map((r) => [r.node_id, r.status, String(r.attempt), iso(r.started_at), r.ended_at ? formatDuration(r.ended_at.getTime() - r.started_at.getTime()) : '', (r.error ?? '').split('\n')[0]!.slice(0, 80)]),
  );
}

function printRunList(rows: RunRow[]): void {
  if (!rows.length) {
    console.log('no runs recorded');
    return;
  }
  const table = rows.map((r) => [
    iso(r.started_at),
    r.status,
    `${r.pipeline_name}@${r.pipeline_version}`,
    r.ended_at || r.status === 'running' ? runDuration(r) : '',
    r.workflow_id,
    r.run_id,
  ]);
  printTable(['STARTED', 'STATUS', 'PIPELINE', 'DURATION', 'WORKFLOW ID', 'RUN ID'], table);
}

export function registerRunsCommands(program: Command): void {
  const cmd = program.command('runs').description('runs recorded in PostgreSQL: list (default), show one');

  cmd
    .command('list', { isDefault: true })
    .description('recent runs, latest first')
    .option('-p, --pipeline <name>', 'only this pipeline')
    .option('-n, --limit <n>', 'how many', '20')
    .option('--json', 'print JSON')
    .action(async (o: { pipeline?: string; limit: string; json?: boolean }) => {
      const limit = parseLimit(o.limit);
      const rows = await withDb((db) => listRuns(db, { pipeline: o.pipeline, limit }));
      if (o.json) console.log(JSON.stringify(rows, null, 2));
      else printRunList(rows);
    });

  cmd
    .command('show <run>')
    .description(
      'one run (Temporal run id or workflow id): header, its DAG with per-node state and artifacts, then a page of its node runs ' +
        '(a fan-out\'s items are counted in the DAG, listed a page at a time)',
    )
    .option('--json', 'print JSON')
    .option('--mermaid', 'the DAG as a Mermaid flowchart with node states')
    .option('-n, --limit <n>', 'node runs per page', '100')
    .option('--offset <n>', 'node runs to skip (the next page: --offset 100)', '0')
    .option('--node <id>', 'only the node runs of this node (a fan-out: its items)')
    .action(async (id: string, o: { json?: boolean; mermaid?: boolean; limit: string; offset: string; node?: string }) => {
      if (o.json && o.mermaid) throw new Error('choose one of --json, --mermaid');
      const limit = parseLimit(o.limit);
      const offset = parseOffset(o.offset);
      const { run, steps, page, edges, outputs, summary } = await withDb(async (db) => {
        const run = await findRun(db, id);
        if (!run) throw new Error(`no run "${id}": not a run id or workflow id recorded in PostgreSQL (see \`sluice runs list\`)`);
        // Never every row of a 100,000-item run: nodes summed in PostgreSQL, the pipeline's own
        // node runs, the page asked for, and the failures (for the errors).
        const [summary, own, page, problems] = await Promise.all([
          runNodeSummary(db, run.run_id),
          listStepRunsPage(db, run.run_id, { limit: 10_000, offset: 0, items: false }),
          listStepRunsPage(db, run.run_id, { limit, offset, node: o.node }),
          runProblems(db, run.run_id, 20),
        ]);
        const rows = new Map<string, StepRunRow>();
        for (const r of [...own.rows, ...page.rows]) rows.set(r.node_id, r);
        const shown = [...rows.keys()];
        const [edges, outputs] = await Promise.all([listStepArtifacts(db, run.run_id, shown), listStepOutputs(db, run.run_id, shown)]);
        for (const p of problems) if (!rows.has(p.node_id)) rows.set(p.node_id, { ...p, step: null, step_version: '', queue: '', cache_key: null } as StepRunRow);
        return { run, steps: [...rows.values()], page, edges, outputs, summary };
      });

      const notes: string[] = [];
      let spec: PipelineSpec | undefined;
      try {
        spec = (await cliCatalogue()).specs.get(run.pipeline_name);
        if (!spec) notes.push(`pipeline "${run.pipeline_name}" is not registered here: showing the steps the database recorded, without edges`);
      } catch (e) {
        notes.push(`cannot load the pipeline registry (${(e as Error).message}): showing the steps the database recorded, without edges`);
      }
      if (spec && spec.version !== run.pipeline_version) {
        notes.push(
          `this run ran ${run.pipeline_name}@${run.pipeline_version}; the registry now has @${spec.version}: ` +
            'the DAG below is the current definition, with the states this run recorded',
        );
      }

      // Status, counts and times from the summary; artifacts and errors from the rows read.
      const fromRows = nodeStatesFromDb(run.run_id, steps, edges, outputs);
      const recorded: RenderStates = {};
      for (const [node, s] of Object.entries(nodeStatesFromSummary(summary))) {
        const r = fromRows[node];
        recorded[node] = { ...s, ...(r?.artifacts ? { artifacts: r.artifacts } : {}), ...(r?.artifactOutputs ? { artifactOutputs: r.artifactOutputs } : {}), ...(r?.error ? { error: r.error } : {}) };
      }
      const dag = spec ?? specFromRows(run, recorded, steps);
      const states: RenderStates = {};
      const missing: RenderNodeState = { status: run.status === 'running' ? 'pending' : 'skipped' };
      for (const n of dag.nodes) states[n.id] = recorded[n.id] ?? missing;
      const extra = Object.keys(recorded).filter((k) => !dag.nodes.some((n) => n.id === k));

      if (o.json) {
        const nodes = Object.fromEntries(
          Object.entries({ ...states, ...Object.fromEntries(extra.map((k) => [k, recorded[k]!])) }).map(([k, s]) => {
            const a = s.startedAt instanceof Date ? s.startedAt.getTime() : s.startedAt;
            const b = s.endedAt instanceof Date ? s.endedAt.getTime() : s.endedAt;
            return [k, { ...s, ...(a !== undefined && b !== undefined ? { durationMs: b - a } : {}), inCurrentSpec: !extra.includes(k) }];
          }),
        );
        const next = offset + page.rows.length < page.total ? offset + page.rows.length : null;
        console.log(JSON.stringify({ run, registryVersion: spec?.version ?? null, notes, nodes, steps: page.rows, page: { offset, limit, total: page.total, next }, artifacts: edges }, null, 2));
        return;
      }
      if (o.mermaid) {
        for (const n of notes) process.stderr.write(`note: ${n}\n`);
        process.stdout.write(toMermaid(dag, states));
        return;
      }

      const header: [string, string][] = [
        ['run', `${run.run_id}  (workflow ${run.workflow_id})`],
        ['pipeline', `${run.pipeline_name}@${run.pipeline_version}`],
        ['status', run.status],
        ['started', iso(run.started_at)],
        ['ended', run.ended_at ? iso(run.ended_at) : '—'],
        ['duration', `${runDuration(run)}${run.ended_at ? '' : ' so far'}`],
      ];
      if (run.error) header.push(['error', run.error]);
      for (const [k, v] of header) console.log(`${k.padEnd(9)} ${v}`);
      for (const n of notes) console.log(`note: ${n}`);
      console.log('');
      process.stdout.write(toText(dag, states));
      if (extra.length) {
        console.log(`\nrecorded by this run but not in the current definition:`);
        const sub: PipelineSpec = specFromRows(run, Object.fromEntries(extra.map((k) => [k, recorded[k]!])), steps);
        process.stdout.write(toText(sub, recorded).replace(/^(?=.)/gm, '  '));
      }
      const fannedOut = summary.some((r) => r.fanout);
      if (fannedOut || o.node || offset > 0) printStepRunPage(page.rows, { offset, total: page.total }, o.node);
    });
}
