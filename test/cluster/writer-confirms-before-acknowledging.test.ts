/**
 * The writer's cluster step (src/product-writes.ts, cluster mode): the ids are
 * in this instance's filter before the feed entry is published, nothing is
 * acknowledged before every lease holder applied it, and a cluster failure is
 * a rejection (503 cluster_unavailable) that still ends the watermark token.
 */
import { describe, expect, it } from 'vitest';
import { ClusterUnavailableError } from '../../src/errors.js';
import { ActiveFilter, type GenerationPool } from '../../src/filter/active-filter.js';
import { createLogger } from '../../src/logger.js';
import { Watermark } from '../../src/persistence/watermark.js';
import { ProductWriter, type ClusterChange, type ClusterConfirm } from '../../src/product-writes.js';
import type { CreatedRow } from '../../src/store/product-store.js';
import { UnconfirmedCacheWrites } from '../../src/store/unconfirmed-cache-writes.js';
import { createFilter } from '../helpers/filter-fixtures.js';

type Change = ClusterChange;

function setup() {
  const rows = new Map<string, number>();
  let position = 0;
  const filter = createFilter(1000);
  // No worker pool here: a failing pool makes the writer add a batch on the main thread (its fallback).
  const fail = (): Promise<never> => Promise.reject(new Error('no pool in this test'));
  const noPool: GenerationPool = { addPacked: fail, checkPacked: fail, stats: () => ({ threads: 0, queueSize: 0, utilization: 0, completed: 0 }), close: async () => undefined };
  const active = new ActiveFilter({ filter, pool: noPool });
  const watermark = new Watermark(0);
  const seen: { change: Change; inFilter: boolean[]; cacheWritesQueued: number }[] = [];
  // A cache that, like ProductCache, holds overwrites until sendQueued() (or the end of the tick).
  let queued = 0;
  const cache = {
    setProduct: async (): Promise<void> => {
      queued++;
    },
    markAbsent: async (): Promise<void> => {
      queued++;
    },
    sendQueued: (): void => {
      queued = 0;
    },
  };
  let release: ((err?: Error) => void) | undefined;
  const cluster: ClusterConfirm = {
    confirm: (change) => {
      seen.push({ change, inFilter: change.ids.map((id) => filter.has(id)), cacheWritesQueued: queued });
      return new Promise<void>((resolve, reject) => {
        release = (err) => (err === undefined ? resolve() : reject(err));
      });
    },
  };
  const writer = new ProductWriter({
    products: {
      insert: async (p): Promise<CreatedRow | null> => {
        if (rows.has(p.id)) return null;
        rows.set(p.id, ++position);
        return { id: p.id, position };
      },
      insertMany: async (ps) => {
        const created = ps.map((p) => {
          rows.set(p.id, ++position);
          return { id: p.id, position };
        });
        return { created, conflicts: [] };
      },
      delete: async (id) => rows.delete(id),
      update: async (p) => rows.has(p.id),
    },
    active,
    cache,
    redis: { healthy: true },
    watermark,
    snapshotter: { notifyWrite: () => {} },
    unconfirmed: new UnconfirmedCacheWrites(),
    logger: createLogger('silent'),
    cluster,
  });
  const waitForConfirm = async (): Promise<void> => {
    for (let i = 0; i < 100 && release === undefined; i++) await new Promise((r) => setImmediate(r));
  };
  return {
    writer,
    watermark,
    seen,
    waitForConfirm,
    release: (err?: Error) => {
      const r = release;
      release = undefined;
      r?.(err);
    },
  };
}

describe('ProductWriter in cluster mode', () => {
  it('publishes after the own filter add and resolves only once the cluster confirmed', async () => {
    const t = setup();
    let resolved = false;
    const created = t.writer.create({ id: 'c-1', name: 'C', price: 1 }).then(() => (resolved = true));
    await t.waitForConfirm();
    // cacheWritesQueued 0: the create's cache write went on the connection before the feed entry.
    expect(t.seen).toEqual([{ change: { op: 'create', ids: ['c-1'], position: 1 }, inFilter: [true], cacheWritesQueued: 0 }]);
    await new Promise((r) => setTimeout(r, 20));
    expect(resolved).toBe(false); // no 201 while an instance holding a lease may still lack the id
    expect(t.watermark.inFlight).toBe(1);
    t.release();
    await created;
    expect(t.watermark.inFlight).toBe(0);
  });

  it('rejects with cluster_unavailable when the cluster cannot confirm, and still ends the watermark token', async () => {
    const t = setup();
    const created = t.writer.create({ id: 'c-2', name: 'C', price: 1 });
    await t.waitForConfirm();
    t.release(new ClusterUnavailableError('test'));
    const err = await created.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterUnavailableError);
    expect((err as ClusterUnavailableError).status).toBe(503);
    expect(t.watermark.inFlight).toBe(0);
  });

  it('confirms a batch as one entry with its greatest position, after every id is in the filter', async () => {
    const t = setup();
    const batch = t.writer.createBatch([
      { id: 'b-1', name: 'B', price: 1 },
      { id: 'b-2', name: 'B', price: 1 },
    ]);
    await t.waitForConfirm();
    expect(t.seen).toEqual([{ change: { op: 'create', ids: ['b-1', 'b-2'], position: 2 }, inFilter: [true, true], cacheWritesQueued: 0 }]);
    t.release();
    await expect(batch).resolves.toEqual({ created: 2, conflicts: [] });
  });

  it('confirms a delete before it resolves', async () => {
    const t = setup();
    await Promise.all([t.writer.create({ id: 'd-1', name: 'D', price: 1 }), t.waitForConfirm().then(() => t.release())]);
    let resolved = false;
    const deleted = t.writer.delete('d-1').then(() => (resolved = true));
    await t.waitForConfirm();
    expect(t.seen[1]?.change).toMatchObject({ op: 'delete', ids: ['d-1'] });
    expect(resolved).toBe(false);
    t.release();
    await deleted;
  });
});
