import { createHash } from 'node:crypto';
import pl, { type DataType } from 'nodejs-polars';
import type { ColumnType, DatasetSchema } from '../../pipelines/steps/dataset';
import type { ModelInput } from '../../pipelines/steps/model';
import type { FeatureJoin, ScoringWindow } from '../../pipelines/steps/scoring';

/** Shared by the scoring steps: reading the input (window filter, row ids) and naming the outputs. */

/** Row id of a prediction: the row's index in the input dataset version (before any window filter). */
export const ROW_ID = 'row_id';
export const META_COLUMNS = ['model_name', 'model_version', 'run_id'] as const;
export const PREDICTION = 'prediction';

export const probaColumn = (c: string | number) => `proba_${String(c)}`;

/** Predicted labels are strings unless every class is a number. */
export function labelsAreNumbers(classes: readonly (string | number)[]): boolean {
  return classes.length > 0 && classes.every((c) => typeof c === 'number');
}

/** Rows with the window's column in [start, end): compared as epoch milliseconds (UTC for zoned columns). */
export function windowFilter(w: ScoringWindow): pl.Expr {
  const t = pl.col(w.column).cast(pl.Datetime('ms')).cast(pl.Int64);
  return t.gtEq(pl.lit(Date.parse(w.start))).and(t.lt(pl.lit(Date.parse(w.end))));
}

/** The rows to score, in file order, with their row id: the whole file, or the rows in the window. */
export function scoringRows(file: string, window: ScoringWindow | null): pl.LazyDataFrame {
  const lazy = pl.scanParquet(file).withRowIndex(ROW_ID);
  return window ? lazy.filter(windowFilter(window)) : lazy;
}

/** Entity → dataset column of each view of a feature join. */
export function joinKeyColumns(join: FeatureJoin | undefined): string[] {
  if (!join) return [];
  return [...new Set(join.views.flatMap((v) => v.entities.map((e) => join.keys[e] ?? e)))];
}

/** Feature columns a join adds. */
export function joinFeatureColumns(join: FeatureJoin | undefined): string[] {
  return join ? join.views.flatMap((v) => v.features.map((f) => f.name)) : [];
}

const NUMERIC: ColumnType[] = ['int64', 'float64', 'float32', 'bool'];

/** Why a dataset column of this type cannot feed a model input of that type, or undefined when it can. */
export function typeMismatch(column: ColumnType, input: ModelInput['type']): string | undefined {
  switch (input) {
    case 'float':
    case 'double':
      return NUMERIC.includes(column) ? undefined : `${column}, expected a number for a ${input} input`;
    case 'int64':
      return column === 'int64' || column === 'bool' ? undefined : `${column}, expected an integer for an int64 input`;
    case 'string':
      return ['string', 'category', 'bool', 'int64'].includes(column) ? undefined : `${column}, expected a string or category for a string input`;
  }
}

/** Column type of a polars dtype, as dataset schemas record it. */
export function columnTypeOf(d: DataType): ColumnType {
  const v = d.variant;
  if (['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64'].includes(v)) return 'int64';
  if (v === 'Float32') return 'float32'; // class probabilities: the model's own precision
  if (v === 'Float64' || v === 'Decimal') return 'float64';
  if (v === 'Bool') return 'bool';
  if (v === 'Date') return 'date';
  if (v === 'Datetime') return 'timestamp';
  if (v === 'Categorical') return 'category';
  return 'string';
}

export function schemaOf(df: pl.DataFrame): DatasetSchema {
  return df.getColumns().map((s) => ({ name: s.name, type: columnTypeOf(s.dtype), nullable: s.nullCount() > 0 }));
}

export function sha256Json(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex');
}
