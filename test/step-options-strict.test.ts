import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { z } from 'zod';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseOrFail } from '../activities/runtime/step-activity';
import { isPassedOnValue } from '../pipelines/dsl/passed-on';
import { isStep, type AnyStep } from '../pipelines/dsl/step';
import { checkRunInput } from '../pipelines/dsl/run-input';
import { builtinPipelines } from '../pipelines/index';
import { greetStep } from '../pipelines/hello';
import { buildTrainingSet } from '../pipelines/build-training-set';
import { trainLogisticStep } from '../pipelines/steps/training';
import { datasetRef } from '../pipelines/steps/dataset';
import { projectRoot } from '../infra/paths';

/**
 * Step options are strict everywhere: every object schema a run's params or a step's input
 * reaches refuses a key it does not declare, so a misspelt option fails instead of being dropped.
 * The walk covers every pipeline of the catalogue (its params, no exception) and every step
 * signature under pipelines/ (its input, except values steps pass each other, marked with
 * passedOnValue), so a new lenient object fails here.
 */

type Schema = z.core.$ZodType;
const UNKNOWN = '__surely_not_a_key__';

/** Every object schema under `root` with its path; passed-on values are not entered when `skipPassedOn`. */
function objectSchemas(root: Schema, at: string, skipPassedOn: boolean): { path: string; schema: Schema }[] {
  const found: { path: string; schema: Schema }[] = [];
  const seen = new Set<Schema>();
  const visit = (s: Schema, path: string): void => {
    if (seen.has(s) || (skipPassedOn && isPassedOnValue(s))) return;
    seen.add(s);
    const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
    const child = (k: string) => def[k] as Schema;
    switch (def.type) {
      case 'object':
        found.push({ path, schema: s });
        for (const [k, v] of Object.entries(def.shape as Record<string, Schema>)) visit(v, `${path}.${k}`);
        break;
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'catch':
      case 'readonly':
      case 'nonoptional':
        visit(child('innerType'), path);
        break;
      case 'lazy':
        visit((def.getter as () => Schema)(), path);
        break;
      case 'pipe':
        visit(child('in'), path);
        visit(child('out'), path);
        break;
      case 'array':
        visit(child('element'), `${path}[]`);
        break;
      case 'record':
        visit(child('valueType'), `${path}.*`);
        break;
      case 'union':
        (def.options as Schema[]).forEach((o) => visit(o, path));
        break;
      case 'intersection':
        visit(child('left'), path);
        visit(child('right'), path);
        break;
      case 'tuple':
        (def.items as Schema[]).forEach((o, i) => visit(o, `${path}[${i}]`));
        break;
    }
  };
  visit(root, at);
  return found;
}

/** Whether parsing an object with one unknown key reports that key (other issues may come too). */
function refusesUnknownKey(s: Schema): boolean {
  const r = (s as z.ZodType).safeParse({ [UNKNOWN]: 1 });
  return !r.success && r.error.issues.some((i) => i.code === 'unrecognized_keys' && i.path.length === 0 && i.keys.includes(UNKNOWN));
}

test('every object in every pipeline’s params, at any depth, refuses an unknown key', () => {
  let objects = 0;
  const lenient: string[] = [];
  // The catalogue's pipelines (pipelines/catalogue.ts builds it from this list; compiling is not needed here).
  for (const p of builtinPipelines) {
    for (const o of objectSchemas(p.params as Schema, `${p.name}:params`, false)) {
      objects++;
      if (!refusesUnknownKey(o.schema)) lenient.push(o.path);
    }
  }
  assert.ok(objects > 50, `walked the params (${objects} objects)`);
  assert.deepEqual(lenient, [], 'these params objects accept unknown keys');
});

/** Every step signature a module under pipelines/ exports (signatures live there; workers only implement them). */
async function stepSignatures(): Promise<AnyStep[]> {
  const files = (fs.readdirSync(path.join(projectRoot, 'pipelines'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  const steps = new Map<string, AnyStep>();
  for (const f of files) {
    for (const v of Object.values(await import(pathToFileURL(path.join(projectRoot, 'pipelines', f)).href))) if (isStep(v)) steps.set(v.name, v);
  }
  return [...steps.values()];
}

test('every object in every step’s input refuses an unknown key, except values steps pass on', async () => {
  let objects = 0;
  const lenient: string[] = [];
  const steps = await stepSignatures();
  assert.ok(steps.some((s) => s.name === 'features.materialize') && steps.length > 30, `found the steps (${steps.length})`);
  for (const step of steps) {
    for (const o of objectSchemas(step.input as Schema, `${step.name}:input`, true)) {
      objects++;
      if (!refusesUnknownKey(o.schema)) lenient.push(o.path);
    }
  }
  assert.ok(objects > 50, `walked the step inputs (${objects} objects)`);
  assert.deepEqual(lenient, [], 'these step-input objects accept unknown keys: make them strict, or mark a value steps pass on with passedOnValue');
  // The walk sees lenient objects: a ref is one, and is skipped only because it is marked.
  assert.equal(refusesUnknownKey(datasetRef), false);
  assert.equal(isPassedOnValue(datasetRef), true);
});

test('the unknown key is named with its path and the accepted keys, in run params and step input alike', () => {
  const ref = { uri: 'cas/x', sha256: 'a'.repeat(64), size: 1, name: 'labels', version: 1, rows: 1, schema: [{ name: 'at', type: 'timestamp', nullable: false, nulable: true }] };
  const r = checkRunInput(buildTrainingSet, { entities: ref, views: [{ name: 'v', version: 1 }] });
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.message : '', /unknown key "nulable" in params\.entities\.schema\[0\]; accepted: name, type, nullable/);

  assert.throws(
    () => parseOrFail(trainLogisticStep.input, { train: ref, target: 'y', params: { l2: 0.1, maxIters: 5 } }, 'input of step train.logistic (node t)'),
    /invalid input of step train\.logistic \(node t\): unknown key "maxIters" in input\.params; accepted: l2, maxIter, tol, maxCategories, validationFraction, seed/,
  );
  assert.throws(() => parseOrFail(greetStep.input, { name: 'a', dealyMs: 5 }, 'input of step hello.greet (node greet)'), /unknown key "dealyMs" in input; accepted: name, delayMs/);
  // A ref passed on with a key this version does not know (recorded by other code) still binds, stripped.
  const parsed = parseOrFail(trainLogisticStep.input, { train: { ...ref, schema: [], producedBy: 'older code' }, target: 'y' }, 'input of step train.logistic (node t)');
  assert.equal('producedBy' in parsed.train, false);
});
