/**
 * One snapshot writer at a time across the cluster, with a fencing token
 * (Kleppmann's fix for the paused lock holder): the lock is a lease, so a
 * writer paused past it (GC, SIGSTOP, a slow network) can wake up believing it
 * still holds it. Each acquisition gets a strictly greater token, and the
 * snapshot write is a script that refuses a token below the one stored with
 * the snapshot, so an old writer never overwrites a newer snapshot.
 *
 * The token lives IN the snapshot hash (field `fence`; SnapshotStore ignores
 * fields it does not know), so it is written atomically with the data.
 *
 * @example
 *   const lock = new SnapshotLock({ client: redis.client, namespace });
 *   const token = await lock.acquire();            // undefined: another instance is writing
 *   if (token !== undefined) {
 *     const written = await lock.writeFenced(token, snapshots.key, ['header', header, 'shard:3', bits]);
 *     await lock.release(token);
 *   }
 */
import type { Redis } from 'ioredis';
import { clusterKeys, type ClusterKeys } from './cluster-keys.js';
import { RENEW_OR_RELEASE } from './rebuild-lock.js';

const FENCE_FIELD = 'fence';

/**
 * KEYS: lock, counter. ARGV: lease ms. Returns the token, or false when held.
 * The token is INCR-like (counter + 1) with the server's clock in microseconds
 * as a floor: a flush that resets the counter must not hand out tokens below
 * one a paused writer still holds (that writer would then win every fence).
 */
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local now = redis.call('TIME')
local floor = tonumber(now[1]) * 1000000 + tonumber(now[2])
local token = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, floor)
local text = string.format('%.0f', token)
redis.call('SET', KEYS[2], text)
redis.call('SET', KEYS[1], text, 'PX', ARGV[1])
return text
`;

/** KEYS: snapshot hash. ARGV: token, field, value, field, value, ... */
const WRITE_FENCED = `
local stored = tonumber(redis.call('HGET', KEYS[1], '${FENCE_FIELD}') or '0')
local token = tonumber(ARGV[1])
if stored > token then return 0 end
redis.call('HSET', KEYS[1], '${FENCE_FIELD}', ARGV[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`;

export interface SnapshotLockOptions {
  readonly client: Redis;
  readonly namespace: string;
  /** How long the lock lives without renew(); a crashed writer frees it after this. */
  readonly leaseMs?: number;
}

export class SnapshotLock {
  readonly #client: Redis;
  readonly #keys: ClusterKeys;
  readonly #leaseMs: number;

  constructor(options: SnapshotLockOptions) {
    const leaseMs = options.leaseMs ?? 30_000;
    if (!Number.isSafeInteger(leaseMs) || leaseMs < 1) throw new RangeError(`options.leaseMs must be a positive integer, got ${leaseMs}`);
    this.#client = options.client;
    this.#keys = clusterKeys(options.namespace);
    this.#leaseMs = leaseMs;
  }

  /** A fencing token greater than every earlier one, or undefined while another writer holds the lock. */
  async acquire(): Promise<string | undefined> {
    const token = await this.#client.eval(ACQUIRE, 2, this.#keys.snapshotLock, this.#keys.snapshotFenceCounter, this.#leaseMs);
    return typeof token === 'string' ? token : undefined;
  }

  /** Extends the lock; false when it is no longer ours (then stop writing: a newer token may exist). */
  async renew(token: string): Promise<boolean> {
    return (await this.#client.eval(RENEW_OR_RELEASE, 1, this.#keys.snapshotLock, token, this.#leaseMs)) === 1;
  }

  async release(token: string): Promise<void> {
    await this.#client.eval(RENEW_OR_RELEASE, 1, this.#keys.snapshotLock, token, '0');
  }

  /**
   * Writes the fields into the snapshot hash `key` unless a write with a
   * greater token already landed there; true when written. Atomic: the check,
   * the token and the data go in one script.
   */
  async writeFenced(token: string, key: string, fields: readonly (string | Buffer)[]): Promise<boolean> {
    if (fields.length % 2 !== 0) throw new RangeError('fields must be field, value pairs');
    return (await this.#client.eval(WRITE_FENCED, 1, key, token, ...fields)) === 1;
  }
}
