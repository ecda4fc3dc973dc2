import type pl from 'nodejs-polars';
import type { ColumnType } from '../../../pipelines/steps/dataset';
import type { BadRecord } from '../quarantine';
import type { InferenceMode, SourceColumn } from '../schema';

/** Where a record of the source came from: its 1-based record number, line and raw text (where the format has them). */
export interface RecordOrigin {
  row: number;
  line: number | null;
  raw: string | null;
}

/** A source opened for reading: a lazy frame of its records, and how to trace a record back to the source. */
export interface SourceTable {
  /** Source columns (original names and dtypes) plus ROW, the 0-based index of the record in `lf`. */
  lf: pl.LazyDataFrame;
  columns: SourceColumn[];
  mode: InferenceMode;
  /** Types the source declares for its columns (PostgreSQL). */
  known?: Map<string, ColumnType>;
  /** Malformed records met while reading (left out of `lf`); never more than the budget. */
  structural: BadRecord[];
  /** Records in the source (blank lines not counted): rows of `lf` + structural. */
  sourceRows: number;
  /** Origins of records of `lf`, by ROW value. Only called for the few bad ones. */
  locate(rows: number[]): Promise<Map<number, RecordOrigin>>;
}

export interface ReadOptions {
  /** Names the source in messages. */
  label: string;
  /** Malformed rows tolerated (maxBadRows). */
  budget: number;
  /** The step's temporary directory. */
  dir: string;
}
