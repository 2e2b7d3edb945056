/**
 * Piscina worker for the filter pool (src/filter/pool.ts). Each worker wraps
 * the pool's SharedArrayBuffer in its own BloomFilter: adds here set bits the
 * main thread and every other worker see, because it is the same memory.
 *
 * Returns plain data only: a count, a Uint8Array (moved, not copied), or a
 * FilterTaskFailure the main thread maps to an error.
 *
 * The export names are kAddTask and kCheckTask (src/filter/filter-task.ts).
 * The pool starts this file as compiled `dist/workers/filter-worker.js` with no
 * loader, or as this `.ts` with `--import tsx` when the sources run (see
 * src/lifecycle/worker-file.ts). Piscina loads it with require() first: tsx handles that in
 * a worker, and Node 20.19+ requires the compiled ES module as long as it has no
 * top-level await; piscina's import() fallback did not find tsx's hooks in a
 * worker here (Node 20.20). So: no top-level await, and no default export is
 * needed (the pool names its task).
 */
import { move, workerData } from 'piscina';
import { BloomFilter } from '../src/filter/bloom-filter.js';
import {
  isFilterWorkerData,
  type AddTaskResult,
  type CheckTaskResult,
  type FilterTask,
  type FilterTaskFailure,
} from '../src/filter/filter-task.js';
import { forEachPackedId, packedCount } from '../src/filter/id-batch.js';

const data: unknown = workerData;
if (!isFilterWorkerData(data)) {
  // At load time: the pool sees the worker fail to start, not a wrong answer.
  throw new TypeError('filter worker needs workerData { buffer: SharedArrayBuffer, layout: FilterLayout }');
}
const filter = new BloomFilter(data.buffer, data.layout);

function malformed(error: unknown): FilterTaskFailure {
  return { code: 'malformed_batch', detail: error instanceof Error ? error.message : String(error) };
}

/**
 * Adds every id. The ids are validated by the walk itself: a malformed batch
 * stops at the first id out of bounds, after the earlier ones were added
 * (harmless: extra bits never cause a false negative).
 */
export function addIds(task: FilterTask): AddTaskResult {
  try {
    forEachPackedId(task.packed, (bytes, offset, length) => {
      filter.addBytes(bytes, offset, length);
    });
    return packedCount(task.packed);
  } catch (error) {
    return malformed(error);
  }
}

/** One byte per id, 1 when the filter may hold it, in input order. */
export function checkIds(task: FilterTask): CheckTaskResult | ReturnType<typeof move> {
  try {
    const result = new Uint8Array(packedCount(task.packed));
    forEachPackedId(task.packed, (bytes, offset, length, index) => {
      if (filter.hasBytes(bytes, offset, length)) result[index] = 1;
    });
    return move(result);
  } catch (error) {
    return malformed(error);
  }
}
