import fs from 'node:fs';
import path from 'node:path';
import pl from 'nodejs-polars';
import type { ArtifactRef } from '../../infra/artifacts';
import { checkDatasetName, findDatasetVersionBySha, type DatasetVersion } from '../../infra/db/datasets';
import { canonicalJson } from '../../pipelines/dsl/canonical';
import type { DatasetSchema } from '../../pipelines/steps/dataset';
import { ingestStep, type IngestConverted, type IngestInput, type IngestOutput } from '../../pipelines/steps/ingestion';
import type { DatasetProfile } from '../../pipelines/steps/profile';
import { putParquetFile, withLocalCopy, withTempDir } from '../data/frames';
import { implement } from '../runtime/implement';
import type { StepContext } from '../runtime/step-context';
import type { CheckpointOf } from '../../pipelines/dsl/step';
import { scalar } from './polars';
import { profileFrame } from './profile';
import { startProgress, type Progress } from './progress';
import { deriveAndFilter } from './derive';
import { badRowsFailure, writeQuarantine, type BadRecord } from './quarantine';
import { openSource, type SourceTable } from './readers';
import { readingData } from './readers/lines';
import { registerVersion } from './register';
import { REASON, ROW, coercion, planColumns } from './schema';
import { materializeSource, type LocalSource } from './sources';
import { invalidInput } from '../../pipelines/failures';

/**
 * The `ingest` step: source -> local file -> typed, validated rows -> derived columns and row
 * filter (./derive.ts) -> Parquet (streamed by polars) -> content-addressed artifact -> profile ->
 * registered dataset version. Source rows = dataset rows + filtered rows + bad (quarantined) rows.
 *
 * Idempotent: the Parquet is content-addressed and registration is keyed by (name, sha256), so a
 * retry, or an ingest of unchanged data, returns the version that exists. A retry after the
 * Parquet was published resumes from the heartbeat checkpoint when the source's fingerprint is
 * unchanged, skipping the conversion.
 */

/** Parquet as datasets are written: zstd, fixed row groups (so equal data gives equal bytes whatever the source's chunking). */
const SINK = { compression: 'zstd', statistics: true, rowGroupSize: 122_880, maintainOrder: true } as const;

type Converted = IngestConverted;

export const ingest = implement(ingestStep, async (input, ctx) => {
  const out = await runIngest(input, ctx);
  ctx.countRows(out.dataset.rows);
  return out;
});

export async function runIngest(input: IngestInput, ctx: StepContext<CheckpointOf<typeof ingestStep>>): Promise<IngestOutput> {
  try {
    checkDatasetName(input.name);
  } catch (e) {
    throw invalidInput((e as Error).message);
  }
  const progress = startProgress(ctx);
  try {
    return await withTempDir(async (dir) => {
      progress.set({ phase: 'reading source' });
      const local = await materializeSource(input.source, {
        store: ctx.store,
        db: ctx.db,
        dir,
        signal: ctx.signal,
        roots: ctx.dataRoots,
        onProgress: (bytes) => progress.set({ sourceBytes: bytes }),
      });
      progress.check();
      ctx.log.info('source read', { source: local.label, fingerprint: local.fingerprint });

      const prior = ctx.checkpoint?.converted;
      let converted: Converted;
      let parquetFile: string | undefined;
      if (prior && prior.fingerprint === local.fingerprint && prior.name === input.name && (await ctx.store.exists(prior.data.uri))) {
        converted = prior;
        ctx.log.info('resuming from checkpoint: conversion already done', { data: converted.data.uri });
      } else {
        const c = await convert(local, input, ctx, dir, progress);
        converted = c.converted;
        parquetFile = c.file;
      }
      progress.set({ phase: 'converted', converted });
      progress.check();

      const existing = await findDatasetVersionBySha(ctx.db, input.name, converted.data.sha256);
      if (existing) return reuse(checkCounts(existing, converted, local.label), converted, ctx);

      progress.set({ phase: 'profiling' });
      const profile = await profileParquet(ctx, converted.data, parquetFile, progress);
      const byName = new Map(profile.columns.map((c) => [c.name, c]));
      const schema: DatasetSchema = converted.draft.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable ?? (byName.get(c.name)?.nulls ?? 0) > 0 }));
      const profileRef = await putProfile(ctx, profile);
      checkCounts({ rows: profile.rows }, converted, local.label);

      progress.set({ phase: 'registering' });
      const { version, created } = await registerVersion(
        ctx.db,
        {
          name: input.name,
          uri: converted.data.uri,
          sha256: converted.data.sha256,
          sizeBytes: converted.data.size,
          rows: profile.rows,
          schema,
          profile,
          profileUri: profileRef.uri,
          source: {
            ...local.record,
            ...(input.schema ? { declaredSchema: input.schema } : {}),
            ...(input.derive ? { derive: input.derive } : {}),
            ...(input.filter ? { filter: input.filter, filteredRows: converted.filteredRows } : {}),
            maxBadRows: input.maxBadRows,
            // Rows in = rows kept + rows quarantined + rows filtered out (checked above).
            counts: { sourceRows: converted.sourceRows, rows: profile.rows, badRows: converted.badRows, filteredRows: converted.filteredRows },
            node: ctx.run.node,
            workflowId: ctx.run.workflowId,
          },
          sourceFingerprint: local.fingerprint,
          badRows: converted.badRows,
          quarantineUri: converted.quarantine?.uri,
          runId: ctx.run.runId,
        },
        { runId: ctx.run.runId, node: ctx.run.node, sourceArtifact: input.source.kind === 'artifact' ? input.source.uri : undefined },
      );
      if (!created) return reuse(version, converted, ctx);
      ctx.log.info('dataset version registered', { dataset: input.name, version: version.version, rows: version.rows, badRows: converted.badRows, filteredRows: converted.filteredRows });
      return output(version, profileRef, converted, false);
    });
  } finally {
    progress.stop();
  }
}

