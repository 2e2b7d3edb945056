import { describe, expect, it } from 'vitest';
import { BloomFilter } from '../../src/filter/bloom-filter.js';
import { allocateFilterBuffer, createLayout, kCacheLineBytes, kHeaderFieldCount } from '../../src/filter/layout.js';
import { computeFilterParams } from '../../src/filter/sizing.js';
import { bitsOf, createFilter, sku } from '../helpers/filter-fixtures.js';

describe('createLayout', () => {
  it('places header, one dirty flag per shard, then 64-byte aligned bits', () => {
    const params = computeFilterParams(1_000_000, 0.01, 64);
    const layout = createLayout(params, 1);
    expect(layout.shardWords).toBe(params.shardBits / 32);
    expect(layout.dirtyOffset).toBe(kHeaderFieldCount);
    expect(layout.dirtyOffset * 4).toBe(kCacheLineBytes); // the header has its own cache line
    expect(layout.bitsByteOffset % kCacheLineBytes).toBe(0);
    expect(layout.bitsByteOffset).toBeGreaterThanOrEqual((layout.dirtyOffset + 64) * 4);
    expect(layout.byteLength).toBe(layout.bitsByteOffset + params.totalBits / 8);
    expect(allocateFilterBuffer(layout).byteLength).toBe(layout.byteLength);
  });

  it('refuses a seed that is not a uint32', () => {
    const params = computeFilterParams(100, 0.01, 1);
    expect(() => createLayout(params, -1)).toThrow('seed must be an integer from 0 to 4294967295 (got -1)');
    expect(() => createLayout(params, 2 ** 32)).toThrow(/^seed must be/);
    expect(() => createLayout(params, 1.5)).toThrow(/^seed must be/);
  });
});

