import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { describeChanges, diffSchemas, typeText } from '../pipelines/dsl/schema-diff';
import type { JsonSchema } from '../pipelines/dsl/spec';

/** Unit tests of the JSON Schema diff and type text the step runtime and the CLI use. No Temporal. */

const js = (s: z.ZodType, io: 'input' | 'output' = 'input') => z.toJSONSchema(s, { io, unrepresentable: 'any' }) as JsonSchema;

const before = z.object({
  data: z.object({ uri: z.string(), rows: z.number().int() }),
  amount: z.number(),
  items: z.array(z.object({ id: z.string(), weight: z.number() })),
  note: z.string().optional(),
  gone: z.boolean(),
});

test('diffSchemas names added, removed and changed fields at any depth, through arrays', () => {
  const after = z.object({
    data: z.object({ uri: z.string(), rows: z.number().int(), sha256: z.string() }),
    amount: z.string(),
    items: z.array(z.object({ id: z.string(), weight: z.number().min(0) })),
    note: z.string(),
    extra: z.number().optional(),
  });
  assert.deepEqual(diffSchemas(js(before), js(after)), [
    { path: 'data.sha256', change: 'added', to: 'string' },
    { path: 'amount', change: 'changed', from: 'number', to: 'string' },
    { path: 'items[].weight', change: 'changed', from: 'number', to: 'number (minimum 0)' },
    { path: 'note', change: 'changed', from: 'optional', to: 'required' },
    { path: 'gone', change: 'removed', from: 'boolean' },
    { path: 'extra', change: 'added', to: 'number (optional)' },
  ]);
});

test('diffSchemas: equal schemas, and schemas differing only in descriptions, have no changes', () => {
  assert.deepEqual(diffSchemas(js(before), js(before)), []);
  const described = before.extend({ amount: z.number().describe('how much') });
  assert.deepEqual(diffSchemas(js(before), js(described)), []);
});

test('describeChanges reads as a list of fields', () => {
  assert.equal(
    describeChanges([
      { path: 'amount', change: 'changed', from: 'number', to: 'string' },
      { path: 'gone', change: 'removed', from: 'boolean' },
      { path: 'x', change: 'added', to: 'string' },
    ]),
    'amount (changed: number → string), gone (removed, was boolean), x (added: string)',
  );
});

test('typeText: objects, optionals, arrays, enums, nullables, records', () => {
  const s = js(
    z.object({
      uri: z.string(),
      rows: z.number().int().optional(),
      tags: z.array(z.string()),
      kind: z.enum(['a', 'b']),
      label: z.string().nullable(),
      counts: z.record(z.string(), z.number()),
      deep: z.object({ a: z.object({ b: z.object({ c: z.string() }) }) }),
    }),
  );
  assert.equal(
    typeText(s),
    '{ uri: string, rows?: integer, tags: string[], kind: "a" | "b", label: string | null, counts: Record<string, number>, deep: { a: object } }',
  );
});
