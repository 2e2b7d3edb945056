/**
 * The SQLite backend of ProductStore (src/store/product-store.ts): the embedded
 * default. Writes commit on a writer thread (workers/sqlite-writer.ts) with its
 * own connection and GROUP COMMIT: every write that arrives while a commit is
 * in flight joins the next transaction, one fsync for all. An fsync therefore
 * never holds this thread's event loop, which answers the lookups.
 *
 * Reads (get, count, scans, positions, settings) run on a read connection on
 * this thread: in WAL mode a reader never waits for the writer, and a point
 * read here is far cheaper than a hop to the writer thread (get(): 4.6 us
 * mean here vs 75.6 us through the writer, load/write-stall-bench.ts).
 *
 * Durability order: a write's promise resolves only after the writer thread's
 * COMMIT returned (fsynced with synchronous=FULL), so the caller can add the id
 * to the filter and then acknowledge, and this thread's read connection sees
 * the row from then on (each read statement sees the latest commit).
 *
 * @example
 *   const store = await SqliteProductStore.open({ path: 'data/products.db' });
 *   await store.lockInstance('bloomgate');
 *   await store.insert({ id: 'SKU-1', name: 'Lamp', price: 9.5 }); // { id: 'SKU-1', position: 1 }
 *   for await (const ids of store.idsFrom(1, 10_000)) for (const id of ids) filter.add(id);
 *   await store.close();
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { DatabaseUnavailableError, InstanceLockedError } from '../errors.js';
import { packIds } from '../filter/id-batch.js';
import { runningFromSources, workerFile } from '../lifecycle/worker-file.js';
import { toProduct } from '../product.js';
import type {
  BatchInsertResult,
  CreatedRow,
  Position,
  Product,
  ProductStore,
  StoredProduct,
} from './product-store.js';
import type { SqliteWriterData, WriterMessage, WriterRequest, WriterResult, WriterThreadInfo } from './sqlite-writer-protocol.js';

export interface SqliteProductStoreOptions {
  /** The database file; its parent directory is created. Not `:memory:` (two connections share the file). */
  readonly path: string;
  /** `full` (default): every commit is fsynced. `normal`: survives a crash, may lose the last commits on power loss. */
  readonly synchronous?: 'full' | 'normal';
  /**
   * Page cache per connection (the writer's and the reader's), in KiB.
   * Default 8192 (8 MiB); see kDefaultCacheSizeKiB for why.
   */
  readonly cacheSizeKiB?: number;
  /**
   * How much nicer than this process the writer thread makes itself, 0
   * (default: not at all) to 19, capped at niceness 19 (Linux; ignored
   * elsewhere). Above 0 the thread yields the CPU to the event loop under
   * contention: commits slow down, lookups do not (load/RESULTS.md).
   */
  readonly writerNice?: number;
  /** How long a write waits for another process's write lock (busy_timeout). Default 5000. */
  readonly busyTimeoutMs?: number;
  /**
   * Upper bound on a write's round trip to the writer thread (the import
   * excepted); past it the call rejects with DatabaseUnavailableError (the
   * write may still land). Default 10000.
   */
  readonly writeTimeoutMs?: number;
  /**
   * Where get() reads: `main` (default, this thread's read connection) or
   * `writer` (a hop to the writer thread), kept for the benchmark that compares them.
   */
  readonly reads?: 'main' | 'writer';
  /** Called when the writer thread dies; pending calls reject, and the next call starts a new thread. */
  readonly onWriterError?: (err: Error) => void;
}

/**
 * 8 MiB per connection (16 MiB for the writer's and the reader's together;
 * products.ts used 64 MiB, and the service's RSS with 1M ids was 273 MiB
 * against a 150 MB target). Measured with 1M ids (load/write-stall-bench.ts):
 * the import takes the same time from 2 to 64 MiB (it inserts in id order),
 * and a random get() costs 7.8 us at 8 MiB, 8.1 at 16, 7.0 at 64, 11.5 at 2,
 * since index pages missing from SQLite's cache come from the OS page cache,
 * which is not this process's RSS. RSS of the bench child after the import and
 * 100k gets: 136 MB at 8 MiB, 146 at 16, 212 at 64.
 */
export const kDefaultCacheSizeKiB = 8 * 1024;
/** A lock holder on another host (no pid to check) counts as dead after this long without a heartbeat. */
export const kLockStaleAfterMs = 60_000;
const kLockHeartbeatMs = 10_000;

