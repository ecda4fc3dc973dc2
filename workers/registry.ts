import { builtinImplementations } from '../activities';
import type { StepImplementation } from '../activities/runtime/implement';
import type { SluiceConfig } from '../infra/config';
import { importExtraModule, loadCatalogue, type Catalogue } from '../pipelines/catalogue';
import { describeChanges, diffSchemas } from '../pipelines/dsl/schema-diff';
import type { Queue } from '../pipelines/dsl/step';
import { stepInterface } from '../pipelines/dsl/step-interface';

/**
 * What a worker serves: the pipeline catalogue (pipelines/catalogue.ts) plus the step
 * implementations it can run, by step name. Only workers load this: implementations pull in
 * polars and onnxruntime, which the CLI has no use for.
 */
export interface Registry extends Catalogue {
  implementations: Map<string, StepImplementation>;
}

export async function loadRegistry(config: Pick<SluiceConfig, 'extraPipelines'>): Promise<Registry> {
  const catalogue = await loadCatalogue(config.extraPipelines);
  const implementations = [...builtinImplementations];
  if (config.extraPipelines) implementations.push(...(((await importExtraModule(config.extraPipelines)).implementations ?? []) as StepImplementation[]));
  const reg: Registry = { ...catalogue, implementations: new Map() };
  for (const impl of implementations) {
    if (reg.implementations.has(impl.step.name)) throw new Error(`two implementations of step "${impl.step.name}"`);
    reg.implementations.set(impl.step.name, impl);
  }
  return reg;
}

/**
 * A worker refuses to start if a registered pipeline has a step on its queue that it cannot run
 * as the spec's steps table declares it (no implementation, another version, other schemas):
 * better than runs stuck waiting for a poller, or failing at their first call.
 */
export function assertCanRun(reg: Registry, queue: Queue): void {
  const problems: string[] = [];
  for (const spec of reg.specs.values()) {
    for (const [name, s] of Object.entries(spec.steps)) {
      const nodes = spec.nodes.filter((n) => n.step === name && !n.approval); // approvals are run by the engine itself
      if (s.queue !== queue || nodes.length === 0) continue;
      const where = `pipeline ${spec.name}, node${nodes.length > 1 ? 's' : ''} ${nodes.map((n) => n.id).join(', ')}`;
      const impl = reg.implementations.get(name);
      if (!impl) problems.push(`${where}: no implementation of step "${name}"`);
      else if (impl.step.version !== s.version) problems.push(`${where}: step "${name}" is version ${s.version} but the implementation is ${impl.step.version}`);
      else if (impl.step.queue !== queue) problems.push(`step "${name}" is declared for queue ${impl.step.queue}`);
      else {
        const io = stepInterface(impl.step);
        if (io.inputSchemaHash !== s.inputSchemaHash || io.outputSchemaHash !== s.outputSchemaHash) {
          const changes = [...diffSchemas(s.input, io.input).map((c) => ({ ...c, path: `input ${c.path}` })), ...diffSchemas(s.output, io.output).map((c) => ({ ...c, path: `output ${c.path}` }))];
          problems.push(`${where}: step "${name}"@${s.version} has other schemas than its implementation: ${describeChanges(changes)}`);
        }
      }
    }
  }
  if (problems.length) throw new Error(`this ${queue} worker cannot run every registered pipeline:\n  ${problems.join('\n  ')}`);
}

export function implementationsFor(reg: Registry, queue: Queue): StepImplementation[] {
  return [...reg.implementations.values()].filter((i) => i.step.queue === queue);
}
