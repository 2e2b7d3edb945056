import { describe, expect, it } from 'vitest';
import { BloomFilter } from '../../src/filter/bloom-filter.js';
import { grownCapacity, type RebuildRecord } from '../../src/upkeep/online-rebuild.js';
import { allocateFilterBuffer, createLayout } from '../../src/filter/layout.js';
import { computeFilterParams } from '../../src/filter/sizing.js';
import type { FprReading } from '../../src/metrics/observed-fpr.js';
import { COOLDOWN_MS, RebuildTriggers } from '../../src/upkeep/rebuild-triggers.js';
import { ManualScheduler } from '../helpers/manual-scheduler.js';

function setup(capacity = 1000) {
  const layout = createLayout(computeFilterParams(capacity, 0.01, 4), 42);
  const filter = new BloomFilter(allocateFilterBuffer(layout), layout);
  let window: FprReading = { falsePositives: 0, rejections: 0, rate: null };
  let now = 10_000_000;
  const started: string[] = [];
  const rebuilder = { running: false, last: null as RebuildRecord | null, start: (reason: string) => (started.push(reason), true) };
  const triggers = new RebuildTriggers({ rebuilder, filter: () => filter, fpr: { window: () => window }, staleRatio: 0.1, now: () => now });
  return {
    filter,
    triggers,
    rebuilder,
    started,
    setWindow: (fp: number, rej: number) => (window = { falsePositives: fp, rejections: rej, rate: fp / (fp + rej) }),
    advance: (ms: number) => (now += ms),
    now: () => now,
  };
}

const finished = (at: number, ok: boolean): RebuildRecord => ({
  reason: 'manual', detail: '', startedAt: at - 10, finishedAt: at, ms: 10, ok, error: ok ? null : 'boom', fromCapacity: 1000, toCapacity: 1000, items: 0,
});

describe('RebuildTriggers', () => {
  it('fires nothing on a healthy filter', () => {
    const t = setup();
    t.filter.setItems(500);
    t.setWindow(10, 990);
    expect(t.triggers.check()).toBeUndefined();
    expect(t.started).toEqual([]);
  });

  it('grows when items exceed capacity', () => {
    const t = setup();
    t.filter.setItems(1001);
    expect(t.triggers.check()).toMatchObject({ reason: 'capacity', detail: 'items 1001 > capacity 1000' });
    expect(t.started).toEqual(['capacity']);
  });

  it('rebuilds when stale ids exceed the configured share of items', () => {
    const t = setup();
    t.filter.setItems(100);
    t.filter.addStale(10);
    expect(t.triggers.evaluate()).toBeUndefined(); // exactly 10 %: not above
    t.filter.addStale(1);
    expect(t.triggers.check()).toMatchObject({ reason: 'stale' });
  });

  it('rebuilds when the windowed observed FPR is above twice the target, given enough samples', () => {
    const t = setup();
    t.filter.setItems(100);
    t.setWindow(30, 900); // 3.2 %, but only 930 samples
    expect(t.triggers.evaluate()).toBeUndefined();
    t.setWindow(30, 970); // 3 % > 2 %
    expect(t.triggers.check()).toMatchObject({ reason: 'fpr' });
    t.setWindow(19, 981); // 1.9 %
    expect(t.triggers.evaluate()).toBeUndefined();
  });

  it('waits out the cooldown after a failed rebuild, and for fpr after any rebuild; never fires while one runs', () => {
    const t = setup();
    t.filter.setItems(2000);
    t.rebuilder.running = true;
    expect(t.triggers.evaluate()).toBeUndefined();
    t.rebuilder.running = false;
    t.rebuilder.last = finished(t.now(), false);
    expect(t.triggers.evaluate()).toBeUndefined();
    t.advance(COOLDOWN_MS);
    expect(t.triggers.evaluate()?.reason).toBe('capacity');
    t.filter.setItems(100);
    t.setWindow(100, 900);
    t.rebuilder.last = finished(t.now(), true);
    expect(t.triggers.evaluate()).toBeUndefined();
    t.advance(COOLDOWN_MS);
    expect(t.triggers.evaluate()?.reason).toBe('fpr');
  });
});

describe('RebuildTriggers on their timer', () => {
  it('checks once per interval once started, and no more after close', () => {
    const layout = createLayout(computeFilterParams(1000, 0.01, 4), 42);
    const filter = new BloomFilter(allocateFilterBuffer(layout), layout);
    const scheduler = new ManualScheduler();
    const started: string[] = [];
    const rebuilder = { running: false, last: null, start: (reason: string) => (started.push(reason), true) };
    const fpr = { window: (): FprReading => ({ falsePositives: 0, rejections: 0, rate: null }) };
    const triggers = new RebuildTriggers({ rebuilder, filter: () => filter, fpr, staleRatio: 0.1, intervalMs: 1000, now: () => scheduler.now, scheduler });
    filter.setItems(1001);
    scheduler.advance(5000);
    expect(started).toEqual([]); // not started yet
    triggers.start();
    triggers.start(); // one timer, however often started
    scheduler.advance(999);
    expect(started).toEqual([]);
    scheduler.advance(1);
    expect(started).toEqual(['capacity']);
    scheduler.advance(2000);
    expect(started).toEqual(['capacity', 'capacity', 'capacity']); // the fake rebuilder never runs, so it fires again
    triggers.close();
    scheduler.advance(10_000);
    expect(started).toHaveLength(3);
    expect(scheduler.pending).toBe(0);
  });
});

describe('grownCapacity', () => {
  it('doubles until the rows fit, and keeps a capacity that fits', () => {
    expect(grownCapacity(1000, 999)).toBe(1000);
    expect(grownCapacity(1000, 1001)).toBe(2000);
    expect(grownCapacity(1000, 4500)).toBe(8000);
    expect(grownCapacity(400_000_000, 450_000_000)).toBe(500_000_000);
  });
});
