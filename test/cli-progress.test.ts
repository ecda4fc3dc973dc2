import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderProgress, showProgress, stoppedWaitingNote } from '../cli/progress';
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

test('a sharded fan-out says its items in flight; a run of thousands of nodes draws one screen', () => {
  const nodes: RunState['nodes'] = {};
  for (let i = 0; i < 2000; i++) nodes[`n${i}`] = { status: i < 1500 ? 'succeeded' : i === 1500 ? 'running' : 'pending', step: 'gen.add', queue: 'cpu' };
  nodes.each = { status: 'running', step: 'noop', queue: 'cpu', items: { total: 100_000, done: 25_000, running: 8_000 } };
  const lines = renderProgress({ pipeline: 'p', version: 'v', status: 'running', nodes }, 8);
  assert.deepEqual(lines, ['▶ n1500              running', '▶ each               [██      ] 25000/100000 (8000 in running shards)', '  … 1999 more nodes: 1500 succeeded, 499 pending']);
});

test("a run on an older worker answers 'done' for a finished node: read as 'succeeded'", () => {
  const old = { pipeline: 'p', version: 'v', status: 'running', nodes: { ingest: { status: 'done', step: 'ingest', queue: 'cpu' }, train: { status: 'running', step: 't', queue: 'cpu' } } };
  const state = readRunState(old as unknown as RunState);
  assert.deepEqual(Object.values(state.nodes).map((n) => n.status), ['succeeded', 'running']);
  assert.deepEqual(renderProgress(state), ['✔ ingest             succeeded', '▶ train              running']);
  assert.equal(nodeStatusOf('cached'), 'cached');
});

const stateOf = (status: string, train: string): RunState => ({
  pipeline: 'p',
  version: 'v',
  status,
  nodes: {
    ingest: { status: 'succeeded', step: 'ingest', queue: 'cpu' },
    train: { status: train, step: 'train.gbdt', queue: 'cpu' },
  },
} as unknown as RunState);

test('finish draws the final state once the run is over: no step is left showing "running"', async () => {
  let answer = stateOf('running', 'running');
  let queries = 0;
  const handle = { query: async () => (queries++, answer) } as unknown as Parameters<typeof showProgress>[0];
  let written = '';
  const progress = showProgress(handle, { write: (s: string) => ((written += s), true) } as never, 60_000);
  await new Promise((r) => setTimeout(r, 20)); // the first frame
  assert.match(written, /▶ train\s+running/);
  answer = stateOf('succeeded', 'succeeded'); // the run ends between two redraws
  await progress.finish();
  const frames = written.split('\x1b[2A'); // each redraw moves up over the previous frame's 2 lines
  assert.equal(frames.length, 2, 'one redraw: the final frame');
  assert.match(frames[1]!, /✔ train\s+succeeded/);
  assert.doesNotMatch(frames[1]!, /running/);
  const after = queries;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(queries, after, 'no redraw after finish');
});

test('stop leaves the frame as it is; Ctrl-C says the run goes on and how to follow it', async () => {
  let written = '';
  const handle = { query: async () => stateOf('running', 'running') } as unknown as Parameters<typeof showProgress>[0];
  const progress = showProgress(handle, { write: (s: string) => ((written += s), true) } as never, 60_000);
  await new Promise((r) => setTimeout(r, 20));
  progress.stop();
  const before = written;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(written, before);
  const note = stoppedWaitingNote('train-model-abc');
  assert.match(note, /run train-model-abc goes on/);
  assert.match(note, /sluice runs show train-model-abc/);
  assert.match(note, /temporal workflow show -w train-model-abc/);
});
