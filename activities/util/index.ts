import fs from 'node:fs';
import { failure } from '../../pipelines/failures';
import { failIfExistsStep, passStep, rangeStep, sleepStep, sumStep } from '../../pipelines/util/steps';
import { implement } from '../runtime/implement';
import { sleepWithHeartbeat } from '../runtime/step-activity';

export const pass = implement(passStep, async ({ value }) => ({ value }));

export const sum = implement(sumStep, async ({ values }) => ({ total: values.reduce((a, b) => a + b, 0), count: values.length }));

export const range = implement(rangeStep, async ({ n }) => ({ items: Array.from({ length: n }, (_, i) => i) }));

export const sleep = implement(sleepStep, async ({ ms, value }, ctx) => {
  const from = ctx.checkpoint?.elapsed ?? 0;
  await sleepWithHeartbeat(Math.max(0, ms - from), ctx, (elapsed) => ({ elapsed: from + elapsed }));
  return { sleptMs: ms, value };
});

export const failIfExists = implement(failIfExistsStep, async ({ path, value }) => {
  if (fs.existsSync(path)) throw failure('FailIfExists', `${path} exists`);
  return { value };
});

export const utilImplementations = [pass, sum, range, sleep, failIfExists];
