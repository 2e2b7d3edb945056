/**
 * Single lookups sent to the worker pool (LOOKUP_PATH=pool): every id asked for
 * during one event-loop turn travels in ONE packed task, because one task per
 * request would cap throughput at the pool's round-trip rate (~20k/s here).
 *
 * @example
 *   const batcher = new MicroBatcher((packed) => pool.checkPacked(packed));
 *   const mayExist = await batcher.check('SKU-1');
 */
import { PackedIdWriter } from './id-batch.js';

export class MicroBatcher {
  readonly #check: (packed: Uint8Array) => Promise<Uint8Array>;
  readonly #maxBatch: number;
  #writer = new PackedIdWriter(16 * 1024);
  #waiters: { resolve: (mayExist: boolean) => void; reject: (err: unknown) => void }[] = [];
  #scheduled = false;

  constructor(check: (packed: Uint8Array) => Promise<Uint8Array>, maxBatch = 4096) {
    this.#check = check;
    this.#maxBatch = maxBatch;
  }

  check(id: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#writer.append(id);
      this.#waiters.push({ resolve, reject });
      if (this.#waiters.length >= this.#maxBatch) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        // setImmediate runs after the I/O callbacks of this turn: every request
        // uWS parsed in this turn joins the batch.
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    const packed = this.#writer.finish();
    this.#waiters = [];
    this.#check(packed).then(
      (results) => waiters.forEach((w, i) => w.resolve(results[i] === 1)),
      (err: unknown) => waiters.forEach((w) => w.reject(err)),
    );
  }
}
