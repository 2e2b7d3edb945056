/** Polls `predicate` every 20 ms until it holds; rejects with `what` after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (!predicate()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - started;
}
