import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startService } from '../infra/stack/process';
import { supervise } from '../infra/stack/supervise';
import { tempDir } from './helpers/stack';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('a killed service is restarted after a backoff, and the restart is reported', async () => {
  const dir = tempDir('supervise');
  const logFile = path.join(dir, 'fake.log');
  const lines: string[] = [];
  const svc = supervise(() => startService('fake-worker', process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { logFile }), {
    what: 'cpu worker',
    log: (m) => lines.push(m),
    initialDelayMs: 200,
    maxDelayMs: 1_000,
  });
  try {
    const first = svc.child.pid;
    svc.child.kill('SIGKILL');
    await until('a second process', () => svc.child.pid !== first);
    assert.equal(svc.restarts, 1);
    assert.deepEqual(lines, ['cpu worker exited on signal SIGKILL; restarting in 0.2s']);
    assert.equal(svc.child.exitCode, null, 'the new process runs');

    // A second crash in a row waits twice as long.
    const second = svc.child.pid;
    svc.child.kill('SIGKILL');
    await until('a third process', () => svc.child.pid !== second);
    assert.equal(lines[1], 'cpu worker exited on signal SIGKILL; restarting in 0.4s');
  } finally {
    await svc.stop(2_000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const last = svc.child;
  assert.ok(last.exitCode !== null || last.signalCode !== null, 'stop() ends the current process');
  await sleep(600);
  assert.equal(svc.restarts, 2, 'a stopped service is not restarted');
});

test('a service that keeps crashing right after start is given up on, saying so', async () => {
  const dir = tempDir('supervise');
  const logFile = path.join(dir, 'fake.log');
  const lines: string[] = [];
  const svc = supervise(() => startService('fake-worker', process.execPath, ['-e', 'process.exit(3)'], { logFile }), {
    what: 'gpu worker',
    log: (m) => lines.push(m),
    initialDelayMs: 100,
    maxDelayMs: 300,
    maxFastCrashes: 3,
    logFile,
  });
  try {
    await until('supervision to give up', () => svc.gaveUp);
    assert.equal(svc.restarts, 3);
    assert.deepEqual(lines.slice(0, 3), [
      'gpu worker exited with code 3; restarting in 0.1s',
      'gpu worker exited with code 3; restarting in 0.2s',
      'gpu worker exited with code 3; restarting in 0.3s',
    ]);
    assert.match(lines[3]!, /^gpu worker exited with code 3; it crashed 4 times in a row within 60s of starting, so it is not restarted again \(log: .*fake\.log\)$/);
    assert.equal(lines.length, 4);
  } finally {
    await svc.stop(1_000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
