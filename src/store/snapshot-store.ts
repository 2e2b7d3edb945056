/**
 * Where filter snapshots live in Redis: ONE hash per namespace,
 *
 *   bloom:state:<namespace>:snapshot
 *     header   -> the encoded header (src/filter/snapshot-codec.ts)
 *     shard:<i> -> the raw bits of shard i
 *     origin   -> which database the bits describe (snapshotOrigin / originMismatch in src/persistence/snapshot-origin.ts)
 *
 * A save writes the header and the changed shards in ONE HSET, which Redis
 * applies atomically; a load is one HGETALL, also atomic. So a reader never
 * sees new shards under an old header or the reverse, and a crash mid-save
 * leaves the previous snapshot whole. (The header's crc32s still catch
 * anything else, such as a partial restore from an RDB file.)
 *
 * @example
 *   const snapshots = new SnapshotStore({ redis, namespace: 'default' });
 *   await snapshots.save(encoded.header, encoded.shards);  // only the dirty shards
 *   const { header, shards } = await snapshots.load();     // header undefined: no snapshot
 */
import type { RedisConnection } from './redis-connection.js';

export interface SnapshotBlobs {
  readonly header: Buffer | undefined;
  readonly shards: ReadonlyMap<number, Buffer>;
  readonly origin: string | undefined;
}

const HEADER_FIELD = 'header';
const ORIGIN_FIELD = 'origin';
const SHARD_FIELD = /^shard:(0|[1-9]\d{0,8})$/;

export class SnapshotStore {
  readonly key: string;
  private readonly redis: RedisConnection;

  constructor(options: { redis: RedisConnection; namespace: string }) {
    this.redis = options.redis;
    this.key = `bloom:state:${options.namespace}:snapshot`;
  }

  /** One HSET with the header, the origin and only the given shards. Returns bytes written (values only). */
  async save(
    header: Buffer,
    shards: ReadonlyMap<number, Buffer>,
    origin = '',
    /** Replaces the HSET (cluster mode: SnapshotLock.writeFenced); gets the key and the field, value pairs. */
    write?: (key: string, fields: readonly (string | Buffer)[]) => Promise<void>,
  ): Promise<number> {
    const args: (string | Buffer)[] = [HEADER_FIELD, header, ORIGIN_FIELD, origin];
    let bytes = header.length;
    for (const [index, blob] of shards) {
      if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`shard index must be a non-negative integer, got ${index}`);
      args.push(`shard:${index}`, blob);
      bytes += blob.length;
    }
    if (write === undefined) await this.redis.client.hset(this.key, ...args);
    else await write(this.key, args);
    return bytes;
  }

  /** HGETALL as Buffers; header undefined when the key is missing. Unknown fields are ignored. */
  async load(): Promise<SnapshotBlobs> {
    const fields = await this.redis.client.hgetallBuffer(this.key);
    const shards = new Map<number, Buffer>();
    let header: Buffer | undefined;
    let origin: string | undefined;
    for (const [field, value] of Object.entries(fields)) {
      if (field === HEADER_FIELD) {
        header = value;
        continue;
      }
      if (field === ORIGIN_FIELD) {
        origin = value.toString('utf8');
        continue;
      }
      const match = SHARD_FIELD.exec(field);
      if (match?.[1] !== undefined) shards.set(Number(match[1]), value);
    }
    return { header, shards, origin };
  }

  async exists(): Promise<boolean> {
    return (await this.redis.client.exists(this.key)) === 1;
  }

  async delete(): Promise<void> {
    await this.redis.client.del(this.key);
  }
}
