import { describe, expect, it } from 'vitest';
import { forEachPackedId, packedCount, packIds, PackedIdWriter, splitPacked } from '../../src/filter/id-batch.js';
import { sku } from '../helpers/filter-fixtures.js';

function unpack(packed: Uint8Array): string[] {
  const ids: string[] = [];
  forEachPackedId(packed, (bytes, offset, length, index) => {
    expect(index).toBe(ids.length);
    ids.push(Buffer.from(bytes.buffer, bytes.byteOffset + offset, length).toString('utf8'));
  });
  return ids;
}

const mixed = ['SKU-00000001', '', 'héllo', '你好世界', '🙂🙃👍🏽', 'x'.repeat(256), 'é'.repeat(128)];

describe('packIds', () => {
  it('round-trips ids, multi-byte UTF-8 and a 256-byte id included', () => {
    expect(Buffer.byteLength('é'.repeat(128))).toBe(256);
    const packed = packIds(mixed);
    expect(packedCount(packed)).toBe(mixed.length);
    expect(unpack(packed)).toEqual(mixed);
  });

  it('writes [u32 count][u16 len][utf8] little-endian into its own ArrayBuffer', () => {
    const packed = packIds(['ab', '€']);
    expect([...packed]).toEqual([2, 0, 0, 0, 2, 0, 0x61, 0x62, 3, 0, 0xe2, 0x82, 0xac]);
    expect(packed.buffer).toBeInstanceOf(ArrayBuffer);
    expect(packed.byteOffset).toBe(0);
    expect(packed.buffer.byteLength).toBe(packed.length);
  });

  it('packs nothing as a bare count', () => {
    const packed = packIds([]);
    expect(packedCount(packed)).toBe(0);
    expect(unpack(packed)).toEqual([]);
  });

  it('throws RangeError for an id over 65535 bytes', () => {
    expect(() => packIds(['a', 'é'.repeat(40_000)])).toThrow(RangeError);
    expect(packIds(['x'.repeat(65_535)]).length).toBe(4 + 2 + 65_535);
  });
});

describe('forEachPackedId', () => {
  it('throws RangeError on truncated or trailing bytes', () => {
    const packed = packIds(['abc', 'def']);
    expect(() => forEachPackedId(packed.subarray(0, packed.length - 1), () => {})).toThrow(/truncated at id 1 of 2/);
    expect(() => forEachPackedId(packed.subarray(0, 5), () => {})).toThrow(/truncated at id 0 of 2/);
    expect(() => forEachPackedId(packed.subarray(0, 2), () => {})).toThrow(/shorter than the 4-byte count/);
    const longer = new Uint8Array(packed.length + 1);
    longer.set(packed);
    expect(() => forEachPackedId(longer, () => {})).toThrow(/1 bytes after the last of 2 ids/);
  });
});

describe('PackedIdWriter', () => {
  it('streams ids in chunks, growing as needed and starting over after finish()', () => {
    const writer = new PackedIdWriter(8);
    for (let i = 0; i < 1000; i++) writer.append(sku(i));
    expect(writer.count).toBe(1000);
    expect(writer.byteLength).toBe(4 + 1000 * 14);
    const first = writer.finish();
    expect(first.length).toBe(4 + 1000 * 14);
    expect(writer.count).toBe(0);
    expect(writer.byteLength).toBe(4);
    writer.append('🙂');
    writer.append('你好');
    expect(unpack(writer.finish())).toEqual(['🙂', '你好']);
    expect(unpack(first)).toEqual(Array.from({ length: 1000 }, (_, i) => sku(i)));
  });

  it('appends nothing when an id is too long', () => {
    const writer = new PackedIdWriter();
    writer.append('a');
    expect(() => writer.append('b'.repeat(70_000))).toThrow(/70000 UTF-8 bytes/);
    expect(writer.count).toBe(1);
    expect(unpack(writer.finish())).toEqual(['a']);
  });
});

describe('splitPacked', () => {
  const ids = Array.from({ length: 10 }, (_, i) => (i % 3 === 0 ? `id-${i}-🙂` : `id-${i}`));
  const packed = packIds(ids);

  it.each([1, 2, 3, 4, 7, 10])('splits 10 ids into %d parts of consecutive ids, in order', (parts) => {
    const split = splitPacked(packed, parts);
    expect(split.length).toBe(parts);
    const rejoined: string[] = [];
    for (const part of split) {
      expect(part.firstIndex).toBe(rejoined.length);
      expect(part.packed.buffer).not.toBe(packed.buffer); // a fresh, transferable copy
      rejoined.push(...unpack(part.packed));
    }
    expect(rejoined).toEqual(ids);
    const sizes = split.map((part) => packedCount(part.packed));
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('never makes more parts than ids, and one empty part for no ids', () => {
    expect(splitPacked(packIds(['a', 'b']), 5).map((p) => unpack(p.packed))).toEqual([['a'], ['b']]);
    const empty = splitPacked(packIds([]), 3);
    expect(empty.length).toBe(1);
    expect(packedCount(empty[0]!.packed)).toBe(0);
    expect(empty[0]!.firstIndex).toBe(0);
  });

  it('validates parts and the input', () => {
    expect(() => splitPacked(packed, 0)).toThrow('parts must be a positive integer (got 0)');
    expect(() => splitPacked(packed, 1.5)).toThrow(/^parts must be/);
    expect(() => splitPacked(packed.subarray(0, packed.length - 1), 2)).toThrow(RangeError);
  });
});
