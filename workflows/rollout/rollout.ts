import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { EngineLocalActivities } from '../../pipelines/dsl/engine-activities';
import type { RejectedMessage } from '../../pipelines/dsl/protocol';
import { nonRetryableErrorTypes } from '../../pipelines/failures';
import type { RolloutActivities } from '../../pipelines/rollout/activities';
import { checkGuardrails, liveRoutes, posteriors, seededRandom, shadowRoutes, stepDone, thompsonCandidateWeight, winnerOf } from '../../pipelines/rollout/decide';
import { abortSignal, pauseSignal, resumeSignal, rolloutStatusQuery, setWeightsUpdate } from '../../pipelines/rollout/messages';
import {
  CANDIDATE,
  CONTROL,
  FINAL_PHASES,
  reasonSignal,
  rolloutStart,
  setWeightsRequest,
  type Phase,
  type RampPolicy,
  type RolloutArgs,
  type RolloutDecision,
  type RolloutResult,
  type RolloutStart,
  type RolloutStatus,
  type Variant,
} from '../../pipelines/rollout/protocol';
import type { Route } from '../../pipelines/serving/routes';
import { ModelName } from '../../pipelines/search-attributes';
import { durationMs } from '../../pipelines/vocab/duration';
import { onSignal, onUnknownSignal, onUpdate, withRejection } from '../shared/safe-handlers';

/** Everything the rollout knows, carried over continue-as-new. Plain JSON. */
export interface RolloutState extends Omit<RolloutStatus, 'model' | 'strategy' | 'candidate'> {
  /** Start of the current window (the shadow, the A/B test); ISO workflow time. */
  phaseSince: string;
  /** The ramp being walked: the canary's, or a winner's rollout. */
  ramp: RampPolicy | null;
  lastReweightAt: string | null;
  seq: number;
  reason: string;
}

/** How many decisions the status keeps (all of them are in monitor_decisions). */
const KEEP_DECISIONS = 50;

type Event = { kind: 'pause' | 'resume' | 'abort'; reason: string; by: string } | { kind: 'rejected'; rejection: RejectedMessage };

const now = () => new Date(Date.now());
const iso = () => now().toISOString();
const sinceMs = (at: string) => Date.now() - Date.parse(at);
const round = (x: number | null, digits = 4) => (x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits);

/**
 * The durable rollout of one candidate version of a model (workflow id `rollout-<model>`):
 *  - shadow: the candidate scores a mirror of the traffic; after `shadow.duration` (or
 *    `shadow.requests` shadow predictions) a comparison report is written and the routes removed;
 *  - canary: the candidate's share walks `canary.steps`, each held `hold` and `minRequests`, then
 *    it becomes champion;
 *  - ab: Thompson sampling re-weights control and candidate every `ab.interval` from the rewards;
 *    when one variant's P(best) ≥ `ab.threshold` (after `ab.minSamples` rewards each) it wins:
 *    a winning candidate ramps up (`ab.rollout`) and becomes champion; a winning control stays.
 * Guardrails (error rate, p99 latency, accuracy against the control) are checked on every read
 * of the live phases, paused or not; any breach rolls back. Rolling back (a breach, `abort`, a
 * cancellation, a failure) deletes the model's routes: its traffic returns to its champion.
 * A state machine driven by one loop, so it resumes anywhere after continue-as-new or a restart.
 */
