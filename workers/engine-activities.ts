import type { SluiceConfig } from '../infra/config';
import type { ResolveResult } from '../pipelines/dsl/protocol';
import { checkRunInput } from '../pipelines/dsl/run-input';
import type { Registry } from './registry';

/**
 * Local activities of the workflow worker: what workflow code cannot know by itself. Their
 * answers are recorded in history, so replays see exactly what the run saw at its start.
 */
export function createEngineLocalActivities(config: SluiceConfig, reg: Registry) {
  return {
    async resolvePipeline({ pipeline, input }: { pipeline: string; input: unknown }): Promise<ResolveResult> {
      const def = reg.pipelines.get(pipeline);
      const spec = reg.specs.get(pipeline);
      if (!def || !spec) {
        return { ok: false, type: 'UnknownPipeline', message: `no pipeline named "${pipeline}"; registered: ${[...reg.pipelines.keys()].join(', ')}` };
      }
      const checked = checkRunInput(def, input);
      if (!checked.ok) return { ok: false, type: 'InvalidParams', message: checked.message, issues: checked.issues };
      return { ok: true, spec, params: checked.params, options: checked.options };
    },
    async sluiceTaskQueues(): Promise<{ cpu: string; gpu: string }> {
      return { cpu: config.queues.cpu, gpu: config.queues.gpu };
    },
  };
}
export type EngineLocalActivities = ReturnType<typeof createEngineLocalActivities>;
export type { RunBookkeepingActivities } from '../activities/runs/bookkeeping';
