/**
 * Keeps a LocalProductCache coherent across instances with Redis
 * server-assisted client-side caching in broadcasting mode, over RESP2:
 *
 *   subscriber: CLIENT ID -> n; SUBSCRIBE __redis__:invalidate
 *   tracker:    CLIENT TRACKING OFF; CLIENT TRACKING ON REDIRECT n BCAST PREFIX bloom:cache:<ns>:
 *
 * In BCAST mode the server remembers no reads: it sends an invalidation for
 * every key under the prefix that ANY client modifies (SET, DEL, expiry,
 * eviction), to every client that registered the prefix. So the GETs that fill
 * the local cache need not go through the tracking connection: they use the
 * ordinary data connection (auto-pipelined), and the tracker carries nothing
 * but CLIENT commands. A `null` message (FLUSHALL, FLUSHDB) drops everything.
 *
 * Losing either connection (close, a failed check, tracking found off or its
 * redirect broken) suspends the local cache: everything is dropped and fills
 * are refused until both connections are back, subscribed and tracking again,
 * with the NEW subscriber's id. Invalidations sent while we were away are
 * lost, so nothing read before must survive; `resume` bumps the fill sequence
 * so a GET sent during the gap cannot fill either (see local-product-cache.ts).
 *
 * @example
 *   const invalidation = CacheInvalidation.open({ url, keys: productCache, target: local, commandTimeoutMs: 500 });
 *   await invalidation.waitEstablished(2_000).catch(() => log.warn('local cache off until tracking is up'));
 *   await invalidation.close();
 */
import { Redis } from 'ioredis';
import type { ProductCache } from '../store/product-cache.js';
import { quitOrCut, reconnectDelay } from '../store/redis-connection.js';
import type { LocalProductCache } from './local-product-cache.js';

/** The channel Redis publishes invalidations on for RESP2 clients that redirect to a subscriber. */
const INVALIDATE_CHANNEL = '__redis__:invalidate';

/** What invalidation drives. */
export type InvalidationTarget = Pick<LocalProductCache, 'invalidate' | 'invalidateAll' | 'suspend' | 'resume'>;

export interface CacheInvalidationOptions {
  readonly url: string;
  /** The owner of the key layout: `keyFor('')` is the namespace's cache prefix. */
  readonly keys: Pick<ProductCache, 'keyFor'>;
  readonly target: InvalidationTarget;
  /** Upper bound on any one command on either connection. */
  readonly commandTimeoutMs: number;
  /** How often the tracker checks CLIENT TRACKINGINFO (and retries a failed setup). Default 1000. */
  readonly checkIntervalMs?: number;
  /** Reconnect delay by attempt; default 100 ms doubling to 2 s, forever. */
  readonly reconnectDelayMs?: (attempt: number) => number;
  /** CLIENT SETNAME prefix: `<name>-sub` and `<name>-track`. */
  readonly name?: string;
}

const DEFAULT_CHECK_INTERVAL_MS = 1_000;

/** `[flags, [..], redirect, n, prefixes, [..]]` from CLIENT TRACKINGINFO, as a record. */
function trackingInfo(reply: unknown): { flags: readonly string[]; redirect: number } {
  const fields = Array.isArray(reply) ? (reply as unknown[]) : [];
  let flags: string[] = [];
  let redirect = -1;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1];
    if (fields[i] === 'flags' && Array.isArray(value)) flags = value.map(String);
    if (fields[i] === 'redirect') redirect = Number(value);
  }
  return { flags, redirect };
}

export class CacheInvalidation {
  readonly prefix: string;
  readonly #o: CacheInvalidationOptions;
  readonly #subscriber: Redis;
  readonly #tracker: Redis;
  readonly #listeners = new Set<(established: boolean) => void>();
  readonly #timer: NodeJS.Timeout;
  /** CLIENT ID of the subscriber connection, once it is subscribed; undefined while it is not. */
  #subscriberId: number | undefined;
  #trackerId: number | undefined;
  /** Bumped when the subscriber connection is lost: a subscription set up before belongs to a dead connection. */
  #subscriberGeneration = 0;
  /** Bumped on every loss, so a setup that started before it cannot declare success after it. */
  #generation = 0;
  #established = false;
  #tracking = false;
  #subscribing = false;
  #closed = false;
  /** Counters for metrics and tests. */
  readonly stats = { keysInvalidated: 0, flushes: 0, losses: 0, establishments: 0 };

