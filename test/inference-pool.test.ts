import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { projectRoot } from '../infra/paths';

test('inference pool: warm() keeps the process alive until its threads are ready, then lets it exit', () => {
  // In a process with nothing else to wait on: an unref'd thread would let it exit mid-await (code 13).
  const script = `
    import { InferencePool } from './activities/scoring/inference-pool.ts';
    const pool = new InferencePool(2);
    await pool.warm();
    console.log('warm');
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^warm$/m);
});
