/**
 * Typed references: placeholders for values known only at run time (params, earlier outputs, the
 * current item of a fan-out). `Ref<T>` carries T as a phantom type, so wiring a Ref<number> where
 * a string is expected is a compile error. At run time a ref is only a source and a path.
 */

export const REF = '__sluiceRef' as const;

export type RefSource =
  | { kind: 'params' }
  | { kind: 'context' }
  | { kind: 'node'; node: string }
  | { kind: 'item'; node: string };

export interface RefData {
  source: RefSource;
  path: string[];
  /** The pipeline builder that made this ref: a ref used in another pipeline is a compile error. */
  owner: object;
}

export interface Ref<T> {
  readonly [REF]: RefData;
  /**
   * Phantom: never set, exists so that Ref<A> is assignable to Ref<B> only when A is to B. A
   * function type, because a plain optional property would let `undefined` slip through.
   */
  readonly __type?: () => T;
}

type Leaf = string | number | boolean | bigint | null | undefined | Date | readonly unknown[];

/** `undefined` when T may be null or undefined: a field reached through it may be missing. */
type Nullish<T> = Extract<T, null | undefined> extends never ? never : undefined;

/** A ref that also offers refs to its fields: `ingest.output.dataset.uri`. */
export type RefTree<T> = Ref<T> &
  ([NonNullable<T>] extends [Leaf]
    ? unknown
    : { readonly [K in keyof NonNullable<T> & string]-?: RefTree<NonNullable<T>[K] | Nullish<T>> });

/** A binding for a value of type T: a literal, a ref, or an object whose fields are bindings. */
export type Binding<T> =
  | T
  | Ref<T>
  | (T extends readonly (infer E)[] ? Binding<E>[] : T extends Leaf ? never : T extends object ? { [K in keyof T]: Binding<T[K]> } : never);

export function isRef(x: unknown): x is Ref<unknown> {
  return typeof x === 'function' || (typeof x === 'object' && x !== null) ? (x as Record<string, unknown>)[REF] !== undefined && typeof (x as Record<string, unknown>)[REF] === 'object' : false;
}

export function refData(x: Ref<unknown>): RefData {
  return x[REF];
}

/** Builds a RefTree at run time: any property access extends the path. */
export function makeRef<T>(data: RefData): RefTree<T> {
  return new Proxy({} as RefTree<T>, {
    get(_t, prop) {
      if (prop === REF) return data;
      // A ref is a placeholder, not a value: using it in a template literal or arithmetic would
      // silently produce garbage, so say so instead.
      if (prop === Symbol.toPrimitive || prop === 'toString' || prop === 'valueOf') {
        return () => {
          const where = data.source.kind === 'params' || data.source.kind === 'context' ? data.source.kind : `node "${data.source.node}"`;
          throw new TypeError(
            `a ref to ${where}${data.path.length ? `.${data.path.join('.')}` : ''} was used as a value (in a template literal or arithmetic?); ` +
              'refs only stand for run-time values: pass them whole as step inputs and combine values inside a step',
          );
        };
      }
      // Not thenable: keeps refs from being awaited by accident.
      if (typeof prop === 'symbol' || prop === 'then' || prop === 'toJSON') return undefined;
      return makeRef({ ...data, path: [...data.path, prop] });
    },
    has(_t, prop) {
      return prop === REF;
    },
  });
}