describe('BloomFilter', () => {
  it('refuses a buffer that does not fit the layout', () => {
    const layout = createLayout(computeFilterParams(100, 0.01, 1), 1);
    expect(() => new BloomFilter(new SharedArrayBuffer(8), layout)).toThrow(/needs/);
  });

  it('always finds what was added, and rejects most unknown ids', () => {
    const filter = createFilter(10_000);
    for (let i = 0; i < 10_000; i++) filter.add(sku(i));
    for (let i = 0; i < 10_000; i++) expect(filter.has(sku(i))).toBe(true);
    let positives = 0;
    for (let i = 10_000; i < 60_000; i++) if (filter.has(sku(i))) positives++;
    expect(positives / 50_000).toBeLessThan(0.015);
    expect(filter.has('')).toBe(false);
  });

  it('hashes the same UTF-8 bytes from strings and from byte ranges, any length', () => {
    const filter = createFilter(1000, 0.01, 4);
    const ids = ['héllo', '你好世界', '🙂🙃', 'x'.repeat(256), 'é'.repeat(300), '\ud800lone'];
    for (const id of ids) filter.add(id);
    for (const id of ids) {
      const bytes = Buffer.concat([Buffer.from('pre'), Buffer.from(id, 'utf8')]);
      expect(filter.hasBytes(bytes, 3, bytes.length - 3)).toBe(true);
    }
    const other = createFilter(1000, 0.01, 4);
    for (const id of ids) {
      const bytes = Buffer.from(id, 'utf8');
      other.addBytes(bytes, 0, bytes.length);
    }
    expect(bitsOf(other).equals(bitsOf(filter))).toBe(true);
  });

  it('returns the shard it added to, and sets at most k bits there only', () => {
    const filter = createFilter(1000, 0.01, 8);
    const shard = filter.add('SKU-1');
    const { shardWords, params } = filter.layout;
    const bits = bitsOf(filter);
    let set = 0;
    for (let byte = 0; byte < bits.length; byte++) {
      const value = bits[byte]!;
      if (value === 0) continue;
      expect(Math.floor(byte / (shardWords * 4))).toBe(shard);
      for (let b = value; b !== 0; b &= b - 1) set++;
    }
    expect(set).toBeGreaterThan(0);
    expect(set).toBeLessThanOrEqual(params.hashes);
  });

  it('counts items and stale ids only when told to', () => {
    const filter = createFilter(1000);
    filter.add('a');
    expect(filter.items).toBe(0);
    filter.addItems(3);
    filter.addItems(2);
    expect(filter.items).toBe(5);
    filter.setItems(42);
    expect(filter.items).toBe(42);
    filter.addStale(2);
    expect(filter.stale).toBe(2);
  });

  describe('dirty tracking', () => {
    it('marks the added shard dirty until taken, then is clean', () => {
      const filter = createFilter(1000, 0.01, 16);
      expect(filter.peekDirtyCount()).toBe(0);
      const a = filter.add('a');
      const b = filter.add('b');
      filter.add('a'); // again: still one flag
      expect(filter.peekDirtyCount()).toBe(new Set([a, b]).size);
      expect(filter.takeDirtyShards()).toEqual([...new Set([a, b])].sort((x, y) => x - y));
      expect(filter.peekDirtyCount()).toBe(0);
      expect(filter.takeDirtyShards()).toEqual([]);
      expect(filter.add('a')).toBe(a);
      expect(filter.takeDirtyShards()).toEqual([a]);
    });

    it('markAllDirty flags every shard; clearAll resets bits, counters and flags', () => {
      const filter = createFilter(1000, 0.01, 16);
      filter.markAllDirty();
      expect(filter.takeDirtyShards()).toEqual([...Array(16).keys()]);
      filter.add('a');
      filter.addItems(1);
      filter.addStale(1);
      filter.clearAll();
      expect(filter.has('a')).toBe(false);
      expect(filter.items).toBe(0);
      expect(filter.stale).toBe(0);
      expect(filter.peekDirtyCount()).toBe(0);
      expect(bitsOf(filter).every((byte) => byte === 0)).toBe(true);
    });
  });

  describe('shards', () => {
    it('shardView is a live view of the shard, loadShard merges bytes in', () => {
      const source = createFilter(1000, 0.01, 4);
      const shard = source.add('SKU-7');
      const view = source.shardView(shard);
      expect(view.length).toBe(source.layout.shardWords * 4);
      expect(view.buffer).toBe(source.buffer);

      const target = createFilter(1000, 0.01, 4);
      const other = target.add('SKU-8');
      // An unaligned copy, as a Buffer from a pool may be.
      const unaligned = Buffer.alloc(view.length + 1).subarray(1);
      unaligned.set(view);
      target.loadShard(shard, unaligned);
      expect(target.has('SKU-7')).toBe(true);
      expect(target.has('SKU-8')).toBe(true); // never overwritten
      if (other !== shard) expect(Buffer.from(target.shardView(shard)).equals(Buffer.from(view))).toBe(true);
    });

    it('validates shard indexes and lengths', () => {
      const filter = createFilter(1000, 0.01, 4);
      expect(() => filter.shardView(4)).toThrow('shard must be an integer from 0 to 3 (got 4)');
      expect(() => filter.shardView(-1)).toThrow(/^shard must be/);
      expect(() => filter.loadShard(0, new Uint8Array(3))).toThrow(`shard 0 must be ${filter.layout.shardWords * 4} bytes (got 3)`);
    });
  });
});

describe('countSetBits', () => {
  it('counts exactly the bits that adds set', () => {
    const layout = createLayout(computeFilterParams(1000, 0.01, 4), 7);
    const filter = new BloomFilter(allocateFilterBuffer(layout), layout);
    expect(filter.countSetBits()).toBe(0);
    filter.add('one');
    const afterOne = filter.countSetBits();
    // k bits, fewer only if two probes of one id collide.
    expect(afterOne).toBeGreaterThan(0);
    expect(afterOne).toBeLessThanOrEqual(layout.params.hashes);
    let manual = 0;
    for (let s = 0; s < layout.params.shards; s++) for (const byte of filter.shardView(s)) for (let b = 0; b < 8; b++) manual += (byte >> b) & 1;
    expect(afterOne).toBe(manual);
  });
});