export async function rollout(rawArgs: RolloutStart, carried?: RolloutState): Promise<RolloutResult> {
  const parsed = rolloutStart.safeParse(rawArgs);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(`invalid rollout start: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ')}`, 'InvalidInput');
  }
  const args: RolloutArgs = parsed.data;
  const info = workflowInfo();
  upsertSearchAttributes([{ key: ModelName, value: args.model }]);
  const local = proxyLocalActivities<EngineLocalActivities>({ startToCloseTimeout: '30s' });
  const queues = await local.sluiceTaskQueues();
  // Short database calls: a worker that dies mid-call costs its retry 10 s, not a minute of a
  // rollout holding its weights. The shadow report aggregates a whole window: longer.
  const retry = { maximumInterval: '30s', nonRetryableErrorTypes: nonRetryableErrorTypes() };
  const acts = proxyActivities<RolloutActivities>({ taskQueue: queues.cpu, startToCloseTimeout: '10s', retry });
  const reports = proxyActivities<Pick<RolloutActivities, 'rolloutShadowReport'>>({ taskQueue: queues.cpu, startToCloseTimeout: '5m', retry });
  const checkEveryMs = durationMs(args.checkEvery);

  const s: RolloutState = carried ?? {
    control: args.control ?? null,
    phase: args.strategy === 'shadow' ? 'shadow' : args.strategy === 'canary' ? 'canary' : 'testing',
    paused: false,
    weights: {},
    step: null,
    counts: {},
    posteriors: null,
    guardrails: null,
    report: null,
    decisions: [],
    rejected: [],
    phaseSince: iso(),
    ramp: args.strategy === 'canary' ? args.canary : null,
    lastReweightAt: null,
    seq: 0,
    reason: '',
  };
  const final = () => FINAL_PHASES.includes(s.phase);
  const versions = () => ({ control: s.control!, candidate: args.candidate });

  const decide = async (kind: RolloutDecision['kind'], reason: string, numbers?: Record<string, unknown>) => {
    const decision: RolloutDecision = { seq: ++s.seq, at: iso(), kind, reason, ...(numbers ? { numbers } : {}) };
    s.decisions = [...s.decisions, decision].slice(-KEEP_DECISIONS);
    // Keyed by the rollout's first run: a later rollout of the model (same workflow id) numbers its own decisions.
    await acts.recordRolloutDecision({ model: args.model, workflowId: `${info.workflowId}/${info.firstExecutionRunId}`, decision });
  };
  const setRoutes = async (routes: Route[]) => {
    await acts.rolloutSetRoutes({ model: args.model, rolloutId: info.workflowId, routes });
    s.weights = Object.fromEntries(routes.filter((r) => r.mode === 'live').map((r) => [r.variant, r.weight]));
  };
  const setCandidateWeight = (w: number) => setRoutes(liveRoutes(versions(), w));
  const finish = (phase: Phase, reason: string) => {
    s.phase = phase;
    s.reason = reason;
  };
  /** A training run's pending promotion, when this rollout settles one (only then: histories without it issue no such command). */
  const rejectDecision = async (reason: string) => {
    if (args.decision === undefined) return;
    await acts.rolloutRejectDecision({ model: args.model, candidate: args.candidate, decision: args.decision, actor: args.by, reason: `rollout ${info.workflowId}: ${reason}`, rolloutId: info.workflowId });
  };
  const rollBack = async (phase: 'rolled-back' | 'aborted', reason: string, numbers?: Record<string, unknown>) => {
    const { removed } = await acts.rolloutClearRoutes({ model: args.model, rolloutId: info.workflowId });
    s.weights = {};
    finish(phase, reason);
    await decide(phase, `${reason}; routes removed, traffic back to the champion`, { ...numbers, removedRoutes: removed });
    await rejectDecision(reason);
  };

  // One writer of the routes at a time: the loop's reads and decisions, or a setWeights update.
  let busy = false;
  const exclusive = async <T>(fn: () => Promise<T>): Promise<T> => {
    await condition(() => !busy);
    busy = true;
    try {
      return await fn();
    } finally {
      busy = false;
    }
  };

  const events: Event[] = [];
  const reject = (r: RejectedMessage) => {
    s.rejected = withRejection(s.rejected, r);
    events.push({ kind: 'rejected', rejection: r });
  };
  onSignal(pauseSignal, reasonSignal, (b) => void events.push({ kind: 'pause', ...b }), reject);
  onSignal(resumeSignal, reasonSignal, (b) => void events.push({ kind: 'resume', ...b }), reject);
  onSignal(abortSignal, reasonSignal, (b) => void events.push({ kind: 'abort', ...b }), reject);
  onUnknownSignal(reject);
  setHandler(rolloutStatusQuery, (): RolloutStatus => {
    const { phaseSince: _p, ramp: _r, lastReweightAt: _l, seq: _s, reason: _why, ...status } = s;
    return { model: args.model, strategy: args.strategy, candidate: args.candidate, ...status };
  });
  onUpdate(
    setWeightsUpdate,
    setWeightsRequest,
    (req) =>
      exclusive(async () => {
        if (final() || s.phase === 'shadow' || s.control === null) throw new Error(`the rollout is ${s.control === null ? 'starting' : s.phase}: no live weights to set`);
        await setCandidateWeight(req.weights[CANDIDATE]);
        s.paused = true;
        await decide('weights', `set by ${req.by}: ${req.reason} (automatic changes paused until resume)`, { weights: s.weights });
        return s.weights as Record<Variant, number>;
      }),
    () => {
      if (final() || s.phase === 'shadow') throw ApplicationFailure.nonRetryable(`the rollout is ${s.phase}: no live weights to set`, 'InvalidInput');
    },
  );

  /** Starts ramp step `index`: the candidate's weight moves to its percentage. */
  const enterStep = async (ramp: RampPolicy, index: number, why: string) => {
    const percent = ramp.steps[index]!;
    await setCandidateWeight(percent / 100);
    s.step = { index, percent, since: iso() };
    await decide('step', `${why}: candidate at ${percent}%`, { step: index, percent, weights: s.weights });
  };

  const promote = async (numbers: Record<string, unknown>) => {
    const reason = `rollout ${info.workflowId} (${args.strategy}): v${args.candidate} replaces v${s.control}; ${JSON.stringify(numbers)}`;
    const moved = await acts.rolloutPromote({ model: args.model, version: args.candidate, actor: args.by, reason, rolloutId: info.workflowId, ...(args.decision !== undefined ? { decision: args.decision } : {}) });
    await acts.rolloutClearRoutes({ model: args.model, rolloutId: info.workflowId });
    s.weights = {};
    s.step = null;
    finish('promoted', `v${args.candidate} is champion`);
    await decide('promoted', `champion ${moved.from === null ? '(none)' : `v${moved.from}`} → v${moved.to}; routes removed`, { ...numbers, from: moved.from, to: moved.to });
  };

  const tick = async () => {
    if (s.phase === 'shadow') {
      const stats = await acts.rolloutStats({ model: args.model, since: s.phaseSince, variants: [{ variant: CONTROL, version: s.control!, mode: 'live' }, { variant: CANDIDATE, version: args.candidate, mode: 'shadow' }] });
      s.counts = stats;
      const mirrored = stats[CANDIDATE]?.requests ?? 0;
      const timeUp = sinceMs(s.phaseSince) >= durationMs(args.shadow.duration);
      if (!timeUp && !(args.shadow.requests !== undefined && mirrored >= args.shadow.requests)) return;
      const report = await reports.rolloutShadowReport({ model: args.model, rolloutId: info.workflowId, since: s.phaseSince, control: s.control!, candidate: args.candidate });
      s.report = report;
      await acts.rolloutClearRoutes({ model: args.model, rolloutId: info.workflowId });
      s.weights = {};
      finish('reported', `shadow comparison written to ${report.uri}`);
      await decide('report', s.reason, { ...report });
      // A shadow promotes nothing: a person reads the report and starts a live rollout if it convinces.
      return rejectDecision(`${s.reason}; a shadow rollout does not promote`);
    }
    // Live phases: the window is the step (canary, ramp) or the whole test (ab).
    const since = s.phase === 'testing' ? s.phaseSince : s.step!.since;
    const stats = await acts.rolloutStats({ model: args.model, since, variants: [{ variant: CONTROL, version: s.control!, mode: 'live' }, { variant: CANDIDATE, version: args.candidate, mode: 'live' }] });
    s.counts = stats;
    const g = checkGuardrails(stats, args.guardrails);
    s.guardrails = g;
    if (g.breaches.length) {
      await decide('guardrail-breach', g.breaches.join('; '), { ...g, window: since });
      return rollBack('rolled-back', `guardrail breached: ${g.breaches.join('; ')}`, { ...g });
    }
    if (s.paused) return;
    if (s.phase === 'testing') {
      if (s.lastReweightAt && sinceMs(s.lastReweightAt) < durationMs(args.ab.interval)) return;
      s.lastReweightAt = iso();
      // Draws from a generator keyed by the rollout and this decision's number: a replay draws the same.
      const p = posteriors(stats, args.ab.draws, seededRandom(`${info.workflowId}/${info.firstExecutionRunId}/${s.seq}`), args.ab.reward);
      s.posteriors = p;
      const continuous = args.ab.reward === 'continuous';
      const numbers = {
        posteriors: Object.fromEntries(
          Object.entries(p).map(([v, x]) => [v, { alpha: x.alpha, beta: x.beta, mean: round(x.mean), pBest: round(x.pBest), ...(continuous ? { sd: round(x.sd ?? null) } : {}) }]),
        ),
        rewarded: { control: stats.control?.rewarded ?? 0, candidate: stats.candidate?.rewarded ?? 0 },
      };
      const winner = winnerOf(stats, p, args.ab.minSamples, args.ab.threshold);
      if (winner === CONTROL) {
        await decide('winner', `control v${s.control} wins: P(best) ${round(p.control.pBest)} ≥ ${args.ab.threshold}`, numbers);
        await acts.rolloutClearRoutes({ model: args.model, rolloutId: info.workflowId });
        s.weights = {};
        finish('control-kept', `the control v${s.control} ${continuous ? 'earns more reward' : 'converts better'}; v${args.candidate} is not promoted`);
        await decide('control-kept', s.reason, numbers);
        return rejectDecision(s.reason);
      }
      if (winner === CANDIDATE) {
        await decide('winner', `candidate v${args.candidate} wins: P(best) ${round(p.candidate.pBest)} ≥ ${args.ab.threshold}`, numbers);
        const current = (s.weights[CANDIDATE] ?? 0) * 100;
        const steps = args.ab.rollout.steps.filter((x) => x > current);
        s.ramp = { ...args.ab.rollout, steps: steps.length ? steps : [100] };
        s.phase = 'ramp';
        s.paused = false;
        s.lastReweightAt = null;
        return enterStep(s.ramp, 0, 'rolling out the winner');
      }
      const w = thompsonCandidateWeight(p, args.ab.minWeight);
      if (w === s.weights[CANDIDATE]) return;
      await setCandidateWeight(w);
      return decide('weights', `Thompson sampling: candidate at ${round(w * 100, 2)}%`, { ...numbers, weights: s.weights });
    }
    // canary or ramp
    const ramp = s.ramp!;
    const step = s.step!;
    if (!stepDone(sinceMs(step.since), durationMs(ramp.hold), stats.candidate?.requests ?? 0, ramp.minRequests)) return;
    if (step.index + 1 < ramp.steps.length) return enterStep(ramp, step.index + 1, `step ${step.index + 1} held (${stats.candidate?.requests ?? 0} requests, guardrails ${JSON.stringify({ errorRate: round(g.errorRate), p99Ms: round(g.p99Ms, 1) })})`);
    return promote({ strategy: args.strategy, errorRate: round(g.errorRate), p99Ms: round(g.p99Ms, 1), accuracy: round(g.accuracy), controlAccuracy: round(g.controlAccuracy), requests: g.requests, ...(s.posteriors ? { pBest: round(s.posteriors.candidate?.pBest ?? null) } : {}) });
  };

  const begin = async () => {
    const v = await acts.rolloutPrepare({ model: args.model, candidate: args.candidate, ...(args.control !== undefined ? { control: args.control } : {}) });
    s.control = v.control;
    s.phaseSince = iso();
    if (s.phase === 'shadow') await setRoutes(shadowRoutes(versions()));
    else if (s.phase === 'testing') {
      await setCandidateWeight(0.5);
      s.lastReweightAt = iso();
    }
    await decide('started', `${args.strategy} rollout of v${args.candidate} against v${v.control}, by ${args.by}`, { control: v.control, candidate: args.candidate, strategy: args.strategy });
    if (s.phase === 'canary') await enterStep(s.ramp!, 0, 'canary starts');
  };

  const handle = async (e: Event) => {
    switch (e.kind) {
      case 'rejected':
        return decide('rejected', e.rejection.reason, { handler: e.rejection.handler });
      case 'pause':
        s.paused = true;
        return decide('paused', `paused by ${e.by}: ${e.reason}`, { weights: s.weights });
      case 'resume':
        s.paused = false;
        return decide('resumed', `resumed by ${e.by}: ${e.reason}`, { weights: s.weights });
      case 'abort':
        return rollBack('aborted', `aborted by ${e.by}: ${e.reason}`);
    }
  };

  try {
    if (!carried) await exclusive(begin);
    while (!final()) {
      // The timer firing is what triggers a read, never a comparison of clock readings here: a
      // worker answering a query replays a fired timer before its workflow task exists, at the
      // last task's time, and a clock test would take another branch than a later replay does.
      const woken = await condition(() => events.length > 0 || workflowInfo().continueAsNewSuggested, checkEveryMs);
      while (events.length && !final()) await exclusive(() => handle(events.shift()!));
      if (final()) break;
      if (!woken) await exclusive(tick);
      if (!final() && workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        if (events.length) continue;
        await continueAsNew<typeof rollout>(args, s);
      }
    }
  } catch (e) {
    // Whatever ends the rollout early (a cancellation, a failure) leaves no half-rolled-out routes.
    if (!(e instanceof ContinueAsNew) && s.control !== null && !final()) {
      await CancellationScope.nonCancellable(() => acts.rolloutClearRoutes({ model: args.model, rolloutId: info.workflowId })).catch(() => undefined);
    }
    throw e;
  }
  return { model: args.model, outcome: s.phase as RolloutResult['outcome'], candidate: args.candidate, control: s.control!, reason: s.reason, ...(s.report ? { report: s.report } : {}) };
}
