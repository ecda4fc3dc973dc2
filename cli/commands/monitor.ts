import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../infra/config';
import { getDatasetVersion, parseDatasetSpec } from '../../infra/db/datasets';
import { createPool, type Db } from '../../infra/db/pool';
import { resolveDatabaseUrl } from '../../infra/stack/database-url';
import type { Client } from '@temporalio/client';
import type { MonitorDecision, MonitorPolicy, MonitorStart } from '../../pipelines/monitor/protocol';
import { BY_HELP, defaultActor } from '../actor';
import { connectClient } from '../client';
import { ensureMonitor, monitorStatus, policyPatch, requestRetrain, sendLabels, setPolicy } from '../monitor';
import type { LabelsSource, MonitorStatus } from '../../pipelines/monitor/protocol';
import { championOf, championTrainingData, championTrainingParams, type TrainingParamsChoice } from '../champion-training-params';

/** `sluice monitor start|status|labels|policy` and `sluice retrain MODEL --reason` (the drift monitor's controls). */
export function registerMonitorCommands(program: Command): void {
  const monitor = program.command('monitor').description('drift monitors (one long-running workflow per model)');

  monitor
    .command('start <model>')
    .description('start the drift monitor of a model (idempotent)')
    .option('--reference <dataset@version>', "the data drift is measured against, e.g. penguins.train@1 (default: the champion's training data, from its lineage)")
    .option('--target <column>', "the column the model predicts (default: the champion's, when its training params are used)")
    .option('--training-params <file>', "JSON params for the training pipeline a retrain runs (default: those the champion was trained with)")
    .option('--pipeline <name>', 'training pipeline', 'train-model')
    .option('--policy <file>', "JSON policy (driftShare, consecutive, cooldown, dailyCap, performance, columns, categorical, retrainWindow, labelDrift); columns default to the training params' features")
    .action(async (model: string, o: { reference?: string; target?: string; trainingParams?: string; pipeline: string; policy?: string }) => {
      const config = loadConfig();
      const db = createPool(await resolveDatabaseUrl(config), { max: 1 });
      let start: MonitorStart;
      try {
        const trainingParams = o.trainingParams
          ? { params: JSON.parse(fs.readFileSync(o.trainingParams, 'utf8')) as Record<string, unknown>, from: `--training-params ${path.resolve(o.trainingParams)}` }
          : undefined;
        const policy = o.policy ? (JSON.parse(fs.readFileSync(o.policy, 'utf8')) as Partial<MonitorPolicy>) : undefined;
        start = await monitorStartFor(db, model, { reference: o.reference, target: o.target, trainingParams, pipeline: o.pipeline, policy });
      } finally {
        await db.end();
      }
      const client = await connectClient(config);
      try {
        const started = await ensureMonitor(client, config, start);
        if (started) console.log(`drift monitor for ${model} started (workflow drift-monitor-${model}); retrains run ${start.trainingPipeline} with params from ${start.trainingParamsFrom}`);
        else console.log(`drift monitor for ${model} is already running (workflow drift-monitor-${model}): unchanged (\`sluice monitor status ${model}\` shows its params and policy)`);
      } finally {
        await client.connection.close();
      }
    });

  monitor
    .command('status <model>')
    .option('--json', 'print JSON')
    .action(async (model: string, o: { json?: boolean }) => {
      const client = await connectClient(loadConfig());
      try {
        const s = await monitorStatus(client, model);
        if (o.json) return console.log(JSON.stringify(s, null, 2));
        console.log(`${s.model}: reference ${s.reference.name}@${s.reference.version}, ${s.consecutiveDrifted} drifted batch(es) in a row (retrain at ${s.policy.consecutive})`);
        console.log(`  ${retrainsWith(s)}`);
        console.log(`  in flight: ${s.inFlight ? `${s.inFlight.workflowId} (${s.inFlight.reason})` : 'none'}; retrains in 24h: ${s.retrainsLast24h}/${s.policy.dailyCap}; cooldown ${s.policy.cooldown}`);
        for (const r of s.recent.slice(-5)) console.log(`  ${r.at}  ${r.batchId.padEnd(20)} share ${r.share.toFixed(2)} ${r.datasetDrift ? 'DRIFT' : 'ok   '} ${r.drifted.join(', ')}`);
        const labelled = s.labelled?.at(-1);
        if (labelled) console.log(`  labelled: ${s.labelled!.length} batch(es), newest ${labelled.batchId}${labelled.window ? ` [${labelled.window.start}, ${labelled.window.end})` : ''}; data ${labelled.data.name}@${labelled.data.version}${s.policy.retrainWindow ? `, retrains on the last ${s.policy.retrainWindow}` : ''}`);
        for (const d of s.decisions.slice(-5)) console.log(`  ${d.at}  ${d.kind.padEnd(17)} ${d.reason}`);
      } finally {
        await client.connection.close();
      }
    });

  monitor
    .command('labels <model>')
    .description("send true outcomes to a model's monitor: joined with the scored batches' predictions by key, they give the task metric per window and label drift")
    .requiredOption('--source <file-or-dataset>', 'a labels file (CSV, TSV, Parquet, JSON) or a registered dataset (name or name@version)')
    .requiredOption('--key <column>', 'the column in both the labels and the predictions (scoring must keep it)')
    .option('--label <column>', "the labels' outcome column (default: the model's target)")
    .option('--batch <id>', 'join only this scored batch (default: every remembered batch)')
    .option('--id <id>', 'an id for this delivery (default: labels-<time>)')
    .addHelpText('after', '\nExample:\n  sluice monitor labels weather --source labels-june.csv --key date --label weather')
    .action(async (model: string, o: { source: string; key: string; label?: string; batch?: string; id?: string }) => {
      let source: LabelsSource;
      if (fs.existsSync(o.source)) source = { path: path.resolve(o.source) };
      else {
        const spec = parseDatasetSpec(o.source);
        source = { dataset: { name: spec.name, ...(spec.version === 'latest' ? {} : { version: spec.version }) } };
      }
      const batchId = o.id ?? `labels-${new Date().toISOString()}`;
      const client = await connectClient(loadConfig());
      try {
        await sendLabels(client, model, { batchId, labels: { source, key: o.key, ...(o.label ? { label: o.label } : {}), ...(o.batch ? { batch: o.batch } : {}) } });
        console.log(`labels ${batchId} sent to the monitor of ${model} (sluice monitor status ${model} shows the decision)`);
      } finally {
        await client.connection.close();
      }
    });

  monitor
    .command('policy <model>')
    .description("show a monitor's policy, or change it (validated by the monitor: an invalid value is refused, naming the key)")
    .option('--set <key=value...>', 'values are JSON when they parse, else strings; dots set nested keys (performance.minValue=0.7)')
    .addHelpText('after', '\nExamples:\n  sluice monitor policy weather\n  sluice monitor policy weather --set consecutive=3 retrainWindow=90d performance.metric=accuracy performance.minValue=0.7')
    .action(async (model: string, o: { set?: string[] }) => {
      const client = await connectClient(loadConfig());
      try {
        const status = await monitorStatus(client, model);
        const current = status.policy;
        // stdout stays the policy's JSON (for scripts); where retrains' params came from goes to stderr.
        console.error(retrainsWith(status));
        if (!o.set?.length) return console.log(JSON.stringify(current, null, 2));
        const updated = await setPolicy(client, model, policyPatch(current, o.set)).catch((e: Error) => {
          throw new Error(`policy not changed: ${(e.cause as Error | undefined)?.message ?? e.message}`);
        });
        console.log(JSON.stringify(updated, null, 2));
      } finally {
        await client.connection.close();
      }
    });

  program
    .command('retrain <model>')
    .description("ask a model's drift monitor to retrain it now (the Temporal UI's signal form does the same)")
    .requiredOption('--reason <text>', 'required: why (recorded with the decision)')
    .option('--by <who>', BY_HELP)
    .option('--request-id <id>', 'duplicate requests with one id start one retrain')
    .addHelpText('after', '\nExample:\n  sluice retrain penguins-species --reason "labels for October arrived"')
    .action(async (model: string, o: { reason: string; by?: string; requestId?: string }) => {
      const client = await connectClient(loadConfig());
      try {
        const request = { reason: o.reason, by: o.by ?? defaultActor(), ...(o.requestId ? { requestId: o.requestId } : {}) };
        const outcome = await retrainNow(client, model, request);
        if (outcome.kind === 'not-started') throw new Error(outcome.message);
        console.log(outcome.message);
      } finally {
        await client.connection.close();
      }
    });
}

