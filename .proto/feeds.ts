import pl from 'nodejs-polars';
import { performance } from 'node:perf_hooks';
const df = pl.scanParquet('node_modules/vega-datasets/data/flights-3m.parquet').withColumns(pl.col('date').dt.hour().cast(pl.Float64).alias('hour')).select('origin','distance','hour').slice(0, 262144).collectSync();
console.log(df.schema);
for (let r = 0; r < 4; r++) {
  const t0 = performance.now();
  const a = df.select(pl.col('distance').cast(pl.Float64).fillNull(pl.lit(NaN)).cast(pl.Float32).alias('v')).getColumn('v').rechunk().toTypedArray();
  const t1 = performance.now();
  const b = df.select(pl.col('hour').cast(pl.Float64).fillNull(pl.lit(NaN)).cast(pl.Float32).alias('v')).getColumn('v').rechunk().toTypedArray();
  const t2 = performance.now();
  const v = pl.col('origin').cast(pl.String).fillNull(pl.lit(''));
  const coded = df.select(v.cast(pl.Categorical).toPhysical().cast(pl.UInt32).alias('code'), v.alias('v'));
  const t3 = performance.now();
  const dict = coded.unique({ subset: 'code' });
  const t4 = performance.now();
  const codes = coded.getColumn('code').toTypedArray() as Uint32Array;
  const dv = dict.getColumn('v').toArray(); const dc = dict.getColumn('code').toTypedArray();
  const t5 = performance.now();
  const m = new Map<number, string>(); for (let i = 0; i < dc.length; i++) m.set(dc[i]!, dv[i] as string);
  const out = new Array<string>(codes.length); for (let i = 0; i < codes.length; i++) out[i] = m.get(codes[i]!)!;
  const t6 = performance.now();
  const arr: string[] = []; let mx = 0; for (const c of dc) mx = Math.max(mx, c); const lut = new Array<string>(mx + 1); for (let i = 0; i < dc.length; i++) lut[dc[i]!] = dv[i] as string;
  const out2 = new Array<string>(codes.length); for (let i = 0; i < codes.length; i++) out2[i] = lut[codes[i]!]!;
  const t7 = performance.now();
  const raw = df.getColumn('origin').toArray();
  const t8 = performance.now();
  console.log(`distance ${(t1-t0).toFixed(1)} hour ${(t2-t1).toFixed(1)} categorical ${(t3-t2).toFixed(1)} unique ${(t4-t3).toFixed(1)} copy ${(t5-t4).toFixed(1)} mapLoop ${(t6-t5).toFixed(1)} lutLoop ${(t7-t6).toFixed(1)} toArray ${(t8-t7).toFixed(1)}`);
}
