import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { createSchedule, listSchedules, summarize } from '../cli/schedules';
import { projectRoot } from '../infra/paths';
import type { PipelineWorkflow } from '../pipelines/dsl/start';
import { loadRegistry, type Registry } from '../workers/registry';
import { interval } from './fixtures/engine-pipelines';
import { startRun } from './helpers/runs';
import { startTestWorkers, temporalClient, uniqueId, usePostgres, useTemporal, type TestWorkers } from './helpers/stack';

const fixtures = path.join(projectRoot, 'test', 'fixtures', 'engine-pipelines.ts');
let temporal: Awaited<ReturnType<typeof useTemporal>>;
let pgh: Awaited<ReturnType<typeof usePostgres>>;
let workers: TestWorkers;
let client: Client;
let reg: Registry;

before(async () => {
  [temporal, pgh] = await Promise.all([useTemporal(), usePostgres()]);
  workers = await startTestWorkers({ temporalAddress: temporal.address, databaseUrl: pgh.url, kinds: ['cpu'], env: { SLUICE_EXTRA_PIPELINES: fixtures } });
  client = await temporalClient(temporal.address);
  reg = await loadRegistry({ extraPipelines: fixtures });
});
after(async () => {
  await workers?.stop();
  await client?.connection.close();
  await pgh?.stop();
  await temporal?.stop();
});

test('a backfill over past hours runs each interval with its own scheduled time', async () => {
  const id = uniqueId('hourly-');
  const handle = await createSchedule(client, workers.config, reg, { id, pipeline: 't-interval', cron: '0 * * * *', input: { hours: 1 }, paused: true, note: 'test' });
  const described = summarize(await handle.describe());
  assert.deepEqual([described.pipeline, described.cron, described.paused, described.overlap], ['t-interval', ['0 * * * *'], true, 'SKIP']);
  assert.ok((await listSchedules(client)).some((s) => s.id === id));

  await handle.backfill({ start: new Date('2026-01-01T00:00:00Z'), end: new Date('2026-01-01T03:30:00Z'), overlap: 'ALLOW_ALL' });
  const partitions = new Map<string, string>();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && partitions.size < 4) {
    for await (const wf of client.workflow.list({ query: `TemporalScheduledById = '${id}'` })) {
      if (partitions.has(wf.workflowId) || wf.status.name !== 'COMPLETED') continue;
      // Started by the schedule: a handle typed by the pipeline it runs.
      const r = await client.workflow.getHandle<PipelineWorkflow<typeof interval>>(wf.workflowId, wf.runId).result();
      partitions.set(wf.workflowId, r.outputs.partition);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  // Hourly times in [00:00, 03:30): 00:00, 01:00, 02:00, 03:00, each processing the hour before it.
  assert.deepEqual([...partitions.values()].sort(), ['2025-12-31T23', '2026-01-01T00', '2026-01-01T01', '2026-01-01T02']);

  await handle.unpause('go');
  assert.equal(summarize(await handle.describe()).paused, false);
  await handle.delete();
  assert.ok(!(await listSchedules(client)).some((s) => s.id === id));
});

test('a schedule with bad params or an unknown pipeline is refused before it exists', async () => {
  await assert.rejects(createSchedule(client, workers.config, reg, { id: uniqueId('bad-'), pipeline: 't-interval', cron: '0 * * * *', input: { hours: 'one' } }), /hours: /);
  await assert.rejects(createSchedule(client, workers.config, reg, { id: uniqueId('bad-'), pipeline: 'nope', cron: '0 * * * *', input: {} }), /unknown pipeline "nope"/);
  await assert.rejects(createSchedule(client, workers.config, reg, { id: 'bad name!', pipeline: 't-interval', cron: '0 * * * *', input: {} }), /schedule name/);
});

test('a run started by hand gets its start time as its scheduled time', async () => {
  const h = await startRun({ client, workers }, interval, {});
  const r = await h.result();
  const desc = await h.describe();
  assert.equal(r.outputs.scheduledTime, desc.startTime.toISOString());
});
