import type { SluiceConfig } from '../infra/config';
import type { EngineLocalActivities } from '../pipelines/dsl/engine-activities';
import { checkRunInput } from '../pipelines/dsl/run-input';
import type { Catalogue } from '../pipelines/catalogue';

/**
 * Local activities of the workflow worker (pipelines/dsl/engine-activities.ts): the catalogue's
 * specs and the configured queue names, recorded in history at a run's start.
 */
export function createEngineLocalActivities(config: SluiceConfig, catalogue: Catalogue): EngineLocalActivities {
  return {
    async resolvePipeline({ pipeline, input }) {
      const def = catalogue.pipelines.get(pipeline);
      const spec = catalogue.specs.get(pipeline);
      if (!def || !spec) {
        return { ok: false, type: 'UnknownPipeline', message: `no pipeline named "${pipeline}"; registered: ${[...catalogue.pipelines.keys()].join(', ')}` };
      }
      const checked = checkRunInput(def, input);
      if (!checked.ok) return { ok: false, type: 'InvalidParams', message: checked.message, issues: checked.issues };
      return { ok: true, spec, params: checked.params, options: checked.options };
    },
    async sluiceTaskQueues() {
      return { cpu: config.queues.cpu, gpu: config.queues.gpu, limits: config.engine };
    },
  };
}
