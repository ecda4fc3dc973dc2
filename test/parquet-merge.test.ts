import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pl from 'nodejs-polars';
import { mergeParquetFiles, ParquetMergeError, readFooter } from '../activities/data/parquet-merge';
import { CompactReader, CompactWriter } from '../activities/data/thrift-compact';
import { tempDir } from './helpers/stack';

function frame(offset: number, n: number): pl.DataFrame {
  const ids = Array.from({ length: n }, (_, i) => offset + i);
  return pl.DataFrame([
    pl.Series('row_id', ids, pl.Int64),
    pl.Series('label', ids.map((i) => (i % 7 === 0 ? null : ['Adelie', 'Gentoo', 'Chinstrap'][i % 3]!)), pl.Utf8),
    pl.Series('p', Float64Array.from(ids, (i) => (i % 11 === 0 ? NaN : i / 1000)), pl.Float64),
    pl.Series('q', ids.map((i) => (i % 5 === 0 ? null : i * 0.5)), pl.Float32),
    pl.Series('flag', ids.map((i) => i % 2 === 0), pl.Bool),
    pl.Series('free', ids.map((i) => `text ${i} ${'x'.repeat(i % 13)}`), pl.Utf8),
  ]).withColumns(pl.lit('run-1').alias('run_id'), pl.lit(3).cast(pl.Int32).alias('version'), pl.lit(null).cast(pl.Int32).alias('nothing'));
}

test('parquet merge: row groups of many files in one file, read back as their concatenation', async () => {
  const dir = tempDir('parquet-merge');
  const frames = [frame(0, 5000), frame(5000, 1), frame(5001, 70_000), frame(75_001, 3)];
  const files = frames.map((f, i) => {
    const file = path.join(dir, `part-${i}.parquet`);
    f.writeParquet(file, { compression: i % 2 ? 'lz4' : 'zstd' });
    return file;
  });
  const out = path.join(dir, 'merged.parquet');
  const rows = await mergeParquetFiles(files, out);
  const want = pl.concat(frames, { how: 'vertical' });
  assert.equal(rows, want.height);
  const got = pl.readParquet(out);
  assert.equal(got.height, want.height);
  assert.ok(got.frameEqual(want, true), 'same rows, same order, nulls and NaN included');
  // Readers that use the footer: a pushed-down filter and a slice from the middle.
  const lazy = pl.scanParquet(out);
  assert.equal(Number(lazy.filter(pl.col('row_id').gtEq(75_000)).select(pl.len().alias('n')).collectSync().getColumn('n').get(0)), 4);
  assert.deepEqual(lazy.slice(4999, 3).collectSync().getColumn('row_id').toArray().map(Number), [4999, 5000, 5001]);
  assert.equal(readFooter(out).rows, BigInt(want.height));
});

test('parquet merge: files of different schemas are refused, naming the file', async () => {
  const dir = tempDir('parquet-merge');
  const a = path.join(dir, 'a.parquet');
  const b = path.join(dir, 'b.parquet');
  frame(0, 10).writeParquet(a);
  frame(10, 10).withColumns(pl.col('version').cast(pl.Int64)).writeParquet(b);
  await assert.rejects(mergeParquetFiles([a, b], path.join(dir, 'out.parquet')), (e: unknown) => e instanceof ParquetMergeError && e.message.includes('b.parquet'));
  fs.writeFileSync(path.join(dir, 'c.parquet'), 'not parquet at all');
  await assert.rejects(mergeParquetFiles([a, path.join(dir, 'c.parquet')], path.join(dir, 'out.parquet')), /not a Parquet file/);
});

test('thrift compact: a footer read and written back is the same bytes', () => {
  const dir = tempDir('parquet-merge');
  const file = path.join(dir, 'x.parquet');
  frame(0, 1000).writeParquet(file, { compression: 'zstd' });
  const buf = fs.readFileSync(file);
  const len = buf.readUInt32LE(buf.length - 8);
  const footer = buf.subarray(buf.length - 8 - len, buf.length - 8);
  const w = new CompactWriter();
  w.writeStruct(new CompactReader(footer).readStruct());
  assert.deepEqual(Buffer.from(w.bytes()), Buffer.from(footer));
});
