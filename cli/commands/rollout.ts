import fs from 'node:fs';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import { loadConfig, type SluiceConfig } from '../../infra/config';
import { abortSignal, pauseSignal, resumeSignal, rolloutStatusQuery, setWeightsUpdate } from '../../pipelines/rollout/messages';
import { CANDIDATE, CONTROL, rolloutId, rolloutStart, type RolloutStart, type RolloutStatus, type SetWeightsRequest, type Variant } from '../../pipelines/rollout/protocol';
import { rolloutWorkflowOptions } from '../../pipelines/rollout/start';
import { BY_HELP, defaultActor } from '../actor';
import { connectClient } from '../client';

/**
 * `sluice rollout start|status|pause|resume|abort|weights`: the controls of a model's rollout
 * workflow (workflow id `rollout-<model>`; the Temporal UI's forms reach the same signals).
 */

/** Starts the rollout; the params are checked here first, so a mistake names its field before anything starts. */
export async function startRollout(client: Client, config: Pick<SluiceConfig, 'queues'>, start: RolloutStart): Promise<WorkflowHandle> {
  checkStart(start);
  try {
    return await client.workflow.start('rollout', rolloutWorkflowOptions(start, config.queues.workflow));
  } catch (e) {
    if ((e as Error).name === 'WorkflowExecutionAlreadyStartedError') throw new Error(`a rollout of ${start.model} is running already (sluice rollout status ${start.model}; abort it first)`);
    throw e;
  }
}

/** Throws naming every field of `start` that does not fit the rollout's schema. */
export function checkStart(start: RolloutStart): void {
  const parsed = rolloutStart.safeParse(start);
  if (!parsed.success) throw new Error(`invalid rollout: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ')}`);
}

/** Runs `fn` on the model's rollout; a model without one reads "no rollout for model X", not Temporal's "workflow not found". */
export async function withRollout<T>(client: Client, model: string, fn: (h: WorkflowHandle) => Promise<T>): Promise<T> {
  try {
    return await fn(client.workflow.getHandle(rolloutId(model)));
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) throw new Error(`no rollout for model ${model} (start one with \`sluice rollout start ${model} --candidate VERSION --strategy canary\`)`);
    throw e;
  }
}

export const rolloutStatus = (client: Client, model: string): Promise<RolloutStatus> => withRollout(client, model, (h) => h.query(rolloutStatusQuery));

/** `control=0.8 candidate=0.2` (or one of them: the other gets the rest) as the setWeights request's weights. */
export function parseWeights(pairs: string[]): Record<Variant, number> {
  const w: Partial<Record<Variant, number>> = {};
  for (const p of pairs) {
    const m = /^(control|candidate)=([0-9.]+)(%?)$/.exec(p.trim());
    if (!m) throw new Error(`"${p}": expected control=W or candidate=W (a share 0..1, or a percentage like 25%)`);
    w[m[1] as Variant] = Number(m[2]) / (m[3] ? 100 : 1);
  }
  if (w.control === undefined && w.candidate !== undefined) w.control = 1 - w.candidate;
  if (w.candidate === undefined && w.control !== undefined) w.candidate = 1 - w.control;
  if (w.control === undefined || w.candidate === undefined) throw new Error('give control=W, candidate=W or both');
  return { control: round6(w.control), candidate: round6(w.candidate) };
}
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

export async function setRolloutWeights(client: Client, model: string, req: SetWeightsRequest): Promise<Record<Variant, number>> {
  return withRollout(client, model, (h) => h.executeUpdate(setWeightsUpdate, { args: [req] })).catch((e: Error) => {
    throw new Error(`weights not changed: ${(e.cause as Error | undefined)?.message ?? e.message}`);
  });
}

const percent = (w: number | undefined) => (w === undefined ? '—' : `${Math.round(w * 10_000) / 100}%`);
const num = (x: number | null | undefined, d = 4) => (x === null || x === undefined ? '—' : String(Math.round(x * 10 ** d) / 10 ** d));

