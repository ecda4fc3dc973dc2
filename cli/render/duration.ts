/**
 * A configured duration (a catch-up window, a cooldown, a timeout) as people write one: `1h`,
 * `1h30m`, `45s`, `250ms`, in the units Sluice reads (pipelines/vocab/duration.ts), never
 * `3600000 ms`. Exact: every nonzero unit is shown, so the text reads back as the same length of
 * time. Elapsed times of runs use formatDuration (render/dag.ts), which rounds for reading.
 */
const UNITS: [unit: string, ms: number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
];

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