/** A line saying what a retrain runs and where its params came from. */
function retrainsWith(s: Pick<MonitorStatus, 'training'>): string {
  // A worker on code older than this CLI answers without `training`.
  if (!s.training) return 'retrains: this monitor does not say which params they use';
  return `retrains run ${s.training.pipeline} with params from ${s.training.from ?? 'its start (where they came from was not recorded)'}`;
}

/**
 * What `sluice monitor start` starts: the reference dataset version, and the training params
 * named by a file or, without one, those of the champion's training run (and its target, unless
 * `--target` names one); drift columns default to the params' features.
 */
export async function monitorStartFor(
  db: Db,
  model: string,
  o: { reference?: string; target?: string; trainingParams?: TrainingParamsChoice; pipeline: string; policy?: Partial<MonitorPolicy> },
): Promise<MonitorStart> {
  // One look-up: the reference data and the params come from the same champion version.
  const champion = o.reference && o.trainingParams ? undefined : await championOf(db, model);
  const reference = o.reference ?? championTrainingData(model, champion);
  const spec = parseDatasetSpec(reference);
  const v = await getDatasetVersion(db, spec.name, spec.version);
  if (!v) throw new Error(`no dataset version ${reference}`);
  const training = o.trainingParams ?? (await championTrainingParams(db, model, o.pipeline, champion));
  const target = o.target ?? (!o.trainingParams && typeof training.params.target === 'string' ? training.params.target : undefined);
  return {
    model,
    reference: { uri: v.uri, sha256: v.sha256, size: v.sizeBytes, name: v.name, version: v.version, rows: v.rows, schema: v.schema },
    trainingPipeline: o.pipeline,
    trainingParams: training.params,
    trainingParamsFrom: training.from,
    ...(target ? { target } : {}),
    ...withModelColumns(o.policy, training.params),
  };
}

