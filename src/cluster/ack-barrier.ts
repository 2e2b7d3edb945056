/**
 * The writer's side of the lease protocol: a create is acknowledged only once
 * every instance holding a lease has applied its feed entry, or that lease has
 * expired (then the instance fails open and must catch up before rejecting
 * again: lease.ts). A dead instance therefore delays writes by at most one TTL.
 *
 * One atomic read (a Lua script) gives the epoch, every member's lease PTTL
 * and every applied position, so no lease can slip between "who holds one" and
 * "what have they applied". Rounds are shared by all waiting writes; they run
 * when an applied position is PUBLISHed and, since pub/sub can drop messages,
 * every pollMs as well.
 *
 * @example
 *   const barrier = new AckBarrier({ client: redis.client, subscriber: redis.client.duplicate(), namespace, ttlMs: lease.ttlMs, selfId });
 *   await barrier.prime(); // during the join: waits out the first epoch observation
 *   const entryId = await feed.publish({ op: 'create', ids, position });
 *   const result = await barrier.waitApplied(entryId, clock() + 5_000);
 *   if (!result.acknowledged) ...; // committed, but some live instance did not apply it in time
 */
import type { Redis } from 'ioredis';
import { quitOrCut } from '../store/redis-connection.js';
import { clusterKeys, type ClusterKeys } from './cluster-keys.js';
import { streamIdAtLeast } from './stream-id.js';

/**
 * KEYS: epoch, members, applied. ARGV: lease key prefix.
 * Returns {epoch or false, id1, pttl1, applied1 or false, id2, ...}. A member
 * whose lease key is gone is reported once more (PTTL -2, with its applied
 * position: a graceful leave sets it past every entry) and then pruned; a new
 * registration adds it back in the same script that sets the lease, so a live
 * lease is always a member.
 */
const READ_STATE = `
local out = {redis.call('GET', KEYS[1])}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local pttl = redis.call('PTTL', ARGV[1] .. id)
  table.insert(out, id)
  table.insert(out, pttl)
  table.insert(out, redis.call('HGET', KEYS[3], id))
  if pttl == -2 then
    redis.call('SREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
return out
`;

export interface AckBarrierOptions {
  readonly client: Redis;
  /** A connection for SUBSCRIBE only (e.g. client.duplicate()); without one the barrier polls. */
  readonly subscriber?: Redis;
  readonly namespace: string;
  /** The lease TTL every instance uses. */
  readonly ttlMs: number;
  /** This instance: its own filter got the ids before the entry was published, so it is not waited for. */
  readonly selfId?: string;
  readonly pollMs?: number;
  readonly clock?: () => number;
}

export type AckResult =
  | { readonly acknowledged: true }
  | { readonly acknowledged: false; readonly waitingFor: readonly string[]; readonly reason: 'deadline' | 'closed' };

interface Waiter {
  readonly entryId: string;
  readonly deadline: number;
  readonly resolve: (result: AckResult) => void;
}

interface Member {
  /** Writer clock time by which the holder has stopped trusting its lease. */
  expiry: number;
  applied: string | undefined;
}

export class AckBarrier {
  readonly #client: Redis;
  readonly #subscriber: Redis | undefined;
  readonly #keys: ClusterKeys;
  readonly #ttlMs: number;
  readonly #selfId: string | undefined;
  readonly #pollMs: number;
  readonly #clock: () => number;
  readonly #waiters = new Set<Waiter>();
  /** Every lease seen, with its remembered expiry. */
  readonly #members = new Map<string, Member>();
  /** null: seen absent; undefined: never read. */
  #epoch: string | null | undefined;
  #quietUntil = 0;
  #epochChanges = 0;
  #round: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  /** Ends prime()'s quiet-period wait: close() calls it, so no timer outlives the barrier. */
  #endPrimeWait: (() => void) | undefined;
  #closed = false;
  #subscribed: Promise<void> | undefined;

  constructor(options: AckBarrierOptions) {
    if (!Number.isSafeInteger(options.ttlMs) || options.ttlMs < 1) throw new RangeError(`options.ttlMs must be a positive integer, got ${options.ttlMs}`);
    this.#client = options.client;
    this.#subscriber = options.subscriber;
    this.#keys = clusterKeys(options.namespace);
    this.#ttlMs = options.ttlMs;
    this.#selfId = options.selfId;
    this.#pollMs = options.pollMs ?? 50;
    this.#clock = options.clock ?? (() => performance.now());
  }

  /** Epoch changes (or first observations) seen; each one made writes wait a full TTL. */
  get epochChanges(): number {
    return this.#epochChanges;
  }

  /** Until this clock time no write is acknowledged (an epoch change's full TTL). */
  get quietUntil(): number {
    return this.#quietUntil;
  }

