import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../infra/paths';
import { mulberry32 as seeded } from '../pipelines/util/seeded-random';

/**
 * Inputs of the fault campaign (bench/faults.ts), written to files the workers ingest: events for
 * a feature view, with a known number of rows and entities, and penguins repeated to any size for
 * training and scoring. Seeded, so a campaign is repeatable.
 */


/** Events between these instants (the materialization interval covers them all). */
export const EVENTS_FROM = Date.parse('2024-01-01T00:00:00Z');
export const EVENTS_TO = Date.parse('2024-03-01T00:00:00Z');

/**
 * `rows` flight-like events (origin, date, delay, distance) over `entities` origins, every origin
 * at least once, as CSV. Returns the file and how many distinct origins it holds.
 */
export function writeEvents(dir: string, name: string, rows: number, entities: number, seed: number): { file: string; rows: number; entities: number } {
  const rnd = seeded(seed);
  const n = Math.max(1, Math.min(entities, rows));
  const file = path.join(dir, `${name}.csv`);
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, 'origin,date,delay,distance\n');
    const step = (EVENTS_TO - EVENTS_FROM) / rows;
    let buf: string[] = [];
    for (let i = 0; i < rows; i++) {
      // The first n rows name every origin once; the rest pick at random.
      const origin = `O${String(i < n ? i : Math.floor(rnd() * n)).padStart(5, '0')}`;
      const date = new Date(EVENTS_FROM + Math.floor(i * step)).toISOString();
      buf.push(`${origin},${date},${Math.floor(rnd() * 120) - 20},${100 + Math.floor(rnd() * 2400)}`);
      if (buf.length === 10_000) {
        fs.writeSync(fd, `${buf.join('\n')}\n`);
        buf = [];
      }
    }
    if (buf.length) fs.writeSync(fd, `${buf.join('\n')}\n`);
  } finally {
    fs.closeSync(fd);
  }
  return { file, rows, entities: n };
}

/** vega-datasets' penguins repeated (in order, round after round) to `rows` rows, as JSON. */
export function writePenguins(dir: string, name: string, rows: number): { file: string; rows: number } {
  const penguins = JSON.parse(fs.readFileSync(path.join(projectRoot, 'node_modules/vega-datasets/data/penguins.json'), 'utf8')) as unknown[];
  const out = Array.from({ length: rows }, (_, i) => penguins[i % penguins.length]);
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(out));
  return { file, rows };
}
