/**
 * One online rebuild at a time across the cluster: a plain Redis lock (SET NX
 * PX, renewed while held, compare-and-delete release). It guards load (a
 * rebuild scans the whole database and doubles an instance's filter memory),
 * not correctness: each instance's rebuild is correct on its own
 * (src/upkeep/online-rebuild.ts), so no fencing token is needed; a holder
 * that stalls past the lease merely lets a second rebuild overlap.
 *
 * @example
 *   const lock = new RebuildLock({ client: redis.client, namespace });
 *   const token = await lock.acquire(); // undefined: another instance rebuilds
 *   if (token !== undefined) try { ... await lock.renew(token) ... } finally { await lock.release(token); }
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { clusterKeys } from './cluster-keys.js';

/** KEYS: lock. ARGV: token, lease ms (0: release). Shared with the snapshot lock, whose token is checked the same way. */
export const RENEW_OR_RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;

export interface RebuildLockOptions {
  readonly client: Redis;
  readonly namespace: string;
  /** How long the lock lives without renew(); a crashed holder frees it after this. */
  readonly leaseMs?: number;
}

export class RebuildLock {
  readonly leaseMs: number;
  readonly #client: Redis;
  readonly #key: string;

  constructor(options: RebuildLockOptions) {
    this.leaseMs = options.leaseMs ?? 30_000;
    if (!Number.isSafeInteger(this.leaseMs) || this.leaseMs < 1) throw new RangeError(`options.leaseMs must be a positive integer, got ${this.leaseMs}`);
    this.#client = options.client;
    this.#key = clusterKeys(options.namespace).rebuildLock;
  }

  /** A token when acquired; undefined while another instance holds the lock. */
  async acquire(): Promise<string | undefined> {
    const token = randomBytes(12).toString('hex');
    return (await this.#client.set(this.#key, token, 'PX', this.leaseMs, 'NX')) === 'OK' ? token : undefined;
  }

  /** False when the lock is no longer ours. */
  async renew(token: string): Promise<boolean> {
    return (await this.#client.eval(RENEW_OR_RELEASE, 1, this.#key, token, this.leaseMs)) === 1;
  }

  async release(token: string): Promise<void> {
    await this.#client.eval(RENEW_OR_RELEASE, 1, this.#key, token, '0');
  }
}