/** Tokens of the instance locks held by stores in this process (see LockClaim.tokensHeldHere). */
const tokensHeldHere = new Set<string>();

/** Test hook: makes the writer thread exit at once, as if it had crashed. */
export const kCrashWriter: unique symbol = Symbol('bloomgate.sqlite.crashWriter');
/** Test hook: makes the writer thread stop answering for `ms`, as if it were stuck. */
export const kStallWriter: unique symbol = Symbol('bloomgate.sqlite.stallWriter');

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

interface WriterThread {
  readonly worker: Worker;
  readonly ready: Promise<void>;
}

type ProductRow = { id: string; name: string; price: number; created_at: number };

function validate(options: SqliteProductStoreOptions): Required<Omit<SqliteProductStoreOptions, 'onWriterError'>> {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const problems: string[] = [];
  const resolved = {
    path: options.path,
    synchronous: options.synchronous ?? 'full',
    cacheSizeKiB: options.cacheSizeKiB ?? kDefaultCacheSizeKiB,
    writerNice: options.writerNice ?? 0,
    busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    writeTimeoutMs: options.writeTimeoutMs ?? 10_000,
    reads: options.reads ?? 'main',
  } as const;
  if (typeof resolved.path !== 'string' || resolved.path.length === 0 || resolved.path === ':memory:') {
    problems.push('options.path must be a file path (not :memory:)');
  }
  if (resolved.synchronous !== 'full' && resolved.synchronous !== 'normal') problems.push("options.synchronous must be 'full' or 'normal'");
  if (!Number.isSafeInteger(resolved.cacheSizeKiB) || resolved.cacheSizeKiB < 64) {
    problems.push('options.cacheSizeKiB must be an integer >= 64');
  }
  if (!Number.isSafeInteger(resolved.writerNice) || resolved.writerNice < 0 || resolved.writerNice > 19) {
    problems.push('options.writerNice must be an integer from 0 to 19');
  }
  if (!Number.isSafeInteger(resolved.busyTimeoutMs) || resolved.busyTimeoutMs < 0) {
    problems.push('options.busyTimeoutMs must be a non-negative integer');
  }
  if (!Number.isSafeInteger(resolved.writeTimeoutMs) || resolved.writeTimeoutMs < 1) {
    problems.push('options.writeTimeoutMs must be a positive integer');
  }
  if (resolved.reads !== 'main' && resolved.reads !== 'writer') problems.push("options.reads must be 'main' or 'writer'");
  if (problems.length > 0) throw new TypeError(problems.join('; '));
  return resolved;
}

function checkPageSize(pageSize: number): void {
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
}

function checkPosition(position: Position, name: string): void {
  if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`${name} must be a non-negative integer, got ${position}`);
}

function prepareReads(db: Database.Database) {
  return {
    get: db.prepare<[string], ProductRow>('SELECT id, name, price, created_at FROM products WHERE id = ?'),
    count: db.prepare<[], number>('SELECT product_count FROM products_meta WHERE k = 0').pluck(),
    // AUTOINCREMENT keeps the largest rowid ever handed out here, deleted rows included.
    sequence: db.prepare<[], number>("SELECT seq FROM sqlite_sequence WHERE name = 'products'").pluck(),
    maxRowid: db.prepare<[], number | null>('SELECT max(rowid) FROM products').pluck(),
    pageFrom: db.prepare<[number, number], [number, string]>('SELECT rowid, id FROM products WHERE rowid >= ? ORDER BY rowid LIMIT ?').raw(),
    lastBefore: db.prepare<[number], string>('SELECT id FROM products WHERE rowid < ? ORDER BY rowid DESC LIMIT 1').pluck(),
    setting: db.prepare<[string], string>('SELECT value FROM settings WHERE key = ?').pluck(),
  };
}

type ReadStatements = ReturnType<typeof prepareReads>;

export class SqliteProductStore implements ProductStore {
  readonly backend = 'sqlite' as const;
  readonly #options: ReturnType<typeof validate>;
  readonly #onWriterError: ((err: Error) => void) | undefined;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #writer: WriterThread | undefined;
  #commits = 0;
  #writerThread: WriterThreadInfo = { tid: null, nice: null };
  #reader: Database.Database | undefined;
  #statements: ReadStatements | undefined;
  #lock: { namespace: string; token: string; heartbeat: NodeJS.Timeout } | undefined;
  #closed = false;
  /** Set when close() starts: later calls reject instead of reaching a thread that is shutting down. */
  #closing = false;
  /** While the writer thread is being replaced after an import: calls wait for it. */
  #recycling: Promise<void> | undefined;

