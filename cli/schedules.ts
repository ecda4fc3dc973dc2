import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleHandle } from '@temporalio/client';
import type { SluiceConfig } from '../infra/config';
import { checkRunInput } from '../pipelines/dsl/run-input';
import { PipelineName, PipelineVersion } from '../pipelines/search-attributes';
import type { Catalogue } from '../pipelines/catalogue';

/**
 * Cron-scheduled pipeline runs on Temporal Schedules. Each run a schedule starts (or a backfill
 * replays) carries the time it was meant for; pipelines read it as `b.context.scheduledTime` and
 * process that interval, so a backfill over past intervals processes each one correctly.
 */

export const OVERLAP_POLICIES = {
  skip: ScheduleOverlapPolicy.SKIP,
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
  'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER,
  'terminate-other': ScheduleOverlapPolicy.TERMINATE_OTHER,
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
} as const;
export type OverlapName = keyof typeof OVERLAP_POLICIES;

export interface CreateScheduleOptions {
  id: string;
  pipeline: string;
  cron: string;
  input: Record<string, unknown>;
  /** What to do when a run is due while the previous one still runs. Default: skip. */
  overlap?: OverlapName;
  /** How far back missed runs (server down, paused) are caught up. Default: 1h. */
  catchupWindow?: string;
  timezone?: string;
  paused?: boolean;
  note?: string;
}

const SCHEDULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export function overlapPolicy(name: string | undefined): (typeof OVERLAP_POLICIES)[OverlapName] {
  if (name === undefined) return OVERLAP_POLICIES.skip;
  const p = OVERLAP_POLICIES[name as OverlapName];
  if (!p) throw new Error(`--overlap must be one of ${Object.keys(OVERLAP_POLICIES).join(', ')}, got "${name}"`);
  return p;
}

/** The CLI's word for a policy Temporal reports (`SKIP` → `skip`), as --overlap takes it. */
export function overlapName(policy: string | undefined): string {
  const found = Object.entries(OVERLAP_POLICIES).find(([, p]) => p === policy);
  return found ? found[0] : (policy ?? '-');
}

export async function createSchedule(client: Client, config: SluiceConfig, reg: Catalogue, o: CreateScheduleOptions) {
  if (!SCHEDULE_ID.test(o.id)) throw new Error(`schedule name "${o.id}" must be letters, digits, ".", "_" or "-" (max 200)`);
  const def = reg.pipelines.get(o.pipeline);
  const spec = reg.specs.get(o.pipeline);
  if (!def || !spec) throw new Error(`unknown pipeline "${o.pipeline}"; known: ${[...reg.pipelines.keys()].join(', ')}`);
  // The same check the run makes at start, made now: a schedule of bad params would fail every hour.
  const checked = checkRunInput(def, o.input);
  if (!checked.ok) throw new Error(checked.message);
  return client.schedule.create({
    scheduleId: o.id,
    spec: { cronExpressions: [o.cron], ...(o.timezone ? { timezone: o.timezone } : {}) },
    action: {
      type: 'startWorkflow',
      workflowType: o.pipeline,
      workflowId: `${o.id}`,
      taskQueue: config.queues.workflow,
      args: [o.input],
      typedSearchAttributes: [
        { key: PipelineName, value: o.pipeline },
        { key: PipelineVersion, value: spec.version },
      ],
      staticSummary: `scheduled ${o.pipeline} (${o.id})`,
    },
    policies: { overlap: overlapPolicy(o.overlap), catchupWindow: o.catchupWindow ?? '1h', pauseOnFailure: false },
    state: { paused: o.paused ?? false, ...(o.note ? { note: o.note } : {}) },
    // The server turns cron strings into calendar specs; keep the expression as written for display.
    memo: { cron: o.cron, pipeline: o.pipeline },
  }).catch((e: unknown) => {
    throw scheduleError(o.id, e);
  });
}

/**
 * Temporal's errors about a schedule in the user's words. The server answers a missing schedule
 * with the id of its internal scheduler workflow ("workflow not found for ID:
 * temporal-sys-scheduler:NAME"): say "no schedule named NAME" instead.
 */
export function scheduleError(name: string, e: unknown): unknown {
  if (e instanceof ScheduleNotFoundError) return new Error(`no schedule named ${name} (see \`sluice schedule list\`)`);
  if (e instanceof ScheduleAlreadyRunning) return new Error(`a schedule named ${name} already exists (see \`sluice schedule describe ${name}\`)`);
  return e;
}

/** Runs `fn` on the schedule `name`, its errors said as scheduleError says them. */
export async function withSchedule<T>(client: Client, name: string, fn: (schedule: ScheduleHandle) => Promise<T>): Promise<T> {
  try {
    return await fn(client.schedule.getHandle(name));
  } catch (e) {
    throw scheduleError(name, e);
  }
}

export interface ScheduleSummary {
  id: string;
  pipeline: string | undefined;
  cron: string[];
  paused: boolean;
  note: string | undefined;
  nextRuns: string[];
  recentRuns: { scheduledAt: string; workflowId: string }[];
  overlap?: string;
  catchupWindowMs?: number;
}

export function summarize(d: ScheduleDescription): ScheduleSummary {
  const action = d.action as { workflowType?: string };
  return {
    id: d.scheduleId,
    pipeline: action.workflowType,
    cron: typeof d.memo?.cron === 'string' ? [d.memo.cron] : ((d.spec as { cronExpressions?: string[] }).cronExpressions ?? []),
    paused: d.state.paused,
    note: d.state.note,
    nextRuns: d.info.nextActionTimes.slice(0, 5).map((t) => t.toISOString()),
    recentRuns: d.info.recentActions.slice(-5).map((a) => ({ scheduledAt: a.scheduledAt.toISOString(), workflowId: a.action.workflow.workflowId })),
    overlap: d.policies.overlap,
    catchupWindowMs: d.policies.catchupWindow,
  };
}

export async function listSchedules(client: Client): Promise<ScheduleSummary[]> {
  const out: ScheduleSummary[] = [];
  for await (const s of client.schedule.list()) {
    // One deleted between the listing and its description is gone: not an error of the listing.
    const d = await client.schedule.getHandle(s.scheduleId).describe().catch((e: unknown) => {
      if (e instanceof ScheduleNotFoundError) return undefined;
      throw e;
    });
    if (d) out.push(summarize(d));
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** Parses an ISO date for --start/--end, naming the flag on error. */
export function parseTime(flag: string, v: string): Date {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new Error(`${flag} must be an ISO 8601 time (e.g. 2026-01-01T00:00:00Z), got "${v}"`);
  return d;
}
