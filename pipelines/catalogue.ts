import { pathToFileURL } from 'node:url';
import { compile } from './dsl/compile';
import { isPipeline, type AnyPipeline } from './dsl/pipeline';
import type { PipelineSpec } from './dsl/spec';
import { builtinPipelines } from './index';

/**
 * The pipeline catalogue: every pipeline by name with its compiled spec. Compile-only: it loads
 * step signatures and schemas, never step implementations, so the CLI and other clients read it
 * without loading polars or onnxruntime. Workers extend it with their implementations
 * (workers/registry.ts).
 */
export interface Catalogue {
  pipelines: Map<string, AnyPipeline>;
  specs: Map<string, PipelineSpec>;
}

/** What a module named by SLUICE_PIPELINES may export. Its implementations are the workers' business. */
export interface ExtraModule {
  pipelines?: unknown[];
  implementations?: unknown[];
}

/** Imports the SLUICE_PIPELINES module (once per process: the module cache answers later imports). */
export async function importExtraModule(file: string): Promise<ExtraModule> {
  return (await import(pathToFileURL(file).href)) as ExtraModule;
}

export function buildCatalogue(pipelines: readonly AnyPipeline[]): Catalogue {
  const cat: Catalogue = { pipelines: new Map(), specs: new Map() };
  for (const p of pipelines) {
    if (cat.pipelines.has(p.name)) throw new Error(`two pipelines are named "${p.name}"`);
    cat.pipelines.set(p.name, p);
    cat.specs.set(p.name, compile(p));
  }
  return cat;
}

/** The built-in pipelines and those of the extra module, if one is configured. */
export async function loadCatalogue(extraPipelines?: string): Promise<Catalogue> {
  const pipelines = [...builtinPipelines];
  if (extraPipelines) {
    for (const p of (await importExtraModule(extraPipelines)).pipelines ?? []) {
      if (!isPipeline(p)) throw new Error(`${extraPipelines}: \`pipelines\` holds something that is not a pipeline()`);
      pipelines.push(p);
    }
  }
  return buildCatalogue(pipelines);
}

export function findPipeline(cat: Catalogue, name: string): { def: AnyPipeline; spec: PipelineSpec } {
  const def = cat.pipelines.get(name);
  const spec = cat.specs.get(name);
  if (!def || !spec) throw new Error(`unknown pipeline "${name}"; known: ${[...cat.pipelines.keys()].join(', ')}`);
  return { def, spec };
}
