import type { ArtifactStore } from '../../infra/artifacts';
import type { Db } from '../../infra/db/pool';
import { shadowComparison, variantCounts } from '../../infra/db/serving';
import { CANDIDATE, CONTROL, type ShadowReportSummary } from '../../pipelines/rollout/protocol';

/** The shadow comparison report's format tag (like the drift report's `sluice.drift-report/1`). */
export const SHADOW_REPORT_FORMAT = 'sluice.shadow-report/1';

const round = (x: number | null | undefined, digits = 4) => (x === null || x === undefined ? null : Math.round(x * 10 ** digits) / 10 ** digits);

/**
 * Compares the candidate's shadow predictions since `since` with the live (control) predictions
 * they mirror: agreement of the predicted labels/values, the mean absolute difference of their
 * scores, latency of both, the candidate's errors. Written as JSON to the artifact store (content
 * addressed, so a retried activity writes the same object); the summary goes into history.
 */
export async function writeShadowReport(
  deps: { db: Db; store: ArtifactStore },
  r: { model: string; rolloutId: string; since: string; control: number; candidate: number },
): Promise<ShadowReportSummary> {
  const since = new Date(r.since);
  const [pairs, counts] = await Promise.all([shadowComparison(deps.db, r.model, since), variantCounts(deps.db, r.model, since)]);
  const mirror = pairs.find((p) => p.variant === CANDIDATE && p.version === r.candidate);
  const live = counts.find((c) => c.variant === CONTROL && c.version === r.control && c.mode === 'live');
  const shadow = counts.find((c) => c.variant === CANDIDATE && c.version === r.candidate && c.mode === 'shadow');
  const report = {
    format: SHADOW_REPORT_FORMAT,
    model: r.model,
    rollout: r.rolloutId,
    window: { since: r.since },
    control: { version: r.control, requests: live?.requests ?? 0, errors: live?.errors ?? 0, latencyMs: { p50: round(live?.p50Ms, 3), p99: round(live?.p99Ms, 3), mean: round(live?.meanMs, 3) } },
    candidate: { version: r.candidate, requests: shadow?.requests ?? 0, errors: shadow?.errors ?? 0, latencyMs: { p50: round(shadow?.p50Ms, 3), p99: round(shadow?.p99Ms, 3), mean: round(shadow?.meanMs, 3) } },
    comparison: {
      pairs: mirror?.pairs ?? 0,
      agreed: mirror?.agreed ?? 0,
      agreement: mirror && mirror.pairs > 0 ? round(mirror.agreed / mirror.pairs) : null,
      meanAbsScoreDiff: round(mirror?.meanAbsScoreDiff),
      latencyP50Ms: { control: round(mirror?.liveP50Ms, 3), candidate: round(mirror?.shadowP50Ms, 3) },
    },
  };
  const ref = await deps.store.putContent(`${JSON.stringify(report, null, 2)}\n`, { contentType: 'application/json' });
  return {
    uri: ref.uri,
    sha256: ref.sha256,
    pairs: report.comparison.pairs,
    agreement: report.comparison.agreement,
    meanAbsScoreDiff: report.comparison.meanAbsScoreDiff,
    controlP50Ms: report.control.latencyMs.p50,
    candidateP50Ms: report.candidate.latencyMs.p50,
    controlP99Ms: report.control.latencyMs.p99,
    candidateP99Ms: report.candidate.latencyMs.p99,
    candidateErrors: report.candidate.errors,
  };
}