  private constructor(options: SqliteProductStoreOptions) {
    this.#options = validate(options);
    this.#onWriterError = options.onWriterError;
  }

  /** Starts the writer thread (which opens the file and creates the schema), then opens the read connection. */
  static async open(options: SqliteProductStoreOptions): Promise<SqliteProductStore> {
    const store = new SqliteProductStore(options);
    await store.#ensureWriter().ready;
    try {
      const reader = new Database(store.#options.path, { readonly: true, fileMustExist: true });
      reader.pragma(`busy_timeout = ${store.#options.busyTimeoutMs}`);
      reader.pragma(`cache_size = -${store.#options.cacheSizeKiB}`);
      store.#reader = reader;
      store.#statements = prepareReads(reader);
    } catch (err) {
      await store.close();
      throw new DatabaseUnavailableError(`cannot open ${store.#options.path} for reading: ${(err as Error).message}`);
    }
    return store;
  }

  /** Transactions the writer thread committed since open (group commit makes this far below the write count). */
  get commits(): number {
    return this.#commits;
  }

  /** The current writer thread's Linux thread id and niceness, as it reported them (null: unknown). */
  get writerThread(): WriterThreadInfo {
    return this.#writerThread;
  }


  #reads(): ReadStatements {
    if (this.#closed || this.#statements === undefined) throw new Error('the SQLite product store is closed');
    return this.#statements;
  }

  #spawnWriter(): Worker {
    const file = workerFile('sqlite-writer');
    const workerData: SqliteWriterData = {
      path: this.#options.path,
      synchronous: this.#options.synchronous,
      cacheSizeKiB: this.#options.cacheSizeKiB,
      nice: this.#options.writerNice,
      busyTimeoutMs: this.#options.busyTimeoutMs,
    };
    if (!runningFromSources) return new Worker(file.filename, { workerData });
    // Under the sources: a plain Worker resolves a .ts entry with the ESM loader,
    // which does not see tsx's hooks in a worker on Node 20 (the filter worker's
    // note says the same of piscina's import()); tsx's require hook does work,
    // so the thread starts from a one-line CommonJS bootstrap.
    const tsxCjs = createRequire(import.meta.url).resolve('tsx/cjs/api');
    const bootstrap = `require(${JSON.stringify(tsxCjs)}).register(); require(${JSON.stringify(file.filename)});`;
    return new Worker(bootstrap, { eval: true, workerData });
  }

  #ensureWriter(): WriterThread {
    if (this.#writer !== undefined) return this.#writer;
    const worker = this.#spawnWriter();
    let settle: { resolve(): void; reject(err: Error): void } | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // Nobody may await ready (a call that failed fast); keep it from being an unhandled rejection.
    ready.catch(() => undefined);
    let failure: Error | undefined;
    worker.on('message', (message: WriterMessage) => {
      if (message.type === 'ready') {
        this.#writerThread = { tid: message.tid, nice: message.nice };
        settle?.resolve();
      } else if (message.type === 'openFailed') {
        failure = new DatabaseUnavailableError(`cannot open ${this.#options.path}: ${message.detail}`);
        settle?.reject(failure);
      } else this.#settle(message.results, message.commits);
    });
    worker.on('error', (err: Error) => {
      failure ??= err;
    });
    worker.on('exit', (code: number) => {
      if (this.#writer?.worker === worker) this.#writer = undefined;
      const err = failure ?? new Error(`the SQLite writer thread exited with code ${code}`);
      settle?.reject(err instanceof DatabaseUnavailableError ? err : new DatabaseUnavailableError(err.message));
      if (this.#pending.size > 0) {
        // Never hang: everything still in flight fails (it may or may not have committed).
        const lost = new DatabaseUnavailableError(`the SQLite writer thread stopped: ${err.message}`);
        for (const [seq, pending] of this.#pending) {
          this.#pending.delete(seq);
          if (pending.timer !== undefined) clearTimeout(pending.timer);
          pending.reject(lost);
        }
      }
      if (code !== 0 || failure !== undefined) this.#onWriterError?.(err);
    });
    this.#writer = { worker, ready };
    return this.#writer;
  }

  #settle(results: readonly WriterResult[], commits: number): void {
    this.#commits = commits > this.#commits ? commits : this.#commits;
    for (const result of results) {
      const pending = this.#pending.get(result.seq);
      if (pending === undefined) continue; // timed out already
      this.#pending.delete(result.seq);
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      if (result.ok) pending.resolve(result.value);
      else if (result.code === 'locked') pending.reject(new InstanceLockedError(result.detail));
      else if (result.code === 'unavailable') pending.reject(new DatabaseUnavailableError(result.detail));
      else pending.reject(new Error(`SQLite write failed: ${result.detail}`));
    }
  }

