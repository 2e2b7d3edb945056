/**
 * Cluster mode (issue 11): several processes serve one PostgreSQL database
 * and namespace, sharing one Redis. Wires the building blocks of src/cluster/:
 *
 *   writes:  commit -> own filter -> publish feed entry -> barrier -> ack
 *   reader:  feed entries -> filter (creates), stale count + hook (deletes)
 *   doubts:  reconnect / Redis restarted / trimmed -> database catch-up
 *   lease:   the filter rejects alone only while mayRejectFromFilter()
 *
 * Joining, in this order:
 *   1. the start-up load (snapshot + database above its watermark, or rebuild),
 *      which reports the horizon H below which every row is in the filter;
 *   2. read the feed tail T, claim T as applied, start the reader after T;
 *   3. start the lease: its registration runs a database catch-up from H;
 *   4. ready once mayRejectFromFilter() first holds (/health 503 before):
 *      lease valid, that catch-up done, reader caught up.
 *   The barrier's first observation (a full TTL) is primed in the background:
 *   only this instance's own first writes wait for it, not its lookups.
 *
 * Why the reader may start at T (read before the registration) instead of a
 * feed position stored with the snapshot, and why claiming T is sound: the
 * filter rejects nothing before the catch-up of step 3 is done, and that
 * catch-up started after the registration, so it holds every row committed
 * before the registration. An entry at or before T was published before T was
 * read, after its commit: its row is such a row. A create acknowledged without
 * waiting for us had its barrier read the leases before our registration, so
 * its row committed before it too. Every other create's barrier sees our lease
 * and waits until our applied position reaches its entry, which is after T
 * and read by our reader. Hence no acknowledged create is missing from our
 * filter once it may reject.
 *
 * @example
 *   const cluster = openCluster({ config, logger, products, active, redis, closers });
 *   await cluster.join(load.horizon); // then state.phase = 'ready'
 *   writer: await cluster.confirm({ op: 'create', ids, position });
 */
import { randomBytes } from 'node:crypto';
import { AckBarrier } from '../cluster/ack-barrier.js';
import { ChangeFeed, FeedReader, type FeedEntry } from '../cluster/change-feed.js';
import { DatabaseCatchUp } from '../cluster/database-catch-up.js';
import { InstanceLease } from '../cluster/lease.js';
import { SnapshotLock } from '../cluster/snapshot-lock.js';
import { RecentCreates } from '../cluster/recent-creates.js';
import { RecentDeletes } from '../cluster/recent-deletes.js';
import { STREAM_START } from '../cluster/stream-id.js';
import type { Config } from '../config.js';
import { ClusterUnavailableError } from '../errors.js';
import type { ActiveFilter } from '../filter/active-filter.js';
import type { CloserStack } from '../lifecycle/closer-stack.js';
import { realScheduler, type Scheduler } from '../lifecycle/scheduler.js';
import type { Logger } from '../logger.js';
import type { ClusterSnapshots } from '../persistence/snapshotter.js';
import type { ClusterChange, ClusterConfirm } from '../product-writes.js';
import type { Position, ProductStore } from '../store/product-store.js';
import type { RedisConnection } from '../store/redis-connection.js';

/** Periodic database catch-up (the slow path under the feed) and item count refresh. */
const CATCH_UP_EVERY_MS = 2_000;
/** Slack on top of the negative marker's lifetime bounds (see recent-creates.ts). */
const MARKER_SLACK_MS = 1_000;

export interface ClusterDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly products: Pick<ProductStore, 'horizon' | 'idsFrom' | 'count'>;
  readonly active: Pick<ActiveFilter, 'add' | 'addStale' | 'filter'>;
  readonly redis: RedisConnection;
  readonly closers: CloserStack;
  readonly scheduler?: Scheduler;
  /** Monotonic milliseconds (lease, barrier deadline, recent creates). */
  readonly clock?: () => number;
}

export interface ClusterStatus {
  readonly instanceId: string;
  readonly mayRejectFromFilter: boolean;
  readonly feedPosition: string;
  readonly feedCaughtUp: boolean;
  readonly catchUpWatermark: Position;
  readonly catchUpRuns: number;
  readonly leaseRegistrations: number;
  readonly recentCreates: number;
}

