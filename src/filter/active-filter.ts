/**
 * The filter in service, and during an online rebuild the one being built.
 *
 * A generation is a filter plus the worker pool whose threads map its
 * SharedArrayBuffer (workers take the buffer from workerData at start, so a
 * new buffer needs new workers). Every reader goes through `current`, so a
 * swap is one assignment on the main thread: the next lookup, snapshot, scrape
 * or pool task uses the new generation; work already started on the old one
 * finishes there (its buffer stays alive while referenced).
 *
 * While a rebuild runs, writes go to BOTH generations (`add`, `addStale`), so
 * an id created during the rebuild is in the new filter whether or not the
 * rebuild's scan reached its row.
 *
 * @example
 *   const active = new ActiveFilter({ filter, pool });
 *   active.beginNext({ filter: next, pool: nextPool }); // creates now add to both
 *   const old = active.swap();                          // readers move to `next`
 *   await old.pool.close();                             // after its in-flight tasks
 */
import type { BloomFilter } from './bloom-filter.js';
import type { FilterPool } from './pool.js';

/** The pool methods a generation's users call, so a test can pass a plain object. */
export type GenerationPool = Pick<FilterPool, 'addPacked' | 'checkPacked' | 'stats' | 'close'>;

export interface FilterGeneration {
  readonly filter: BloomFilter;
  readonly pool: GenerationPool;
}

export class ActiveFilter {
  #current: FilterGeneration;
  #next: FilterGeneration | undefined;

  constructor(initial: FilterGeneration) {
    this.#current = initial;
  }

  get current(): FilterGeneration {
    return this.#current;
  }

  get filter(): BloomFilter {
    return this.#current.filter;
  }

  get pool(): GenerationPool {
    return this.#current.pool;
  }

  /** The generation a rebuild is filling, if one runs. */
  get next(): FilterGeneration | undefined {
    return this.#next;
  }

  /** From now on, adds go to the current filter and to `next`. */
  beginNext(next: FilterGeneration): void {
    if (this.#next !== undefined) throw new Error('a rebuild generation is already being filled');
    this.#next = next;
  }

  /** Makes `next` current; returns the old generation for the caller to close. */
  swap(): FilterGeneration {
    const next = this.#next;
    if (next === undefined) throw new Error('no rebuild generation to swap in');
    const old = this.#current;
    this.#current = next;
    this.#next = undefined;
    return old;
  }

  /** A failed rebuild: stop adding to `next` and hand it back to be closed. */
  abandonNext(): FilterGeneration | undefined {
    const next = this.#next;
    this.#next = undefined;
    return next;
  }

  /** Adds an id to every live generation (main thread). Does not count items. */
  add(id: string): void {
    this.#current.filter.add(id);
    this.#next?.filter.add(id);
  }

  /** Counts deleted ids in every live generation. */
  addStale(n: number): void {
    this.#current.filter.addStale(n);
    this.#next?.filter.addStale(n);
  }
}
