import { itemAt, type ClaimCheck } from './claim';
import type { EngineLimits, TaskQueues } from './engine-activities';
import type { CacheProbe, RunInfo } from './protocol';
import type { BindingExpr, NodeStep } from './spec';

/**
 * Sharded fan-outs: a `b.map` wider than `EngineLimits.shardSize` runs as child workflows of this
 * type, each over a range of the items (a shard of at most shardSize items, or, for fan-outs
 * wider than shardSize², a range it splits again into at most shardSize shards), so that no
 * execution's history grows with the width of the fan-out. workflows/engine/fan-out.ts runs them.
 */
export const MAP_SHARD_WORKFLOW = 'sluice-map-shard';

/** A shard's start argument: everything it needs, nothing of the run it does not (it is in the shard's history). */
export interface MapShardTask {
  /** The fan-out node's id; items are step runs `node[i]` of the run. */
  node: string;
  step: NodeStep;
  /** The pipeline run the items belong to (its ids, not the shard's), and the run's choices. */
  run: { info: Omit<RunInfo, 'node'>; queues: Omit<TaskQueues, 'limits'>; cache: { enabled: boolean; force: boolean } };
  /** The node's input binding with every ref but the item's already resolved. */
  inputs: BindingExpr;
  /** The run's fan-out list: the slice `[from, to)` inline (`inline[k]` is item `offset + k`), or a claim of the whole list. */
  items: CacheProbe['items'];
  from: number;
  to: number;
  /** Items of this shard in flight at once. */
  parallelism: number;
  /** The node's fixed items per activity (absent: sized from the items' measured time; item-batches.ts). */
  itemsPerTask?: number;
  /** The items its parent's cache probe answered (already recorded as cached): the shard runs the rest without probing again. */
  probed?: number[];
  limits: EngineLimits;
}

export interface MapShardResult {
  /** The outputs of items `[from, to)` in order, by reference. */
  results: ClaimCheck;
  /** Items answered from the cache. */
  cached: number;
}

/** Item `i` (an index in the run's list) of a shard's items: inline, or a claim of the item. */
export function shardItem(items: MapShardTask['items'], i: number): unknown {
  return 'claim' in items ? itemAt(items.claim, i) : items.inline[i - items.offset];
}
