/**
 * Waiting on a condition instead of sleeping: tests poll what they wait for
 * (a metric, a status field, a key in Redis) and go on the moment it holds, so
 * they are as fast as the machine allows and do not flake when it is slow.
 *
 * @example
 *   await waitFor('the first snapshot', () => snapshots.saves > 0);
 *   const stats = await waitForValue('capacity growth', () => svc.stats(), (s) => s.capacity > 1000);
 */

/** Long enough for a loaded 2-core CI machine; a test that needs more says so. */
export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;
const POLL_INTERVAL_MS = 20;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` (sync or async) every `intervalMs` until it returns true;
 * resolves with the elapsed milliseconds, rejects naming `what` after
 * `timeoutMs`. A `check` that throws ends the wait with its error.
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = DEFAULT_WAIT_TIMEOUT_MS,
  intervalMs = POLL_INTERVAL_MS,
): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await pause(intervalMs);
  }
  return performance.now() - started;
}

/**
 * Polls `read` until `accept` holds for its value, and resolves with that
 * value; on timeout the error shows the last value read.
 */
export async function waitForValue<T>(
  what: string,
  read: () => T | Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = DEFAULT_WAIT_TIMEOUT_MS,
): Promise<T> {
  const started = performance.now();
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (performance.now() - started > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(value)}`);
    }
    await pause(POLL_INTERVAL_MS);
  }
}
