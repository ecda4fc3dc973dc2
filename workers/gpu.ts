import { Worker } from '@temporalio/worker';
import { loadConfig } from '../infra/config';
import { createLogger } from '../infra/log';
import { startTracing } from '../infra/tracing';
import { activitiesFor } from './activities';
import { openActivityDeps } from './deps';
import { detectGpus } from '../infra/gpu-devices';
import { assertCanRun, loadRegistry } from './registry';
import { connect, installRuntime } from './runtime';

/**
 * The GPU worker: GPU steps on queue `sluice-gpu` (train-model's trials), one at a time per GPU.
 * Without a usable GPU it still serves the queue on the CPU and says so, so the whole system runs
 * and is tested on machines without one.
 */

/**
 * Concurrent steps of a GPU worker that runs them on its CPU. Not one per core: the trainers are
 * synchronous JavaScript on this process's one thread, so trials only take turns between boosting
 * rounds; but a second one overlaps its reads, model writes and bookkeeping with the other's
 * rounds (train-model's 4 trials on penguins: 3.5-3.8 s at 1, 2.8 s at 2, 2.1-2.9 s at 4, on a
 * loaded 2-core machine), while each more holds another training set in memory.
 */
const CPU_FALLBACK_CONCURRENCY = 2;

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ worker: 'gpu' }, config.logLevel);
  const registry = await loadRegistry(config);
  assertCanRun(registry, 'gpu');
  const gpu = detectGpus();
  if (gpu.fallbackReason) log.warn('GPU steps will run on the CPU', { reason: gpu.fallbackReason });
  const concurrency = config.concurrency.gpu ?? (gpu.provider === 'cpu' ? CPU_FALLBACK_CONCURRENCY : gpu.count);
  await installRuntime(config.metricsPorts.gpu, config.logLevel, log);
  const deps = await openActivityDeps(config, log, 'sluice-gpu-worker', gpu);
  const connection = await connect(config);
  const tracing = await startTracing(config, 'sluice-gpu-worker'); // undefined when SLUICE_TRACES=off
  const options = {
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.queues.gpu,
    activities: activitiesFor(registry, 'gpu', deps),
    maxConcurrentActivityTaskExecutions: concurrency,
    shutdownGraceTime: config.shutdownGrace,
    ...(config.heartbeatThrottle ? { maxHeartbeatThrottleInterval: config.heartbeatThrottle, defaultHeartbeatThrottleInterval: config.heartbeatThrottle } : {}),
  };
  const worker = await Worker.create(tracing ? await tracing.workerOptions(options, log) : options);
  log.info('gpu worker ready', { queue: config.queues.gpu, concurrency, provider: gpu.provider, gpus: gpu.count, metrics: `:${config.metricsPorts.gpu}/metrics` });
  try {
    await worker.run();
  } finally {
    await connection.close();
    await deps.close();
    await tracing?.shutdown();
    log.info('gpu worker stopped');
  }
}

main().catch((e) => {
  process.stderr.write(`gpu worker failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
