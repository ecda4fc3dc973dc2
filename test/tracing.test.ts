import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { connectClient } from '../cli/client';
import { loadConfig } from '../infra/config';
import { projectRoot } from '../infra/paths';
import { readSpanLines, startTracing, WORKFLOW_TRACING_MODULE, type SpanLine, type Tracing } from '../infra/tracing';
import { startTestWorkers, tempDir, uniqueId, usePostgres, useTemporal, type TestWorkers } from './helpers/stack';

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => process.stderr.write(`${m}\n`) };

describe('OpenTelemetry traces through client, workflow and activities', () => {
  let temporal: Awaited<ReturnType<typeof useTemporal>>;
  let pgh: Awaited<ReturnType<typeof usePostgres>>;
  let workers: TestWorkers;
  let client: Client;
  let tracing: Tracing | undefined;
  let spansFile: string;

  before(async () => {
    const dir = tempDir('tracing');
    spansFile = path.join(dir, 'spans.jsonl');
    // The shared test bundle has no tracing interceptors (tracing off costs nothing): build one that has them.
    const bundlePath = path.join(dir, 'workflow-bundle-traced.js');
    const [t, p, bundle] = await Promise.all([
      useTemporal(),
      usePostgres(),
      bundleWorkflowCode({ workflowsPath: path.join(projectRoot, 'workflows', 'index.ts'), workflowInterceptorModules: [WORKFLOW_TRACING_MODULE], logger: quiet }),
    ]);
    [temporal, pgh] = [t, p];
    fs.writeFileSync(bundlePath, bundle.code);
    workers = await startTestWorkers({
      temporalAddress: temporal.address,
      databaseUrl: pgh.url,
      env: { SLUICE_TRACES: 'file', SLUICE_TRACES_FILE: spansFile, SLUICE_WORKFLOW_BUNDLE: bundlePath },
    });
    // The CLI's client (cli/client.ts), tracing to the same file as service sluice-cli.
    client = await connectClient(workers.config);
    tracing = await startTracing(workers.config, 'sluice-cli');
  });
  after(async () => {
    await workers?.stop();
    await client?.connection.close();
    await tracing?.shutdown();
    await pgh?.stop();
    await temporal?.stop();
  });

  test('SLUICE_TRACES=off (the default) installs nothing', async () => {
    assert.equal(loadConfig({}).traces.mode, 'off');
    assert.equal(await startTracing(loadConfig({}), 'sluice-cli'), undefined);
  });

  test('one run of hello is one trace: StartWorkflow → RunWorkflow → RunActivity on both workers', async () => {
    assert.ok(tracing, 'the client traces');
    const workflowId = uniqueId('hello-traced-');
    const handle = await client.workflow.start('hello', { taskQueue: workers.config.queues.workflow, workflowId, args: [{ name: 'Trace' }] });
    await handle.result();
    // Graceful stop: whatever a worker still buffers is flushed at shutdown.
    await workers.stop();
    await tracing.shutdown();

    const spans = readSpanLines(spansFile);
    const find = (name: string, service: string, pred: (s: SpanLine) => boolean = () => true) => {
      const found = spans.filter((s) => s.name === name && s.service === service && pred(s));
      assert.ok(found.length, `no ${name} span from ${service}; spans: ${spans.map((s) => `${s.service}/${s.name}`).join(', ')}`);
      return found;
    };
    const [start] = find('StartWorkflow:hello', 'sluice-cli', (s) => s.attributes.temporalWorkflowId === workflowId);
    const traceId = start!.traceId;
    const inTrace = (s: SpanLine) => s.traceId === traceId;
    const run = find('RunWorkflow:hello', 'sluice-cpu-worker', inTrace);
    assert.ok(run.some((s) => s.parentSpanId === start!.spanId), 'the workflow span is a child of the client span');
    const greet = find('RunActivity:hello.greet', 'sluice-cpu-worker', inTrace);
    const inspect = find('RunActivity:hello.inspect-device', 'sluice-gpu-worker', inTrace);
    for (const s of [...greet, ...inspect]) {
      assert.equal(s.status.code, 'ok', `${s.name}: ${JSON.stringify(s.status)}`);
      assert.equal(s.attributes.temporalWorkflowId, workflowId);
    }
    // Each activity span hangs off a StartActivity span made in the workflow.
    const startActivity = new Set(spans.filter((s) => inTrace(s) && s.name.startsWith('StartActivity:')).map((s) => s.spanId));
    for (const s of [...greet, ...inspect]) assert.ok(startActivity.has(s.parentSpanId ?? ''), `${s.name} has a StartActivity parent`);
    // Nothing of this run strays into another trace.
    const strays = spans.filter((s) => s.attributes.temporalWorkflowId === workflowId && !inTrace(s));
    assert.deepEqual(strays.map((s) => s.name), []);
  });
});

describe('SLUICE_TRACES=otlp', () => {
  test('the CLI sends its spans to OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP) before it exits', async () => {
    const bodies: { url: string; body: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        bodies.push({ url: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    // A process using the CLI's client: it starts a run (on a queue no worker serves) and ends.
    const temporal = await useTemporal();
    try {
      const script = [
        `import { connectClient } from ${JSON.stringify(path.join(projectRoot, 'cli', 'client.ts'))};`,
        `import { loadConfig } from ${JSON.stringify(path.join(projectRoot, 'infra', 'config.ts'))};`,
        `const client = await connectClient(loadConfig());`,
        `await client.workflow.start('hello', { taskQueue: 'nobody-${uniqueId()}', workflowId: 'otlp-${uniqueId()}', args: [{}] });`,
        `await client.connection.close();`,
      ].join('\n');
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
          cwd: projectRoot,
          env: { ...process.env, TEMPORAL_ADDRESS: temporal.address, SLUICE_TRACES: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` },
          stdio: ['ignore', 'inherit', 'inherit'],
        });
        child.on('exit', resolve);
      });
      assert.equal(code, 0);
      assert.ok(bodies.length, 'the collector got a request');
      assert.equal(bodies[0]!.url, '/v1/traces');
      const all = bodies.map((b) => b.body).join('\n');
      assert.match(all, /StartWorkflow:hello/);
      assert.match(all, /sluice-cli/);
    } finally {
      server.close();
      await temporal.stop();
    }
  });
});
