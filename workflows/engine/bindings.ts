import type { BindingExpr, ConditionExpr, RefExpr } from '../../pipelines/dsl/spec';

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
  for (const k of ref.path) {
    if (v === null || v === undefined) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
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