  /** Reads the state once and waits out a first-observation or epoch-change quiet period (call it while joining). */
  async prime(): Promise<void> {
    await this.#readState();
    const wait = this.#quietUntil - this.#clock();
    if (wait > 0 && !this.#closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.#endPrimeWait?.(), wait);
        this.#endPrimeWait = () => {
          clearTimeout(timer);
          this.#endPrimeWait = undefined;
          resolve();
        };
      });
    }
  }

  /**
   * Resolves { acknowledged: true } once every live lease holder (other than
   * selfId) has applied `entryId` or its lease expired; { acknowledged: false }
   * at `deadline` (clock time), or at close().
   */
  waitApplied(entryId: string, deadline: number): Promise<AckResult> {
    if (this.#closed) return Promise.resolve({ acknowledged: false, waitingFor: [], reason: 'closed' });
    void this.#subscribe();
    return new Promise<AckResult>((resolve) => {
      this.#waiters.add({ entryId, deadline, resolve });
      this.#wake();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#endPrimeWait?.();
    for (const w of this.#waiters) w.resolve({ acknowledged: false, waitingFor: [], reason: 'closed' });
    this.#waiters.clear();
    await this.#round;
    // Bounded: the subscriber has no command timeout and no heartbeat, so a QUIT
    // sent to a black-holed Redis would never answer (see quitOrCut).
    if (this.#subscriber !== undefined) await quitOrCut(this.#subscriber);
  }

  #subscribe(): Promise<void> {
    const sub = this.#subscriber;
    if (sub === undefined) return Promise.resolve();
    this.#subscribed ??= (async () => {
      sub.on('message', () => this.#wake());
      // Also after every reconnect: ioredis resubscribes, and messages may have been missed meanwhile.
      sub.on('ready', () => this.#wake());
      await sub.subscribe(this.#keys.appliedChannel);
    })().catch(() => undefined); // polling still works
    return this.#subscribed;
  }

  #wake(): void {
    if (this.#closed) return;
    if (this.#round !== undefined) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#round = this.#runRound().finally(() => {
      this.#round = undefined;
      if (this.#closed || this.#waiters.size === 0) return;
      if (this.#again) {
        this.#again = false;
        this.#wake();
      } else {
        this.#timer = setTimeout(() => this.#wake(), this.#pollMs);
      }
    });
  }

  async #readState(): Promise<void> {
    const reply = await this.#client.eval(READ_STATE, 3, this.#keys.epoch, this.#keys.members, this.#keys.applied, this.#keys.lease(''));
    // The time AFTER the reply: Redis expires a lease at (its time) + PTTL, and
    // its holder stops trusting it earlier still (sent + ttl - margin), so
    // "now + PTTL" never ends before the holder's own view of its lease does.
    const now = this.#clock();
    if (!Array.isArray(reply)) throw new Error('the barrier state script answered no array');
    const epoch = typeof reply[0] === 'string' ? reply[0] : null;
    if (epoch !== this.#epoch) {
      // Redis lost its data (or we never looked): leases granted under the old
      // epoch are invisible now, yet their holders may trust them until their
      // last renewal + ttl - margin, which is before now + ttl. Waiting a full
      // TTL outlasts every one of them; afterwards each has failed open and can
      // only come back visibly, through registration and a catch-up.
      this.#epoch = epoch;
      this.#epochChanges++;
      this.#quietUntil = Math.max(this.#quietUntil, now + this.#ttlMs);
      // Positions from the old stream say nothing about the new one.
      for (const member of this.#members.values()) member.applied = undefined;
    }
    for (let i = 1; i + 2 < reply.length; i += 3) {
      const id = reply[i];
      const pttl = reply[i + 1];
      const appliedRaw = reply[i + 2];
      if (typeof id !== 'string' || typeof pttl !== 'number') break;
      const applied = typeof appliedRaw === 'string' ? appliedRaw : undefined;
      // PTTL -2: the lease is gone (expired or left); -1 cannot come from RENEW, count it as a full TTL.
      const expiry = pttl === -2 ? now : now + (pttl >= 0 ? pttl : this.#ttlMs);
      const member = this.#members.get(id);
      if (member === undefined) {
        if (pttl !== -2) this.#members.set(id, { expiry, applied });
      } else {
        // Remembered: a lease seen once is waited for until its observed expiry,
        // even if it vanishes from Redis meanwhile.
        member.expiry = Math.max(member.expiry, expiry);
        if (applied !== undefined) member.applied = applied;
      }
    }
    for (const [id, member] of this.#members) if (member.expiry <= now) this.#members.delete(id);
  }

  async #runRound(): Promise<void> {
    try {
      await this.#readState();
    } catch {
      // Redis unreachable: nothing can be acknowledged now; the deadline ends the wait.
    }
    const now = this.#clock();
    for (const w of this.#waiters) {
      const waitingFor = this.#pending(w.entryId, now);
      if (waitingFor.length === 0 && now >= this.#quietUntil && this.#epoch !== undefined) {
        this.#waiters.delete(w);
        w.resolve({ acknowledged: true });
      } else if (now >= w.deadline) {
        this.#waiters.delete(w);
        w.resolve({ acknowledged: false, waitingFor, reason: 'deadline' });
      }
    }
  }

  /**
   * Instances a write must still wait for: each lease ever seen whose
   * remembered expiry has not passed and whose applied position is below the entry.
   */
  #pending(entryId: string, now: number): string[] {
    const out: string[] = [];
    for (const [id, member] of this.#members) {
      if (id === this.#selfId || member.expiry <= now) continue;
      if (member.applied === undefined || !streamIdAtLeast(member.applied, entryId)) out.push(id);
    }
    return out;
  }
}