  private constructor(options: CacheInvalidationOptions) {
    this.#o = options;
    this.prefix = options.keys.keyFor('');
    const common = {
      commandTimeout: options.commandTimeoutMs,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      // We re-subscribe ourselves, so we know when the new subscription stands.
      autoResubscribe: false,
      retryStrategy: options.reconnectDelayMs ?? reconnectDelay,
      lazyConnect: true,
    };
    const name = options.name;
    this.#subscriber = new Redis(options.url, { ...common, ...(name === undefined ? {} : { connectionName: `${name}-sub` }) });
    this.#tracker = new Redis(options.url, { ...common, ...(name === undefined ? {} : { connectionName: `${name}-track` }) });
    // Raw buffers: the string 'message' event would join a key array with commas.
    this.#subscriber.on('messageBuffer', (channel: Buffer, message: unknown) => this.#onMessage(channel, message));
    this.#subscriber.on('ready', () => void this.#subscribe());
    this.#tracker.on('ready', () => void this.#track());
    for (const event of ['close', 'end', 'reconnecting']) {
      this.#subscriber.on(event, () => this.#lost(true));
      this.#tracker.on(event, () => this.#lost(false));
    }
    // Failures reach us as 'close' and failed commands; without a listener ioredis logs them.
    this.#subscriber.on('error', () => {});
    this.#tracker.on('error', () => {});
    this.#timer = setInterval(() => void this.#check(), options.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Opens both connections; the target stays suspended until tracking is established. */
  static open(options: CacheInvalidationOptions): CacheInvalidation {
    if (!Number.isSafeInteger(options.commandTimeoutMs) || options.commandTimeoutMs < 1) {
      throw new RangeError(`options.commandTimeoutMs must be a positive integer, got ${options.commandTimeoutMs}`);
    }
    const interval = options.checkIntervalMs;
    if (interval !== undefined && (!Number.isSafeInteger(interval) || interval < 1)) {
      throw new RangeError(`options.checkIntervalMs must be a positive integer, got ${interval}`);
    }
    const invalidation = new CacheInvalidation(options);
    options.target.suspend();
    invalidation.#subscriber.connect().catch(() => {});
    invalidation.#tracker.connect().catch(() => {});
    return invalidation;
  }

  /** True while both connections are up, subscribed and tracking: the local cache may fill. */
  get established(): boolean {
    return this.#established;
  }

  /** CLIENT ID of each connection while known (for diagnostics and tests). */
  get clientIds(): { subscriber: number | undefined; tracker: number | undefined } {
    return { subscriber: this.#subscriberId, tracker: this.#trackerId };
  }

  /** Calls `listener` on each change of `established`, synchronously after the target was suspended or resumed. */
  onChange(listener: (established: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Resolves once established; rejects after `timeoutMs`. */
  waitEstablished(timeoutMs: number): Promise<void> {
    if (this.#established) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`client-side cache tracking was not established within ${timeoutMs} ms`));
      }, timeoutMs);
      const stop = this.onChange((up) => {
        if (!up) return;
        clearTimeout(timer);
        stop();
        resolve();
      });
    });
  }

  /** Suspends the target (nothing local survives) and closes both connections. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    this.#lost(true);
    this.#closed = true;
    // No QUIT (nothing to flush), and the wait for 'end' is bounded even while
    // Redis is black-holed (see quitOrCut).
    await Promise.all([quitOrCut(this.#subscriber, { ready: false }), quitOrCut(this.#tracker, { ready: false })]);
    this.#listeners.clear();
  }

  #onMessage(channel: Buffer, message: unknown): void {
    if (channel.toString() !== INVALIDATE_CHANNEL || !this.#established) return;
    const target = this.#o.target;
    if (message === null) {
      // FLUSHALL / FLUSHDB: every key is gone.
      this.stats.flushes++;
      target.invalidateAll();
      return;
    }
    if (!Array.isArray(message)) return;
    const prefixLength = Buffer.byteLength(this.prefix);
    for (const key of message as unknown[]) {
      if (!Buffer.isBuffer(key)) continue;
      this.stats.keysInvalidated++;
      target.invalidate(key.toString('utf8', prefixLength));
    }
  }

  /** On every subscriber 'ready': learn its id, subscribe, then (re)start tracking with that id. */
  async #subscribe(): Promise<void> {
    const generation = this.#subscriberGeneration;
    this.#subscribing = true;
    try {
      const id = Number(await this.#subscriber.client('ID'));
      await this.#subscriber.subscribe(INVALIDATE_CHANNEL);
      if (generation !== this.#subscriberGeneration || this.#closed) return;
      this.#subscriberId = id;
      await this.#track();
    } catch {
      // The connection dropped or a command timed out: 'close' or the check retries.
    } finally {
      if (generation === this.#subscriberGeneration) this.#subscribing = false;
    }
  }

  /** Tracking ON, redirected to the current subscriber; declares established if nothing was lost meanwhile. */
  async #track(): Promise<void> {
    const generation = this.#generation;
    const subscriberId = this.#subscriberId;
    if (this.#closed || this.#tracking || subscriberId === undefined || this.#tracker.status !== 'ready') return;
    this.#tracking = true;
    try {
      this.#trackerId = Number(await this.#tracker.client('ID'));
      // OFF first: BCAST cannot be switched on over an existing tracking state with a new redirect.
      await this.#tracker.client('TRACKING', 'OFF');
      await this.#tracker.client('TRACKING', 'ON', 'REDIRECT', String(subscriberId), 'BCAST', 'PREFIX', this.prefix);
      if (generation !== this.#generation || this.#subscriberId !== subscriberId) return;
      if (this.#subscriber.status !== 'ready' || this.#tracker.status !== 'ready') return;
      this.#setEstablished(true);
    } catch {
      // Retried by the next check while both connections are up.
    } finally {
      this.#tracking = false;
    }
    // A loss during the setup made it void; go again if the connections are back already.
    if (!this.#established && generation !== this.#generation) void this.#track();
  }

  /**
   * Each interval: when established, ask the server whether tracking still
   * stands as we set it (it does not after a subscriber the server dropped
   * while our socket looked alive), and PING the subscriber (a silent one
   * would let invalidations pile up unread); when not, retry the setup.
   */
  async #check(): Promise<void> {
    if (this.#closed || this.#tracker.status !== 'ready') return;
    if (!this.#established) {
      if (this.#subscriberId !== undefined) await this.#track();
      else if (this.#subscriber.status === 'ready' && !this.#subscribing) this.#subscriber.disconnect(true); // its setup failed: start over
      return;
    }
    const generation = this.#generation;
    const [info, subscriberAnswered] = await Promise.all([
      this.#tracker.client('TRACKINGINFO').then(trackingInfo, () => undefined),
      this.#subscriber.ping().then(
        () => true,
        () => false,
      ),
    ]);
    if (generation !== this.#generation || this.#closed) return;
    if (!subscriberAnswered) {
      // A silent subscriber: start it over (its 'ready' re-tracks with its new id).
      this.#lost(true);
      this.#subscriber.disconnect(true);
      return;
    }
    if (info === undefined) {
      // A silent tracker: start it over too (its 'ready' re-tracks).
      this.#lost(false);
      this.#tracker.disconnect(true);
      return;
    }
    const broken = info.flags.includes('broken_redirect');
    if (info.flags.includes('on') && info.flags.includes('bcast') && !broken && info.redirect === this.#subscriberId) return;
    this.#lost(broken);
    // A subscriber the server no longer knows: reconnect it (its 'ready' re-tracks).
    if (broken) this.#subscriber.disconnect(true);
  }

  /** Either connection is gone (or tracking is): suspend the target; `subscriber` forgets its id. */
  #lost(subscriber: boolean): void {
    this.#generation++;
    if (subscriber) {
      this.#subscriberGeneration++;
      this.#subscriberId = undefined;
      this.#subscribing = false;
    }
    if (this.#closed) return;
    this.stats.losses++;
    this.#setEstablished(false);
  }

  #setEstablished(established: boolean): void {
    const target = this.#o.target;
    // Suspend on every loss, even when already down: it is idempotent, and a
    // second loss during setup must still refuse fills begun before it.
    if (established) {
      this.stats.establishments++;
      target.resume();
    } else target.suspend();
    if (established === this.#established) return;
    this.#established = established;
    for (const listener of [...this.#listeners]) listener(established);
  }
}
