import type { Ref } from './refs';

/**
 * Conditions on run-time values, for `b.when(cond, () => …)`. Typed: comparing a Ref<number> with
 * a string does not compile. Kept as data; the engine evaluates them when their inputs are known.
 */
export const COND = '__sluiceCondition' as const;

export type Comparison = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte';

export type ConditionBuild =
  | { op: Comparison; left: unknown; right: unknown }
  | { op: 'truthy'; value: unknown }
  | { op: 'and' | 'or'; all: Condition[] }
  | { op: 'not'; cond: Condition };

export interface Condition {
  readonly [COND]: ConditionBuild;
}

const make = (c: ConditionBuild): Condition => ({ [COND]: c });

type Scalar = string | number | boolean | null;

/**
 * A comparison whose type comes from the ref side only (NoInfer), so a literal outside an enum
 * (`eq(langRef, 'de')` with lang: 'en' | 'fr') is rejected instead of widening T to take it in.
 */
interface Compare<Bound> {
  <T extends Bound>(left: Ref<T>, right: Ref<T>): Condition;
  <T extends Bound>(left: Ref<T>, right: NoInfer<T> | Ref<NoInfer<T>>): Condition;
  <T extends Bound>(left: NoInfer<T>, right: Ref<T>): Condition;
}
const compare = <Bound>(op: Comparison): Compare<Bound> => ((left: unknown, right: unknown) => make({ op, left, right })) as Compare<Bound>;

export const eq = compare<Scalar>('eq');
export const ne = compare<Scalar>('ne');
export const gt = compare<number | string>('gt');
export const gte = compare<number | string>('gte');
export const lt = compare<number | string>('lt');
export const lte = compare<number | string>('lte');
export const isTrue = (value: Ref<boolean | undefined | null>) => make({ op: 'truthy', value });
export const and = (...all: [Condition, ...Condition[]]) => make({ op: 'and', all });
export const or = (...all: [Condition, ...Condition[]]) => make({ op: 'or', all });
export const not = (cond: Condition) => make({ op: 'not', cond });

export function isCondition(x: unknown): x is Condition {
  return typeof x === 'object' && x !== null && COND in x;
}
