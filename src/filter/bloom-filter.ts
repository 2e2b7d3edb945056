/**
 * The sharded Bloom filter over a SharedArrayBuffer. The main thread and every
 * pool worker wrap the same buffer in their own BloomFilter; all `Atomics`
 * calls of the project are in this file.
 *
 * Memory-ordering rules, once:
 * - Bits only ever go 0 -> 1 while the service runs (clearAll and loadShard
 *   are for start-up and rebuild). Adds use Atomics.or, so two threads setting
 *   bits in the same word never lose one.
 * - Reads are plain loads. A racing read sees a word either before or after a
 *   concurrent or; both are valid answers for an add that has not been
 *   acknowledged yet. A reader that must see an add (the client that got 201)
 *   is ordered after it by the worker's postMessage / the microtask that
 *   acknowledged it, which carries a happens-before edge.
 *
 * @example
 *   const filter = new BloomFilter(allocateFilterBuffer(layout), layout);
 *   filter.add('SKU-00000001');
 *   filter.addItems(1);
 *   filter.has('SKU-00000001'); // true, always
 *   filter.has('SKU-99999999'); // false, except for a ~1% false positive
 */
import { hashBytes } from './hash.js';
import { kHeaderFieldCount, kItemsField, kStaleField, type FilterLayout } from './layout.js';

/** Callers validate ids to 256 UTF-8 bytes; the scratch grows for longer ones rather than truncate. */
const kScratchBytes = 256 * 3;

export class BloomFilter {
  readonly layout: FilterLayout;
  readonly buffer: SharedArrayBuffer;

  readonly #header: Int32Array;
  readonly #words: Int32Array;
  readonly #dirtyOffset: number;
  readonly #shards: number;
  readonly #shardBits: number;
  readonly #shardWords: number;
  readonly #hashes: number;
  readonly #seed: number;
  readonly #hash = new Uint32Array(3);
  #scratch = Buffer.alloc(kScratchBytes);

  constructor(buffer: SharedArrayBuffer, layout: FilterLayout) {
    if (!(buffer instanceof SharedArrayBuffer)) throw new TypeError('buffer must be a SharedArrayBuffer');
    if (buffer.byteLength !== layout.byteLength) {
      throw new RangeError(`buffer is ${buffer.byteLength} bytes but the layout needs ${layout.byteLength}`);
    }
    this.layout = layout;
    this.buffer = buffer;
    this.#header = new Int32Array(buffer, 0, layout.dirtyOffset + layout.params.shards);
    this.#words = new Int32Array(buffer, layout.bitsByteOffset, layout.params.shards * layout.shardWords);
    this.#dirtyOffset = layout.dirtyOffset;
    this.#shards = layout.params.shards;
    this.#shardBits = layout.params.shardBits;
    this.#shardWords = layout.shardWords;
    this.#hashes = layout.params.hashes;
    this.#seed = layout.seed;
  }

