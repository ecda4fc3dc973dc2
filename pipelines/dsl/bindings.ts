/**
 * Resolving bindings and conditions against the values of a run in progress. Deterministic and
 * pure: workflow code runs it, and so does a step worker probing the cache for a shard of items.
 */
import { claimAt, isClaim } from './claim';
import type { BindingExpr, ConditionExpr, RefExpr } from './spec';

/** Values a binding can refer to while a run is in progress. Deterministic, pure. */
export interface Scope {
  params: Record<string, unknown>;
  context?: Record<string, unknown>;
  outputs: Map<string, unknown>;
  item?: { node: string; value: unknown };
}

export function resolveRef(ref: RefExpr, scope: Scope): unknown {
  let v: unknown;
  if (ref.source === 'params') v = scope.params;
  else if (ref.source === 'context') v = scope.context;
  else if (ref.source === 'item') {
    if (!scope.item || scope.item.node !== ref.node) throw new Error(`fan-out item of ${ref.node} used outside its node`);
    v = scope.item.value;
  } else v = scope.outputs.get(ref.node!);
  for (let i = 0; i < ref.path.length; i++) {
    if (v === null || v === undefined) return undefined;
    // A value passed by reference is not read here: the ref extends the claim, and the step
    // runtime reads the part it points to.
    if (isClaim(v)) return claimAt(v, ref.path.slice(i));
    v = (v as Record<string, unknown>)[ref.path[i]!];
  }
  return v;
}

/**
 * The binding with every ref but those to the fan-out item replaced by its value: what a shard
 * needs to build each item's input without the run's params and outputs.
 */
export function bindAllButItem(e: BindingExpr, scope: Scope): BindingExpr {
  switch (e.kind) {
    case 'literal':
      return e;
    case 'ref':
      return e.ref.source === 'item' ? e : { kind: 'literal', value: resolveRef(e.ref, scope) };
    case 'list':
      return { kind: 'list', items: e.items.map((i) => bindAllButItem(i, scope)) };
    case 'object':
      return { kind: 'object', fields: Object.fromEntries(Object.entries(e.fields).map(([k, f]) => [k, bindAllButItem(f, scope)])) };
  }
}

export function resolveBinding(e: BindingExpr, scope: Scope): unknown {
  switch (e.kind) {
    case 'literal':
      return e.value;
    case 'ref':
      return resolveRef(e.ref, scope);
    case 'list':
      return e.items.map((i) => resolveBinding(i, scope));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, f] of Object.entries(e.fields)) {
        const v = resolveBinding(f, scope);
        if (v !== undefined) out[k] = v;
      }
      return out;
    }
  }
}

export function evaluateCondition(c: ConditionExpr, scope: Scope): boolean {
  switch (c.op) {
    case 'and':
      return c.all.every((x) => evaluateCondition(x, scope));
    case 'or':
      return c.all.some((x) => evaluateCondition(x, scope));
    case 'not':
      return !evaluateCondition(c.cond, scope);
    case 'truthy':
      return Boolean(resolveBinding(c.value, scope));
    default: {
      const l = resolveBinding(c.left, scope) as number | string;
      const r = resolveBinding(c.right, scope) as number | string;
      if (isClaim(l) || isClaim(r)) throw new Error('a condition compares a value passed by reference (over SLUICE_CLAIM_THRESHOLD); compare a small field instead');
      switch (c.op) {
        case 'eq':
          return l === r;
        case 'ne':
          return l !== r;
        case 'gt':
          return l > r;
        case 'gte':
          return l >= r;
        case 'lt':
          return l < r;
        case 'lte':
          return l <= r;
      }
    }
  }
}
