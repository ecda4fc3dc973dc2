import { DURATION_UNIT_MS, type DurationUnit } from '../../pipelines/vocab/duration';

/**
 * A configured duration (a catch-up window, a cooldown, a timeout) as people write one: `1h`,
 * `1h30m`, `45s`, `250ms`, in the units Sluice reads (pipelines/vocab/duration.ts), never
 * `3600000 ms`. Exact: every nonzero unit is shown, so no time is rounded away (a setting itself is
 * written in one unit: `1h30m` is what `90m` reads as). Elapsed times of runs use formatDuration (render/dag.ts), which rounds for reading.
 */
const UNITS = (['d', 'h', 'm', 's', 'ms'] as const).map((u): [unit: DurationUnit, ms: number] => [u, DURATION_UNIT_MS[u]]);

export function formatSetting(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
