import type { z } from 'zod';

/**
 * Step options are strict: every object a run's params or a pipeline author's literals reach
 * refuses an unknown key (`unknown key "x" in params.gbdt; accepted: …`, see unknown-keys.ts).
 * The exception is a value one step produces and another takes as input (artifact and dataset
 * refs, models, evaluation summaries, scoring plans): it is passed on as recorded, and values of
 * that shape recorded by older code (run histories, the step cache) must still bind, so such a
 * schema strips keys it does not know instead of refusing them. Marking it here says so, and the
 * strictness test (test/step-options-strict.test.ts) skips what is marked and nothing else.
 */
const passedOn = new WeakSet<z.core.$ZodType>();

/** Marks `schema` as the shape of a value steps pass on (lenient); returns it unchanged. */
export function passedOnValue<T extends z.core.$ZodType>(schema: T): T {
  passedOn.add(schema);
  return schema;
}

export function isPassedOnValue(schema: z.core.$ZodType): boolean {
  return passedOn.has(schema);
}
