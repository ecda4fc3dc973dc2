import { activityInfo, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { lookupStepCache } from '../../infra/db/step-cache';
import { rowsProcessed, stepDuration } from '../../infra/metrics';
import { recordCachedStepRun, recordFinishedStepRun, recordStepEnd, recordStepInput, recordStepOutput } from '../../infra/db/runs';
import { canonicalJson, sha256Hex } from '../../pipelines/dsl/canonical';
import { failure, invalidInput, isFailure, nonRetryableErrorTypes, SluiceFailure } from '../../pipelines/failures';
import type { StepActivity } from '../../pipelines/dsl/engine-activities';
import type { CacheProbe, StepCall, StepResult } from '../../pipelines/dsl/protocol';
import { resolveBinding } from '../../pipelines/dsl/bindings';
import { shardItem } from '../../pipelines/dsl/fan-out';
import { jsonSize } from '../../pipelines/dsl/claim';
import type { ActivityDeps } from '../context';
import { collectArtifactRefs, contentOnly } from './artifact-refs';
import { claimLargeOutput, resolveClaims, storeClaim } from './claims';
import { fingerprintModule } from './fingerprint';
import { assertRunInterface } from './schema-check';
import type { StepImplementation } from './implement';
import { keepAlive, type Pulse } from './keep-alive';
import { readCheckpoint } from './read-checkpoint';
import { runItemBatch } from './item-batch';
import { DeferredBooks, liveBook, type StepBook } from './step-book';
import { hostPort, infrastructureFault, type InfraTargets } from './infra-faults';
import { retryInfrastructure } from './infra-retry';
import { parseDuration } from '../../infra/config';
import { unknownKeysErrorMap } from '../../pipelines/dsl/unknown-keys';

/**
 * Turns a step implementation into the Temporal activity the engine calls (activity type = step
 * name). Around the implementation it: validates the input (bad input fails non-retryably, naming
 * the field), answers from the cache when it can, records the step run, its inputs and outputs in
 * PostgreSQL, and validates the output against the step's schema before recording it.
 */
export function stepActivity(deps: ActivityDeps, impl: StepImplementation): StepActivity {
  const { step } = impl;
  const fingerprint = fingerprintModule(impl.module);
  const targets = infraTargets(deps);
  // The configuration never changes while a worker runs: parse its retry window once.
  const infraRetryMs = parseDuration(deps.config.infraRetry);
  const claimThreshold = deps.config.engine?.claimThreshold ?? Infinity;
  const keyOf = (call: StepCall, input: unknown) =>
    sha256Hex(canonicalJson({ step: step.name, version: step.version, code: call.cache.key === 'version' ? undefined : fingerprint, input: contentOnly(input) }));
  /** A shard's cache probe (StepCall.probe): every item's input, one batch of look-ups, the hits recorded as cached step runs. */
  const probeCache = async (call: StepCall, probe: CacheProbe): Promise<StepResult> => {
    const info = activityInfo();
    const { run } = call;
    const hits: number[] = [];
    const outputs: unknown[] = new Array(probe.to - probe.from);
    const probeItem = async (i: number) => {
      const node = `${probe.node}[${i}]`;
      const raw = resolveBinding(probe.inputs, { params: {}, outputs: new Map(), item: { node: probe.node, value: shardItem(probe.items, i) } });
      const parsed = step.input.safeParse(await resolveClaims(deps.store, raw));
      // An input that does not parse is no hit: running the item fails it, naming the field.
      if (!parsed.success) return;
      const cacheKey = keyOf(call, parsed.data);
      const hit = await lookupStepCache(deps.db, cacheKey);
      if (!hit || !(await artifactsStillExist(deps, hit.output))) return;
      const sent = await claimLargeOutput(deps.store, hit.output, claimThreshold);
      await recordCachedStepRun(deps.db, { runId: run.runId, node, step: step.name, stepVersion: step.version, queue: step.queue, attempt: 1, outputs: sent, cacheKey });
      for (const ref of collectArtifactRefs(parsed.data)) await recordStepInput(deps.db, run.runId, node, ref.uri);
      for (const ref of collectArtifactRefs(hit.output)) await recordStepOutput(deps.db, run.runId, node, ref, 'reused');
      outputs[i - probe.from] = sent;
      hits.push(i);
    };
    // All at once: the look-ups and writes of the whole shard go out in a few batched statements.
    await Promise.all(Array.from({ length: probe.to - probe.from }, (_, k) => probeItem(probe.from + k)));
    deps.log.info('cache probe', { runId: run.runId, node: `${probe.node}[${probe.from}..${probe.to - 1}]`, step: step.name, items: probe.to - probe.from, hits: hits.length });
    hits.sort((a, b) => a - b);
    // The hits' outputs themselves, when asked for and small; else, when every item hit, the
    // range's fan-in stored now (no shard needed).
    const answered = probe.inline ? hits.map((i) => outputs[i - probe.from]) : undefined;
    if (answered && jsonSize(answered) <= claimThreshold) return { output: null, cached: true, attempt: info.attempt, probe: { hits, outputs: answered } };
    const results = probe.collect && hits.length === probe.to - probe.from ? await storeClaim(deps.store, outputs) : undefined;
    return { output: null, cached: true, attempt: info.attempt, probe: { hits, ...(results ? { results } : {}) } };
  };
  /**
   * `batch`: how a batch's try goes (step-activity's caller tracks the item running and whether this is a retry).
   * `books`: an item of a batch writes its bookkeeping through the batch's deferred books (./step-book.ts).
   */
  const runStep = async (call: StepCall, pulse: Pulse, checkpointDetails: unknown, batch?: BatchTry, itemAttempt?: number, books?: DeferredBooks): Promise<StepResult> => {
    const info = { ...activityInfo(), ...(itemAttempt === undefined ? {} : { attempt: itemAttempt }) };
    const { run } = call;
    if (call.stepVersion !== step.version) {
      throw failure('StepVersionMismatch', `node ${run.node} wants step ${step.name}@${call.stepVersion} but this worker implements @${step.version}`);
    }
    await assertRunInterface(call, step);
    if (call.probe) return probeCache(call, call.probe);
    if (call.batch) {
      const tries = batch!.tries++;
      const itemBooks = new DeferredBooks(deps.db);
      return runItemBatch(call, call.batch, {
        db: deps.db,
        // A local batch whose workflow task was retried starts again at attempt 1: check then too.
        retry: info.attempt > 1 || tries > 0 || info.isLocal,
        attempt: info.attempt,
        heartbeat: checkpointDetails,
        pulse,
        signal: Context.current().cancellationSignal,
        claimThreshold,
        runItem: (item, checkpoint, itemPulse, attempt) =>
          runStep(item, itemPulse, checkpoint, undefined, attempt, itemBooks).catch((e: unknown) => {
            throw toTemporalFailure(e);
          }),
        settle: () => itemBooks.settle(),
        retryable: (f) => !nonRetryableErrorTypes(step.retry.nonRetryableErrorTypes).includes(f.type ?? ''),
        running: (node) => (batch!.node = node),
        infrastructure: (e) => infrastructureFault(e, targets) !== undefined,
      });
    }
    const timer = stepDuration.startTimer({ step: step.name, queue: step.queue });
    const log = deps.log.child({ runId: run.runId, workflowId: run.workflowId, pipeline: run.pipeline, node: run.node, step: step.name, attempt: info.attempt });
    // Values passed by reference (claim checks) are read back here: the implementation, its
    // schema and its cache key see the value itself, never the reference.
    const input = parseOrFail(step.input, await resolveClaims(deps.store, call.input), `input of step ${step.name} (node ${run.node})`);
    const cacheKey = keyOf(call, input);
    const row = { runId: run.runId, node: run.node, step: step.name, stepVersion: step.version, queue: step.queue, attempt: info.attempt };
    const book: StepBook = books ? books.item(row) : liveBook(deps.db, row);
    // Bookkeeping off the critical path where it can be: the cache look-up goes out with the
    // `running` row, not after it (one round trip before the implementation, not two or three).
    const lookup = call.cache.enabled && !call.cache.force ? lookupStepCache(deps.db, cacheKey) : undefined;
    lookup?.catch(() => undefined); // awaited below; a failed start must not leave it unhandled
    await book.start();
    // From here on the step has a `running` row: whatever ends this try writes its final state,
    // except an infrastructure fault, which retryInfrastructure retries (and records if it gives up).
    try {
      await Promise.all(collectArtifactRefs(input).map((ref) => book.input(ref.uri)));

      if (lookup) {
        const hit = await lookup;
        if (hit && (await artifactsStillExist(deps, hit.output))) {
          const [sent] = await Promise.all([claimLargeOutput(deps.store, hit.output, claimThreshold), ...collectArtifactRefs(hit.output).map((ref) => book.output(ref, 'reused'))]);
          await book.end({ status: 'cached', outputs: sent, cacheKey });
          log.info('step cached', { from: hit.run_id ? `${hit.run_id}/${hit.node}` : undefined });
          timer({ status: 'cached' });
          return { output: sent, cached: true, cacheKey, attempt: info.attempt };
        }
      }

      log.info('step started');
      const ctx = Context.current();
      const raw = await impl.run(input, {
        store: deps.store,
        db: deps.db,
        log,
        run: { runId: run.runId, workflowId: run.workflowId, pipeline: run.pipeline, node: run.node },
        attempt: info.attempt,
        checkpoint: readCheckpoint(step, checkpointDetails, log),
        heartbeat: (d) => pulse.beat(d),
        signal: ctx.cancellationSignal,
        device: deps.device,
        temporal: deps.temporal,
        inference: deps.inference,
        dataRoots: deps.config.dataRoots,
        countRows: (n) => rowsProcessed.inc({ step: step.name }, n),
      });
      const output = parseOrFail(step.output, raw, `output of step ${step.name} (node ${run.node})`);
      // The lineage, the cache entry and the claim of large parts together; then the row's end.
      // What history carries (and step_runs records, which a fan-in by reference reads back):
      // the output, or a claim of its large parts.
      const [sent] = await Promise.all([
        claimLargeOutput(deps.store, output, claimThreshold),
        ...collectArtifactRefs(output).map((ref) => book.output(ref)),
        call.cache.enabled ? book.cache({ key: cacheKey, step: step.name, version: step.version, fingerprint, output, runId: run.runId, node: run.node }) : undefined,
      ]);
      await book.end({ status: 'succeeded', outputs: sent, cacheKey });
      log.info('step succeeded');
      timer({ status: 'succeeded' });
      return { output: sent, cached: false, cacheKey, attempt: info.attempt };
    } catch (e) {
      if (infrastructureFault(e, targets)) throw e;
      const err = e as Error;
      await book.end({ status: 'failed', error: err.message }).catch(() => undefined);
      log.error('step failed', { error: err });
      timer({ status: 'failed' });
      throw e;
    }
  };
  return async function (call: StepCall): Promise<StepResult> {
    const ctx = Context.current();
    const pulse = keepAlive(ctx);
    const { run } = call;
    const log = deps.log.child({ runId: run.runId, workflowId: run.workflowId, pipeline: run.pipeline, node: run.node, step: step.name, attempt: ctx.info.attempt });
    // A batch's failed try is recorded on the item that was running, not on the batch.
    const batch: BatchTry = { tries: 0, node: run.node };
    try {
      return await retryInfrastructure(() => runStep(call, pulse, ctx.info.heartbeatDetails, batch), {
        targets,
        budgetMs: infraRetryBudget(infraRetryMs, ctx.info),
        sleep: (ms) => ctx.sleep(ms),
        onRetry: (fault, delayMs, retry) =>
          log.warn(`${fault.what} unreachable; retrying the step in ${delayMs / 1000} s within this attempt`, { fault: fault.detail, retry }),
      });
    } catch (e) {
      if (isFailure(e, 'InfrastructureUnavailable') && !(call.batch && batch.node === run.node)) {
        log.error('step failed', { error: e });
        const failed = { status: 'failed' as const, error: e.message };
        // A batch item has no row until it ends (./step-book.ts): write it whole.
        const write = call.batch
          ? recordFinishedStepRun(deps.db, { runId: run.runId, node: batch.node, step: step.name, stepVersion: step.version, queue: step.queue, attempt: ctx.info.attempt, ...failed })
          : recordStepEnd(deps.db, { runId: run.runId, node: batch.node, ...failed });
        await write.catch(() => undefined);
      }
      throw toTemporalFailure(e);
    } finally {
      pulse.stop();
    }
  };
}

/** A batch's tries within one attempt (infrastructure retries), and the item it is running. */
interface BatchTry {
  tries: number;
  node: string;
}

/** host:port of the metadata database, the S3 endpoint and Temporal, to name the one that fails. */
function infraTargets(deps: ActivityDeps): InfraTargets {
  const dbUrl = (deps.db as { options?: { connectionString?: string } }).options?.connectionString;
  return {
    database: hostPort(dbUrl),
    artifactStore: deps.config.artifacts.kind === 's3' ? hostPort(deps.config.artifacts.endpoint) : undefined,
    temporal: deps.config.temporal.address,
  };
}

/**
 * SLUICE_INFRA_RETRY, cut to what the attempt's start-to-close timeout leaves (less a margin to
 * fail in): retrying past it would end in a timeout, which says less than the fault's name.
 */
export function infraRetryBudget(configuredMs: number, info: { startToCloseTimeoutMs: number; currentAttemptScheduledTimestampMs: number }, now = Date.now()): number {
  if (!info.startToCloseTimeoutMs) return configuredMs;
  const left = info.startToCloseTimeoutMs - (now - info.currentAttemptScheduledTimestampMs) - 5_000;
  return Math.max(0, Math.min(configuredMs, left));
}

async function artifactsStillExist(deps: ActivityDeps, output: unknown): Promise<boolean> {
  for (const ref of collectArtifactRefs(output)) {
    try {
      if (!(await deps.store.exists(ref.uri))) return false;
    } catch {
      return false; // a ref into another store (say, before a switch to S3): recompute
    }
  }
  return true;
}

export function parseOrFail<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  // An unknown key is named with where it is and the keys accepted there, as in a run's params.
  const r = schema.safeParse(value, { error: unknownKeysErrorMap(what.split(' ')[0]!) });
  if (r.success) return r.data;
  const details = r.error.issues
    .map((i) => (i.code === 'unrecognized_keys' ? i.message : `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`))
    .join('; ');
  throw invalidInput(`invalid ${what}: ${details}`);
}

/**
 * The one place domain failures become Temporal failures: a SluiceFailure (RegistryError and
 * the other domain error classes are ones) becomes an ApplicationFailure with its type, its
 * retryability from the table in pipelines/failures.ts, and its details. Anything else (an
 * ApplicationFailure already, a cancellation, an infrastructure fault) passes through as it is.
 */
export function toTemporalFailure(e: unknown): unknown {
  if (!(e instanceof SluiceFailure)) return e;
  const f = ApplicationFailure.create({ type: e.type, message: e.message, nonRetryable: !e.retryable, details: e.details === undefined ? [] : [e.details] });
  if (e.stack) f.stack = e.stack;
  return f;
}

/** Sleeps in slices, heartbeating each, so cancellation and worker death are noticed quickly. */
export async function sleepWithHeartbeat(ms: number, ctx: { heartbeat(d?: unknown): void; signal: AbortSignal }, checkpoint: (elapsed: number) => unknown): Promise<void> {
  const slice = 250;
  for (let elapsed = 0; elapsed < ms; elapsed += slice) {
    if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('cancelled');
    ctx.heartbeat(checkpoint(elapsed));
    await new Promise((r) => setTimeout(r, Math.min(slice, ms - elapsed)));
  }
}
