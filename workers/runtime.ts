import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, type LogEntry, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import type { SluiceConfig } from '../infra/config';
import type { Logger } from '../infra/log';
import { projectRoot } from '../infra/paths';
import { freePort } from '../infra/stack/process';
import { serveMetrics } from './metrics-server';

/**
 * Process-wide Temporal runtime: Prometheus metrics (Temporal's own worker metrics) on the given
 * port, and SIGINT/SIGTERM handled by draining workers within the configured grace time.
 * Must run before any connection is made.
 */
export async function installRuntime(metricsPort: number, level: SluiceConfig['logLevel'], log: Logger): Promise<void> {
  // Temporal's exporter listens on a private loopback port; the public port serves both sets.
  const temporalPort = await freePort();
  Runtime.install({
    logger: sdkLogger(level, log),
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${temporalPort}` } } },
    shutdownSignals: ['SIGINT', 'SIGTERM', 'SIGQUIT'],
  });
  const server = await serveMetrics(metricsPort, temporalPort);
  server.unref();
}

const SDK_LEVEL: Record<SluiceConfig['logLevel'], LogLevel> = { debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR' };

/**
 * The SDK's logger (its own warnings, Core's forwarded logs, workflow and activity loggers)
 * writing through our JSON logger: one JSON object per line on stderr, like every other line of
 * a worker's log, instead of the DefaultLogger's coloured plain text mixed in.
 */
export function sdkLogger(level: SluiceConfig['logLevel'], log: Logger): DefaultLogger {
  const sdk = log.child({ source: 'temporal-sdk' });
  return new DefaultLogger(SDK_LEVEL[level], (entry: LogEntry) => {
    const lvl = entry.level === 'TRACE' || entry.level === 'DEBUG' ? 'debug' : entry.level === 'INFO' ? 'info' : entry.level === 'WARN' ? 'warn' : 'error';
    sdk[lvl](entry.message, entry.meta);
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
