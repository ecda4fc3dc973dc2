import client from 'prom-client';

/**
 * The serving process's Prometheus metrics (GET /metrics), in a registry of its own per server
 * (two servers in one process, as in tests, keep theirs apart). Per model, version and variant:
 * predictions requested, failed, and their latency (queueing, batching and inference included).
 * Requests refused before a model version was chosen (bad JSON, unknown model, no token, rate
 * limit) count in `sluice_serving_rejected_total` by reason only: the model name a client sends
 * is not a label until the model is known.
 */
export interface ServingMetrics {
  registry: client.Registry;
  requests: client.Counter<'model' | 'version' | 'variant'>;
  errors: client.Counter<'model' | 'version' | 'variant' | 'code'>;
  latency: client.Histogram<'model' | 'version' | 'variant'>;
  shadowErrors: client.Counter<'model' | 'version' | 'variant'>;
  rejected: client.Counter<'code'>;
  batchRows: client.Histogram;
  /** Keys per online feature look-up (one query each): how much the look-up micro-batching saves. */
  lookupKeys: client.Histogram;
  logDropped: client.Counter;
}

export function servingMetrics(): ServingMetrics {
  const registry = new client.Registry();
  const registers = [registry];
  const labels = ['model', 'version', 'variant'] as const;
  return {
    registry,
    requests: new client.Counter({ name: 'sluice_serving_requests_total', help: 'Prediction requests answered or failed, per model version and variant', labelNames: labels, registers }),
    errors: new client.Counter({ name: 'sluice_serving_errors_total', help: 'Prediction requests that failed after routing, by error code', labelNames: [...labels, 'code'], registers }),
    latency: new client.Histogram({
      name: 'sluice_serving_latency_seconds',
      help: 'Time from routing to the answer (batching and inference included)',
      labelNames: labels,
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    shadowErrors: new client.Counter({ name: 'sluice_serving_shadow_errors_total', help: 'Shadow predictions that failed (they answer nobody)', labelNames: labels, registers }),
    rejected: new client.Counter({ name: 'sluice_serving_rejected_total', help: 'Requests refused before a model version was chosen, by reason', labelNames: ['code'], registers }),
    batchRows: new client.Histogram({ name: 'sluice_serving_batch_rows', help: 'Rows per onnxruntime run (micro-batches)', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024], registers }),
    lookupKeys: new client.Histogram({ name: 'sluice_serving_lookup_keys', help: 'Entity keys per online feature look-up (one query for a micro-batch of requests)', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024], registers }),
    logDropped: new client.Counter({ name: 'sluice_serving_log_dropped_total', help: 'Prediction log rows dropped because the database could not take them in time', registers }),
  };
}
