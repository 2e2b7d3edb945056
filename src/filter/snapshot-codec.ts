/**
 * The binary snapshot format: one header plus one blob per shard, so a save
 * rewrites only the dirty shards. The header carries every shard's crc32, so a
 * restore can tell a complete, consistent set from a torn one.
 *
 * Header (numbers little-endian, whatever the platform):
 * ```
 *  0  'BLGT'                      magic
 *  4  u16 formatVersion           SNAPSHOT_FORMAT_VERSION
 *  6  u8  endianness              byte order of the shard blobs (raw Int32 words): 1 little, 2 big
 *  7  u8  0                       reserved
 *  8  u32 hashId                  HASH_ID of the hash that set the bits
 * 12  u32 seedFingerprint         seedFingerprint(seed)
 * 16  u32 hashes
 * 20  u32 shards
 * 24  u32 shardBits
 * 28  u32 0                       reserved
 * 32  f64 totalBits
 * 40  f64 items
 * 48  f64 watermark               highest DB rowid whose id is in the filter, with every lower rowid too
 * 56  f64 savedAtMs
 * 64  u32 x shards                crc32 of each shard blob
 * ..  u32                         crc32 of all the bytes above
 * ```
 * Counts and rowids are float64 because they may pass 2^32 (exact to 2^53).
 *
 * @example
 *   const dirty = filter.takeDirtyShards();             // clear the flags first, then copy
 *   const encoded = encodeSnapshot(filter, { items, watermark, savedAtMs: Date.now() }, dirty, previous);
 *   // store encoded.shards, then encoded.header; keep encoded.checksums as `previous`
 *
 *   const decoded = decodeSnapshot({ header, shards }, filter.layout);
 *   if (decoded.ok) restoreInto(filter, decoded); else rebuildFromDatabase(decoded.reason);
 */
import { endianness } from 'node:os';
import { crc32 } from 'node:zlib';
import type { BloomFilter } from './bloom-filter.js';
import { HASH_ID, seedFingerprint } from './hash.js';
import { kMaxCounter, type FilterLayout } from './layout.js';

export const SNAPSHOT_FORMAT_VERSION = 1;
const kMagic = 0x54474c42; // 'BLGT' read as a little-endian u32
const kLittleEndian = 1;
const kBigEndian = 2;
const kNativeEndianness = endianness() === 'LE' ? kLittleEndian : kBigEndian;

// Byte offsets of the header fields (the table above), named so encode and decode cannot drift.
const kMagicOffset = 0;
const kFormatVersionOffset = 4;
const kEndiannessOffset = 6;
const kHashIdOffset = 8;
const kSeedFingerprintOffset = 12;
const kHashesOffset = 16;
const kShardsOffset = 20;
const kShardBitsOffset = 24;
const kTotalBitsOffset = 32;
const kItemsOffset = 40;
const kWatermarkOffset = 48;
const kSavedAtOffset = 56;
/** Where the per-shard crc32s start: the length of the fixed part. */
const kFixedBytes = 64;
const kCrcBytes = 4;

/** The header's length for a filter of `shards` shards. */
export function snapshotHeaderLength(shards: number): number {
  return kFixedBytes + shards * kCrcBytes + kCrcBytes;
}

export interface SnapshotHeader {
  formatVersion: number;
  totalBits: number;
  hashes: number;
  shards: number;
  shardBits: number;
  hashId: number;
  seedFingerprint: number;
  items: number;
  /** Highest DB rowid whose id is in the filter, with every lower rowid too. */
  watermark: number;
  savedAtMs: number;
  /** crc32 per shard, ALL shards. */
  shardChecksums: Uint32Array;
}

export interface EncodedSnapshot {
  header: Buffer;
  /** Only the shards being (re)written. */
  shards: Map<number, Buffer>;
}

/**
 * Copies the given shards out of the filter (a copy, not a view: the copy is
 * what gets checksummed and sent), computes their crc32, and builds a header
 * carrying ALL shard checksums: for shards not in `shardsToWrite` it reuses
 * `previousChecksums[shard]`, so those must describe what is already stored.
 * Throws RangeError on a bad shard index, bad meta, or a missing previous checksum.
 */
