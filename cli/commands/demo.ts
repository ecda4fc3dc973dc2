import type { SluiceConfig } from '../../infra/config';
import { createPool } from '../../infra/db/pool';
import { isPortOpen } from '../../infra/stack/process';
import { startStack } from '../../infra/stack/stack';
import { connectClient } from '../client';
import { setup } from './setup';
import { startRun } from './run';

/**
 * The README's main job: a pipeline end to end on the embedded default. Reuses a stack that
 * `sluice up` already runs; otherwise starts one and stops it afterwards.
 */
export async function runDemo(config: SluiceConfig): Promise<void> {
  await setup({ minio: false, postgres: !config.databaseUrl });
  const [host, port] = config.temporal.address.split(':') as [string, string];
  const running = await isPortOpen(Number(port), host === 'localhost' ? '127.0.0.1' : host);
  const stack = await startStack({ config, workers: running ? [] : ['cpu', 'gpu'] });
  try {
    const client = await connectClient(config);
    try {
      console.log('running pipeline hello …');
      const r = await startRun(client, config, 'hello', { input: JSON.stringify({ name: 'Sluice' }), wait: true });
      console.log(JSON.stringify(r.result, null, 2));
      const db = createPool(stack.databaseUrl, { max: 1 });
      try {
        const { rows } = await db.query(
          `SELECT s.step_name, s.queue, s.status, s.attempt, a.to_id AS artifact
             FROM step_runs s LEFT JOIN lineage_edges a ON a.from_kind = 'step_run' AND a.from_id = s.run_id || '/' || s.step_name
            WHERE s.run_id = $1 ORDER BY s.started_at`,
          [r.runId],
        );
        console.log(`\nrecorded in PostgreSQL for run ${r.runId}:`);
        for (const row of rows) console.log(`  ${row.step_name.padEnd(15)} ${row.queue}  ${row.status}  attempt ${row.attempt}  → ${row.artifact}`);
      } finally {
        await db.end();
      }
    } finally {
      await client.connection.close();
    }
  } finally {
    await stack.stop();
  }
}
