import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChangeFeed, FeedReader, type FeedDoubt, type FeedEntry } from '../../src/cluster/change-feed.js';
import { STREAM_START, compareStreamIds } from '../../src/cluster/stream-id.js';
import { SHARED_REDIS_URL, uniqueNamespace } from '../helpers/redis-namespace.js';
import { waitFor } from '../helpers/wait-for.js';
import { deleteClusterKeys, killClientsNamed } from './cluster-namespace.js';
import { startFreezingProxy } from './freezing-proxy.js';

describe('change feed', () => {
  let admin: Redis;
  const namespaces: string[] = [];
  const readers: FeedReader[] = [];

  beforeAll(() => {
    admin = new Redis(SHARED_REDIS_URL);
  });
  afterEach(async () => {
    await Promise.all(readers.splice(0).map((r) => r.close()));
    for (const ns of namespaces.splice(0)) await deleteClusterKeys(admin, ns);
  });
  afterAll(async () => {
    await admin.quit();
  });

  function setUp(): { ns: string; feed: ChangeFeed; applied: FeedEntry[]; doubts: FeedDoubt[] } {
    const ns = uniqueNamespace('feed');
    namespaces.push(ns);
    return { ns, feed: new ChangeFeed(admin, ns), applied: [], doubts: [] };
  }

  function reader(ns: string, url: string, from: string, applied: FeedEntry[], doubts: FeedDoubt[], extra: { blockMs?: number; marginMs?: number } = {}): FeedReader {
    const r = new FeedReader({
      url,
      namespace: ns,
      from,
      blockMs: extra.blockMs ?? 200,
      watchdogMarginMs: extra.marginMs ?? 300,
      commandTimeoutMs: 300,
      connectionName: `feed-reader-${ns}`,
      apply: async (entries) => {
        applied.push(...entries);
      },
      recover: async (why) => {
        doubts.push(why);
      },
    });
    readers.push(r);
    r.start();
    return r;
  }

  it('publishes one entry per transaction with op, ids and database position', async () => {
    const { ns, feed, applied, doubts } = setUp();
    const id = await feed.publish({ op: 'create', ids: ['a', 'b c', 'é'], position: 41 });
    await feed.publish({ op: 'delete', ids: ['a'], position: 42, origin: 'instance-1' });
    expect(await feed.tail()).not.toBe(id);
    reader(ns, SHARED_REDIS_URL, STREAM_START, applied, doubts);
    await waitFor('both entries', () => applied.length === 2);
    expect(applied.map(({ op, ids, position, origin }) => ({ op, ids, position, origin }))).toEqual([
      { op: 'create', ids: ['a', 'b c', 'é'], position: 41, origin: undefined },
      { op: 'delete', ids: ['a'], position: 42, origin: 'instance-1' },
    ]);
    await expect(feed.publish({ op: 'create', ids: [], position: 1 })).rejects.toThrow('change.ids must not be empty');
  });

  it('says caught up on an idle stream without waiting out a full blocking read (a joining instance waits for it)', async () => {
    const { ns, feed, applied, doubts } = setUp();
    const tail = await feed.publish({ op: 'create', ids: ['old'], position: 1 });
    // A block far longer than the wait below: only a short first read can make it.
    const r = reader(ns, SHARED_REDIS_URL, tail, applied, doubts, { blockMs: 60_000 });
    await waitFor('the reader to be caught up', () => r.caughtUp, 10_000);
    expect(applied).toEqual([]);
  });

  it('applies in stream order and resumes after its connection is killed, losing and repeating nothing', async () => {
    const { ns, feed, applied, doubts } = setUp();
    const r = reader(ns, SHARED_REDIS_URL, STREAM_START, applied, doubts);
    const published: string[] = [];
    for (let i = 0; i < 50; i++) published.push(await feed.publish({ op: 'create', ids: [`x${i}`], position: i }));
    await waitFor('the first 50', () => applied.length === 50);
    expect(await killClientsNamed(admin, `feed-reader-${ns}`)).toBe(1);
    for (let i = 50; i < 100; i++) published.push(await feed.publish({ op: 'create', ids: [`x${i}`], position: i }));
    await waitFor('all 100', () => applied.length >= 100);
    expect(applied.map((e) => e.id)).toEqual(published);
    expect(r.connections).toBeGreaterThanOrEqual(2);
    // A reconnect is a doubt: the database catch-up runs before reading on.
    expect(doubts).toContain('reconnect');
    expect(r.position).toBe(published[99]);
  });

  it('a watchdog replaces a blocking read that hangs on a silent connection', async () => {
    const { ns, feed, applied, doubts } = setUp();
    const port = Number(new URL(SHARED_REDIS_URL).port || 6379);
    const proxy = await startFreezingProxy(port);
    try {
      const r = reader(ns, `redis://127.0.0.1:${proxy.port}`, STREAM_START, applied, doubts, { blockMs: 200, marginMs: 300 });
      await feed.publish({ op: 'create', ids: ['before'], position: 1 });
      await waitFor('the first entry', () => applied.length === 1);
      proxy.freeze(); // the XREAD in flight never answers, and no error comes either
      await feed.publish({ op: 'create', ids: ['during'], position: 2 });
      // Without the watchdog the reader waits on the frozen socket forever.
      await waitFor('the entry published during the hang', () => applied.length === 2);
      expect(r.watchdogFires).toBeGreaterThanOrEqual(1);
      expect(applied.map((e) => e.ids[0])).toEqual(['before', 'during']);
    } finally {
      await proxy.close();
    }
  });

  it('entries trimmed past its position make it catch up from the database before applying beyond them', async () => {
    const { ns, feed, applied } = setUp();
    const ids: string[] = [];
    for (let i = 0; i < 400; i++) ids.push(await feed.publish({ op: 'create', ids: [`t${i}`], position: i }));
    expect(await feed.trimBelow(ids[350] ?? '')).toBeGreaterThan(0);
    const order: string[] = [];
    const r = new FeedReader({
      url: SHARED_REDIS_URL,
      namespace: ns,
      from: ids[5] ?? '',
      blockMs: 200,
      apply: async (entries) => {
        order.push('apply');
        applied.push(...entries);
      },
      recover: async (why) => {
        order.push(`recover:${why}`);
      },
    });
    readers.push(r);
    r.start();
    await waitFor('the entries still in the stream', () => applied.at(-1)?.id === ids[399]);
    expect(order[0]).toBe('recover:trimmed');
    expect(compareStreamIds(applied[0]?.id ?? '', ids[5] ?? '')).toBe(1);
  });

  it('a stream recreated from scratch (flushed) is read from its start after a catch-up', async () => {
    const { ns, feed, applied, doubts } = setUp();
    const r = reader(ns, SHARED_REDIS_URL, STREAM_START, applied, doubts);
    await feed.publish({ op: 'create', ids: ['old'], position: 1 });
    await waitFor('the old entry', () => applied.length === 1);
    await admin.del(feed.key);
    await feed.publish({ op: 'create', ids: ['new1'], position: 2 });
    await feed.publish({ op: 'create', ids: ['new2'], position: 3 });
    await waitFor('the new entries', () => applied.some((e) => e.ids[0] === 'new2'));
    expect(doubts).toContain('stream-reset');
    expect(applied.filter((e) => e.ids[0] === 'new1').length).toBeGreaterThanOrEqual(1);
    await waitFor('caught up', () => r.caughtUp);
  });
});
