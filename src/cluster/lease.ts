/**
 * An instance's lease: the promise "while my lease is valid, writers wait for
 * me before acknowledging a create". With it the cluster keeps
 *
 *   once any instance has acknowledged a create, no instance's filter rejects that id,
 *
 * because an instance may answer 404 from its filter alone ONLY while
 * `mayRejectFromFilter()` holds: its lease is valid by its own (conservative)
 * clock, it has caught up from the database since it last (re)registered, and
 * its feed reader is not behind. Otherwise the guard sends the lookup on to the
 * cache and the database (fail open, never fail closed).
 *
 * Keys (cluster-keys.ts): `bloom:lease:<ns>:<id>` (value: the epoch, PX ttl),
 * `bloom:members:<ns>` (who ever registered), `bloom:applied:<ns>` (applied feed
 * position per instance, also PUBLISHed so writers wake without polling) and
 * `bloom:epoch:<ns>`, which detects Redis losing its data (see RENEW).
 *
 * @example
 *   const lease = new InstanceLease({ client: redis.client, namespace, instanceId,
 *     catchUp: async () => { await catchUp.run(); }, isCaughtUp: () => reader.caughtUp });
 *   lease.start();
 *   reader = new FeedReader({ ..., onApplied: (id) => lease.setApplied(id) });
 *   if (!filter.has(id) && lease.mayRejectFromFilter()) return notFound('bloom_filter');
 *   await lease.close(); // leaves: writers stop waiting for us at once
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { realScheduler, type Cancel, type Scheduler } from '../lifecycle/scheduler.js';
import { clusterKeys, type ClusterKeys } from './cluster-keys.js';
import { STREAM_END } from './stream-id.js';

/**
 * KEYS: epoch, lease, members. ARGV: the holder's epoch ('' to (re)register),
 * a fresh epoch value, ttl ms, instance id.
 * Returns {1, epoch, existed} on success, {0, current epoch or ''} when the
 * epoch is not the holder's.
 *
 * Why the epoch: after FLUSHALL or a restart with no data, a lease key that
 * writers can no longer see must not go on being renewed as if nothing
 * happened. Renewal succeeds only under the epoch the holder registered in; a
 * flush removes the epoch, so every holder's next renewal fails, it goes
 * lease-less (fail open) and registers again under a new epoch, catching up
 * from the database before it rejects again. Writers see the epoch change and
 * wait a full TTL (ack-barrier.ts).
 */
const RENEW = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] ~= '' and current ~= ARGV[1] then
  return {0, current or ''}
end
if not current then
  redis.call('SET', KEYS[1], ARGV[2])
  current = ARGV[2]
