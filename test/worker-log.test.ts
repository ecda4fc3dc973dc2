import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../infra/log';
import { sdkLogger } from '../workers/runtime';

test("the Temporal SDK's log entries become JSON lines of the worker's logger, at its level", () => {
  const lines: string[] = [];
  const log = createLogger({ worker: 'cpu' }, 'info', (l) => lines.push(l));
  const sdk = sdkLogger('info', log);
  sdk.warn('Activity heartbeat failed', { sdkComponent: 'activity', attempt: 2, nanos: 12n, error: new Error('boom') });
  sdk.trace('noise below the level');
  sdk.debug('more noise');
  sdk.error('worker failed', { taskQueue: 'q' });
  assert.equal(lines.length, 2, lines.join('\n'));
  const [warn, error] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(warn!.level, 'warn');
  assert.equal(warn!.msg, 'Activity heartbeat failed');
  assert.equal(warn!.worker, 'cpu');
  assert.equal(warn!.source, 'temporal-sdk');
  assert.equal(warn!.attempt, 2);
  assert.equal(warn!.nanos, '12');
  assert.deepEqual(warn!.error, { name: 'Error', message: 'boom' });
  assert.equal(error!.level, 'error');
  assert.equal(error!.taskQueue, 'q');
  for (const l of lines) assert.doesNotMatch(l, /\u001b\[/, 'no colour codes');
});
