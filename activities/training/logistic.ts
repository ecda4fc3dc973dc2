import type { FeatureColumn, RawTable, TargetData } from './data/design-matrix';
import { designMatrix, fitLinearPreprocess } from './data/linear-features';
import { toFloat32, type LinearModel } from './linear-model';

/**
 * Logistic regression with an L2 penalty: binary (one logit, sigmoid) or multinomial (one
 * logit per class, softmax), on standardised / one-hot features. Objective:
 *   mean cross-entropy + l2 / 2 · ||W||²   (intercepts not penalised)
 * minimised by L-BFGS (memory 10, Armijo backtracking). Full-batch and deterministic: the state
 * after iteration t (weights, curvature pairs, iteration) is the whole checkpoint; a run
 * resumed from it takes exactly the steps the uninterrupted run takes.
 */

export interface LogisticParams {
  l2: number;
  maxIter: number;
  tol: number;
  maxCategories: number;
}

export interface LogisticState {
  iteration: number;
  w: number[];
  s: number[][];
  y: number[][];
  done: boolean;
}

export interface LogisticHooks {
  resume?: LogisticState | undefined;
  /** After each iteration; awaited (heartbeats, cancellation). */
  onIteration?: (state: LogisticState, info: { loss: number; gradNorm: number }) => Promise<void> | void;
}

const MEMORY = 10;

export async function trainLogistic(
  data: { target: string; features: FeatureColumn[]; raw: RawTable; y: TargetData & { kind: 'class' } },
  params: LogisticParams,
  hooks: LogisticHooks = {},
): Promise<{ model: LinearModel; iterations: number; converged: boolean }> {
  const pre = fitLinearPreprocess(data.raw, data.features, { maxCategories: params.maxCategories });
  const n = data.raw.n;
  const d = pre.dim;
  const X = designMatrix(data.raw, pre);
  const C = data.y.classes.length;
  const K = C === 2 ? 1 : C;
  const P = K * (d + 1);
  const yv = data.y.y;

  const objective = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    const m = new Float64Array(K);
    for (let i = 0; i < n; i++) {
      const row = i * d;
      for (let k = 0; k < K; k++) {
        const o = k * (d + 1);
        let s = theta[o + d]!;
        for (let j = 0; j < d; j++) s += theta[o + j]! * X[row + j]!;
        m[k] = s;
      }
      if (K === 1) {
        const z = m[0]!;
        const yi = yv[i]!;
        loss += Math.max(z, 0) - yi * z + Math.log1p(Math.exp(-Math.abs(z)));
        const r = 1 / (1 + Math.exp(-z)) - yi;
        for (let j = 0; j < d; j++) grad[j] = grad[j]! + r * X[row + j]!;
        grad[d] = grad[d]! + r;
      } else {
        let max = -Infinity;
        for (let k = 0; k < K; k++) max = Math.max(max, m[k]!);
        let sum = 0;
        for (let k = 0; k < K; k++) sum += Math.exp(m[k]! - max);
        const lse = max + Math.log(sum);
        loss += lse - m[yv[i]!]!;
        for (let k = 0; k < K; k++) {
          const r = Math.exp(m[k]! - lse) - (yv[i] === k ? 1 : 0);
          const o = k * (d + 1);
          for (let j = 0; j < d; j++) grad[o + j] = grad[o + j]! + r * X[row + j]!;
          grad[o + d] = grad[o + d]! + r;
        }
      }
    }
    loss /= n;
    for (let p = 0; p < P; p++) grad[p] = grad[p]! / n;
    for (let k = 0; k < K; k++) {
      const o = k * (d + 1);
      for (let j = 0; j < d; j++) {
        const w = theta[o + j]!;
        loss += 0.5 * params.l2 * w * w;
        grad[o + j] = grad[o + j]! + params.l2 * w;
      }
    }
    return loss;
  };

  const st: LogisticState = hooks.resume
    ? structuredClone(hooks.resume)
    : { iteration: 0, w: Array.from({ length: P }, () => 0), s: [], y: [], done: false };
  if (st.w.length !== P) throw new Error(`checkpoint has ${st.w.length} weights, this problem ${P}`);

  const theta = Float64Array.from(st.w);
  const g = new Float64Array(P);
  let f = objective(theta, g);
  while (!st.done && st.iteration < params.maxIter) {
    const gInf = g.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    if (gInf < params.tol) {
      st.done = true;
      break;
    }
    // two-loop recursion: direction = -H g
    const q = Float64Array.from(g);
    const alphas: number[] = [];
    for (let h = st.s.length - 1; h >= 0; h--) {
      const s = st.s[h]!;
      const y = st.y[h]!;
      const rho = 1 / dot(y, s);
      const a = rho * dot(s, q);
      alphas[h] = a;
      for (let p = 0; p < P; p++) q[p] = q[p]! - a * y[p]!;
    }
    if (st.s.length) {
      const s = st.s[st.s.length - 1]!;
      const y = st.y[st.y.length - 1]!;
      const gamma = dot(s, y) / dot(y, y);
      for (let p = 0; p < P; p++) q[p] = q[p]! * gamma;
    }
    for (let h = 0; h < st.s.length; h++) {
      const s = st.s[h]!;
      const y = st.y[h]!;
      const rho = 1 / dot(y, s);
      const b = rho * dot(y, q);
      for (let p = 0; p < P; p++) q[p] = q[p]! + s[p]! * (alphas[h]! - b);
    }
    const dir = q.map((v) => -v);
    let slope = dot(g, dir);
    if (!(slope < 0)) {
      // not a descent direction: forget the curvature pairs, take steepest descent
      st.s = [];
      st.y = [];
      for (let p = 0; p < P; p++) dir[p] = -g[p]!;
      slope = dot(g, dir);
    }
    let step = st.s.length === 0 ? Math.min(1, 1 / Math.sqrt(dot(g, g))) : 1;
    const next = new Float64Array(P);
    const gNext = new Float64Array(P);
    let fNext = f;
    let accepted = false;
    for (let trial = 0; trial < 40; trial++) {
      for (let p = 0; p < P; p++) next[p] = theta[p]! + step * dir[p]!;
      fNext = objective(next, gNext);
      if (fNext <= f + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) {
      st.done = true; // no progress possible at this precision
      break;
    }
    const sv = Array.from(next, (v, p) => v - theta[p]!);
    const yv2 = Array.from(gNext, (v, p) => v - g[p]!);
    if (dot(sv, yv2) > 1e-12) {
      st.s.push(sv);
      st.y.push(yv2);
      if (st.s.length > MEMORY) {
        st.s.shift();
        st.y.shift();
      }
    }
    theta.set(next);
    g.set(gNext);
    const fOld = f;
    f = fNext;
    st.iteration++;
    st.w = Array.from(theta);
    if (Math.abs(fOld - f) <= 1e-12 * Math.max(1, Math.abs(f))) st.done = true;
    await hooks.onIteration?.(st, { loss: f, gradNorm: Math.sqrt(dot(g, g)) });
  }

  const coef = new Float64Array(K * d);
  const intercept = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < d; j++) coef[k * d + j] = theta[k * (d + 1) + j]!;
    intercept[k] = theta[k * (d + 1) + d]!;
  }
  const model: LinearModel = {
    trainer: 'logistic',
    task: C === 2 ? 'binary' : 'multiclass',
    target: data.target,
    features: data.features,
    pre,
    classes: data.y.classes,
    labelType: data.y.labelType,
    coef: toFloat32(coef),
    intercept: toFloat32(intercept),
  };
  return { model, iterations: st.iteration, converged: st.done };
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
