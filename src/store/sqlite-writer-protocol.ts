/**
 * The messages between SqliteProductStore (main thread) and its writer thread
 * (workers/sqlite-writer.ts). Plain data only: errors cross the boundary as a
 * code and a detail, and the main thread maps them to error classes.
 */

export interface SqliteWriterData {
  readonly path: string;
  readonly synchronous: 'full' | 'normal';
  readonly cacheSizeKiB: number;
  readonly busyTimeoutMs: number;
  /** How much nicer than the process the writer thread makes itself (0: not); see SqliteProductStoreOptions.writerNice. */
  readonly nice: number;
}

/** The writer thread as it reported itself: Linux thread id and niceness, null when unknown. */
export interface WriterThreadInfo {
  readonly tid: number | null;
  readonly nice: number | null;
}

export interface ProductFields {
  readonly id: string;
  readonly name: string;
  readonly price: number;
}

export type WriterRequest =
  | { readonly seq: number; readonly op: 'insert'; readonly product: ProductFields }
  | { readonly seq: number; readonly op: 'insertMany'; readonly products: readonly ProductFields[] }
  | { readonly seq: number; readonly op: 'delete'; readonly id: string }
  | { readonly seq: number; readonly op: 'update'; readonly product: ProductFields }
  | { readonly seq: number; readonly op: 'initSetting'; readonly key: string; readonly value: string }
  | { readonly seq: number; readonly op: 'putSetting'; readonly key: string; readonly value: string }
  /** Ids packed as in src/filter/id-batch.ts, the buffer moved (not copied). */
  | { readonly seq: number; readonly op: 'import'; readonly packed: Uint8Array }
  | { readonly seq: number; readonly op: 'lock'; readonly claim: LockClaim }
  | { readonly seq: number; readonly op: 'unlock'; readonly namespace: string; readonly token: string }
  /** A read on the writer's connection: only for measuring the hop against a main-thread read. */
  | { readonly seq: number; readonly op: 'get'; readonly id: string }
  /** Tests: the thread exits at once, as if it had crashed, without answering anything queued. */
  | { readonly seq: number; readonly op: 'crash' }
  /** Tests: the thread busy-waits this long without reading messages, as if it were stuck. */
  | { readonly seq: number; readonly op: 'stall'; readonly ms: number }
  /** After everything before it: close the connection and end the thread. */
  | { readonly seq: number; readonly op: 'close' };

export interface LockClaim {
  readonly namespace: string;
  readonly token: string;
  readonly pid: number;
  readonly host: string;
  readonly now: number;
  /** A holder on another host whose heartbeat is older than this many ms counts as dead. */
  readonly staleAfterMs: number;
  /**
   * The tokens of every lock held by a store in this process now: a row with
   * our pid but another token is a live store of ours only if its token is
   * here; otherwise it is a previous process that had our pid (a container's
   * pid 1 after a restart).
   */
  readonly tokensHeldHere: readonly string[];
}

export type WriterErrorCode = 'unavailable' | 'locked' | 'failed';

export type WriterResult =
  | { readonly seq: number; readonly ok: true; readonly value: unknown }
  | { readonly seq: number; readonly ok: false; readonly code: WriterErrorCode; readonly detail: string };

/** What the writer thread posts back. */
export type WriterMessage =
  /** The thread's Linux thread id and its niceness now (null where /proc cannot say). */
  | ({ readonly type: 'ready' } & WriterThreadInfo)
  | { readonly type: 'openFailed'; readonly code: WriterErrorCode; readonly detail: string }
  /** One group commit's results (or a read's), with the writer's commit count so far. */
  | { readonly type: 'results'; readonly results: readonly WriterResult[]; readonly commits: number };
