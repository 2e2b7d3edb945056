/**
 * Reverse-order shutdown by construction: each resource pushes its `close` the
 * moment it opens, and `close()` pops them, so the last opened is the first
 * closed without a hand-kept list. One failing close is logged and the rest
 * still run (a stuck Redis must not keep SQLite open); calling `close()` again
 * returns the same promise.
 *
 * @example
 *   const closers = new CloserStack(logger);
 *   const products = ProductStore.open(...);
 *   closers.push('products', () => products.close());
 *   const redis = RedisConnection.open(...);
 *   closers.push('redis', () => redis.close());
 *   await closers.close(); // redis, then products
 */
import type { Logger } from '../logger.js';

export type CloseFn = () => void | Promise<void>;

export class CloserStack {
  readonly #logger: Pick<Logger, 'error'>;
  readonly #stack: { readonly name: string; readonly close: CloseFn }[] = [];
  #closing: Promise<void> | undefined;

  constructor(logger: Pick<Logger, 'error'>) {
    this.#logger = logger;
  }

  /** Registers `close` to run before everything pushed earlier. After close() began, it runs at once. */
  push(name: string, close: CloseFn): void {
    if (this.#closing !== undefined) {
      void this.#run({ name, close });
      return;
    }
    this.#stack.push({ name, close });
  }

  /** How many closes are waiting. */
  get size(): number {
    return this.#stack.length;
  }

  /** Pops and awaits every close, newest first; never rejects. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (let entry = this.#stack.pop(); entry !== undefined; entry = this.#stack.pop()) await this.#run(entry);
    })();
    return this.#closing;
  }

  async #run(entry: { readonly name: string; readonly close: CloseFn }): Promise<void> {
    try {
      await entry.close();
    } catch (err) {
      this.#logger.error(`closing ${entry.name} failed; closing the rest`, { err, resource: entry.name });
    }
  }
}
