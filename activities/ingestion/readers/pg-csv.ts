import pl from 'nodejs-polars';
import type { ColumnType } from '../../../pipelines/steps/dataset';
import { scalar } from '../polars';
import { ROW } from '../schema';
import { locateByValues } from './values';
import type { SourceTable } from './types';

/**
 * The CSV that PostgreSQL's COPY wrote: well-formed by construction (NULL is an unquoted empty
 * field, an empty string a quoted one, which polars tells apart), every column read as text and
 * parsed to the type PostgreSQL reported.
 */
export async function openPgCsv(file: string, columnTypes: { name: string; type: ColumnType }[], copied?: number): Promise<SourceTable> {
  const schema = Object.fromEntries(columnTypes.map((c) => [c.name, pl.Utf8]));
  const lf = pl.scanCSV(file, { hasHeader: true, schema, rowIndexName: ROW });
  const columns = columnTypes.map((c) => ({ name: c.name, dtype: pl.Utf8 }));
  // The count PostgreSQL reported for the COPY: what was read is checked against it (ingest.ts).
  const sourceRows = copied ?? (await scalar(lf.select(pl.len())));
  return { lf, columns, mode: 'typed', known: new Map(columnTypes.map((c) => [c.name, c.type])), structural: [], sourceRows, locate: locateByValues(lf, columns) };
}
