import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { projectRoot } from '../infra/paths';
import { startTestWorkers } from '../test/helpers/stack';
import type { BenchContext } from './run';

/**
 * What the engine benchmarks compare start with: a Sluice CPU worker running the given bench
 * pipelines, and, built meanwhile, the bundle of the hand-written raw workflows (bench/raw-workflow.ts)
 * they are measured against. The worker is stopped and its home removed when the benchmark ends.
 */
export async function startCpuWorkerAndRawBundle(ctx: BenchContext, pipelinesFile: string, cpuConcurrency: number) {
  const [workers, rawBundle] = await Promise.all([
    startTestWorkers({
      temporalAddress: ctx.temporalAddress,
      databaseUrl: ctx.databaseUrl,
      kinds: ['cpu'],
      env: {
        SLUICE_EXTRA_PIPELINES: path.join(projectRoot, 'bench', pipelinesFile),
        SLUICE_WORKFLOW_BUNDLE: ctx.workflowBundle,
        SLUICE_CPU_CONCURRENCY: String(cpuConcurrency),
      },
    }),
    bundleWorkflowCode({ workflowsPath: path.join(projectRoot, 'bench', 'raw-workflow.ts'), logger: ctx.bundlerLogger }),
  ]);
  ctx.onCleanup(async () => {
    await workers.stop();
    fs.rmSync(workers.home, { recursive: true, force: true });
  });
  return { workers, rawBundle };
}
