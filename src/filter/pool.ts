/**
 * A piscina pool whose workers map the filter's SharedArrayBuffer, so bulk adds
 * and batch checks hash off the main thread and write straight into the same
 * bits the main thread reads.
 *
 * @example
 *   const pool = new FilterPool({ filter, threads: 3 });
 *   const added = await pool.addPacked(packIds(ids)); // bits set; the caller counts items
 *   filter.addItems(added);
 *   const maybe = await pool.checkPacked(packIds(['SKU-1', 'nope'])); // Uint8Array [1, 0]
 *   await pool.close();
 */
import { Piscina } from 'piscina';
import { workerFile } from '../lifecycle/worker-file.js';
import { BloomFilter } from './bloom-filter.js';
import {
  isFilterTaskFailure,
  kAddTask,
  kCheckTask,
  type AddTaskResult,
  type CheckTaskResult,
  type FilterTask,
  type FilterWorkerData,
} from './filter-task.js';
import { packedCount, splitPacked } from './id-batch.js';

/** Batches above this many ids are split across workers; below it one task beats the split's copy. */
export const SPLIT_THRESHOLD_IDS = 4096;

const worker = workerFile('filter-worker');

export interface FilterPoolOptions {
  readonly filter: BloomFilter;
  readonly threads: number;
  /**
   * Called when a worker dies outside a task. Piscina replaces the worker; without
   * a listener its 'error' event would crash the process.
   */
  readonly onWorkerError?: (err: unknown) => void;
}

export interface PoolStats {
  threads: number;
  queueSize: number;
  /** Piscina's utilization: the share of the pool's capacity spent running tasks. */
  utilization: number;
  completed: number;
}

function validate(options: FilterPoolOptions): void {
  const problems: string[] = [];
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  if (!(options.filter instanceof BloomFilter)) problems.push('options.filter must be a BloomFilter');
  if (!Number.isSafeInteger(options.threads) || options.threads < 1) {
    problems.push('options.threads must be a positive integer');
  }
  if (problems.length > 0) throw new TypeError(problems.join('; '));
}

export class FilterPool {
  readonly #piscina: Piscina<FilterTask, AddTaskResult | CheckTaskResult>;
  readonly #threads: number;
  #closed = false;

  constructor(options: FilterPoolOptions) {
    validate(options);
    this.#threads = options.threads;
    const workerData: FilterWorkerData = { buffer: options.filter.buffer, layout: options.filter.layout };
    this.#piscina = new Piscina({
      // workers/filter-worker.js when compiled; the .ts under a TypeScript loader (with tsx in the worker).
      filename: worker.filename,
      execArgv: [...worker.execArgv],
      // A SharedArrayBuffer in workerData is shared with each worker, not copied.
      workerData,
      // Piscina preloads the task named here at worker start; the worker has no default export.
      name: kAddTask,
      minThreads: options.threads,
      maxThreads: options.threads,
    });
    this.#piscina.on('error', (err: unknown) => options.onWorkerError?.(err));
  }

  /** Splits large batches into one part per worker; each part is a fresh copy, moved to its worker. */
  #parts(packed: Uint8Array): { packed: Uint8Array; firstIndex: number }[] {
    const count = packedCount(packed);
    const parts = Math.min(this.#threads, Math.ceil(count / SPLIT_THRESHOLD_IDS));
    // new Uint8Array(view) copies (Buffer#slice would not, and its buffer may be the shared pool).
    if (parts <= 1) return [{ packed: new Uint8Array(packed), firstIndex: 0 }];
    return splitPacked(packed, parts);
  }

  async #run(name: string, packed: Uint8Array): Promise<AddTaskResult | CheckTaskResult> {
    if (this.#closed) throw new Error('the filter pool is closed');
    // The part is a fresh copy the worker owns: transfer its buffer instead of cloning it again.
    return this.#piscina.run({ packed }, { name, transferList: [packed.buffer as ArrayBuffer] });
  }

  /**
   * Adds every packed id (hashing in the workers); splits across workers when
   * large. Resolves with the number of ids processed. Does not change the item
   * count (the caller owns it). Rejects with a RangeError on a malformed batch.
   */
  async addPacked(packed: Uint8Array): Promise<number> {
    if (packedCount(packed) === 0) return 0;
    const results = await Promise.all(this.#parts(packed).map((part) => this.#run(kAddTask, part.packed)));
    let processed = 0;
    for (const result of results) {
      if (isFilterTaskFailure(result)) throw new RangeError(`packed ids are malformed: ${result.detail}`);
      if (typeof result !== 'number') throw new TypeError('filter worker returned an unexpected add result');
      processed += result;
    }
    return processed;
  }

  /** One result byte per id (1 = may exist), in order, split across workers when large. */
  async checkPacked(packed: Uint8Array): Promise<Uint8Array> {
    const count = packedCount(packed);
    const out = new Uint8Array(count);
    if (count === 0) return out;
    const parts = this.#parts(packed);
    const results = await Promise.all(parts.map((part) => this.#run(kCheckTask, part.packed)));
    results.forEach((result, i) => {
      if (isFilterTaskFailure(result)) throw new RangeError(`packed ids are malformed: ${result.detail}`);
      if (!(result instanceof Uint8Array)) throw new TypeError('filter worker returned an unexpected check result');
      out.set(result, parts[i]!.firstIndex);
    });
    return out;
  }

  stats(): PoolStats {
    return {
      threads: this.#piscina.threads.length,
      queueSize: this.#piscina.queueSize,
      utilization: this.#piscina.utilization,
      completed: this.#piscina.completed,
    };
  }

  /** Waits for queued tasks, then stops the workers. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#piscina.close();
  }
}
