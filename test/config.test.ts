import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, configVariables, FOREIGN_VARIABLES, loadConfig, parseDuration } from '../infra/config';
import { projectRoot } from '../infra/paths';

test('defaults give a working local configuration', () => {
  const c = loadConfig({ SLUICE_HOME: '/tmp/sluice-home' });
  assert.equal(c.temporal.address, 'localhost:7233');
  assert.equal(c.temporal.namespace, 'default');
  assert.deepEqual(c.queues, { workflow: 'sluice', cpu: 'sluice-cpu', gpu: 'sluice-gpu' });
  assert.deepEqual(c.artifacts, { kind: 'local', root: '/tmp/sluice-home/artifacts' });
  assert.equal(c.databaseUrl, undefined);
  assert.equal(c.concurrency.gpu, undefined);
});

test('a bad value fails with the variable name and what was expected', () => {
  assert.throws(
    () => loadConfig({ TEMPORAL_ADDRESS: 'not an address', SLUICE_CPU_METRICS_PORT: '99999' }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /TEMPORAL_ADDRESS: expected host:port/);
      assert.match(e.message, /"not an address"/);
      assert.match(e.message, /SLUICE_CPU_METRICS_PORT/);
      return true;
    },
  );
});

test('S3 artifacts require endpoint and credentials, named when missing', () => {
  assert.throws(() => loadConfig({ SLUICE_ARTIFACT_URL: 's3://bucket/prefix', S3_ENDPOINT: 'http://localhost:9000' }), /S3_ACCESS_KEY[\s\S]*S3_SECRET_KEY/);
  const c = loadConfig({
    SLUICE_ARTIFACT_URL: 's3://my-bucket/some/prefix/',
    S3_ENDPOINT: 'http://minio:9000',
    S3_ACCESS_KEY: 'ak',
    S3_SECRET_KEY: 'sk',
  });
  assert.deepEqual(c.artifacts, {
    kind: 's3', bucket: 'my-bucket', prefix: 'some/prefix', endpoint: 'http://minio:9000', region: 'us-east-1', accessKey: 'ak', secretKey: 'sk',
  });
});

test('secrets never appear in configuration errors', () => {
  try {
    loadConfig({ DATABASE_URL: 'mysql://user:hunter2@db/x', S3_SECRET_KEY: '' });
    assert.fail('expected a ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /DATABASE_URL/);
    assert.doesNotMatch(e.message, /hunter2/);
  }
  try {
    loadConfig({ DATABASE_URL: 'postgres://u:pw@h/db', SLUICE_ARTIFACT_URL: 'ftp://x' });
    assert.fail('expected a ConfigError');
  } catch (e) {
    assert.match((e as Error).message, /SLUICE_ARTIFACT_URL/);
  }
});

test('empty variables mean "use the default"', () => {
  assert.equal(loadConfig({ TEMPORAL_NAMESPACE: '' }).temporal.namespace, 'default');
});

test('durations parse with units', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('2m'), 120_000);
  assert.throws(() => loadConfig({ SLUICE_SHUTDOWN_GRACE: '30 seconds' }), /SLUICE_SHUTDOWN_GRACE: expected a duration/);
});

test('inference threads: one per core (at most 8) unless SLUICE_INFERENCE_THREADS says otherwise', async () => {
  const os = await import('node:os');
  const { inferenceThreads } = await import('../activities/scoring/inference-pool');
  const threads = (env: NodeJS.ProcessEnv) => inferenceThreads(loadConfig(env).inferenceThreads);
  assert.equal(threads({}), Math.min(8, os.availableParallelism()));
  assert.equal(threads({ SLUICE_INFERENCE_THREADS: '3' }), 3);
  assert.throws(() => threads({ SLUICE_INFERENCE_THREADS: '0' }), /SLUICE_INFERENCE_THREADS/);
  assert.throws(() => threads({ SLUICE_INFERENCE_THREADS: 'many' }), /SLUICE_INFERENCE_THREADS/);
});

test('every environment variable the code reads is in the schema and the README table (or a known foreign one)', () => {
  const read = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(p);
      } else if (/\.(ts|mjs)$/.test(e.name)) {
        // process.env.X, and env.X where a function takes the environment as a parameter.
        for (const m of fs.readFileSync(p, 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) if (!read.has(m[1]!)) read.set(m[1]!, path.relative(projectRoot, p));
      }
    }
  };
  // Every layer of the product and the benchmarks; not test/, whose own variables (SLUICE_TEST_*
  // that test/run.ts hands its files, SLUICE_RECORD_FIXTURES, SLUICE_UI_DEBUG…) belong to the harness.
  for (const d of ['pipelines', 'workflows', 'activities', 'infra', 'cli', 'workers', 'serving', 'console', 'bench']) walk(path.join(projectRoot, d));
  assert.ok(read.has('SLUICE_SCORING_PROFILE') && read.has('DATABASE_URL'), 'the walk finds the reads');

  const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
  for (const [name, where] of read) {
    if (name in FOREIGN_VARIABLES) continue;
    assert.ok((configVariables as string[]).includes(name), `${name} (read in ${where}) is not in envSchema (infra/config.ts)`);
  }
  for (const name of configVariables) assert.ok(table.includes(`\`${name}\``), `${name} is not in the README's Configuration table`);
  for (const name of Object.keys(FOREIGN_VARIABLES)) assert.ok(table.includes(`\`${name}\``), `${name} (foreign) is not named in the README's Configuration section`);
});
