import { pathToFileURL } from 'node:url';
import { builtinImplementations } from '../activities';
import type { StepImplementation } from '../activities/runtime/implement';
import type { SluiceConfig } from '../infra/config';
import { compile } from '../pipelines/dsl/compile';
import { isPipeline, type AnyPipeline } from '../pipelines/dsl/pipeline';
import type { PipelineSpec } from '../pipelines/dsl/spec';
import type { Queue } from '../pipelines/dsl/step';
import { builtinPipelines } from '../pipelines';

/** The pipelines a worker serves and the step implementations it can run, by name. */
export interface Registry {
  pipelines: Map<string, AnyPipeline>;
  specs: Map<string, PipelineSpec>;
  implementations: Map<string, StepImplementation>;
}

export async function loadRegistry(config: Pick<SluiceConfig, 'extraPipelines'>): Promise<Registry> {
  const pipelines = [...builtinPipelines];
  const implementations = [...builtinImplementations];
  if (config.extraPipelines) {
    const mod = (await import(pathToFileURL(config.extraPipelines).href)) as { pipelines?: unknown[]; implementations?: StepImplementation[] };
    for (const p of mod.pipelines ?? []) {
      if (!isPipeline(p)) throw new Error(`${config.extraPipelines}: \`pipelines\` holds something that is not a pipeline()`);
      pipelines.push(p);
    }
    implementations.push(...(mod.implementations ?? []));
  }
  const reg: Registry = { pipelines: new Map(), specs: new Map(), implementations: new Map() };
  for (const p of pipelines) {
    if (reg.pipelines.has(p.name)) throw new Error(`two pipelines are named "${p.name}"`);
    reg.pipelines.set(p.name, p);
    reg.specs.set(p.name, compile(p));
  }
  for (const impl of implementations) {
    if (reg.implementations.has(impl.step.name)) throw new Error(`two implementations of step "${impl.step.name}"`);
    reg.implementations.set(impl.step.name, impl);
  }
  return reg;
}

/**
 * A worker refuses to start if a registered pipeline has a step on its queue that it cannot run
 * (no implementation, or another version): better than runs stuck waiting for a poller.
 */
export function assertCanRun(reg: Registry, queue: Queue): void {
  const problems: string[] = [];
  for (const spec of reg.specs.values()) {
    for (const n of spec.nodes) {
      if (n.queue !== queue || n.approval) continue; // approvals are run by the engine itself
      const impl = reg.implementations.get(n.step.name);
      if (!impl) problems.push(`pipeline ${spec.name}, node ${n.id}: no implementation of step "${n.step.name}"`);
      else if (impl.step.version !== n.step.version) {
        problems.push(`pipeline ${spec.name}, node ${n.id}: step "${n.step.name}" is version ${n.step.version} but the implementation is ${impl.step.version}`);
      } else if (impl.step.queue !== queue) problems.push(`step "${n.step.name}" is declared for queue ${impl.step.queue}`);
    }
  }
  if (problems.length) throw new Error(`this ${queue} worker cannot run every registered pipeline:\n  ${problems.join('\n  ')}`);
}

export function implementationsFor(reg: Registry, queue: Queue): StepImplementation[] {
  return [...reg.implementations.values()].filter((i) => i.step.queue === queue);
}
