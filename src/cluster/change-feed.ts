/**
 * The change feed: one Redis Stream per namespace (`bloom:feed:<ns>`) carrying
 * every committed create and delete, so every instance's filter (and cache
 * state) follows the others' writes in commit order.
 *
 * The feed is only the fast path. It is published AFTER the database commit,
 * so a crash between the two, Redis restarting empty or a trim past a slow
 * reader can lose entries; the database stays the source of truth and every
 * instance also catches up from it (database-catch-up.ts) periodically and
 * whenever the reader has a doubt (`recover` below).
 *
 * @example
 *   const feed = new ChangeFeed(redis.client, ns);
 *   const entryId = await feed.publish({ op: 'create', ids: ['SKU-1'], position: row.position });
 *   const reader = new FeedReader({ url, namespace: ns, from: snapshot.feedPosition,
 *     apply: async (entries) => { for (const e of entries) if (e.op === 'create') for (const id of e.ids) filter.add(id); },
 *     recover: () => catchUp.run().then(() => undefined),
 *     onApplied: (id) => lease.setApplied(id) });
 *   reader.start();
 *   await feed.trimBelow(snapshot.feedPosition); // after the snapshot holding it landed
 */
import { Redis } from 'ioredis';
import { clusterKeys } from './cluster-keys.js';
import { STREAM_START, compareStreamIds } from './stream-id.js';

export type FeedOp = 'create' | 'delete';

export interface FeedChange {
  readonly op: FeedOp;
  /** One database transaction's ids (a batch is one entry). */
  readonly ids: readonly string[];
  /** The transaction's database position (product-store.ts). */
  readonly position: number;
  /** The publishing instance's id, so it can skip what it already did for its own writes (stale counts, hooks). */
  readonly origin?: string;
}

export interface FeedEntry extends FeedChange {
  /** The stream entry id. */
  readonly id: string;
}

// Ids are 1-256 bytes of UTF-8 WITHOUT control characters (src/product.ts), so
// a newline never occurs inside one and can separate them.
const ID_SEPARATOR = '\n';

/** The writing side: the service's shared Redis client (command timeout, fail fast). */
export class ChangeFeed {
  readonly key: string;
  readonly #client: Redis;

  constructor(client: Redis, namespace: string) {
    this.#client = client;
    this.key = clusterKeys(namespace).feed;
  }

  /**
   * Appends one entry AFTER its transaction committed; resolves with the entry id.
   * No MAXLEN here: trimming is left to trimBelow, called only below what the
   * latest snapshot holds, so a reader resuming from a snapshot finds its entries.
   * A failure (Redis down) loses nothing: readers catch up from the database.
   */
  async publish(change: FeedChange): Promise<string> {
    if (change.ids.length === 0) throw new RangeError('change.ids must not be empty');
    const origin = change.origin === undefined ? [] : ['by', change.origin];
    const id = await this.#client.xadd(this.key, '*', 'op', change.op, 'pos', String(change.position), ...origin, 'ids', change.ids.join(ID_SEPARATOR));
    if (id === null) throw new Error('XADD returned no id');
    return id;
  }

  /**
   * Removes entries below `streamId` (approximate: whole radix nodes only, so
   * some older entries may stay; never one at or above it). Call it only with a
   * position the latest snapshot holds.
   */
  async trimBelow(streamId: string): Promise<number> {
    return this.#client.xtrim(this.key, 'MINID', '~', streamId);
  }

  /** The last entry id, or STREAM_START for an empty or missing stream. */
  async tail(): Promise<string> {
    const last = await this.#client.xrevrange(this.key, '+', '-', 'COUNT', 1);
    return last[0]?.[0] ?? STREAM_START;
  }
}

function decodeFeedEntry(id: string, fields: readonly string[]): FeedEntry {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] ?? '', fields[i + 1] ?? '');
  const op = map.get('op');
  const ids = map.get('ids');
  const position = Number(map.get('pos'));
  if ((op !== 'create' && op !== 'delete') || ids === undefined || !Number.isSafeInteger(position)) {
    throw new Error(`feed entry ${id} is malformed`);
  }
  const origin = map.get('by');
  return { id, op, ids: ids.split(ID_SEPARATOR), position, ...(origin === undefined ? {} : { origin }) };
}

/** Why the reader asked for a database catch-up. */
export type FeedDoubt = 'reconnect' | 'redis-restarted' | 'trimmed' | 'stream-reset' | 'malformed-entry';

