/** An error and its causes, one after the other (`a <- b <- c`): what failed a run, not just "Workflow execution failed". */
export function failureText(e: unknown): string {
  const parts: string[] = [];
  for (let c: unknown = e; c && parts.length < 8; c = (c as { cause?: unknown }).cause) parts.push(String((c as Error).message ?? c));
  return parts.join(' <- ');
}
