import { z } from 'zod';
import { isTrue, not } from './dsl/conditions';
import { pipeline, type Node } from './dsl/pipeline';
import type { Ref } from './dsl/refs';
import { trainingRollout, type TrainingRollout } from './rollout/protocol';
import { startRolloutStep } from './rollout/step';
import { datasetName } from './steps/dataset';
import { compareModelsStep } from './steps/evaluation';
import { evaluationSpec, resolveEvaluationDataStep } from './steps/evaluation-data';
import { gbdtTrialsStep, searchSpace, selectBestStep } from './steps/hpo';
import { boundedExpr } from './expr/ast';
import { declaredSchema, deriveSpec, ingestSource, ingestStep } from './steps/ingestion';
import { featureViewPointer, gate, promoteModelStep, registeredModelName, registerModelStep, resolveModelStep } from './steps/registry';
import { splitDatasetStep } from './steps/split';
import { gbdtParams, trainGbdtGpuStep } from './steps/training';
import { suite, suiteSchema, validateDatasetStep } from './steps/validation';

/**
 * The training pipeline: ingest → validate → split → hyperparameter trials (fanned out) → best
 * trial → champion/challenger on the same holdout → register (gated on metrics) → promote if the
 * challenger beats the champion by the declared margin. Defaults train a penguin-species
 * classifier on vega-datasets' penguins.
 *
 * The holdout is a seeded random fraction of the data, the latest fraction by `orderBy`, or what
 * `evaluation` names: a registered dataset version, a source to ingest, or a time range of the
 * same data (training on the rows before it). The trials train on the GPU queue (`train.gbdt-gpu`;
 * a GPU worker without a GPU trains on its CPU); data preparation, selection, evaluation and the
 * registry stay on the CPU queue.
 */
export const trainModelParams = z
  .object({
    model: registeredModelName.default('penguins-species'),
    source: ingestSource.default({ kind: 'file', path: 'node_modules/vega-datasets/data/penguins.json' }),
    dataset: datasetName.default('penguins'),
    /** Declared column types (e.g. a timestamp column), as ingest-validate takes them. */
    schema: declaredSchema.optional(),
    /** Derived columns, name -> expression (pipelines/expr): a label such as `delay > 15`, hour of day… */
    derive: deriveSpec.optional(),
    /** Keep only rows where this expression is true (dropped rows are counted, not quarantined). */
    filter: boundedExpr.optional(),
    /** Bad rows tolerated (quarantined and counted) before ingestion fails. */
    maxBadRows: z.number().int().nonnegative().default(0),
    target: z.string().min(1).default('Species'),
    features: z.array(z.string().min(1)).min(1).optional(),
    /** Columns that are categories though numbers (integer codes); string columns always are. */
    categorical: z.array(z.string().min(1)).optional(),
    /** Expectations the data must meet before training. */
    suite: suiteSchema.default(suite('training-data', (e) => [e.rowCountBetween({ min: 20 })])),
    /** Share of rows held out for evaluation (without `evaluation`). */
    holdoutFraction: z.number().gt(0).lt(1).default(0.25),
    /** Hold out the latest rows by this time column instead of random ones (without `evaluation`). */
    orderBy: z.string().min(1).optional(),
    /**
     * Explicit evaluation rows instead of a fraction: `{ dataset: { name, version? } }` (a
     * registered dataset; the latest version without `version`), `{ source, name? }` (a source
     * ingested as `<dataset>.evaluation` unless named), or `{ column, from, to?, trainFrom? }`
     * (evaluate on `from <= column < to`, train on the rows before `from`).
     */
    evaluation: evaluationSpec.optional(),
    seed: z.number().int().nonnegative().default(7),
    gbdt: gbdtParams.partial().default({ nEstimators: 60 }),
    /** Hyperparameter search space over gbdt parameters; empty: one trial with `gbdt`. */
    search: searchSpace.default({ learningRate: [0.05, 0.2], maxLeaves: [7, 31] }),
    strategy: z.enum(['grid', 'random']).default('grid'),
    maxTrials: z.number().int().min(1).max(50).default(4),
    /** Register only if these hold on the holdout. */
    gates: z.array(gate).default([{ metric: 'accuracy', op: '>=', value: 0.8 }]),
    /** Promote to champion when the challenger beats it on this metric by at least `margin`. */
    promoteMetric: z.string().min(1).default('accuracy'),
    margin: z.number().nonnegative().default(0),
    /**
     * A model file already registered under this name returns that version, as a cache hit would
     * (a rerun on unchanged data fills the registry with no copies); false registers a new one.
     */
    reuseVersion: z.boolean().default(true),
    /**
     * Roll a winning challenger out instead of moving the champion alias: its promotion is
     * recorded as pending and the model's rollout workflow (`rollout-<model>`, pipelines/rollout)
     * starts with these settings (`strategy`: canary, shadow or ab; `canary`, `ab`, `shadow`,
     * `guardrails`…) against the champion it was compared with, and settles the decision when it
     * ends. The run's outputs name the rollout. Absent: the alias moves at once, as before.
     */
    rollout: trainingRollout.optional(),
    /**
     * Feature views (`{name, version}`) whose online store holds this model's features by entity
     * key: recorded in the version's lineage, so `sluice serve` answers requests that send keys
     * instead of values (see Online serving). Each must be registered.
     */
    featureViews: z.array(featureViewPointer).max(20).default([]),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.evaluation && p.orderBy) {
      ctx.addIssue({ code: 'custom', path: ['orderBy'], message: 'orderBy orders a fractional split; with evaluation, name the time column in evaluation.column' });
    }
  });

