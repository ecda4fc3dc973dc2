import { typeText } from '../../pipelines/dsl/schema-diff';
import type { JsonSchema, PipelineSpec } from '../../pipelines/dsl/spec';

/**
 * The steps of a pipeline as interfaces, read from the spec's steps table (so a spec from a run's
 * history prints as well as a registered one): per step its version, queue, the nodes that run
 * it, and its input and output fields with their types, defaults and descriptions.
 */

const MAX_NODES = 4;
const MAX_DEFAULT = 40;

const short = (json: string) => (json.length > MAX_DEFAULT ? `${json.slice(0, MAX_DEFAULT - 1)}…` : json);

/** One line per field of an object schema; a non-object schema is one line of its type. */
export function fieldLines(schema: JsonSchema): string[] {
  const props = schema.properties as Record<string, JsonSchema> | undefined;
  if (schema.type !== 'object' || !props || Object.keys(props).length === 0) return [typeText(schema, schema)];
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, p]) => {
    const dflt = p.default !== undefined ? ` = ${short(JSON.stringify(p.default))}` : '';
    const doc = typeof p.description === 'string' ? `  — ${p.description}` : '';
    return `${name}${required.has(name) ? '' : '?'}: ${typeText(p, schema, { depth: 1 })}${dflt}${doc}`;
  });
}

/**
 * ```
 * demo.load@1  [cpu]  node load
 *   in   n: number
 *   out  items: string[]
 *        total: number
 * ```
 */
export function stepInterfaces(spec: PipelineSpec): string {
  const out: string[] = [];
  for (const [name, s] of Object.entries(spec.steps)) {
    const nodes = spec.nodes.filter((n) => n.step === name).map((n) => n.id);
    const used = nodes.length > MAX_NODES ? `${nodes.slice(0, MAX_NODES).join(', ')}, … ${nodes.length - MAX_NODES} more` : nodes.join(', ');
    out.push(`${name}@${s.version}  [${s.queue}]  node${nodes.length === 1 ? '' : 's'} ${used}${s.description ? `  — ${s.description}` : ''}`);
    for (const [label, schema] of [['in ', s.input], ['out', s.output]] as const) {
      fieldLines(schema).forEach((line, i) => out.push(`  ${i === 0 ? label : '   '}  ${line}`));
    }
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
