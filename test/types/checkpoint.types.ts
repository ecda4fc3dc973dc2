/**
 * Type-level test of typed checkpoints: checked by tsc, never run. A step that declares a
 * checkpoint schema hands its implementation the parsed type; one without gets `unknown`.
 */
import { implement } from '../../activities/runtime/implement';
import { greetStep } from '../../pipelines/hello';
import { passStep } from '../../pipelines/util/steps';

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

export const typed = implement(greetStep, async (_input, ctx) => {
  type _typed = Expect<Equal<typeof ctx.checkpoint, { elapsedMs: number } | undefined>>;
  // @ts-expect-error the schema has no such field
  void ctx.checkpoint?.elapsed;
  return { greeting: { uri: 'cas/x', sha256: '0'.repeat(64), size: 0 } };
});

export const untyped = implement(passStep, async (input, ctx) => {
  type _untyped = Expect<Equal<typeof ctx.checkpoint, unknown>>;
  return { value: input.value };
});
