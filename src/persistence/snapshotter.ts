/**
 * Keeps the filter's snapshot in Redis current: a debounced save after writes,
 * retries with backoff while Redis is away, a full rewrite when Redis lost its
 * data (restarted empty, flushed), and a final save at shutdown.
 *
 * Consistency of one save: the store's horizon is offered to the watermark
 * (src/persistence/watermark.ts), then the watermark is read, and only THEN
 * are the shards copied. Bits only ever go 0 -> 1, so the copy holds at least
 * every id that was in the filter when the watermark was read, i.e. every row
 * at a position below it. Header and
 * shards go to Redis in one HSET (see src/store/snapshot-store.ts), so a reader
 * never sees new shards under an old header or the reverse; the header carries
 * every shard's checksum, so a mix would be refused anyway.
 *
 * @example
 *   const s = new Snapshotter({ filter, store, redis, watermark, metrics, logger, intervalMs: 1000 });
 *   s.start();            // data-loss checks
 *   s.notifyWrite();      // after every create: a save within intervalMs
 *   await s.close();      // final save
 */
import type { BloomFilter } from '../filter/bloom-filter.js';
import { encodeSnapshot } from '../filter/snapshot-codec.js';
import { realScheduler, type Cancel, type Scheduler } from '../lifecycle/scheduler.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/registry.js';
import type { RedisConnection } from '../store/redis-connection.js';
import type { SnapshotStore } from '../store/snapshot-store.js';
import type { Watermark } from './watermark.js';

export interface SnapshotterOptions {
  /** The filter, or a getter that follows an online rebuild's swap. */
  readonly filter: BloomFilter | (() => BloomFilter);
  readonly store: SnapshotStore;
  readonly redis: RedisConnection;
  /** Read just before the copy: every row below `value` must be in the filter. */
  readonly watermark: Pick<Watermark, 'offer' | 'value'>;
  /**
   * Cluster mode: one snapshot writer at a time across instances, fenced
   * (src/cluster/snapshot-lock.ts). Every save is then full (another instance
   * may have written the shards since our last save, so our checksums say
   * nothing about them); a save that finds the lock held is skipped (that
   * writer's snapshot is as recent), one whose token was overtaken lands nowhere.
   */
  readonly cluster?: ClusterSnapshots;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Debounce of saves after writes (SNAPSHOT_INTERVAL_MS). */
  readonly intervalMs: number;
  /** How often to look for Redis having lost the snapshot. */
  readonly dataLossCheckMs?: number;
  /** The origin stored beside a snapshot taken at a watermark (see snapshot-origin.ts). */
  readonly origin?: (watermark: number) => Promise<string>;
  /** The store's horizon (ProductStore.horizon): offered to the watermark before each save. */
  readonly horizon?: () => Promise<number>;
  /** Injected clock, for tests. */
  readonly now?: () => number;
  /** Drives the debounce, the retries and the data-loss checks; tests pass a manual one. */
  readonly scheduler?: Scheduler;
}

export interface SnapshotState {
  readonly lastSavedAt: number | null;
  readonly lastWatermark: number | null;
  readonly lastBytes: number;
  readonly lastDurationMs: number | null;
  /** The synchronous part of the last save (copy + checksums): how long it held the event loop. */
  readonly lastStallMs: number | null;
  readonly saves: number;
  readonly failures: number;
  readonly lastError: string | null;
  readonly dirtyShards: number;
  readonly pendingFull: boolean;
}

/** What the snapshotter needs from the cluster (src/service/cluster.ts). */
export interface ClusterSnapshots {
  /** A fencing token, or undefined while another instance is writing. */
  acquire(): Promise<string | undefined>;
  /** True when written: no write with a greater token landed before. */
  writeFenced(token: string, key: string, fields: readonly (string | Buffer)[]): Promise<boolean>;
  release(token: string): Promise<void>;
  /** The last applied feed entry id (read when the copy starts; recorded beside the snapshot). */
  feedPosition(): string;
  /** After a snapshot taken at `feedPosition` landed (trims the feed below it). */
  landed(feedPosition: string): Promise<void>;
}

const MAX_BACKOFF_MS = 30_000;

