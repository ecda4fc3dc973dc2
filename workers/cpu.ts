import { Worker } from '@temporalio/worker';
import { loadConfig } from '../infra/config';
import { migrate } from '../infra/db/migrate';
import { createLogger } from '../infra/log';
import { startTracing } from '../infra/tracing';
import { activitiesFor } from './activities';
import { openActivityDeps } from './deps';
import { createEngineLocalActivities } from './engine-activities';
import { assertCanRun, loadRegistry } from './registry';
import { connect, installRuntime, workflowSource } from './runtime';

/**
 * The CPU worker: runs workflow code (queue `sluice`) and CPU steps (queue `sluice-cpu`).
 * Applies pending migrations first; concurrent starters serialise on an advisory lock.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ worker: 'cpu' }, config.logLevel);
  const registry = await loadRegistry(config);
  assertCanRun(registry, 'cpu');
  // Migrate before the metrics port opens: that port is what `sluice up` and the tests wait on,
  // so once it answers the schema is in place (the deps' Temporal client connects lazily, after
  // installRuntime).
  const deps = await openActivityDeps(config, log, 'sluice-cpu-worker', { count: 0, provider: 'cpu' });
  const { applied } = await migrate(deps.db);
  if (applied.length) log.info('applied migrations', { applied });
  await installRuntime(config.metricsPorts.cpu, config.logLevel, log);
  const connection = await connect(config);
  const tracing = await startTracing(config, 'sluice-cpu-worker'); // undefined when SLUICE_TRACES=off
  const common = { connection, namespace: config.temporal.namespace, shutdownGraceTime: config.shutdownGrace,
    ...(config.heartbeatThrottle ? { maxHeartbeatThrottleInterval: config.heartbeatThrottle, defaultHeartbeatThrottleInterval: config.heartbeatThrottle } : {}) };
  const cpuActivities = activitiesFor(registry, 'cpu', deps);
  const workflowOptions = {
    ...common,
    taskQueue: config.queues.workflow,
    ...workflowSource(config),
    // The CPU steps too: a step declared `local` runs here, as a local activity of the run's workflow task.
    activities: { ...cpuActivities, ...createEngineLocalActivities(config, registry) },
  };
  const activityOptions = {
    ...common,
    taskQueue: config.queues.cpu,
    activities: cpuActivities,
    maxConcurrentActivityTaskExecutions: config.concurrency.cpu,
  };
  const workflowWorker = await Worker.create(tracing ? await tracing.workerOptions(workflowOptions, log) : workflowOptions);
  const activityWorker = await Worker.create(tracing ? await tracing.workerOptions(activityOptions, log) : activityOptions);
  log.info('cpu worker ready', {
    queues: [config.queues.workflow, config.queues.cpu],
    pipelines: [...registry.pipelines.keys()],
    temporal: config.temporal.address,
    metrics: `:${config.metricsPorts.cpu}/metrics`,
  });
  try {
    await Promise.all([workflowWorker.run(), activityWorker.run()]);
  } finally {
    await connection.close();
    await deps.close();
    await tracing?.shutdown();
    log.info('cpu worker stopped');
  }
}

main().catch((e) => {
  process.stderr.write(`cpu worker failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
