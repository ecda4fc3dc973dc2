import type { LocalSource } from '../sources';
import { openDelimited } from './delimited';
import { openJsonArray, openJsonLines } from './json';
import { openParquet } from './parquet';
import { openPgCsv } from './pg-csv';
import type { ReadOptions, SourceTable } from './types';

export type { ReadOptions, RecordOrigin, SourceTable } from './types';

export async function openSource(src: LocalSource, opts: ReadOptions): Promise<SourceTable> {
  switch (src.format) {
    case 'csv':
      return openDelimited(src.file, ',', opts);
    case 'tsv':
      return openDelimited(src.file, '\t', opts);
    case 'jsonl':
      return openJsonLines(src.file, opts);
    case 'json':
      return openJsonArray(src.file, opts);
    case 'parquet':
      return openParquet(src.file, opts);
    case 'pg-csv':
      return openPgCsv(src.file, src.columnTypes ?? []);
  }
}
