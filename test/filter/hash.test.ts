import { describe, expect, it } from 'vitest';
import { HASH_ID, hashBytes, murmur3X86128, seedFingerprint } from '../../src/filter/hash.js';
import { sku, TEST_SEED } from '../helpers/filter-fixtures.js';

function hashOf(text: string, seed: number): number[] {
  const bytes = Buffer.from(text, 'utf8');
  const out = new Uint32Array(3);
  hashBytes(bytes, 0, bytes.length, seed, out);
  return [...out];
}

describe('hashBytes (MurmurHash3_x86_128)', () => {
  it('keeps HASH_ID 1: snapshots store it', () => {
    expect(HASH_ID).toBe(1);
  });

  it('passes the SMHasher verification test (0xB3ECE62A)', () => {
    // SMHasher's VerificationTest: hash keys [0], [0,1], ... of lengths 0..255
    // with seed 256 - i, hash the concatenated 16-byte results with seed 0.
    const key = new Uint8Array(256);
    const all = new Uint8Array(16 * 256);
    const view = new DataView(all.buffer);
    const out = new Uint32Array(4);
    for (let i = 0; i < 256; i++) {
      key[i] = i;
      murmur3X86128(key, 0, i, 256 - i, out);
      for (let lane = 0; lane < 4; lane++) view.setUint32(i * 16 + lane * 4, out[lane]!, true);
    }
    murmur3X86128(all, 0, all.length, 0, out);
    expect(out[0]).toBe(0xb3ece62a);
  });

  it('matches the published vector for "" with seed 1', () => {
    const out = new Uint32Array(4);
    murmur3X86128(new Uint8Array(0), 0, 0, 1, out);
    expect([...out]).toEqual([0x88c4adec, 0x54d201b9, 0x54d201b9, 0x54d201b9]);
  });

  // Golden values: if one changes, every stored snapshot is wrong. Never update
  // them; a new hash needs a new HASH_ID.
  it.each([
    ['', 0, [0x00000000, 0x00000000, 0x00000000]],
    ['SKU-00000001', 0, [0xcf5ad24e, 0xf0f839d7, 0x62e1b1b9]],
    ['SKU-00000001', 0x5eed1234, [0xedd6db65, 0x69b1ea33, 0xf6484389]],
    ['héllo wörld — 你好 🙂', 42, [0x0f962c21, 0x1cdd2ef5, 0xe98ddc23]],
    ['a'.repeat(256), 0xffffffff, [0xc18d6443, 0x79758d6a, 0xff0d0d93]],
    ['0123456789abcdefX', 7, [0x74332f2b, 0x4c37221e, 0x1edb57b5]],
  ])('pins %j with seed %d', (text, seed, expected) => {
    expect(hashOf(text, seed)).toEqual(expected);
  });

  it('hashes exactly bytes[offset, offset+length) and writes only out[0..2]', () => {
    const id = Buffer.from('SKU-00000001');
    const padded = Buffer.concat([Buffer.from('xx'), id, Buffer.from('yyy')]);
    const out = new Uint32Array(4).fill(7);
    hashBytes(padded, 2, id.length, 0, out);
    expect([...out.subarray(0, 3)]).toEqual(hashOf('SKU-00000001', 0));
    expect(out[3]).toBe(7);
  });

  it('gives different values for different seeds', () => {
    expect(hashOf('SKU-00000001', 1)).not.toEqual(hashOf('SKU-00000001', 2));
  });

  // Chi-square over 200k sequential ids: deterministic data, so these fixed bounds
  // cannot flake. Each bound is about the expected value (the degrees of freedom)
  // plus 6 standard deviations (sqrt(2 * dof)).
  describe('distribution over 200,000 sequential ids', () => {
    const count = 200_000;
    const lanes: Uint32Array[] = [new Uint32Array(count), new Uint32Array(count), new Uint32Array(count)];
    const out = new Uint32Array(3);
    const scratch = Buffer.alloc(64);
    for (let i = 0; i < count; i++) {
      const length = scratch.write(sku(i + 1), 0, 'utf8');
      hashBytes(scratch, 0, length, TEST_SEED, out);
      for (let lane = 0; lane < 3; lane++) lanes[lane]![i] = out[lane]!;
    }

    function chiSquare(buckets: number, bucketOf: (i: number) => number): number {
      const counts = new Float64Array(buckets);
      for (let i = 0; i < count; i++) counts[bucketOf(i)]! += 1;
      const expected = count / buckets;
      let chi = 0;
      for (const c of counts) chi += (c - expected) ** 2 / expected;
      return chi;
    }

    it('spreads ids evenly over 64 shards (the third lane, multiply-high)', () => {
      const h3 = lanes[2]!;
      const chi = chiSquare(64, (i) => Math.floor((h3[i]! * 64) / 2 ** 32));
      expect(chi).toBeLessThan(63 + 6 * Math.sqrt(2 * 63)); // < 130
    });

    it('spreads the k = 7 bit positions evenly over a shard (1024 ranges)', () => {
      const shardBits = 151_552;
      const counts = new Float64Array(1024);
      for (let i = 0; i < count; i++) {
        let pos = lanes[0]![i]! % shardBits;
        let step = lanes[1]![i]! % shardBits;
        if (step === 0) step = 1;
        for (let k = 0; k < 7; k++) {
          counts[Math.floor((pos * 1024) / shardBits)]! += 1;
          pos += step;
          if (pos >= shardBits) pos -= shardBits;
        }
      }
      const expected = (count * 7) / 1024;
      let chi = 0;
      for (const c of counts) chi += (c - expected) ** 2 / expected;
      expect(chi).toBeLessThan(1023 + 6 * Math.sqrt(2 * 1023)); // < 1295
    });

    it('fills low and high bits of each lane evenly, and h1 and h2 jointly', () => {
      const bound = 1023 + 6 * Math.sqrt(2 * 1023);
      for (const lane of lanes) {
        expect(chiSquare(1024, (i) => lane[i]! & 1023)).toBeLessThan(bound);
        expect(chiSquare(1024, (i) => lane[i]! >>> 22)).toBeLessThan(bound);
      }
      const [h1, h2] = lanes;
      expect(chiSquare(1024, (i) => ((h1![i]! & 31) << 5) | (h2![i]! & 31))).toBeLessThan(bound);
    });
  });
});

describe('seedFingerprint', () => {
  it('pins values (snapshots store them) and differs between seeds', () => {
    expect(seedFingerprint(0)).toBe(0xbb8a498e);
    expect(seedFingerprint(1)).toBe(0x8289e0e4);
    expect(seedFingerprint(0x5eed1234)).toBe(0xc56d5569);
    expect(seedFingerprint(0xffffffff)).toBe(0xd2773650);
  });

  it('is not the seed itself', () => {
    for (const seed of [0, 1, 0x5eed1234]) expect(seedFingerprint(seed)).not.toBe(seed);
  });
});
