import ort from 'onnxruntime-node';
import type pl from 'nodejs-polars';
import type { ModelSignature } from '../../pipelines/steps/model';
import { numericColumn, stringColumn } from '../../activities/training/data/design-matrix';

/**
 * onnxruntime inputs for a model signature, for tests that run an exported graph on a frame
 * themselves and compare it with the trainer's own predictions: one [N, 1] tensor per input (or
 * one [N, k] tensor for a 2-D input), read from the named columns. Missing numbers are NaN,
 * missing strings '' (the convention the trained graphs impute / route). Batch scoring and
 * evaluation build their feeds in activities/onnx/scoring.ts.
 */
export function feedsFromFrame(signature: ModelSignature, df: pl.DataFrame): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  const n = df.height;
  for (const inp of signature.inputs) {
    if ('columns' in inp) {
      feeds[inp.name] = matrixTensor(inp.type, inp.columns.map((c) => {
        if (!df.columns.includes(c)) throw new Error(`the data has no column "${c}" (model input ${inp.name})`);
        return numericColumn(df, c);
      }), n);
      continue;
    }
    if (!df.columns.includes(inp.column)) throw new Error(`the data has no column "${inp.column}" (model input ${inp.name})`);
    switch (inp.type) {
      case 'float':
        feeds[inp.name] = new ort.Tensor('float32', numericColumn(df, inp.column), [n, 1]);
        break;
      case 'double':
        feeds[inp.name] = new ort.Tensor('float64', Float64Array.from(numericColumn(df, inp.column)), [n, 1]);
        break;
      case 'int64':
        feeds[inp.name] = new ort.Tensor('int64', BigInt64Array.from(numericColumn(df, inp.column), (v) => BigInt(Number.isNaN(v) ? 0 : Math.trunc(v))), [n, 1]);
        break;
      case 'string':
        feeds[inp.name] = new ort.Tensor('string', stringColumn(df, inp.column), [n, 1]);
        break;
    }
  }
  return feeds;
}

/** A [n, k] tensor, row-major, column j from `columns[j]` (a 2-D model input). */
function matrixTensor(type: 'float' | 'double', columns: ArrayLike<number>[], n: number): ort.Tensor {
  const k = columns.length;
  const out = type === 'float' ? new Float32Array(n * k) : new Float64Array(n * k);
  columns.forEach((col, j) => {
    for (let i = 0; i < n; i++) out[i * k + j] = col[i]!;
  });
  return new ort.Tensor(type === 'float' ? 'float32' : 'float64', out, [n, k]);
}
