import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { configVariables, loadConfig, parseDuration } from '../infra/config';
import { projectRoot } from '../infra/paths';

/** infra/k8s holds the manifests for a cluster deployment; no cluster here, so check them for consistency. */
const dir = path.join(projectRoot, 'infra', 'k8s');
type Doc = { kind: string; metadata: { name: string }; data?: Record<string, string>; stringData?: Record<string, string>; spec?: any };
const docs: Doc[] = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJSON() as Doc));
const find = (kind: string, name: string) => {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(d, `${kind} ${name} exists`);
  return d;
};

test('config and secret set only known variables, and together form a valid configuration', () => {
  const config = find('ConfigMap', 'sluice-config').data!;
  const secret = find('Secret', 'sluice-secrets').stringData!;
  for (const k of [...Object.keys(config), ...Object.keys(secret)]) assert.ok((configVariables as string[]).includes(k), `${k} is a Sluice variable`);
  const c = loadConfig({ ...config, ...secret });
  assert.equal(c.artifacts.kind, 's3');
  assert.match(secret.DATABASE_URL!, /CHANGE_ME/, 'the committed secret holds placeholders only');
});

test('worker deployments run the worker entry points with the config, metrics port and grace time', () => {
  const config = find('ConfigMap', 'sluice-config').data!;
  const grace = parseDuration(config.SLUICE_SHUTDOWN_GRACE!) / 1000;
  for (const [name, kind] of [['sluice-worker-cpu', 'cpu'], ['sluice-worker-gpu', 'gpu']] as const) {
    const pod = find('Deployment', name).spec.template;
    const container = pod.spec.containers[0];
    assert.deepEqual(container.command.slice(-1), [`workers/${kind}.ts`]);
    assert.ok(fs.existsSync(path.join(projectRoot, 'workers', `${kind}.ts`)));
    const port = config[kind === 'cpu' ? 'SLUICE_CPU_METRICS_PORT' : 'SLUICE_GPU_METRICS_PORT'];
    assert.equal(String(container.ports[0].containerPort), port);
    assert.equal(pod.metadata.annotations['prometheus.io/port'], port);
    assert.ok(pod.spec.terminationGracePeriodSeconds > grace, `${name}: the pod outlives the shutdown grace`);
    assert.deepEqual(container.envFrom.map((e: Record<string, { name: string }>) => Object.values(e)[0]!.name).sort(), ['sluice-config', 'sluice-secrets']);
    assert.ok(container.resources.requests.cpu && container.resources.requests.memory, `${name} requests resources`);
  }
  const gpu = find('Deployment', 'sluice-worker-gpu').spec.template.spec;
  assert.equal(gpu.containers[0].resources.limits['nvidia.com/gpu'], 1);
  assert.ok(gpu.nodeSelector && Object.keys(gpu.nodeSelector).some((k) => k.startsWith('nvidia.com/')));
});

test('kustomization lists files that exist and leaves the secret out', () => {
  const k = parseAllDocuments(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'))[0]!.toJSON() as { resources: string[] };
  for (const r of k.resources) assert.ok(fs.existsSync(path.join(dir, r)), r);
  assert.ok(!k.resources.some((r) => r.includes('secret')));
});
