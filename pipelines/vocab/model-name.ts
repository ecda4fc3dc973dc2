import { z } from 'zod';

/**
 * Registered model names and aliases: MLflow's rule, in ASCII: letters, digits, "_" and "-", 1
 * to 255 characters. `latest` and `v<digits>` are not aliases: they mean something in a model
 * URI (pipelines/vocab/model-uri.ts). The zod schemas check step inputs and params; the
 * predicates back the registry's own checks (infra/db/registry.ts), so both agree.
 */

export const MAX_MODEL_NAME_LENGTH = 255;
const NAME_RE = /^[A-Za-z0-9_-]+$/;
export const RESERVED_ALIASES = 'latest, v<digits>';

/** A valid model name (or alias, before the reserved words are checked). */
export function isModelName(s: unknown): s is string {
  return typeof s === 'string' && s.length <= MAX_MODEL_NAME_LENGTH && NAME_RE.test(s);
}

export function isReservedAlias(alias: string): boolean {
  return alias.toLowerCase() === 'latest' || /^[vV]\d+$/.test(alias);
}

export const registeredModelName = z.string().min(1).max(MAX_MODEL_NAME_LENGTH).regex(NAME_RE, 'letters, digits, "_" and "-" only');

export const aliasName = z
  .string()
  .min(1)
  .max(MAX_MODEL_NAME_LENGTH)
  .regex(NAME_RE, 'letters, digits, "_" and "-" only')
  .refine((a) => !isReservedAlias(a), 'reserved alias ("latest" and "v<digits>" mean something in model URIs)');
