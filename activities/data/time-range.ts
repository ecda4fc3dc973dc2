import pl, { type DataType } from 'nodejs-polars';
import { invalidInput } from '../../pipelines/failures';
import { isoToEpochMs, type EvaluationRange, type TimeBound } from '../../pipelines/steps/evaluation-data';

const NUMERIC = new Set(['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64', 'Float32', 'Float64']);

/**
 * Row filters for a training / evaluation split by value of one column: evaluation rows have
 * `from <= column < to`, training rows `trainFrom <= column < from`; a null is in neither.
 * Date columns compare as midnight UTC of their day, timestamps in their own unit and zone (a
 * bound has millisecond precision, which every unit holds exactly), numbers as numbers.
 */
export function rangeFilters(df: pl.DataFrame, range: EvaluationRange, where: string): { train: pl.Expr; evaluation: pl.Expr } {
  const dtype = (df.schema as Record<string, DataType>)[range.column];
  if (!dtype) throw invalidInput(`${where} has no column "${range.column}" to split by time (it has ${df.columns.join(', ')})`);
  const kind = dtype.variant === 'Date' || dtype.variant === 'Datetime' ? 'time' : NUMERIC.has(dtype.variant) ? 'number' : undefined;
  if (!kind) throw invalidInput(`column "${range.column}" of ${where} is ${dtype.variant}; a time range needs a date, timestamp or numeric column`);
  const col = dtype.variant === 'Date' ? pl.col(range.column).cast(pl.Datetime('ms')) : pl.col(range.column);
  const bound = (field: keyof EvaluationRange, v: TimeBound): { lit: pl.Expr; order: number } => {
    if (kind === 'number') {
      if (typeof v !== 'number') throw invalidInput(`evaluation.${field} is ${JSON.stringify(v)} but column "${range.column}" of ${where} is ${dtype.variant}: give a number`);
      return { lit: pl.lit(v), order: v };
    }
    if (typeof v !== 'string') throw invalidInput(`evaluation.${field} is ${v} but column "${range.column}" of ${where} is ${dtype.variant}: give an ISO 8601 date or time`);
    const ms = isoToEpochMs(v);
    const lit = pl.lit(new Date(ms));
    return { lit: dtype.variant === 'Date' ? lit : lit.cast(dtype), order: ms };
  };
  const from = bound('from', range.from);
  const to = range.to === undefined ? undefined : bound('to', range.to);
  const trainFrom = range.trainFrom === undefined ? undefined : bound('trainFrom', range.trainFrom);
  if (to && to.order <= from.order) throw invalidInput(`evaluation.to (${range.to}) must be after evaluation.from (${range.from})`);
  if (trainFrom && trainFrom.order >= from.order) throw invalidInput(`evaluation.trainFrom (${range.trainFrom}) must be before evaluation.from (${range.from})`);
  const evaluation = to ? col.gtEq(from.lit).and(col.lt(to.lit)) : col.gtEq(from.lit);
  const train = trainFrom ? col.gtEq(trainFrom.lit).and(col.lt(from.lit)) : col.lt(from.lit);
  return { train, evaluation };
}
