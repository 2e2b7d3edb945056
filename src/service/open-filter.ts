/**
 * The filter and its worker pool, sized for the capacity the database
 * remembers and hashed with the seed it keeps. Everything after the start-up
 * load reads them through one ActiveFilter, so an online rebuild can swap both.
 */
import { randomInt } from 'node:crypto';
import type { Config } from '../config.js';
import { ActiveFilter, type FilterGeneration } from '../filter/active-filter.js';
import { BloomFilter } from '../filter/bloom-filter.js';
import { allocateFilterBuffer, createLayout } from '../filter/layout.js';
import { FilterPool } from '../filter/pool.js';
import { computeFilterParams } from '../filter/sizing.js';
import type { CloserStack } from '../lifecycle/closer-stack.js';
import type { Logger } from '../logger.js';
import type { ProductStore } from '../store/product-store.js';
import { CAPACITY_SETTING } from '../upkeep/online-rebuild.js';

export interface OpenedFilter {
  readonly active: ActiveFilter;
  /** The generation the start-up load fills (before any rebuild can swap it). */
  readonly initial: FilterGeneration;
  readonly onWorkerError: (err: unknown) => void;
}

type SettingsStore = Pick<ProductStore, 'setting' | 'initSetting'>;

export async function openFilter(config: Config, products: SettingsStore, logger: Logger, closers: CloserStack): Promise<OpenedFilter> {
  const params = computeFilterParams(await resolveCapacity(config, products), config.targetFpr, config.shards);
  const layout = createLayout(params, await resolveSeed(config, products));
  const filter = new BloomFilter(allocateFilterBuffer(layout), layout);
  const onWorkerError = (err: unknown): void => logger.error('filter worker died; piscina replaces it', { err });
  const pool = new FilterPool({ filter, threads: config.workers, onWorkerError });
  const active = new ActiveFilter({ filter, pool });
  // The pool in service at shutdown, which after a rebuild is not the one opened here.
  closers.push('filter pool', () => active.pool.close());
  return { active, initial: active.current, onWorkerError };
}

/** The hash seed: configured, or generated once and kept in the database so it survives Redis. */
async function resolveSeed(config: Config, products: SettingsStore): Promise<number> {
  if (config.hashSeed !== undefined) return config.hashSeed;
  return Number(await products.initSetting('hash_seed', String(randomInt(0, 2 ** 32))));
}

/**
 * The capacity to size the filter for: BLOOM_CAPACITY, or more if an online
 * rebuild grew the filter before (kept in the database), so a restart sizes
 * the filter as its last snapshot was and can restore it.
 */
async function resolveCapacity(config: Config, products: SettingsStore): Promise<number> {
  const grown = await storedCapacity(products);
  return grown !== undefined && grown > config.capacity ? grown : config.capacity;
}

/** The capacity an online rebuild grew the filter to (kept in the database), or undefined when none. */
export async function storedCapacity(products: Pick<ProductStore, 'setting'>): Promise<number | undefined> {
  const stored = Number((await products.setting(CAPACITY_SETTING)) ?? 0);
  return Number.isSafeInteger(stored) && stored > 0 ? stored : undefined;
}
