import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, type WorkerOptions } from '@temporalio/worker';
import type { SluiceConfig } from '../infra/config';
import { projectRoot } from '../infra/paths';

/**
 * Process-wide Temporal runtime: Prometheus metrics (Temporal's own worker metrics) on the given
 * port, and SIGINT/SIGTERM handled by draining workers within the configured grace time.
 * Must run before any connection is made.
 */
export function installRuntime(metricsPort: number, level: SluiceConfig['logLevel']): void {
  Runtime.install({
    logger: new DefaultLogger(level === 'debug' ? 'DEBUG' : level === 'info' ? 'INFO' : level === 'warn' ? 'WARN' : 'ERROR'),
    telemetryOptions: { metrics: { prometheus: { bindAddress: `0.0.0.0:${metricsPort}` } } },
    shutdownSignals: ['SIGINT', 'SIGTERM', 'SIGQUIT'],
  });
}

export function connect(config: SluiceConfig): Promise<NativeConnection> {
  return NativeConnection.connect({ address: config.temporal.address });
}

/**
 * Workflow code: a prebuilt bundle when SLUICE_WORKFLOW_BUNDLE points at one (tests and images
 * build it once), otherwise bundled from source at start.
 */
export function workflowSource(config: SluiceConfig): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const bundle = config.workflowBundle;
  if (bundle) return { workflowBundle: { codePath: bundle } };
  return { workflowsPath: path.join(projectRoot, 'workflows', 'index.ts') };
}
