import type { z } from 'zod';
import { HELLO_PIPELINE, helloParams } from '../pipelines/hello';

/** Pipelines the CLI can start, by name: workflow type and params schema. */
export interface PipelineEntry {
  name: string;
  version: string;
  workflowType: string;
  params: z.ZodType;
  description: string;
}

export const PIPELINES: PipelineEntry[] = [
  { ...HELLO_PIPELINE, workflowType: 'hello', params: helloParams, description: 'one step on each queue, an artifact, the run recorded' },
];

export function findPipeline(name: string): PipelineEntry {
  const p = PIPELINES.find((x) => x.name === name);
  if (!p) throw new Error(`unknown pipeline "${name}"; known: ${PIPELINES.map((x) => x.name).join(', ')}`);
  return p;
}
