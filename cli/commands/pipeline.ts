import type { Command } from 'commander';
import type { PipelineSpec } from '../../pipelines/dsl/spec';
import { cliCatalogue, findPipeline } from '../pipelines';
import { renderBinding, toMermaid, toText } from '../render/dag';
import { stepInterfaces } from '../render/interface';

/** `sluice pipeline list|show|schema`: the registered pipelines, their DAGs and params schemas. */

export interface PipelineSummary {
  name: string;
  version: string;
  nodes: number;
  description?: string;
}

export function summarize(spec: PipelineSpec): PipelineSummary {
  return { name: spec.name, version: spec.version, nodes: spec.nodes.length, ...(spec.description ? { description: spec.description } : {}) };
}

/** The params JSON Schema, with `$schema` first. */
export function paramsSchema(spec: PipelineSpec): Record<string, unknown> {
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...spec.params };
}

/** Header, params, DAG, outputs and the steps' interfaces (from the spec's steps table) as text. */
export function describePipeline(spec: PipelineSpec): string {
  const head = `pipeline ${spec.name}@${spec.version}${spec.description ? ` — ${spec.description}` : ''}\n\n`;
  const props = (spec.params as { properties?: Record<string, { type?: unknown; default?: unknown; description?: string }> }).properties ?? {};
  const required = new Set((spec.params as { required?: string[] }).required ?? []);
  const params = Object.entries(props).map(([k, p]) => {
    const bits = [p.type !== undefined ? String(p.type) : 'any', required.has(k) ? 'required' : '', p.default !== undefined ? `default ${JSON.stringify(p.default)}` : ''].filter(Boolean);
    return `  ${k}: ${bits.join(', ')}${p.description ? `  — ${p.description}` : ''}`;
  });
  const outputs = Object.entries(spec.outputs).map(([k, e]) => `  ${k} <- ${renderBinding(e)}`);
  return [
    head,
    params.length ? `params:\n${params.join('\n')}\n\n` : '',
    `nodes:\n${toText(spec).replace(/^/gm, '  ').replace(/ +$/gm, '')}`,
    outputs.length ? `\noutputs:\n${outputs.join('\n')}\n` : '',
    // Old-shape specs (recorded before the steps table) have none to print.
    spec.steps ? `\nsteps:\n${stepInterfaces(spec).replace(/^(?=.)/gm, '  ')}` : '',
  ].join('');
}

export function registerPipelineCommands(program: Command): void {
  const cmd = program.command('pipeline').description('inspect registered pipelines: list, show the DAG, params schema');

  cmd
    .command('list')
    .description('registered pipelines: name, version hash, node count, description')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const reg = await cliCatalogue();
      const rows = [...reg.specs.values()].map(summarize).sort((a, b) => a.name.localeCompare(b.name));
      if (o.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      const w = Math.max(4, ...rows.map((r) => r.name.length));
      console.log(`${'NAME'.padEnd(w)}  VERSION       NODES  DESCRIPTION`);
      for (const r of rows) console.log(`${r.name.padEnd(w)}  ${r.version}  ${String(r.nodes).padStart(5)}  ${r.description ?? ''}`.trimEnd());
    });

  cmd
    .command('show <name>')
    .description('a pipeline\'s DAG and step interfaces as text (default), Mermaid, or its compiled spec as JSON')
    .option('--text', 'readable text DAG (default)')
    .option('--mermaid', 'Mermaid flowchart (paste into a ```mermaid block)')
    .option('--json', 'the compiled PipelineSpec')
    .action(async (name: string, o: { text?: boolean; mermaid?: boolean; json?: boolean }) => {
      if ([o.text, o.mermaid, o.json].filter(Boolean).length > 1) throw new Error('choose one of --text, --mermaid, --json');
      const { spec } = findPipeline(await cliCatalogue(), name);
      if (o.json) console.log(JSON.stringify(spec, null, 2));
      else if (o.mermaid) process.stdout.write(toMermaid(spec));
      else process.stdout.write(describePipeline(spec));
    });

  cmd
    .command('schema <name>')
    .description('the JSON Schema of a pipeline\'s params')
    .action(async (name: string) => {
      const { spec } = findPipeline(await cliCatalogue(), name);
      console.log(JSON.stringify(paramsSchema(spec), null, 2));
    });
}
