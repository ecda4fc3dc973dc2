import type { MapShardResult, MapShardTask } from '../../pipelines/dsl/fan-out';
import { runMapShard } from './fan-out';

/** Workflow type `sluice-map-shard` (MAP_SHARD_WORKFLOW): one shard of a sharded fan-out (fan-out.ts). */
export async function mapShard(task: MapShardTask): Promise<MapShardResult> {
  return runMapShard(task);
}
