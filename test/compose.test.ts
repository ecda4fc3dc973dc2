import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { envSchema, loadConfig } from '../infra/config';
import { projectRoot } from '../infra/paths';
import { SEARCH_ATTRIBUTES } from '../infra/stack/search-attributes';
import { checkCompose, findServices, interpolate, rawEnvironment, REQUIRED_WORKER_VARIABLES } from './helpers/compose-check';

const composePath = path.join(projectRoot, 'temporal-compose.yml');
const text = fs.readFileSync(composePath, 'utf8');
const load = (t: string): unknown => parse(t, { merge: true });

function workerEnv(doc: unknown, kind: 'cpu' | 'gpu', vars: Record<string, string> = {}): Record<string, string> {
  const m = findServices(doc);
  const name = m.workers[kind];
  assert.ok(name, `no ${kind} worker service`);
  const out: Record<string, string> = {};
  for (const [k, v] of rawEnvironment(m.services[name]!)) if (v !== undefined) out[k] = interpolate(v, vars);
  return out;
}

test('temporal-compose.yml is consistent with infra/config.ts and with itself', () => {
  const problems = checkCompose(load(text));
  assert.deepEqual(problems, [], `temporal-compose.yml problems:\n  ${problems.join('\n  ')}`);
});

test('stays consistent when the secrets come from a .env file', () => {
  const env = {
    POSTGRES_USER: 'pgadmin',
    POSTGRES_PASSWORD: 'pg-s3cret',
    SLUICE_DB_PASSWORD: 'sluice-s3cret',
    MINIO_ROOT_USER: 'minioadmin',
    MINIO_ROOT_PASSWORD: 'minio-s3cret',
    TEMPORAL_NAMESPACE: 'ml',
  };
  const problems = checkCompose(load(text), { env });
  assert.deepEqual(problems, [], problems.join('\n'));
  const cpu = workerEnv(load(text), 'cpu', env);
  assert.equal(cpu.DATABASE_URL, 'postgres://sluice:sluice-s3cret@postgres:5432/sluice');
  assert.equal(cpu.S3_SECRET_KEY, 'minio-s3cret');
  assert.equal(cpu.TEMPORAL_NAMESPACE, 'ml');
});

test('workers get every required variable through the shared anchor, and the env loads', () => {
  const doc = load(text);
  const defaults = envSchema.parse({});
  for (const kind of ['cpu', 'gpu'] as const) {
    const env = workerEnv(doc, kind);
    for (const k of [...REQUIRED_WORKER_VARIABLES, kind === 'cpu' ? 'SLUICE_CPU_METRICS_PORT' : 'SLUICE_GPU_METRICS_PORT']) {
      assert.ok(env[k], `${kind} worker: ${k} not set`);
    }
    const config = loadConfig(env);
    assert.equal(config.temporal.address, 'temporal:7233');
    assert.equal(new URL(config.databaseUrl!).hostname, 'postgres');
    assert.equal(config.artifacts.kind, 's3');
    assert.deepEqual(config.queues, {
      workflow: defaults.SLUICE_WORKFLOW_QUEUE,
      cpu: defaults.SLUICE_CPU_QUEUE,
      gpu: defaults.SLUICE_GPU_QUEUE,
    });
  }
});

test('the namespace job registers exactly the search attributes Sluice uses', () => {
  const doc = load(text);
  const m = findServices(doc);
  assert.equal(m.namespaceJobs.length, 1);
  const script = JSON.stringify(m.services[m.namespaceJobs[0]!]!.command);
  for (const name of Object.keys(SEARCH_ATTRIBUTES)) assert.match(script, new RegExp(`\\b${name}\\b`));
  assert.deepEqual(Object.keys(SEARCH_ATTRIBUTES).sort(), ['ModelName', 'PipelineName', 'PipelineVersion']);
});

test('interpolation follows compose rules', () => {
  assert.equal(interpolate('${A:-x}'), 'x');
  assert.equal(interpolate('${A:-x}', { A: '' }), 'x');
  assert.equal(interpolate('${A-x}', { A: '' }), '');
  assert.equal(interpolate('a${A:-${B:-y}}b'), 'ayb');
  assert.equal(interpolate('$${HOME} $$1'), '${HOME} $1');
  const unresolved: string[] = [];
  assert.equal(interpolate('${NOPE}', {}, unresolved), '');
  assert.deepEqual(unresolved, ['NOPE']);
});

