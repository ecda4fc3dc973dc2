import pl from 'nodejs-polars';
import { beginMaterialization, finishMaterialization, findMaterialization, lastMaterializedEnd, recordOnlineWrite, settleFeatureViewSchema } from '../../infra/db/features';
import type { Logger } from '../../infra/log';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import { materializeFeaturesOutput, materializeFeaturesStep, ttlMs, type FeatureView } from '../../pipelines/steps/features';
import type { z } from 'zod';
import { readFrame } from '../data/frames';
import { implement } from '../runtime/implement';
import { CREATED_TS, EVENT_TS, parseTime, PER_MS, timeUnitOf } from './columns';
import { writeOfflinePart, type FeatureDeps } from './offline-store';
import { assertSafeView, ensureOnlineTable, latestPerEntity, writeOnline } from './online-store';
import { applyFeatureView } from './transform';
import { registerView } from './views';
import { invalidInput } from '../../pipelines/failures';

/**
 * Materialization (Feast's semantics): compute the view over the whole source (window
 * aggregates see history before the interval), keep the rows with start <= event_ts <= end,
 * write them all to the offline store and the latest per entity to the online store, and record
 * the interval. Without a start it continues from where the last materialization of this view
 * version ended (inclusive: a row exactly at the boundary is offered again and skipped online,
 * as it is not newer); with none before, from end - ttl (the epoch when ttl is 0). Without an
 * end it goes to the source's latest event time.
 *
 * Idempotent per (run, node): a retry finds the interval and created_at it recorded before, so
 * it writes the same offline part (same content hash, same version); the online write records
 * its row count in its own transaction, so a retry after it committed does not write again and
 * reports the rows that write put in the table; a retry after success returns the recorded result.
 */

export type MaterializeRequest = {
  source: DatasetRef;
  view: FeatureView;
  start?: string;
  end?: string;
  online?: boolean;
};
export type MaterializeResult = z.output<typeof materializeFeaturesOutput>;

export interface MaterializeContext extends FeatureDeps {
  /** The idempotency key: a step passes its run id and node. */
  run: { runId: string; node: string };
  log?: Logger;
  heartbeat?: (details?: unknown) => void;
}

