import { z } from 'zod';
import { passedOnValue } from '../dsl/passed-on';
import { approvalDecision } from '../dsl/approval';
import { step } from '../dsl/step';
import { datasetName } from './dataset';
import { evaluationSummary, metricSet, sliceSet } from './evaluation';
import { modelInput, modelRef, modelSignature, modelTask } from './model';
import { aliasName, registeredModelName } from '../vocab/model-name';
import { formatModelUri } from '../vocab/model-uri';

/**
 * The model registry as steps see it (MLflow's semantics; infra/db/registry.ts has the rules):
 *
 * - `register-model`: registers a model's ONNX artifact as the next version of a registered model
 *   (immutable, numbered 1, 2, 3…), with its signature, metrics, params, model card and lineage
 *   (datasets, feature views, pipeline run, code version), and optionally points aliases at it
 *   (e.g. `challenger`). Gates first: when a declared metric bound fails, nothing is registered
 *   and the output says which gates failed (`registered: false`): not an error.
 * - `promote-model`: moves `champion` to the challenger only if it beats the champion, on the
 *   same holdout (a `compare-models` output), by a declared margin on a declared metric; the
 *   decision and its numbers are recorded, by `sluice-pipeline`. With `requireApproval`, a win is
 *   recorded as pending and `apply-model-decision` (after a `b.approval` node) settles it.
 * - `resolve-model`: a `models:/` URI to a model ref (the current champion, say).
 *
 * Registry steps have side effects in PostgreSQL (and aliases move between runs): never cached.
 * This module is imported by workflow code: schemas only.
 */

/** MLflow's rule (letters, digits, "_" and "-", at most 255); `latest` and `v<digits>` are no aliases. */
export { aliasName, registeredModelName };

export const gateOp = z.enum(['>=', '>', '<=', '<']);
export const gate = z.strictObject({ metric: z.string().min(1), op: gateOp, value: z.number() });
export type Gate = z.infer<typeof gate>;

export const gateResult = gate.extend({
  /** The metric's value; null when the metric is undefined or was not reported (the gate fails). */
  actual: z.number().nullable(),
  passed: z.boolean(),
  reason: z.string(),
}).strip(); // a result, read back as recorded: lenient, unlike the gate people write
export type GateResult = z.infer<typeof gateResult>;

/** A dataset version the model came from (a DatasetRef fits: extra fields are dropped). */
export const datasetPointer = passedOnValue(z.object({
  name: datasetName,
  version: z.number().int().positive(),
  uri: z.string().optional(),
  sha256: z.string().optional(),
}));

export const featureViewPointer = z.strictObject({ name: z.string().min(1).max(128), version: z.number().int().positive() });

/** What people write in a model card (the rest is filled in at registration). */
export const modelCardInput = z.strictObject({
  owners: z.array(z.string().min(1).max(200)).max(50).default([]),
  license: z.string().max(200).optional(),
  overview: z.string().max(20_000).optional(),
  intendedUse: z.string().max(20_000).optional(),
  outOfScopeUse: z.string().max(20_000).optional(),
  limitations: z.string().max(20_000).optional(),
  ethicalRisks: z.string().max(20_000).optional(),
});
export type ModelCardInput = z.infer<typeof modelCardInput>;

const dataRef = z.object({ name: z.string(), version: z.number().int(), uri: z.string().optional(), sha256: z.string().optional() });

/** The model card as stored with a version (JSON) and printed by `sluice models card` (Markdown). */
export const modelCard = modelCardInput.extend({
  name: z.string(),
  version: z.number().int().positive(),
  task: modelTask,
  description: z.string().optional(),
  trainingData: z.array(dataRef),
  evaluationData: z.array(dataRef.extend({ rows: z.number().int().optional(), target: z.string().optional() })),
  featureViews: z.array(featureViewPointer),
  metrics: metricSet,
  slices: z.array(sliceSet),
  params: z.record(z.string(), z.unknown()),
  inputs: z.array(modelInput),
  outputs: modelSignature.shape.outputs,
  classes: z.array(z.union([z.string(), z.number()])).optional(),
  target: z.string().optional(),
  source: z.object({ uri: z.string(), sha256: z.string(), size: z.number().int() }),
  runId: z.string().nullable(),
  pipeline: z.string().nullable(),
  codeVersion: z.string().nullable(),
}).strip(); // stored with each version and read back: lenient, unlike the card people write
export type ModelCard = z.infer<typeof modelCard>;

