import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { assertRunInterface, type RunStepLookup } from '../activities/runtime/schema-check';
import { compile } from '../pipelines/dsl/compile';
import { pipeline } from '../pipelines/dsl/pipeline';
import type { StepCall } from '../pipelines/dsl/protocol';
import { nodeStep } from '../pipelines/dsl/spec';
import { step } from '../pipelines/dsl/step';
import { isFailure, type SluiceFailure } from '../pipelines/failures';
import { implement } from '../activities/runtime/implement';
import { assertCanRun, type Registry } from '../workers/registry';

/**
 * The worker side of the steps table: a step whose schema changed under a run in flight is
 * refused as StepVersionMismatch naming the field, not left to fail as some InvalidInput later.
 * The run's spec is compiled from the old signature, the worker holds the new one. No Temporal:
 * the lookup that asks the run for its steps-table entry is replaced by reading the spec.
 */

const output = z.object({ rows: z.number() });
const v1 = step({ name: 'demo.load', input: z.object({ name: z.string(), limit: z.number().default(10) }), output });
// Same name and version, as after an edit that forgot to bump it: limit is now a string.
const v2 = step({ name: 'demo.load', input: z.object({ name: z.string(), limit: z.string().default('10') }), output });

const spec = compile(
  pipeline({ name: 'loads', params: z.object({}) }, (_p, b) => {
    const l = b.step('load', v1, { name: 'iris' });
    return { rows: l.output.rows };
  }),
);

/** The StepCall the engine makes for the node, from the run's spec. */
function callFor(nodeId: string): StepCall {
  const st = nodeStep(spec, spec.nodes.find((n) => n.id === nodeId)!);
  return {
    run: { runId: 'r1', workflowId: 'w1', pipeline: spec.name, pipelineVersion: spec.version, node: nodeId },
    input: { name: 'iris' },
    cache: { enabled: false, key: 'code', force: false },
    stepVersion: st.version,
    inputSchemaHash: st.inputSchemaHash,
    outputSchemaHash: st.outputSchemaHash,
  };
}

const fromSpec: RunStepLookup = async (call, name) => {
  assert.equal(call.run.workflowId, 'w1', 'asks the run that made the call');
  return spec.steps[name];
};

async function refusal(p: Promise<void>): Promise<SluiceFailure> {
  try {
    await p;
  } catch (e) {
    assert.ok(isFailure(e, 'StepVersionMismatch'), `expected StepVersionMismatch, got ${(e as Error)?.stack ?? e}`);
    return e;
  }
  assert.fail('the call was not refused');
}

test('a worker whose step input schema differs from the run\'s refuses the call, naming the step and the field', async () => {
  const e = await refusal(assertRunInterface(callFor('load'), v2, fromSpec));
  assert.equal(e.retryable, false);
  assert.match(e.message, /node load: step demo\.load@1 changed under this run/);
  assert.match(e.message, /input limit \(changed: number → string\)/);
  assert.doesNotMatch(e.message, /output/, 'the output schema did not change');
  const details = e.details as { step: string; mismatches: { io: string; changes: { path: string }[] }[] };
  assert.equal(details.step, 'demo.load');
  assert.deepEqual(
    details.mismatches.map((m) => [m.io, m.changes.map((c) => c.path)]),
    [['input', ['limit']]],
  );
});

test('an output field removed under the run is named too', async () => {
  const v3 = step({ name: 'demo.load', input: v1.input, output: z.object({ count: z.number() }) });
  const e = await refusal(assertRunInterface(callFor('load'), v3, fromSpec));
  assert.match(e.message, /output rows \(removed, was number\), count \(added: number\)/);
});

test('when the run cannot be asked, the refusal still names the step and both hashes', async () => {
  const e = await refusal(assertRunInterface(callFor('load'), v2, async () => { throw new Error('no client'); }));
  const call = callFor('load');
  assert.match(e.message, new RegExp(`step demo\\.load@1 changed under this run: input schema ${call.inputSchemaHash} → [0-9a-f]{16} \\(the run's schema could not be read`));
});

test('the same schemas, and calls of runs from before the steps table (no hashes), pass', async () => {
  let asked = 0;
  const counting: RunStepLookup = async (c, n) => (asked++, fromSpec(c, n));
  await assertRunInterface(callFor('load'), v1, counting);
  const { inputSchemaHash: _i, outputSchemaHash: _o, ...old } = callFor('load');
  await assertRunInterface(old, v2, counting);
  assert.equal(asked, 0, 'the run is asked only when a hash differs');
});

test('a worker refuses to start when a registered spec declares other schemas than its implementation, naming the field', () => {
  const reg = (impl: typeof v1) =>
    ({ pipelines: new Map(), specs: new Map([[spec.name, spec]]), implementations: new Map([[impl.name, implement(impl, async () => ({ rows: 1 }))]]) }) as unknown as Registry;
  assert.doesNotThrow(() => assertCanRun(reg(v1), 'cpu'));
  assert.throws(() => assertCanRun(reg(v2 as unknown as typeof v1), 'cpu'), /pipeline loads, node load: step "demo\.load"@1 has other schemas than its implementation: input limit \(changed: number → string\)/);
});
