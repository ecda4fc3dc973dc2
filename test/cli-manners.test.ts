import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../infra/paths';
import { defaultActor } from '../cli/actor';
import { runStateQuery } from '../pipelines/dsl/messages';
import { readRunState } from '../pipelines/dsl/protocol';
import { startTestStack, uniqueId, type TestStack } from './helpers/stack';

/**
 * CLI manners, as users meet them: the real `sluice` process against a real Temporal,
 * PostgreSQL and CPU worker. Closed pipes, Ctrl-C while waiting, a missing USER, errors that
 * speak of schedules and models rather than internal workflow ids, listings with headers.
 */

const fixtures = path.join(projectRoot, 'test', 'fixtures', 'engine-pipelines.ts');
let stack: TestStack;

before(async () => {
  stack = await startTestStack({ kinds: ['cpu'], env: { SLUICE_EXTRA_PIPELINES: fixtures } });
});
after(async () => {
  await stack?.stop();
});

interface Sluice {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function start(args: string[], env: NodeJS.ProcessEnv = stack.workers.env): Sluice {
  const child = spawn(process.execPath, [path.join(projectRoot, 'cli', 'sluice.mjs'), ...args], { cwd: projectRoot, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('error', () => undefined); // destroyed on purpose by the EPIPE test
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, stdout: () => stdout, done };
}

const sluice = (args: string[], env?: NodeJS.ProcessEnv) => start(args, env).done;

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const STACK_TRACE = /\n\s+at .+\(|EPIPE|Error:/;

test('`sluice runs list | head -1`: a closed pipe ends the listing quietly, exit 0', async () => {
  const pipeline = uniqueId('epipe-');
  // Far more than a pipe holds (64 KiB), so the CLI is still writing when its reader goes away.
  await stack.db.query(
    `INSERT INTO runs (run_id, workflow_id, pipeline_name, pipeline_version, status, started_at, ended_at)
     SELECT $1 || g, $1 || '-wf-' || g, $1, '1', 'succeeded', now() - g * interval '1 minute', now() FROM generate_series(1, 4000) g`,
    [pipeline],
  );
  const s = start(['runs', 'list', '-p', pipeline, '-n', '4000']);
  await until('the first line', () => (s.stdout().includes('\n') ? true : undefined));
  s.child.stdout.destroy(); // `head -1` has its line and exits
  const r = await s.done;
  assert.match(r.stdout, /^STARTED\s+STATUS\s+PIPELINE/, 'the listing starts with its header row');
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
});

test('Ctrl-C during `run --wait` stops waiting, not the run; approve works without $USER', async () => {
  const s = start(['run', 't-approval', '--wait']);
  const workflowId = await until('the workflow id, before any waiting', () => /^started t-approval: workflow (\S+) run /m.exec(s.stdout())?.[1]);
  const handle = stack.client.workflow.getHandle(workflowId);
  await until('the approval node to wait', async () => {
    const state = readRunState(await handle.query(runStateQuery));
    return state.nodes['sign-off']?.awaiting === 'approval' ? true : undefined;
  });
  s.child.kill('SIGINT');
  const r = await s.done;
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, new RegExp(`run ${workflowId} goes on`));
  assert.match(r.stderr, new RegExp(`sluice runs show ${workflowId}`));
  assert.match(r.stderr, new RegExp(`temporal workflow show -w ${workflowId}`));
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  assert.equal((await handle.describe()).status.name, 'RUNNING', 'the run goes on');

  // No USER, LOGNAME or SLUICE_USER (cron, containers): the OS account decides.
  const env = { ...stack.workers.env };
  for (const k of ['USER', 'LOGNAME', 'SLUICE_USER']) delete env[k];
  const help = await sluice(['approve', '--help'], env);
  assert.match(help.stdout, /--reason <text>\s+required/);
  const noReason = await sluice(['approve', workflowId, 'sign-off'], env);
  assert.notEqual(noReason.code, 0);
  assert.match(noReason.stderr, /required option '--reason <text>'/);
  const approved = await sluice(['approve', workflowId, 'sign-off', '--reason', 'looks right'], env);
  assert.equal(approved.code, 0, approved.stderr);
  const me = os.userInfo().username;
  assert.match(approved.stdout, new RegExp(`sign-off: approved by ${me} at `));
  const result = (await handle.result()) as { outputs: { decision: { approved: boolean; by: string } } };
  assert.deepEqual([result.outputs.decision.approved, result.outputs.decision.by], [true, me]);
});

test('errors name schedules and models, never the internal workflow ids behind them', async () => {
  for (const args of [['schedule', 'describe', 'nope'], ['schedule', 'pause', 'nope'], ['schedule', 'trigger', 'nope'], ['schedule', 'delete', 'nope']]) {
    const r = await sluice(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /^sluice: no schedule named nope \(see `sluice schedule list`\)\n$/, args.join(' '));
  }
  for (const args of [['monitor', 'status', 'nope'], ['retrain', 'nope', '--reason', 'why not']]) {
    const r = await sluice(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /^sluice: no drift monitor for model nope \(start one with /, args.join(' '));
    assert.doesNotMatch(r.stderr, /drift-monitor-nope/);
  }
});

test('schedule list has a header row, durations read as 1h; a duplicate name is said plainly', async () => {
  const name = uniqueId('hourly-');
  const create = ['schedule', 'create', name, '--pipeline', 't-interval', '--cron', '0 * * * *', '--paused'];
  const created = await sluice(create);
  assert.equal(created.code, 0, created.stderr);
  try {
    const again = await sluice(create);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`a schedule named ${name} already exists`));

    const list = await sluice(['schedule', 'list']);
    assert.equal(list.code, 0, list.stderr);
    const [head, ...rows] = list.stdout.trimEnd().split('\n');
    assert.match(head!, /^NAME\s+PIPELINE\s+CRON\s+STATE\s+OVERLAP\s+CATCH-UP\s+NEXT RUN$/);
    assert.match(rows.find((l) => l.startsWith(name)) ?? '', new RegExp(`^${name}\\s+t-interval\\s+0 \\* \\* \\* \\*\\s+paused\\s+skip\\s+1h\\s`));

    const describe = await sluice(['schedule', 'describe', name]);
    assert.equal(describe.code, 0, describe.stderr);
    assert.match(describe.stdout, /overlap skip, catch-up window 1h$/m);
    assert.doesNotMatch(describe.stdout, /\d ms/);
  } finally {
    await sluice(['schedule', 'delete', name]);
  }
});

test('runs show names each artifact by its output', async () => {
  // t-cache's second step runs on the GPU queue, which no worker serves here: the first step's
  // artifact is recorded while the run waits.
  const started = await sluice(['run', 't-cache', '--input', '{"text":"manners"}']);
  assert.equal(started.code, 0, started.stderr);
  const workflowId = /^started t-cache: workflow (\S+) run /m.exec(started.stdout)?.[1];
  assert.ok(workflowId, started.stdout);
  try {
    await until('the produce step to finish', async () => {
      const { rows } = await stack.db.query(`SELECT 1 FROM step_runs s JOIN runs r USING (run_id) WHERE r.workflow_id = $1 AND s.node_id = 'produce' AND s.status = 'succeeded'`, [workflowId]);
      return rows.length ? true : undefined;
    });
    const show = await sluice(['runs', 'show', workflowId]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /\n {4}↳ file: file:\/\/\S+\n/);
  } finally {
    await stack.client.workflow.getHandle(workflowId).terminate('test done');
  }
});

test('the default actor: SLUICE_USER, USER, LOGNAME, the OS account, then "unknown"; never empty', () => {
  const os = () => ({ username: 'osuser' });
  assert.equal(defaultActor({ SLUICE_USER: ' ada ', USER: 'bob' }, os), 'ada');
  assert.equal(defaultActor({ USER: 'bob', LOGNAME: 'carl' }, os), 'bob');
  assert.equal(defaultActor({ USER: ' ', LOGNAME: 'carl' }, os), 'carl');
  assert.equal(defaultActor({}, os), 'osuser');
  assert.equal(
    defaultActor({}, () => {
      throw new Error('no passwd entry for uid 1234');
    }),
    'unknown',
  );
  assert.equal(defaultActor({}, () => ({ username: '' })), 'unknown');
});
