import type { ModelTask } from '../../../pipelines/steps/model';
import type { FeatureColumn, RawTable, TargetData } from '../data/design-matrix';
import { softmaxRow, sigmoid } from '../head';
import { Rng } from '../rng';
import { binTable, binTraining, emptyBinMatrix, type BinMatrix, type BinnedFeature } from './binning';
import type { GbdtModel } from './model';
import { binaryTerms, lossGroups, meanLoss } from './binary-loss';
import { HistogramThreads, histogramThreadCount } from './histogram-threads';
import { growTree, growWorkspace, leafOfBinned, type Tree, type TreeParams } from './tree';
import { addLeafValues, expFactors, type LeafRows } from './leaf-margins';

/**
 * Gradient boosting (second order, as XGBoost / LightGBM): squared error for regression, log
 * loss for binary (one tree a round), softmax cross-entropy for multiclass (one tree per class a
 * round, all from the gradients at the start of the round). Row subsampling (per round) and
 * feature subsampling (per tree) draw from one seeded PRNG; with a validation set, training stops
 * after `earlyStoppingRounds` rounds without a lower validation loss and the model keeps the
 * rounds up to the best one.
 *
 * The state after round t (trees so far, PRNG state, best round, loss history) is a complete
 * checkpoint: the margins are recomputed from the trees in the same order, so a resumed run
 * builds bit-for-bit the trees the uninterrupted run builds.
 */

export interface GbdtParams extends TreeParams {
  nEstimators: number;
  maxBins: number;
  maxCategories: number;
  subsample: number;
  colsample: number;
  /** 0: no early stopping. */
  earlyStoppingRounds: number;
  seed: number;
}

export interface GbdtState {
  /** Rounds completed. */
  iteration: number;
  rng: number[];
  trees: Tree[];
  /** Rounds in the best model so far (1-based; 0 before the first round). */
  bestIteration: number;
  bestLoss: number | null;
  history: { train: number[]; validation: number[] };
  stopped: boolean;
}

export interface GbdtHooks {
  resume?: GbdtState | undefined;
  onIteration?: (state: GbdtState, info: { trainLoss: number; validationLoss?: number }) => Promise<void> | void;
  /** Histogram threads (default: histogramThreadCount, by data size and cores); the trees do not depend on it. */
  threads?: number;
}

export interface GbdtData {
  target: string;
  task: ModelTask;
  features: FeatureColumn[];
  train: { raw: RawTable; y: TargetData };
  validation?: { raw: RawTable; y: TargetData } | undefined;
}

