/**
 * The ProductStore on PostgreSQL (selected by a `postgres://` or
 * `postgresql://` DATABASE_URL; TLS and password as the URL says, e.g.
 * `?sslmode=require`). Schema and migrations: src/store/postgres/migrations.ts.
 *
 * Driver: `pg` with `pg-copy-streams`, chosen by measurement against `postgres`
 * (porsager): `npx tsx load/store-bench.ts` (2 shared cores, PG 15, Node 20,
 * pool 16, 16 concurrent callers, 20k inserts, 100k gets, COPY of 1M ids;
 * two runs, each alternating pg, postgres, postgres, pg):
 *                         pg                postgres
 *   inserts/s (p99 ms)    10.5k-10.9k (5)   7.1k-9.7k (7-12)     quiet machine
 *   gets/s                25k-30k           15k-21k
 *   COPY 1M ids           2.8-3.9 s         3.1-3.4 s
 *   inserts/s (p99 ms)    3.2k-3.5k (18-22) 3.1k-3.4k (20-32)    load average 15
 *   gets/s                6.6k-7.3k         5.9k-6.2k
 *   COPY 1M ids           5.7-9.2 s         4.8-9.4 s
 * pg was as fast or faster on every figure but COPY (a tie within the noise),
 * and it gives the store what it needs beyond speed: a client-side connect
 * timeout (`connectionTimeoutMillis`), per-connection control (a dedicated
 * client for the session advisory lock; destroying a connection whose query
 * outlived its deadline), named prepared statements, a COPY stream with
 * backpressure, and an 'error' event per pooled client.
 *
 * Positions (why this replay cannot miss a row). A row's position is the id of
 * the transaction that inserted it (`xid`, default `pg_current_xact_id()`), not
 * its `seq`: a sequence value is handed out at insert, and transactions commit
 * in any order, so a row with seq 5 can commit after a row with seq 6 was seen,
 * and a watermark "every seq <= 6 is in the filter" would skip it on replay
 * forever. `horizon()` is `pg_snapshot_xmin(pg_current_snapshot())`: the oldest
 * transaction still in progress. Every transaction below it has ended (committed
 * rows visible, aborted ones gone), and every transaction in progress or not yet
 * begun has an xid >= it, so a row that commits later has position >= horizon
 * and `idsFrom(horizon)` finds it. xid8 is 64-bit and never wraps; values stay
 * far below 2^53 (a billion transactions a day for 24,000 years), so they are
 * exact JS numbers. test/store/postgres-product-store.test.ts forces the
 * out-of-order commit and checks both halves of this.
 *
 * Failures. Every call has one deadline (`timeoutMs`, covering the wait for a
 * pooled connection, connecting, and the queries): past it the call rejects
 * with DatabaseUnavailableError and the connection it used is destroyed (its
 * state is unknown). The server also stops statements at `statement_timeout`.
 * The pool makes new connections on demand, so calls succeed again as soon as
 * the database answers, with no restart.
 *
 * @example
 *   const store = await PostgresProductStore.open({ url: 'postgres://bloomgate@db/shop', poolSize: 10, timeoutMs: 2000 });
 *   await store.lockInstance('default');                 // InstanceLockedError if another process serves it
 *   const row = await store.insert({ id: 'SKU-1', name: 'Lamp', price: 9.5 }); // { id, position } or null
 *   for await (const ids of store.idsFrom(watermark, 10_000)) for (const id of ids) filter.add(id);
 *   await store.close();
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { DatabaseUnavailableError, InstanceLockedError } from '../errors.js';
import { isPostgresUrl } from './database-url.js';
import { InsertGroups } from './insert-groups.js';
import type { BatchInsertResult, CreatedRow, Position, Product, ProductStore, StoredProduct } from './product-store.js';
import { IMPORT_LOCK, INSTANCE_LOCK_CLASS, LOCK_CLASS, migrate } from './postgres/migrations.js';

export interface PostgresProductStoreOptions {
  /** `postgres://user:password@host:port/database?sslmode=...` (or `postgresql://`). */
  readonly url: string;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
  /** Upper bound on any call, connecting included, in ms (default 2000). */
  readonly timeoutMs?: number;
  /** Upper bound on importIds, which copies every row in one transaction (default 300000). */
  readonly importTimeoutMs?: number;
  /**
   * Called once if the connection holding an instance lock dies (the server
   * restarted, the network cut it): the lock is gone with it, and another
   * process may now take it. The caller decides (stop serving, or exit).
   */
  readonly onInstanceLockLost?: (err: Error) => void;
  /** How often the instance lock's connection is checked with `SELECT 1` (default 5000 ms). */
  readonly lockHeartbeatMs?: number;
}

