/**
 * The contract between FilterPool (main thread) and workers/filter-worker.ts:
 * the workerData each worker gets, the task names it exports, and the plain
 * data it returns. Errors never cross the boundary as classes: a worker returns
 * a FilterTaskFailure and the pool maps it.
 */
import type { FilterLayout } from './layout.js';

export interface FilterWorkerData {
  /** The filter's memory: shared with the main thread, not copied. */
  readonly buffer: SharedArrayBuffer;
  readonly layout: FilterLayout;
}

export interface FilterTask {
  /** Ids in the id-batch format (a transferred copy owned by the worker). */
  readonly packed: Uint8Array;
}

export interface FilterTaskFailure {
  readonly code: 'malformed_batch';
  readonly detail: string;
}

/** Task names: the worker file exports one function per name. */
export const kAddTask = 'addIds';
export const kCheckTask = 'checkIds';

/** The number of ids processed, or why none were. */
export type AddTaskResult = number | FilterTaskFailure;
/** One byte per id (1 = may exist), or why there are none. */
export type CheckTaskResult = Uint8Array | FilterTaskFailure;

export function isFilterTaskFailure(value: unknown): value is FilterTaskFailure {
  return typeof value === 'object' && value !== null && 'code' in value && 'detail' in value;
}

/** Worker-side check of workerData, so a mistake fails at start, not as a wrong answer. */
export function isFilterWorkerData(value: unknown): value is FilterWorkerData {
  if (typeof value !== 'object' || value === null) return false;
  const data = value as { buffer?: unknown; layout?: { byteLength?: unknown } };
  return data.buffer instanceof SharedArrayBuffer && typeof data.layout?.byteLength === 'number';
}
