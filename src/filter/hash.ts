/**
 * The filter's hash: MurmurHash3_x86_128 (Austin Appleby, public domain) over
 * UTF-8 bytes, in plain TypeScript with Math.imul. One pass yields four
 * 32-bit lanes; the filter uses three (h1, h2 for Kirsch-Mitzenmacher double
 * hashing within a shard, h3 to pick the shard).
 *
 * STABLE FOREVER: snapshots store HASH_ID and are only valid for bits set by
 * this exact function. Changing any output means a new HASH_ID and a rebuild.
 * The golden tests in test/filter/hash.test.ts (including SMHasher's
 * verification value 0xB3ECE62A) pin it.
 *
 * @example
 *   const out = new Uint32Array(3);
 *   const bytes = Buffer.from('SKU-00000001');
 *   hashBytes(bytes, 0, bytes.length, seed, out); // out = [h1, h2, h3]
 */
import { createHash } from 'node:crypto';

/** Identifies this hash function in snapshot headers. */
export const HASH_ID = 1;

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * MurmurHash3_x86_128 of bytes[offset, offset+length) with a 32-bit seed.
 * Writes the four lanes into out[0..3] (out must hold at least 4). No allocation.
 */
export function murmur3X86128(bytes: Uint8Array, offset: number, length: number, seed: number, out: Uint32Array): void {
  const b = bytes;
  let h1 = seed | 0;
  let h2 = h1;
  let h3 = h1;
  let h4 = h1;
  const blockEnd = offset + (length & ~15);
  let i = offset;
  for (; i < blockEnd; i += 16) {
    let k1 = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    let k2 = b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24);
    let k3 = b[i + 8]! | (b[i + 9]! << 8) | (b[i + 10]! << 16) | (b[i + 11]! << 24);
    let k4 = b[i + 12]! | (b[i + 13]! << 8) | (b[i + 14]! << 16) | (b[i + 15]! << 24);

    k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2);
    h1 ^= k1;
    h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;

    k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3);
    h2 ^= k2;
    h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;

    k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4);
    h3 ^= k3;
    h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;

    k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1);
    h4 ^= k4;
    h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
  }

  // Tail: the reference's fall-through switch, written as ifs (the tsconfig
  // forbids fall-through).
  const rem = length & 15;
  if (rem > 12) {
    let k4 = 0;
    if (rem >= 15) k4 ^= b[i + 14]! << 16;
    if (rem >= 14) k4 ^= b[i + 13]! << 8;
    k4 ^= b[i + 12]!;
    h4 ^= Math.imul(rotl(Math.imul(k4, C4), 18), C1);
  }
  if (rem > 8) {
    let k3 = 0;
    if (rem >= 12) k3 ^= b[i + 11]! << 24;
    if (rem >= 11) k3 ^= b[i + 10]! << 16;
    if (rem >= 10) k3 ^= b[i + 9]! << 8;
    k3 ^= b[i + 8]!;
    h3 ^= Math.imul(rotl(Math.imul(k3, C3), 17), C4);
  }
  if (rem > 4) {
    let k2 = 0;
    if (rem >= 8) k2 ^= b[i + 7]! << 24;
    if (rem >= 7) k2 ^= b[i + 6]! << 16;
    if (rem >= 6) k2 ^= b[i + 5]! << 8;
    k2 ^= b[i + 4]!;
    h2 ^= Math.imul(rotl(Math.imul(k2, C2), 16), C3);
  }
  if (rem > 0) {
    let k1 = 0;
    if (rem >= 4) k1 ^= b[i + 3]! << 24;
    if (rem >= 3) k1 ^= b[i + 2]! << 16;
    if (rem >= 2) k1 ^= b[i + 1]! << 8;
    k1 ^= b[i]!;
    h1 ^= Math.imul(rotl(Math.imul(k1, C1), 15), C2);
  }

  h1 ^= length;
  h2 ^= length;
  h3 ^= length;
  h4 ^= length;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  out[0] = h1;
  out[1] = h2;
  out[2] = h3;
  out[3] = h4;
}

const lanes = new Uint32Array(4);

/**
 * Writes h1, h2 (the Kirsch-Mitzenmacher pair) and a third independent value
 * used to pick the shard into out[0..2]. No allocation per call.
 */
export function hashBytes(bytes: Uint8Array, offset: number, length: number, seed: number, out: Uint32Array): void {
  murmur3X86128(bytes, offset, length, seed, lanes);
  out[0] = lanes[0]!;
  out[1] = lanes[1]!;
  out[2] = lanes[2]!;
}

/**
 * A uint32 derived from the seed through SHA-256 (one-way), stored in snapshot
 * headers so a snapshot written with another seed is refused. It reveals
 * nothing about the seed beyond what a brute force over all 2^32 seeds would;
 * the seed's own width is the limit there, not this function.
 */
export function seedFingerprint(seed: number): number {
  const input = Buffer.alloc(4);
  input.writeUInt32LE(seed >>> 0, 0);
  return createHash('sha256').update('bloomgate/seed-fingerprint/v1\0').update(input).digest().readUInt32LE(0);
}
