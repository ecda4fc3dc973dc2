import pl from 'nodejs-polars';
import { ROW, type SourceColumn } from '../schema';
import type { RecordOrigin } from './types';

/** For formats without lines: a record's origin is its row number, and its values as `column=value, …`. */
export function locateByValues(lf: pl.LazyDataFrame, columns: SourceColumn[]) {
  return async (rows: number[]): Promise<Map<number, RecordOrigin>> => {
    const raw = pl.concatString(
      columns.map((c) => pl.concatString([pl.lit(`${c.name}=`), pl.col(c.name).cast(pl.Utf8).fillNull('null')], '')),
      ', ',
    );
    const df = await lf.filter(pl.col(ROW).isIn(rows)).select(pl.col(ROW), raw.alias('raw')).collect();
    return new Map(df.toRecords().map((r): [number, RecordOrigin] => [Number(r[ROW]), { row: Number(r[ROW]) + 1, line: null, raw: String(r.raw) }]));
  };
}
