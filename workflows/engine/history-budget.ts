import { patched, workflowInfo } from '@temporalio/workflow';
import { listLength } from '../../pipelines/dsl/claim';
import type { EngineLimits } from '../../pipelines/dsl/engine-activities';
import type { NodeSpec } from '../../pipelines/dsl/spec';
import { resolveBinding, type Scope } from './bindings';
import { PARENT_PROBES_MAX, SHARD_PROBES_PATCH, shardSpan } from './fan-out';

/**
 * How many history events a node can add to the run's execution, at most: what the engine
 * weighs before starting it, so that an execution stops starting nodes before its history passes
 * its budget and continues as new instead (run-pipeline.ts). Over-estimates on purpose; an
 * execution that continues a little early costs one more execution, one that overshoots risks
 * Temporal's hard cap.
 */

/** An activity: scheduled, started, completed, and the workflow task that takes its result. */
const ACTIVITY = 6;
/** A child workflow: initiated, started, completed, and two workflow tasks (its start, its end). */
const CHILD = 9;
/** An approval: its timer, the update (accepted, completed), the recording activity, their workflow tasks. */
const APPROVAL = 20;

export function nodeEventCost(n: NodeSpec, scope: Scope, limits: EngineLimits): number {
  if (n.approval) return APPROVAL;
  if (!n.map) return ACTIVITY;
  // Not a list (or of unknown length): the node fails at once, a few events.
  const count = listLength(resolveBinding(n.map.over, scope)) ?? 0;
  // A fan-out within the shard size runs its items here, then maybe one fan-in activity.
  if (count <= limits.shardSize) return ACTIVITY * (count + 1);
  // A sharded one: its children (and a cache probe of each, where the run probes them itself),
  // then the index of their fan-ins.
  const shards = Math.ceil(count / shardSpan(count, limits.shardSize));
  const probes = shards <= PARENT_PROBES_MAX && patched(SHARD_PROBES_PATCH) ? shards : 0;
  return CHILD * shards + ACTIVITY * (probes + 2);
}

/**
 * The events one execution of a run has left for nodes: a node starts only while the history so
 * far, plus what the nodes in flight may still add, plus the node's own cost stays within the
 * budget. The first node of an execution always starts, whatever its cost: it is the most any
 * execution can hold (a fan-out of `shardSize` items, about 6,000 events at the default 1,000).
 */
export class HistoryBudget {
  private inFlight = 0;
  private started = 0;
  constructor(private readonly budget: number) {}

  /** Whether a node of this cost may start now; if so, it is counted as in flight. */
  take(cost: number): boolean {
    if (this.started > 0 && workflowInfo().historyLength + this.inFlight + cost > this.budget) return false;
    this.inFlight += cost;
    this.started++;
    return true;
  }

  /** A node that ended: its events are in the history now (counted by historyLength). */
  release(cost: number): void {
    this.inFlight -= cost;
  }
}
