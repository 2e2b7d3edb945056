/**
 * Fills the filter at start, from the cheapest source that is trustworthy:
 *
 * 1. import: the database is empty and PRODUCTS_FILE exists: import the file in
 *    one transaction (all or nothing, so a crash mid-import just imports again),
 *    then add every id through the worker pool;
 * 2. snapshot: a snapshot in Redis whose parameters, seed and checksums match:
 *    load its shards, then replay every row at or above its watermark position;
 * 3. rebuild: anything else (no snapshot, Redis down, a refused snapshot):
 *    stream every id from the database through the worker pool.
 *
 * A refused snapshot is logged with its reason and counted; it is never loaded.
 * Whatever the source, the item count is then set from the database, which is
 * the source of truth.
 *
 * The store's horizon is read BEFORE any of this: every row below it is
 * committed, so the import, the replay or the scan that follows holds it, and
 * the report's `horizon` is the watermark the service starts from.
 */
import type { BloomFilter } from '../filter/bloom-filter.js';
import { packIds } from '../filter/id-batch.js';
import type { FilterPool } from '../filter/pool.js';
import { decodeSnapshot } from '../filter/snapshot-codec.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/registry.js';
import { importProductsFile } from '../store/product-import.js';
import type { ProductStore } from '../store/product-store.js';
import type { RedisConnection } from '../store/redis-connection.js';
import type { SnapshotStore } from '../store/snapshot-store.js';
import { addRowsThroughPool } from './add-rows.js';
import { originMismatch } from './snapshot-origin.js';

export type LoadSource = 'import' | 'snapshot' | 'rebuild';

export interface LoadReport {
  readonly source: LoadSource;
  readonly ms: number;
  readonly items: number;
  /** The store's horizon read before the load began: every row below it is in the filter. */
  readonly horizon: number;
  /** Rows replayed on top of a snapshot (0 otherwise). */
  readonly replayed: number;
  /** Why a snapshot present in Redis was not used, if one was refused. */
  readonly refused?: string;
  /** Checksums of the restored snapshot, so incremental saves can continue from it. */
  readonly checksums?: Uint32Array;
}

export interface FilterLoaderOptions {
  readonly filter: BloomFilter;
  readonly pool: Pick<FilterPool, 'addPacked'>;
  readonly products: Pick<ProductStore, 'count' | 'horizon' | 'nextPosition' | 'idsFrom' | 'scanIds' | 'importIds' | 'databaseId' | 'lastIdBefore'>;
  readonly snapshots: SnapshotStore;
  readonly redis: RedisConnection;
  readonly productsFile: string;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/** What one load path reports; loadFilter adds the time, the item count and the horizon. */
type SourceReport = Omit<LoadReport, 'ms' | 'items' | 'horizon'>;

/** Rows per page streamed to the pool, and how many pages may wait for the workers at once. */
const PAGE_IDS = 32_768;
const MAX_PAGES_IN_FLIGHT = 8;

export async function loadFilter(o: FilterLoaderOptions): Promise<LoadReport> {
  const started = performance.now();
  const horizon = await o.products.horizon();
  const report = (await importIfEmpty(o)) ?? (await restoreSnapshot(o)) ?? (await rebuild(o));
  const items = await o.products.count();
  o.filter.setItems(items);
  const ms = Math.round((performance.now() - started) * 100) / 100;
  o.metrics.filterLoads.inc({ source: report.source });
  o.metrics.filterLoadSeconds.set({ source: report.source }, ms / 1000);
  const done = { ...report, ms, items, horizon };
  o.logger.info(`filter loaded from ${report.source} in ${ms} ms`, { source: report.source, ms, items, replayed: report.replayed });
  return done;
}

async function importIfEmpty(o: FilterLoaderOptions): Promise<SourceReport | null> {
  if ((await o.products.count()) > 0) return null;
  const inFlight: Promise<number>[] = [];
  const result = await importProductsFile(o.products, o.productsFile, (ids) => {
    inFlight.push(o.pool.addPacked(packIds(ids)));
  });
  await Promise.all(inFlight);
  if (result === null) return null;
  o.logger.info('imported products file', { file: o.productsFile, ...result });
  return { source: 'import', replayed: 0 };
}

async function restoreSnapshot(o: FilterLoaderOptions): Promise<SourceReport | null> {
  if (!o.redis.healthy) {
    o.logger.warn('redis unavailable at start; rebuilding the filter from the database');
    return null;
  }
  let blobs;
  try {
    blobs = await o.snapshots.load();
  } catch (err) {
    o.logger.warn('could not read the snapshot; rebuilding the filter from the database', { err });
    return null;
  }
  const decoded = decodeSnapshot(blobs, o.filter.layout);
  if (!decoded.ok) return decoded.reason === 'missing' ? null : refuse(o, decoded.reason, decoded.detail);
  // Intact bits are not enough: they must describe this database (see snapshot-origin.ts).
  const mismatch = await originMismatch(o.products, blobs.origin, decoded.header.watermark);
  if (mismatch !== null) return refuse(o, mismatch, `snapshot origin ${blobs.origin ?? '(none)'} does not match this database`);
  o.filter.clearAll();
  decoded.shards.forEach((blob, shard) => o.filter.loadShard(shard, blob));
  const replayed = await addPages(o, o.products.idsFrom(decoded.header.watermark, PAGE_IDS)); // every row at a position >= the watermark
  return { source: 'snapshot', replayed, checksums: decoded.header.shardChecksums };
}

/** A snapshot that exists but cannot be trusted: say why, count it, rebuild from the database. */
async function refuse(o: FilterLoaderOptions, reason: string, detail: string): Promise<SourceReport> {
  o.metrics.snapshotRejected.inc({ reason });
  o.logger.warn(`snapshot refused (${reason}); rebuilding the filter from the database`, { reason, detail, key: o.snapshots.key });
  return { ...(await rebuild(o)), refused: reason };
}

async function rebuild(o: FilterLoaderOptions): Promise<SourceReport> {
  o.filter.clearAll();
  await addPages(o, o.products.scanIds(PAGE_IDS));
  return { source: 'rebuild', replayed: 0 };
}

/** Adds every id of `pages` (requested with PAGE_IDS): inline when they fit one short page, through the pool otherwise. */
function addPages(o: FilterLoaderOptions, pages: AsyncIterable<readonly string[]>): Promise<number> {
  return addRowsThroughPool(pages, o.pool, { pageIds: PAGE_IDS, maxInFlight: MAX_PAGES_IN_FLIGHT, inlineFilter: o.filter });
}
