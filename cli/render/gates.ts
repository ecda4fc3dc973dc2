/**
 * One line per failed registration gate among a run's outputs (`failedGates`, as train-model and
 * import-model return them), so a run that registered nothing says why under its JSON instead of
 * leaving `"registered": false` to be puzzled over.
 */
export function gateLines(outputs: unknown): string[] {
  const o = outputs as { registered?: unknown; failedGates?: unknown } | null | undefined;
  if (!o || o.registered !== false || !Array.isArray(o.failedGates) || !o.failedGates.length) return [];
  const reasons = o.failedGates.map((g) => String((g as { reason?: unknown }).reason ?? JSON.stringify(g)));
  return [`not registered: ${reasons.join('; ')} (set "gates" in the params to change the bar)`];
}
