import { z } from 'zod';
import { canonicalJson, sha256Hex } from './canonical';
import { withoutAnnotations } from './schema-diff';
import type { JsonSchema } from './spec';
import type { AnyStep } from './step';

/**
 * A step's interface as data: the JSON Schemas of its input and output and a hash of each. The
 * compiler writes them into the spec's steps table; a worker computes the same for the
 * implementation it runs and compares hashes on every call (node:crypto: not for workflow code).
 */
export interface StepInterface {
  input: JsonSchema;
  output: JsonSchema;
  inputSchemaHash: string;
  outputSchemaHash: string;
}

const cache = new WeakMap<AnyStep, StepInterface>();

export function stepInterface(step: AnyStep): StepInterface {
  let i = cache.get(step);
  if (!i) {
    // Input as callers may write it (fields with defaults optional); output as parsed, which is
    // what later nodes bind to.
    const input = toJsonSchema(step.input, 'input');
    const output = toJsonSchema(step.output, 'output');
    i = { input, output, inputSchemaHash: schemaHash(input), outputSchemaHash: schemaHash(output) };
    cache.set(step, i);
  }
  return i;
}

function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/**
 * 16 hex digits of the SHA-256 of the schema's canonical JSON, annotations left out: a reworded
 * `.describe()` is no change of interface and must not fail the runs in flight. Defaults count:
 * they decide what a step computes from an input that leaves the field out.
 */
export function schemaHash(schema: JsonSchema): string {
  return sha256Hex(canonicalJson(withoutAnnotations(schema))).slice(0, 16);
}
