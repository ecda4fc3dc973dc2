import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { WorkflowFailedError } from '@temporalio/client';
import path from 'node:path';
import { openArtifactStore } from '../infra/artifacts';
import { projectRoot } from '../infra/paths';
import { readFrame } from '../activities/data/frames';
import type { AnyPipeline } from '../pipelines/dsl/pipeline';
import type { RunParams } from '../pipelines/dsl/start';
import { buildTrainingSet } from '../pipelines/build-training-set';
import { ingestValidate } from '../pipelines/ingest-validate';
import { materializeFeatures } from '../pipelines/materialize-features';
import { startRun } from './helpers/runs';
import { col, featureView } from '../pipelines/steps/features';
import { suite } from '../pipelines/steps/validation';
import { startTestStack, tempDir, type TestStack } from './helpers/stack';

/**
 * The build-training-set pipeline through Temporal and a real worker: events ingested and
 * materialized (materialize-features), labels ingested (ingest-validate), then the training set
 * built from the labels by name@version, the view by name and version with one of its features,
 * and an entity key named otherwise in the labels. Times are microseconds apart, so a join that
 * truncated them to milliseconds would take a value from the future.
 */
let stack: TestStack;
let dir: string;

before(async () => {
  dir = tempDir('training-set');
  // File sources are read only under the data roots: the project (vega-datasets) and this test's files.
  stack = await startTestStack({ kinds: ['cpu'], env: { SLUICE_DATA_ROOTS: `${projectRoot}:${dir}` } });
});
after(async () => {
  await stack?.stop();
});

const run = async <P extends AnyPipeline>(pipeline: P, input: RunParams<P>) => (await startRun(stack, pipeline, input)).result();

const csv = (name: string, lines: string[]) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
};

test('build-training-set: labels by name@version, a view by name and version, a mapped key, microsecond times', async () => {
  const events = csv('events.csv', [
    'origin,at,delay,distance',
    'A,2024-01-01T00:00:00.000100Z,10,100',
    'A,2024-01-01T00:00:00.000500Z,20,200',
    'B,2024-01-01T00:00:00.000000Z,5,50',
    'A,2024-01-02T00:00:00.000000Z,30,300',
  ]);
  const view = featureView({
    name: 'tick_delays',
    version: 1,
    entities: ['origin'],
    timestamp: 'at',
    ttl: '30d',
    features: [col('delay').as('last_delay', 'int64'), col('distance').as('last_distance', 'int64')],
  });
  const m = await run(materializeFeatures, {
    source: { kind: 'file', path: events },
    name: 'tick_events',
    schema: [{ name: 'at', type: 'timestamp', nullable: false }],
    view,
    start: '2023-12-01',
    online: false,
  });
  assert.equal(m.outputs.offline.rows, 4);

  const labels = csv('labels.csv', [
    'airport,t,late',
    'A,2024-01-01T00:00:00.000499Z,0', // 1 µs before the second event: the first one's value
    'A,2024-01-01T00:00:00.000500Z,1', // exactly at the second event: its value
    'B,2024-01-01T00:00:00.000001Z,0',
    'A,2024-01-03T00:00:00.000000Z,1',
    'Z,2024-01-03T00:00:00.000000Z,0', // no such entity: nulls
    'A,2024-01-01T00:00:00.000050Z,1', // before any event of A
  ]);
  const ingested = await run(ingestValidate, {
    source: { kind: 'file', path: labels },
    name: 'tick_labels',
    schema: [{ name: 't', type: 'timestamp', nullable: false }],
    suite: suite('tick-labels', (e) => [e.notNull('airport')]),
  });
  const labelsRef = ingested.outputs.dataset;

  const built = await run(buildTrainingSet, {
    entities: `tick_labels@${labelsRef.version}`,
    views: [{ name: 'tick_delays', version: 1, features: ['last_delay'] }],
    timestamp: 't',
    keys: { origin: 'airport' },
    name: 'tick_training',
  });
  const out = built.outputs;
  assert.equal(out.rows, 6);
  assert.equal(out.dataset.name, 'tick_training');
  const df = await readFrame(await openArtifactStore(stack.workers.config.artifacts), out.dataset);
  assert.deepEqual(df.columns, ['airport', 't', 'late', 'last_delay'], 'entity columns as they were, then only the picked feature');
  assert.deepEqual(df.getColumn('airport').toArray(), ['A', 'A', 'B', 'A', 'Z', 'A']);
  assert.deepEqual(df.getColumn('late').toArray(), [0, 1, 0, 1, 0, 1]);
  assert.deepEqual(df.getColumn('last_delay').toArray(), [10, 20, 5, 30, null, null]);

  // The registered training set records what it came from.
  const rec = await stack.db.query('SELECT kind, rows, inputs FROM feature_datasets WHERE name = $1 AND version = $2', ['tick_training', out.dataset.version]);
  assert.equal(rec.rows[0].kind, 'training');
  assert.equal(rec.rows[0].inputs.entities.name, 'tick_labels');
  assert.deepEqual(rec.rows[0].inputs.views, [{ name: 'tick_delays', version: 1, features: ['last_delay'] }]);
  assert.deepEqual(rec.rows[0].inputs.keys, { origin: 'airport' });

  // An unknown feature fails the run, naming it and the view's features.
  await assert.rejects(
    run(buildTrainingSet, { entities: 'tick_labels', views: [{ name: 'tick_delays', version: 1, features: ['nope'] }], timestamp: 't', keys: { origin: 'airport' } }),
    (e: Error) => e instanceof WorkflowFailedError && /step "build" .*no feature "nope" \(it has last_delay, last_distance\)/.test(e.cause?.message ?? ''),
  );
});