const DEFAULT_POOL_SIZE = 10;
const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_IMPORT_TIMEOUT_MS = 300_000;
const DEFAULT_LOCK_HEARTBEAT_MS = 5000;
// The server ends a session whose client went silent (a dead network path)
// after about 10 + 3 * 5 s instead of the system's default two hours, so an
// instance lock held by a vanished host is freed within about half a minute.
const SERVER_KEEPALIVE_OPTIONS = '-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3';
/** count() compacts the delta rows (see migrations.ts) once there are this many. */
const COMPACT_COUNT_DELTAS_AT = 1000;
const COPY_CHUNK_ROWS = 10_000;

// Named statements: pg prepares each once per connection, then sends only Bind/Execute.
const SQL = {
  get: {
    name: 'bg_get',
    text: 'SELECT id, name, price, floor(extract(epoch FROM created_at) * 1000)::float8 AS created_at FROM products WHERE id = $1',
  },
  // ORDER BY ord: seq follows the batch order, so `created` is in seq order too.
  insertMany: {
    name: 'bg_insert_many',
    text: `INSERT INTO products (id, name, price)
           SELECT id, name, price FROM unnest($1::text[], $2::text[], $3::float8[]) WITH ORDINALITY AS b(id, name, price, ord) ORDER BY ord
           ON CONFLICT (id) DO NOTHING RETURNING id, xid::text AS xid`,
  },
  delete: { name: 'bg_delete', text: 'DELETE FROM products WHERE id = $1' },
  update: { name: 'bg_update', text: 'UPDATE products SET name = $2, price = $3 WHERE id = $1' },
  count: { name: 'bg_count', text: 'SELECT coalesce(sum(delta), 0)::float8 AS items, count(*)::int AS rows FROM product_count_deltas' },
  compactCount: {
    name: 'bg_compact_count',
    text: `WITH d AS (DELETE FROM product_count_deltas RETURNING delta)
           INSERT INTO product_count_deltas (delta) SELECT sum(delta) FROM d HAVING count(*) > 0`,
  },
  scanFirst: { name: 'bg_scan_first', text: 'SELECT id FROM products ORDER BY id LIMIT $1' },
  scanNext: { name: 'bg_scan_next', text: 'SELECT id FROM products WHERE id > $1 ORDER BY id LIMIT $2' },
  // Output names differ from the columns on purpose: `xid::text AS xid` would
  // make ORDER BY xid sort the text ('10' < '9'), not the xid8, and skip rows.
  fromFirst: {
    name: 'bg_from_first',
    text: 'SELECT p.id, p.xid::text AS last_xid, p.seq::text AS last_seq FROM products p WHERE p.xid >= $1::xid8 ORDER BY p.xid, p.seq LIMIT $2',
  },
  fromNext: {
    name: 'bg_from_next',
    text: 'SELECT p.id, p.xid::text AS last_xid, p.seq::text AS last_seq FROM products p WHERE (p.xid, p.seq) > ($1::xid8, $2::bigint) ORDER BY p.xid, p.seq LIMIT $3',
  },
  horizon: { name: 'bg_horizon', text: 'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xid' },
  nextPosition: { name: 'bg_next_position', text: 'SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xid' },
  lastIdBefore: { name: 'bg_last_id_before', text: 'SELECT id FROM products WHERE xid < $1::xid8 ORDER BY xid DESC, seq DESC LIMIT 1' },
  setting: { name: 'bg_setting', text: 'SELECT value FROM settings WHERE key = $1' },
  initSetting: { name: 'bg_init_setting', text: 'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING' },
  putSetting: {
    name: 'bg_put_setting',
    text: 'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  },
} as const;

/** Network and server conditions that mean "the database is not there", not "this query is wrong". */
const UNAVAILABLE_SQLSTATES = new Set([
  '57014', // query_canceled: statement_timeout
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovering)
  '53300', // too_many_connections
  '28000', // invalid_authorization_specification
  '28P01', // invalid_password (the message names the user, never the password)
  '3D000', // invalid_catalog_name: the database does not exist (yet)
]);
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// pg reports a dead or silent connection with these messages and no code.
const UNAVAILABLE_MESSAGE = /connection terminated|timeout expired|timeout exceeded when trying to connect|connection error|not queryable|query read timeout|cannot use a pool after calling end/i;

function isUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code))) return true;
  return err instanceof Error && UNAVAILABLE_MESSAGE.test(err.message);
}

/** The error a caller sees: DatabaseUnavailableError for outages, anything else unchanged (a bug). */
function mapError(err: unknown): unknown {
  if (err instanceof DatabaseUnavailableError || !isUnavailable(err)) return err;
  return new DatabaseUnavailableError(err instanceof Error ? err.message : String(err));
}

function toPosition(xid: string): Position {
  const n = Number(xid);
  if (!Number.isSafeInteger(n)) throw new RangeError(`transaction id ${xid} is not a safe integer`);
  return n;
}

function checkPosition(name: string, value: Position): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
}

function checkPageSize(pageSize: number): void {
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
}

/** One field of COPY's text format: backslash, tab, newline and carriage return escaped. */
function copyField(value: string): string {
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c] ?? c) : value;
}

function checkOptions(options: PostgresProductStoreOptions): string[] {
  const problems: string[] = [];
  if (typeof options.url !== 'string' || !isPostgresUrl(options.url)) {
    problems.push('options.url must start with postgres:// or postgresql://');
  }
  const positive = (name: string, v: number | undefined): void => {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) problems.push(`options.${name} must be a positive integer`);
  };
  positive('poolSize', options.poolSize);
  positive('timeoutMs', options.timeoutMs);
  positive('importTimeoutMs', options.importTimeoutMs);
  positive('lockHeartbeatMs', options.lockHeartbeatMs);
  return problems;
}

/** pg's socket, to cut a connection whose query outlived its deadline (end() would wait on a silent peer). */
function destroyConnection(client: pg.Client | pg.PoolClient): void {
  // A PoolClient is a Client at run time; its type just does not say so.
  (client as pg.Client).connection.stream.destroy();
}

export class PostgresProductStore implements ProductStore {
  readonly backend = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #clientConfig: pg.ClientConfig;
  readonly #timeoutMs: number;
  readonly #importTimeoutMs: number;
  readonly #onInstanceLockLost: ((err: Error) => void) | undefined;
  readonly #lockHeartbeatMs: number;
  #lockClient: pg.Client | undefined;
  #lockHeartbeat: NodeJS.Timeout | undefined;
  readonly #lockedNamespaces = new Set<string>();
  #compaction: Promise<void> | undefined;
  /**
   * Single inserts go out in groups, one statement each (see insert-groups.ts):
   * 16 connections creating cost the database and this thread one transaction
   * per group instead of one per create.
   */
  readonly #inserts: InsertGroups;
  #closed = false;

