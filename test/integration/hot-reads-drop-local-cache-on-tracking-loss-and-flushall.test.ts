/**
 * Issue 12: the local cache never outlives the invalidation that keeps it
 * true. On a private redis-server (it is killed and flushed): cutting either
 * tracking connection (CLIENT KILL of the subscriber or of the tracker) drops
 * every local entry and no stale value is served after, even for a key
 * changed while the cut hid its invalidation; FLUSHALL drops every local
 * entry. Two instances of one namespace (see test/helpers/hot-pair.ts).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localCacheOn, startHotPair, warm, type HotPair } from '../helpers/hot-pair.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { waitFor } from '../helpers/wait-for.js';

const IDS = Array.from({ length: 20 }, (_, i) => `CUT-${i}`);

let redis: PrivateRedis;
let admin: Redis;
let pair: HotPair;

beforeAll(async () => {
  redis = await startPrivateRedis();
  admin = new Redis(redis.url, { lazyConnect: true });
  await admin.connect();
  pair = await startHotPair(redis.url, IDS);
});

afterAll(async () => {
  await pair?.stop();
  admin?.disconnect();
  await redis?.stop();
});

/** CLIENT IDs of the connections named `name` (both instances use the same names). */
async function clientIds(name: string): Promise<string[]> {
  const list = (await admin.client('LIST')) as string;
  return list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined);
}

async function localHits(svc: HotPair['b']): Promise<number> {
  return (await svc.get('/stats')).body.local_cache_hit as number;
}

async function heldLocally(svc: HotPair['b'], id: string): Promise<void> {
  await warm(svc, id);
  const before = await localHits(svc);
  expect((await svc.get(`/products/${id}`)).body.source).toBe('cache');
  expect(await localHits(svc)).toBe(before + 1);
}

describe('the local cache follows its invalidation', () => {
  it.each(['bloomgate-sub', 'bloomgate-track'])('a cut %s connection flushes it; a change hidden by the cut is not served stale', async (name) => {
    const id = name === 'bloomgate-sub' ? IDS[0]! : IDS[1]!;
    await waitFor('tracking on both', () => localCacheOn(pair.a) && localCacheOn(pair.b));
    await heldLocally(pair.b, id);
    const logsFrom = pair.b.logs.length;
    const ids = await clientIds(name);
    expect(ids.length).toBe(2);
    // The kill and the change in one pipeline: Redis runs them in order, so
    // the change happens after the connection is gone and its invalidation
    // reaches nobody; only the flush on the loss keeps the old value out.
    const changed = { id, name: 'Changed behind the cut', price: 77 };
    const pipeline = admin.pipeline();
    for (const clientId of ids) pipeline.client('KILL', 'ID', clientId);
    pipeline.set(`bloom:cache:${pair.namespace}:${id}`, JSON.stringify(changed), 'PX', 60_000);
    await pipeline.exec();
    await waitFor('instance b noticed the cut', () => pair.b.logs.slice(logsFrom).some((l) => l.includes('local product cache suspended')));
    expect((await pair.b.get(`/products/${id}`)).body).toEqual({ ...changed, source: 'cache' });
    // Tracking comes back by itself; the local cache then fills again, with the new value.
    await waitFor('tracking re-established', () => localCacheOn(pair.b, logsFrom));
    await heldLocally(pair.b, id);
    expect((await pair.b.get(`/products/${id}`)).body).toEqual({ ...changed, source: 'cache' });
  });

  it('FLUSHALL drops every local entry', async () => {
    await waitFor('tracking on both', () => localCacheOn(pair.a) && localCacheOn(pair.b));
    // One id each: a database read on one instance refills Redis, which the other would then hit.
    const held = [
      { svc: pair.a, id: IDS[2]! },
      { svc: pair.b, id: IDS[3]! },
    ];
    for (const { svc, id } of held) await heldLocally(svc, id);
    expect(await admin.flushall()).toBe('OK');
    // Without the flush invalidation both would keep answering "cache" from their local copy (max age 60 s).
    for (const { svc, id } of held) {
      await waitFor('the local entry dropped', async () => (await svc.get(`/products/${id}`)).body.source === 'database');
    }
  });
});
