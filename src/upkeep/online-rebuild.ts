/**
 * The online rebuild: a new filter is built from the database while the old
 * one keeps answering, then swapped in.
 *
 *   1. size the new filter: the current capacity, doubled while the database
 *      holds more rows than that (growth keeps the target FPR);
 *   2. allocate a fresh SharedArrayBuffer and start a new worker pool on it
 *      (workers take their buffer from workerData at start, so new memory
 *      means new workers; no task has to carry a buffer);
 *   3. from now on creates add to both filters (ActiveFilter.beginNext);
 *   4. stream every row id (store.scanIds, keyset pages) to the new pool: the
 *      main thread only reads a page and packs it, then yields, so requests
 *      keep flowing; a few pages stay in flight so reading and hashing overlap;
 *   5. set the item count from the OLD filter's item counter and swap, in one
 *      synchronous step (the next lookup reads the new bits). Not from an
 *      awaited count(): a create resolving between the count and the swap
 *      would add to both filters' bits but only to the old filter's items;
 *   6. persist a grown capacity (so the next start sizes the filter the same
 *      and accepts its own snapshot), write a full snapshot, and close the
 *      old pool after its in-flight tasks.
 *
 * No id is ever missing: a create reads the generations after its commit
 * resolved (src/product-writes.ts), so a row whose commit resolved before step
 * 3 was committed before the scan began and is read by it, and a row whose
 * commit resolved after step 3 is added to the new filter by the create itself. Lookups
 * never wait: until step 5 they read the old filter, which still holds every
 * id, and after it the new one.
 *
 * @example
 *   const rebuilder = new FilterRebuilder({ active, products, ... });
 *   rebuilder.start('manual');      // false when one is already running
 *   await rebuilder.idle();
 */
import { BloomFilter } from '../filter/bloom-filter.js';
import type { ActiveFilter } from '../filter/active-filter.js';
import { allocateFilterBuffer, createLayout } from '../filter/layout.js';
import { FilterPool } from '../filter/pool.js';
import { computeFilterParams, MAX_CAPACITY } from '../filter/sizing.js';
import type { Logger } from '../logger.js';
import { addRowsThroughPool } from '../persistence/add-rows.js';
import type { Metrics } from '../metrics/registry.js';
import type { ProductStore } from '../store/product-store.js';

/** Why a rebuild ran (the label of bloomgate_rebuild_triggers_total): POST /admin/rebuild, or a trigger in rebuild-triggers.ts. */
export const REBUILD_REASONS = ['manual', 'stale', 'capacity', 'fpr'] as const;
export type RebuildReason = (typeof REBUILD_REASONS)[number];

/** The settings key of the capacity the filter was last sized for (grows survive restarts). */
export const CAPACITY_SETTING = 'bloom_capacity';

export interface RebuildRecord {
  readonly reason: RebuildReason;
  readonly detail: string;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly ms: number | null;
  readonly ok: boolean | null;
  readonly error: string | null;
  readonly fromCapacity: number;
  readonly toCapacity: number;
  readonly items: number | null;
}

export interface RebuildState {
  readonly running: boolean;
  /** Rows scanned / rows in the database when the rebuild began (0-1). */
  readonly progress: number;
  readonly scannedRows: number;
  readonly totalRows: number;
  readonly current: RebuildRecord | null;
  readonly last: RebuildRecord | null;
  readonly completed: number;
  readonly failed: number;
}

export interface FilterRebuilderOptions {
  readonly active: ActiveFilter;
  readonly products: Pick<ProductStore, 'count' | 'scanIds' | 'putSetting'>;
  readonly threads: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** After the swap: require and start a full snapshot; resolves when written (or failed). */
  readonly afterSwap: () => Promise<void>;
  readonly onWorkerError?: (err: unknown) => void;
  /** Ids per page read from SQLite and sent to the pool. */
  readonly chunkIds?: number;
}

/** 8,192 ids: a page read is ~2 ms of main thread, short enough to keep request latency flat. */
const DEFAULT_CHUNK_IDS = 8192;
/** Pages handed to the pool but not yet hashed; bounds memory. */
const MAX_IN_FLIGHT = 4;

export class FilterRebuilder {
  readonly #o: FilterRebuilderOptions;
  #running: Promise<void> | undefined;
  #current: RebuildRecord | null = null;
  #last: RebuildRecord | null = null;
  #scanned = 0;
  #total = 0;
  #completed = 0;
  #failed = 0;
  #closed = false;

  constructor(options: FilterRebuilderOptions) {
    this.#o = options;
    // Every reason is exported from the first scrape on, so rate() sees the first trigger.
    for (const reason of REBUILD_REASONS) options.metrics.rebuildTriggers.inc({ reason }, 0);
  }

  get running(): boolean {
    return this.#running !== undefined;
  }

  get last(): RebuildRecord | null {
    return this.#last;
  }

