import { z } from 'zod';
import type { AnyPipeline } from './pipeline';
import { RUN_OPTIONS_KEY, type RunOptions } from './protocol';
import { unknownKeysErrorMap } from './unknown-keys';

const runOptionsSchema = z
  .object({ force: z.union([z.boolean(), z.array(z.string())]).optional(), cache: z.boolean().optional() })
  .strict();

/**
 * How deeply a run's params may nest (objects and arrays). Deeper JSON is refused with its path
 * before anything parses or converts it: Temporal's payload conversion fails on very deep values
 * with "Unable to convert [object Object] to payload", which names nothing. Expressions, the
 * deepest legitimate params, stop at 32 levels (pipelines/expr), well inside this.
 */
export const MAX_PARAMS_DEPTH = 64;

/** The path of the first value nested deeper than `max`, or null. Iterative: no stack to overflow. */
export function tooDeep(value: unknown, max: number): string[] | null {
  const stack: { v: unknown; path: string[] }[] = [{ v: value, path: [] }];
  while (stack.length) {
    const { v, path } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (path.length >= max) return path;
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) stack.push({ v: child, path: [...path, Array.isArray(v) ? `[${k}]` : k] });
  }
  return null;
}

export type RunInputCheck =
  | { ok: true; params: Record<string, unknown>; options: RunOptions }
  | { ok: false; message: string; issues: { path: string[]; message: string }[] };

/**
 * A run's one JSON object, checked the same way everywhere: by the engine at start (through its
 * local activity), and by the CLI and schedules before anything is started. Run options under
 * `_sluice` are split off and checked too; every bad field is named, and an unknown key is named
 * with the keys its object accepts.
 */
export function checkRunInput(def: AnyPipeline, input: unknown): RunInputCheck {
  const raw = input ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    const got = Array.isArray(raw) ? 'an array' : typeof raw;
    return { ok: false, message: `params of pipeline ${def.name} must be one JSON object, got ${got}`, issues: [{ path: [], message: `expected an object, got ${got}` }] };
  }
  const deep = tooDeep(raw, MAX_PARAMS_DEPTH);
  if (deep) {
    const where = `params.${deep.slice(0, 6).join('.')}${deep.length > 6 ? '.….' + deep[deep.length - 1] : ''}`.replace(/\.\[/g, '[');
    return {
      ok: false,
      message: `params of pipeline ${def.name} nest deeper than ${MAX_PARAMS_DEPTH} levels (at ${where}): flatten them`,
      issues: [{ path: deep, message: `nested deeper than ${MAX_PARAMS_DEPTH} levels` }],
    };
  }
  const { [RUN_OPTIONS_KEY]: rawOptions, ...rawParams } = raw as Record<string, unknown>;
  const opts = runOptionsSchema.safeParse(rawOptions ?? {}, { error: unknownKeysErrorMap(`params.${RUN_OPTIONS_KEY}`) });
  const params = (def.params as z.ZodObject).safeParse(rawParams, { error: unknownKeysErrorMap('params') });
  const issues = [
    ...(opts.success ? [] : opts.error.issues.map((i) => ({ path: [RUN_OPTIONS_KEY, ...i.path.map(String)], message: i.message, code: i.code }))),
    ...(params.success ? [] : params.error.issues.map((i) => ({ path: i.path.map(String), message: i.message, code: i.code }))),
  ];
  if (issues.length || !opts.success || !params.success) {
    // An unknown key's message already says where it is.
    const text = issues.map((i) => (i.code === 'unrecognized_keys' ? i.message : `${i.path.join('.') || '(params)'}: ${i.message}`)).join('; ');
    return { ok: false, message: `invalid params for pipeline ${def.name}: ${text}`, issues: issues.map(({ path, message }) => ({ path, message })) };
  }
  return { ok: true, params: params.data as Record<string, unknown>, options: opts.data };
}
