import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracy,
  argmax,
  averagePrecision,
  binOf,
  brierScore,
  calibration,
  classificationMetrics,
  classStats,
  confusionMatrix,
  logLoss,
  LOG_LOSS_EPS,
  nanMean,
  nanWeightedMean,
  prCurve,
  rocAuc,
  rocCurve,
  thresholdCounts,
} from '../activities/evaluation/metrics/classification';
import { histogram, regressionMetrics } from '../activities/evaluation/metrics/regression';
import { groupSlices, perSlice, take } from '../activities/evaluation/metrics/slices';

/**
 * Metric functions against cases computed by hand (the working is in the comments); the same
 * numbers come out of scikit-learn (zero_division=np.nan) where it defines them.
 */

const close = (actual: number | null | undefined, expected: number, tol = 1e-12, what = '') => {
  assert.ok(typeof actual === 'number', `${what} is a number (got ${actual})`);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} ≈ ${expected}`);
};
const u8 = (xs: number[]) => Uint8Array.from(xs);
const i32 = (xs: number[]) => Int32Array.from(xs);
const f64 = (xs: number[]) => Float64Array.from(xs);

describe('ROC AUC', () => {
  test('no ties: the share of (positive, negative) pairs ordered correctly', () => {
    // positives 0.8, 0.35; negatives 0.1, 0.4. 0.8 beats both (2), 0.35 beats 0.1 (1): 3/4.
    close(rocAuc(u8([0, 0, 1, 1]), f64([0.1, 0.4, 0.35, 0.8])), 0.75);
  });

  test('tied scores count 1/2', () => {
    // positives {0.9, 0.5, 0.1}, negatives {0.9, 0.5}:
    // 0.9 vs 0.9 tie (½) + 0.9 > 0.5 (1); 0.5 vs 0.5 tie (½); 0.1 loses both → 2 / 6.
    close(rocAuc(u8([1, 0, 1, 0, 1]), f64([0.9, 0.9, 0.5, 0.5, 0.1])), 1 / 3);
    // All scores equal: every pair is a tie.
    close(rocAuc(u8([0, 1, 0, 1]), f64([0.5, 0.5, 0.5, 0.5])), 0.5);
    // positives {0.7, 0.6}, negatives {0.7, 0.2}: 0.7 ties 0.7 (½), beats 0.2; 0.6 loses to 0.7, beats 0.2 → 2.5 / 4.
    close(rocAuc(u8([1, 0, 1, 0]), f64([0.7, 0.7, 0.6, 0.2])), 2.5 / 4);
  });

  test('perfect, inverted, and undefined (one class only) → 1, 0, null', () => {
    close(rocAuc(u8([0, 0, 1, 1]), f64([0.1, 0.2, 0.8, 0.9])), 1);
    close(rocAuc(u8([1, 1, 0, 0]), f64([0.1, 0.2, 0.8, 0.9])), 0);
    assert.equal(rocAuc(u8([1, 1, 1]), f64([0.1, 0.2, 0.3])), null);
    assert.equal(rocAuc(u8([0, 0]), f64([0.1, 0.2])), null);
    assert.equal(rocAuc(u8([]), f64([])), null);
  });

  test('the curve has one point per distinct score, from (0,0) at +inf to (1,1)', () => {
    const c = rocCurve(thresholdCounts(u8([1, 0, 1, 0, 1]), f64([0.9, 0.9, 0.5, 0.5, 0.1])))!;
    assert.deepEqual([...c.thresholds], [Infinity, 0.9, 0.5, 0.1]);
    assert.deepEqual([...c.fpr], [0, 0.5, 1, 1]);
    assert.deepEqual([...c.tpr], [0, 1 / 3, 2 / 3, 1]);
  });

  test('NaN scores are refused', () => {
    assert.throws(() => rocAuc(u8([0, 1]), f64([NaN, 0.3])), /NaN/);
  });
});

describe('average precision (PR AUC)', () => {
  test('Σ (Rn − Rn−1)·Pn over distinct thresholds', () => {
    // by score: 0.8(+) 0.4(−) 0.35(+) 0.1(−): R = ½,½,1,1; P = 1,½,⅔,½ → ½·1 + ½·⅔ = 5/6.
    close(averagePrecision(u8([0, 0, 1, 1]), f64([0.1, 0.4, 0.35, 0.8])), 5 / 6);
  });

  test('ties move together', () => {
    // 0.9: tp1 fp1 (R ⅓, P ½); 0.5: tp2 fp2 (R ⅔, P ½); 0.1: tp3 fp2 (R 1, P ⅗) → ⅙ + ⅙ + ⅕.
    close(averagePrecision(u8([1, 0, 1, 0, 1]), f64([0.9, 0.9, 0.5, 0.5, 0.1])), 1 / 6 + 1 / 6 + 1 / 5);
  });

  test('no positive → null; no negative → 1', () => {
    assert.equal(averagePrecision(u8([0, 0]), f64([0.3, 0.6])), null);
    close(averagePrecision(u8([1, 1]), f64([0.3, 0.6])), 1);
  });

  test('the PR curve starts at (recall 0, precision 1)', () => {
    const c = prCurve(thresholdCounts(u8([0, 0, 1, 1]), f64([0.1, 0.4, 0.35, 0.8])))!;
    assert.deepEqual([...c.recall], [0, 0.5, 0.5, 1, 1]);
    assert.deepEqual([...c.precision], [1, 1, 0.5, 2 / 3, 0.5]);
  });
});

describe('confusion matrix, precision, recall, F1', () => {
  // 3 classes; class 2 is absent from y_true but predicted once.
  const yTrue = i32([0, 0, 1, 1, 1]);
  const yPred = i32([0, 1, 1, 1, 2]);

  test('rows are true classes, columns predicted', () => {
    assert.deepEqual(confusionMatrix(yTrue, yPred, 3), [
      [1, 1, 0],
      [0, 2, 1],
      [0, 0, 0],
    ]);
    assert.throws(() => confusionMatrix(i32([3]), i32([0]), 3), /out of range/);
  });

  test('per class: a class absent from y_true has recall null; predicted anyway, precision and F1 are 0', () => {
    const s = classStats(confusionMatrix(yTrue, yPred, 3));
    // class 0: TP 1, predicted 1, support 2 → P 1, R ½, F1 2/(2+0+1)
    assert.deepEqual([s[0]!.precision, s[0]!.recall], [1, 0.5]);
    close(s[0]!.f1, 2 / 3);
    // class 1: TP 2, predicted 3, support 3 → P ⅔, R ⅔, F1 4/(4+1+1)
    close(s[1]!.precision, 2 / 3);
    close(s[1]!.recall, 2 / 3);
    close(s[1]!.f1, 2 / 3);
    // class 2: TP 0, FP 1, support 0
    assert.deepEqual({ p: s[2]!.precision, r: s[2]!.recall, f1: s[2]!.f1, support: s[2]!.support }, { p: 0, r: null, f1: 0, support: 0 });
  });

  test('macro and weighted averages leave undefined values out', () => {
    const r = classificationMetrics({ yTrue, yPred, proba: null, nClasses: 3 });
    close(r.metrics.accuracy, 3 / 5);
    close(r.metrics.precision_macro, (1 + 2 / 3 + 0) / 3); // all three defined
    close(r.metrics.recall_macro, (0.5 + 2 / 3) / 2); // class 2's null recall left out, not counted as 0
    close(r.metrics.f1_macro, (2 / 3 + 2 / 3 + 0) / 3);
    close(r.metrics.precision_weighted, (1 * 2 + (2 / 3) * 3 + 0 * 0) / 5);
    close(r.metrics.recall_weighted, 3 / 5); // = accuracy
    close(r.metrics.f1_weighted, ((2 / 3) * 2 + (2 / 3) * 3) / 5);
    // No probabilities → no probability metrics at all (rather than nulls).
    assert.equal('roc_auc' in r.metrics, false);
    assert.equal('log_loss' in r.metrics, false);
  });

  test('a class neither present nor predicted is undefined throughout and ignored', () => {
    const r = classificationMetrics({ yTrue: i32([0, 1, 1]), yPred: i32([0, 1, 0]), proba: null, nClasses: 4 });
    assert.deepEqual([r.perClass[3]!.precision, r.perClass[3]!.recall, r.perClass[3]!.f1], [null, null, null]);
    // class 2 too; macro over classes 0 and 1: P (½ + 1)/2, R (1 + ½)/2
    close(r.metrics.precision_macro, 0.75);
    close(r.metrics.recall_macro, 0.75);
  });

  test('binary: precision, recall, F1 of the positive class (index 1)', () => {
    // TP 2 (rows 2, 3), FP 1 (row 1), FN 1 (row 4), TN 1
    const r = classificationMetrics({ yTrue: i32([0, 0, 1, 1, 1]), yPred: i32([0, 1, 1, 1, 0]), proba: null, nClasses: 2 });
    close(r.metrics.precision, 2 / 3);
    close(r.metrics.recall, 2 / 3);
    close(r.metrics.f1, 2 / 3);
    // positive class never predicted → precision null (not 0), F1 = 0 (recall is 0)
    const none = classificationMetrics({ yTrue: i32([0, 1]), yPred: i32([0, 0]), proba: null, nClasses: 2 });
    assert.equal(none.metrics.precision, null);
    assert.equal(none.metrics.recall, 0);
    assert.equal(none.metrics.f1, 0);
  });

  test('helpers', () => {
    assert.equal(accuracy(i32([]), i32([])), null);
    assert.equal(nanMean([null, null]), null);
    close(nanMean([1, null, 2]), 1.5);
    close(nanWeightedMean([1, null, 4], [1, 100, 3]), (1 + 12) / 4);
    assert.equal(nanWeightedMean([1, 2], [0, 0]), null);
    assert.deepEqual([...argmax(f64([0.5, 0.5, 0.2, 0.8, 0.9, 0.1]), 2)], [0, 1, 0], 'ties → first class');
  });
});

describe('probability metrics', () => {
  test('log loss: mean −ln p(true class), clipped', () => {
    close(logLoss(i32([0, 1]), f64([0.8, 0.2, 0.4, 0.6]), 2), -(Math.log(0.8) + Math.log(0.6)) / 2);
    close(logLoss(i32([1]), f64([1, 0]), 2), -Math.log(LOG_LOSS_EPS), 1e-9, 'p = 0 is clipped to eps');
    close(logLoss(i32([0]), f64([1, 0]), 2), -Math.log(1 - LOG_LOSS_EPS), 1e-20, 'p = 1 is clipped to 1 - eps');
    assert.equal(logLoss(i32([]), f64([]), 2), null);
  });

  test('Brier score', () => {
    // (0.8 − 1)² + (0.3 − 0)² = 0.04 + 0.09
    close(brierScore(u8([1, 0]), f64([0.8, 0.3])), 0.065);
  });

  test('calibration: equal-width bins, ECE weighted by bin size', () => {
    const p = f64([0.05, 0.15, 0.12, 0.95, 0.85, 1.0]);
    const y = u8([0, 0, 1, 1, 0, 1]);
    const c = calibration(p, y, 10);
    assert.equal(c.bins.length, 10);
    assert.deepEqual(c.bins.map((b) => b.count), [1, 2, 0, 0, 0, 0, 0, 0, 1, 2]);
    close(c.bins[1]!.meanPredicted, 0.135);
    close(c.bins[1]!.observed, 0.5);
    assert.equal(c.bins[2]!.meanPredicted, null, 'an empty bin has no mean');
    close(c.bins[9]!.meanPredicted, 0.975, 1e-12, 'p = 1 falls in the last (closed) bin');
    // (1/6)·0.05 + (2/6)·0.365 + (1/6)·0.85 + (2/6)·0.025
    close(c.ece, 0.28);
    assert.equal(calibration(f64([]), u8([]), 5).ece, null);
  });

  test('bin edges hold despite float rounding', () => {
    assert.equal(binOf(0.3, 10), 3);
    assert.equal(binOf(0.7, 10), 7);
    assert.equal(binOf(0, 10), 0);
    assert.equal(binOf(1, 10), 9);
    assert.equal(binOf(0.2999999, 10), 2);
  });

  test('multiclass: one-vs-rest macro AUC and AP over the classes where they are defined', () => {
    // class 3 never occurs: its AUC and AP are null and left out of the macro averages.
    const yTrue = i32([0, 1, 2, 0, 1, 2, 1]);
    const proba = f64([0.6, 0.3, 0.1, 0, 0.2, 0.5, 0.3, 0, 0.1, 0.2, 0.7, 0, 0.3, 0.4, 0.3, 0, 0.5, 0.4, 0.1, 0, 0.3, 0.3, 0.4, 0, 0.3, 0.3, 0.4, 0]);
    const r = classificationMetrics({ yTrue, yPred: argmax(proba, 4), proba, nClasses: 4 }, { curves: true });
    // class 0: positives .6, .3 vs negatives .2 .1 .5 .3 .3: .6 beats 5; .3 beats 2, ties 2 (1), loses 1 → 8/10
    close(r.perClass[0]!.rocAuc, 0.8);
    close(r.perClass[1]!.rocAuc, 0.7916666666666666, 1e-12, 'class 1 AUC');
    close(r.perClass[2]!.rocAuc, 0.95, 1e-12, 'class 2 AUC');
    assert.equal(r.perClass[3]!.rocAuc, null);
    close(r.metrics.roc_auc, (0.8 + 0.7916666666666666 + 0.95) / 3);
    assert.equal(r.perClass[3]!.averagePrecision, null);
    close(r.metrics.pr_auc, (0.7 + 0.7222222222222222 + 0.8333333333333333) / 3);
    close(r.metrics.log_loss, 0.8287392600949787, 1e-12, 'log loss');
    assert.equal(r.curves.length, 4);
    assert.equal(r.curves[3]!.roc, null);
    assert.equal(r.calibration!.kind, 'top-label');
    assert.equal('brier' in r.metrics, false, 'Brier is binary only');
  });

  test('binary: AUC, AP, Brier and the reliability curve use p(classes[1])', () => {
    const yTrue = i32([0, 0, 1, 1]);
    const pos = [0.1, 0.4, 0.35, 0.8];
    const proba = f64(pos.flatMap((p) => [1 - p, p]));
    const r = classificationMetrics({ yTrue, yPred: argmax(proba, 2), proba, nClasses: 2 }, { curves: true, calibrationBins: 5 });
    close(r.metrics.roc_auc, 0.75);
    close(r.metrics.pr_auc, 5 / 6);
    close(r.metrics.brier, (0.1 ** 2 + 0.4 ** 2 + 0.65 ** 2 + 0.2 ** 2) / 4);
    assert.equal(r.curves.length, 1);
    assert.equal(r.curves[0]!.classIndex, 1);
    assert.equal(r.calibration!.kind, 'positive-class');
    assert.equal(r.calibration!.bins.length, 5);
  });

  test('binary with a single class in y_true: AUC null, AP defined or null', () => {
    const proba = f64([0.9, 0.1, 0.6, 0.4]);
    const allNeg = classificationMetrics({ yTrue: i32([0, 0]), yPred: i32([0, 0]), proba, nClasses: 2 });
    assert.equal(allNeg.metrics.roc_auc, null);
    assert.equal(allNeg.metrics.pr_auc, null);
    assert.equal(allNeg.metrics.recall, null);
    close(allNeg.metrics.accuracy, 1);
  });
});

describe('regression', () => {
  test('RMSE, MAE, R², max error, MAPE', () => {
    // errors: .5, −.5, 0, −1 → MSE (.25 + .25 + 0 + 1)/4 = .375; MAE 2/4
    // mean y = 2.875; SS_tot = .015625 + 11.390625 + .765625 + 17.015625 = 29.1875 → R² = 1 − 1.5/29.1875
    // MAPE: (.5/3 + .5/.5 + 0 + 1/7) / 4
    const r = regressionMetrics(f64([3, -0.5, 2, 7]), f64([2.5, 0, 2, 8]));
    close(r.metrics.mse, 0.375);
    close(r.metrics.rmse, Math.sqrt(0.375));
    close(r.metrics.mae, 0.5);
    close(r.metrics.r2, 1 - 1.5 / 29.1875);
    close(r.metrics.max_error, 1);
    close(r.metrics.mape, (0.5 / 3 + 1 + 0 + 1 / 7) / 4);
    assert.equal(r.metrics.mape_zero_targets, 0);
  });

  test('MAPE skips zero targets and says how many', () => {
    const r = regressionMetrics(f64([0, 2, 0, 4]), f64([1, 1, 0, 5]));
    close(r.metrics.mape, (0.5 + 0.25) / 2);
    assert.equal(r.metrics.mape_zero_targets, 2);
    assert.equal(regressionMetrics(f64([0, 0]), f64([1, 2])).metrics.mape, null);
  });

  test('constant y_true: R² undefined (null); no rows: all null', () => {
    assert.equal(regressionMetrics(f64([2, 2, 2]), f64([1, 2, 3])).metrics.r2, null);
    const empty = regressionMetrics(f64([]), f64([]));
    assert.equal(empty.rows, 0);
    assert.equal(empty.metrics.rmse, null);
  });

  test('histogram', () => {
    assert.deepEqual(histogram(f64([0, 1, 2, 3, 4]), 2), { edges: [0, 2, 4], counts: [2, 3] });
    assert.deepEqual(histogram(f64([NaN]), 3), { edges: [], counts: [] });
  });
});

describe('slices', () => {
  test('groups by value, largest first, null last among equals, the rest counted as omitted', () => {
    const g = groupSlices(['a', 'b', null, 'a', 'c', 'b', 'a', null], 3);
    assert.deepEqual(
      g.groups.map((x) => [x.value, [...x.indices]]),
      [
        ['a', [0, 3, 6]],
        ['b', [1, 5]],
        [null, [2, 7]],
      ],
    );
    assert.deepEqual([g.omittedSlices, g.omittedRows], [1, 1]);
  });

  test('take() gathers rows of flat and N×C arrays; metrics per slice', () => {
    assert.deepEqual([...take(f64([10, 11, 12, 13]), Uint32Array.from([3, 1]))], [13, 11]);
    assert.deepEqual([...take(f64([1, 2, 3, 4, 5, 6]), Uint32Array.from([2, 0]), 2)], [5, 6, 1, 2]);
    const yTrue = i32([1, 0, 1, 1]);
    const yPred = i32([1, 0, 0, 1]);
    const groups = groupSlices(['x', 'x', 'y', 'y'], 10);
    const res = perSlice(groups, (idx) => accuracy(take(yTrue, idx), take(yPred, idx)));
    assert.deepEqual(res, [
      { value: 'x', rows: 2, result: 1 },
      { value: 'y', rows: 2, result: 0.5 },
    ]);
  });
});
