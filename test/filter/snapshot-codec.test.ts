import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BloomFilter } from '../../src/filter/bloom-filter.js';
import { allocateFilterBuffer, createLayout } from '../../src/filter/layout.js';
import { computeFilterParams } from '../../src/filter/sizing.js';
import {
  decodeSnapshot,
  encodeSnapshot,
  restoreInto,
  SNAPSHOT_FORMAT_VERSION,
  snapshotHeaderLength,
  type DecodeResult,
  type SnapshotRejectReason,
} from '../../src/filter/snapshot-codec.js';
import { bitsOf, createFilter, prng, sku, TEST_SEED } from '../helpers/filter-fixtures.js';

const meta = { items: 3000, watermark: 2 ** 40 + 7, savedAtMs: 1_700_000_000_123 };

function filled(count = 3000, shards = 8): BloomFilter {
  const filter = createFilter(5000, 0.01, shards);
  for (let i = 0; i < count; i++) filter.add(sku(i));
  filter.setItems(count);
  return filter;
}

function allShards(filter: BloomFilter): number[] {
  return [...Array(filter.layout.params.shards).keys()];
}

function emptyLike(filter: BloomFilter): BloomFilter {
  return new BloomFilter(allocateFilterBuffer(filter.layout), filter.layout);
}

/** Rewrites header bytes with `edit`, then makes its crc valid again. */
function reCrc(header: Buffer, edit: (h: Buffer) => void): Buffer {
  const copy = Buffer.from(header);
  edit(copy);
  copy.writeUInt32LE(crc32(copy.subarray(0, copy.length - 4)), copy.length - 4);
  return copy;
}

function reasonOf(result: DecodeResult): SnapshotRejectReason | 'ok' {
  return result.ok ? 'ok' : result.reason;
}

