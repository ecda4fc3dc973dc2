/**
 * Polls `fn` until it gives a value (not undefined), for conditions a test waits on in a live
 * system (a workflow's state, rows a worker writes). An error from `fn` counts as "not yet" (the
 * service may be restarting), and the last one is named if the wait times out.
 */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 120_000, everyMs = 250): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}
