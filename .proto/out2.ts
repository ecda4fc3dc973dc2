import fs from 'node:fs';
import pl from 'nodejs-polars';
import { performance } from 'node:perf_hooks';
import { predictionsFrame, compactFrame, predictionColumns } from '../activities/scoring/prediction-frame';
const n = 262144;
const frame = pl.DataFrame([pl.Series('row_id', Array.from({ length: n }, (_, i) => i), pl.UInt32)]);
const p = new Float32Array(n * 2); const idx = new Int32Array(n);
for (let i = 0; i < n; i++) { const q = Math.random(); p[2*i] = 1-q; p[2*i+1] = q; idx[i] = q > 0.5 ? 1 : 0; }
const model = { task: 'binary' as const, classes: ['false', 'true'], hasProbabilities: true };
const meta = { modelName: 'flights-late', modelVersion: 1, runId: '0f9d6c1e-1b7e-4a53-9c4e-8d1c2b3a4f5e' };
const variants: Record<string, (df: pl.DataFrame) => void> = {
  zstd: (df) => df.writeParquet('/tmp/o.parquet', { compression: 'zstd' }),
  zstd1: (df) => df.writeParquet('/tmp/o.parquet', { compression: 'zstd', compressionLevel: 1 } as any),
  lz4: (df) => df.writeParquet('/tmp/o.parquet', { compression: 'lz4' }),
  snappy: (df) => df.writeParquet('/tmp/o.parquet', { compression: 'snappy' }),
};
for (let r = 0; r < 3; r++) {
  const t0 = performance.now();
  const df = predictionsFrame(frame, { rows: n, labelIndex: idx, probabilities: p }, model, [], meta);
  const t1 = performance.now();
  const df32 = compactFrame(frame, { rows: n, labelIndex: idx, probabilities: p }, model, []).select(...predictionColumns(model, [], meta).map((e, i) => e));
  const t2 = performance.now();
  const line = [`frame ${(t1 - t0).toFixed(1)}`];
  for (const [k, f] of Object.entries(variants)) { const s = performance.now(); f(df); line.push(`${k} ${(performance.now() - s).toFixed(1)} (${(fs.statSync('/tmp/o.parquet').size/1e6).toFixed(2)}MB)`); }
  const s = performance.now(); df.withColumns(pl.col('proba_false').cast(pl.Float32), pl.col('proba_true').cast(pl.Float32)).writeParquet('/tmp/o.parquet', { compression: 'zstd' }); line.push(`zstd-f32 ${(performance.now() - s).toFixed(1)} (${(fs.statSync('/tmp/o.parquet').size/1e6).toFixed(2)}MB)`);
  console.log(line.join(', '));
}
