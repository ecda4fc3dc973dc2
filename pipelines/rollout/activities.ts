import type { Route } from '../serving/routes';
import type { RolloutDecision, ShadowReportSummary, Variant, WindowStats } from './protocol';

/**
 * Activities of the rollout workflow (queue cpu), implemented in activities/rollout. Every write
 * is idempotent (a retried call leaves the same rows) and audited.
 */
export interface RolloutActivities {
  /**
   * Checks the candidate is a READY version of the model and resolves the control (default: the
   * `champion` alias). Fails non-retryably (RegistryNotFound, InvalidInput) when they do not fit.
   */
  rolloutPrepare(r: { model: string; candidate: number; control?: number }): Promise<{ control: number; candidate: number }>;
  /** Replaces the model's routing table with `routes` in one transaction (a new epoch: sticky keys are reassigned). */
  rolloutSetRoutes(r: { model: string; rolloutId: string; routes: Route[] }): Promise<{ epoch: number }>;
  /** Deletes the model's routes: its traffic returns to the `champion` alias. */
  rolloutClearRoutes(r: { model: string; rolloutId: string }): Promise<{ removed: number }>;
  /** Per variant, the logged predictions since `since` (ISO) of that variant and version, with their feedback. */
  rolloutStats(r: { model: string; since: string; variants: { variant: Variant; version: number; mode: 'live' | 'shadow' }[] }): Promise<WindowStats>;
  /** Compares the candidate's shadow predictions since `since` with the live ones they mirror; writes the report to the artifact store. */
  rolloutShadowReport(r: { model: string; rolloutId: string; since: string; control: number; candidate: number }): Promise<ShadowReportSummary>;
  /**
   * Points `champion` at `version` through the registry (alias_events keeps who and why, numbers
   * included). With `decision` (a training run's pending promotion), approving that decision is
   * what moves the alias; one settled meanwhile (by a person) or gone stale leaves the move to setAlias.
   */
  rolloutPromote(r: { model: string; version: number; actor: string; reason: string; rolloutId: string; decision?: number }): Promise<{ from: number | null; to: number; changed: boolean }>;
  /** Rejects the pending promotion `decision` of `candidate` (rolled back, aborted, the control won); one already settled is left as it is. */
  rolloutRejectDecision(r: { model: string; candidate: number; decision: number; actor: string; reason: string; rolloutId: string }): Promise<{ outcome: string }>;
  /** Idempotent by (workflow, seq). */
  recordRolloutDecision(r: { model: string; workflowId: string; decision: RolloutDecision }): Promise<void>;
}
