import type { LocalSource } from '../sources';
import { openDelimited } from './delimited';
import { openJsonArray, openJsonLines } from './json';
import { openParquet } from './parquet';
import { openPgCsv } from './pg-csv';
import type { ReadOptions, SourceTable } from './types';
import { utf8File } from './encoding';
import { invalidInput } from '../../../pipelines/failures';

export type { ReadOptions, RecordOrigin, SourceTable } from './types';

export async function openSource(src: LocalSource, opts: ReadOptions): Promise<SourceTable> {
  if (src.format === 'parquet' || src.format === 'pg-csv') {
    if (src.encoding) throw invalidInput(`${opts.label}: source.encoding applies to text formats (csv, tsv, json, jsonl), not ${src.format}`);
    return src.format === 'parquet' ? openParquet(src.file, opts) : openPgCsv(src.file, src.columnTypes ?? [], src.rows);
  }
  // Text: checked to be UTF-8, or transcoded to it from the declared encoding.
  const file = await utf8File(src.file, src.encoding, opts);
  switch (src.format) {
    case 'csv':
      return openDelimited(file, ',', opts);
    case 'tsv':
      return openDelimited(file, '\t', opts);
    case 'jsonl':
      return openJsonLines(file, opts);
    case 'json':
      return openJsonArray(file, opts);
  }
}
