import { z } from 'zod';
import type { SluiceConfig } from '../infra/config';
import { RUN_OPTIONS_KEY, type ResolveResult } from '../pipelines/dsl/protocol';
import type { Registry } from './registry';

const runOptionsSchema = z
  .object({ force: z.union([z.boolean(), z.array(z.string())]).optional(), cache: z.boolean().optional() })
  .strict();

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
      const raw = input ?? {};
      if (typeof raw !== 'object' || Array.isArray(raw)) {
        return { ok: false, type: 'InvalidParams', message: `params of pipeline ${pipeline} must be one JSON object, got ${Array.isArray(raw) ? 'an array' : typeof raw}` };
      }
      const { [RUN_OPTIONS_KEY]: rawOptions, ...rawParams } = raw as Record<string, unknown>;
      const opts = runOptionsSchema.safeParse(rawOptions ?? {});
      const params = (def.params as z.ZodObject).safeParse(rawParams);
      const issues = [
        ...(opts.success ? [] : opts.error.issues.map((i) => ({ path: [RUN_OPTIONS_KEY, ...i.path.map(String)], message: i.message }))),
        ...(params.success ? [] : params.error.issues.map((i) => ({ path: i.path.map(String), message: i.message }))),
      ];
      if (issues.length) {
        const text = issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ');
        return { ok: false, type: 'InvalidParams', message: `invalid params for pipeline ${pipeline}: ${text}`, issues };
      }
      return { ok: true, spec, params: params.data as Record<string, unknown>, options: opts.data ?? {} };
    },
    async sluiceTaskQueues(): Promise<{ cpu: string; gpu: string }> {
      return { cpu: config.queues.cpu, gpu: config.queues.gpu };
    },
  };
}
export type EngineLocalActivities = ReturnType<typeof createEngineLocalActivities>;
export type { RunBookkeepingActivities } from '../activities/runs/bookkeeping';
