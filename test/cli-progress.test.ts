import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderProgress } from '../cli/progress';

test('progress lines show each node: fan-out bars, approvals, timings', () => {
  const lines = renderProgress(
    {
      pipeline: 'p',
      version: 'v',
      status: 'running',
      nodes: {
        ingest: { status: 'done', step: 'ingest', queue: 'cpu', startedAt: 1000, endedAt: 3500 },
        train: { status: 'running', step: 'train.gbdt', queue: 'cpu', items: { total: 4, done: 1 } },
        'sign-off': { status: 'running', step: 'sluice.approval', queue: 'cpu', awaiting: 'approval' },
        promote: { status: 'pending', step: 'promote-model', queue: 'cpu' },
      },
    },
    8,
  );
  assert.deepEqual(lines, [
    '✔ ingest             done 2.5s',
    '▶ train              [██      ] 1/4',
    '▶ sign-off           waiting for approval (sluice approve)',
    '· promote            pending',
  ]);
});