const param = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const tags = z.record(z.string().min(1).max(250), z.string().max(5000));

export const registerModelInput = z.strictObject({
  name: registeredModelName,
  model: modelRef,
  /** This version's description. */
  description: z.string().max(20_000).optional(),
  /** The registered model's description, when this registration creates it. */
  modelDescription: z.string().max(20_000).optional(),
  tags: tags.default({}),
  modelTags: tags.optional(),
  /** An evaluate-model output (or compare-models' `challenger`): metrics, slices, evaluation data. */
  evaluation: evaluationSummary.optional(),
  /** Metrics to record (and gate on), over the evaluation's. */
  metrics: metricSet.default({}),
  params: z.record(z.string(), param).default({}),
  card: modelCardInput.default({ owners: [] }),
  trainingData: z.array(datasetPointer).default([]),
  featureViews: z.array(featureViewPointer).default([]),
  /** Register only if every gate passes (a metric missing or null fails its gate). */
  gates: z.array(gate).default([]),
  /** Aliases to point at the new version, e.g. ["challenger"]. */
  aliases: z.array(aliasName).max(20).default([]),
  /** Why (kept with the alias moves); default: "registered by <pipeline> run <id>". */
  reason: z.string().min(1).max(2000).optional(),
  /**
   * Return the version already registered from the same file (sha256) under this name, whichever
   * run registered it, instead of a new one (import-model; the default is per run: a retry of the
   * same run returns its version, another run makes a new one).
   */
  reuseSameFile: z.boolean().default(false),
});
export type RegisterModelInput = z.infer<typeof registerModelInput>;

export const registerModelOutput = z.object({
  registered: z.boolean(),
  /** Every gate with its actual value. */
  gates: z.array(gateResult),
  failedGates: z.array(gateResult),
  name: z.string(),
  version: z.number().int().positive().nullable(),
  /** `models:/<name>/<version>`; null when not registered. */
  uri: z.string().nullable(),
  /** false when not registered, or when this artifact already was (same run): that version is returned. */
  created: z.boolean(),
  /** The input model, with `registered` set when it was. */
  model: modelRef,
  aliases: z.array(z.string()),
});
export type RegisterModelOutput = z.infer<typeof registerModelOutput>;

export const registerModelStep = step({
  name: 'register-model',
  description: 'register a model version (gated on metrics) with its signature, model card and lineage; set aliases',
  input: registerModelInput,
  output: registerModelOutput,
  queue: 'cpu',
  timeouts: { startToClose: '1m', heartbeat: '10s' },
  cache: false,
});

export const promoteModelInput = z.strictObject({
  /** The challenger: register-model's output `model` (it must be registered). */
  challenger: modelRef,
  /** Both models scored on the same holdout: a compare-models output. */
  comparison: passedOnValue(z.object({ challenger: evaluationSummary, champion: evaluationSummary.nullable() })),
  metric: z.string().min(1),
  /** Default: the metric's known direction (METRIC_DIRECTIONS); required for other metrics. */
  direction: z.enum(['higher', 'lower']).optional(),
  /**
   * The challenger must beat the champion by at least this much (and by more than 0). absolute:
   * in the metric's units; relative: as a fraction of the champion's value.
   */
  margin: z.number().nonnegative().default(0),
  marginKind: z.enum(['absolute', 'relative']).default('absolute'),
  alias: aliasName.default('champion'),
  /** Record a win as pending approval instead of promoting (settled by apply-model-decision). */
  requireApproval: z.boolean().default(false),
  /** Who decides: `sluice-pipeline` for automatic decisions. */
  by: z.string().min(1).max(255).default('sluice-pipeline'),
  reason: z.string().min(1).max(2000).optional(),
});
export type PromoteModelInput = z.infer<typeof promoteModelInput>;