export function renderStatus(s: RolloutStatus): string[] {
  const lines = [`${s.model}: ${s.strategy} rollout of v${s.candidate} against ${s.control === null ? '(resolving)' : `v${s.control}`} — ${s.phase}${s.paused ? ' (paused)' : ''}`];
  lines.push(`  weights: control ${percent(s.weights.control)}, candidate ${percent(s.weights.candidate)}${s.step ? `; step ${s.step.index + 1} at ${s.step.percent}% since ${s.step.since}` : ''}`);
  for (const v of [CONTROL, CANDIDATE] as const) {
    const c = s.counts[v];
    if (c) lines.push(`  ${v.padEnd(9)} ${c.requests} requests, ${c.errors} errors, p99 ${num(c.p99Ms, 1)} ms, rewards ${num(c.successes, 2)}/${c.rewarded}, labels ${c.correct}/${c.labelled} correct`);
  }
  if (s.posteriors) {
    for (const [v, p] of Object.entries(s.posteriors)) {
      // A continuous reward's posterior has a pseudo-count (kappa); a conversion rate's is a Beta.
      const shape = p.kappa !== undefined ? `Normal mean ${num(p.mean)} ± ${num(p.sd)} (${p.kappa} rewards)` : `Beta(${num(p.alpha, 2)}, ${num(p.beta, 2)}), mean ${num(p.mean)}`;
      lines.push(`  posterior ${v}: ${shape}, P(best) ${num(p.pBest)}`);
    }
  }
  if (s.guardrails) lines.push(`  guardrails: error rate ${num(s.guardrails.errorRate)}, p99 ${num(s.guardrails.p99Ms, 1)} ms, accuracy ${num(s.guardrails.accuracy)} vs ${num(s.guardrails.controlAccuracy)}${s.guardrails.breaches.length ? `; BREACHED: ${s.guardrails.breaches.join('; ')}` : ''}`);
  if (s.report) lines.push(`  report: ${s.report.uri} (${s.report.pairs} pairs, agreement ${num(s.report.agreement)}, mean |score diff| ${num(s.report.meanAbsScoreDiff)})`);
  for (const d of s.decisions.slice(-8)) lines.push(`  ${d.at}  ${d.kind.padEnd(16)} ${d.reason}`);
  for (const r of s.rejected.slice(-3)) lines.push(`  rejected ${r.at}  ${r.reason}`);
  return lines;
}

const list = (s: string) => s.split(',').map((x) => Number(x.trim()));
const int = (s: string) => Number(s);

interface StartOptions {
  candidate: string;
  strategy: string;
  control?: string;
  params?: string;
  checkEvery?: string;
  steps?: string;
  hold?: string;
  minRequests?: string;
  duration?: string;
  shadowRequests?: string;
  interval?: string;
  minSamples?: string;
  threshold?: string;
  reward?: string;
  maxErrorRate?: string;
  maxP99Ms?: string;
  by?: string;
  wait?: boolean;
}

/** The start object from the command line: a params file (optional) with the flags on top. */
export function startFromOptions(model: string, o: StartOptions): RolloutStart {
  const base = (o.params ? JSON.parse(fs.readFileSync(o.params, 'utf8')) : {}) as Record<string, Record<string, unknown> | unknown>;
  const group = (k: string) => ({ ...((base[k] as Record<string, unknown> | undefined) ?? {}) });
  const canary = group('canary');
  const shadow = group('shadow');
  const ab = group('ab');
  const guardrails = group('guardrails');
  if (o.steps) canary.steps = list(o.steps);
  if (o.hold) canary.hold = o.hold;
  if (o.minRequests) canary.minRequests = int(o.minRequests);
  if (o.duration) shadow.duration = o.duration;
  if (o.shadowRequests) shadow.requests = int(o.shadowRequests);
  if (o.interval) ab.interval = o.interval;
  if (o.minSamples) ab.minSamples = int(o.minSamples);
  if (o.threshold) ab.threshold = Number(o.threshold);
  if (o.reward) ab.reward = o.reward;
  if (o.maxErrorRate) guardrails.maxErrorRate = Number(o.maxErrorRate);
  if (o.maxP99Ms) guardrails.maxP99Ms = Number(o.maxP99Ms);
  const nonEmpty = (k: string, v: Record<string, unknown>) => (Object.keys(v).length ? { [k]: v } : {});
  // Partial groups: the schema fills the rest with its defaults.
  return {
    ...(base as object),
    model,
    candidate: int(o.candidate),
    strategy: o.strategy as RolloutStart['strategy'],
    ...(o.control ? { control: int(o.control) } : {}),
    ...(o.checkEvery ? { checkEvery: o.checkEvery as RolloutStart['checkEvery'] } : {}),
    by: o.by ?? (base.by as string | undefined) ?? defaultActor(),
    ...nonEmpty('canary', canary),
    ...nonEmpty('shadow', shadow),
    ...nonEmpty('ab', ab),
    ...nonEmpty('guardrails', guardrails),
  } as RolloutStart;
}

async function withClient<T>(fn: (client: Client, config: SluiceConfig) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const client = await connectClient(config);
  try {
    return await fn(client, config);
  } finally {
    await client.connection.close();
  }
}

