import { z } from 'zod';
import { implement } from '../activities/runtime/implement';
import { pipeline, type Node } from '../pipelines/dsl/pipeline';
import { step } from '../pipelines/dsl/step';

/**
 * Pipelines of the engine-overhead benchmark (bench/engine-overhead.ts), loaded by the benchmark's
 * workers through SLUICE_EXTRA_PIPELINES. Every step does nothing and never hits the cache, so a
 * run measures orchestration alone: scheduling, the activity round trip, step bookkeeping.
 */

export const CHAIN_LENGTH = 20;
export const FANOUT_WIDTH = 20;

export const noopStep = step({
  name: 'bench.noop',
  description: 'return its input unchanged (benchmark)',
  input: z.object({ value: z.number() }),
  output: z.object({ value: z.number() }),
  timeouts: { startToClose: '1m' },
  retry: { maximumAttempts: 1 },
  cache: false,
});

/** The same no-op as a local step: it runs inside the run's workflow task (StepSignature.local). */
export const localNoopStep = step({
  name: 'bench.noop-local',
  description: 'return its input unchanged, as a local activity (benchmark)',
  input: z.object({ value: z.number() }),
  output: z.object({ value: z.number() }),
  timeouts: { startToClose: '1m' },
  retry: { maximumAttempts: 1 },
  cache: false,
  local: true,
});

export const itemsStep = step({
  name: 'bench.items',
  description: 'the integers [0, n) (benchmark)',
  input: z.object({ n: z.number().int().min(0).max(10_000) }),
  output: z.object({ items: z.array(z.number()) }),
  timeouts: { startToClose: '1m' },
  retry: { maximumAttempts: 1 },
  cache: false,
});

export const gatherStep = step({
  name: 'bench.gather',
  description: 'count the results of a fan-out (benchmark)',
  input: z.object({ results: z.array(z.object({ value: z.number() })) }),
  output: z.object({ count: z.number().int() }),
  timeouts: { startToClose: '1m' },
  retry: { maximumAttempts: 1 },
  cache: false,
});

const noParams = z.object({}).strict();

/** n01 → n02 → … → n20, each node taking the previous node's output. */
export const benchChain = pipeline({ name: 'bench-chain', description: `${CHAIN_LENGTH} no-op steps in a chain (benchmark)`, params: noParams }, (_p, b) => {
  let prev: Node<{ value: number }> = b.step('n01', noopStep, { value: 0 });
  for (let i = 2; i <= CHAIN_LENGTH; i++) prev = b.step(`n${String(i).padStart(2, '0')}`, noopStep, { value: prev.output.value });
  return { value: prev.output.value };
});

/** The chain of local no-op steps: a step without a trip through a task queue. */
export const benchChainLocal = pipeline({ name: 'bench-chain-local', description: `${CHAIN_LENGTH} local no-op steps in a chain (benchmark)`, params: noParams }, (_p, b) => {
  let prev: Node<{ value: number }> = b.step('n01', localNoopStep, { value: 0 });
  for (let i = 2; i <= CHAIN_LENGTH; i++) prev = b.step(`n${String(i).padStart(2, '0')}`, localNoopStep, { value: prev.output.value });
  return { value: prev.output.value };
});

/** items (a list of FANOUT_WIDTH) → each (map, all at once) → gather (fan-in). */
export const benchFanout = pipeline({ name: 'bench-fanout', description: `a ${FANOUT_WIDTH}-wide fan-out of no-op steps (benchmark)`, params: noParams }, (_p, b) => {
  const items = b.step('items', itemsStep, { n: FANOUT_WIDTH });
  const each = b.map('each', noopStep, { over: items.output.items, parallelism: FANOUT_WIDTH }, (item) => ({ value: item }));
  const gather = b.step('gather', gatherStep, { results: each.output });
  return { count: gather.output.count };
});

export const pipelines = [benchChain, benchChainLocal, benchFanout];

export const implementations = [
  implement(noopStep, async ({ value }) => ({ value })),
  implement(localNoopStep, async ({ value }) => ({ value })),
  implement(itemsStep, async ({ n }) => ({ items: Array.from({ length: n }, (_, i) => i) })),
  implement(gatherStep, async ({ results }) => ({ count: results.length })),
];
