import { z } from 'zod';
import { implement } from '../activities/runtime/implement';
import { pipeline } from '../pipelines/dsl/pipeline';
import { step } from '../pipelines/dsl/step';
import { generatedChain, generatedImplementations, generatedWideDag } from '../test/fixtures/generated-pipelines';

/**
 * The pipeline of the fan-out benchmark (bench/fanout.ts), loaded by its worker through
 * SLUICE_EXTRA_PIPELINES: a list of n integers, a no-op step per item, and a step that receives
 * the whole fan-in as its typed list. Nothing is cached, so a run measures orchestration alone;
 * variants run one activity per item, and with the cache on (a run, then its rerun).
 * And pipelines of 2,000 nodes (`npm run bench -- fanout nodes`): a chain, and a DAG 50 nodes wide
 * and 40 deep, of one cheap step.
 */

export const FANOUT_PARALLELISM = 64;

const itemsStep = step({
  name: 'bench.fanout-items',
  description: 'the integers [0, n) (benchmark)',
  input: z.object({ n: z.number().int().min(0).max(10_000_000) }),
  output: z.object({ items: z.array(z.number()) }),
  timeouts: { startToClose: '5m' },
  cache: false,
});
const noopStep = step({
  name: 'bench.fanout-noop',
  description: 'return its input unchanged (benchmark)',
  input: z.object({ value: z.number() }),
  output: z.object({ value: z.number() }),
  timeouts: { startToClose: '1m' },
  cache: false,
});
const countStep = step({
  name: 'bench.fanout-count',
  description: 'how many results the fan-in holds, and their sum (benchmark)',
  input: z.object({ results: z.array(z.object({ value: z.number() })) }),
  output: z.object({ count: z.number().int(), sum: z.number() }),
  timeouts: { startToClose: '5m' },
  cache: false,
});

/** The no-op with the cache on (keys salted per bench run), for a first run and its fully cached rerun. */
const cachedNoopStep = step({
  name: 'bench.fanout-noop-cached',
  description: 'return its value unchanged, cached (benchmark)',
  input: z.object({ value: z.number(), salt: z.string() }),
  output: z.object({ value: z.number() }),
  timeouts: { startToClose: '1m' },
});

export const implementations = [
  implement(itemsStep, async ({ n }) => ({ items: Array.from({ length: n }, (_, i) => i) })),
  implement(noopStep, async (input) => input),
  implement(cachedNoopStep, async ({ value }) => ({ value })),
  implement(countStep, async ({ results }) => ({ count: results.length, sum: results.reduce((s, r) => s + r.value, 0) })),
  ...generatedImplementations,
];

export const fanoutBench = pipeline({ name: 'bench-wide-fanout', params: z.object({ n: z.number().int() }) }, (p, b) => {
  const items = b.step('items', itemsStep, { n: p.n });
  const each = b.map('each', noopStep, { over: items.output.items, parallelism: FANOUT_PARALLELISM }, (value) => ({ value }));
  const count = b.step('count', countStep, { results: each.output });
  return { count: count.output.count, sum: count.output.sum };
});

/** The same fan-out with one activity per item (`itemsPerTask: 1`): the engine's overhead against the raw workflow's, like for like. */
export const fanoutBenchPerItem = pipeline({ name: 'bench-wide-fanout-per-item', params: z.object({ n: z.number().int() }) }, (p, b) => {
  const items = b.step('items', itemsStep, { n: p.n });
  const each = b.map('each', noopStep, { over: items.output.items, parallelism: FANOUT_PARALLELISM, itemsPerTask: 1 }, (value) => ({ value }));
  const count = b.step('count', countStep, { results: each.output });
  return { count: count.output.count, sum: count.output.sum };
});

/** The fan-out with the cache on: run twice with the same salt, the second answers every item from the cache. */
export const fanoutBenchCached = pipeline({ name: 'bench-wide-fanout-cached', params: z.object({ n: z.number().int(), salt: z.string() }) }, (p, b) => {
  const items = b.step('items', itemsStep, { n: p.n });
  const each = b.map('each', cachedNoopStep, { over: items.output.items, parallelism: FANOUT_PARALLELISM }, (value) => ({ value, salt: p.salt }));
  const count = b.step('count', countStep, { results: each.output });
  return { count: count.output.count, sum: count.output.sum };
});

/** Nodes of the generated pipelines: a chain of LONG_NODES, and WIDE_WIDTH × (LONG_NODES / WIDE_WIDTH) layers. */
export const LONG_NODES = 2_000;
export const WIDE_WIDTH = 50;
export const longChain = generatedChain('bench-chain-2000', LONG_NODES);
export const wideDag = generatedWideDag('bench-dag-2000', WIDE_WIDTH, LONG_NODES / WIDE_WIDTH);

export const pipelines = [fanoutBench, fanoutBenchPerItem, fanoutBenchCached, longChain, wideDag];