  /** Sends one request to the writer thread; resolves with its result after its transaction committed. */
  async #call<T>(request: WriterRequest, options: { timeout?: boolean; transfer?: ArrayBuffer[]; closing?: boolean } = {}): Promise<T> {
    if (this.#closed || (this.#closing && options.closing !== true)) throw new Error('the SQLite product store is closed');
    if (options.closing !== true) await this.#recycling;
    const writer = this.#ensureWriter();
    await writer.ready;
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { resolve: resolve as (value: unknown) => void, reject, timer: undefined };
      if (options.timeout !== false) {
        pending.timer = setTimeout(() => {
          this.#pending.delete(request.seq);
          reject(new DatabaseUnavailableError(`the SQLite writer did not answer within ${this.#options.writeTimeoutMs} ms`));
        }, this.#options.writeTimeoutMs);
      }
      this.#pending.set(request.seq, pending);
      writer.worker.postMessage(request, options.transfer ?? []);
    });
  }

  #next(): number {
    return ++this.#seq;
  }

  async get(id: string): Promise<StoredProduct | undefined> {
    if (this.#options.reads === 'writer') {
      const row = await this.#call<StoredProduct | null>({ seq: this.#next(), op: 'get', id });
      return row ?? undefined;
    }
    const row = this.#reads().get.get(id);
    return row === undefined ? undefined : { id: row.id, name: row.name, price: row.price, createdAt: row.created_at };
  }

  insert(product: Product): Promise<CreatedRow | null> {
    return this.#call({ seq: this.#next(), op: 'insert', product: toProduct(product) });
  }

  insertMany(products: readonly Product[]): Promise<BatchInsertResult> {
    const fields = products.map(toProduct);
    return this.#call({ seq: this.#next(), op: 'insertMany', products: fields });
  }

  delete(id: string): Promise<boolean> {
    return this.#call({ seq: this.#next(), op: 'delete', id });
  }

  update(product: Product): Promise<boolean> {
    return this.#call({ seq: this.#next(), op: 'update', product: toProduct(product) });
  }

  async count(): Promise<number> {
    return this.#reads().count.get() ?? 0;
  }

  async *scanIds(pageSize: number): AsyncIterable<readonly string[]> {
    checkPageSize(pageSize);
    yield* this.idsFrom(0, pageSize);
  }

  /**
   * Keyset pages (`rowid >= next LIMIT n`), one query per page, never a cursor
   * left open across an await: better-sqlite3 refuses other statements on a
   * connection while one iterates.
   */
  async *idsFrom(from: Position, pageSize: number): AsyncIterable<readonly string[]> {
    checkPosition(from, 'from');
    checkPageSize(pageSize);
    let next = from;
    for (;;) {
      const rows = this.#reads().pageFrom.all(next, pageSize);
      const last = rows[rows.length - 1];
      if (last === undefined) return;
      next = last[0] + 1;
      yield rows.map((row) => row[1]);
      if (rows.length < pageSize) return;
    }
  }

  /**
   * One past the largest rowid ever handed out (sqlite_sequence, which
   * AUTOINCREMENT keeps even when that row was deleted). Every rowid at or
   * below it belongs to a committed transaction (a rolled-back one rolls its
   * sequence back too), and the writer gives every later row a larger one, so
   * all rows below the horizon are committed and visible and all later ones
   * land at or above it. max(rowid) + 1 would also be safe (never above this)
   * but lags after the last row is deleted; it is the fallback for a table
   * that has no sequence row yet.
   */
  async horizon(): Promise<Position> {
    const reads = this.#reads();
    const seq = reads.sequence.get() ?? reads.maxRowid.get() ?? 0;
    return seq + 1;
  }

  /** One writer, positions handed out at commit: the next one is the horizon. */
  async nextPosition(): Promise<Position> {
    return this.horizon();
  }

  async lastIdBefore(position: Position): Promise<string | undefined> {
    checkPosition(position, 'position');
    return this.#reads().lastBefore.get(position);
  }

  async importIds(ids: readonly string[]): Promise<{ readonly imported: number } | null> {
    // One packed buffer, moved to the writer: no structured clone of a million strings.
    const packed = packIds(ids);
    const result = await this.#call<{ imported: number } | null>(
      { seq: this.#next(), op: 'import', packed },
      { timeout: false, transfer: [packed.buffer as ArrayBuffer] },
    );
    if (result !== null) await this.#recycleWriter();
    return result;
  }

  /**
   * Replaces the writer thread after an import: the import decoded and sorted
   * every id on that thread's heap, which V8 keeps long after (about +90 MB of
   * RSS for 1M ids, measured); ending the thread returns it at once. Writes sent
   * before this are answered by the old thread first (messages arrive in order);
   * writes sent meanwhile wait for the new one.
   */
  async #recycleWriter(): Promise<void> {
    const writer = this.#writer;
    if (writer === undefined || this.#recycling !== undefined) return;
    this.#recycling = this.#stopWriter(writer);
    try {
      await this.#recycling;
    } finally {
      this.#recycling = undefined;
    }
  }

  async databaseId(): Promise<string> {
    return (await this.setting('database_id')) ?? this.initSetting('database_id', randomUUID());
  }

  async setting(key: string): Promise<string | undefined> {
    return this.#reads().setting.get(key) ?? undefined;
  }

  initSetting(key: string, value: string): Promise<string> {
    return this.#call({ seq: this.#next(), op: 'initSetting', key, value });
  }

  async putSetting(key: string, value: string): Promise<void> {
    await this.#call({ seq: this.#next(), op: 'putSetting', key, value });
  }

  /**
   * SQLite has no lock that knows its holder's pid, so the claim is a row in
   * instance_locks written in a write transaction (serialised across
   * processes by SQLite's write lock). See the writer's lock() for when a row
   * held by someone else is taken over. A heartbeat refreshes our row, for
   * holders on other hosts (which cannot check our pid).
   */
  async lockInstance(namespace: string): Promise<void> {
    if (this.#lock !== undefined) {
      if (this.#lock.namespace === namespace) return;
      throw new Error(`this store already holds namespace ${JSON.stringify(this.#lock.namespace)}`);
    }
    const token = randomUUID();
    const claim = () => ({
      seq: this.#next(),
      op: 'lock' as const,
      claim: {
        namespace,
        token,
        pid: process.pid,
        host: hostname(),
        now: Date.now(),
        staleAfterMs: kLockStaleAfterMs,
        tokensHeldHere: [...tokensHeldHere],
      },
    });
    await this.#call(claim());
    tokensHeldHere.add(token);
    const heartbeat = setInterval(() => {
      this.#call(claim()).catch(() => undefined); // a missed beat only matters after kLockStaleAfterMs
    }, kLockHeartbeatMs);
    heartbeat.unref();
    this.#lock = { namespace, token, heartbeat };
  }

  [kCrashWriter](): void {
    this.#writer?.worker.postMessage({ seq: this.#next(), op: 'crash' } satisfies WriterRequest);
  }

  [kStallWriter](ms: number): void {
    this.#writer?.worker.postMessage({ seq: this.#next(), op: 'stall', ms } satisfies WriterRequest);
  }

  /**
   * Ends the writer thread once everything sent before is applied and answered
   * (messages arrive in order), and resolves when it exited.
   */
  async #stopWriter(writer: WriterThread): Promise<void> {
    const exited = new Promise<void>((resolve) => writer.worker.once('exit', () => resolve()));
    // No answer within writeTimeoutMs (a stuck thread): end it, or `exited` never comes.
    await this.#call({ seq: this.#next(), op: 'close' }, { closing: true }).catch(() => writer.worker.terminate());
    await exited;
  }

  /** Drains pending writes, releases the instance lock, stops the writer thread, closes the read connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    await this.#recycling;
    const lock = this.#lock;
    this.#lock = undefined;
    if (lock !== undefined) {
      clearInterval(lock.heartbeat);
      tokensHeldHere.delete(lock.token);
      await this.#call({ seq: this.#next(), op: 'unlock', namespace: lock.namespace, token: lock.token }, { closing: true }).catch(
        () => undefined,
      );
    }
    // The read connection closes first, so the writer's is the last one and its
    // close checkpoints the WAL into the file (a read-only last connection cannot).
    this.#statements = undefined;
    if (this.#reader?.open === true) this.#reader.close();
    if (this.#writer !== undefined) await this.#stopWriter(this.#writer);
    this.#closed = true;
  }
}
