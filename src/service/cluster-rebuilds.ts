/**
 * Online rebuilds in cluster mode (issue 11 §5), in front of FilterRebuilder:
 *
 * - one at a time across the cluster: a rebuild starts only while this
 *   instance holds the rebuild lock (src/cluster/rebuild-lock.ts); a trigger
 *   that finds it held waits and tries again every second;
 * - the same parameters everywhere: a rebuild that grows the capacity stores
 *   it in the database (CAPACITY_SETTING, as in single-instance mode), and
 *   every instance checks that setting periodically; one whose filter is
 *   smaller rebuilds itself to it (one at a time, through the same lock), so
 *   all end with the same m and the shared snapshot fits every one of them.
 *
 * No false negative while any of this runs: each rebuild is correct on its
 * own (commits, feed entries and catch-ups add to both generations through
 * ActiveFilter.add; see src/upkeep/online-rebuild.ts), and the lease, the
 * feed and the barrier do not depend on the filter's size.
 *
 * @example
 *   const rebuilds = new ClusterRebuilds({ lock, rebuilder, capacity: () => active.filter.layout.params.capacity, grownCapacity: ... });
 *   triggers = new RebuildTriggers({ rebuilder: rebuilds, ... }); // same start/running/last surface
 */
import type { RebuildLock } from '../cluster/rebuild-lock.js';
import { realScheduler, type Scheduler } from '../lifecycle/scheduler.js';
import type { Logger } from '../logger.js';
import type { FilterRebuilder, RebuildReason, RebuildRecord } from '../upkeep/online-rebuild.js';

export interface ClusterRebuildsOptions {
  readonly lock: Pick<RebuildLock, 'acquire' | 'renew' | 'release' | 'leaseMs'>;
  readonly rebuilder: Pick<FilterRebuilder, 'start' | 'idle' | 'running' | 'last'>;
  /** This instance's filter capacity now. */
  readonly capacity: () => number;
  /** The capacity kept in the database (a grow by any instance); undefined when none. */
  readonly storedCapacity: () => Promise<number | undefined>;
  readonly logger: Logger;
  readonly scheduler?: Scheduler;
  /** Lock retry period while another instance rebuilds. */
  readonly retryMs?: number;
}

export class ClusterRebuilds {
  readonly #o: ClusterRebuildsOptions;
  readonly #scheduler: Scheduler;
  #pending: Promise<void> | undefined;
  #closed = false;

  constructor(options: ClusterRebuildsOptions) {
    this.#o = options;
    this.#scheduler = options.scheduler ?? realScheduler;
  }

  /** True while a rebuild runs here or waits for the cluster's lock. */
  get running(): boolean {
    return this.#pending !== undefined || this.#o.rebuilder.running;
  }

  get last(): RebuildRecord | null {
    return this.#o.rebuilder.last;
  }

  /** Starts (after the cluster's lock) unless one runs or waits here; returns whether it did. */
  start(reason: RebuildReason, detail = '', minCapacity = 0): boolean {
    if (this.running || this.#closed) return false;
    this.#pending = this.#run(reason, detail, minCapacity).finally(() => {
      this.#pending = undefined;
    });
    return true;
  }

  /**
   * A capacity grown by another instance: rebuild to it (call periodically).
   * Returns whether a rebuild was started.
   */
  async followStoredCapacity(): Promise<boolean> {
    if (this.running || this.#closed) return false;
    const stored = await this.#o.storedCapacity();
    const own = this.#o.capacity();
    if (stored === undefined || stored <= own) return false;
    return this.start('capacity', `the cluster's capacity ${stored} > this filter's ${own}`, stored);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#pending;
  }

  async #run(reason: RebuildReason, detail: string, minCapacity: number): Promise<void> {
    const { lock, rebuilder, logger } = this.#o;
    let token: string | undefined;
    for (;;) {
      if (this.#closed) return;
      token = await lock.acquire().catch((err: unknown) => {
        logger.debug('rebuild lock unavailable', { err });
        return undefined;
      });
      if (token !== undefined) break;
      await new Promise<void>((resolve) => this.#scheduler.after(this.#o.retryMs ?? 1_000, resolve));
    }
    const held = token;
    const stopRenewing = this.#scheduler.every(Math.max(1, Math.floor(lock.leaseMs / 3)), () => {
      lock.renew(held).catch(() => false);
    });
    try {
      if (!this.#closed && rebuilder.start(reason, detail, minCapacity)) await rebuilder.idle();
    } finally {
      stopRenewing();
      await lock.release(held).catch(() => undefined);
    }
  }
}
