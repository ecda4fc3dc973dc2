import type { ModelTask } from '../../../pipelines/steps/model';
import type { RawTable } from '../data/design-matrix';
import { classHead, type Prediction } from '../head';
import { featureValues, type BinnedFeature } from './binning';
import { leafOfValues, type Tree } from './tree';

/**
 * A fitted gradient-boosted tree ensemble: binning (thresholds, category codes), base scores
 * and trees (threshold splits and category-set splits), all in float32 as the ONNX TreeEnsemble
 * stores them. Trees are
 * iteration-major: trees[t * perIteration + k] is class k's tree of round t.
 */
export interface GbdtModel {
  trainer: 'gbdt';
  task: ModelTask;
  target: string;
  features: BinnedFeature[];
  classes?: (string | number)[];
  labelType?: 'string' | 'int64';
  /** One base score per output (float32). */
  base: number[];
  /** Trees per round: 1 for regression and binary, C for multiclass. */
  perIteration: number;
  trees: Tree[];
}

/** Margins (n × perIteration) of float32 feature values. */
export function gbdtMargins(model: GbdtModel, x: readonly Float32Array[], n: number): Float64Array {
  const K = model.perIteration;
  const m = new Float64Array(n * K);
  for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) m[i * K + k] = model.base[k]!;
  model.trees.forEach((tree, t) => {
    const k = t % K;
    for (let i = 0; i < n; i++) m[i * K + k] = m[i * K + k]! + tree.value[leafOfValues(tree, x, i)]!;
  });
  return m;
}

export function predictGbdt(model: GbdtModel, raw: RawTable): Prediction {
  const x = model.features.map((f) => featureValues(raw, f));
  const m = gbdtMargins(model, x, raw.n);
  if (model.task === 'regression') return { kind: 'value', n: raw.n, values: m };
  return classHead(m, raw.n, model.classes!.length);
}

// ---------------------------------------------------------------------------------------------
// Compact serialisation (checkpoints): per tree a u32 node count, then 16 bytes a node:
// u16 feature (0xffff = leaf), u8 bin, f32 threshold, u16 left, u16 right, u8 flags (1: missing
// left, 2: categorical split), f32 value; then each categorical node's set, in node order: u16
// length and one byte a code (1: left).

const NODE_BYTES = 16;

export function packTrees(trees: readonly Tree[]): string {
  const setBytes = (t: Tree) => t.cats.reduce((s, c) => s + (c ? 2 + c.length : 0), 0);
  const total = trees.reduce((s, t) => s + 4 + t.feature.length * NODE_BYTES + setBytes(t), 0);
  const buf = Buffer.alloc(total);
  let o = 0;
  for (const t of trees) {
    const n = t.feature.length;
    if (n > 0xffff) throw new Error(`tree with ${n} nodes cannot be packed`);
    buf.writeUInt32LE(n, o);
    o += 4;
    for (let j = 0; j < n; j++) {
      const f = t.feature[j]!;
      buf.writeUInt16LE(f < 0 ? 0xffff : f, o);
      buf.writeUInt8(t.bin[j]!, o + 2);
      buf.writeFloatLE(t.threshold[j]!, o + 3);
      buf.writeUInt16LE(t.left[j]! < 0 ? 0xffff : t.left[j]!, o + 7);
      buf.writeUInt16LE(t.right[j]! < 0 ? 0xffff : t.right[j]!, o + 9);
      buf.writeUInt8((t.missingLeft[j] ? 1 : 0) | (t.cats[j] ? 2 : 0), o + 11);
      buf.writeFloatLE(t.value[j]!, o + 12);
      o += NODE_BYTES;
    }
    for (const c of t.cats) {
      if (!c) continue;
      buf.writeUInt16LE(c.length, o);
      buf.set(c, o + 2);
      o += 2 + c.length;
    }
  }
  return buf.toString('base64');
}

export function unpackTrees(packed: string): Tree[] {
  const buf = Buffer.from(packed, 'base64');
  const trees: Tree[] = [];
  let o = 0;
  while (o < buf.length) {
    const n = buf.readUInt32LE(o);
    o += 4;
    const t: Tree = { feature: [], bin: [], cats: [], threshold: [], left: [], right: [], missingLeft: [], value: [] };
    for (let j = 0; j < n; j++) {
      const f = buf.readUInt16LE(o);
      t.feature.push(f === 0xffff ? -1 : f);
      t.bin.push(buf.readUInt8(o + 2));
      t.threshold.push(buf.readFloatLE(o + 3));
      const l = buf.readUInt16LE(o + 7);
      const r = buf.readUInt16LE(o + 9);
      t.left.push(l === 0xffff ? -1 : l);
      t.right.push(r === 0xffff ? -1 : r);
      const flags = buf.readUInt8(o + 11);
      t.missingLeft.push((flags & 1) === 1);
      t.cats.push((flags & 2) === 2 ? new Uint8Array(0) : null); // filled in below
      t.value.push(buf.readFloatLE(o + 12));
      o += NODE_BYTES;
    }
    for (let j = 0; j < n; j++) {
      if (!t.cats[j]) continue;
      const len = buf.readUInt16LE(o);
      t.cats[j] = Uint8Array.from(buf.subarray(o + 2, o + 2 + len));
      o += 2 + len;
    }
    trees.push(t);
  }
  return trees;
}
