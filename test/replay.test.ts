import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { projectRoot } from '../infra/paths';

/**
 * Recorded histories of real runs (test/fixtures/histories, made by record-histories.ts) replay
 * against the current workflow code. A change that would break runs in flight fails here.
 */
const dir = path.join(projectRoot, 'test', 'fixtures', 'histories');
const fixtures = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

function currentWorkflows(): ReplayWorkerOptions {
  const bundle = process.env.SLUICE_WORKFLOW_BUNDLE;
  return bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath: path.join(projectRoot, 'workflows', 'index.ts') };
}

const quiet = { bundlerOptions: { ignoreModules: [] } };

test('every recorded history replays against the current workflow code', async () => {
  assert.ok(fixtures.length >= 5, 'fixtures present');
  for (const f of fixtures) {
    const history = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    // The file name is the recorded run's workflow id (workflow code may derive ids from it).
    await Worker.runReplayHistory(currentWorkflows(), history, f.replace(/\.json$/, ''));
  }
});

test('replay detects workflow code that would schedule differently', async () => {
  const history = JSON.parse(fs.readFileSync(path.join(dir, 'hello.json'), 'utf8'));
  await assert.rejects(
    Worker.runReplayHistory({ workflowsPath: path.join(projectRoot, 'test', 'fixtures', 'replay-divergent-workflows.ts'), ...quiet }, history, 'hello'),
    // The workflow package's DeterminismViolationError class lives in the bundle's sandbox, so match by name.
    (e: unknown) => (e as Error).name === 'DeterminismViolationError',
  );
});
