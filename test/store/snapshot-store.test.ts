import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisConnection } from '../../src/store/redis-connection.js';
import { SnapshotStore } from '../../src/store/snapshot-store.js';
import { SHARED_REDIS_URL, deleteNamespaceKeys, uniqueMemoryUrl, uniqueNamespace } from '../helpers/redis-namespace.js';

/** Every byte value, so a lossy (string) round trip cannot pass. */
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe.each([
  { backend: 'real Redis', url: SHARED_REDIS_URL },
  { backend: 'memory://', url: uniqueMemoryUrl() },
])('SnapshotStore on $backend', ({ url }) => {
  let redis: RedisConnection;
  let namespace: string;
  let store: SnapshotStore;

  beforeAll(async () => {
    redis = RedisConnection.open({ url, commandTimeoutMs: 2_000 });
    await redis.waitReady(5_000);
  });

  beforeEach(() => {
    namespace = uniqueNamespace('snap');
    store = new SnapshotStore({ redis, namespace });
  });

  afterEach(async () => {
    await deleteNamespaceKeys(redis.client, namespace);
  });

  afterAll(async () => {
    await redis.close();
  });

  it('keeps the snapshot in one hash, bloom:state:<namespace>:snapshot', () => {
    expect(store.key).toBe(`bloom:state:${namespace}:snapshot`);
  });

  it('loads nothing before the first save', async () => {
    expect(await store.exists()).toBe(false);
    const loaded = await store.load();
    expect(loaded.header).toBeUndefined();
    expect(loaded.shards.size).toBe(0);
  });

  it('round-trips binary header and shards, bytes 0x00 and 0xff included', async () => {
    const header = Buffer.concat([Buffer.from([0x00, 0xff, 0x00]), ALL_BYTES]);
    const shards = new Map([
      [0, Buffer.from([0x00, 0x00, 0x00, 0x00])],
      [1, Buffer.from([0xff, 0xff, 0xff, 0xff])],
      [7, ALL_BYTES],
      [63, randomBytes(1 << 20)],
    ]);
    const written = await store.save(header, shards);
    expect(written).toBe(header.length + 4 + 4 + 256 + (1 << 20));
    expect(await store.exists()).toBe(true);
    const loaded = await store.load();
    expect(loaded.header?.equals(header)).toBe(true);
    expect([...loaded.shards.keys()].sort((a, b) => a - b)).toEqual([0, 1, 7, 63]);
    for (const [i, blob] of shards) expect(loaded.shards.get(i)?.equals(blob), `shard ${i}`).toBe(true);
  });

  it('a partial save replaces the header and only the given shards', async () => {
    await store.save(Buffer.from('header-1'), new Map([
      [0, Buffer.from('zero-1')],
      [1, Buffer.from('one-1')],
      [2, Buffer.from('two-1')],
    ]));
    expect(await store.save(Buffer.from('header-2'), new Map([[1, Buffer.from('one-2')]]))).toBe(8 + 5);
    const loaded = await store.load();
    expect(loaded.header?.toString()).toBe('header-2');
    expect(Object.fromEntries([...loaded.shards].map(([i, b]) => [i, b.toString()]))).toEqual({ 0: 'zero-1', 1: 'one-2', 2: 'two-1' });
  });

  it('saves a header alone', async () => {
    expect(await store.save(Buffer.from([1, 2, 3]), new Map())).toBe(3);
    const loaded = await store.load();
    expect(loaded.header).toEqual(Buffer.from([1, 2, 3]));
    expect(loaded.shards.size).toBe(0);
  });

  it('ignores fields it does not know', async () => {
    await store.save(Buffer.from('h'), new Map([[3, Buffer.from('s')]]));
    await redis.client.hset(store.key, 'junk', 'x', 'shard:', 'x', 'shard:-1', 'x', 'shard:01', 'x', 'shard:x', 'x');
    const loaded = await store.load();
    expect([...loaded.shards.keys()]).toEqual([3]);
  });

  it('rejects a bad shard index before writing anything', async () => {
    await expect(store.save(Buffer.from('h'), new Map([[-1, Buffer.from('s')]]))).rejects.toThrow(
      'shard index must be a non-negative integer, got -1',
    );
    expect(await store.exists()).toBe(false);
  });

  it('delete removes the snapshot', async () => {
    await store.save(Buffer.from('h'), new Map([[0, Buffer.from('s')]]));
    await store.delete();
    expect(await store.exists()).toBe(false);
    expect((await store.load()).header).toBeUndefined();
  });

  it('keeps namespaces apart', async () => {
    const other = new SnapshotStore({ redis, namespace: `${namespace}-other` });
    await store.save(Buffer.from('mine'), new Map());
    expect(await other.exists()).toBe(false);
  });
});