export async function materializeFeatureView(ctx: MaterializeContext, req: MaterializeRequest): Promise<MaterializeResult> {
  const view = assertSafeView(req.view); // before any SQL
  const online = req.online ?? true;
  const beat = (phase: string, extra: Record<string, unknown> = {}) => ctx.heartbeat?.({ phase, ...extra });
  await registerView(ctx.db, view);

  const prior = await findMaterialization(ctx.db, { runId: ctx.run.runId, node: ctx.run.node, view });
  if (prior?.status === 'succeeded') {
    ctx.log?.info('materialization already done by this run and node', { view: view.name, version: view.version });
    return materializeFeaturesOutput.parse(prior.result);
  }

  beat('read source');
  const source = await readFrame(ctx.store, req.source);
  beat('transform', { rows: source.height });
  const applied = applyFeatureView(source, view);
  if (applied.dropped) ctx.log?.warn('source rows without an entity key or event time were dropped', { dropped: applied.dropped });

  // The resolved column types are fixed by the first materialization of a view version.
  const recorded = await settleFeatureViewSchema(ctx.db, view.name, view.version, applied.schema);
  if (describe(recorded) !== describe(applied.schema)) {
    throw invalidInput(
      `feature view ${view.name} v${view.version} computes columns ${describe(applied.schema)} but was first materialized with ${describe(recorded)}; declare feature types or bump the version`,
    );
  }

  // The interval: explicit, else this attempt's earlier record, else incremental.
  let end = req.end !== undefined ? parseTime(req.end, 'end') : prior ? prior.end_ts.getTime() : maxEventTime(applied.frame);
  if (end === undefined) throw invalidInput(`feature view ${view.name}: the source has no rows with an event time, so there is no default end; pass end`);
  let start: number;
  if (req.start !== undefined) {
    start = parseTime(req.start, 'start');
    if (start > end) throw invalidInput(`start ${req.start} is after end ${new Date(end).toISOString()}`);
  } else if (prior) {
    start = prior.start_ts.getTime();
  } else {
    const last = await lastMaterializedEnd(ctx.db, view, online);
    const ttl = ttlMs(view);
    start = last ? last.getTime() : ttl > 0 ? end - ttl : 0;
    // Already materialized past `end`: nothing new; the interval shrinks to its start.
    if (start > end) end = start;
  }
  const rec = await beginMaterialization(ctx.db, {
    runId: ctx.run.runId,
    node: ctx.run.node,
    view,
    start: new Date(start),
    end: new Date(end),
    online,
    source: { uri: req.source.uri, sha256: req.source.sha256 },
  });
  start = rec.start_ts.getTime();
  end = rec.end_ts.getTime();

  // The interval is in milliseconds, event_ts in its source's unit: compare in that unit.
  const perMs = PER_MS[timeUnitOf(applied.frame.getColumn(EVENT_TS).dtype) ?? 'ms'];
  const inUnit = (ms: number) => pl.lit(ms).cast(pl.Int64).mul(pl.lit(perMs).cast(pl.Int64));
  let rows = applied.frame.filter(pl.col(EVENT_TS).cast(pl.Int64).gtEq(inUnit(start)).and(pl.col(EVENT_TS).cast(pl.Int64).ltEq(inUnit(end))));
  if (!view.created) rows = rows.withColumns(pl.lit(rec.created_at).cast(pl.Datetime('ms')).alias(CREATED_TS));

  beat('write offline', { rows: rows.height });
  const interval = { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
  const offline = await writeOfflinePart(ctx, view, rows, {
    inputs: { source: { name: req.source.name, version: req.source.version, uri: req.source.uri, sha256: req.source.sha256 }, interval },
    runId: ctx.run.runId,
  });

  let onlineRows = 0;
  if (online && rec.online_rows !== null) {
    // An earlier attempt's online write committed (its count with it) and the attempt failed
    // after: writing again would skip every row (not newer) and count 0. Report what it wrote.
    onlineRows = rec.online_rows;
    ctx.log?.info('online rows were written by an earlier attempt', { view: view.name, version: view.version, onlineRows });
  } else if (online) {
    beat('write online');
    await ensureOnlineTable(ctx.db, view, applied.schema);
    onlineRows = await writeOnline(ctx.db, view, applied.schema, latestPerEntity(rows, view.entities), (client, n) => recordOnlineWrite(client, rec.id, n));
  }
  const result: MaterializeResult = { offline, rowsWritten: rows.height, onlineRows, interval };
  await finishMaterialization(ctx.db, rec.id, { offline, rowsWritten: rows.height, onlineRows, result });
  ctx.log?.info('feature view materialized', { view: view.name, version: view.version, ...interval, rowsWritten: rows.height, onlineRows });
  return result;
}

/** The latest event time in milliseconds, rounded up so that the interval [start, end] holds that event. */
function maxEventTime(frame: pl.DataFrame): number | undefined {
  if (frame.height === 0) return undefined;
  const ts = frame.getColumn(EVENT_TS);
  const perMs = PER_MS[timeUnitOf(ts.dtype) ?? 'ms'];
  // Series.max(): Series.get() on Int64 truncates to 32 bits in nodejs-polars 0.26. The ceiling is
  // taken in polars (a nanosecond time is past 2^53): (v + perMs - 1) / perMs, truncated (v >= 0).
  const v = pl.DataFrame({ v: ts.cast(pl.Int64) })
    .select(pl.col('v').max().add(pl.lit(perMs - 1).cast(pl.Int64)).div(pl.lit(perMs).cast(pl.Int64)).cast(pl.Int64).alias('v'))
    .getColumn('v')
    .max() as number | bigint | null;
  return v === null || v === undefined ? undefined : Number(v);
}

const describe = (s: { name: string; type: string; role: string }[]) => `(${s.map((c) => `${c.name} ${c.type}${c.role === 'entity' ? ' key' : ''}`).join(', ')})`;

export const materializeFeatures = implement(materializeFeaturesStep, async (input, ctx) =>
  materializeFeatureView({ store: ctx.store, db: ctx.db, run: { runId: ctx.run.runId, node: ctx.run.node }, log: ctx.log, heartbeat: ctx.heartbeat }, input),
);
