import { z } from 'zod';

/**
 * Durations as people write them: an integer and a unit, `500ms`, `30s`, `15m`, `1h`, `1d`,
 * `2w`. One unit set for every place Sluice takes one (step timeouts and retry intervals,
 * approval timeouts, feature TTLs and windows, scoring partitions, monitor cooldowns, settings in
 * infra/config.ts). Days are 24 hours (times are UTC) and weeks 7 days. Temporal reads the same
 * strings (its `ms` format knows every unit here), so a spec's timeouts pass to it unchanged.
 * Pure: workflow code may import it.
 */

export const DURATION_UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
export type DurationUnit = keyof typeof DURATION_UNIT_MS;
export type Duration = `${number}${DurationUnit}`;

/** Up to 9 digits: 999999999w is far past any timeout and still exact as a number of milliseconds. */
const DURATION_RE = /^(\d{1,9})(ms|s|m|h|d|w)$/;

export const DURATION_HINT = 'a duration such as 500ms, 30s, 15m, 1h, 1d or 2w';

export function isDuration(d: unknown): d is Duration {
  return typeof d === 'string' && DURATION_RE.test(d);
}

/** Milliseconds in a duration; throws on a malformed one (schemas check before this is called). */
export function durationMs(d: string): number {
  const m = DURATION_RE.exec(d);
  if (!m) throw new Error(`invalid duration ${JSON.stringify(d)}: ${DURATION_HINT}`);
  return Number(m[1]) * DURATION_UNIT_MS[m[2] as DurationUnit];
}

/** The one schema for a duration string; the parsed value stays the string (specs carry it as written). */
export const duration = z.string().regex(DURATION_RE, DURATION_HINT) as unknown as z.ZodType<Duration, string>;

/** A duration longer than zero (windows, TTLs, cooldowns that divide or bound time). */
export const positiveDuration = duration.refine((d) => durationMs(d) > 0, 'a duration longer than zero');
