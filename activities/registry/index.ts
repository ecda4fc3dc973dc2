import { modelsPromoted } from '../../infra/metrics';
import { unregisteredFeatureViews } from '../../infra/db/features';
import {
  applyDecision,
  registerModelVersion,
  RegistryError,
  resolveModelUri,
  setAlias,
  toModelRef,
  type DatasetLineage,
  type DecisionResult,
} from '../../infra/db/registry';
import { metricDirection } from '../../pipelines/steps/evaluation';
import {
  applyModelDecisionStep,
  promoteModelStep,
  registerModelStep,
  resolveModelStep,
  resolveModelUriOf,
  type PromoteModelOutput,
} from '../../pipelines/steps/registry';
import { implement, type StepImplementation } from '../runtime/implement';
import type { StepContext } from '../runtime/step-context';
import { resolveCodeVersion } from './code-version';
import { invalidInput } from '../../pipelines/failures';
import { modelVersionUri, parseModelUri } from '../../pipelines/vocab/model-uri';
import { decidePromotion, evaluateGates } from './decisions';
import { buildModelCard } from './model-card';
import { importModelRead } from './import-model';

export { resolveCodeVersion } from './code-version';
export { decidePromotion, evaluateGates } from './decisions';
export { buildModelCard } from './model-card';

/** Who automatic decisions and registrations are attributed to. */
export const PIPELINE_ACTOR = 'sluice-pipeline';

const idempotencyKey = (ctx: StepContext) => `step:${ctx.run.runId}/${ctx.run.node}`;

export const registerModel = implement(registerModelStep, async (input, ctx) => {
  const metrics = { ...(input.evaluation?.metrics ?? {}), ...input.metrics };
  const gates = evaluateGates(input.gates, metrics);
  const failedGates = gates.filter((g) => !g.passed);
  if (failedGates.length) {
    ctx.log.info('model not registered: gates failed', { name: input.name, failed: failedGates.map((g) => g.reason) });
    return { registered: false, gates, failedGates, name: input.name, version: null, uri: null, created: false, model: input.model, aliases: [] };
  }

  // A view named here is what serving reads by entity key: one that does not exist would only
  // fail at the first request, so it fails the registration, naming it.
  const missing = await unregisteredFeatureViews(ctx.db, input.featureViews);
  if (missing.length) throw invalidInput(`featureViews: no feature view ${missing.map((f) => `${f.name}@${f.version}`).join(', ')} is registered (a materialize-features run registers its view)`);
  const codeVersion = resolveCodeVersion();
  const datasets: DatasetLineage[] = [
    ...input.trainingData.map((d) => ({ name: d.name, version: d.version, role: 'training' as const, ...(d.uri ? { uri: d.uri } : {}), ...(d.sha256 ? { sha256: d.sha256 } : {}) })),
    ...(input.evaluation ? [{ name: input.evaluation.dataset.name, version: input.evaluation.dataset.version, role: 'evaluation' as const, uri: input.evaluation.dataset.uri, sha256: input.evaluation.dataset.sha256 }] : []),
  ];
  const card = buildModelCard({
    input: input.card,
    model: input.model,
    ...(input.description ? { description: input.description } : {}),
    metrics,
    ...(input.evaluation ? { evaluation: input.evaluation } : {}),
    trainingData: input.trainingData,
    featureViews: input.featureViews,
    params: input.params,
    runId: ctx.run.runId,
    pipeline: ctx.run.pipeline,
    codeVersion,
  });
  const { version, created } = await registerModelVersion(ctx.db, {
    name: input.name,
    source: { uri: input.model.uri, sha256: input.model.sha256, size: input.model.size },
    signature: input.model.signature,
    runId: ctx.run.runId,
    ...(input.description ? { description: input.description } : {}),
    tags: input.tags,
    metrics,
    params: input.params,
    lineage: { datasets, featureViews: input.featureViews, pipeline: { name: ctx.run.pipeline, runId: ctx.run.runId, workflowId: ctx.run.workflowId, node: ctx.run.node } },
    codeVersion,
    createdBy: PIPELINE_ACTOR,
    modelCard: card,
    ...(input.modelDescription ? { modelDescription: input.modelDescription } : {}),
    ...(input.modelTags ? { modelTags: input.modelTags } : {}),
    ...(input.reuseSameFile ? { reuseSameSource: true } : {}),
  });
  const reason = input.reason ?? `registered by pipeline ${ctx.run.pipeline} run ${ctx.run.runId}`;
  for (const alias of input.aliases) {
    await setAlias(ctx.db, { name: input.name, alias, version: version.version, actor: PIPELINE_ACTOR, reason, runId: ctx.run.runId });
  }
  ctx.log.info(created ? 'model version registered' : input.reuseSameFile ? 'model file already registered: its version is returned' : 'model version already registered by this run', { name: input.name, version: version.version, aliases: input.aliases });
  return {
    registered: true,
    gates,
    failedGates: [],
    name: input.name,
    version: version.version,
    uri: modelVersionUri(input.name, version.version),
    created,
    model: toModelRef(version),
    aliases: input.aliases,
  };
});

