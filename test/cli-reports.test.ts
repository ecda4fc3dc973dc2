import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openArtifactStore, shaOfCasKey } from '../infra/artifacts';
import { projectRoot } from '../infra/paths';
import { startTestStack, type TestStack } from './helpers/stack';

/**
 * Reports open as pages: every CLI place that prints one (`run --wait`, `reports list`,
 * `reports open`) prints a file:// URL of an .html copy under SLUICE_HOME/reports whose bytes
 * are the report artifact's.
 */
let stack: TestStack;

before(async () => {
  stack = await startTestStack({ kinds: ['cpu'] });
});
after(async () => {
  await stack?.stop();
});

const sluice = (args: string[]) =>
  new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'cli', 'sluice.mjs'), ...args], { env: stack.workers.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });

/** The page a line ends with: a file:// URL of an existing .html file under SLUICE_HOME/reports. */
function pageOf(line: string | undefined): string {
  const url = /(file:\/\/\S+)\s*$/.exec(line ?? '')?.[1];
  assert.ok(url, `a file:// URL at the end of ${JSON.stringify(line)}`);
  const file = fileURLToPath(url);
  assert.ok(file.endsWith('.html'), `${file} ends with .html`);
  assert.equal(path.dirname(file), path.join(stack.workers.env.SLUICE_HOME!, 'reports'));
  assert.ok(fs.existsSync(file), `${file} exists`);
  return file;
}

test('run --wait, reports list and reports open print pages whose content is the report', async () => {
  const run = await sluice(['run', 'ingest-validate', '--wait']);
  assert.equal(run.code, 0, run.err);
  const result = JSON.parse(run.out.slice(run.out.indexOf('{'), run.out.lastIndexOf('}') + 1)) as { runId: string; outputs: { report: { uri: string } } };
  const store = await openArtifactStore(stack.workers.config.artifacts);
  const artifact = await store.getBuffer(result.outputs.report.uri);
  assert.match(artifact.toString('utf8').slice(0, 100), /<!doctype html/i);

  const fromRun = pageOf(run.out.split('\n').find((l) => l.startsWith('report report: ')));
  assert.deepEqual(fs.readFileSync(fromRun), artifact);
  assert.ok(!run.out.includes('report profile:') && !run.out.includes('report dataset:'), 'only HTML reports get pages');

  const list = await sluice(['reports', 'list', '--dataset', 'seattle-weather']);
  assert.equal(list.code, 0, list.err);
  assert.match(list.out, /^ID\s+CREATED\s+RESULT\s+DATASET\s+SUITE\s+REPORT\n/, 'a header row');
  const row = list.out.split('\n').find((l) => l.includes('seattle-weather@1'));
  const id = /^\s*(\d+)\s/.exec(row ?? '')?.[1];
  assert.ok(id, `an id leads the row ${JSON.stringify(row)}`);
  assert.deepEqual(fs.readFileSync(pageOf(row)), artifact);

  // By id, by sha256 and by URI: the same page, made fresh when it is not there.
  fs.rmSync(path.join(stack.workers.env.SLUICE_HOME!, 'reports'), { recursive: true });
  for (const ref of [id, shaOfCasKey(store.keyFromUri(result.outputs.report.uri))!, result.outputs.report.uri]) {
    const open = await sluice(['reports', 'open', ref]);
    assert.equal(open.code, 0, open.err);
    const file = pageOf(open.out.trim());
    assert.deepEqual(fs.readFileSync(file), artifact, `reports open ${ref}`);
  }
  const datasets = await sluice(['datasets', 'list']);
  assert.equal(datasets.code, 0, datasets.err);
  assert.match(datasets.out, /^NAME\s+VERSIONS\s+LATEST\s+CREATED\n(.*\n)*seattle-weather\s+1\s+v1\s+\d{4}-/);
  const versions = await sluice(['datasets', 'show', 'seattle-weather', '--versions']);
  assert.match(versions.out, /^VERSION\s+ROWS\s+SHA256\s+CREATED\s+URI\nv1\s+\d+\s+[0-9a-f]{12}\s/);

  const missing = await sluice(['reports', 'open', '999999']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.err, /no report 999999/);
});
