import type { SluiceConfig } from '../../infra/config';
import { createPool } from '../../infra/db/pool';
import { listStepRuns } from '../../infra/db/runs';
import { isPortOpen } from '../../infra/stack/process';
import { startStack } from '../../infra/stack/stack';
import { connectClient } from '../client';
import { setup } from './setup';
import { trainModel } from '../../pipelines/train-model';
import { startRun } from './run';
import { openArtifactStore } from '../../infra/artifacts';
import { reportPage } from '../report-pages';

/**
 * The README's main job: a pipeline end to end on the embedded default. Reuses a stack that
 * `sluice up` already runs; otherwise starts one and stops it afterwards.
 */
const fmt = (v: unknown) => (typeof v === 'number' ? v.toFixed(3) : String(v));

export async function runDemo(config: SluiceConfig): Promise<void> {
  await setup({ minio: false, postgres: !config.databaseUrl });
  const [host, port] = config.temporal.address.split(':') as [string, string];
  const running = await isPortOpen(Number(port), host === 'localhost' ? '127.0.0.1' : host);
  const stack = await startStack({ config, workers: running ? [] : ['cpu', 'gpu'] });
  try {
    const client = await connectClient(config);
    try {
      console.log('running pipeline train-model on vega-datasets penguins (ingest → validate → split → tune GBDT → evaluate → register → promote) …');
      const r = await startRun(client, config, trainModel, { params: {}, wait: true });
      const out = r.result!.outputs;
      const holdout = out.holdout;
      console.log(`\nmodel:     ${out.model} (registered: ${out.registered}, promotion: ${out.outcome})`);
      console.log(`holdout:   accuracy ${fmt(holdout.accuracy)}, f1_macro ${fmt(holdout.f1_macro)}, log_loss ${fmt(holdout.log_loss)}`);
      console.log(`report:    ${await reportPage(await openArtifactStore(config.artifacts), config.home, out.report)}`);
      const db = createPool(stack.databaseUrl, { max: 1 });
      try {
        const rows = await listStepRuns(db, r.runId);
        console.log(`\nsteps recorded in PostgreSQL for run ${r.runId}:`);
        for (const row of rows) {
          const secs = row.ended_at ? ((row.ended_at.getTime() - row.started_at.getTime()) / 1000).toFixed(2) : '-';
          console.log(`  ${row.node_id.padEnd(12)} ${row.queue}  ${row.status.padEnd(9)} attempt ${row.attempt}  ${secs}s`);
        }
        console.log(`\nsee it in the Temporal UI (npm run dev), or: npx sluice runs show ${r.workflowId}`);
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
