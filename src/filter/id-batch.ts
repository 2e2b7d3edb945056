/**
 * Ids travel to workers packed in one binary buffer, never as an array of
 * strings (one transfer instead of a structured clone of a million strings):
 *
 * ```
 * [u32 count LE] then count times [u16 byteLength LE][UTF-8 bytes]
 * ```
 *
 * @example
 *   const packed = packIds(['SKU-1', 'SKU-2']);
 *   forEachPackedId(packed, (bytes, offset, length) => filter.addBytes(bytes, offset, length));
 *
 *   const writer = new PackedIdWriter();           // streaming a table in chunks
 *   for (const row of rows) {
 *     writer.append(row.id);
 *     if (writer.count === 50_000) await pool.addPacked(writer.finish());
 *   }
 */

/** The most UTF-8 bytes one packed id can have (u16 length). Callers validate 256. */
export const MAX_PACKED_ID_BYTES = 0xffff;
const kCountBytes = 4;
const kLengthBytes = 2;

/**
 * Appends ids one at a time into a growing buffer; finish() returns the packed
 * ids and resets the writer for the next chunk.
 */
export class PackedIdWriter {
  #bytes: Uint8Array;
  #text: Buffer; // a Buffer view of #bytes, for its fast utf8 write
  #used = kCountBytes;
  #count = 0;

  constructor(initialBytes = 64 * 1024) {
    this.#bytes = new Uint8Array(Math.max(kCountBytes, initialBytes));
    this.#text = Buffer.from(this.#bytes.buffer, 0, this.#bytes.length);
  }

  /** Ids appended since the last finish(). */
  get count(): number {
    return this.#count;
  }

  /** Bytes finish() would return now. */
  get byteLength(): number {
    return this.#used;
  }

  #reserve(extra: number): void {
    const needed = this.#used + extra;
    if (needed <= this.#bytes.length) return;
    let size = this.#bytes.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#bytes.subarray(0, this.#used));
    this.#bytes = grown;
    this.#text = Buffer.from(grown.buffer, 0, grown.length);
  }

  /** Throws RangeError if the id is over 65535 UTF-8 bytes (nothing is appended then). */
  append(id: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit, so the write is never truncated.
    this.#reserve(kLengthBytes + id.length * 3);
    const at = this.#used + kLengthBytes;
    const written = this.#text.write(id, at, 'utf8');
    this.#commit(written);
  }

  #commit(length: number): void {
    if (length > MAX_PACKED_ID_BYTES) {
      throw new RangeError(`an id is ${length} UTF-8 bytes; packed ids hold at most ${MAX_PACKED_ID_BYTES}`);
    }
    this.#bytes[this.#used] = length & 0xff;
    this.#bytes[this.#used + 1] = length >>> 8;
    this.#used += kLengthBytes + length;
    this.#count++;
  }

  /** The packed ids in a fresh, exactly sized ArrayBuffer (transferable); the writer starts over. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.#bytes.buffer.slice(0, this.#used));
    writeCount(out, this.#count);
    this.#used = kCountBytes;
    this.#count = 0;
    return out;
  }
}

function writeCount(packed: Uint8Array, count: number): void {
  packed[0] = count & 0xff;
  packed[1] = (count >>> 8) & 0xff;
  packed[2] = (count >>> 16) & 0xff;
  packed[3] = count >>> 24;
}

/**
 * Packs ids as [u32 count][u16 len][utf8 bytes]... into a fresh
 * ArrayBuffer-backed Uint8Array (transferable). Throws RangeError if an id is
 * over 65535 bytes (callers validate 256).
 */
export function packIds(ids: readonly string[]): Uint8Array {
  let estimate = kCountBytes;
  for (const id of ids) estimate += kLengthBytes + id.length;
  const writer = new PackedIdWriter(estimate);
  for (const id of ids) writer.append(id);
  return writer.finish();
}

/** The id count in the header. Throws RangeError if there is no header. */
export function packedCount(packed: Uint8Array): number {
  if (packed.length < kCountBytes) throw new RangeError(`packed ids are ${packed.length} bytes, shorter than the 4-byte count`);
  return (packed[0]! | (packed[1]! << 8) | (packed[2]! << 16) | (packed[3]! << 24)) >>> 0;
}

/**
 * Calls fn(bytes, offset, length, index) for each id without allocating
 * strings. Throws RangeError if the buffer is truncated or has trailing bytes
 * (before calling fn for an id that is out of bounds).
 */
export function forEachPackedId(
  packed: Uint8Array,
  fn: (bytes: Uint8Array, offset: number, length: number, index: number) => void,
): void {
  const count = packedCount(packed);
  const end = packed.length;
  let at = kCountBytes;
  for (let i = 0; i < count; i++) {
    if (at + kLengthBytes > end) throw new RangeError(`packed ids are truncated at id ${i} of ${count}`);
    const length = packed[at]! | (packed[at + 1]! << 8);
    at += kLengthBytes;
    if (at + length > end) throw new RangeError(`packed ids are truncated at id ${i} of ${count}`);
    fn(packed, at, length, i);
    at += length;
  }
  if (at !== end) throw new RangeError(`packed ids have ${end - at} bytes after the last of ${count} ids`);
}

/**
 * Splits a packed buffer into at most `parts` packed buffers of consecutive ids
 * (for spreading a big batch over workers), each a fresh transferable copy,
 * with each part's first index. An empty input gives one empty part.
 */
export function splitPacked(packed: Uint8Array, parts: number): { packed: Uint8Array; firstIndex: number }[] {
  if (!Number.isSafeInteger(parts) || parts < 1) throw new RangeError(`parts must be a positive integer (got ${String(parts)})`);
  const count = packedCount(packed);
  const n = Math.max(1, Math.min(parts, count));
  // The byte offset where each part starts; one validating walk over the lengths.
  const cuts: number[] = [];
  let next = 0;
  forEachPackedId(packed, (_bytes, offset, _length, index) => {
    if (index === Math.floor((next * count) / n)) {
      cuts.push(offset - kLengthBytes);
      next++;
    }
  });
  if (count === 0) cuts.push(kCountBytes);
  const result: { packed: Uint8Array; firstIndex: number }[] = [];
  for (let p = 0; p < n; p++) {
    const firstIndex = Math.floor((p * count) / n);
    const partCount = Math.floor(((p + 1) * count) / n) - firstIndex;
    const from = cuts[p]!;
    const to = p + 1 < n ? cuts[p + 1]! : packed.length;
    const part = new Uint8Array(kCountBytes + (to - from));
    part.set(packed.subarray(from, to), kCountBytes);
    writeCount(part, partCount);
    result.push({ packed: part, firstIndex });
  }
  return result;
}