describe('snapshot codec', () => {
  const source = filled();
  const encoded = encodeSnapshot(source, meta, allShards(source), undefined);
  const layout = source.layout;

  it('round-trips: restore gives identical bits and the header fields', () => {
    expect(encoded.header.length).toBe(snapshotHeaderLength(8));
    expect(encoded.header.subarray(0, 4).toString('latin1')).toBe('BLGT');
    const decoded = decodeSnapshot({ header: encoded.header, shards: encoded.shards }, layout);
    if (!decoded.ok) throw new Error(`${decoded.reason}: ${decoded.detail}`);
    expect(decoded.header).toMatchObject({
      formatVersion: SNAPSHOT_FORMAT_VERSION,
      totalBits: layout.params.totalBits,
      hashes: layout.params.hashes,
      shards: 8,
      shardBits: layout.params.shardBits,
      hashId: 1,
      ...meta,
    });
    expect([...decoded.header.shardChecksums]).toEqual([...encoded.checksums]);
    const target = emptyLike(source);
    restoreInto(target, decoded);
    expect(bitsOf(target).equals(bitsOf(source))).toBe(true);
    expect(target.items).toBe(3000);
    for (let i = 0; i < 3000; i++) expect(target.has(sku(i))).toBe(true);
  });

  it('copies shards: later adds do not change an encoded snapshot', () => {
    const filter = filled(100, 2);
    const snap = encodeSnapshot(filter, meta, [0, 1], undefined);
    const before = Buffer.concat([snap.shards.get(0)!, snap.shards.get(1)!]);
    for (let i = 100; i < 200; i++) filter.add(sku(i));
    expect(Buffer.concat([snap.shards.get(0)!, snap.shards.get(1)!]).equals(before)).toBe(true);
  });

  it('rewrites only dirty shards, reusing the other checksums', () => {
    const filter = filled(1000);
    filter.takeDirtyShards();
    const first = encodeSnapshot(filter, meta, allShards(filter), undefined);
    const stored = new Map(first.shards);
    filter.add('SKU-new-1');
    filter.add('SKU-new-2');
    const dirty = filter.takeDirtyShards();
    expect(dirty.length).toBeGreaterThan(0);
    const second = encodeSnapshot(filter, { ...meta, items: 1002 }, dirty, first.checksums);
    expect([...second.shards.keys()]).toEqual(dirty);
    for (let s = 0; s < 8; s++) {
      if (!dirty.includes(s)) expect(second.checksums[s]).toBe(first.checksums[s]);
    }
    // A torn save (new header, old shard) is refused...
    expect(reasonOf(decodeSnapshot({ header: second.header, shards: stored }, filter.layout))).toBe('shard_checksum');
    // ...a complete one restores everything.
    for (const [s, blob] of second.shards) stored.set(s, blob);
    const decoded = decodeSnapshot({ header: second.header, shards: stored }, filter.layout);
    if (!decoded.ok) throw new Error(decoded.reason);
    const target = emptyLike(filter);
    restoreInto(target, decoded);
    expect(bitsOf(target).equals(bitsOf(filter))).toBe(true);
    expect(target.has('SKU-new-2')).toBe(true);
    expect(target.items).toBe(1002);
  });

  it('refuses bad encode arguments', () => {
    expect(() => encodeSnapshot(source, meta, [0], undefined)).toThrow(
      'shard 1 is not being written and there are no previousChecksums for it',
    );
    expect(() => encodeSnapshot(source, meta, [0], new Uint32Array(3))).toThrow('previousChecksums must hold 8 checksums (got 3)');
    expect(() => encodeSnapshot(source, { ...meta, items: -1, watermark: 0.5 }, [], encoded.checksums)).toThrow(
      'meta.items must be an integer from 0 to 2147483647; meta.watermark must be a non-negative safe integer',
    );
    expect(() => encodeSnapshot(source, meta, [8], encoded.checksums)).toThrow(/^shard must be/);
  });

  describe('rejects, with the reason', () => {
    const good = { header: encoded.header, shards: encoded.shards };
    const withShard = (s: number, blob: Buffer | undefined) => {
      const shards = new Map(encoded.shards);
      if (blob === undefined) shards.delete(s);
      else shards.set(s, blob);
      return shards;
    };
    const flipped = (buf: Buffer, at: number) => {
      const copy = Buffer.from(buf);
      copy[at]! ^= 0x10;
      return copy;
    };
    const otherLayout = (capacity: number, shards: number, seed: number) =>
      createLayout(computeFilterParams(capacity, 0.01, shards), seed);

    it.each<[SnapshotRejectReason, () => DecodeResult]>([
      ['missing', () => decodeSnapshot({ header: undefined, shards: new Map() }, layout)],
      ['bad_magic', () => decodeSnapshot({ ...good, header: flipped(encoded.header, 0) }, layout)],
      ['truncated', () => decodeSnapshot({ ...good, header: encoded.header.subarray(0, 3) }, layout)],
      ['truncated', () => decodeSnapshot({ ...good, header: encoded.header.subarray(0, 40) }, layout)],
      ['truncated', () => decodeSnapshot({ ...good, header: encoded.header.subarray(0, encoded.header.length - 1) }, layout)],
      ['truncated', () => decodeSnapshot({ ...good, header: Buffer.concat([encoded.header, Buffer.alloc(1)]) }, layout)],
      ['unsupported_version', () => decodeSnapshot({ ...good, header: reCrc(encoded.header, (h) => h.writeUInt16LE(0, 4)) }, layout)],
      ['newer_version', () => decodeSnapshot({ ...good, header: reCrc(encoded.header, (h) => h.writeUInt16LE(2, 4)) }, layout)],
      ['endianness', () => decodeSnapshot({ ...good, header: reCrc(encoded.header, (h) => h.writeUInt8(h[6] === 1 ? 2 : 1, 6)) }, layout)],
      ['header_checksum', () => decodeSnapshot({ ...good, header: flipped(encoded.header, 41) }, layout)],
      ['header_checksum', () => decodeSnapshot({ ...good, header: flipped(encoded.header, encoded.header.length - 1) }, layout)],
      ['hash_mismatch', () => decodeSnapshot({ ...good, header: reCrc(encoded.header, (h) => h.writeUInt32LE(2, 8)) }, layout)],
      ['seed_mismatch', () => decodeSnapshot(good, otherLayout(5000, 8, TEST_SEED + 1))],
      ['params_mismatch', () => decodeSnapshot(good, otherLayout(50_000, 8, TEST_SEED))],
      ['params_mismatch', () => decodeSnapshot({ ...good, header: reCrc(encoded.header, (h) => h.writeUInt32LE(8, 16)) }, layout)],
      ['params_mismatch', () => decodeSnapshot({ ...good, header: reCrc(encoded.header, (h) => h.writeDoubleLE(Number.NaN, 40)) }, layout)],
      ['params_mismatch', () => decodeSnapshot({ ...good, header: reCrc(encoded.header, (h) => h.writeDoubleLE(-1, 48)) }, layout)],
      ['shard_missing', () => decodeSnapshot({ ...good, shards: withShard(3, undefined) }, layout)],
      ['shard_size', () => decodeSnapshot({ ...good, shards: withShard(3, Buffer.concat([encoded.shards.get(3)!, Buffer.alloc(4)])) }, layout)],
      ['shard_size', () => decodeSnapshot({ ...good, shards: withShard(0, Buffer.alloc(0)) }, layout)],
      ['shard_checksum', () => decodeSnapshot({ ...good, shards: withShard(5, flipped(encoded.shards.get(5)!, 17)) }, layout)],
    ])('%s', (reason, decode) => {
      const result = decode();
      expect(reasonOf(result)).toBe(reason);
      if (!result.ok) expect(result.detail.length).toBeGreaterThan(0);
    });

    it('a snapshot of another shard count is refused, not misread', () => {
      expect(reasonOf(decodeSnapshot(good, otherLayout(5000, 16, TEST_SEED)))).toBe('params_mismatch');
    });
  });

  it('fuzz: 3000 random and mutated inputs never throw, and ok means the right filter', () => {
    const small = filled(500, 4);
    const smallLayout = small.layout;
    const valid = encodeSnapshot(small, { items: 500, watermark: 500, savedAtMs: 1 }, [0, 1, 2, 3], undefined);
    const expectedBits = Buffer.from(bitsOf(small));
    const shardBytes = smallLayout.shardWords * 4;
    const next = prng(0xf022);
    const below = (n: number) => next() % n;
    const randomBytes = (n: number) => {
      const out = Buffer.alloc(n);
      for (let i = 0; i < n; i++) out[i] = below(256);
      return out;
    };
    const flipBits = (buf: Buffer, flips: number) => {
      const copy = Buffer.from(buf);
      for (let f = 0; f < flips && copy.length > 0; f++) copy[below(copy.length)]! ^= 1 << below(8);
      return copy;
    };

    const seen = new Map<string, number>();
    for (let round = 0; round < 3000; round++) {
      let header: Buffer | undefined = valid.header;
      const shards = new Map(valid.shards);
      switch (below(10)) {
        case 0: // random header, maybe with a valid prefix so later checks are reached
          header = randomBytes(below(snapshotHeaderLength(4) + 20));
          if (below(2) === 0 && header.length >= 8) valid.header.copy(header, 0, 0, 8);
          break;
        case 1:
          header = flipBits(valid.header, 1 + below(3));
          break;
        case 2:
          header = valid.header.subarray(0, below(valid.header.length + 1));
          break;
        case 3:
          header = Buffer.concat([valid.header, randomBytes(1 + below(8))]);
          break;
        case 4: {
          const s = below(4);
          shards.set(s, flipBits(valid.shards.get(s)!, 1 + below(3)));
          break;
        }
        case 5: {
          const s = below(4);
          shards.set(s, valid.shards.get(s)!.subarray(0, below(shardBytes)));
          break;
        }
        case 6:
          shards.delete(below(4));
          break;
        case 7:
          shards.set(4 + below(100), randomBytes(below(64))); // extra keys are ignored
          break;
        case 8: {
          const a = below(4);
          const b = (a + 1 + below(3)) % 4;
          shards.set(a, valid.shards.get(b)!);
          shards.set(b, valid.shards.get(a)!);
          break;
        }
        default:
          header = below(2) === 0 ? undefined : randomBytes(below(300));
          for (let s = 0; s < 4; s++) shards.set(s, randomBytes(below(2) === 0 ? shardBytes : below(shardBytes)));
      }
      let result: DecodeResult | undefined;
      expect(() => {
        result = decodeSnapshot({ header, shards }, smallLayout);
      }).not.toThrow();
      const reason = reasonOf(result!);
      seen.set(reason, (seen.get(reason) ?? 0) + 1);
      if (result!.ok) {
        const target = emptyLike(small);
        restoreInto(target, result!);
        expect(bitsOf(target).equals(expectedBits)).toBe(true);
        expect(target.items).toBe(500);
      }
    }
    // The mutations reached every kind of check.
    for (const reason of ['ok', 'missing', 'bad_magic', 'truncated', 'header_checksum', 'shard_missing', 'shard_size', 'shard_checksum']) {
      expect(seen.get(reason) ?? 0, reason).toBeGreaterThan(0);
    }
  });
});
