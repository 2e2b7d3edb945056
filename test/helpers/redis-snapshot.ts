/**
 * Reads, checks and tampers with the filter snapshot a running (or stopped)
 * bloomgate keeps in Redis: hash `bloom:state:<ns>:snapshot`, field `header`
 * and fields `shard:<i>` (see src/store/snapshot-store.ts).
 *
 * The header is parsed here independently of src/filter/snapshot-codec.ts (the
 * offsets are the documented format), so a test can check a stored snapshot is
 * whole without the service's hash seed, and can forge headers that pass the
 * header crc but differ in one field.
 *
 * @example
 *   const raw = await readSnapshot(client, ns);
 *   expect(checkSnapshot(raw).problems).toEqual([]);
 *   await writeSnapshot(client, ns, { ...raw, header: withField(raw.header!, 'formatVersion', 2) });
 */
import { crc32 } from 'node:zlib';
import type { Redis } from 'ioredis';

export interface RawSnapshot {
  readonly header: Buffer | undefined;
  /** Every `shard:<i>` field by index. */
  readonly shards: Map<number, Buffer>;
}

export interface ParsedHeader {
  readonly magic: string;
  readonly formatVersion: number;
  readonly endianness: number;
  readonly hashId: number;
  readonly seedFingerprint: number;
  readonly hashes: number;
  readonly shards: number;
  readonly shardBits: number;
  readonly totalBits: number;
  readonly items: number;
  readonly watermark: number;
  readonly savedAtMs: number;
  readonly shardChecksums: number[];
  readonly headerCrcOk: boolean;
}

/** Byte offsets of the documented header fields. */
const OFFSETS = {
  formatVersion: 4,
  endianness: 6,
  hashId: 8,
  seedFingerprint: 12,
  hashes: 16,
  shards: 20,
  shardBits: 24,
  totalBits: 32,
  items: 40,
  watermark: 48,
  savedAtMs: 56,
} as const;
const FIXED_BYTES = 64;

export function snapshotKey(namespace: string): string {
  return `bloom:state:${namespace}:snapshot`;
}

export async function readSnapshot(client: Redis, namespace: string): Promise<RawSnapshot> {
  const fields = await client.hgetallBuffer(snapshotKey(namespace));
  const shards = new Map<number, Buffer>();
  let header: Buffer | undefined;
  for (const [field, value] of Object.entries(fields)) {
    if (field === 'header') header = value;
    const match = /^shard:(\d+)$/.exec(field);
    if (match?.[1] !== undefined) shards.set(Number(match[1]), value);
  }
  return { header, shards };
}

/** Replaces the whole hash with `raw` in one MULTI (a missing header writes no header field). */
export async function writeSnapshot(client: Redis, namespace: string, raw: RawSnapshot): Promise<void> {
  const key = snapshotKey(namespace);
  const args: (string | Buffer)[] = [];
  if (raw.header !== undefined) args.push('header', raw.header);
  for (const [i, blob] of raw.shards) args.push(`shard:${i}`, blob);
  const multi = client.multi().del(key);
  if (args.length > 0) multi.hset(key, ...args);
  const results = await multi.exec();
  for (const [err] of results ?? []) if (err) throw err;
}

/** Parses the documented header; throws if it is too short to hold the fixed part. */
export function parseHeader(h: Buffer): ParsedHeader {
  if (h.length < FIXED_BYTES + 4) throw new RangeError(`header is ${h.length} bytes`);
  const shards = h.readUInt32LE(OFFSETS.shards);
  const length = FIXED_BYTES + shards * 4 + 4;
  const shardChecksums: number[] = [];
  for (let s = 0; s < shards && FIXED_BYTES + s * 4 + 4 <= h.length; s++) shardChecksums.push(h.readUInt32LE(FIXED_BYTES + s * 4));
  const headerCrcOk = h.length === length && crc32(h.subarray(0, length - 4)) === h.readUInt32LE(length - 4);
  return {
    magic: h.toString('latin1', 0, 4),
    formatVersion: h.readUInt16LE(OFFSETS.formatVersion),
    endianness: h.readUInt8(OFFSETS.endianness),
    hashId: h.readUInt32LE(OFFSETS.hashId),
    seedFingerprint: h.readUInt32LE(OFFSETS.seedFingerprint),
    hashes: h.readUInt32LE(OFFSETS.hashes),
    shards,
    shardBits: h.readUInt32LE(OFFSETS.shardBits),
    totalBits: h.readDoubleLE(OFFSETS.totalBits),
    items: h.readDoubleLE(OFFSETS.items),
    watermark: h.readDoubleLE(OFFSETS.watermark),
    savedAtMs: h.readDoubleLE(OFFSETS.savedAtMs),
    shardChecksums,
    headerCrcOk,
  };
}

/**
 * Everything wrong with a stored snapshot, as messages (empty when it is whole):
 * header present with a good crc, every shard present with shardBits/8 bytes
 * and the crc32 the header records.
 */
export function checkSnapshot(raw: RawSnapshot): { header: ParsedHeader | undefined; problems: string[] } {
  if (raw.header === undefined) return { header: undefined, problems: ['no header field'] };
  let header: ParsedHeader;
  try {
    header = parseHeader(raw.header);
  } catch (err) {
    return { header: undefined, problems: [(err as Error).message] };
  }
  const problems: string[] = [];
  if (header.magic !== 'BLGT') problems.push(`magic ${JSON.stringify(header.magic)}`);
  if (!header.headerCrcOk) problems.push('header crc32 does not match');
  for (let s = 0; s < header.shards; s++) {
    const blob = raw.shards.get(s);
    if (blob === undefined) problems.push(`shard ${s} missing`);
    else if (blob.length !== header.shardBits / 8) problems.push(`shard ${s} is ${blob.length} bytes, expected ${header.shardBits / 8}`);
    else if (crc32(blob) !== header.shardChecksums[s]) problems.push(`shard ${s} crc32 does not match the header`);
  }
  return { header, problems };
}

/** A copy of the header with one numeric field changed and the header crc recomputed, so only that field is "wrong". */
export function withField(header: Buffer, field: keyof typeof OFFSETS, value: number): Buffer {
  const h = Buffer.from(header);
  const at = OFFSETS[field];
  if (field === 'formatVersion') h.writeUInt16LE(value, at);
  else if (field === 'endianness') h.writeUInt8(value, at);
  else if (field === 'totalBits' || field === 'items' || field === 'watermark' || field === 'savedAtMs') h.writeDoubleLE(value, at);
  else h.writeUInt32LE(value >>> 0, at);
  return reseal(h);
}

/** Recomputes the header's trailing crc32 in place and returns it. */
export function reseal(h: Buffer): Buffer {
  const crcAt = h.length - 4;
  h.writeUInt32LE(crc32(h.subarray(0, crcAt)), crcAt);
  return h;
}
