import type { ArtifactStore } from '../infra/artifacts';
import type { Db } from '../infra/db/pool';
import type { AliasChange } from '../infra/db/registry';
import type { Catalogue } from '../pipelines/catalogue';
import type { RunState } from '../pipelines/dsl/protocol';
import type { RolloutStatus } from '../pipelines/rollout/protocol';

/**
 * What the console needs from its process. Actions that go through Temporal are handed in by the
 * composition root (cli/commands/ui.ts) as the very functions the CLI commands call, so a run
 * started or an approval sent from a page is validated exactly as from the command line; registry
 * actions call infra/db/registry.ts, which validates every change itself.
 */
export interface ConsoleActions {
  /** `sluice run NAME --input JSON` (params checked against the pipeline's schema before starting). */
  startRun(pipeline: string, params: unknown): Promise<{ workflowId: string; runId: string }>;
  /** `sluice approve|reject WORKFLOW_ID NODE --reason … --by …` (the run's update validator decides). */
  approve(workflowId: string, req: { node: string; decision: 'approve' | 'reject'; by: string; reason: string }): Promise<{ approved: boolean }>;
  /** The run's `state` query (live node states while it runs); undefined when Temporal has no such run. */
  runState?(workflowId: string, runId: string): Promise<RunState | undefined>;
  /**
   * `sluice retrain MODEL --reason … --by …`: signals the model's drift monitor and waits for its
   * decision; the message says what it decided (started with the run id, a duplicate, or why not).
   * Throws "no drift monitor for model X" when the model has none.
   */
  retrain?(model: string, req: { reason: string; by: string }): Promise<{ kind: 'started' | 'duplicate' | 'not-started' | 'pending'; message: string }>;
  /** `sluice models rollback NAME`: champion back to the previous champion, audited in alias_events. */
  rollbackChampion?(model: string, by: { actor: string; reason: string }): Promise<AliasChange>;
  /** The drift monitor's status query (its policy and recent decisions); undefined when there is no monitor. */
  monitorStatus?(model: string): Promise<unknown>;
  /** The model's rollout workflow's status query (`sluice rollout status`): phase, posteriors, guardrails, decisions. */
  rolloutStatus?(model: string): Promise<RolloutStatus>;
  /** A pipeline's Temporal schedules (`sluice schedule list`, those that start this pipeline). */
  schedules?(pipeline: string): Promise<ScheduleRow[]>;
}

export interface ScheduleRow {
  id: string;
  cron: string[];
  paused: boolean;
  note: string | undefined;
  nextRuns: string[];
}

export interface ConsoleDeps {
  db: Db;
  store: ArtifactStore;
  catalogue: Catalogue;
  actions: ConsoleActions;
  /** Who acts when the request names nobody (no basic-auth user): the CLI's default actor. */
  defaultActor: string;
  /** The Temporal UI, for deep links to a run's workflow. */
  temporalUi?: { url: string; namespace: string } | undefined;
  /** The token of SLUICE_UI_TOKEN_ENV: required on every request when set. */
  token?: string | undefined;
  /** Poll interval of live pages, ms. */
  pollMs?: number;
}