  /**
   * Starts a rebuild unless one runs (or the service is closing); logs and
   * counts the trigger. Returns whether it started.
   */
  start(reason: RebuildReason, detail = '', minCapacity = 0): boolean {
    if (this.#running !== undefined || this.#closed) return false;
    const { logger, metrics, active } = this.#o;
    const fromCapacity = active.filter.layout.params.capacity;
    // Sized from the filter's item count (the rows it was told of); the scan's total follows from count() when it answers.
    const rows = active.filter.items;
    // minCapacity: cluster mode, a capacity another instance grew to (src/service/cluster-rebuilds.ts).
    const toCapacity = Math.max(grownCapacity(fromCapacity, rows), Math.min(minCapacity, MAX_CAPACITY));
    metrics.rebuildTriggers.inc({ reason });
    logger.warn(`filter rebuild triggered: ${reason}`, { reason, detail, fromCapacity, toCapacity });
    this.#current = { reason, detail, startedAt: Date.now(), finishedAt: null, ms: null, ok: null, error: null, fromCapacity, toCapacity, items: null };
    this.#scanned = 0;
    this.#total = rows;
    this.#running = this.#run(toCapacity).finally(() => {
      this.#running = undefined;
    });
    return true;
  }

  /** Resolves when no rebuild runs (never rejects). */
  async idle(): Promise<void> {
    await this.#running;
  }

  async #run(capacity: number): Promise<void> {
    const { active, products, logger, metrics } = this.#o;
    const started = performance.now();
    const old = active.filter.layout;
    const layout = createLayout(computeFilterParams(capacity, old.params.targetFpr, old.params.shards), old.seed);
    const filter = new BloomFilter(allocateFilterBuffer(layout), layout);
    const pool = new FilterPool({ filter, threads: this.#o.threads, ...(this.#o.onWorkerError === undefined ? {} : { onWorkerError: this.#o.onWorkerError }) });
    try {
      active.beginNext({ filter, pool });
      this.#o.products.count().then(
        (n) => {
          this.#total = n;
        },
        () => undefined,
      );
      await this.#scan(pool);
    } catch (err) {
      const abandoned = active.abandonNext();
      await abandoned?.pool.close().catch(() => undefined);
      if (abandoned === undefined) await pool.close().catch(() => undefined);
      this.#finish(started, false, err);
      logger.error('filter rebuild failed; the old filter stays in service', { err });
      return;
    }
    // Synchronous from here to the swap: no create can run in between, so the
    // old filter's counter is exact (every create so far counted there once).
    filter.setItems(active.filter.items);
    filter.markAllDirty(); // every shard is new: the next snapshot must write them all
    const retired = active.swap();
    if (capacity !== old.params.capacity) {
      // So the next start sizes the filter as its snapshot was; a failure only costs that start a rebuild.
      await products.putSetting(CAPACITY_SETTING, String(capacity)).catch((err: unknown) => logger.warn('could not store the grown capacity', { err }));
    }
    this.#finish(started, true, undefined, filter.items);
    logger.info('filter rebuilt and swapped in', { ms: this.#last?.ms, items: filter.items, capacity, bits: layout.params.totalBits });
    metrics.rebuilds.inc({ result: 'ok' });
    await Promise.all([this.#o.afterSwap().catch(() => undefined), retired.pool.close().catch(() => undefined)]);
  }

  async #scan(pool: FilterPool): Promise<void> {
    const pageIds = this.#o.chunkIds ?? DEFAULT_CHUNK_IDS;
    await addRowsThroughPool(this.#o.products.scanIds(pageIds), pool, {
      pageIds,
      maxInFlight: MAX_IN_FLIGHT,
      afterPage: async (ids) => {
        this.#scanned += ids;
        if (this.#closed) throw new Error('service closing');
        // Let the requests queued behind this page run before reading the next.
        await new Promise<void>((resolve) => setImmediate(resolve));
      },
    });
  }

  #finish(started: number, ok: boolean, err: unknown, items: number | null = null): void {
    const ms = Math.round((performance.now() - started) * 100) / 100;
    const current = this.#current;
    if (current === null) return; // start() sets it before any run, so never
    this.#last = {
      ...current,
      finishedAt: Date.now(),
      ms,
      ok,
      error: ok ? null : err instanceof Error ? err.message : String(err),
      items,
    };
    this.#current = null;
    if (ok) {
      this.#completed++;
      this.#o.metrics.rebuildLastSeconds.set(ms / 1000);
    } else {
      this.#failed++;
      this.#o.metrics.rebuilds.inc({ result: 'failed' });
    }
  }

  get state(): RebuildState {
    const running = this.#running !== undefined;
    return {
      running,
      progress: running ? (this.#total === 0 ? 0 : Math.min(1, this.#scanned / this.#total)) : 0,
      scannedRows: running ? this.#scanned : 0,
      totalRows: running ? this.#total : 0,
      current: this.#current,
      last: this.#last,
      completed: this.#completed,
      failed: this.#failed,
    };
  }

  /** Stops a running scan (it abandons the new filter) and waits for it. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#running;
  }
}

/** The capacity a rebuild sizes for: doubled while the rows do not fit (same target FPR). */
export function grownCapacity(capacity: number, rows: number): number {
  let c = capacity;
  while (rows > c && c < MAX_CAPACITY) c = Math.min(MAX_CAPACITY, c * 2);
  return c;
}
