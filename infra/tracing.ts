import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Tracer } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { BasicTracerProvider, ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { WorkerOptions } from '@temporalio/worker';
import { ConfigError, type SluiceConfig } from './config';
import type { Logger } from './log';
import { projectRoot } from './paths';

/**
 * OpenTelemetry tracing (SLUICE_TRACES): one tracer provider per process, named after the process
 * (service.name), exporting over OTLP/HTTP (`otlp`, to OTEL_EXPORTER_OTLP_ENDPOINT) or as one JSON
 * span per line appended to SLUICE_TRACES_FILE (`file`, local use and tests). Temporal's
 * interceptors carry the trace from the client that starts a run, through the workflow, into every
 * activity, so one run is one trace.
 *
 * With SLUICE_TRACES=off (the default) `startTracing` returns undefined and loads no OpenTelemetry
 * module at all: no interceptor, sink or provider is installed.
 *
 * Workflow spans are made inside the workflow sandbox by the interceptor module
 * `WORKFLOW_TRACING_MODULE`, which must be part of the workflow bundle: a worker that bundles at
 * start adds it itself; a prebuilt bundle (SLUICE_WORKFLOW_BUNDLE) must have been built with
 * `bundleWorkflowCode({ workflowInterceptorModules: [WORKFLOW_TRACING_MODULE] })`, otherwise the
 * worker bundles from source instead and says so.
 */

export type TraceService = 'sluice-cpu-worker' | 'sluice-gpu-worker' | 'sluice-cli';

export interface Tracing {
  service: TraceService;
  provider: BasicTracerProvider;
  resource: Resource;
  spanProcessor: SpanProcessor;
  tracer(name: string): Tracer;
  /** Client interceptors (StartWorkflow, SignalWorkflow, Query… spans, context sent in headers). */
  clientInterceptors(): WorkflowClientInterceptor[];
  /** Worker options plus activity interceptors, the workflow span sink and (for workflow workers) the workflow interceptor module. */
  workerOptions<T extends WorkerOptions>(options: T, log?: Logger): Promise<T>;
  /** Flushes what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

const require = createRequire(import.meta.url);

/** The workflow interceptor module of @temporalio/interceptors-opentelemetry, for bundleWorkflowCode. */
export const WORKFLOW_TRACING_MODULE = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/** A string only a bundle with the OpenTelemetry workflow interceptors contains (their tracer's name). */
const BUNDLE_MARKER = '@temporalio/interceptor-workflow';

let current: Promise<Tracing | undefined> | undefined;

/**
 * The process's tracing, started on first call (later calls get the same one, whatever service
 * they name). Undefined when SLUICE_TRACES=off.
 */
export function startTracing(config: SluiceConfig, service: TraceService): Promise<Tracing | undefined> {
  if (config.traces.mode === 'off') return Promise.resolve(undefined);
  current ??= build(config, service).catch((e) => {
    current = undefined;
    throw e;
  });
  return current;
}

async function build(config: SluiceConfig, service: TraceService): Promise<Tracing> {
  const [api, core, resources, base, semconv, hooks, temporalOtel] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/semantic-conventions'),
    import('@opentelemetry/context-async-hooks'),
    import('@temporalio/interceptors-opentelemetry'),
  ]);
  const resource = resources.Resource.default().merge(
    new resources.Resource({ [semconv.ATTR_SERVICE_NAME]: service, [semconv.ATTR_SERVICE_VERSION]: packageVersion() }),
  );

  let spanProcessor: SpanProcessor;
  if (config.traces.mode === 'file') {
    const file = config.traces.file;
    if (!file) throw new ConfigError('invalid Sluice configuration:\n  SLUICE_TRACES_FILE: expected an absolute file path because SLUICE_TRACES is file (not set)');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Written as each span ends: nothing is lost when a worker is killed.
    spanProcessor = new base.SimpleSpanProcessor(new JsonLinesSpanExporter(file, core.ExportResultCode.SUCCESS, core.ExportResultCode.FAILED));
  } else {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const endpoint = config.traces.otlpEndpoint;
    // OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base URL; traces go to <base>/v1/traces.
    const url = endpoint ? new URL('v1/traces', endpoint.endsWith('/') ? endpoint : `${endpoint}/`).toString() : undefined;
    spanProcessor = new base.BatchSpanProcessor(new OTLPTraceExporter(url ? { url } : {}));
  }

  const provider = new base.BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // Global: the client and activity interceptors read the active span (async context) and
  // inject/extract it through the global (W3C trace-context) propagator.
  provider.register({
    contextManager: new hooks.AsyncLocalStorageContextManager().enable(),
    propagator: new core.W3CTraceContextPropagator(),
  });
  const tracer = (name: string) => provider.getTracer(name);

  let stopped: Promise<void> | undefined;
  const shutdown = () => (stopped ??= provider.shutdown().finally(() => api.trace.disable()));
  // The CLI exits when its work is done: flush batched spans first.
  process.once('beforeExit', () => void shutdown());

  const clientInterceptors = () => [new temporalOtel.OpenTelemetryWorkflowClientInterceptor({ tracer: tracer('@temporalio/interceptor-client') })];
  const activityTracer = tracer('@temporalio/interceptor-activity');

  async function workerOptions<T extends WorkerOptions>(options: T, log?: Logger): Promise<T> {
    const given = options.interceptors ?? {};
    const clientWorkflow = given.client?.workflow;
    const interceptors: NonNullable<WorkerOptions['interceptors']> = {
      ...given,
      activity: [
        ...(given.activity ?? []),
        (ctx) => ({
          inbound: new temporalOtel.OpenTelemetryActivityInboundInterceptor(ctx, { tracer: activityTracer }),
          outbound: new temporalOtel.OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
      // The client activities get from their context: its calls join the activity's trace.
      client: { ...given.client, workflow: Array.isArray(clientWorkflow) || !clientWorkflow ? [...(clientWorkflow ?? []), ...clientInterceptors()] : clientWorkflow },
    };
    const out: T = {
      ...options,
      interceptors,
      // Workflow spans are made in the sandbox and leave it through this sink.
      sinks: { ...options.sinks, exporter: temporalOtel.makeWorkflowExporter(spanProcessor, resource) },
    };
    const bundle = options.workflowBundle;
    const bundlePath = bundle && 'codePath' in bundle ? bundle.codePath : undefined;
    if (bundlePath !== undefined && !(await fs.promises.readFile(bundlePath, 'utf8')).includes(BUNDLE_MARKER)) {
      log?.warn('the prebuilt workflow bundle has no tracing interceptors: bundling the workflows at start instead', {
        bundle: bundlePath,
        hint: 'build it with bundleWorkflowCode({ workflowInterceptorModules: [WORKFLOW_TRACING_MODULE] }) (infra/tracing.ts)',
      });
      delete out.workflowBundle;
      out.workflowsPath = path.join(projectRoot, 'workflows', 'index.ts');
    }
    if (out.workflowsPath) interceptors.workflowModules = [...(interceptors.workflowModules ?? []), WORKFLOW_TRACING_MODULE];
    return out;
  }

  return { service, provider, resource, spanProcessor, tracer, clientInterceptors, workerOptions, shutdown };
}

function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** One line per span, as written by the `file` exporter. */
export interface SpanLine {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  startTime: string;
  endTime: string;
  durationMs: number;
  status: { code: 'unset' | 'ok' | 'error'; message?: string };
  attributes: Record<string, unknown>;
  events: { name: string; time: string; attributes?: Record<string, unknown> }[];
}

const KINDS = ['internal', 'server', 'client', 'producer', 'consumer'] as const;
const STATUS = ['unset', 'ok', 'error'] as const;
const hrToMs = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
const hrToIso = (t: [number, number]) => new Date(hrToMs(t)).toISOString();

/**
 * Appends each exported span as one JSON object per line. Several processes may share the file:
 * each export is a single append of whole lines.
 */
export class JsonLinesSpanExporter implements SpanExporter {
  private stopped = false;
  constructor(
    readonly file: string,
    private readonly ok: ExportResult['code'],
    private readonly failed: ExportResult['code'],
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    if (this.stopped) return done({ code: this.failed, error: new Error('exporter is shut down') });
    try {
      fs.appendFileSync(this.file, spans.map((s) => JSON.stringify(toLine(s)) + '\n').join(''));
      done({ code: this.ok });
    } catch (e) {
      done({ code: this.failed, error: e as Error });
    }
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
  }

  async forceFlush(): Promise<void> {}
}

export function toLine(s: ReadableSpan): SpanLine {
  const ctx = s.spanContext();
  const line: SpanLine = {
    service: String(s.resource.attributes['service.name'] ?? 'unknown'),
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    name: s.name,
    kind: KINDS[s.kind] ?? 'internal',
    startTime: hrToIso(s.startTime),
    endTime: hrToIso(s.endTime),
    durationMs: Math.round((hrToMs(s.endTime) - hrToMs(s.startTime)) * 1000) / 1000,
    status: { code: STATUS[s.status.code] ?? 'unset', ...(s.status.message ? { message: s.status.message } : {}) },
    attributes: { ...s.attributes },
    events: s.events.map((e) => ({ name: e.name, time: hrToIso(e.time), ...(e.attributes ? { attributes: { ...e.attributes } } : {}) })),
  };
  if (s.parentSpanId) line.parentSpanId = s.parentSpanId;
  return line;
}

/** Reads a `file` exporter's output (tests, local inspection). */
export function readSpanLines(file: string): SpanLine[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as SpanLine);
}
