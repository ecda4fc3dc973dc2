import type { ColumnType } from '../../../pipelines/steps/dataset';
import type { IngestFormat, TextEncoding } from '../../../pipelines/steps/ingestion';

/** A source made readable: a local file in a known format, and what lineage records about it. */
export interface LocalSource {
  /** A local file (the user's own file, or a copy in the step's temporary directory). */
  file: string;
  /** `pg-csv`: CSV written by PostgreSQL's COPY, with the column types PostgreSQL reported. */
  format: IngestFormat | 'pg-csv';
  /** sha256 of the source bytes as read. */
  fingerprint: string;
  /** Character encoding of a text source, when not UTF-8 (the reader transcodes it). */
  encoding?: TextEncoding;
  /** Records the source reported itself (PostgreSQL's COPY count), checked against what is read. */
  rows?: number;
  /** Names the source in messages: a path, a URI, `PostgreSQL table "t"`. */
  label: string;
  /** Recorded as the version's `source` (lineage): never a secret. */
  record: Record<string, unknown>;
  /** Column types the source itself declares (PostgreSQL), in column order. */
  columnTypes?: { name: string; type: ColumnType; pgType: number }[];
}
