import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, type WorkerOptions } from '@temporalio/worker';
import type { SluiceConfig } from '../infra/config';
import { projectRoot } from '../infra/paths';
import { freePort } from '../infra/stack/process';
import { serveMetrics } from './metrics-server';

/**
 * Process-wide Temporal runtime: Prometheus metrics (Temporal's own worker metrics) on the given
 * port, and SIGINT/SIGTERM handled by draining workers within the configured grace time.
 * Must run before any connection is made.
 */
export async function installRuntime(metricsPort: number, level: SluiceConfig['logLevel']): Promise<void> {
  // Temporal's exporter listens on a private loopback port; the public port serves both sets.
  const temporalPort = await freePort();
  Runtime.install({
    logger: new DefaultLogger(level === 'debug' ? 'DEBUG' : level === 'info' ? 'INFO' : level === 'warn' ? 'WARN' : 'ERROR'),
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${temporalPort}` } } },
    shutdownSignals: ['SIGINT', 'SIGTERM', 'SIGQUIT'],
  });
  const server = await serveMetrics(metricsPort, temporalPort);
  server.unref();
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
