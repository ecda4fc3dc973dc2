import { recordStepInput, recordStepOutput } from '../../infra/db/runs';
import { inspectInput, inspectOutput } from '../../pipelines/hello';
import type { ActivityDeps } from '../context';
import { runStep } from '../step-runner';
import type { GpuInfo } from '../../workers/gpu-devices';

/**
 * GPU step: reads the greeting back (integrity-checked), and reports which execution provider
 * this worker would give ONNX Runtime, so a run shows at a glance whether GPUs are in use.
 */
export function createInspectDevice(deps: ActivityDeps, gpu: GpuInfo) {
  return async function inspectDevice(raw: unknown) {
    return runStep(deps, { name: 'inspect-device', version: '1', queue: 'gpu' }, { input: inspectInput, output: inspectOutput }, raw, (i) => i.runId, async (ctx) => {
      const { runId, greeting } = ctx.input;
      const text = (await deps.store.getBuffer(greeting)).toString('utf8');
      await recordStepInput(deps.db, runId, 'inspect-device', greeting.uri);
      const device = { gpus: gpu.count, provider: gpu.provider, ...(gpu.fallbackReason ? { fallbackReason: gpu.fallbackReason } : {}) };
      const body = JSON.stringify({ greeting: text, device }, null, 2);
      const report = await deps.store.putContent(body, { contentType: 'application/json' });
      await recordStepOutput(deps.db, runId, 'inspect-device', { ...report, mediaType: 'application/json' });
      return { report: { uri: report.uri, sha256: report.sha256, size: report.size }, device };
    });
  };
}