export async function trainGbdt(data: GbdtData, params: GbdtParams, hooks: GbdtHooks = {}): Promise<{ model: GbdtModel; state: GbdtState }> {
  const { task } = data;
  const ty = data.train.y;
  const n = data.train.raw.n;
  const nClasses = ty.kind === 'class' ? ty.classes.length : 0;
  const K = task === 'multiclass' ? nClasses : 1;
  const base = baseScores(ty, task, K);
  const state: GbdtState = hooks.resume
    ? { ...hooks.resume, trees: [...hooks.resume.trees], history: { train: [...hooks.resume.history.train], validation: [...hooks.resume.history.validation] } }
    : { iteration: 0, rng: new Rng(params.seed).state(), trees: [], bestIteration: 0, bestLoss: null, history: { train: [], validation: [] }, stopped: false };
  if (state.trees.length !== state.iteration * K) throw new Error(`checkpoint has ${state.trees.length} trees for ${state.iteration} rounds of ${K}`);

  const nv = data.validation?.raw.n ?? 0;
  // the bins, margins, gradients and hessians are shared with the histogram threads when there are any
  const bins = emptyBinMatrix(n, data.features.length);
  const nThreads = hooks.threads ?? histogramThreadCount(bins);
  const buffer = (bytes: number) => (nThreads > 1 ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  const F = new Float64Array(buffer(8 * n * K));
  const Fv = new Float64Array(nv * K);
  for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) F[i * K + k] = base[k]!;
  for (let i = 0; i < nv; i++) for (let k = 0; k < K; k++) Fv[i * K + k] = base[k]!;
  // binary: one pass over the margins gives the loss and the next round's gradients, with
  // exp(-F) kept as a running product beside F (binary-loss.ts)
  const binary =
    K === 1 && ty.kind === 'class' ? { y: new Int32Array(buffer(4 * n)), logp: new Float64Array(buffer(8 * lossGroups(n))), expNeg: new Float64Array(buffer(8 * n)) } : undefined;
  binary?.y.set(ty.y);
  binary?.expNeg.fill(Math.exp(-base[0]!));
  // class k's gradients and hessians at k * n
  const gradAll = new Float64Array(buffer(8 * K * n));
  const hessAll = new Float64Array(buffer(8 * K * n));
  const grad = Array.from({ length: K }, (_, k) => gradAll.subarray(k * n, (k + 1) * n));
  const hess = Array.from({ length: K }, (_, k) => hessAll.subarray(k * n, (k + 1) * n));
  const workspace = growWorkspace(n, nThreads > 1);
  // the threads load their modules (hundreds of ms) while this thread bins the data into the buffers they share
  const starting =
    nThreads > 1 ? HistogramThreads.start(bins, { margins: F, grad: gradAll, hess: hessAll, rows: workspace.rows, scratch: workspace.scratch, ...(binary ? { binary } : {}) }, nThreads) : undefined;
  let binning: BinnedFeature[];
  let vbins: BinMatrix | undefined;
  try {
    binning = binTraining(data.train.raw, data.features, { maxBins: params.maxBins, maxCategories: params.maxCategories }, bins);
    vbins = data.validation ? binTable(data.validation.raw, binning) : undefined;
  } catch (e) {
    await (await starting)?.close();
    throw e;
  }
  const threads = await starting;

  const applyValidation = (tree: Tree, k: number) => {
    if (vbins) for (let i = 0; i < nv; i++) Fv[i * K + k] = Fv[i * K + k]! + tree.value[leafOfBinned(tree, vbins, i)]!;
  };
  // (the same additions and, binary, the same factors as the grown tree's own leaf update: a resumed run's margins are the uninterrupted run's)
  const apply = (tree: Tree, k: number) => {
    const factors = binary && expFactors(tree.value, tree.value.length);
    for (let i = 0; i < n; i++) {
      const leaf = leafOfBinned(tree, bins, i);
      F[i * K + k] = F[i * K + k]! + tree.value[leaf]!;
      if (binary) binary.expNeg[i] = binary.expNeg[i]! * factors![leaf]!;
    }
    applyValidation(tree, k);
  };
  state.trees.forEach((t, j) => apply(t, j % K));
  const rng = new Rng(state.rng);
  const allRows = Uint32Array.from({ length: n }, (_, i) => i);
  const allFeatures = binning.map((_, f) => f);
  const probs = new Float64Array(K);
  // the next tree's root holds every row and may split on every feature: the threads build its
  // histogram with the gradients (histogram-threads.ts binaryTerms); not after the last round
  const rootFeatures = params.subsample >= 1 && params.colsample >= 1 ? Int32Array.from(allFeatures) : undefined;
  const binaryRound = (): number => {
    if (!binary) throw new Error('not a binary task');
    if (threads) threads.binaryTerms(state.iteration < params.nEstimators ? rootFeatures : undefined);
    else binaryTerms(F, binary.expNeg, binary.y, grad[0]!, hess[0]!, binary.logp, 0, n);
    return meanLoss(binary.logp, n);
  };
  if (binary) binaryRound();

  try {
    while (!state.stopped && state.iteration < params.nEstimators) {
      // gradients at the start of the round (binary: binaryRound wrote them with the last loss)
      if (ty.kind === 'value') {
        const g = grad[0]!;
        const h = hess[0]!;
        for (let i = 0; i < n; i++) {
          g[i] = F[i]! - ty.y[i]!;
          h[i] = 1;
        }
      } else if (!binary) {
        for (let i = 0; i < n; i++) {
          softmaxRow(F, i * K, K, probs, 0);
          for (let k = 0; k < K; k++) {
            const p = probs[k]!;
            grad[k]![i] = p - (ty.y[i] === k ? 1 : 0);
            hess[k]![i] = Math.max(p * (1 - p), 1e-16);
          }
        }
      }
      let rows = allRows;
      if (params.subsample < 1) {
        const picked: number[] = [];
        for (let i = 0; i < n; i++) if (rng.next() < params.subsample) picked.push(i);
        if (picked.length === 0) picked.push(rng.int(n));
        rows = Uint32Array.from(picked);
      }
      const roundTrees: Tree[] = [];
      for (let k = 0; k < K; k++) {
        let allowed = allFeatures;
        if (params.colsample < 1) {
          const m = Math.max(1, Math.round(binning.length * params.colsample));
          const order = rng.shuffle([...allFeatures]);
          allowed = order.slice(0, m).sort((a, b) => a - b);
        }
        // training margins from the grown tree's own partition when it saw every row (the gradients
        // of the round are already computed, so updating F now changes nothing else)
        const onLeaves =
          rows === allRows
            ? (leaves: LeafRows) =>
                threads
                  ? threads.addLeafValues(leaves, K, k)
                  : addLeafValues(F, K, k, workspace.rows, leaves, 0, n, binary && { values: binary.expNeg, factors: expFactors(leaves.values, leaves.count) })
            : undefined;
        const histograms = threads && ((hist: Float64Array, start: number, end: number, features: Int32Array, all: boolean) => threads.build(hist, start, end, k, features, all));
        const tree = growTree({ data: bins, features: binning, grad: grad[k]!, hess: hess[k]!, rows, allRows: rows === allRows, allowed, ...(onLeaves ? { onLeaves } : {}), ...(histograms ? { histograms } : {}), ...(threads ? { partition: threads.partition.bind(threads) } : {}) }, params, workspace);
        if (onLeaves) applyValidation(tree, k);
        else apply(tree, k);
        roundTrees.push(tree);
      }
      state.trees.push(...roundTrees);
      state.iteration++;
      state.rng = rng.state();

      const trainLoss = binary ? binaryRound() : loss(F, ty, K);
      state.history.train.push(trainLoss);
      let validationLoss: number | undefined;
      if (data.validation) {
        validationLoss = loss(Fv, data.validation.y, K);
        state.history.validation.push(validationLoss);
        if (state.bestLoss === null || validationLoss < state.bestLoss) {
          state.bestLoss = validationLoss;
          state.bestIteration = state.iteration;
        } else if (params.earlyStoppingRounds > 0 && state.iteration - state.bestIteration >= params.earlyStoppingRounds) {
          state.stopped = true;
        }
      } else {
        state.bestIteration = state.iteration;
        state.bestLoss = trainLoss;
      }
      await hooks.onIteration?.(state, validationLoss === undefined ? { trainLoss } : { trainLoss, validationLoss });
    }
  } finally {
    await threads?.close();
  }

  const model: GbdtModel = {
    trainer: 'gbdt',
    task,
    target: data.target,
    features: binning,
    ...(ty.kind === 'class' ? { classes: ty.classes, labelType: ty.labelType } : {}),
    base,
    perIteration: K,
    trees: state.trees.slice(0, state.bestIteration * K),
  };
  return { model, state };
}