/** Broken copies of the real file: each must be reported. `from` must occur in the file. */
const mutations: { what: string; from: string | RegExp; to: string; expect: RegExp }[] = [
  { what: 'typo in a queue variable', from: /^(\s+)SLUICE_CPU_QUEUE:/m, to: '$1SLUICE_CPU_QUEU:', expect: /sets SLUICE_CPU_QUEU, which is not a Sluice setting/ },
  { what: 'wrong Temporal port', from: 'TEMPORAL_ADDRESS: temporal:7233\n  TEMPORAL_NAMESPACE', to: 'TEMPORAL_ADDRESS: temporal:7234\n  TEMPORAL_NAMESPACE', expect: /TEMPORAL_ADDRESS is temporal:7234/ },
  { what: 'database host typo', from: '@postgres:5432/sluice', to: '@postgress:5432/sluice', expect: /DATABASE_URL host is postgress/ },
  { what: 'S3 endpoint on the console port', from: 'S3_ENDPOINT: http://minio:9000', to: 'S3_ENDPOINT: http://minio:9001', expect: /S3_ENDPOINT port is 9001/ },
  { what: 'bad shutdown grace', from: 'SLUICE_SHUTDOWN_GRACE: 30s', to: 'SLUICE_SHUTDOWN_GRACE: 30 seconds', expect: /loadConfig rejects.*SLUICE_SHUTDOWN_GRACE/s },
  { what: 'stop grace shorter than shutdown grace', from: 'stop_grace_period: 45s', to: 'stop_grace_period: 20s', expect: /stop_grace_period 20s is not longer/ },
  { what: 'metrics port not published', from: ':-9464}:9464"', to: ':-9464}:9474"', expect: /metrics port 9464 .* not in its ports/ },
  { what: 'queue differs from the CLI default', from: '${SLUICE_GPU_QUEUE:-sluice-gpu}', to: '${SLUICE_GPU_QUEUE:-gpu}', expect: /gpu queue is gpu, but the CLI's default/ },
  { what: 'no GPU reservation', from: 'driver: nvidia', to: 'driver: amd', expect: /does not reserve an nvidia device/ },
  { what: 'missing search attribute', from: /^\s+add ModelName Keyword\n/m, to: '\n', expect: /does not create search attribute ModelName/ },
  { what: 'worker not waiting for the namespace', from: '    temporal-namespace:\n      condition: service_completed_successfully\n', to: '', expect: /does not depend_on temporal-namespace/ },
  { what: 'depends_on an unknown service', from: '    minio-bucket:\n      condition: service_completed_successfully\n', to: '    minio-buckets:\n      condition: service_completed_successfully\n', expect: /depends_on minio-buckets, which is not a service/ },
  { what: 'missing Dockerfile', from: 'dockerfile: infra/docker/Dockerfile.gpu', to: 'dockerfile: infra/docker/Dockerfile.cuda', expect: /Dockerfile\.cuda does not exist/ },
  { what: 'UI on another host port', from: '"8080:8080"', to: '"8081:8080"', expect: /does not publish 8080:8080/ },
  { what: 'visibility schema not migrated', from: /^.*--db temporal_visibility update-schema.*\n/m, to: '', expect: /update-schema .*visibility\/versioned on temporal_visibility/ },
  { what: 'S3 key not the MinIO user', from: 'S3_ACCESS_KEY: ${MINIO_ROOT_USER:-sluice}', to: 'S3_ACCESS_KEY: ${S3_ACCESS_KEY:-sluice-user}', expect: /S3_ACCESS_KEY differs from minio's MINIO_ROOT_USER/ },
  { what: 'unpinned image', from: 'image: temporalio/ui:2.34.0', to: 'image: temporalio/ui', expect: /image temporalio\/ui is not pinned/ },
];

for (const mut of mutations) {
  test(`reports a broken copy: ${mut.what}`, () => {
    const found = typeof mut.from === 'string' ? text.includes(mut.from) : mut.from.test(text);
    assert.ok(found, `mutation "${mut.what}" no longer applies to temporal-compose.yml: update the test`);
    const broken = text.replace(mut.from, mut.to);
    assert.notEqual(broken, text);
    const problems = checkCompose(load(broken));
    assert.ok(problems.some((p) => mut.expect.test(p)), `expected a problem matching ${mut.expect}, got:\n  ${problems.join('\n  ')}`);
  });
}