export const trainModel = pipeline(
  { name: 'train-model', description: 'ingest, validate, tune and train GBDT, evaluate against the champion, register, promote', params: trainModelParams },
  (p, b) => {
    const data = b.step('ingest', ingestStep, { source: p.source, name: p.dataset, schema: p.schema, maxBadRows: p.maxBadRows, derive: p.derive, filter: p.filter });
    const checked = b.step('validate', validateDatasetStep, { dataset: data.output.dataset, suite: p.suite });
    // Its own uncached node: "the latest version" of an evaluation dataset is looked up, and an evaluation source read, every run.
    const evaluationData = b.step('evaluation-data', resolveEvaluationDataStep, {
      evaluation: p.evaluation,
      dataset: p.dataset,
      schema: p.schema,
      derive: p.derive,
      filter: p.filter,
    });
    const split = b.step(
      'split',
      splitDatasetStep,
      {
        dataset: data.output.dataset,
        holdoutFraction: p.holdoutFraction,
        seed: p.seed,
        orderBy: p.orderBy,
        evaluation: p.evaluation,
        evaluationData: evaluationData.output.dataset,
        target: p.target,
        features: p.features,
      },
      { after: [checked] },
    );
    const trials = b.step('trials', gbdtTrialsStep, { base: p.gbdt, space: p.search, strategy: p.strategy, maxTrials: p.maxTrials, seed: p.seed });
    const trained = b.map('train', trainGbdtGpuStep, { over: trials.output.trials, parallelism: 4 }, (params) => ({
      train: split.output.train,
      target: p.target,
      features: p.features,
      categorical: p.categorical,
      params,
    }));
    const best = b.step('select', selectBestStep, { trials: trained.output, metric: 'validation_loss' });
    const champion = b.step('champion', resolveModelStep, { name: p.model, alias: 'champion', optional: true });
    const compared = b.step('compare', compareModelsStep, {
      challenger: best.output.model,
      champion: champion.output.model,
      dataset: split.output.holdout,
      target: p.target,
    });
    const registered = b.step('register', registerModelStep, {
      name: p.model,
      model: best.output.model,
      evaluation: compared.output.challenger,
      params: best.output.params,
      gates: p.gates,
      aliases: ['challenger'],
      reuseSameFile: p.reuseVersion,
      featureViews: p.featureViews,
      trainingData: [{ name: split.output.train.name, version: split.output.train.version, uri: split.output.train.uri, sha256: split.output.train.sha256 }],
    });
    const promotion = {
      challenger: registered.output.model,
      comparison: { challenger: compared.output.challenger, champion: compared.output.champion },
      metric: p.promoteMetric,
      margin: p.margin,
    };
    // Whether `rollout` was given (an object is truthy): without it `promote` moves the alias as
    // before and the hand-off's two nodes are skipped; with it `promote` is skipped. (A run in
    // flight keeps the spec it started with: it is in its history.)
    const viaRollout = isTrue(p.rollout as Ref<unknown> as Ref<boolean | undefined>);
    let promoted!: Node<z.output<typeof promoteModelStep.output>>;
    b.when(not(viaRollout), () => {
      promoted = b.step('promote', promoteModelStep, promotion);
    });
    let rolledOut!: Node<z.output<typeof startRolloutStep.output>>;
    b.when(viaRollout, () => {
      // The same decision, recorded as pending: the rollout is what approves (or rejects) it.
      const proposed = b.step('propose', promoteModelStep, { ...promotion, requireApproval: true, reason: 'to be rolled out' });
      rolledOut = b.step('rollout', startRolloutStep, { proposal: proposed.output, rollout: p.rollout as Ref<TrainingRollout> });
    });
    return {
      model: registered.output.uri,
      registered: registered.output.registered,
      /** Why it was not registered: the gates it failed, each with its reason (empty when registered). */
      failedGates: registered.output.failedGates,
      version: registered.output.version,
      promoted: promoted.output.promoted,
      outcome: promoted.output.outcome,
      holdout: compared.output.challenger.metrics,
      trainingData: split.output.train,
      report: compared.output.html,
      /** With `rollout`: the rollout started (workflow id, strategy, candidate and control), or why none was. */
      rollout: rolledOut.output,
    };
  },
);