export interface FeedReaderOptions {
  readonly url: string;
  readonly namespace: string;
  /** The entry id to resume after: the last one applied (a snapshot's feed position, or STREAM_START). */
  readonly from: string;
  /** Applies entries in stream order; the position advances only after it resolves. */
  readonly apply: (entries: readonly FeedEntry[]) => Promise<void>;
  /** A database catch-up; awaited before the reader goes on (see the doubts in run()). */
  readonly recover: (why: FeedDoubt) => Promise<void>;
  /** Called with the new position after each applied batch (publish it as this instance's applied position). */
  readonly onApplied?: (entryId: string) => void;
  readonly onError?: (err: Error) => void;
  /** Called for each entry that does not decode (it is skipped after a database catch-up); log it. */
  readonly onMalformed?: (entryId: string, err: Error) => void;
  /** XREAD BLOCK time. */
  readonly blockMs?: number;
  /** A blocking read not back within blockMs + this is treated as hung. */
  readonly watchdogMarginMs?: number;
  /** Bound on connect and on the non-blocking commands. */
  readonly commandTimeoutMs?: number;
  readonly count?: number;
  /** CLIENT SETNAME of the reader's connection (printable ASCII, no spaces). */
  readonly connectionName?: string;
}

export class WatchdogTimeoutError extends Error {
  readonly code = 'BLOOM_FEED_WATCHDOG';
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = 'WatchdogTimeoutError';
  }
}

function withWatchdog<T>(promise: Promise<T>, ms: number, what: string, onFire: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const fired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onFire();
      reject(new WatchdogTimeoutError(what, ms));
    }, ms);
  });
  return Promise.race([promise, fired]).finally(() => clearTimeout(timer));
}

interface StreamState {
  readonly exists: boolean;
  readonly lastGenerated: string;
  readonly maxDeleted: string;
  readonly firstEntry: string | undefined;
  readonly entriesAdded: number;
  readonly length: number;
}

/**
 * The reading side: a connection of its own (a blocking XREAD must never hold
 * the shared client), a fresh ioredis client after every failure (ioredis
 * #610, #1285 and BullMQ #4484: blocking reads that hang across ioredis's own
 * reconnects), and a watchdog on every command.
 */
export class FeedReader {
  readonly #o: Required<Omit<FeedReaderOptions, 'onApplied' | 'onError' | 'onMalformed'>> & Pick<FeedReaderOptions, 'onApplied' | 'onError' | 'onMalformed'>;
  readonly #key: string;
  #position: string;
  #caughtUp = false;
  #closed = false;
  #client: Redis | undefined;
  #loop: Promise<void> | undefined;
  #wakeBackoff: (() => void) | undefined;
  #runId: string | undefined;
  #connections = 0;
  #watchdogFires = 0;
  #malformed = 0;

  constructor(options: FeedReaderOptions) {
    this.#o = { blockMs: 1_000, watchdogMarginMs: 1_000, commandTimeoutMs: 1_000, count: 1_000, connectionName: 'bloomgate-feed-reader', ...options };
    this.#key = clusterKeys(options.namespace).feed;
    compareStreamIds(options.from, STREAM_START); // validates
    this.#position = options.from;
  }

  /** The last applied entry id. */
  get position(): string {
    return this.#position;
  }

  /** True once a read found nothing more to apply and no recovery is running; false again on any doubt. */
  get caughtUp(): boolean {
    return this.#caughtUp;
  }

  get connections(): number {
    return this.#connections;
  }

  get watchdogFires(): number {
    return this.#watchdogFires;
  }