export const promotionOutcome = z.enum(['promoted', 'rejected', 'pending_approval', 'stale', 'skipped']);

export const promoteModelOutput = passedOnValue(z.object({
  promoted: z.boolean(),
  /** skipped: the challenger was not registered (its gates failed); stale: the alias moved since the comparison. */
  outcome: promotionOutcome,
  decisionId: z.number().int().positive().nullable(),
  name: z.string().nullable(),
  alias: z.string(),
  challengerVersion: z.number().int().positive().nullable(),
  championVersion: z.number().int().positive().nullable(),
  metric: z.string(),
  direction: z.enum(['higher', 'lower']).nullable(),
  margin: z.number(),
  marginKind: z.enum(['absolute', 'relative']),
  challengerValue: z.number().nullable(),
  championValue: z.number().nullable(),
  /** challenger − champion. */
  delta: z.number().nullable(),
  reason: z.string(),
}));
export type PromoteModelOutput = z.infer<typeof promoteModelOutput>;

export const promoteModelStep = step({
  name: 'promote-model',
  description: 'move the champion alias to the challenger if it beats the champion by the declared margin; the decision is recorded',
  input: promoteModelInput,
  output: promoteModelOutput,
  queue: 'cpu',
  timeouts: { startToClose: '1m', heartbeat: '10s' },
  cache: false,
});

export const applyModelDecisionInput = z.strictObject({
  /** A promote-model output; only a `pending_approval` one is acted on. */
  proposal: promoteModelOutput,
  /** A person's answer (a `b.approval` node's output). */
  approval: passedOnValue(approvalDecision.pick({ approved: true, by: true, reason: true }).extend({ by: z.string().min(1) })),
});

export const applyModelDecisionStep = step({
  name: 'apply-model-decision',
  description: 'settle a pending promotion with a person\'s approval or rejection (recorded, alias moved when approved)',
  input: applyModelDecisionInput,
  output: promoteModelOutput,
  queue: 'cpu',
  timeouts: { startToClose: '1m', heartbeat: '10s' },
  cache: false,
});

export const resolveModelInput = z
  .object({
    /** `models:/<name>/<version>`, `models:/<name>@<alias>` or `models:/<name>/latest`… */
    uri: z.string().min(1).optional(),
    /** …or its parts (refs cannot be spliced into a string in a pipeline): name with alias, version, or neither (latest). */
    name: registeredModelName.optional(),
    alias: aliasName.optional(),
    version: z.number().int().positive().optional(),
    /** Missing model, version or alias: `found: false` instead of failing (no champion yet). */
    optional: z.boolean().default(false),
  })
  .strict()
  .refine((r) => (r.uri === undefined) !== (r.name === undefined), { message: 'give either uri or name', path: ['uri'] })
  .refine((r) => r.uri === undefined || (r.alias === undefined && r.version === undefined), { message: 'alias and version go with name, not uri', path: ['alias'] })
  .refine((r) => r.alias === undefined || r.version === undefined, { message: 'give alias or version, not both', path: ['version'] });
export type ResolveModelInput = z.infer<typeof resolveModelInput>;

/** The models:/ URI a resolve-model input names. */
export function resolveModelUriOf(r: ResolveModelInput): string {
  if (r.uri !== undefined) return r.uri;
  const name = r.name!;
  return formatModelUri(r.alias !== undefined ? { name, alias: r.alias } : r.version !== undefined ? { name, version: r.version } : { name, latest: true });
}

export const resolveModelOutput = z.object({
  found: z.boolean(),
  /** null when not found. */
  model: modelRef.nullable(),
  name: z.string(),
  version: z.number().int().positive().nullable(),
  metrics: metricSet,
});

export const resolveModelStep = step({
  name: 'resolve-model',
  description: 'resolve a models:/ URI (name/version, name@alias, name/latest) to a model ref',
  input: resolveModelInput,
  output: resolveModelOutput,
  queue: 'cpu',
  timeouts: { startToClose: '30s', heartbeat: '10s' },
  // Aliases move between runs.
  cache: false,
});
