import type { Command } from 'commander';
import { loadConfig, parseDuration } from '../../infra/config';
import { openArtifactStore } from '../../infra/artifacts';
import { createPool } from '../../infra/db/pool';
import { resolveDatabaseUrl } from '../../infra/stack/database-url';
import { batchScored, labelsArrived } from '../../pipelines/monitor/messages';
import { connectClient } from '../client';
import { withMonitor } from '../monitor';

/**
 * `sluice monitor online MODEL`: the last window of a model's online predictions (sluice serve's
 * prediction log) goes to its drift monitor as a scored batch, with the labels given for it
 * through POST /v1/feedback, as batch scoring sends its runs. Windows are aligned to their length
 * (`--window 1h` run at 14:07 sends [13:00, 14:00)), so running it every window (cron) sends each
 * window once and a second run of the same window is ignored by the monitor; run again later, it
 * sends the labels that arrived since.
 */
export function registerMonitorOnlineCommand(program: Command): void {
  const monitor = program.commands.find((c) => c.name() === 'monitor');
  if (!monitor) throw new Error('`sluice monitor` must be registered before `sluice monitor online`');
  monitor
    .command('online <model>')
    .description("send the last window of a model's online predictions (and their feedback labels) to its drift monitor")
    .option('--window <duration>', 'window length; the window ends at the last multiple of it (or at --end)', '1h')
    .option('--end <time>', 'the window end (ISO time, exclusive)')
    .addHelpText('after', '\nExamples:\n  sluice monitor online penguins-species                # the last whole hour\n  sluice monitor online penguins-species --window 1d --end 2026-12-01T00:00:00Z')
    .action(async (model: string, o: { window: string; end?: string }) => {
      const length = parseDuration(o.window);
      if (length <= 0) throw new Error(`--window: must be longer than zero, got ${o.window}`);
      const end = o.end === undefined ? undefined : new Date(o.end);
      if (end && Number.isNaN(end.getTime())) throw new Error(`--end: expected an ISO time, got ${JSON.stringify(o.end)}`);
      // Polars only here, not on the CLI's import path.
      const { alignedWindow, onlineMonitorFeed } = await import('../../serving/monitor-window');
      const window = alignedWindow(length, end);
      const config = loadConfig();
      const db = createPool(await resolveDatabaseUrl(config), { max: 2 });
      const feed = await onlineMonitorFeed({ db, store: await openArtifactStore(config.artifacts) }, model, window).finally(() => db.end());
      const span = `[${window.start.toISOString()}, ${window.end.toISOString()})`;
      if (!feed.batch) return console.log(`no answered online prediction of ${model} in ${span}: nothing sent`);
      const client = await connectClient(config);
      try {
        await withMonitor(client, model, async (m) => {
          await m.signal(batchScored, feed.batch!);
          if (feed.labels) await m.signal(labelsArrived, feed.labels);
        });
      } finally {
        await client.connection.close();
      }
      console.log(`${feed.predictions} online prediction(s) of ${model} in ${span} sent to its monitor as ${feed.batch.batchId}${feed.labels ? `, with ${feed.labelled} label(s)` : ''} (sluice monitor status ${model} shows the decision)`);
    });
}