export class Snapshotter {
  readonly #o: SnapshotterOptions;
  readonly #now: () => number;
  /** Checksums of every shard as last written; undefined until a full save (the next save must then be full). */
  #checksums: Uint32Array | undefined;
  #needFull = true;
  readonly #scheduler: Scheduler;
  #timer: Cancel | undefined;
  #checkTimer: Cancel | undefined;
  #saving: Promise<void> | undefined;
  #again = false;
  #backoffMs = 0;
  #closed = false;
  #runId: string | undefined;
  #unsubscribe: (() => void) | undefined;
  #state = { lastSavedAt: null as number | null, lastWatermark: null as number | null, lastBytes: 0, lastDurationMs: null as number | null, lastStallMs: null as number | null, saves: 0, failures: 0, lastError: null as string | null };

  constructor(options: SnapshotterOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#scheduler = options.scheduler ?? realScheduler;
  }

  #filter(): BloomFilter {
    const f = this.#o.filter;
    return typeof f === 'function' ? f() : f;
  }

  /**
   * After a restore: the snapshot in Redis matches these checksums, so later
   * saves may rewrite only dirty shards.
   */
  adoptRestored(checksums: Uint32Array, runId: string | undefined): void {
    this.#checksums = checksums;
    this.#needFull = false;
    this.#runId = runId;
  }

  /** Starts the data-loss checks and reacts to Redis coming back. */
  start(): void {
    const every = this.#o.dataLossCheckMs ?? 1000;
    this.#checkTimer = this.#scheduler.every(every, () => void this.#checkDataLoss());
    this.#unsubscribe = this.#o.redis.onStatusChange((healthy) => {
      if (healthy) void this.#checkDataLoss();
    });
  }

  /** A write changed the filter: save within intervalMs (writes in between share one save). */
  notifyWrite(): void {
    this.#schedule(this.#o.intervalMs);
  }

  /** Forces the next save to rewrite every shard (after a rebuild, or when Redis lost data). */
  requireFull(): void {
    this.#needFull = true;
  }

  #schedule(delayMs: number): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = this.#scheduler.after(delayMs, () => {
      this.#timer = undefined;
      void this.save().catch(() => undefined); // failures are logged and retried inside
    });
  }

  /**
   * Saves now (dirty shards, or all when a full save is due). Concurrent calls
   * share the running save and run one more after it. Rejects when the write
   * failed; a retry is already scheduled with backoff.
   */
  async save(): Promise<void> {
    if (this.#saving !== undefined) {
      this.#again = true;
      return this.#saving;
    }
    this.#saving = this.#saveOnce().finally(() => {
      this.#saving = undefined;
      if (this.#again && !this.#closed) {
        this.#again = false;
        this.#schedule(0);
      }
    });
    return this.#saving;
  }

  async #saveOnce(): Promise<void> {
    const gate = this.#o.cluster;
    if (gate === undefined) return this.#saveLocked(undefined);
    let token: string | undefined;
    try {
      token = await gate.acquire();
    } catch (err) {
      this.#failed(err);
      throw err;
    }
    if (token === undefined) return; // another instance is writing one now
    try {
      this.#needFull = true;
      await this.#saveLocked({ gate, token });
    } finally {
      await gate.release(token).catch(() => undefined);
    }
  }

  async #saveLocked(fenced: { readonly gate: ClusterSnapshots; readonly token: string } | undefined): Promise<void> {
    const { store, watermark, metrics, logger } = this.#o;
    const started = performance.now();
    if (this.#o.horizon !== undefined) {
      // offer() in the continuation the horizon arrived in (see watermark.ts). A
      // database that does not answer just leaves the watermark where it is.
      try {
        watermark.offer(await this.#o.horizon());
      } catch (err) {
        logger.debug('horizon read failed; the snapshot keeps the last watermark', { err });
      }
    }
    // Order matters: watermark first, then take the dirty flags, then copy (inside encode).
    const wm = watermark.value;
    let origin = '';
    try {
      origin = (await this.#o.origin?.(wm)) ?? '';
    } catch (err) {
      this.#failed(err);
      throw err;
    }
    // Cluster: the feed position when the copy starts; every entry up to it is in the bits.
    const feedPosition = fenced?.gate.feedPosition();
    const filter = this.#filter();
    const dirty = filter.takeDirtyShards();
    const full = this.#needFull || this.#checksums === undefined;
    const shards = full ? allShards(filter.layout.params.shards) : dirty;
    if (shards.length === 0 && this.#state.lastWatermark === wm) return;
    const copyStarted = performance.now();
    const encoded = encodeSnapshot(filter, { items: filter.items, watermark: wm, savedAtMs: this.#now() }, shards, this.#checksums);
    const encodeMs = performance.now() - copyStarted;
    try {
      let overtaken = false;
      const write =
        fenced === undefined
          ? undefined
          : async (key: string, fields: readonly (string | Buffer)[]): Promise<void> => {
              overtaken = !(await fenced.gate.writeFenced(fenced.token, key, [...fields, 'feed', feedPosition ?? '']));
            };
      const bytes = await store.save(encoded.header, encoded.shards, origin, write);
      if (overtaken) {
        // A writer with a greater token landed first: ours is not the snapshot; nothing to record.
        logger.debug('snapshot overtaken by a newer writer; not written');
        return;
      }
      if (fenced !== undefined && feedPosition !== undefined) await fenced.gate.landed(feedPosition).catch((err: unknown) => logger.debug('feed trim failed', { err }));
      this.#checksums = encoded.checksums;
      this.#needFull = false;
      this.#backoffMs = 0;
      const ms = performance.now() - started;
      Object.assign(this.#state, { lastSavedAt: this.#now(), lastWatermark: wm, lastBytes: bytes, lastDurationMs: ms, lastStallMs: encodeMs, saves: this.#state.saves + 1, lastError: null });
      metrics.snapshotDuration.observe(ms / 1000);
      metrics.snapshotBytes.inc(bytes);
      metrics.snapshotLastSuccess.set(this.#now() / 1000);
      logger.debug('snapshot saved', { shards: shards.length, full, bytes, watermark: wm, ms: round(ms), encodeMs: round(encodeMs) });
      if (this.#runId === undefined) this.#runId = await this.#o.redis.runId().catch(() => undefined);
    } catch (err) {
      this.#failed(err);
      throw err;
    }
  }

  /** A save failed (Redis, or the database for the origin): count it and retry with backoff. */
  #failed(err: unknown): void {
    const { metrics, logger } = this.#o;
    // The shards we took (if any) are not in Redis: the next save rewrites everything.
    this.#needFull = true;
    this.#state.failures++;
    this.#state.lastError = err instanceof Error ? err.message : String(err);
    metrics.snapshotFailures.inc();
    this.#backoffMs = Math.min(MAX_BACKOFF_MS, this.#backoffMs === 0 ? 500 : this.#backoffMs * 2);
    logger.warn('snapshot save failed; retrying', { err, retryInMs: this.#backoffMs });
    this.#schedule(this.#backoffMs);
  }

  /**
   * Redis restarted empty or was flushed: the snapshot key is gone or the
   * server's run id changed. Write a full snapshot now, so that the next start
   * restores instead of rebuilding.
   */
  async #checkDataLoss(): Promise<void> {
    const { redis, store, logger, metrics } = this.#o;
    if (this.#closed || !redis.healthy || this.#state.saves === 0 && this.#checksums === undefined) return;
    try {
      const [runId, exists] = await Promise.all([redis.runId(), store.exists()]);
      const restarted = this.#runId !== undefined && runId !== this.#runId;
      this.#runId = runId;
      if (exists && !restarted) return;
      logger.warn('redis lost the snapshot; writing a full one', { reason: exists ? 'run_id_changed' : 'snapshot_missing' });
      metrics.redisDataLoss.inc();
      this.#needFull = true;
      await this.save();
    } catch {
      // Redis is failing again; the status listener or the next tick retries.
    }
  }

  get state(): SnapshotState {
    return { ...this.#state, dirtyShards: this.#filter().peekDirtyCount(), pendingFull: this.#needFull };
  }

  /** Stops the timers and writes a final snapshot (best effort: Redis may be down). */
  async close(): Promise<void> {
    this.#timer?.();
    this.#timer = undefined;
    this.#checkTimer?.();
    this.#unsubscribe?.();
    await this.#saving?.catch(() => undefined);
    this.#closed = true;
    if (this.#o.redis.healthy) {
      await this.#saveOnce().catch((err: unknown) => this.#o.logger.warn('final snapshot failed', { err }));
    }
  }
}

function allShards(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