end
local existed = redis.call('EXISTS', KEYS[2])
redis.call('SET', KEYS[2], current, 'PX', ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
return {1, current, existed}
`;

/**
 * KEYS: lease, applied. ARGV: instance id, STREAM_END. A graceful leave: the
 * applied position past every entry tells writers that remember our lease to
 * stop waiting for us now rather than at its expiry.
 */
const LEAVE = `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
`;

export interface InstanceLeaseOptions {
  readonly client: Redis;
  readonly namespace: string;
  /** Unique per process (a random id; never reused by a restart). */
  readonly instanceId: string;
  /** Lease time to live in Redis. */
  readonly ttlMs?: number;
  /** Renewal period; well below ttlMs - marginMs. */
  readonly renewEveryMs?: number;
  /** Taken off the holder's view of its lease, for clock rate differences and scheduling delays. */
  readonly marginMs?: number;
  /** Monotonic milliseconds. */
  readonly clock?: () => number;
  readonly scheduler?: Scheduler;
  /**
   * A database catch-up (DatabaseCatchUp.run). Run after every (re)registration;
   * the filter may reject again only once a run started after that registration resolved.
   */
  readonly catchUp: () => Promise<void>;
  /** E.g. () => feedReader.caughtUp: while false the filter does not reject. */
  readonly isCaughtUp?: () => boolean;
  readonly onError?: (err: Error) => void;
}

export class InstanceLease {
  readonly instanceId: string;
  readonly ttlMs: number;
  readonly #client: Redis;
  readonly #keys: ClusterKeys;
  readonly #renewEveryMs: number;
  readonly #marginMs: number;
  readonly #clock: () => number;
  readonly #scheduler: Scheduler;
  readonly #catchUp: () => Promise<void>;
  readonly #isCaughtUp: () => boolean;
  readonly #onError: (err: Error) => void;
  #epoch: string | undefined;
  #validUntil = -Infinity;
  /** Incremented by every (re)registration; the filter may reject only when caughtUpTerm === term. */
  #term = 0;
  #caughtUpTerm = -1;
  #applied: string | undefined;
  #appliedDirty = false;
  #publishing = false;
  #renewing: Promise<boolean> | undefined;
  #cancel: Cancel | undefined;
  #closed = false;
  #registrations = 0;

  constructor(options: InstanceLeaseOptions) {
    this.instanceId = options.instanceId;
    this.ttlMs = options.ttlMs ?? 3_000;
    this.#renewEveryMs = options.renewEveryMs ?? 1_000;
    this.#marginMs = options.marginMs ?? 500;
    if (!/^[!-~]+$/.test(options.instanceId)) throw new RangeError(`options.instanceId must be printable ASCII without spaces, got ${JSON.stringify(options.instanceId)}`);
    if (!(this.#marginMs >= 0 && this.#renewEveryMs > 0 && this.#renewEveryMs < this.ttlMs - this.#marginMs)) {
      throw new RangeError(`options.renewEveryMs (${this.#renewEveryMs}) must be positive and below ttlMs - marginMs (${this.ttlMs} - ${this.#marginMs})`);
    }
    this.#client = options.client;
    this.#keys = clusterKeys(options.namespace);
    this.#clock = options.clock ?? (() => performance.now());
    this.#scheduler = options.scheduler ?? realScheduler;
    this.#catchUp = options.catchUp;
    this.#isCaughtUp = options.isCaughtUp ?? (() => true);
    this.#onError = options.onError ?? (() => {});
  }

  /** The epoch this lease was last registered under (undefined while lease-less). */
  get epoch(): string | undefined {
    return this.#epoch;
  }

  /** Clock time until which the lease is valid by the holder's own view. */
  get validUntil(): number {
    return this.#validUntil;
  }

  /** How many times the lease was (re)registered (each one needs a catch-up). */
  get registrations(): number {
    return this.#registrations;
  }

  /**
   * May the filter answer 404 alone? Only with a valid lease, a catch-up since
   * the last registration, and the feed reader not behind. False means: ask the
   * cache and the database (fail open).
   */
  mayRejectFromFilter(): boolean {
    return !this.#closed && this.#clock() < this.#validUntil && this.#caughtUpTerm === this.#term && this.#isCaughtUp();
  }

  /** Renews now and every renewEveryMs until close(). */
  start(): void {
    if (this.#cancel !== undefined || this.#closed) return;
    this.#cancel = this.#scheduler.every(this.#renewEveryMs, () => void this.renew());
    void this.renew();
  }

  /** One renewal (or registration); true when the lease is now held. Overlapping calls share one. */
  renew(): Promise<boolean> {
    this.#renewing ??= this.#renewOnce().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  async #renewOnce(): Promise<boolean> {
    if (this.#closed) return false;
    // The SEND time: Redis expires the key at (its processing time) + ttl, which
    // is later, so "valid until sent + ttl - margin" never outlives the key.
    const sent = this.#clock();
    // A lease that lapsed by our own clock may have been given up by writers
    // (they stop waiting once it expires): register anew, as a rejoin.
    const lapsed = sent >= this.#validUntil;
    const epoch = lapsed ? '' : (this.#epoch ?? '');
    let reply: unknown;
    try {
      reply = await this.#client.eval(RENEW, 3, this.#keys.epoch, this.#keys.lease(this.instanceId), this.#keys.members, epoch, randomBytes(16).toString('hex'), this.ttlMs, this.instanceId);
    } catch (err) {
      this.#onError(err instanceof Error ? err : new Error(String(err)));
      return false; // validity runs out by itself: fail open at sent + ttl - margin
    }
    if (this.#closed) return false;
    const [ok, current, existed] = Array.isArray(reply) ? reply : [];
    if (ok !== 1 || typeof current !== 'string') {
      // The epoch changed or vanished (Redis lost its data): writers may no
      // longer see us, so stop rejecting at once, and register again.
      this.#epoch = undefined;
      this.#validUntil = -Infinity;
      return this.#renewOnce();
    }
    const rejoin = epoch === '' || existed !== 1 || current !== this.#epoch;
    this.#epoch = current;
    this.#validUntil = sent + this.ttlMs - this.#marginMs;
    if (rejoin) this.#registered();
    if (rejoin || this.#appliedDirty) this.#publishApplied();
    return true;
  }

  /**
   * Rejoin. A writer that acknowledged a create without waiting for us did its
   * ack check when our lease was not in Redis (or under another epoch, after
   * which it waited out every lease it could not see). Its row committed
   * before that check, so before this registration, and the catch-up started
   * below, after the registration's reply, reads every row committed before
   * it. Writers that check after the registration see our lease and wait for
   * our applied position. Hence: no rejection until that catch-up is done.
   */
  #registered(): void {
    const term = ++this.#term;
    this.#registrations++;
    this.#appliedDirty = true;
    this.#catchUp().then(
      () => {
        if (this.#term === term) this.#caughtUpTerm = term;
      },
      (err: unknown) => {
        this.#onError(err instanceof Error ? err : new Error(String(err)));
        // Still lease-holding but not caught up: try again at the next renewal.
        if (this.#term === term && !this.#closed) this.#validUntil = -Infinity;
      },
    );
  }

  /**
   * Publishes the last applied feed entry id (HSET + PUBLISH so writers wake).
   * Call it only after the entry's changes are in the filter. Coalesced; a
   * failed publish is retried at the next renewal.
   */
  setApplied(entryId: string): void {
    this.#applied = entryId;
    this.#appliedDirty = true;
    this.#publishApplied();
  }

  #publishApplied(): void {
    if (this.#publishing || this.#closed || this.#applied === undefined || this.#epoch === undefined) return;
    const value = this.#applied;
    this.#publishing = true;
    this.#appliedDirty = false;
    this.#client
      .multi()
      .hset(this.#keys.applied, this.instanceId, value)
      .publish(this.#keys.appliedChannel, this.instanceId)
      .exec()
      .then(
        (results) => {
          if (results?.some(([err]) => err !== null)) this.#appliedDirty = true;
        },
        (err: unknown) => {
          this.#appliedDirty = true;
          this.#onError(err instanceof Error ? err : new Error(String(err)));
        },
      )
      .finally(() => {
        this.#publishing = false;
        if (this.#appliedDirty && this.#applied !== value) this.#publishApplied();
      });
  }

  /** Stops renewing and leaves (deletes the lease), so writers stop waiting for us at once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancel?.();
    await this.#renewing?.catch(() => undefined);
    this.#validUntil = -Infinity;
    await this.#client.eval(LEAVE, 2, this.#keys.lease(this.instanceId), this.#keys.applied, this.instanceId, STREAM_END).catch(() => undefined);
  }
}
