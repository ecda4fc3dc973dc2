/** Binding resolution lives in pipelines/dsl/bindings.ts: a shard's cache probe (a worker) resolves items' inputs the same way. */
export * from '../../pipelines/dsl/bindings';
