import { inspectDeviceStep } from '../../pipelines/hello';
import { implement } from '../runtime/implement';

/**
 * Reads the greeting back (integrity-checked) and reports which execution provider this worker
 * gives ONNX Runtime, so a run shows at a glance whether GPUs are in use.
 */
export const inspectDevice = implement(inspectDeviceStep, async ({ greeting }, ctx) => {
  const text = (await ctx.store.getBuffer(greeting)).toString('utf8');
  const device = { gpus: ctx.device.count, provider: ctx.device.provider, ...(ctx.device.fallbackReason ? { fallbackReason: ctx.device.fallbackReason } : {}) };
  const report = await ctx.store.putContent(JSON.stringify({ greeting: text, device }, null, 2), { contentType: 'application/json' });
  return { report, device };
});
