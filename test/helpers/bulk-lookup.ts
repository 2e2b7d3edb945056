/**
 * Many requests against the server under test with bounded concurrency, and
 * the "is every id still found" check the durability tests end with.
 *
 * @example
 *   const misses = await idsNotFound(server, ids);   // [] when every GET was 200
 */
import type { HttpResult, ServerProcess } from './server-process.js';

/** Runs fn over items with at most `concurrency` calls in flight; resolves when all are done. */
export async function forEachConcurrent<T>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
}

export interface Miss {
  readonly id: string;
  /** The status, or the error message when the request failed. */
  readonly outcome: number | string;
  readonly body?: unknown;
}

/** GETs every id; returns those not answered 200 (with what they got). */
export async function idsNotFound(server: ServerProcess, ids: readonly string[], concurrency = 16): Promise<Miss[]> {
  const misses: Miss[] = [];
  await forEachConcurrent(ids, concurrency, async (id) => {
    let res: HttpResult;
    try {
      res = await server.getProduct(id, 10_000);
    } catch (err) {
      misses.push({ id, outcome: (err as Error).message });
      return;
    }
    if (res.status !== 200) misses.push({ id, outcome: res.status, body: res.body });
  });
  return misses;
}