/** Reads, checks, converts and writes the data; publishes the Parquet and the quarantine. */
async function convert(local: LocalSource, input: IngestInput, ctx: StepContext, dir: string, progress: Progress): Promise<{ converted: Converted; file: string }> {
  const { label } = local;
  const budget = input.maxBadRows;
  progress.set({ phase: 'checking records' });
  const table = await openSource(local, { label, budget, dir });
  progress.check();
  progress.set({ phase: 'inferring types' });
  const plans = await readingData(label, () => planColumns(table.lf, table.columns, { mode: table.mode, label, declared: input.schema, known: table.known }));
  const { values, reason } = coercion(table.columns, plans);

  let good = table.lf;
  let valueBad: BadRecord[] = [];
  if (reason) {
    progress.set({ phase: 'checking values' });
    const flagged = table.lf.select(pl.col(ROW), reason.alias(REASON)).filter(pl.col(REASON).isNotNull());
    const n = await readingData(label, () => scalar(flagged.select(pl.len())));
    const total = table.structural.length + n;
    if (total > budget) {
      const sample = n ? await resolveBad(table, await flagged.head(20).collect()) : [];
      throw badRowsFailure(label, [...table.structural.slice(0, 20), ...sample], total, budget);
    }
    if (n) valueBad = await resolveBad(table, await flagged.collect());
    good = table.lf.filter(reason.isNull());
  }
  progress.check();

  if (input.derive || input.filter) progress.set({ phase: 'deriving columns and filtering rows' });
  const derived = await deriveAndFilter(good.select(...values), plans, input, label);
  if (derived.filtered) ctx.log.info('rows filtered out', { source: label, filteredRows: derived.filtered });
  progress.check();

  progress.set({ phase: 'writing parquet' });
  const file = path.join(dir, 'data.parquet');
  await readingData(label, () => derived.lf.sinkParquet(file, SINK).collect());
  progress.check();
  const data = await putParquetFile(ctx.store, file);
  const bad = [...table.structural, ...valueBad];
  const quarantine = bad.length ? await writeQuarantine(ctx.store, bad) : undefined;
  if (bad.length) ctx.log.warn('malformed rows quarantined', { source: label, badRows: bad.length, quarantine: quarantine?.uri });
  return {
    file,
    converted: {
      fingerprint: local.fingerprint,
      name: input.name,
      data,
      draft: derived.plans.map((p) => ({ name: p.name, type: p.to, nullable: p.nullable })),
      badRows: bad.length,
      filteredRows: derived.filtered,
      sourceRows: table.sourceRows,
      quarantine,
    },
  };
}

/**
 * Nothing is lost without a count: every record of the source is in the dataset, the quarantine
 * or the filtered-out count. A mismatch is a bug of Sluice's (a reader dropping or inventing
 * rows), so the step fails rather than register a version that silently lost data.
 */
function checkCounts<T extends { rows: number }>(kept: T, converted: Converted, label: string): T {
  const { sourceRows, badRows, filteredRows } = converted;
  if (sourceRows !== undefined && sourceRows !== kept.rows + badRows + filteredRows) {
    throw new Error(
      `${label}: row counts do not add up: ${sourceRows} records read, but ${kept.rows} kept + ${badRows} quarantined + ${filteredRows} filtered out = ${kept.rows + badRows + filteredRows}`,
    );
  }
  return kept;
}

/** Bad rows (ROW, REASON) with their line numbers and raw text. */
async function resolveBad(table: SourceTable, flagged: pl.DataFrame): Promise<BadRecord[]> {
  const recs = flagged.toRecords();
  const origins = await table.locate(recs.map((r) => Number(r[ROW])));
  return recs.map((r) => {
    const k = Number(r[ROW]);
    const o = origins.get(k);
    return { row: o?.row ?? k + 1, line: o?.line ?? null, reason: String(r[REASON]), raw: o?.raw ?? null };
  });
}

async function profileParquet(ctx: StepContext, data: ArtifactRef, file: string | undefined, progress: Progress): Promise<DatasetProfile> {
  const run = (f: string) => profileFrame(pl.scanParquet(f), { onColumn: (column, i, n) => progress.set({ profiling: `${i + 1}/${n} ${column}` }) });
  if (file && fs.existsSync(file)) return run(file);
  return withLocalCopy(ctx.store, data, run);
}

/** The profile as a JSON artifact: canonical JSON, so the same profile is the same artifact. */
export async function putProfile(ctx: Pick<StepContext, 'store'>, profile: unknown): Promise<ArtifactRef> {
  return ctx.store.putContent(canonicalJson(profile), { contentType: 'application/json' });
}

async function reuse(existing: DatasetVersion, converted: Converted, ctx: StepContext): Promise<IngestOutput> {
  ctx.log.info('identical data already registered: reusing its version', { dataset: existing.name, version: existing.version });
  const profileRef = await putProfile(ctx, existing.profile);
  return output(existing, profileRef, converted, true);
}

function output(v: DatasetVersion, profile: ArtifactRef, converted: Converted, reused: boolean): IngestOutput {
  return {
    dataset: { uri: v.uri, sha256: v.sha256, size: v.sizeBytes, name: v.name, version: v.version, rows: v.rows, schema: v.schema },
    profile,
    ...(converted.quarantine ? { quarantine: converted.quarantine } : {}),
    badRows: converted.badRows,
    filteredRows: converted.filteredRows,
    ...(converted.sourceRows !== undefined ? { sourceRows: converted.sourceRows } : {}),
    reused,
  };
}
