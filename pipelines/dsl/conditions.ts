import type { Ref } from './refs';

/**
 * Conditions on run-time values, for `b.when(cond, () => …)`. Typed: comparing a Ref<number> with
 * a string does not compile. Kept as data; the engine evaluates them when their inputs are known.
 */
export const COND = '__sluiceCondition' as const;

type Operand<T> = T | Ref<T>;
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
export const eq = <T extends Scalar>(left: Operand<T>, right: Operand<T>) => make({ op: 'eq', left, right });
export const ne = <T extends Scalar>(left: Operand<T>, right: Operand<T>) => make({ op: 'ne', left, right });
export const gt = <T extends number | string>(left: Operand<T>, right: Operand<T>) => make({ op: 'gt', left, right });
export const gte = <T extends number | string>(left: Operand<T>, right: Operand<T>) => make({ op: 'gte', left, right });
export const lt = <T extends number | string>(left: Operand<T>, right: Operand<T>) => make({ op: 'lt', left, right });
export const lte = <T extends number | string>(left: Operand<T>, right: Operand<T>) => make({ op: 'lte', left, right });
export const isTrue = (value: Ref<boolean | undefined | null>) => make({ op: 'truthy', value });
export const and = (...all: [Condition, ...Condition[]]) => make({ op: 'and', all });
export const or = (...all: [Condition, ...Condition[]]) => make({ op: 'or', all });
export const not = (cond: Condition) => make({ op: 'not', cond });

export function isCondition(x: unknown): x is Condition {
  return typeof x === 'object' && x !== null && COND in x;
}
