import client from 'prom-client';

/**
 * Sluice's own Prometheus metrics, one registry per worker process. Served together with
 * Temporal's worker metrics on the worker's metrics port (workers/metrics-server.ts).
 */
export const metricsRegistry = new client.Registry();

export const stepDuration = new client.Histogram({
  name: 'sluice_step_duration_seconds',
  help: 'Duration of step executions, by step, queue and outcome (succeeded, failed, cached)',
  labelNames: ['step', 'queue', 'status'] as const,
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200],
  registers: [metricsRegistry],
});

export const rowsProcessed = new client.Counter({
  name: 'sluice_rows_processed_total',
  help: 'Rows processed by steps (ingested, validated, materialized, scored)',
  labelNames: ['step'] as const,
  registers: [metricsRegistry],
});

export const driftScore = new client.Gauge({
  name: 'sluice_drift_score',
  help: 'Latest drift statistic per model and column',
  labelNames: ['model', 'column', 'test'] as const,
  registers: [metricsRegistry],
});

export const datasetDriftShare = new client.Gauge({
  name: 'sluice_dataset_drift_share',
  help: 'Share of drifted columns in the latest batch, per model',
  labelNames: ['model'] as const,
  registers: [metricsRegistry],
});

export const modelsPromoted = new client.Counter({
  name: 'sluice_models_promoted_total',
  help: 'Alias moves to champion, per model',
  labelNames: ['model'] as const,
  registers: [metricsRegistry],
});