  private constructor(options: PostgresProductStoreOptions) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#inserts = new InsertGroups({
      insertMany: (products, budgetMs) => this.#insertRows(products, budgetMs),
      timeoutMs: this.#timeoutMs,
      // The server said no (a constraint, bad data): the statement rolled back, nothing of it committed.
      // (Outages and timeouts reach here as DatabaseUnavailableError, see mapError.)
      isRefusal: (err) => err instanceof pg.DatabaseError,
    });
    this.#importTimeoutMs = options.importTimeoutMs ?? DEFAULT_IMPORT_TIMEOUT_MS;
    this.#onInstanceLockLost = options.onInstanceLockLost;
    this.#lockHeartbeatMs = options.lockHeartbeatMs ?? DEFAULT_LOCK_HEARTBEAT_MS;
    this.#clientConfig = {
      connectionString: options.url,
      connectionTimeoutMillis: this.#timeoutMs,
      statement_timeout: this.#timeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      options: SERVER_KEEPALIVE_OPTIONS,
      application_name: 'bloomgate',
    };
    this.#pool = new pg.Pool({ ...this.#clientConfig, max: options.poolSize ?? DEFAULT_POOL_SIZE, idleTimeoutMillis: 30_000 });
    // A pooled connection that dies (server restart, network cut) emits 'error';
    // unheard, that would crash the process. The call using it fails on its own.
    this.#pool.on('error', () => undefined);
    this.#pool.on('connect', (client) => client.on('error', () => undefined));
  }

  /**
   * Connects and brings the schema to this build's version (several processes
   * may do this at once). Rejects with DatabaseUnavailableError when the
   * database does not answer within `timeoutMs`; the caller retries.
   */
  static async open(options: PostgresProductStoreOptions): Promise<PostgresProductStore> {
    const problems = checkOptions(options);
    if (problems.length > 0) throw new RangeError(problems.join('; '));
    const store = new PostgresProductStore(options);
    try {
      await store.#withClient('migrate', store.#timeoutMs, (client) => migrate(client));
      return store;
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /**
   * Runs `fn` on a pooled connection within `budgetMs` (acquiring included).
   * Past the deadline the call rejects with DatabaseUnavailableError and the
   * connection is destroyed rather than returned: a query may still be in
   * flight on it. A connection that failed with a network error is destroyed too.
   */
  #withClient<T>(what: string, budgetMs: number, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new DatabaseUnavailableError('the store is closed'));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let client: pg.PoolClient | undefined;
      const timer = setTimeout(() => {
        settled = true;
        reject(new DatabaseUnavailableError(`${what}: no answer within ${budgetMs} ms`));
        if (client !== undefined) destroyConnection(client);
      }, budgetMs);
      const finish = (err: unknown, value?: T): void => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        if (err === undefined) resolve(value as T);
        else reject(mapError(err));
      };
      this.#pool.connect().then(
        async (acquired) => {
          client = acquired;
          if (settled) {
            acquired.release(true);
            return;
          }
          let broken = false;
          try {
            const value = await fn(acquired);
            broken = settled; // the deadline passed: the timer destroyed this connection
            finish(undefined, value);
          } catch (err) {
            broken = settled || isUnavailable(err) || !(err instanceof pg.DatabaseError);
            finish(err);
          } finally {
            acquired.release(broken ? true : undefined);
          }
        },
        (err: unknown) => finish(err),
      );
    });
  }

  async #query<R extends pg.QueryResultRow>(what: string, config: pg.QueryConfig, budgetMs = this.#timeoutMs): Promise<pg.QueryResult<R>> {
    return this.#withClient(what, budgetMs, (client) => client.query<R>(config));
  }

  async get(id: string): Promise<StoredProduct | undefined> {
    const { rows } = await this.#query<{ id: string; name: string; price: number; created_at: number }>('get', { ...SQL.get, values: [id] });
    const row = rows[0];
    return row === undefined ? undefined : { id: row.id, name: row.name, price: row.price, createdAt: row.created_at };
  }

  /** Joins the next group of inserts (one transaction for the group); null when the id exists. */
  insert(product: Product): Promise<CreatedRow | null> {
    return this.#inserts.insert(product);
  }

  /** One statement, so one transaction: all rows commit together or none does. */
  insertMany(products: readonly Product[]): Promise<BatchInsertResult> {
    return this.#insertRows(products, this.#timeoutMs);
  }

  async #insertRows(products: readonly Product[], budgetMs: number): Promise<BatchInsertResult> {
    if (products.length === 0) return { created: [], conflicts: [] };
    const { rows } = await this.#query<{ id: string; xid: string }>(
      'insertMany',
      { ...SQL.insertMany, values: [products.map((p) => p.id), products.map((p) => p.name), products.map((p) => p.price)] },
      budgetMs,
    );
    const inserted = new Map(rows.map((r) => [r.id, toPosition(r.xid)]));
    const created: CreatedRow[] = [];
    const conflicts: string[] = [];
    for (const { id } of products) {
      const position = inserted.get(id);
      if (position === undefined) conflicts.push(id);
      else {
        created.push({ id, position });
        inserted.delete(id); // a later duplicate in the batch is a conflict
      }
    }
    return { created, conflicts };
  }

  async delete(id: string): Promise<boolean> {
    const { rowCount } = await this.#query('delete', { ...SQL.delete, values: [id] });
    return rowCount === 1;
  }

  async update(product: Product): Promise<boolean> {
    const { rowCount } = await this.#query('update', { ...SQL.update, values: [product.id, product.name, product.price] });
    return rowCount === 1;
  }

  async count(): Promise<number> {
    const { rows } = await this.#query<{ items: number; rows: number }>('count', SQL.count);
    const row = rows[0];
    if (row !== undefined && row.rows >= COMPACT_COUNT_DELTAS_AT && this.#compaction === undefined) {
      // Not awaited: the sum is exact either way; compaction keeps the next one cheap.
      this.#compaction = this.#query('compactCount', SQL.compactCount).then(
        () => undefined,
        () => undefined,
      ).finally(() => {
        this.#compaction = undefined;
      });
    }
    return row?.items ?? 0;
  }

  async *scanIds(pageSize: number): AsyncIterable<readonly string[]> {
    checkPageSize(pageSize);
    let last: string | undefined;
    for (;;) {
      const config: pg.QueryConfig = last === undefined ? { ...SQL.scanFirst, values: [pageSize] } : { ...SQL.scanNext, values: [last, pageSize] };
      const { rows } = await this.#query<{ id: string }>('scanIds', config);
      const lastRow = rows[rows.length - 1];
      if (lastRow === undefined) return;
      last = lastRow.id;
      yield rows.map((r) => r.id);
      if (rows.length < pageSize) return;
    }
  }

  /** Keyset pages on (xid, seq), the order of the products_xid_seq index. */
  async *idsFrom(from: Position, pageSize: number): AsyncIterable<readonly string[]> {
    checkPosition('from', from);
    checkPageSize(pageSize);
    let last: { last_xid: string; last_seq: string } | undefined;
    for (;;) {
      const config: pg.QueryConfig =
        last === undefined ? { ...SQL.fromFirst, values: [String(from), pageSize] } : { ...SQL.fromNext, values: [last.last_xid, last.last_seq, pageSize] };
      const { rows } = await this.#query<{ id: string; last_xid: string; last_seq: string }>('idsFrom', config);
      const lastRow = rows[rows.length - 1];
      if (lastRow === undefined) return;
      last = lastRow;
      yield rows.map((r) => r.id);
      if (rows.length < pageSize) return;
    }
  }

  /** The oldest transaction still in progress (see the module comment for why this is the safe replay start). */
  async horizon(): Promise<Position> {
    const { rows } = await this.#query<{ xid: string }>('horizon', SQL.horizon);
    return toPosition(rows[0]!.xid);
  }

  /** The next xid the server will assign: every transaction that wrote a row here has a smaller one. */
  async nextPosition(): Promise<Position> {
    const { rows } = await this.#query<{ xid: string }>('nextPosition', SQL.nextPosition);
    return toPosition(rows[0]!.xid);
  }

  async lastIdBefore(position: Position): Promise<string | undefined> {
    checkPosition('position', position);
    const { rows } = await this.#query<{ id: string }>('lastIdBefore', { ...SQL.lastIdBefore, values: [String(position)] });
    return rows[0]?.id;
  }

  /**
   * COPY in one transaction. The emptiness check runs after a transaction-scoped
   * advisory lock, so a second process starting at the same time waits for the
   * first to commit, then (its next statement seeing the committed rows) finds
   * the table full and imports nothing.
   */
  async importIds(ids: readonly string[]): Promise<{ readonly imported: number } | null> {
    return this.#withClient('importIds', this.#importTimeoutMs, async (client) => {
      await client.query('BEGIN');
      try {
        // The copy may take longer than a lookup's bound; #withClient's deadline bounds it.
        await client.query('SET LOCAL statement_timeout = 0');
        await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, IMPORT_LOCK]);
        const { rows } = await client.query<{ full: boolean }>('SELECT EXISTS (SELECT 1 FROM products) AS full');
        if (rows[0]?.full === true) {
          await client.query('ROLLBACK');
          return null;
        }
        // Sorted, the id index (COLLATE "C") is appended to instead of split at
        // random pages. JS sorts by UTF-16 units, not bytes, which only costs a
        // little speed for ids beyond U+FFFF. All rows share one position (xid).
        const sorted = [...ids].sort();
        let i = 0;
        const lines = new Readable({
          read() {
            if (i >= sorted.length) return void this.push(null);
            let text = '';
            for (const end = Math.min(sorted.length, i + COPY_CHUNK_ROWS); i < end; i++) {
              const id = copyField(sorted[i]!);
              text += `${id}\tProduct ${id}\t0\n`;
            }
            this.push(text);
          },
        });
        await pipeline(lines, client.query(copyFrom('COPY products (id, name, price) FROM STDIN')));
        await client.query('COMMIT');
        return { imported: ids.length };
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async databaseId(): Promise<string> {
    return this.initSetting('database_id', randomUUID());
  }

  async setting(key: string): Promise<string | undefined> {
    const { rows } = await this.#query<{ value: string }>('setting', { ...SQL.setting, values: [key] });
    return rows[0]?.value;
  }

  /**
   * Two statements, each its own snapshot: if another process inserted the key
   * first, ON CONFLICT DO NOTHING waits for its commit, and the SELECT after it
   * sees the committed value (one statement's snapshot would not).
   */
  async initSetting(key: string, value: string): Promise<string> {
    return this.#withClient('initSetting', this.#timeoutMs, async (client) => {
      await client.query({ ...SQL.initSetting, values: [key, value] });
      const { rows } = await client.query<{ value: string }>({ ...SQL.setting, values: [key] });
      return rows[0]?.value ?? value;
    });
  }

  async putSetting(key: string, value: string): Promise<void> {
    await this.#query('putSetting', { ...SQL.putSetting, values: [key, value] });
  }

  /**
   * A session advisory lock on a connection of its own, outside the pool, held
   * until close(). The server releases it when that session ends, so a holder
   * killed with -9 (or cut off) frees it. Key: (INSTANCE_LOCK_CLASS,
   * hashtext('bloomgate:' || namespace)); advisory locks are per database, so
   * the database is part of the key. Two namespaces whose hashes collide would
   * exclude each other (a refusal to start, never a silent disagreement).
   */
  async lockInstance(namespace: string): Promise<void> {
    if (this.#closed) throw new DatabaseUnavailableError('the store is closed');
    if (this.#lockedNamespaces.has(namespace)) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DatabaseUnavailableError(`lockInstance: no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    });
    let client = this.#lockClient;
    const fresh = client === undefined;
    try {
      if (client === undefined) {
        client = new pg.Client(this.#clientConfig);
        client.on('error', (err) => this.#lockLost(client!, err));
        client.on('end', () => this.#lockLost(client!, new Error('the instance lock connection ended')));
        const c = client;
        await Promise.race([c.connect(), deadline]);
      }
      const { rows } = await Promise.race([
        client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [INSTANCE_LOCK_CLASS, `bloomgate:${namespace}`]),
        deadline,
      ]);
      if (rows[0]?.locked !== true) throw new InstanceLockedError(`namespace ${JSON.stringify(namespace)} on this database`);
      this.#lockClient = client;
      this.#lockedNamespaces.add(namespace);
      if (fresh) this.#startLockHeartbeat(client);
    } catch (err) {
      if (fresh && client !== undefined) {
        const c = client;
        c.removeAllListeners('end');
        c.removeAllListeners('error');
        c.on('error', () => undefined);
        destroyConnection(c);
      }
      throw mapError(err);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A connection whose peer went silent raises no error by itself (TCP
   * keepalive takes minutes), so a SELECT 1 each lockHeartbeatMs, bounded by
   * timeoutMs, notices a lost lock connection and reports it.
   */
  #startLockHeartbeat(client: pg.Client): void {
    let inFlight = false;
    this.#lockHeartbeat = setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DatabaseUnavailableError(`the instance lock connection did not answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      });
      Promise.race([client.query('SELECT 1'), deadline])
        .catch((err: unknown) => {
          this.#lockLost(client, err instanceof Error ? err : new Error(String(err)));
          destroyConnection(client);
        })
        .finally(() => {
          clearTimeout(timer);
          inFlight = false;
        });
    }, this.#lockHeartbeatMs);
    this.#lockHeartbeat.unref();
  }

  #lockLost(client: pg.Client, err: Error): void {
    if (this.#lockClient !== client) return;
    clearInterval(this.#lockHeartbeat);
    this.#lockClient = undefined;
    const hadLocks = this.#lockedNamespaces.size > 0;
    this.#lockedNamespaces.clear();
    if (hadLocks && !this.#closed) this.#onInstanceLockLost?.(err);
  }

  /** Ends the lock connection (releasing the instance lock) and the pool. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const lockClient = this.#lockClient;
    this.#lockClient = undefined;
    this.#lockedNamespaces.clear();
    clearInterval(this.#lockHeartbeat);
    const bounded = (p: Promise<unknown>): Promise<unknown> =>
      Promise.race([p.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, this.#timeoutMs).unref())]);
    if (lockClient !== undefined) {
      lockClient.removeAllListeners('end');
      await bounded(lockClient.end());
      destroyConnection(lockClient);
    }
    if (this.#compaction !== undefined) await bounded(this.#compaction);
    await bounded(this.#pool.end());
  }
}
