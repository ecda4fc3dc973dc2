import pl from 'nodejs-polars';
import type { ArtifactRef, ArtifactStore } from '../../infra/artifacts';
import { writeFrame } from '../data/frames';
import { clip } from './errors';
import { invalidInput } from '../../pipelines/failures';

/**
 * Malformed rows: how they are reported (the failure when they are over budget) and kept (the
 * quarantine artifact when they are within it).
 */

export interface BadRecord {
  /** 1-based record number in the source (data records, the header not counted). */
  row: number;
  /** 1-based line where the record starts, for line-based formats (CSV, TSV, JSONL). */
  line: number | null;
  reason: string;
  /** The record as it was: its text for line-based formats, `column=value, …` otherwise. */
  raw: string | null;
}

const SHOWN = 5;

export function where(r: Pick<BadRecord, 'row' | 'line'>): string {
  return r.line !== null ? `line ${r.line}` : `row ${r.row}`;
}

/**
 * The non-retryable failure for malformed rows over budget: names the source and the first bad
 * lines (or rows) with their reasons; details carry up to 20 of them.
 */
export function badRowsFailure(label: string, sample: BadRecord[], total: number, budget: number) {
  const sorted = sample.slice().sort((a, b) => a.row - b.row);
  const shown = sorted.slice(0, SHOWN).map((r) => `${where(r)}: ${clip(r.reason, 200)}`);
  const more = total > shown.length ? `; and ${total - shown.length} more` : '';
  const head =
    budget === 0
      ? `${label}: ${total} malformed row${total === 1 ? '' : 's'}`
      : `${label}: ${total} malformed rows, more than maxBadRows (${budget})`;
  return invalidInput(`${head}: ${shown.join('; ')}${more}`, {
    malformedRows: total,
    maxBadRows: budget,
    sample: sorted.slice(0, 20).map((r) => ({ ...r, raw: r.raw === null ? null : clip(r.raw, 500) })),
  });
}

/** The quarantine: a Parquet artifact with columns line (null where the format has none), row, reason, raw. */
export function quarantineFrame(records: BadRecord[]): pl.DataFrame {
  const sorted = records.slice().sort((a, b) => a.row - b.row);
  return pl.DataFrame([
    pl.Series('line', sorted.map((r) => r.line), pl.Int64),
    pl.Series('row', sorted.map((r) => r.row), pl.Int64),
    pl.Series('reason', sorted.map((r) => r.reason), pl.Utf8),
    pl.Series('raw', sorted.map((r) => r.raw), pl.Utf8),
  ]);
}

export async function writeQuarantine(store: ArtifactStore, records: BadRecord[]): Promise<ArtifactRef> {
  return writeFrame(store, quarantineFrame(records));
}
