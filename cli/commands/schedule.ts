import fs from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../../infra/config';
import { connectClient } from '../client';
import { cliCatalogue } from '../pipelines';
import { formatSetting } from '../render/duration';
import { printTable } from '../render/table';
import { createSchedule, listSchedules, overlapName, overlapPolicy, parseTime, summarize, withSchedule, type OverlapName } from '../schedules';

async function withClient<T>(fn: (client: Awaited<ReturnType<typeof connectClient>>) => Promise<T>): Promise<T> {
  const client = await connectClient(loadConfig());
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

function readInputFile(file: string | undefined): Record<string, unknown> {
  if (!file) return {};
  const text = fs.readFileSync(file, 'utf8');
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected one JSON object');
    return v;
  } catch (e) {
    throw new Error(`--input ${file}: ${(e as Error).message}`);
  }
}

/** `sluice schedule …`: cron-scheduled pipeline runs on Temporal Schedules (also shown in the UI's Schedules page). */
export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('cron-scheduled pipeline runs (Temporal Schedules)');

  schedule
    .command('create <name>')
    .description('create a schedule')
    .requiredOption('--pipeline <pipeline>', 'pipeline to run')
    .requiredOption('--cron <expr>', "cron expression, e.g. '0 * * * *'")
    .option('--input <file>', 'params as a JSON file')
    .option('--overlap <policy>', 'skip | buffer-one | buffer-all | cancel-other | terminate-other | allow-all', 'skip')
    .option('--catchup-window <duration>', 'how far back missed runs are caught up', '1h')
    .option('--timezone <tz>', 'IANA time zone for the cron expression (default UTC)')
    .option('--paused', 'create it paused')
    .option('--note <text>', 'a note shown with the schedule')
    .addHelpText('after', "\nExample:\n  sluice schedule create hourly-scores --pipeline batch-scoring --cron '0 * * * *' --input scoring.json")
    .action(async (name: string, o: { pipeline: string; cron: string; input?: string; overlap: string; catchupWindow: string; timezone?: string; paused?: boolean; note?: string }) => {
      overlapPolicy(o.overlap);
      const config = loadConfig();
      const reg = await cliCatalogue();
      await withClient(async (client) => {
        await createSchedule(client, config, reg, {
          id: name,
          pipeline: o.pipeline,
          cron: o.cron,
          input: readInputFile(o.input),
          overlap: o.overlap as OverlapName,
          catchupWindow: o.catchupWindow,
          timezone: o.timezone,
          paused: o.paused,
          note: o.note,
        });
        console.log(`created schedule ${name}: ${o.pipeline} at '${o.cron}' (overlap ${o.overlap}, catch-up ${o.catchupWindow})`);
      });
    });

  schedule
    .command('list')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) =>
      withClient(async (client) => {
        const all = await listSchedules(client);
        if (o.json) return console.log(JSON.stringify(all, null, 2));
        if (!all.length) return console.log('no schedules (create one with `sluice schedule create`)');
        printTable(
          ['NAME', 'PIPELINE', 'CRON', 'STATE', 'OVERLAP', 'CATCH-UP', 'NEXT RUN'],
          all.map((s) => [s.id, s.pipeline ?? '?', s.cron.join(' | '), s.paused ? 'paused' : 'active', overlapName(s.overlap), formatSetting(s.catchupWindowMs), s.nextRuns[0] ?? '-']),
        );
      }),
    );

  schedule
    .command('describe <name>')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }) =>
      withClient(async (client) => {
        const s = summarize(await withSchedule(client, name, (h) => h.describe()));
        if (o.json) return console.log(JSON.stringify(s, null, 2));
        console.log(`${s.id}: ${s.pipeline} at ${s.cron.join(', ')} (${s.paused ? 'paused' : 'active'}${s.note ? `: ${s.note}` : ''})`);
        console.log(`  overlap ${overlapName(s.overlap)}, catch-up window ${formatSetting(s.catchupWindowMs)}`);
        console.log(`  next:   ${s.nextRuns.join(', ') || '-'}`);
        for (const r of s.recentRuns) console.log(`  ran:    ${r.scheduledAt} → ${r.workflowId}`);
      }),
    );

  for (const verb of ['pause', 'unpause'] as const) {
    schedule
      .command(`${verb} <name>`)
      .option('--note <text>', 'why')
      .action(async (name: string, o: { note?: string }) =>
        withClient(async (client) => {
          await withSchedule(client, name, (h) => h[verb](o.note));
          console.log(`${verb}d ${name}`);
        }),
      );
  }

  schedule
    .command('trigger <name>')
    .description('start a run now')
    .option('--overlap <policy>', 'overlap policy for this run', 'allow-all')
    .action(async (name: string, o: { overlap: string }) =>
      withClient(async (client) => {
        const overlap = overlapPolicy(o.overlap);
        await withSchedule(client, name, (h) => h.trigger(overlap));
        console.log(`triggered ${name}`);
      }),
    );

  schedule
    .command('backfill <name>')
    .description('run the schedule for every time it matches in [start, end)')
    .requiredOption('--start <time>', 'ISO 8601 start')
    .requiredOption('--end <time>', 'ISO 8601 end')
    .option('--overlap <policy>', 'overlap policy for the backfilled runs', 'allow-all')
    .addHelpText('after', '\nExample:\n  sluice schedule backfill hourly-scores --start 2026-01-01T00:00:00Z --end 2026-01-01T06:00:00Z')
    .action(async (name: string, o: { start: string; end: string; overlap: string }) =>
      withClient(async (client) => {
        const start = parseTime('--start', o.start);
        const end = parseTime('--end', o.end);
        if (end <= start) throw new Error('--end must be after --start');
        const overlap = overlapPolicy(o.overlap);
        await withSchedule(client, name, (h) => h.backfill({ start, end, overlap }));
        console.log(`backfilling ${name} from ${start.toISOString()} to ${end.toISOString()}`);
      }),
    );

  schedule.command('delete <name>').action(async (name: string) =>
    withClient(async (client) => {
      await withSchedule(client, name, (h) => h.delete());
      console.log(`deleted ${name}`);
    }),
  );
}
