/**
 * Whether the product database answers, as the service last saw it: any call
 * that fails with DatabaseUnavailableError marks it down, any call that
 * succeeds marks it up. While it is down a cheap check (`store.horizon()`) runs
 * on the Scheduler, so the state recovers without traffic. `/health` reads it
 * (degraded while down) and the log says when it changes.
 *
 * @example
 *   const health = new DatabaseHealth({ check: () => store.horizon(), logger });
 *   const tracked = trackHealth(store, health); // every call reports to health
 *   health.healthy; // false after a DatabaseUnavailableError, until a call succeeds
 */
import { realScheduler, type Cancel, type Scheduler } from '../lifecycle/scheduler.js';
import type { Logger } from '../logger.js';

export interface DatabaseHealthOptions {
  /** A cheap call that resolves when the database answers. */
  readonly check: () => Promise<unknown>;
  readonly logger: Logger;
  /** How often the check runs while the database is down (default 1000 ms). */
  readonly checkEveryMs?: number;
  readonly scheduler?: Scheduler;
}

export class DatabaseHealth {
  readonly #o: DatabaseHealthOptions;
  #healthy = true;
  #lastError: string | null = null;
  #cancelCheck: Cancel | undefined;
  #checking = false;
  #closed = false;

  constructor(options: DatabaseHealthOptions) {
    this.#o = options;
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  /** Why the database was last marked down (kept after it recovers, for /admin/status). */
  get lastError(): string | null {
    return this.#lastError;
  }

  /** A call answered. */
  ok(): void {
    if (this.#healthy) return;
    this.#healthy = true;
    this.#cancelCheck?.();
    this.#cancelCheck = undefined;
    this.#o.logger.info('database is back');
  }

  /** A call failed with DatabaseUnavailableError. */
  failed(err: unknown): void {
    this.#lastError = err instanceof Error ? err.message : String(err);
    if (!this.#healthy) return;
    this.#healthy = false;
    this.#o.logger.warn('database unavailable; lookups that need it answer 503 until it is back', { err });
    if (this.#closed) return;
    this.#cancelCheck = (this.#o.scheduler ?? realScheduler).every(this.#o.checkEveryMs ?? 1000, () => void this.#check());
  }

  async #check(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      await this.#o.check();
      this.ok();
    } catch {
      // still down; the next tick tries again
    } finally {
      this.#checking = false;
    }
  }

  close(): void {
    this.#closed = true;
    this.#cancelCheck?.();
    this.#cancelCheck = undefined;
  }
}