export function encodeSnapshot(
  filter: BloomFilter,
  meta: { items: number; watermark: number; savedAtMs: number },
  shardsToWrite: readonly number[],
  previousChecksums: Uint32Array | undefined,
): EncodedSnapshot & { checksums: Uint32Array } {
  const { params, seed } = filter.layout;
  const problems: string[] = [];
  if (!isCount(meta.items) || meta.items > kMaxCounter) problems.push(`meta.items must be an integer from 0 to ${kMaxCounter}`);
  if (!isCount(meta.watermark)) problems.push('meta.watermark must be a non-negative safe integer');
  if (!Number.isFinite(meta.savedAtMs) || meta.savedAtMs < 0) problems.push('meta.savedAtMs must be a non-negative finite number');
  if (previousChecksums !== undefined && previousChecksums.length !== params.shards) {
    problems.push(`previousChecksums must hold ${params.shards} checksums (got ${previousChecksums.length})`);
  }
  if (problems.length > 0) throw new RangeError(problems.join('; '));

  const shards = new Map<number, Buffer>();
  const checksums = new Uint32Array(params.shards);
  for (const shard of shardsToWrite) {
    const copy = Buffer.from(filter.shardView(shard)); // shardView validates the index
    shards.set(shard, copy);
    checksums[shard] = crc32(copy);
  }
  for (let s = 0; s < params.shards; s++) {
    if (shards.has(s)) continue;
    if (previousChecksums === undefined) {
      throw new RangeError(`shard ${s} is not being written and there are no previousChecksums for it`);
    }
    checksums[s] = previousChecksums[s]!;
  }

  const header = Buffer.alloc(snapshotHeaderLength(params.shards));
  header.writeUInt32LE(kMagic, kMagicOffset);
  header.writeUInt16LE(SNAPSHOT_FORMAT_VERSION, kFormatVersionOffset);
  header.writeUInt8(kNativeEndianness, kEndiannessOffset);
  header.writeUInt32LE(HASH_ID, kHashIdOffset);
  header.writeUInt32LE(seedFingerprint(seed), kSeedFingerprintOffset);
  header.writeUInt32LE(params.hashes, kHashesOffset);
  header.writeUInt32LE(params.shards, kShardsOffset);
  header.writeUInt32LE(params.shardBits, kShardBitsOffset);
  header.writeDoubleLE(params.totalBits, kTotalBitsOffset);
  header.writeDoubleLE(meta.items, kItemsOffset);
  header.writeDoubleLE(meta.watermark, kWatermarkOffset);
  header.writeDoubleLE(meta.savedAtMs, kSavedAtOffset);
  for (let s = 0; s < params.shards; s++) header.writeUInt32LE(checksums[s]!, kFixedBytes + s * kCrcBytes);
  const crcAt = header.length - kCrcBytes;
  header.writeUInt32LE(crc32(header.subarray(0, crcAt)), crcAt);
  return { header, shards, checksums };
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

export type SnapshotRejectReason =
  | 'missing'
  | 'bad_magic'
  | 'truncated'
  | 'unsupported_version'
  | 'newer_version'
  | 'endianness'
  | 'params_mismatch'
  | 'seed_mismatch'
  | 'hash_mismatch'
  | 'header_checksum'
  | 'shard_missing'
  | 'shard_size'
  | 'shard_checksum';

export type DecodeResult =
  | { ok: true; header: SnapshotHeader; shards: Buffer[] /* index = shard */ }
  | { ok: false; reason: SnapshotRejectReason; detail: string };

function reject(reason: SnapshotRejectReason, detail: string): DecodeResult {
  return { ok: false, reason, detail };
}

/**
 * Never throws on any input: returns a valid snapshot or a reason. Checks, in
 * order: magic, version, endianness, length, header crc, hash id, seed
 * fingerprint, every param against `expected`, then every shard present with
 * the exact length and matching checksum.
 */
export function decodeSnapshot(
  input: { header: Buffer | undefined; shards: ReadonlyMap<number, Buffer> },
  expected: FilterLayout,
): DecodeResult {
  const h = input.header;
  if (h === undefined) return reject('missing', 'no snapshot header');
  if (h.length < kFormatVersionOffset) return reject('truncated', `header is ${h.length} bytes`);
  if (h.readUInt32LE(kMagicOffset) !== kMagic) return reject('bad_magic', 'header does not start with BLGT');
  if (h.length < kHashIdOffset) return reject('truncated', `header is ${h.length} bytes`);
  const formatVersion = h.readUInt16LE(kFormatVersionOffset);
  if (formatVersion > SNAPSHOT_FORMAT_VERSION) {
    return reject('newer_version', `format version ${formatVersion} is newer than ${SNAPSHOT_FORMAT_VERSION}`);
  }
  if (formatVersion !== SNAPSHOT_FORMAT_VERSION) {
    return reject('unsupported_version', `format version ${formatVersion} is not supported`);
  }
  const order = h.readUInt8(kEndiannessOffset);
  if (order !== kNativeEndianness) {
    return reject('endianness', `shards were written with byte order ${order}, this platform is ${kNativeEndianness}`);
  }
  if (h.length < kFixedBytes) return reject('truncated', `header is ${h.length} bytes`);
  const shards = h.readUInt32LE(kShardsOffset);
  const length = snapshotHeaderLength(shards);
  if (h.length !== length) return reject('truncated', `header is ${h.length} bytes, ${length} expected for ${shards} shards`);
  const crcAt = length - kCrcBytes;
  if (crc32(h.subarray(0, crcAt)) !== h.readUInt32LE(crcAt)) return reject('header_checksum', 'header crc32 does not match');

  const header: SnapshotHeader = {
    formatVersion,
    totalBits: h.readDoubleLE(kTotalBitsOffset),
    hashes: h.readUInt32LE(kHashesOffset),
    shards,
    shardBits: h.readUInt32LE(kShardBitsOffset),
    hashId: h.readUInt32LE(kHashIdOffset),
    seedFingerprint: h.readUInt32LE(kSeedFingerprintOffset),
    items: h.readDoubleLE(kItemsOffset),
    watermark: h.readDoubleLE(kWatermarkOffset),
    savedAtMs: h.readDoubleLE(kSavedAtOffset),
    shardChecksums: new Uint32Array(shards),
  };
  for (let s = 0; s < shards; s++) header.shardChecksums[s] = h.readUInt32LE(kFixedBytes + s * kCrcBytes);

  if (header.hashId !== HASH_ID) return reject('hash_mismatch', `hash id ${header.hashId}, expected ${HASH_ID}`);
  if (header.seedFingerprint !== seedFingerprint(expected.seed)) {
    return reject('seed_mismatch', 'written with another hash seed');
  }
  const p = expected.params;
  for (const [name, got, want] of [
    ['totalBits', header.totalBits, p.totalBits],
    ['hashes', header.hashes, p.hashes],
    ['shards', header.shards, p.shards],
    ['shardBits', header.shardBits, p.shardBits],
  ] as const) {
    if (got !== want) return reject('params_mismatch', `${name} is ${got}, expected ${want}`);
  }
  // The crc passed, so odd values here mean a writer bug; still never restore them.
  if (!isCount(header.items) || header.items > kMaxCounter) return reject('params_mismatch', `items ${header.items} is not a valid count`);
  if (!isCount(header.watermark)) return reject('params_mismatch', `watermark ${header.watermark} is not a valid rowid`);
  if (!Number.isFinite(header.savedAtMs) || header.savedAtMs < 0) {
    return reject('params_mismatch', `savedAtMs ${header.savedAtMs} is not a valid time`);
  }

  const shardBytes = expected.shardWords * 4;
  const blobs: Buffer[] = [];
  for (let s = 0; s < shards; s++) {
    const blob = input.shards.get(s);
    if (blob === undefined) return reject('shard_missing', `shard ${s} is missing`);
    if (blob.length !== shardBytes) return reject('shard_size', `shard ${s} is ${blob.length} bytes, expected ${shardBytes}`);
    if (crc32(blob) !== header.shardChecksums[s]) return reject('shard_checksum', `shard ${s} crc32 does not match the header`);
    blobs.push(blob);
  }
  return { ok: true, header, shards: blobs };
}

/** Loads every shard into the filter and sets its item count. Call on an empty filter (see loadShard). */
export function restoreInto(filter: BloomFilter, decoded: Extract<DecodeResult, { ok: true }>): void {
  decoded.shards.forEach((blob, shard) => filter.loadShard(shard, blob));
  filter.setItems(decoded.header.items);
}
