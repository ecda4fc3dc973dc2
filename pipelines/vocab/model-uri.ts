import { isModelName, isReservedAlias } from './model-name';

/**
 * Model URIs, MLflow's form: `models:/<name>/<version>`, `models:/<name>@<alias>` and
 * `models:/<name>/latest`. One parser for the registry (which needs the prefix), batch scoring's
 * `model` param (`name@alias` or `name/version`, prefix optional, a definite version or alias)
 * and the CLI (`NAME` alone meaning the latest version). It reports what is wrong as data, so
 * each caller words its own error. Pure: workflow code may import it.
 */

export type ModelUri = { name: string; version: number } | { name: string; alias: string } | { name: string; latest: true };

export type ModelUriProblem =
  | { kind: 'syntax' }
  | { kind: 'name'; value: string }
  | { kind: 'alias'; value: string; reserved: boolean }
  | { kind: 'version'; value: string }
  /** `latest` (or a bare name) where a definite version or alias is needed. */
  | { kind: 'latest' };

export interface ModelUriOptions {
  /** The `models:/` prefix: required (the default) or optional. */
  prefix?: 'required' | 'optional';
  /** Whether `/latest` is accepted (default true). */
  latest?: boolean;
  /** A bare name (`churn`) means its latest version (the CLI's shorthand; needs `latest`). */
  bareName?: boolean;
}

export const MODEL_URI_PREFIX = 'models:/';
const VERSION_RE = /^[1-9]\d{0,9}$/;
const PARTS_RE = /^([^/@]+)(?:\/([^/@]+)|@([^/@]+))?$/;

export function parseModelUri(s: string, opts: ModelUriOptions = {}): { ok: true; uri: ModelUri } | { ok: false; problem: ModelUriProblem } {
  const latestOk = opts.latest ?? true;
  const prefixed = s.startsWith(MODEL_URI_PREFIX);
  if (!prefixed && (opts.prefix ?? 'required') === 'required') return { ok: false, problem: { kind: 'syntax' } };
  const m = PARTS_RE.exec(prefixed ? s.slice(MODEL_URI_PREFIX.length) : s);
  if (!m) return { ok: false, problem: { kind: 'syntax' } };
  const [, name, version, alias] = m as unknown as [string, string, string | undefined, string | undefined];
  if (version === undefined && alias === undefined && !opts.bareName) return { ok: false, problem: { kind: 'syntax' } };
  if (!isModelName(name)) return { ok: false, problem: { kind: 'name', value: name } };
  if (alias !== undefined) {
    if (!isModelName(alias) || isReservedAlias(alias)) return { ok: false, problem: { kind: 'alias', value: alias, reserved: isModelName(alias) } };
    return { ok: true, uri: { name, alias } };
  }
  if (version === undefined || version === 'latest') return latestOk ? { ok: true, uri: { name, latest: true } } : { ok: false, problem: { kind: 'latest' } };
  if (!VERSION_RE.test(version)) return { ok: false, problem: { kind: 'version', value: version } };
  return { ok: true, uri: { name, version: Number(version) } };
}

export function formatModelUri(u: ModelUri): string {
  if ('alias' in u) return `${MODEL_URI_PREFIX}${u.name}@${u.alias}`;
  return `${MODEL_URI_PREFIX}${u.name}/${'version' in u ? u.version : 'latest'}`;
}

/** The URI of one registered version. */
export const modelVersionUri = (name: string, version: number) => formatModelUri({ name, version });
