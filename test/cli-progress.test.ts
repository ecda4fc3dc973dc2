import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderProgress } from '../cli/progress';
import { nodeStatusOf, readRunState, type RunState } from '../pipelines/dsl/protocol';

test('progress lines show each node: fan-out bars, approvals, timings', () => {
  const lines = renderProgress(
    {
      pipeline: 'p',
      version: 'v',
      status: 'running',
      nodes: {
        ingest: { status: 'succeeded', step: 'ingest', queue: 'cpu', startedAt: 1000, endedAt: 3500 },
        train: { status: 'running', step: 'train.gbdt', queue: 'cpu', items: { total: 4, done: 1 } },
        'sign-off': { status: 'running', step: 'sluice.approval', queue: 'cpu', awaiting: 'approval' },
        promote: { status: 'pending', step: 'promote-model', queue: 'cpu' },
      },
    },
    8,
  );
  assert.deepEqual(lines, [
    '✔ ingest             succeeded 2.5s',
    '▶ train              [██      ] 1/4',
    '▶ sign-off           waiting for approval (sluice approve)',
    '· promote            pending',
  ]);
});

test("a run on an older worker answers 'done' for a finished node: read as 'succeeded'", () => {
  const old = { pipeline: 'p', version: 'v', status: 'running', nodes: { ingest: { status: 'done', step: 'ingest', queue: 'cpu' }, train: { status: 'running', step: 't', queue: 'cpu' } } };
  const state = readRunState(old as unknown as RunState);
  assert.deepEqual(Object.values(state.nodes).map((n) => n.status), ['succeeded', 'running']);
  assert.deepEqual(renderProgress(state), ['✔ ingest             succeeded', '▶ train              running']);
  assert.equal(nodeStatusOf('cached'), 'cached');
});