  /** Maps the third hash lane to [0, shards) by multiply-high: exact in doubles (h < 2^32, shards <= 4096). */
  #shardOf(h3: number): number {
    return Math.floor((h3 * this.#shards) / 4294967296);
  }

  /**
   * Sets the k bits (Atomics.or, so concurrent adds from any thread never lose
   * a bit), then marks the shard dirty. Returns the shard index. Does NOT touch
   * the item count.
   */
  addBytes(bytes: Uint8Array, offset: number, length: number): number {
    const h = this.#hash;
    hashBytes(bytes, offset, length, this.#seed, h);
    const shard = this.#shardOf(h[2]!);
    const m = this.#shardBits;
    const base = shard * this.#shardWords;
    const words = this.#words;
    let pos = h[0]! % m;
    let step = h[1]! % m;
    if (step === 0) step = 1;
    for (let i = 0; i < this.#hashes; i++) {
      // or, not a plain |=: another thread may be setting a bit in this word right now.
      Atomics.or(words, base + (pos >>> 5), 1 << (pos & 31));
      pos += step;
      if (pos >= m) pos -= m;
    }
    // Bits first, flag second: see takeDirtyShards. The load skips the store when
    // already dirty, so adders do not keep bouncing the flags' cache line.
    const flag = this.#dirtyOffset + shard;
    if (Atomics.load(this.#header, flag) === 0) Atomics.store(this.#header, flag, 1);
    return shard;
  }

  hasBytes(bytes: Uint8Array, offset: number, length: number): boolean {
    const h = this.#hash;
    hashBytes(bytes, offset, length, this.#seed, h);
    const m = this.#shardBits;
    const base = this.#shardOf(h[2]!) * this.#shardWords;
    const words = this.#words;
    let pos = h[0]! % m;
    let step = h[1]! % m;
    if (step === 0) step = 1;
    for (let i = 0; i < this.#hashes; i++) {
      // Plain load: bits only go 0 -> 1 (see the module comment).
      if ((words[base + (pos >>> 5)]! & (1 << (pos & 31))) === 0) return false;
      pos += step;
      if (pos >= m) pos -= m;
    }
    return true;
  }

  #encode(id: string): number {
    // UTF-8 needs at most 3 bytes per UTF-16 unit; never truncate, or the main
    // thread and the workers would hash different bytes for the same id.
    if (id.length * 3 > this.#scratch.length) this.#scratch = Buffer.alloc(id.length * 3);
    return this.#scratch.write(id, 0, 'utf8');
  }

  /** Main-thread convenience: encodes into a reusable scratch Buffer (no allocation for ids up to 256 bytes). */
  add(id: string): number {
    const length = this.#encode(id); // first: it may replace the scratch buffer
    return this.addBytes(this.#scratch, 0, length);
  }

  has(id: string): boolean {
    const length = this.#encode(id);
    return this.hasBytes(this.#scratch, 0, length);
  }

  get items(): number {
    return Atomics.load(this.#header, kItemsField); // any thread may have added
  }

  addItems(n: number): void {
    Atomics.add(this.#header, kItemsField, n); // several writers may count at once
  }

  setItems(n: number): void {
    Atomics.store(this.#header, kItemsField, n); // published to every thread's next load
  }

  get stale(): number {
    return Atomics.load(this.#header, kStaleField); // any thread may have counted
  }

  addStale(n: number): void {
    Atomics.add(this.#header, kStaleField, n); // several writers may count at once
  }

  /**
   * Clears and returns the dirty shard indexes. Race-free with concurrent adds
   * because of the order on both sides: an add sets its bits (Atomics.or) THEN
   * loads/sets the flag; a snapshot clears the flag (Atomics.exchange) THEN
   * copies the shard. All are sequentially consistent, so for any add either
   * - its flag access comes before the exchange: its bits were set before the
   *   exchange, and the copy made after the exchange contains them; or
   * - its flag access comes after the exchange: it finds 0 and stores 1 (or
   *   finds a 1 stored after the exchange), so the shard is dirty again and the
   *   next save copies it.
   * No add is ever both missing from the copy and lost from the flags. (The copy
   * uses plain loads; Atomics RMWs are full barriers on x64 and arm64.)
   */
  takeDirtyShards(): number[] {
    const dirty: number[] = [];
    for (let s = 0; s < this.#shards; s++) {
      // exchange, not load-then-store: an add may set the flag between the two.
      if (Atomics.exchange(this.#header, this.#dirtyOffset + s, 0) !== 0) dirty.push(s);
    }
    return dirty;
  }

  peekDirtyCount(): number {
    let count = 0;
    for (let s = 0; s < this.#shards; s++) {
      if (Atomics.load(this.#header, this.#dirtyOffset + s) !== 0) count++; // flags are set by other threads
    }
    return count;
  }

  /** Marks every shard dirty, so the next snapshot rewrites them all (after a rebuild or a rejected snapshot). */
  markAllDirty(): void {
    for (let s = 0; s < this.#shards; s++) {
      Atomics.store(this.#header, this.#dirtyOffset + s, 1); // seen by the saver's exchange
    }
  }

  /**
   * Bits set, counted over the whole array (about 1 ms per million items):
   * the true fill ratio for metrics, read at scrape time, never per request.
   */
  countSetBits(): number {
    const words = this.#words;
    let total = 0;
    for (let i = 0; i < words.length; i++) {
      let v = words[i]!;
      if (v === 0) continue;
      // SWAR popcount of a 32-bit word.
      v = v - ((v >>> 1) & 0x55555555);
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
      total += (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
    }
    return total;
  }

  #checkShard(shard: number): void {
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.#shards) {
      throw new RangeError(`shard must be an integer from 0 to ${this.#shards - 1} (got ${String(shard)})`);
    }
  }

  /** A view (no copy) of the shard's bytes, in the platform's byte order. */
  shardView(shard: number): Uint8Array {
    this.#checkShard(shard);
    const bytes = this.#shardWords * 4;
    return new Uint8Array(this.buffer, this.layout.bitsByteOffset + shard * bytes, bytes);
  }

  /**
   * Copies a shard's bytes in (used by restore); length must equal shardWords*4.
   * The copy is a word-wise Atomics.or: on a cleared filter it is a plain copy,
   * and on a live one it can never drop a bit a concurrent add has just set.
   */
  loadShard(shard: number, bytes: Uint8Array): void {
    this.#checkShard(shard);
    const length = this.#shardWords * 4;
    if (bytes.length !== length) {
      throw new RangeError(`shard ${shard} must be ${length} bytes (got ${bytes.length})`);
    }
    // Buffers from a pool are not always 4-byte aligned; align with one copy.
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
    const src = new Int32Array(aligned.buffer, aligned.byteOffset, this.#shardWords);
    const base = shard * this.#shardWords;
    for (let i = 0; i < src.length; i++) {
      const w = src[i]!;
      if (w !== 0) Atomics.or(this.#words, base + i, w); // never overwrite a concurrent add's bit
    }
  }

  /**
   * Resets bits, counters and dirty flags to a freshly allocated filter. Only
   * while no other thread adds or reads (start-up, rebuild): it makes every
   * id test negative.
   */
  clearAll(): void {
    this.#words.fill(0);
    for (let i = 0; i < kHeaderFieldCount + this.#shards; i++) {
      Atomics.store(this.#header, i, 0); // publish the reset counters and flags
    }
  }
}
