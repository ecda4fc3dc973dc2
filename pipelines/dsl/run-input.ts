import { z } from 'zod';
import type { AnyPipeline } from './pipeline';
import { RUN_OPTIONS_KEY, type RunOptions } from './protocol';
import { unknownKeysErrorMap } from './unknown-keys';

const runOptionsSchema = z
  .object({ force: z.union([z.boolean(), z.array(z.string())]).optional(), cache: z.boolean().optional() })
  .strict();

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
