import { afterEach, describe, expect, it } from 'vitest';
import { decodeSnapshot } from '../../src/filter/snapshot-codec.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics/registry.js';
import { Snapshotter } from '../../src/persistence/snapshotter.js';
import { Watermark } from '../../src/persistence/watermark.js';
import { RedisConnection } from '../../src/store/redis-connection.js';
import { SnapshotStore } from '../../src/store/snapshot-store.js';
import { createFilter, sku } from '../helpers/filter-fixtures.js';
import { startPrivateRedis } from '../helpers/private-redis.js';
import { uniqueMemoryUrl, uniqueNamespace } from '../helpers/redis-namespace.js';
import { ManualScheduler } from '../helpers/manual-scheduler.js';
import { waitFor } from '../helpers/wait-for.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function setup(url = uniqueMemoryUrl(), scheduler?: ManualScheduler, horizon?: () => Promise<number>) {
  const redis = RedisConnection.open({ url, commandTimeoutMs: 300 });
  await redis.waitReady(2000);
  const filter = createFilter(10_000);
  const store = new SnapshotStore({ redis, namespace: uniqueNamespace('snap') });
  const watermark = new Watermark(0);
  const metrics = new Metrics();
  const logger = createLogger('silent');
  const snapshotter = new Snapshotter({ filter, store, redis, watermark, metrics, logger, intervalMs: 20, dataLossCheckMs: 50, ...(scheduler === undefined ? {} : { scheduler }), ...(horizon === undefined ? {} : { horizon }) });
  closers.push(async () => {
    await snapshotter.close();
    await redis.close();
  });
  return { redis, filter, store, watermark, metrics, snapshotter };
}

describe('Snapshotter', () => {
  it('writes every shard first, then only the dirty ones, and the result always decodes to the live filter', async () => {
    const { filter, store, watermark, snapshotter } = await setup();
    for (let i = 0; i < 1000; i++) filter.add(sku(i));
    watermark.offer(1000);
    await snapshotter.save();
    expect(snapshotter.state).toMatchObject({ saves: 1, lastWatermark: 1000, dirtyShards: 0 });
    const fullBytes = snapshotter.state.lastBytes;

    filter.add('one-more');
    watermark.offer(1001);
    await snapshotter.save();
    const incrementalBytes = snapshotter.state.lastBytes;
    expect(incrementalBytes).toBeLessThan(fullBytes / 10);

    const decoded = decodeSnapshot(await store.load(), filter.layout);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.header.watermark).toBe(1001);
    const restored = createFilter(10_000);
    decoded.shards.forEach((blob, s) => restored.loadShard(s, blob));
    for (let i = 0; i < 1000; i++) expect(restored.has(sku(i))).toBe(true);
    expect(restored.has('one-more')).toBe(true);
  });

  it('saves within the interval after a write, sharing one save among many writes', async () => {
    const scheduler = new ManualScheduler();
    const { filter, watermark, snapshotter } = await setup(uniqueMemoryUrl(), scheduler);
    await snapshotter.save();
    for (let i = 0; i < 50; i++) {
      filter.add(`w-${i}`);
      watermark.offer(i + 1);
      snapshotter.notifyWrite();
    }
    expect(scheduler.pending).toBe(1); // one debounce timer for all 50 writes
    scheduler.advance(19);
    expect(snapshotter.state.saves).toBe(1);
    scheduler.advance(1); // the interval (20 ms) is up: the save starts
    await waitFor('the debounced save to finish', () => snapshotter.state.lastWatermark === 50, 2000);
    expect(snapshotter.state.saves).toBe(2);
  });

  it('offers the store horizon before each save, and never records it while a write begun before it is still in flight', async () => {
    let horizon = 10;
    let fail = false;
    const { watermark, snapshotter } = await setup(uniqueMemoryUrl(), undefined, async () => {
      if (fail) throw new Error('database down');
      return horizon;
    });
    await snapshotter.save();
    expect(snapshotter.state.lastWatermark).toBe(10);
    const token = watermark.begin(); // a create sent: its row may commit below the next horizon
    horizon = 21;
    await snapshotter.save();
    expect(snapshotter.state.lastWatermark).toBe(10);
    watermark.end(token); // its id is in the filter
    await snapshotter.save();
    expect(snapshotter.state.lastWatermark).toBe(21);
    fail = true; // a database that does not answer leaves the watermark where it is
    horizon = 30;
    await snapshotter.save();
    expect(watermark.value).toBe(21);
  });

  it('notices Redis restarting empty and writes a full snapshot by itself', async () => {
    const priv = await startPrivateRedis();
    closers.push(() => priv.stop());
    const { filter, store, snapshotter, metrics } = await setup(priv.url);
    filter.add('kept');
    snapshotter.start();
    await snapshotter.save();
    expect(await store.exists()).toBe(true);
    await priv.restart(); // empty server, same port
    await waitFor('the snapshot to be rewritten', () => snapshotter.state.saves >= 2, 10_000);
    expect(await store.exists()).toBe(true);
    const decoded = decodeSnapshot(await store.load(), filter.layout);
    expect(decoded.ok).toBe(true);
    const lossText = await metrics.registry.getSingleMetricAsString('bloomgate_redis_data_loss_total');
    expect(lossText).toMatch(/bloomgate_redis_data_loss_total [1-9]/);
  });

  it('retries with backoff while Redis is down and writes everything once it is back', async () => {
    const priv = await startPrivateRedis();
    closers.push(() => priv.stop());
    const { filter, store, snapshotter, redis } = await setup(priv.url);
    await snapshotter.save();
    await priv.stop();
    await waitFor('redis to be seen down', () => !redis.healthy, 5000);
    filter.add('during-outage');
    await expect(snapshotter.save()).rejects.toThrow();
    expect(snapshotter.state.failures).toBeGreaterThanOrEqual(1);
    expect(snapshotter.state.pendingFull).toBe(true);
    await priv.restart();
    await waitFor('a successful retry', () => snapshotter.state.lastError === null && snapshotter.state.saves >= 2, 15_000);
    const decoded = decodeSnapshot(await store.load(), filter.layout);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    const restored = createFilter(10_000);
    decoded.shards.forEach((blob, s) => restored.loadShard(s, blob));
    expect(restored.has('during-outage')).toBe(true);
  });
});
