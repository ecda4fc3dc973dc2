import fs from 'node:fs';
import path from 'node:path';
import { configVariables, envSchema, loadConfig, parseDuration, type SluiceConfig } from '../../infra/config';
import { projectRoot } from '../../infra/paths';
import { SEARCH_ATTRIBUTES } from '../../infra/stack/search-attributes';

/**
 * Consistency checks for temporal-compose.yml, run by test/compose.test.ts on the parsed file
 * (`parse(text, { merge: true })`, so anchors and `<<` merge keys are already resolved).
 * Returns the problems found, one line each; an empty list means the file is consistent with
 * infra/config.ts, with itself (service names, ports, credentials) and with the repository
 * (Dockerfiles, mounted files, worker scripts).
 *
 * Services are found by what they are (image, command), not by name, so renaming one is fine
 * as long as every reference follows.
 */
export interface ComposeCheckOptions {
  /** Directory the compose file lives in (relative paths resolve against it). Default: repo root. */
  root?: string;
  /** Variables for `${VAR:-default}` interpolation, as in a `.env` file. Default: none (defaults apply). */
  env?: Record<string, string | undefined>;
}

type Obj = Record<string, unknown>;
type Vars = Record<string, string | undefined>;

/** The variables every worker needs against this deployment (the rest have working defaults). */
export const REQUIRED_WORKER_VARIABLES = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'DATABASE_URL',
  'SLUICE_ARTIFACT_URL',
  'S3_ENDPOINT',
  'S3_ACCESS_KEY',
  'S3_SECRET_KEY',
  'SLUICE_WORKFLOW_QUEUE',
  'SLUICE_CPU_QUEUE',
  'SLUICE_GPU_QUEUE',
] as const;

const METRICS_VARIABLE = { cpu: 'SLUICE_CPU_METRICS_PORT', gpu: 'SLUICE_GPU_METRICS_PORT' } as const;
/** Prefixes of the names Sluice owns: any variable with one must be in configVariables. */
const SLUICE_PREFIXES = ['SLUICE_', 'TEMPORAL_', 'S3_', 'DATABASE_'];
const TEMPORAL_FRONTEND_PORT = 7233;
const POSTGRES_PORT = 5432;
const MINIO_API_PORT = 9000;
/** Compose's default stop_grace_period. */
const COMPOSE_DEFAULT_STOP_GRACE = '10s';

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR:+alt}, $$

/**
 * Resolves compose interpolation in `value` against `env`. Variables that are unset and have no
 * default resolve to '' and are recorded in `unresolved`.
 */
