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
 * The GPU worker: GPU steps on queue `sluice-gpu`, one at a time per GPU. Without a usable GPU
 * it still serves the queue on the CPU (concurrency 1) and says so, so the whole system runs
 * and is tested on machines without one.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ worker: 'gpu' }, config.logLevel);
  const registry = await loadRegistry(config);
  assertCanRun(registry, 'gpu');
  const gpu = detectGpus();
  if (gpu.fallbackReason) log.warn('GPU steps will run on the CPU', { reason: gpu.fallbackReason });
  const concurrency = config.concurrency.gpu ?? Math.max(1, gpu.count);
  await installRuntime(config.metricsPorts.gpu, config.logLevel);
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
