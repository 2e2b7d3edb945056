import { describe, expect, it } from 'vitest';
import { LocalProductCache, NO_FILL, cacheHitBody } from '../../src/cache/local-product-cache.js';
import type { Product } from '../../src/product.js';
import { ManualScheduler } from '../helpers/manual-scheduler.js';

const lamp: Product = { id: 'SKU-1', name: 'Lamp "deluxe" ☃', price: 9.5 };
const product = (i: number): Product => ({ id: `SKU-${i}`, name: `Product ${i}`, price: i });

function open(
  overrides: Partial<{ maxEntries: number; maxBytes: number; maxAgeMs: number; clockResolutionMs: number; scheduler: ManualScheduler }> = {},
): { local: LocalProductCache; clock: { t: number } } {
  const clock = { t: 1_000 };
  const local = new LocalProductCache({ maxEntries: 100, maxBytes: 1 << 20, maxAgeMs: 60_000, now: () => clock.t, clockResolutionMs: 0, ...overrides });
  local.resume();
  return { local, clock };
}

describe('LocalProductCache', () => {
  it('answers a fill with the exact body the HTTP layer sends for a cache hit, the same Buffer each time', () => {
    const { local } = open();
    expect(local.fill(local.beginFill(), lamp)).toBe(true);
    const body = local.get('SKU-1');
    expect(body?.toString()).toBe(JSON.stringify({ id: lamp.id, name: lamp.name, price: lamp.price, source: 'cache' }));
    expect(body?.toString()).toBe(cacheHitBody(lamp));
    expect(local.get('SKU-1')).toBe(body);
    expect(local.get('SKU-2')).toBeUndefined();
    expect(local.stats).toMatchObject({ hits: 2, misses: 1, fills: 1 });
  });

  it('starts suspended: refuses fills until resumed', () => {
    const local = new LocalProductCache({ maxEntries: 10, maxBytes: 1000, maxAgeMs: 1000 });
    expect(local.fillable).toBe(false);
    expect(local.beginFill()).toBe(NO_FILL);
    expect(local.fill(local.beginFill(), lamp)).toBe(false);
    local.resume();
    expect(local.fill(local.beginFill(), lamp)).toBe(true);
  });

  it('refuses a fill whose ticket predates an invalidation of its id (the reply-after-invalidation race)', () => {
    const { local } = open();
    const ticket = local.beginFill(); // taken before the GET is sent
    local.invalidate('SKU-1'); // the invalidation overtakes the GET reply
    expect(local.fill(ticket, lamp)).toBe(false);
    expect(local.get('SKU-1')).toBeUndefined();
    expect(local.fill(local.beginFill(), lamp)).toBe(true);
  });

  it('accepts a fill whose ticket predates only invalidations of other ids', () => {
    const { local } = open();
    const ticket = local.beginFill();
    local.invalidate('SKU-2');
    local.invalidate('SKU-3');
    expect(local.fill(ticket, lamp)).toBe(true);
    expect(local.get('SKU-1')).toBeDefined();
  });

  it('refuses fills begun before a flush, a suspend or a resume', () => {
    const { local } = open();
    const beforeFlush = local.beginFill();
    local.invalidateAll();
    expect(local.fill(beforeFlush, lamp)).toBe(false);

    const beforeSuspend = local.beginFill();
    local.suspend();
    expect(local.fill(beforeSuspend, lamp)).toBe(false);
    const whileDown = local.beginFill();
    expect(whileDown).toBe(NO_FILL);
    local.resume();
    // A GET sent while tracking was down may have missed its invalidation.
    expect(local.fill(whileDown, lamp)).toBe(false);
    expect(local.fill(local.beginFill(), lamp)).toBe(true);
  });

  it('drops one id on invalidate and everything on invalidateAll and suspend', () => {
    const { local } = open();
    for (let i = 0; i < 5; i++) local.fill(local.beginFill(), product(i));
    local.invalidate('SKU-2');
    expect(local.get('SKU-2')).toBeUndefined();
    expect(local.size).toBe(4);
    local.invalidateAll();
    expect(local.size).toBe(0);
    expect(local.bytes).toBe(0);
    for (let i = 0; i < 5; i++) local.fill(local.beginFill(), product(i));
    local.suspend();
    expect(local.size).toBe(0);
    expect(local.get('SKU-1')).toBeUndefined();
  });

  it('keeps at most maxEntries, evicting the least recently read first', () => {
    const { local } = open({ maxEntries: 3 });
    for (const i of [1, 2, 3]) local.fill(local.beginFill(), product(i));
    expect(local.get('SKU-1')).toBeDefined(); // 1 read: 2 is now the coldest
    local.fill(local.beginFill(), product(4));
    expect(local.size).toBe(3);
    expect(local.get('SKU-2')).toBeUndefined();
    for (const id of ['SKU-1', 'SKU-3', 'SKU-4']) expect(local.get(id)).toBeDefined();
    expect(local.stats.evictions).toBe(1);
  });

  it('keeps at most maxBytes of bodies, and does not cache a body larger than all of them', () => {
    const size = Buffer.byteLength(cacheHitBody(product(1)));
    const { local } = open({ maxBytes: size * 2 });
    for (const i of [1, 2, 3]) local.fill(local.beginFill(), product(i));
    expect(local.size).toBe(2);
    expect(local.bytes).toBe(size * 2);
    expect(local.get('SKU-1')).toBeUndefined();
    const huge: Product = { id: 'SKU-huge', name: 'x'.repeat(size * 2), price: 1 };
    expect(local.fill(local.beginFill(), huge)).toBe(false);
    expect(local.get('SKU-huge')).toBeUndefined();
    expect(local.size).toBe(2);
  });

  it('replaces an entry on a second fill and counts its bytes once', () => {
    const { local } = open();
    local.fill(local.beginFill(), lamp);
    const cheaper = { ...lamp, price: 1 };
    local.fill(local.beginFill(), cheaper);
    expect(local.size).toBe(1);
    expect(local.bytes).toBe(Buffer.byteLength(cacheHitBody(cheaper)));
    expect(local.get(lamp.id)?.toString()).toBe(cacheHitBody(cheaper));
  });

  it('treats an entry as a miss once maxAgeMs has passed on the injected clock', () => {
    const { local, clock } = open({ maxAgeMs: 5_000 });
    local.fill(local.beginFill(), lamp);
    clock.t += 4_999;
    expect(local.get(lamp.id)).toBeDefined();
    clock.t += 1;
    expect(local.get(lamp.id)).toBeUndefined();
    expect(local.size).toBe(0);
    expect(local.bytes).toBe(0);
    expect(local.stats.expired).toBe(1);
  });

  it('with a clock resolution, hits share one clock reading until the resolution has passed', () => {
    const scheduler = new ManualScheduler();
    const { local, clock } = open({ maxAgeMs: 5_000, clockResolutionMs: 20, scheduler });
    local.fill(local.beginFill(), lamp);
    expect(local.get(lamp.id)).toBeDefined(); // reads the clock once
    clock.t += 5_000;
    expect(local.get(lamp.id)).toBeDefined(); // still the shared reading
    scheduler.advance(20); // the shared reading is forgotten
    expect(local.get(lamp.id)).toBeUndefined();
    expect(local.stats.expired).toBe(1);
  });

  it('names every bad option in one error', () => {
    expect(() => new LocalProductCache({ maxEntries: 0, maxBytes: 1.5, maxAgeMs: -1, clockResolutionMs: -2 })).toThrow(
      'options.maxEntries must be a positive integer, got 0; options.maxBytes must be a positive integer, got 1.5; ' +
        'options.maxAgeMs must be a positive number, got -1; options.clockResolutionMs must be a number >= 0, got -2',
    );
  });
});