/** The snapshot watermark in cluster mode: the catch-up's, live (offers from the store's horizon do not apply). */
class CatchUpWatermark {
  readonly #read: () => Position;
  constructor(read: () => Position) {
    this.#read = read;
  }
  get value(): Position {
    return this.#read();
  }
  offer(): void {}
}

export class ClusterMember implements ClusterConfirm, ClusterSnapshots {
  readonly instanceId: string;
  readonly feed: ChangeFeed;
  readonly lease: InstanceLease;
  readonly barrier: AckBarrier;
  readonly recent: RecentCreates;
  /** Ids another instance deleted lately: their cached products are not served (see recent-deletes.ts). */
  readonly recentDeletes: RecentDeletes;
  readonly #snapshotLock: SnapshotLock;
  /** For the snapshotter: every row below its value is in the filter (0 before join). */
  readonly snapshotWatermark = new CatchUpWatermark(() => this.#catchUp?.watermark ?? 0);
  readonly #d: ClusterDeps;
  readonly #clock: () => number;
  readonly #deleteHooks = new Set<(id: string) => void>();
  readonly #createHooks = new Set<(ids: readonly string[]) => void>();
  #catchUp: DatabaseCatchUp | undefined;
  #reader: FeedReader | undefined;
  #closed = false;

  constructor(d: ClusterDeps) {
    this.#d = d;
    const { config } = d;
    this.#clock = d.clock ?? (() => performance.now());
    this.instanceId = `${process.pid}-${randomBytes(6).toString('hex')}`;
    this.feed = new ChangeFeed(d.redis.client, config.namespace);
    const ttlMs = config.clusterLeaseTtlMs;
    this.lease = new InstanceLease({
      client: d.redis.client,
      namespace: config.namespace,
      instanceId: this.instanceId,
      ttlMs,
      renewEveryMs: Math.floor(ttlMs / 3),
      marginMs: Math.floor(ttlMs / 6),
      clock: this.#clock,
      ...(d.scheduler === undefined ? {} : { scheduler: d.scheduler }),
      // Before join() there is no catch-up yet: the lease's first registration happens in join().
      catchUp: async () => {
        await this.#runCatchUp();
      },
      isCaughtUp: () => this.#reader?.caughtUp ?? false,
      onError: (err) => d.logger.debug('lease renewal failed', { err }),
    });
    // SUBSCRIBE only. Unlike the shared client it queues while (re)connecting and
    // has no command timeout: with the shared client's options its SUBSCRIBE
    // failed before the first connect and writers woke only by polling (pollMs).
    const subscriber = d.redis.client.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, enableAutoPipelining: false, connectionName: `bloomgate-barrier-${this.instanceId}` });
    subscriber.on('error', () => {}); // the barrier polls while it is away
    this.barrier = new AckBarrier({
      client: d.redis.client,
      subscriber,
      namespace: config.namespace,
      ttlMs,
      selfId: this.instanceId,
      clock: this.#clock,
    });
    // Its subscriber connection is open from here on, joined or not.
    d.closers.push('cluster: ack barrier', () => this.barrier.close());
    this.#snapshotLock = new SnapshotLock({ client: d.redis.client, namespace: config.namespace });
    this.recent = new RecentCreates({
      holdMs: config.negativeTtlS * 1000 + config.databaseTimeoutMs + config.redisCommandTimeoutMs + MARKER_SLACK_MS,
      mayReject: () => this.lease.mayRejectFromFilter(),
      registrations: () => this.lease.registrations,
      clock: this.#clock,
    });
    this.recentDeletes = new RecentDeletes({
      // The old entry's TTL with its +10% jitter, then a fill begun before the delete.
      holdMs: Math.ceil(config.cacheTtlS * 1100) + config.databaseTimeoutMs + config.redisCommandTimeoutMs + MARKER_SLACK_MS,
      clock: this.#clock,
    });
  }

  /** May the filter answer 404 alone? (guard: fail open otherwise) */
  mayRejectFromFilter(): boolean {
    return this.lease.mayRejectFromFilter();
  }

  /** May a negative marker for `id` be served? (see recent-creates.ts) */
  trustsNegative(id: string): boolean {
    return this.recent.trustsNegative(id);
  }

  /** May a product cached in Redis for `id` be served? (see recent-deletes.ts) */
  trustsProduct(id: string): boolean {
    return this.recentDeletes.trustsProduct(id);
  }

  /**
   * Called with each id another instance deleted, once this instance applied
   * the delete (before its applied position is published, so the deleting
   * writer's 204 comes after every hook ran). For local caches.
   */
  onRemoteDelete(hook: (id: string) => void): () => void {
    this.#deleteHooks.add(hook);
    return () => this.#deleteHooks.delete(hook);
  }

  /**
   * Called with the ids of another instance's create once they are in this
   * filter (before the applied position is published, so the creating
   * writer's 201 comes after every hook ran). For the lookup guard's single
   * flight: a flight under way may have read the database before the commit
   * (LookupGuard.forgetFlights).
   */
  onRemoteCreate(hook: (ids: readonly string[]) => void): () => void {
    this.#createHooks.add(hook);
    return () => this.#createHooks.delete(hook);
  }

  /** The last applied feed entry id. */
  feedPosition(): string {
    return this.#reader?.position ?? STREAM_START;
  }

  status(): ClusterStatus {
    return {
      instanceId: this.instanceId,
      mayRejectFromFilter: this.lease.mayRejectFromFilter(),
      feedPosition: this.feedPosition(),
      feedCaughtUp: this.#reader?.caughtUp ?? false,
      catchUpWatermark: this.#catchUp?.watermark ?? 0,
      catchUpRuns: this.#catchUp?.runs ?? 0,
      leaseRegistrations: this.lease.registrations,
      recentCreates: this.recent.size,
    };
  }

  /**
   * Snapshots (issue 11 §3): one writer at a time, fenced. The snapshot's
   * watermark is the catch-up's (every row below it is in the filter, whoever
   * wrote it), read before the copy; nothing is saved before join() set one up.
   */
  async acquire(): Promise<string | undefined> {
    const catchUp = this.#catchUp;
    if (catchUp === undefined) return undefined;
    const token = await this.#snapshotLock.acquire();
    // A catch-up that starts now moves the watermark up to the current horizon,
    // so the snapshot (read right after this) is as fresh as a single
    // instance's. If the database does not answer, the older watermark is still sound.
    if (token !== undefined) await catchUp.run().catch((err: unknown) => this.#d.logger.debug('catch-up before a snapshot failed', { err }));
    return token;
  }

  writeFenced(token: string, key: string, fields: readonly (string | Buffer)[]): Promise<boolean> {
    return this.#snapshotLock.writeFenced(token, key, fields);
  }

  release(token: string): Promise<void> {
    return this.#snapshotLock.release(token);
  }

  /**
   * After a snapshot whose copy began with every entry up to `feedPosition`
   * applied landed: entries below it are no longer needed by anyone restoring
   * that snapshot. (A joiner does not even need them: see the module comment;
   * a reader still behind it finds the trim and catches up from the database.)
   */
  async landed(feedPosition: string): Promise<void> {
    if (feedPosition !== STREAM_START) await this.feed.trimBelow(feedPosition);
  }

  /**
   * Publish, then wait for every live lease holder (issue 11 §2). The caller
   * has committed the change and put created ids into its own filter (the
   * barrier does not wait for us: selfId). Rejects with
   * ClusterUnavailableError when Redis does not take the entry or the barrier
   * does not complete within DATABASE_TIMEOUT_MS + one lease TTL (a dead
   * instance holds writes up to its TTL).
   */
  async confirm(change: ClusterChange): Promise<void> {
    const { config } = this.#d;
    // Our own filter holds them now: markers for them are not ours to trust (recent-creates.ts).
    if (change.op === 'create') this.recent.noteCreated(change.ids);
    let entryId: string;
    try {
      entryId = await this.feed.publish({ ...change, origin: this.instanceId });
    } catch (err) {
      throw new ClusterUnavailableError(`the change feed did not take the entry (${err instanceof Error ? err.message : String(err)})`);
    }
    const result = await this.barrier.waitApplied(entryId, this.#clock() + config.databaseTimeoutMs + config.clusterLeaseTtlMs);
    if (!result.acknowledged) {
      throw new ClusterUnavailableError(`not every instance applied it in time (${result.reason}; waiting for ${result.waitingFor.length})`);
    }
  }

  /**
   * Joins the cluster (the steps and their argument: module comment). Resolves
   * once the filter may reject alone; rejects only when closed meanwhile.
   */
  async join(loadHorizon: Position): Promise<void> {
    const { config, logger, closers } = this.#d;
    const scheduler = this.#d.scheduler ?? realScheduler;
    this.#catchUp = new DatabaseCatchUp({
      source: this.#d.products,
      from: loadHorizon,
      add: (ids) => {
        for (const id of ids) this.#d.active.add(id);
      },
    });
    // Step 2: the tail BEFORE the lease registers (see the module comment).
    // Redis away: read from the start; a trimmed stream is a doubt -> catch-up.
    const tail = await this.feed.tail().catch(() => STREAM_START);
    const reader = new FeedReader({
      url: config.redisUrl,
      namespace: config.namespace,
      from: tail,
      apply: (entries) => this.#apply(entries),
      recover: async (why) => {
        logger.info('change feed doubt; catching up from the database', { why });
        await this.#runCatchUp();
      },
      // After apply resolved: the entries are in the filter (the lease publishes it to writers).
      onApplied: (entryId) => this.lease.setApplied(entryId),
      onError: (err) => logger.debug('change feed reader error; reconnecting', { err }),
      onMalformed: (entryId, err) => logger.warn('change feed entry malformed; skipped after a database catch-up', { entryId, err }),
      connectionName: `bloomgate-feed-${this.instanceId}`,
    });
    this.#reader = reader;
    closers.push('cluster: change feed reader', () => reader.close());
    // Published with the registration; writers of entries up to T need not wait for us (module comment).
    if (tail !== STREAM_START) this.lease.setApplied(tail);
    reader.start();
    // Pushed after the reader, so closed before it: we leave (writers stop waiting) before we stop applying.
    closers.push('cluster: lease (leave)', () => this.lease.close());
    this.lease.start();
    const periodic = scheduler.every(CATCH_UP_EVERY_MS, () => {
      this.#runCatchUp().catch((err: unknown) => logger.debug('periodic database catch-up failed (the database health check reports outages)', { err }));
    });
    closers.push('cluster: periodic catch-up', periodic);
    // Our own first writes wait for the barrier's first observation (a full TTL); lookups need not.
    void this.barrier.prime().catch((err: unknown) => logger.warn('ack barrier prime failed; the first write will wait instead', { err }));
    // Step 4.
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.#closed) reject(new Error('closed before joining the cluster'));
        else if (this.lease.mayRejectFromFilter()) resolve();
        else scheduler.after(20, check);
      };
      check();
    });
    logger.info('joined the cluster', { instanceId: this.instanceId, feedFrom: tail, watermark: this.#catchUp.watermark });
  }

  /** Resolves after a catch-up that started after this call (before join: at once). */
  async catchUpNow(): Promise<void> {
    if (this.#catchUp !== undefined) await this.#catchUp.run();
  }

  /** One catch-up run, then the item count from the database (the source of truth; feed entries are not counted). */
  async #runCatchUp(): Promise<void> {
    const catchUp = this.#catchUp;
    if (catchUp === undefined) throw new Error('catch-up before join');
    await catchUp.run();
    this.#d.active.filter.setItems(await this.#d.products.count());
  }

  async #apply(entries: readonly FeedEntry[]): Promise<void> {
    for (const entry of entries) {
      // Our own writes did this before publishing (filter add, stale count, local cache).
      if (entry.origin === this.instanceId) continue;
      if (entry.op === 'create') {
        for (const id of entry.ids) this.#d.active.add(id);
        // In the filter now, and our applied position is published only after this returns.
        this.recent.noteCreated(entry.ids);
        for (const hook of this.#createHooks) hook(entry.ids);
        this.recentDeletes.noteCreated(entry.ids);
      } else {
        this.#d.active.addStale(entry.ids.length);
        // Before our applied position is published, so before the deleter's 204.
        this.recentDeletes.noteDeleted(entry.ids);
        for (const id of entry.ids) for (const hook of this.#deleteHooks) hook(id);
      }
    }
  }

  /** Marks the member closed (join() stops waiting); the closers registered by join() do the rest. */
  close(): void {
    this.#closed = true;
  }
}