function outputOf(d: DecisionResult, base: Omit<PromoteModelOutput, 'promoted' | 'outcome' | 'decisionId' | 'championVersion' | 'reason'>): PromoteModelOutput {
  if (d.decision.outcome === 'promoted' && base.name) modelsPromoted.inc({ model: base.name });
  return {
    ...base,
    promoted: d.decision.outcome === 'promoted',
    outcome: d.decision.outcome,
    decisionId: d.decision.id,
    championVersion: d.decision.champion_version,
    reason: d.decision.reason,
  };
}

export const promoteModel = implement(promoteModelStep, async (input, ctx) => {
  const { challenger, comparison, metric, margin, marginKind, alias } = input;
  const direction = input.direction ?? metricDirection(metric);
  const base = {
    name: challenger.registered?.name ?? null,
    alias,
    challengerVersion: challenger.registered?.version ?? null,
    metric,
    direction: direction ?? null,
    margin,
    marginKind,
    challengerValue: null,
    championValue: null,
    delta: null,
  };
  if (!challenger.registered) {
    return { ...base, promoted: false, outcome: 'skipped' as const, decisionId: null, championVersion: null, reason: 'the challenger is not registered (did its gates fail?): nothing to promote' };
  }
  if (!direction) throw invalidInput(`metric "${metric}" has no known direction: say whether higher or lower is better (direction)`);
  if (comparison.challenger.model.sha256 !== challenger.sha256) {
    throw invalidInput(`the comparison's challenger (${comparison.challenger.model.uri}) is not this challenger (${challenger.uri}): compare the model you promote`);
  }
  const reported = comparison.challenger.metrics;
  if (!Object.prototype.hasOwnProperty.call(reported, metric)) {
    throw invalidInput(`metric "${metric}" is not in the comparison (it has ${Object.keys(reported).sort().join(', ')})`);
  }
  const { name, version } = challenger.registered;
  let champion: { version: number; value: number | null } | null = null;
  if (comparison.champion) {
    const reg = comparison.champion.model.registered;
    if (!reg) throw invalidInput('the compared champion is not a registered version (resolve it with resolve-model)');
    if (reg.name !== name) throw invalidInput(`the compared champion is a version of "${reg.name}", the challenger of "${name}"`);
    champion = { version: reg.version, value: comparison.champion.metrics[metric] ?? null };
    // A rerun on unchanged data registers no new version (the same file returns its version), so
    // the challenger may be the champion itself: there is nothing to decide, and nothing to audit.
    if (reg.version === version) {
      return { ...base, promoted: false, outcome: 'skipped' as const, decisionId: null, championVersion: version, reason: `version ${version} is already the champion: nothing to promote` };
    }
  }
  const challengerValue = reported[metric] ?? null;
  const verdict = decidePromotion({ metric, direction, margin, marginKind }, challengerValue, champion);
  const decision = verdict.promote ? (input.requireApproval ? 'pending' : 'approve') : 'reject';
  const reason = input.reason ? `${input.reason}: ${verdict.reason}` : verdict.reason;
  const d = await applyDecision(ctx.db, {
    name,
    alias,
    challengerVersion: version,
    decision,
    mode: 'automatic',
    by: input.by,
    reason,
    expectedChampion: champion?.version ?? null,
    evidence: {
      metric,
      direction,
      margin,
      marginKind,
      challengerValue,
      championValue: champion?.value ?? null,
      delta: verdict.delta,
      details: {
        improvement: verdict.improvement,
        dataset: comparison.challenger.dataset,
        rows: comparison.challenger.rows,
        comparedChampion: champion?.version ?? null,
      },
    },
    idempotencyKey: idempotencyKey(ctx),
    runId: ctx.run.runId,
  });
  ctx.log.info('promotion decided', { name, alias, challenger: version, outcome: d.decision.outcome, reason: d.decision.reason });
  return outputOf(d, { ...base, name, challengerVersion: version, challengerValue, championValue: champion?.value ?? null, delta: verdict.delta });
});

export const applyModelDecision = implement(applyModelDecisionStep, async ({ proposal, approval }, ctx) => {
  if (proposal.outcome !== 'pending_approval' || proposal.decisionId === null || proposal.name === null || proposal.challengerVersion === null) return proposal;
  const { name, challengerVersion, decisionId } = proposal;
  const d = await applyDecision(ctx.db, {
    name,
    alias: proposal.alias,
    challengerVersion,
    decision: approval.approved ? 'approve' : 'reject',
    mode: 'manual',
    by: approval.by,
    reason: approval.reason.trim() || (approval.approved ? 'approved' : 'rejected'),
    resolves: decisionId,
    idempotencyKey: idempotencyKey(ctx),
    runId: ctx.run.runId,
  });
  return outputOf(d, { ...proposal });
});

export const resolveModel = implement(resolveModelStep, async (input, ctx) => {
  const uri = resolveModelUriOf(input);
  try {
    const v = await resolveModelUri(ctx.db, uri);
    return { found: true, model: toModelRef(v), name: v.model_name, version: v.version, metrics: v.metrics };
  } catch (e) {
    if (input.optional && e instanceof RegistryError && e.code === 'NOT_FOUND') {
      const parsed = parseModelUri(uri);
      const name = parsed.ok ? parsed.uri.name : '';
      return { found: false, model: null, name, version: null, metrics: {} };
    }
    throw e;
  }
});

export const registryImplementations: StepImplementation[] = [registerModel, promoteModel, applyModelDecision, resolveModel, importModelRead] as StepImplementation[];