/**
 * Drift compares what the model reads: without `columns` in the policy, the training params'
 * `features` (and their declared `categorical` codes), not every column the data has (a time
 * column, a key and the raw outcome drift by nature and say nothing about the model's inputs).
 */
function withModelColumns(policy: Partial<MonitorPolicy> | undefined, trainingParams: Record<string, unknown>): { policy?: Partial<MonitorPolicy> } {
  const strings = (v: unknown) => (Array.isArray(v) && v.length && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined);
  const features = strings(trainingParams.features);
  if (!features || policy?.columns) return policy ? { policy } : {};
  const categorical = strings(trainingParams.categorical)?.filter((c) => features.includes(c));
  return { policy: { ...policy, columns: features, ...(categorical?.length && !policy?.categorical ? { categorical } : {}) } };
}

/** What the monitor made of a retrain request, with the sentence `sluice retrain` (and the console) shows for it. */
export interface RetrainOutcome {
  /** pending: not decided within the wait (the signal stays in the monitor's history and is decided later). */
  kind: 'started' | 'duplicate' | 'not-started' | 'pending';
  message: string;
}

/**
 * `sluice retrain MODEL`: signals the model's monitor and waits for its decision on this request.
 * The signal only asks, so the outcome says what the monitor made of it (started with its run,
 * a duplicate, or why not), not just "requested". A model without a monitor throws withMonitor's
 * "no drift monitor for model X".
 */
export async function retrainNow(client: Client, model: string, request: { reason: string; by: string; requestId?: string }): Promise<RetrainOutcome> {
  const before = (await monitorStatus(client, model)).decisions.at(-1);
  await requestRetrain(client, model, request);
  const decided = await retrainDecision(client, model, before, request);
  if (!decided) return { kind: 'pending', message: `retrain of ${model} requested; the monitor has not decided yet (\`sluice monitor status ${model}\` shows its decision)` };
  const n = decided.numbers ?? {};
  if (decided.kind === 'retrain-started') return { kind: 'started', message: `retrain of ${model} started: run ${String(n.workflowId)} on ${String(n.data)} (\`sluice monitor status ${model}\` follows it)` };
  if (decided.kind === 'duplicate-ignored') return { kind: 'duplicate', message: `${decided.reason}: nothing new started` };
  const why = decided.reason.slice(requestPrefix(request).length).replace(/^: /, '');
  const hint = /no data to retrain on/.test(why) ? ` (the monitor retrains on what was scored or labelled: let batch-scoring tell it about a batch, or send labels with \`sluice monitor labels ${model}\`)` : '';
  return { kind: 'not-started', message: `retrain of ${model} not started: ${why}${hint}` };
}

/** The start of the reason the monitor records for a person's request (workflows/monitor/monitor-state.ts). */
const requestPrefix = (r: { reason: string; by: string }) => `requested by ${r.by}: ${r.reason}`;

/**
 * The monitor's decision on a retrain request just signalled: the first decision after `before`
 * (the newest one when the request was sent) that started or skipped this request, or ignored
 * it as a duplicate. Undefined when the monitor has not decided within `timeoutMs` (its worker
 * may be down: the signal waits in its history and is decided later).
 */
async function retrainDecision(client: Client, model: string, before: MonitorDecision | undefined, request: { reason: string; by: string; requestId?: string }, timeoutMs = 15_000): Promise<MonitorDecision | undefined> {
  const same = (a: MonitorDecision, b: MonitorDecision | undefined) => b !== undefined && a.at === b.at && a.kind === b.kind && a.reason === b.reason;
  const prefix = requestPrefix(request);
  const end = Date.now() + timeoutMs;
  for (;;) {
    const decisions = (await monitorStatus(client, model)).decisions;
    const since = decisions.map((d) => same(d, before)).lastIndexOf(true);
    const found = decisions.slice(since + 1).find((d) =>
      d.kind === 'duplicate-ignored' ? request.requestId !== undefined && d.reason.includes(request.requestId) : (d.kind === 'retrain-started' || d.kind === 'retrain-skipped') && d.reason.startsWith(prefix),
    );
    if (found || Date.now() > end) return found;
    await new Promise((r) => setTimeout(r, 250));
  }
}
