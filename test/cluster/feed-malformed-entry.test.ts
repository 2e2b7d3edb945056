/**
 * A foreign or corrupt entry on the feed must not stop the reader forever (it
 * would re-read it after every reconnect, and every barrier waiting on this
 * instance, so every create, would fail): it is reported, the database
 * catch-up runs (covering any create the entry carried), and the reader goes on.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeFeed, FeedReader, type FeedDoubt, type FeedEntry } from '../../src/cluster/change-feed.js';
import { STREAM_START } from '../../src/cluster/stream-id.js';
import { SHARED_REDIS_URL, uniqueNamespace } from '../helpers/redis-namespace.js';
import { waitFor } from '../helpers/wait-for.js';
import { deleteClusterKeys } from './cluster-namespace.js';

describe('a malformed feed entry', () => {
  let admin: Redis;
  beforeAll(() => {
    admin = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    await admin.quit();
  });

  it('is reported and skipped after a database catch-up; the entries after it are applied', async () => {
    const ns = uniqueNamespace('feed-bad');
    const feed = new ChangeFeed(admin, ns);
    const applied: FeedEntry[] = [];
    const order: string[] = [];
    const malformed: string[] = [];
    const before = await feed.publish({ op: 'create', ids: ['a'], position: 1 });
    const foreign = await admin.xadd(feed.key, '*', 'hello', 'world'); // not ours: no op, ids or pos
    const after = await feed.publish({ op: 'create', ids: ['b'], position: 2 });
    const reader = new FeedReader({
      url: SHARED_REDIS_URL,
      namespace: ns,
      from: STREAM_START,
      blockMs: 200,
      apply: async (entries) => {
        order.push(`apply:${entries.map((e) => e.ids.join()).join()}`);
        applied.push(...entries);
      },
      recover: async (why: FeedDoubt) => {
        order.push(`recover:${why}`);
      },
      onMalformed: (entryId) => malformed.push(entryId),
    });
    reader.start();
    try {
      await waitFor('the entry after the malformed one', () => reader.position === after);
      expect(applied.map((e) => e.id)).toEqual([before, after]);
      expect(malformed).toEqual([foreign]);
      expect(reader.malformedEntries).toBe(1);
      // The catch-up runs before the reader moves past the entry.
      expect(order).toEqual(['recover:malformed-entry', 'apply:a,b']);
      await waitFor('caught up', () => reader.caughtUp);
    } finally {
      await reader.close();
      await deleteClusterKeys(admin, ns);
    }
  });
});