  /** Entries skipped because they did not decode (foreign or corrupt XADDs). */
  get malformedEntries(): number {
    return this.#malformed;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#caughtUp = false;
    this.#client?.disconnect();
    this.#wakeBackoff?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      this.#caughtUp = false;
      const client = new Redis(this.#o.url, {
        lazyConnect: true,
        // One client per connection: on any failure we drop it and make a new one.
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
        connectionName: this.#o.connectionName,
      });
      client.on('error', () => {}); // failures reach us through rejected commands
      this.#client = client;
      try {
        await this.#guard(client, client.connect(), this.#o.commandTimeoutMs, 'connect');
        this.#connections++;
        const info = await this.#guard(client, client.info('server'), this.#o.commandTimeoutMs, 'INFO');
        const runId = /^run_id:(\w+)/m.exec(info)?.[1];
        const first = this.#connections === 1;
        const restarted = this.#runId !== undefined && runId !== this.#runId;
        this.#runId = runId;
        // Any reconnect is a doubt: entries may have been trimmed or lost with a
        // restart while we were away. Resuming from the last APPLIED id loses
        // nothing that is still in the stream; the catch-up covers what is not.
        if (!first) await this.#o.recover(restarted ? 'redis-restarted' : 'reconnect');
        failures = 0;
        while (!this.#closed) await this.#readOnce(client);
      } catch (err) {
        if (!this.#closed) this.#o.onError?.(err instanceof Error ? err : new Error(String(err)));
      } finally {
        client.disconnect();
      }
      if (this.#closed) break;
      failures++;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(100 * 2 ** Math.min(failures - 1, 5), 2_000));
        this.#wakeBackoff = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  #guard<T>(client: Redis, promise: Promise<T>, ms: number, what: string): Promise<T> {
    return withWatchdog(promise, ms, what, () => {
      this.#watchdogFires++;
      client.disconnect();
    });
  }

  async #readOnce(client: Redis): Promise<void> {
    // Not caught up yet (start, reconnect, doubt): a read that finds nothing
    // should say so at once rather than after a full block, since an instance
    // joining an idle cluster waits for that answer before it is ready.
    const block = this.#caughtUp ? this.#o.blockMs : 1;
    const reply = await this.#guard(
      client,
      client.xread('COUNT', this.#o.count, 'BLOCK', block, 'STREAMS', this.#key, this.#position),
      block + this.#o.watchdogMarginMs,
      'XREAD BLOCK',
    );
    const raw = reply?.[0]?.[1] ?? [];
    if (raw.length === 0) {
      this.#caughtUp = true;
      return;
    }
    // Before applying past our position, make sure nothing between it and these
    // entries is gone. Checked AFTER the read: an entry trimmed or lost before the
    // check was committed before it, so the catch-up that starts now covers it.
    // (A trim racing after the read can only cause a needless catch-up.)
    const state = await this.#streamState(client);
    const doubt = this.#doubtFor(state);
    if (doubt !== undefined) {
      this.#caughtUp = false;
      await this.#o.recover(doubt);
      if (doubt === 'stream-reset') {
        // A new stream (lower ids): read it from the start; re-applying is harmless (adds are idempotent).
        this.#position = STREAM_START;
        return;
      }
    }
    const entries: FeedEntry[] = [];
    let malformed = 0;
    for (const [id, fields] of raw) {
      try {
        entries.push(decodeFeedEntry(id, fields));
      } catch (err) {
        malformed++;
        this.#o.onMalformed?.(id, err instanceof Error ? err : new Error(String(err)));
      }
    }
    if (malformed > 0) {
      // Throwing here would re-read the same entry after every reconnect and
      // never advance (every barrier waiting on us, so every create, would
      // fail). Skip it instead, after a catch-up: any create it carried
      // committed before it was published, so the catch-up (every row since
      // the database watermark) adds its ids. If the catch-up fails we throw
      // and re-read, as for any other doubt.
      this.#caughtUp = false;
      await this.#o.recover('malformed-entry');
      this.#malformed += malformed;
    }
    await this.#o.apply(entries);
    const last = raw[raw.length - 1]?.[0];
    if (last !== undefined) {
      this.#position = last;
      this.#o.onApplied?.(last);
    }
    this.#caughtUp = raw.length < this.#o.count;
  }

  #doubtFor(state: StreamState): FeedDoubt | undefined {
    const p = this.#position;
    if (!state.exists) return p === STREAM_START ? undefined : 'stream-reset';
    if (compareStreamIds(state.lastGenerated, p) < 0) return 'stream-reset';
    const everRemoved = state.entriesAdded > state.length;
    if (p === STREAM_START) return everRemoved ? 'trimmed' : undefined;
    // Our own last entry is gone (Redis 7.0 does not record trims in
    // max-deleted-entry-id, so the first entry is what tells): a trim reached
    // past us and may have taken entries we never read, or the stream was
    // recreated (nothing ever removed from it, yet it starts above us).
    // Conservative: at worst a needless catch-up.
    if (state.firstEntry !== undefined && compareStreamIds(state.firstEntry, p) > 0) return everRemoved ? 'trimmed' : 'stream-reset';
    if (compareStreamIds(state.maxDeleted, p) > 0) return 'trimmed'; // XDEL above us
    return undefined;
  }

  async #streamState(client: Redis): Promise<StreamState> {
    let raw: unknown;
    try {
      raw = await this.#guard(client, client.call('XINFO', 'STREAM', this.#key), this.#o.commandTimeoutMs, 'XINFO STREAM');
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) return { exists: false, lastGenerated: STREAM_START, maxDeleted: STREAM_START, firstEntry: undefined, entriesAdded: 0, length: 0 };
      throw err;
    }
    if (!Array.isArray(raw)) throw new Error('XINFO STREAM answered no array');
    const field = (name: string): unknown => raw[raw.indexOf(name) + 1];
    const lastGenerated = field('last-generated-id');
    const maxDeleted = field('max-deleted-entry-id');
    const first = field('first-entry');
    const entriesAdded = field('entries-added');
    const length = field('length');
    if (typeof lastGenerated !== 'string' || typeof maxDeleted !== 'string' || typeof entriesAdded !== 'number' || typeof length !== 'number') {
      throw new Error('XINFO STREAM lacks last-generated-id / max-deleted-entry-id / entries-added (Redis 7 or later is required)');
    }
    const firstEntry = Array.isArray(first) && typeof first[0] === 'string' ? first[0] : undefined;
    return { exists: true, lastGenerated, maxDeleted, firstEntry, entriesAdded, length };
  }
}
