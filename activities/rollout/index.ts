import { ApplicationFailure } from '@temporalio/common';
import { ZodError } from 'zod';
import type { ArtifactStore } from '../../infra/artifacts';
import { recordMonitorDecision } from '../../infra/db/drift';
import type { Db } from '../../infra/db/pool';
import { applyDecision, getModelVersion, getRegisteredModel, RegistryError, setAlias, type DecisionResult } from '../../infra/db/registry';
import { clearRoutes, feedbackStats, variantCounts, writeRoutes } from '../../infra/db/serving';
import { isFailure } from '../../pipelines/failures';
import type { RolloutActivities } from '../../pipelines/rollout/activities';
import type { VariantStats, WindowStats } from '../../pipelines/rollout/protocol';
import { writeShadowReport } from './shadow-report';

/**
 * The rollout workflow's activities: routing-table writes and outcome reads through
 * infra/db/serving.ts, promotions through the registry, decisions kept with the drift monitor's
 * in monitor_decisions (workflow id `rollout-<model>` tells them apart).
 */
export function createRolloutActivities(deps: { db: Db; store: ArtifactStore }): RolloutActivities {
  const { db } = deps;
  return {
    rolloutPrepare: typed(async ({ model, candidate, control }) => {
      const m = await getRegisteredModel(db, model);
      if (!m) throw new RegistryError('NOT_FOUND', `no registered model "${model}"`);
      const from = control ?? m.aliases.champion;
      if (from === undefined) throw new RegistryError('NOT_FOUND', `model "${model}" has no champion to compare v${candidate} with: give the control version`);
      if (from === candidate) throw new RegistryError('CONFLICT', `v${candidate} of "${model}" is the champion already: nothing to roll out`);
      for (const v of [candidate, from]) {
        const row = await getModelVersion(db, model, v);
        if (!row) throw new RegistryError('NOT_FOUND', `model "${model}" has no version ${v}`);
        if (row.status !== 'READY') throw new RegistryError('CONFLICT', `version ${v} of "${model}" is ${row.status}, not READY`);
      }
      return { control: from, candidate };
    }),
    rolloutSetRoutes: typed(async ({ model, rolloutId, routes }) => ({ epoch: (await writeRoutes(db, model, routes, { rolloutId })).epoch })),
    rolloutClearRoutes: typed(async ({ model }) => ({ removed: (await clearRoutes(db, model)) ? 1 : 0 })),
    rolloutStats: typed(async ({ model, since, variants }) => {
      const at = new Date(since);
      const [counts, feedback] = await Promise.all([variantCounts(db, model, at), feedbackStats(db, model, at)]);
      const out: WindowStats = {};
      for (const v of variants) {
        const c = counts.find((x) => x.variant === v.variant && x.version === v.version && x.mode === v.mode);
        const f = v.mode === 'live' ? feedback.find((x) => x.variant === v.variant && x.version === v.version) : undefined;
        const stats: VariantStats = {
          requests: c?.requests ?? 0,
          errors: c?.errors ?? 0,
          p50Ms: c?.p50Ms ?? null,
          p99Ms: c?.p99Ms ?? null,
          rewarded: f?.rewards ?? 0,
          // A Bernoulli reward is 0 or 1; a fractional one counts as that share of a success.
          successes: Math.min(f?.rewards ?? 0, Math.max(0, f?.rewardSum ?? 0)),
          rewardSum: f?.rewardSum ?? 0,
          rewardSumSq: f?.rewardSumSq ?? 0,
          labelled: f?.labels ?? 0,
          correct: f?.correct ?? 0,
        };
        out[v.variant] = stats;
      }
      return out;
    }),
    rolloutShadowReport: typed((r) => writeShadowReport(deps, r)),
    rolloutPromote: typed(async ({ model, version, actor, reason, rolloutId, decision }) => {
      if (decision !== undefined) {
        const settled = await settle(db, { model, candidate: version, decision, actor, reason, rolloutId, approve: true });
        // (A retried call finds the decision recorded, without the move it made: the decision has its numbers.)
        if (settled?.decision.outcome === 'promoted') return { from: settled.aliasChange?.from ?? settled.decision.champion_version, to: version, changed: settled.aliasChange?.changed ?? true };
      }
      const change = await setAlias(db, { name: model, alias: 'champion', version, actor, reason, runId: rolloutId });
      return { from: change.from, to: version, changed: change.changed };
    }),
    rolloutRejectDecision: typed(async ({ model, candidate, decision, actor, reason, rolloutId }) => {
      const settled = await settle(db, { model, candidate, decision, actor, reason, rolloutId, approve: false });
      return { outcome: settled?.decision.outcome ?? 'already settled' };
    }),
    recordRolloutDecision: typed(async ({ model, workflowId, decision }) => {
      await recordMonitorDecision(db, { model, workflowId, seq: decision.seq, decidedAt: decision.at, kind: `rollout-${decision.kind}`, reason: decision.reason, numbers: decision.numbers });
    }),
  };
}

/**
 * Approves or rejects a training run's pending promotion decision on the rollout's behalf
 * (idempotent: a retry returns the decision recorded). A decision a person settled meanwhile is
 * theirs: undefined, and the rollout goes on without it.
 */
async function settle(db: Db, r: { model: string; candidate: number; decision: number; actor: string; reason: string; rolloutId: string; approve: boolean }): Promise<DecisionResult | undefined> {
  try {
    return await applyDecision(db, {
      name: r.model,
      challengerVersion: r.candidate,
      decision: r.approve ? 'approve' : 'reject',
      mode: 'automatic',
      by: r.actor,
      reason: r.reason,
      resolves: r.decision,
      idempotencyKey: `rollout:${r.rolloutId}/decision/${r.decision}`,
      runId: r.rolloutId,
    });
  } catch (e) {
    if (e instanceof RegistryError && e.code === 'CONFLICT' && /already resolved|not pending/.test(e.message)) return undefined;
    throw e;
  }
}

/**
 * These activities run outside the step runtime, which maps Sluice's failures for steps: here a
 * registry or schema refusal becomes a typed, non-retryable ApplicationFailure (the workflow's
 * retry policy stops on it and its message reaches the workflow), anything else is retried.
 */
function typed<A extends unknown[], R>(fn: (...a: A) => Promise<R>): (...a: A) => Promise<R> {
  return async (...a) => {
    try {
      return await fn(...a);
    } catch (e) {
      if (isFailure(e) && !e.retryable) throw ApplicationFailure.create({ type: e.type, message: e.message, nonRetryable: true });
      if (e instanceof ZodError) throw ApplicationFailure.create({ type: 'InvalidInput', message: e.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), nonRetryable: true });
      throw e;
    }
  };
}