export function interpolate(value: string, env: Vars = {}, unresolved: string[] = []): string {
  let out = '';
  let i = 0;
  while (i < value.length) {
    const c = value[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = value[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      let depth = 1;
      let j = i + 2;
      while (j < value.length && depth > 0) {
        if (value[j] === '{') depth++;
        else if (value[j] === '}') depth--;
        j++;
      }
      if (depth > 0) {
        unresolved.push(`unterminated \${ in ${JSON.stringify(value)}`);
        out += value.slice(i);
        break;
      }
      out += resolveExpression(value.slice(i + 2, j - 1), env, unresolved);
      i = j;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(value.slice(i + 1))?.[0];
    if (name) {
      const v = env[name];
      if (v === undefined) unresolved.push(name);
      out += v ?? '';
      i += 1 + name.length;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

function resolveExpression(expr: string, env: Vars, unresolved: string[]): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(expr);
  if (!m) {
    unresolved.push(`bad interpolation \${${expr}}`);
    return '';
  }
  const name = m[1]!;
  const op = m[2];
  const arg = m[3] ?? '';
  const v = env[name];
  const setNonEmpty = v !== undefined && v !== '';
  switch (op) {
    case undefined:
      if (v === undefined) unresolved.push(name);
      return v ?? '';
    case ':-':
      return setNonEmpty ? v : interpolate(arg, env, unresolved);
    case '-':
      return v !== undefined ? v : interpolate(arg, env, unresolved);
    case ':?':
    case '?':
      if (op === ':?' ? setNonEmpty : v !== undefined) return v!;
      unresolved.push(`${name} (required${arg ? `: ${arg}` : ''})`);
      return '';
    case ':+':
      return setNonEmpty ? interpolate(arg, env, unresolved) : '';
    case '+':
      return v !== undefined ? interpolate(arg, env, unresolved) : '';
    default:
      return '';
  }
}

// ---------------------------------------------------------------------------------------------
// Reading services

/** A service's `environment` (map or list form) as raw, uninterpolated strings. */
export function rawEnvironment(svc: Obj): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  const e = svc.environment;
  if (Array.isArray(e)) {
    for (const item of e) {
      const s = str(item);
      if (s === undefined) continue;
      const eq = s.indexOf('=');
      if (eq === -1) env.set(s, undefined);
      else env.set(s.slice(0, eq), s.slice(eq + 1));
    }
  } else if (isObj(e)) {
    for (const [k, v] of Object.entries(e)) env.set(k, v === null ? undefined : str(v));
  }
  return env;
}

interface Port {
  hostIp?: string;
  published?: string;
  target: number;
}

function expandRange(spec: string): number[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(spec.trim());
  if (!m) return [];
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  const out: number[] = [];
  for (let p = a; p <= b && out.length < 1000; p++) out.push(p);
  return out;
}

function parsePorts(svc: Obj, vars: Vars, problems: string[], name: string): Port[] {
  const ports: Port[] = [];
  const list = Array.isArray(svc.ports) ? svc.ports : [];
  for (const entry of list) {
    if (isObj(entry)) {
      const target = Number(str(entry.target));
      if (!Number.isInteger(target)) {
        problems.push(`${name}: port entry without a numeric target: ${JSON.stringify(entry)}`);
        continue;
      }
      ports.push({
        target,
        ...(entry.published !== undefined ? { published: interpolate(str(entry.published) ?? '', vars) } : {}),
        ...(typeof entry.host_ip === 'string' ? { hostIp: entry.host_ip } : {}),
      });
      continue;
    }
    const raw = str(entry);
    if (raw === undefined) continue;
    const spec = interpolate(raw, vars).replace(/\/(tcp|udp|sctp)$/, '');
    const parts = spec.split(':');
    const targetSpec = parts.pop() ?? '';
    const published = parts.pop();
    const hostIp = parts.length ? parts.join(':') : undefined;
    const targets = expandRange(targetSpec);
    if (!targets.length) {
      problems.push(`${name}: cannot read port ${JSON.stringify(raw)}`);
      continue;
    }
    const publishedList = published !== undefined ? expandRange(published) : [];
    targets.forEach((target, k) => {
      const pub = publishedList[k] ?? (published !== undefined && publishedList.length === 0 ? published : undefined);
      ports.push({ target, ...(pub !== undefined ? { published: String(pub) } : {}), ...(hostIp ? { hostIp } : {}) });
    });
  }
  return ports;
}

function exposedPorts(svc: Obj, vars: Vars): number[] {
  const list = Array.isArray(svc.expose) ? svc.expose : [];
  return list.flatMap((e) => expandRange(interpolate(str(e) ?? '', vars).replace(/\/(tcp|udp|sctp)$/, '')));
}

/** depends_on in either form, as service → condition. */
function dependsOn(svc: Obj): Map<string, string> {
  const deps = new Map<string, string>();
  const d = svc.depends_on;
  if (Array.isArray(d)) for (const n of d) deps.set(String(n), 'service_started');
  else if (isObj(d)) {
    for (const [n, v] of Object.entries(d)) deps.set(n, (isObj(v) && typeof v.condition === 'string' ? v.condition : 'service_started'));
  }
  return deps;
}

/** entrypoint + command as one string, for looking at what a one-shot job runs. */
function scriptText(svc: Obj): string {
  const part = (v: unknown) => (Array.isArray(v) ? v.map((x) => str(x) ?? '').join(' ') : (str(v) ?? ''));
  return `${part(svc.entrypoint)} ${part(svc.command)}`;
}

function imageRepo(image: string): string {
  // docker.io/library/postgres:16 → postgres; quay.io/minio/minio:RELEASE... → minio/minio
  const noDigest = image.split('@')[0]!;
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.indexOf(':', lastSlash + 1);
  let repo = colon === -1 ? noDigest : noDigest.slice(0, colon);
  const first = repo.split('/')[0]!;
  if (repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) repo = repo.slice(first.length + 1);
  return repo.replace(/^library\//, '');
}

function imageTag(image: string): string | undefined {
  if (image.includes('@sha256:')) return image.split('@')[1];
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  return colon === -1 ? undefined : image.slice(colon + 1);
}

/** Compose durations: 45s, 1m30s, 1h, 500ms, 2m. */
export function composeDurationMs(d: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)/g;
  let total = 0;
  let consumed = '';
  for (const m of d.matchAll(re)) {
    const n = Number(m[1]);
    total += n * { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, ns: 0.000001 }[m[2] as 'h' | 'm' | 's' | 'ms' | 'us' | 'ns'];
    consumed += m[0];
  }
  return consumed === d && d.length > 0 ? total : undefined;
}

/** Bind-mount host paths in `volumes` (short and long syntax). Named volumes are skipped. */
function bindMounts(svc: Obj): { source: string; target: string }[] {
  const out: { source: string; target: string }[] = [];
  for (const v of Array.isArray(svc.volumes) ? svc.volumes : []) {
    if (typeof v === 'string') {
      const [source, target] = v.split(':');
      if (source && target && /^[./~]/.test(source)) out.push({ source, target });
    } else if (isObj(v) && v.type === 'bind' && typeof v.source === 'string' && typeof v.target === 'string') {
      out.push({ source: v.source, target: v.target });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

/** What checkCompose found out about the file; exported for tests that want to look closer. */
export interface ComposeModel {
  services: Record<string, Obj>;
  postgres?: string;
  temporal?: string;
  ui?: string;
  minio?: string;
  schemaJobs: string[];
  namespaceJobs: string[];
  bucketJobs: string[];
  workers: { cpu?: string; gpu?: string };
}

export function findServices(doc: unknown): ComposeModel {
  const services: Record<string, Obj> = {};
  if (isObj(doc) && isObj(doc.services)) {
    for (const [n, s] of Object.entries(doc.services)) if (isObj(s)) services[n] = s;
  }
  const names = Object.keys(services);
  const repo = (n: string) => (typeof services[n]!.image === 'string' ? imageRepo(services[n]!.image as string) : '');
  const first = (pred: (n: string) => boolean) => names.find(pred);
  const adminTools = names.filter((n) => repo(n) === 'temporalio/admin-tools');
  return {
    services,
    postgres: first((n) => repo(n) === 'postgres'),
    temporal: first((n) => repo(n) === 'temporalio/server' || repo(n) === 'temporalio/auto-setup'),
    ui: first((n) => repo(n) === 'temporalio/ui'),
    minio: first((n) => repo(n) === 'minio/minio'),
    schemaJobs: adminTools.filter((n) => scriptText(services[n]!).includes('temporal-sql-tool')),
    namespaceJobs: adminTools.filter((n) => /temporal\s+operator\s+namespace\s+create/.test(scriptText(services[n]!))),
    bucketJobs: names.filter((n) => repo(n) === 'minio/mc' && /\bmc\s+mb\b/.test(scriptText(services[n]!))),
    workers: {
      cpu: first((n) => /(^|[\s/])workers\/cpu\.ts\b/.test(scriptText(services[n]!))),
      gpu: first((n) => /(^|[\s/])workers\/gpu\.ts\b/.test(scriptText(services[n]!))),
    },
  };
}

export function checkCompose(doc: unknown, opts: ComposeCheckOptions = {}): string[] {
  const root = opts.root ?? projectRoot;
  const vars: Vars = opts.env ?? {};
  const problems: string[] = [];
  const m = findServices(doc);
  const { services } = m;
  const names = Object.keys(services);
  if (!names.length) return ['no services'];

  const resolvedEnv = (name: string): Record<string, string> => {
    const out: Record<string, string> = {};
    const unresolved: string[] = [];
    for (const [k, v] of rawEnvironment(services[name]!)) {
      if (v === undefined) {
        // `- NAME` / `NAME:` passes the host's value through; treat as unset.
        unresolved.push(k);
        continue;
      }
      out[k] = interpolate(v, vars, unresolved);
    }
    for (const u of unresolved) problems.push(`${name}: environment uses ${u} without a default`);
    return out;
  };
  const envCache = new Map<string, Record<string, string>>();
  const envOf = (name: string) => {
    if (!envCache.has(name)) envCache.set(name, resolvedEnv(name));
    return envCache.get(name)!;
  };
  const containerPorts = (name: string) => [
    ...parsePorts(services[name]!, vars, problems, name).map((p) => p.target),
    ...exposedPorts(services[name]!, vars),
  ];

  for (const [role, found] of [
    ['PostgreSQL (postgres image)', m.postgres],
    ['Temporal server (temporalio/server)', m.temporal],
    ['Temporal UI (temporalio/ui)', m.ui],
    ['MinIO (minio/minio)', m.minio],
    ['CPU worker (command running workers/cpu.ts)', m.workers.cpu],
    ['GPU worker (command running workers/gpu.ts)', m.workers.gpu],
  ] as const) {
    if (!found) problems.push(`missing service: ${role}`);
  }
  if (!m.schemaJobs.length) problems.push('missing service: Temporal schema job (temporalio/admin-tools running temporal-sql-tool)');
  if (!m.namespaceJobs.length) problems.push('missing service: namespace job (temporalio/admin-tools running temporal operator namespace create)');
  if (!m.bucketJobs.length) problems.push('missing service: bucket job (minio/mc running mc mb)');
  const oneShot = new Set([...m.schemaJobs, ...m.namespaceJobs, ...m.bucketJobs]);

  // --- every service: references, images, files -------------------------------------------
  for (const name of names) {
    const svc = services[name]!;
    for (const [dep, condition] of dependsOn(svc)) {
      if (!services[dep]) {
        problems.push(`${name}: depends_on ${dep}, which is not a service`);
        continue;
      }
      if (!['service_started', 'service_healthy', 'service_completed_successfully'].includes(condition)) {
        problems.push(`${name}: depends_on ${dep} with unknown condition ${condition}`);
      }
      const hc = services[dep]!.healthcheck;
      if (condition === 'service_healthy' && !(isObj(hc) && hc.test !== undefined && hc.disable !== true)) {
        problems.push(`${name}: waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
      }
      if (condition === 'service_completed_successfully' && !oneShot.has(dep)) {
        problems.push(`${name}: waits for ${dep} to complete, but ${dep} is not a one-shot job`);
      }
    }
    if (svc.build !== undefined) {
      const build = isObj(svc.build) ? svc.build : { context: svc.build };
      const context = path.resolve(root, str(build.context) ?? '.');
      const dockerfile = path.resolve(context, str(build.dockerfile) ?? 'Dockerfile');
      if (!fs.existsSync(context)) problems.push(`${name}: build context ${str(build.context)} does not exist`);
      if (!fs.existsSync(dockerfile)) problems.push(`${name}: build.dockerfile ${path.relative(root, dockerfile)} does not exist`);
      else if (/^\s*ENTRYPOINT\b/im.test(fs.readFileSync(dockerfile, 'utf8')) && svc.command !== undefined && svc.entrypoint === undefined) {
        problems.push(`${name}: ${path.relative(root, dockerfile)} has an ENTRYPOINT, so this service's command would become its arguments; set entrypoint`);
      }
    } else if (typeof svc.image !== 'string') {
      problems.push(`${name}: neither image nor build`);
    } else {
      const tag = imageTag(svc.image);
      if (!tag || tag === 'latest') problems.push(`${name}: image ${svc.image} is not pinned to a tag`);
    }
    for (const { source, target } of bindMounts(svc)) {
      const host = interpolate(source, vars);
      if (!host.startsWith('~') && !fs.existsSync(path.resolve(root, host))) {
        problems.push(`${name}: mounts ${source} (→ ${target}), which does not exist`);
      }
    }
    if (oneShot.has(name) && ['always', 'unless-stopped'].includes(str(svc.restart) ?? '')) {
      problems.push(`${name}: one-shot job with restart: ${str(svc.restart)} would run forever`);
    }
  }

  // --- PostgreSQL ---------------------------------------------------------------------------
  const pg = m.postgres ? envOf(m.postgres) : {};
  const pgUser = pg.POSTGRES_USER || 'postgres';
  const pgPassword = pg.POSTGRES_PASSWORD;
  const pgPort = Number(pg.PGPORT || POSTGRES_PORT);
  if (m.postgres) {
    if (!pgPassword && pg.POSTGRES_HOST_AUTH_METHOD !== 'trust') problems.push(`${m.postgres}: POSTGRES_PASSWORD is not set`);
    const hc = services[m.postgres]!.healthcheck;
    if (!isObj(hc)) problems.push(`${m.postgres}: no healthcheck`);
  }
  const initScripts = m.postgres
    ? bindMounts(services[m.postgres]!)
        .filter((b) => b.target.startsWith('/docker-entrypoint-initdb.d'))
        .map((b) => path.resolve(root, interpolate(b.source, vars)))
        .filter((p) => fs.existsSync(p) && fs.statSync(p).isFile())
        .map((p) => fs.readFileSync(p, 'utf8'))
        .join('\n')
    : '';

  // --- Temporal server, schema and namespace jobs --------------------------------------------
  const temporalEnv = m.temporal ? envOf(m.temporal) : {};
  const frontendPort = Number(temporalEnv.FRONTEND_GRPC_PORT || TEMPORAL_FRONTEND_PORT);
  const temporalAddress = m.temporal ? `${m.temporal}:${frontendPort}` : undefined;
  const mainDb = temporalEnv.DBNAME || 'temporal';
  const visibilityDb = temporalEnv.VISIBILITY_DBNAME || 'temporal_visibility';
  if (m.temporal) {
    const t = m.temporal;
    const expect = (k: string, want: string | undefined, why: string) => {
      if (want !== undefined && temporalEnv[k] !== want) problems.push(`${t}: ${k} is ${JSON.stringify(temporalEnv[k])}, expected ${JSON.stringify(want)} (${why})`);
    };
    expect('DB', 'postgres12', 'the PostgreSQL 12+ plugin');
    expect('POSTGRES_SEEDS', m.postgres, 'the postgres service');
    expect('DB_PORT', String(pgPort), 'the postgres container port');
    expect('POSTGRES_USER', m.postgres ? pgUser : undefined, 'the postgres service user');
    expect('POSTGRES_PWD', m.postgres ? pgPassword : undefined, "the postgres service's POSTGRES_PASSWORD");
    expect('BIND_ON_IP', '0.0.0.0', 'reachable from other containers');
    const dyn = temporalEnv.DYNAMIC_CONFIG_FILE_PATH;
    if (dyn) {
      const inContainer = path.posix.resolve('/etc/temporal', dyn);
      const mounted = bindMounts(services[t]!).some((b) => inContainer === b.target || inContainer.startsWith(`${b.target.replace(/\/$/, '')}/`));
      if (!mounted) problems.push(`${t}: DYNAMIC_CONFIG_FILE_PATH ${dyn} is not under any mounted file or directory`);
    }
    const deps = dependsOn(services[t]!);
    if (m.postgres && !deps.has(m.postgres)) problems.push(`${t}: does not depend_on ${m.postgres}`);
    for (const j of m.schemaJobs) {
      if (deps.get(j) !== 'service_completed_successfully') problems.push(`${t}: must depend_on ${j} with condition service_completed_successfully`);
    }
    if (!containerPorts(t).includes(frontendPort)) problems.push(`${t}: does not publish or expose the frontend port ${frontendPort}`);
  }
  for (const j of m.schemaJobs) {
    const text = scriptText(services[j]!);
    const env = envOf(j);
    if (!/postgres12/.test(text) && env.SQL_PLUGIN !== 'postgres12') problems.push(`${j}: temporal-sql-tool is not run with --plugin postgres12`);
    for (const [db, dir] of [[mainDb, 'temporal'], [visibilityDb, 'visibility']] as const) {
      const q = `"?${db}"?`;
      if (!new RegExp(`--db\\s+${q}\\s+(create-database|create)\\b`).test(text)) problems.push(`${j}: does not create database ${db}`);
      if (!new RegExp(`--db\\s+${q}\\s+(setup-schema|setup)\\s+-v\\s+0\\.0\\b`).test(text)) problems.push(`${j}: does not run setup-schema -v 0.0 on ${db}`);
      if (!new RegExp(`--db\\s+${q}\\s+(update-schema|update)\\s+-d\\s+\\S*postgresql/v12/${dir}/versioned`).test(text)) {
        problems.push(`${j}: does not run update-schema -d …/postgresql/v12/${dir}/versioned on ${db}`);
      }
    }
    if (env.POSTGRES_SEEDS !== undefined && env.POSTGRES_SEEDS !== m.postgres) problems.push(`${j}: POSTGRES_SEEDS is ${env.POSTGRES_SEEDS}, not the postgres service`);
    if (env.POSTGRES_USER !== undefined && env.POSTGRES_USER !== pgUser) problems.push(`${j}: POSTGRES_USER differs from the postgres service's`);
    if (env.POSTGRES_PWD !== undefined && env.POSTGRES_PWD !== pgPassword) problems.push(`${j}: POSTGRES_PWD differs from the postgres service's POSTGRES_PASSWORD`);
    if (m.postgres && dependsOn(services[j]!).get(m.postgres) !== 'service_healthy') problems.push(`${j}: must depend_on ${m.postgres} with condition service_healthy`);
  }
  for (const j of m.namespaceJobs) {
    const text = scriptText(services[j]!);
    const env = envOf(j);
    if (temporalAddress && env.TEMPORAL_ADDRESS !== temporalAddress) problems.push(`${j}: TEMPORAL_ADDRESS is ${JSON.stringify(env.TEMPORAL_ADDRESS)}, expected ${temporalAddress}`);
    for (const [sa, type] of Object.entries(SEARCH_ATTRIBUTES)) {
      const created =
        new RegExp(`--name\\s+"?${sa}"?\\s+--type\\s+"?${type}"?(\\s|$)`).test(text) || new RegExp(`(^|\\s)add\\s+${sa}\\s+${type}(\\s|$)`, 'm').test(text);
      if (!created) problems.push(`${j}: does not create search attribute ${sa} (${type})`);
    }
    if (m.temporal && !dependsOn(services[j]!).has(m.temporal)) problems.push(`${j}: does not depend_on ${m.temporal}`);
  }

  // --- UI -----------------------------------------------------------------------------------
  if (m.ui) {
    const ports = parsePorts(services[m.ui]!, vars, problems, m.ui);
    if (!ports.some((p) => p.published === '8080' && p.target === 8080)) problems.push(`${m.ui}: does not publish 8080:8080`);
    if (temporalAddress && envOf(m.ui).TEMPORAL_ADDRESS !== temporalAddress) problems.push(`${m.ui}: TEMPORAL_ADDRESS is not ${temporalAddress}`);
  }

  // --- MinIO --------------------------------------------------------------------------------
  let minioApiPort = MINIO_API_PORT;
  let minioConsolePort: number | undefined;
  if (m.minio) {
    const svc = services[m.minio]!;
    const cmd = scriptText(svc);
    const api = /--address[=\s]+"?[^\s":]*:(\d+)/.exec(cmd);
    const consolePort = /--console-address[=\s]+"?[^\s":]*:(\d+)/.exec(cmd);
    if (api) minioApiPort = Number(api[1]);
    if (consolePort) minioConsolePort = Number(consolePort[1]);
    const published = parsePorts(svc, vars, problems, m.minio);
    for (const p of [minioApiPort, minioConsolePort]) {
      if (p !== undefined && !published.some((x) => x.target === p && x.published !== undefined)) problems.push(`${m.minio}: does not publish port ${p}`);
    }
    if (!isObj(svc.healthcheck)) problems.push(`${m.minio}: no healthcheck`);
  }
  const minioEnv = m.minio ? envOf(m.minio) : {};
  for (const j of m.bucketJobs) {
    if (m.minio && dependsOn(services[j]!).get(m.minio) !== 'service_healthy') problems.push(`${j}: must depend_on ${m.minio} with condition service_healthy`);
  }

  // --- Sluice images (workers, CLI): only Sluice's own names, spelled right ------------------
  for (const name of names) {
    if (services[name]!.build === undefined || name === m.workers.cpu || name === m.workers.gpu) continue;
    for (const k of rawEnvironment(services[name]!).keys()) {
      if (SLUICE_PREFIXES.some((p) => k.startsWith(p)) && !(configVariables as string[]).includes(k)) {
        problems.push(`${name}: sets ${k}, which is not a Sluice setting (configVariables in infra/config.ts)`);
      }
    }
  }

  // --- Workers ------------------------------------------------------------------------------
  const defaults = envSchema.parse({});
  const configs: Partial<Record<'cpu' | 'gpu', { name: string; env: Record<string, string>; config: SluiceConfig }>> = {};
  for (const kind of ['cpu', 'gpu'] as const) {
    const name = m.workers[kind];
    if (!name) continue;
    const svc = services[name]!;
    const raw = rawEnvironment(svc);
    for (const k of raw.keys()) {
      if (SLUICE_PREFIXES.some((p) => k.startsWith(p)) && !(configVariables as string[]).includes(k)) {
        problems.push(`${name}: sets ${k}, which is not a Sluice setting (configVariables in infra/config.ts)`);
      }
    }
    const env = envOf(name);
    for (const k of [...REQUIRED_WORKER_VARIABLES, METRICS_VARIABLE[kind]]) {
      if (!env[k]) problems.push(`${name}: ${k} is not set`);
    }
    let config: SluiceConfig;
    try {
      // Only Sluice's own variables: loadConfig must see exactly what the container gets.
      config = loadConfig({ ...env });
    } catch (e) {
      problems.push(`${name}: loadConfig rejects the environment: ${(e as Error).message}`);
      continue;
    }
    configs[kind] = { name, env, config };

    const t = config.temporal.address;
    if (temporalAddress && t !== temporalAddress) problems.push(`${name}: TEMPORAL_ADDRESS is ${t}, expected ${temporalAddress} (the temporal service and its frontend port)`);

    if (!config.databaseUrl) problems.push(`${name}: DATABASE_URL is not set`);
    else {
      const u = new URL(config.databaseUrl);
      if (m.postgres && u.hostname !== m.postgres) problems.push(`${name}: DATABASE_URL host is ${u.hostname}, not the postgres service ${m.postgres}`);
      if (Number(u.port || POSTGRES_PORT) !== pgPort) problems.push(`${name}: DATABASE_URL port is ${u.port || POSTGRES_PORT}, postgres listens on ${pgPort}`);
      const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
      const user = decodeURIComponent(u.username);
      const password = decodeURIComponent(u.password);
      if (!db) problems.push(`${name}: DATABASE_URL names no database`);
      if (m.postgres) {
        if (user === pgUser) {
          if (password !== pgPassword) problems.push(`${name}: DATABASE_URL password differs from the postgres service's POSTGRES_PASSWORD`);
        } else {
          if (!new RegExp(`CREATE\\s+(ROLE|USER)\\s+"?${user}"?\\b`, 'i').test(initScripts)) problems.push(`${name}: DATABASE_URL user ${user} is not created by the postgres init scripts`);
          const fromEnv = /\\getenv\s+\w+\s+(\w+)/.exec(initScripts)?.[1];
          if (fromEnv && envOf(m.postgres)[fromEnv] !== password) problems.push(`${name}: DATABASE_URL password differs from the postgres service's ${fromEnv}`);
        }
        if (db && db !== 'postgres' && db !== pgUser && db !== pg.POSTGRES_DB && !new RegExp(`CREATE\\s+DATABASE\\s+"?${db}"?\\b`, 'i').test(initScripts)) {
          problems.push(`${name}: DATABASE_URL database ${db} is not created by the postgres service (POSTGRES_DB or an init script)`);
        }
        if ([mainDb, visibilityDb].includes(db)) problems.push(`${name}: DATABASE_URL uses Temporal's database ${db}`);
      }
    }

    if (config.artifacts.kind !== 's3') problems.push(`${name}: SLUICE_ARTIFACT_URL is not an s3:// URL, so artifacts would stay inside the container`);
    else {
      const a = config.artifacts;
      const ep = new URL(a.endpoint);
      const epPort = Number(ep.port || (ep.protocol === 'https:' ? 443 : 80));
      if (m.minio) {
        if (ep.hostname !== m.minio) problems.push(`${name}: S3_ENDPOINT host is ${ep.hostname}, not the minio service ${m.minio}`);
        if (epPort !== minioApiPort) problems.push(`${name}: S3_ENDPOINT port is ${epPort}, MinIO's API listens on ${minioApiPort}`);
        if (minioConsolePort !== undefined && epPort === minioConsolePort) problems.push(`${name}: S3_ENDPOINT points at the MinIO console port`);
        if (a.accessKey !== minioEnv.MINIO_ROOT_USER) problems.push(`${name}: S3_ACCESS_KEY differs from minio's MINIO_ROOT_USER`);
        if (a.secretKey !== minioEnv.MINIO_ROOT_PASSWORD) problems.push(`${name}: S3_SECRET_KEY differs from minio's MINIO_ROOT_PASSWORD`);
      }
      const bucketMade = m.bucketJobs.some((j) => new RegExp(`\\bmc\\s+mb\\b[^\\n]*/${a.bucket.replace(/\./g, '\\.')}(\\s|$|/|")`).test(scriptText(services[j]!)));
      if (m.bucketJobs.length && !bucketMade) problems.push(`${name}: no bucket job creates the artifact bucket ${a.bucket}`);
    }

    for (const q of ['workflow', 'cpu', 'gpu'] as const) {
      const want = { workflow: defaults.SLUICE_WORKFLOW_QUEUE, cpu: defaults.SLUICE_CPU_QUEUE, gpu: defaults.SLUICE_GPU_QUEUE }[q];
      if (config.queues[q] !== want) problems.push(`${name}: ${q} queue is ${config.queues[q]}, but the CLI's default (envSchema) is ${want}`);
    }

    const metricsPort = config.metricsPorts[kind];
    if (!containerPorts(name).includes(metricsPort)) problems.push(`${name}: metrics port ${metricsPort} (${METRICS_VARIABLE[kind]}) is not in its ports or expose`);

    const grace = str(svc.stop_grace_period) ?? COMPOSE_DEFAULT_STOP_GRACE;
    const graceMs = composeDurationMs(grace);
    if (graceMs === undefined) problems.push(`${name}: cannot read stop_grace_period ${grace}`);
    else if (graceMs <= parseDuration(config.shutdownGrace)) {
      problems.push(`${name}: stop_grace_period ${grace} is not longer than SLUICE_SHUTDOWN_GRACE ${config.shutdownGrace}`);
    }

    const deps = dependsOn(svc);
    const need: [string | undefined, string | undefined][] = [
      [m.temporal, undefined],
      [m.postgres, 'service_healthy'],
      [m.minio, 'service_healthy'],
      ...[...m.schemaJobs, ...m.namespaceJobs, ...m.bucketJobs].map((j): [string, string] => [j, 'service_completed_successfully']),
    ];
    for (const [dep, condition] of need) {
      if (!dep) continue;
      if (!deps.has(dep)) problems.push(`${name}: does not depend_on ${dep}`);
      else if (condition && deps.get(dep) !== condition) problems.push(`${name}: depends_on ${dep} with ${deps.get(dep)}, expected ${condition}`);
    }

    for (const script of scriptText(svc).match(/\b[\w./-]+\.(ts|mjs|js)\b/g) ?? []) {
      if (!fs.existsSync(path.resolve(root, script))) problems.push(`${name}: runs ${script}, which does not exist`);
    }
  }

  const cpu = configs.cpu;
  const gpu = configs.gpu;
  if (cpu && gpu) {
    const shared = (c: SluiceConfig) => ({
      temporal: c.temporal,
      databaseUrl: c.databaseUrl,
      artifacts: c.artifacts,
      queues: c.queues,
    });
    const a = JSON.stringify(shared(cpu.config));
    const b = JSON.stringify(shared(gpu.config));
    if (a !== b) problems.push(`${cpu.name} and ${gpu.name} disagree on Temporal, database, artifact store or queues`);
  }
  for (const kind of ['cpu', 'gpu'] as const) {
    const c = configs[kind];
    if (!c) continue;
    for (const j of m.namespaceJobs) {
      const ns = envOf(j).TEMPORAL_NAMESPACE ?? 'default';
      if (ns !== c.config.temporal.namespace) problems.push(`${j}: creates namespace ${ns}, but ${c.name} uses ${c.config.temporal.namespace}`);
    }
  }

  // --- GPU worker specifics -----------------------------------------------------------------
  if (m.workers.gpu) {
    const name = m.workers.gpu;
    const svc = services[name]!;
    const deploy = isObj(svc.deploy) ? svc.deploy : {};
    const resources = isObj(deploy.resources) ? deploy.resources : {};
    const reservations = isObj(resources.reservations) ? resources.reservations : {};
    const devices = Array.isArray(reservations.devices) ? reservations.devices : [];
    const reservesGpu = devices.some(
      (d) => isObj(d) && d.driver === 'nvidia' && Array.isArray(d.capabilities) && d.capabilities.flat().includes('gpu'),
    );
    if (!reservesGpu) problems.push(`${name}: does not reserve an nvidia device (deploy.resources.reservations.devices with driver: nvidia, capabilities: [gpu])`);
    const build = isObj(svc.build) ? svc.build : undefined;
    const dockerfile = build ? path.resolve(root, str(build.context) ?? '.', str(build.dockerfile) ?? 'Dockerfile') : undefined;
    if (dockerfile && fs.existsSync(dockerfile)) {
      const text = fs.readFileSync(dockerfile, 'utf8');
      if (!/^\s*FROM\s+(\S+\/)?nvidia\/cuda:/im.test(text)) problems.push(`${name}: ${path.relative(root, dockerfile)} is not based on an nvidia/cuda image`);
      if (!/onnxruntime[-_]node[-_]install=cuda12/i.test(text)) {
        problems.push(`${name}: ${path.relative(root, dockerfile)} does not install onnxruntime-node's CUDA provider (the repo's .npmrc skips it)`);
      }
    }
  }

  return problems;
}
