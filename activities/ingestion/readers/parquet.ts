import pl from 'nodejs-polars';
import { lazySchema, scalar } from '../polars';
import { ROW } from '../schema';
import { locateByValues } from './values';
import type { ReadOptions, SourceTable } from './types';
import { invalidInput } from '../../../pipelines/failures';

// Polars prefetches up to ~one row group per thread plus ten ahead while scanning Parquet; with a
// file of few, large row groups (flights-3m: 11 of 272k rows) that is the whole file in memory.
// One row group ahead keeps scans streaming. An explicit setting in the environment wins.
process.env.POLARS_ROW_GROUP_PREFETCH_SIZE ??= '1';

/** Parquet, scanned lazily: only what later steps select is read, row group by row group. */
export async function openParquet(file: string, opts: ReadOptions): Promise<SourceTable> {
  const scan = pl.scanParquet(file);
  let columns;
  try {
    columns = await lazySchema(scan);
  } catch (e) {
    throw invalidInput(`${opts.label}: not a readable Parquet file: ${(e as Error).message}`);
  }
  if (!columns.length) throw invalidInput(`${opts.label}: no columns`);
  const lf = scan.withRowIndex(ROW);
  const sourceRows = await scalar(scan.select(pl.len()));
  return { lf, columns, mode: 'typed', structural: [], sourceRows, locate: locateByValues(lf, columns) };
}
