/**
 * The SQLite writer thread of SqliteProductStore (src/store/sqlite-product-store.ts):
 * every write commits here, on this thread's own connection, so an fsync never
 * holds the main thread's event loop.
 *
 * Group commit. Requests arrive as messages; the first one schedules a flush
 * with setImmediate, and every message that arrives before it runs (those
 * delivered in the same turn, i.e. everything posted while the previous
 * commit was in flight) joins the same transaction: one BEGIN IMMEDIATE, one
 * COMMIT, one fsync for all. Results go back in one message, only after COMMIT
 * returned, so a caller's promise resolves only once its row is durable.
 *
 * One request's failure never fails the others: single statements roll back
 * alone on error (SQLite's statement journal), and multi-statement requests
 * (insertMany, import, lock) run in a SAVEPOINT of their own. Only a failure
 * of the transaction itself (COMMIT, or an I/O error that rolled it back)
 * fails the whole group, and then every request in it gets that error.
 *
 * Positions. This is the only thread that writes the file (the instance lock
 * keeps other processes off it) and transactions run one after another, so a
 * row's AUTOINCREMENT rowid is assigned in commit order: a transaction's rows
 * all get rowids above every row of every earlier transaction. That makes the
 * rowid a commit-ordered position (see src/store/product-store.ts).
 *
 * Loaded as CommonJS through tsx under the sources (see the store's
 * #spawnWriter), as ESM when compiled: so no top-level await.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { forEachPackedId } from '../src/filter/id-batch.js';
import { INSERT_COUNT_TRIGGER, SCHEMA, SCHEMA_VERSION } from '../src/store/sqlite-schema.js';
import type {
  LockClaim,
  ProductFields,
  SqliteWriterData,
  WriterErrorCode,
  WriterMessage,
  WriterRequest,
  WriterResult,
  WriterThreadInfo,
} from '../src/store/sqlite-writer-protocol.js';

const port = parentPort;
if (port === null) throw new Error('sqlite-writer must run as a worker thread');
const data = workerData as SqliteWriterData;

/** SQLite result codes that mean the file cannot be written or opened, not that one request is wrong. */
const kUnavailableCodes = /^SQLITE_(FULL|IOERR|CANTOPEN|READONLY|BUSY|LOCKED|NOTADB|CORRUPT|PERM|AUTH)/;

