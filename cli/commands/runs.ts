import type { Command } from 'commander';
import { loadConfig } from '../../infra/config';
import { createPool, type Db } from '../../infra/db/pool';
import { findRun, listRuns, listStepArtifacts, listStepOutputs, listStepRuns, type RunRow, type StepArtifactEdge, type StepRunRow } from '../../infra/db/runs';
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
    .description('one run (Temporal run id or workflow id): header, then its DAG with per-node state and artifacts')
    .option('--json', 'print JSON')
    .option('--mermaid', 'the DAG as a Mermaid flowchart with node states')
    .action(async (id: string, o: { json?: boolean; mermaid?: boolean }) => {
      if (o.json && o.mermaid) throw new Error('choose one of --json, --mermaid');
      const { run, steps, edges, outputs } = await withDb(async (db) => {
        const run = await findRun(db, id);
        if (!run) throw new Error(`no run "${id}": not a run id or workflow id recorded in PostgreSQL (see \`sluice runs list\`)`);
        const steps = await listStepRuns(db, run.run_id);
        const edges = await listStepArtifacts(db, run.run_id);
        const outputs = await listStepOutputs(db, run.run_id);
        return { run, steps, edges, outputs };
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

      const recorded = nodeStatesFromDb(run.run_id, steps, edges, outputs);
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
        console.log(JSON.stringify({ run, registryVersion: spec?.version ?? null, notes, nodes, steps, artifacts: edges }, null, 2));
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
    });
}
