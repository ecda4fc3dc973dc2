/**
 * `npm test`: installs what is missing (setup), starts one Temporal dev server, PostgreSQL and
 * MinIO for the whole run, builds the workflow bundle once, type-checks (type-level tests are
 * part of the suite), then runs every test file with node's test runner, and cleans up.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { setup } from '../cli/commands/setup';
import { projectRoot } from '../infra/paths';
import { startEmbeddedPostgres } from '../infra/setup/postgres';
import { startMinio } from '../infra/setup/minio';
import { freePort } from '../infra/stack/process';
import { startTemporalDevServer } from '../infra/stack/temporal-server';
import { tempDir } from './helpers/stack';

const log = (m: string) => process.stderr.write(`[test] ${m}\n`);

function testFiles(filter: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.test.ts')) out.push(path.relative(projectRoot, p));
    }
  };
  walk(path.join(projectRoot, 'test'));
  const files = out.sort();
  return filter.length ? files.filter((f) => filter.some((x) => f.includes(x))) : files;
}

function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env, cwd: projectRoot });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<number> {
  const filter = process.argv.slice(2);
  const files = testFiles(filter);
  if (!files.length) throw new Error(`no test files match ${filter.join(' ')}`);

  await setup({ minio: true, postgres: true, chromium: true });
  const home = tempDir('test-run');
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    log(`starting Temporal, PostgreSQL and MinIO under ${home}`);
    const [temporal, pg, minio] = await Promise.all([
      freePort().then((port) =>
        startTemporalDevServer({ dbFile: path.join(home, 'temporal.db'), logFile: path.join(home, 'temporal.log'), port, headless: true }),
      ),
      startEmbeddedPostgres(home, { database: 'postgres' }),
      startMinio({ dataDir: path.join(home, 'minio'), logFile: path.join(home, 'minio.log') }),
    ]);
    cleanups.push(() => temporal.service.stop(), () => pg.stop(), () => minio.service.stop());

    const bundlePath = path.join(home, 'workflow-bundle.js');
    const { code } = await bundleWorkflowCode({ workflowsPath: path.join(projectRoot, 'workflows', 'index.ts'), logger: quietLogger });
    fs.writeFileSync(bundlePath, code);

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SLUICE_TEST_TEMPORAL_ADDRESS: temporal.address,
      SLUICE_TEST_DATABASE_URL: pg.url,
      SLUICE_TEST_S3_ENDPOINT: minio.endpoint,
      SLUICE_TEST_S3_ACCESS_KEY: minio.accessKey,
      SLUICE_TEST_S3_SECRET_KEY: minio.secretKey,
      SLUICE_WORKFLOW_BUNDLE: bundlePath,
    };

    let failed = 0;
    if (!filter.length) {
      log('type-checking (tsc), including type-level tests');
      if ((await exec(process.execPath, [path.join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], env)) !== 0) failed++;
    }
    log(`running ${files.length} test files`);
    // Two files at a time: each file has its own database, worker processes and task queues, and
    // most of a file's time is spent waiting on Temporal timers and worker start-up, not on a CPU;
    // node's default (available cores − 1) would run this 2-core machine's suite one file at a time.
    const concurrency = Math.max(2, os.availableParallelism() - 1);
    const code2 = await exec(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], env);
    if (code2 !== 0) failed++;
    return failed ? 1 : 0;
  } finally {
    for (const c of cleanups.reverse()) await c().catch((e) => log(`cleanup: ${(e as Error).message}`));
    fs.rmSync(home, { recursive: true, force: true });
  }
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => log(m),
  error: (m: string) => log(m),
};

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`test harness failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