function errorCode(err: unknown): WriterErrorCode {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && kUnavailableCodes.test(code) ? 'unavailable' : 'failed';
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

class LockedError extends Error {}

function openDatabase(): Database.Database {
  mkdirSync(dirname(data.path), { recursive: true });
  const db = new Database(data.path);
  try {
    db.pragma('journal_mode = WAL');
    // FULL fsyncs the WAL on every commit: a resolved write is durable even on power loss.
    db.pragma(`synchronous = ${data.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    db.pragma(`busy_timeout = ${data.busyTimeoutMs}`);
    db.pragma(`cache_size = -${data.cacheSizeKiB}`);
    db.pragma('journal_size_limit = 67108864');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version !== 0 && version !== SCHEMA_VERSION) {
      throw new Error(`${data.path} has schema version ${version}; this build knows version ${SCHEMA_VERSION}`);
    }
    db.transaction(() => db.exec(SCHEMA))();
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function post(message: WriterMessage): void {
  port!.postMessage(message);
}

let db: Database.Database;
try {
  db = openDatabase();
} catch (err) {
  post({ type: 'openFailed', code: errorCode(err) === 'failed' ? 'failed' : 'unavailable', detail: describe(err) });
  port.close();
  throw err;
}

const insertStmt = db.prepare<[string, string, number, number]>(
  'INSERT INTO products (id, name, price, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
);
const deleteStmt = db.prepare<[string]>('DELETE FROM products WHERE id = ?');
const updateStmt = db.prepare<[string, number, string]>('UPDATE products SET name = ?, price = ? WHERE id = ?');
const getStmt = db.prepare<[string], { rowid: number; id: string; name: string; price: number; created_at: number }>(
  'SELECT rowid, id, name, price, created_at FROM products WHERE id = ?',
);
const initSettingStmt = db.prepare<[string, string]>('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING');
const settingStmt = db.prepare<[string], string>('SELECT value FROM settings WHERE key = ?').pluck();
const putSettingStmt = db.prepare<[string, string]>(
  'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
);
const countStmt = db.prepare<[], number>('SELECT product_count FROM products_meta WHERE k = 0').pluck();
const lockRowStmt = db.prepare<[string], { token: string; pid: number; host: string; started_at: number; heartbeat_at: number }>(
  'SELECT token, pid, host, started_at, heartbeat_at FROM instance_locks WHERE namespace = ?',
);
const claimStmt = db.prepare<[string, string, number, string, number, number]>(
  `INSERT INTO instance_locks (namespace, token, pid, host, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)
   ON CONFLICT (namespace) DO UPDATE SET token = excluded.token, pid = excluded.pid, host = excluded.host,
     started_at = CASE WHEN instance_locks.token = excluded.token THEN instance_locks.started_at ELSE excluded.started_at END,
     heartbeat_at = excluded.heartbeat_at`,
);
const unlockStmt = db.prepare<[string, string]>('DELETE FROM instance_locks WHERE namespace = ? AND token = ?');

let commits = 0;
let queue: WriterRequest[] = [];
let scheduled = false;
let closing = false;

/** Runs fn inside a savepoint: all of it or none of it, without touching the rest of the group. */
function inSavepoint<T>(fn: () => T): T {
  db.exec('SAVEPOINT request');
  try {
    const value = fn();
    db.exec('RELEASE request');
    return value;
  } catch (err) {
    // After an I/O error SQLite may have rolled back the whole transaction; then the group fails.
    if (db.inTransaction) {
      db.exec('ROLLBACK TO request');
      db.exec('RELEASE request');
    }
    throw err;
  }
}

function insertOne(p: ProductFields, now: number): { id: string; position: number } | null {
  const info = insertStmt.run(p.id, p.name, p.price, now);
  return info.changes === 1 ? { id: p.id, position: Number(info.lastInsertRowid) } : null;
}

/** When the process `pid` started, in ms since the epoch, from /proc (Linux); undefined when unknown. */
function startedAtMs(pid: number): number | undefined {
  try {
    const bootS = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    // USER_HZ is 100 on every Linux build Node supports.
    const ms = bootS * 1000 + startTicks * 10;
    return Number.isFinite(ms) ? ms : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the holder of a row written on this host still runs: its pid exists
 * and that process started before the row was claimed (else the pid was
 * reused by an unrelated process after the holder died).
 */
function holderRuns(pid: number, claimedAt: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const started = startedAtMs(pid);
  // One second of slack for the /proc clock's tick rounding and clock steps.
  return started === undefined || started <= claimedAt + 1000;
}

/**
 * Claims the namespace, or refreshes our own claim (the heartbeat). A row held
 * by another token is taken over only when its holder is provably gone: on
 * this host its pid is dead or now belongs to a process that started later
 * (a kill -9 never blocks the restart, and neither does a container restart
 * that gives us the holder's pid again); on another host (no pid to check)
 * its heartbeat stopped for staleAfterMs.
 */
function lock(claim: LockClaim): true {
  const row = lockRowStmt.get(claim.namespace);
  if (row !== undefined && row.token !== claim.token) {
    let holderAlive: boolean;
    if (row.host !== claim.host) holderAlive = claim.now - row.heartbeat_at < claim.staleAfterMs;
    else if (row.pid === claim.pid) holderAlive = claim.tokensHeldHere.includes(row.token);
    else holderAlive = holderRuns(row.pid, row.started_at);
    if (holderAlive) {
      throw new LockedError(`pid ${row.pid} on ${row.host} holds namespace ${JSON.stringify(claim.namespace)}`);
    }
  }
  claimStmt.run(claim.namespace, claim.token, claim.pid, claim.host, claim.now, claim.now);
  return true;
}

const kImportRowsPerStatement = 100;

/** `INSERT ... VALUES (?, ?, 0, <now>), ...` for `rows` rows of (id, name); created_at is the import's one time. */
function importStatement(rows: number, now: number): Database.Statement<string[]> {
  const values = new Array<string>(rows).fill(`(?, ?, 0, ${Math.trunc(now)})`);
  return db.prepare(`INSERT INTO products (id, name, price, created_at) VALUES ${values.join(', ')} ON CONFLICT (id) DO NOTHING`);
}

/**
 * The first-start import, only into an empty table (checked here, inside the
 * write transaction, so two starting processes import once).
 *
 * The per-row count trigger is dropped for the import and re-created, and the
 * count set once, inside the same savepoint: the transaction is atomic, so no
 * committed state (and no reader, which sees only committed states) ever lacks
 * the trigger, and nothing else writes meanwhile (this thread holds the write lock).
 */
function importIds(packed: Uint8Array): { imported: number } | null {
  if ((countStmt.get() ?? 0) > 0) return null;
  const now = Date.now();
  let imported = 0;
  inSavepoint(() => {
    db.exec('DROP TRIGGER IF EXISTS products_count_insert');
    const text = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
    const ids: string[] = [];
    forEachPackedId(packed, (_bytes, offset, length) => {
      ids.push(text.toString('utf8', offset, offset + length));
    });
    // In id order the UNIQUE index grows at its right edge instead of at random pages: 1M
    // shuffled ids import in about 2.2 s (sort included) instead of 5-7 s, and at the same
    // speed with a 2 MiB page cache as with 64 (measured, load/write-stall-bench.ts). The rows get their rowids in id order
    // rather than file order, which is harmless: the whole import commits at once.
    ids.sort(); // already sorted input (a file in id order) costs one pass: TimSort finds the run
    // kImportRowsPerStatement rows per statement: one native call per 100 rows instead of one per
    // row (1M ids: about 1.4 s of inserts instead of 6 s, measured).
    const many = importStatement(kImportRowsPerStatement, now);
    const args: string[] = new Array<string>(2 * kImportRowsPerStatement);
    let filled = 0;
    for (const id of ids) {
      args[2 * filled] = id;
      args[2 * filled + 1] = `Product ${id}`;
      if (++filled === kImportRowsPerStatement) {
        imported += many.run(...args).changes;
        filled = 0;
      }
    }
    if (filled > 0) imported += importStatement(filled, now).run(...args.slice(0, 2 * filled)).changes;
    db.exec(INSERT_COUNT_TRIGGER);
    db.prepare('UPDATE products_meta SET product_count = product_count + ? WHERE k = 0').run(imported);
  });
  return { imported };
}

function apply(request: WriterRequest, now: number): unknown {
  switch (request.op) {
    case 'insert':
      return insertOne(request.product, now);
    case 'insertMany':
      return inSavepoint(() => {
        const created: { id: string; position: number }[] = [];
        const conflicts: string[] = [];
        for (const p of request.products) {
          const row = insertOne(p, now);
          if (row === null) conflicts.push(p.id);
          else created.push(row);
        }
        return { created, conflicts };
      });
    case 'delete':
      return deleteStmt.run(request.id).changes === 1;
    case 'update':
      return updateStmt.run(request.product.name, request.product.price, request.product.id).changes === 1;
    case 'initSetting':
      initSettingStmt.run(request.key, request.value);
      return settingStmt.get(request.key) ?? request.value;
    case 'putSetting':
      putSettingStmt.run(request.key, request.value);
      return null;
    case 'import':
      return importIds(request.packed);
    case 'lock':
      return inSavepoint(() => lock(request.claim));
    case 'unlock':
      return unlockStmt.run(request.namespace, request.token).changes === 1;
    default:
      throw new Error(`the writer cannot apply ${request.op} in a transaction`);
  }
}

function failure(seq: number, err: unknown): WriterResult {
  if (err instanceof LockedError) return { seq, ok: false, code: 'locked', detail: err.message };
  return { seq, ok: false, code: errorCode(err), detail: describe(err) };
}

/** One transaction for every queued write; reads (the hop measurement) answered outside it. */
function flush(): void {
  scheduled = false;
  const batch = queue;
  queue = [];
  const results: WriterResult[] = [];
  const writes: WriterRequest[] = [];
  let close = false;
  for (const request of batch) {
    if (request.op === 'get') {
      const row = getStmt.get(request.id);
      const value = row === undefined ? null : { id: row.id, name: row.name, price: row.price, createdAt: row.created_at };
      results.push({ seq: request.seq, ok: true, value });
    } else if (request.op === 'close') {
      close = true;
    } else {
      writes.push(request);
    }
  }
  if (writes.length > 0) {
    const now = Date.now();
    const groupResults: WriterResult[] = [];
    try {
      db.exec('BEGIN IMMEDIATE');
      for (const request of writes) {
        try {
          groupResults.push({ seq: request.seq, ok: true, value: apply(request, now) });
        } catch (err) {
          if (!db.inTransaction) throw err; // the transaction is gone: the whole group fails
          groupResults.push(failure(request.seq, err));
        }
      }
      db.exec('COMMIT');
      commits++;
      results.push(...groupResults);
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      const code = errorCode(err) === 'failed' ? 'failed' : 'unavailable';
      for (const request of writes) results.push({ seq: request.seq, ok: false, code, detail: describe(err) });
    }
  }
  // The close request comes last in its batch (the main thread sends nothing after it).
  const closeRequest = batch.find((r) => r.op === 'close');
  if (closeRequest !== undefined) results.push({ seq: closeRequest.seq, ok: true, value: null });
  if (results.length > 0) post({ type: 'results', results, commits });
  if (close) {
    closing = true;
    db.close();
    port!.close();
  }
}

port.on('message', (request: WriterRequest) => {
  if (closing) return;
  if (request.op === 'crash') process.exit(70);
  if (request.op === 'stall') {
    const until = Date.now() + request.ms;
    while (Date.now() < until); // stuck: answers nothing, reads nothing, until terminated
    return;
  }
  queue.push(request);
  if (!scheduled) {
    scheduled = true;
    // setImmediate runs after this turn's message deliveries: every request
    // that queued up during the last commit joins this group.
    setImmediate(flush);
  }
});

/**
 * This thread's Linux thread id, from /proc/thread-self (`<pid>/task/<tid>`);
 * null elsewhere, or when that /proc belongs to another pid namespace (its
 * pid is not ours, so its tid would name some other task).
 * setpriority(2) with a thread id sets that thread alone.
 */
function threadId(): number | null {
  try {
    const [pid, , tid] = readlinkSync('/proc/thread-self').split('/').map(Number);
    return pid === process.pid && Number.isSafeInteger(tid) && tid! > 0 ? tid! : null;
  } catch {
    return null;
  }
}

/**
 * Under CPU contention the event loop that answers the flood goes first: a
 * nicer writer thread yields the core to it, so commits slow down instead of
 * the guard (measured in load/RESULTS.md). `by` is relative to the niceness
 * the thread was born with (the process's): raising it needs no privilege,
 * even when the whole service already runs niced. No contention, no effect.
 */
function lowerPriority(by: number): WriterThreadInfo {
  const tid = threadId();
  if (tid === null) return { tid, nice: null };
  try {
    if (by !== 0) setPriority(tid, Math.min(19, getPriority(tid) + by));
    return { tid, nice: getPriority(tid) };
  } catch {
    return { tid, nice: null };
  }
}

post({ type: 'ready', ...lowerPriority(data.nice) });