function baseScores(y: TargetData, task: ModelTask, K: number): number[] {
  if (y.kind === 'value') {
    let s = 0;
    for (let i = 0; i < y.y.length; i++) s += y.y[i]!;
    return [Math.fround(y.y.length ? s / y.y.length : 0)];
  }
  const counts = new Float64Array(y.classes.length);
  for (let i = 0; i < y.y.length; i++) counts[y.y[i]!]!++;
  const n = Math.max(1, y.y.length);
  const clamp = (p: number) => Math.min(1 - 1e-6, Math.max(1e-6, p));
  if (task === 'binary' || K === 1) {
    const p = clamp(counts[1]! / n);
    return [Math.fround(Math.log(p / (1 - p)))];
  }
  return Array.from(counts, (c) => Math.fround(Math.log(clamp(c / n))));
}

function loss(F: Float64Array, y: TargetData, K: number): number {
  const n = y.y.length;
  if (n === 0) return 0;
  let s = 0;
  if (y.kind === 'value') {
    for (let i = 0; i < n; i++) s += (F[i]! - y.y[i]!) ** 2;
    return s / n;
  }
  const eps = 1e-15;
  if (K === 1) {
    for (let i = 0; i < n; i++) {
      const p = sigmoid(F[i]!);
      s -= Math.log(Math.min(1 - eps, Math.max(eps, y.y[i] === 1 ? p : 1 - p)));
    }
    return s / n;
  }
  const probs = new Float64Array(K);
  for (let i = 0; i < n; i++) {
    softmaxRow(F, i * K, K, probs, 0);
    s -= Math.log(Math.min(1 - eps, Math.max(eps, probs[y.y[i]!]!)));
  }
  return s / n;
}
