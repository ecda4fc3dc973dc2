import { loadConfig } from '../infra/config';
import { loadRegistry, type Registry } from '../workers/registry';

/** The registry as the CLI sees it: the same pipelines the workers serve. */
export async function cliRegistry(): Promise<Registry> {
  return loadRegistry(loadConfig());
}

export function findPipeline(reg: Registry, name: string) {
  const def = reg.pipelines.get(name);
  const spec = reg.specs.get(name);
  if (!def || !spec) throw new Error(`unknown pipeline "${name}"; known: ${[...reg.pipelines.keys()].join(', ')}`);
  return { def, spec };
}