export function registerRolloutCommands(program: Command): void {
  const cmd = program.command('rollout').description("roll a model version out to online serving (shadow, canary, A/B with Thompson sampling): one durable workflow per model");

  cmd
    .command('start <model>')
    .description('start the rollout of a candidate version against the champion (or --control)')
    .requiredOption('--candidate <version>', 'the version to roll out')
    .requiredOption('--strategy <shadow|canary|ab>', 'shadow: mirror traffic and report; canary: weight steps with guardrails; ab: Thompson sampling on rewards')
    .option('--control <version>', 'compare with this version (default: the champion)')
    .option('--params <file>', 'a JSON file with the whole start object (flags override it)')
    .option('--check-every <duration>', 'how often outcomes are read (default 30s)')
    .option('--steps <list>', 'canary: candidate percentages, e.g. 5,25,50,100')
    .option('--hold <duration>', 'canary: minimum time per step (default 10m)')
    .option('--min-requests <n>', 'canary: minimum candidate requests per step (default 100)')
    .option('--duration <duration>', 'shadow: how long to mirror (default 1h)')
    .option('--shadow-requests <n>', 'shadow: or until this many shadow predictions')
    .option('--interval <duration>', 'ab: re-weighting interval (default 5m)')
    .option('--min-samples <n>', 'ab: rewarded predictions per variant before a winner (default 200)')
    .option('--threshold <p>', 'ab: P(best) that wins (default 0.95)')
    .option('--reward <kind>', 'ab: binary (conversions, Beta posterior; default) or continuous (any number, Normal posterior)')
    .option('--max-error-rate <rate>', 'guardrail: candidate error rate (default 0.02)')
    .option('--max-p99-ms <ms>', 'guardrail: candidate p99 latency')
    .option('--by <who>', BY_HELP)
    .option('--wait', 'wait for the rollout to end and print its outcome')
    .addHelpText('after', '\nExamples:\n  sluice rollout start churn --candidate 7 --strategy canary --steps 5,25,50,100 --hold 15m\n  sluice rollout start churn --candidate 7 --strategy ab --interval 10m --min-samples 500\n  sluice rollout start churn --candidate 7 --strategy shadow --duration 2h')
    .action((model: string, o: StartOptions) => {
      const start = startFromOptions(model, o);
      checkStart(start); // before connecting: a typo is named even with no Temporal around
      return withClient(async (client, config) => {
        const handle = await startRollout(client, config, start);
        console.log(`rollout of ${model} started (workflow ${handle.workflowId}); see \`sluice rollout status ${model}\``);
        if (o.wait) console.log(JSON.stringify(await handle.result(), null, 2));
      });
    });

  cmd
    .command('status <model>')
    .description('phase, weights, counts, posteriors, guardrail values and recent decisions')
    .option('--json', 'print JSON')
    .action((model: string, o: { json?: boolean }) =>
      withClient(async (client) => {
        const s = await rolloutStatus(client, model);
        console.log(o.json ? JSON.stringify(s, null, 2) : renderStatus(s).join('\n'));
      }),
    );

  const control = (name: 'pause' | 'resume' | 'abort', def: typeof pauseSignal, what: string) =>
    cmd
      .command(`${name} <model>`)
      .description(what)
      .option('--reason <text>', 'why (recorded with the decision)')
      .option('--by <who>', BY_HELP)
      .action((model: string, o: { reason?: string; by?: string }) =>
        withClient(async (client) => {
          await withRollout(client, model, (h) => h.signal(def, { by: o.by ?? defaultActor(), ...(o.reason ? { reason: o.reason } : {}) }));
          console.log(`${name} sent to the rollout of ${model}`);
        }),
      );
  control('pause', pauseSignal, 'freeze the weights (guardrails still roll back)');
  control('resume', resumeSignal, 'let the rollout change weights again');
  control('abort', abortSignal, "roll back: remove the model's routes (traffic returns to the champion) and end the rollout");

  cmd
    .command('weights <model> <weights...>')
    .description('set the live weights by hand (validated by the rollout; pauses automatic changes until resume)')
    .option('--reason <text>', 'why (recorded with the decision)')
    .option('--by <who>', BY_HELP)
    .addHelpText('after', '\nExample:\n  sluice rollout weights churn candidate=10% --reason "hold at 10 over the weekend"')
    .action((model: string, weights: string[], o: { reason?: string; by?: string }) =>
      withClient(async (client) => {
        const set = await setRolloutWeights(client, model, { weights: parseWeights(weights), by: o.by ?? defaultActor(), ...(o.reason ? { reason: o.reason } : {}) });
        console.log(`${model}: control ${percent(set.control)}, candidate ${percent(set.candidate)}`);
      }),
    );
}
