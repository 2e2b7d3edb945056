import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseUnavailableError, InstanceLockedError } from '../../src/errors.js';
import { originMismatch, snapshotOrigin } from '../../src/persistence/snapshot-origin.js';
import { describeDatabaseUrl } from '../../src/store/database-url.js';
import { PostgresProductStore } from '../../src/store/postgres-product-store.js';
import { SCHEMA_VERSION } from '../../src/store/postgres/migrations.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres-database.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait-for.js';

let db: TestDatabase;
const opened: PostgresProductStore[] = [];
const clients: pg.Client[] = [];

async function open(options: { url?: string; poolSize?: number; timeoutMs?: number } = {}): Promise<PostgresProductStore> {
  const store = await PostgresProductStore.open({ url: db.url, ...options });
  opened.push(store);
  return store;
}

/** A plain connection to the test database, for transactions the test holds open. */
async function rawClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.url });
  client.on('error', () => undefined);
  await client.connect();
  clients.push(client);
  return client;
}

async function collect(pages: AsyncIterable<readonly string[]>): Promise<string[][]> {
  const out: string[][] = [];
  for await (const page of pages) out.push([...page]);
  return out;
}

beforeEach(async () => {
  db = await createTestDatabase();
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
  await db.drop();
});

describe('PostgresProductStore: rows', () => {
  it('inserts, gets, and reports a conflict as null', async () => {
    const store = await open();
    expect(store.backend).toBe('postgres');
    const before = Date.now();
    const created = await store.insert({ id: 'SKU-1', name: 'Lamp', price: 9.5 });
    expect(created?.id).toBe('SKU-1');
    expect(Number.isSafeInteger(created?.position)).toBe(true);
    const row = await store.get('SKU-1');
    expect(row).toMatchObject({ id: 'SKU-1', name: 'Lamp', price: 9.5 });
    expect(row!.createdAt).toBeGreaterThanOrEqual(before - 1000);
    expect(await store.insert({ id: 'SKU-1', name: 'Other', price: 1 })).toBeNull();
    expect((await store.get('SKU-1'))?.name).toBe('Lamp');
    expect(await store.get('SKU-2')).toBeUndefined();
  });

  it('commits concurrent single inserts in shared transactions, each answered as if alone', async () => {
    const store = await open();
    await store.insert({ id: 'taken', name: 'first', price: 1 });
    const horizon = await store.horizon();
    const ids = [...Array.from({ length: 48 }, (_, i) => `g-${i}`), 'taken', 'g-7'];
    const rows = await Promise.all(ids.map((id) => store.insert({ id, name: `n-${id}`, price: 2 })));
    expect(rows.slice(0, 48).map((r) => r?.id)).toEqual(ids.slice(0, 48));
    expect(rows.slice(48)).toEqual([null, null]); // an existing id, and the second insert of g-7
    // Rows of one group share their transaction id: far fewer transactions than inserts.
    const transactions = new Set(rows.slice(0, 48).map((r) => r!.position));
    expect(transactions.size).toBeLessThan(48);
    for (const r of rows.slice(0, 48)) expect(r!.position).toBeGreaterThanOrEqual(horizon);
    // The replay from before the inserts finds every one of them (positions are commit-ordered).
    const replayed = (await collect(store.idsFrom(horizon, 1000))).flat();
    expect(new Set(replayed)).toEqual(new Set(ids.slice(0, 48)));
    expect((await store.get('taken'))?.name).toBe('first');
    expect((await store.get('g-7'))?.name).toBe('n-g-7');
  });

  it('stores ids with backslashes, quotes and non-ASCII exactly', async () => {
    const store = await open();
    const ids = ['a\\b', "o'brien", 'caf\u00e9-\u{1F600}', 'x y'];
    for (const id of ids) expect(await store.insert({ id, name: id, price: 1 })).not.toBeNull();
    for (const id of ids) expect((await store.get(id))?.id).toBe(id);
  });

  it('insertMany commits all rows in one transaction, lists conflicts and duplicates inside the batch', async () => {
    const store = await open();
    await store.insert({ id: 'B', name: 'b', price: 1 });
    const result = await store.insertMany([
      { id: 'A', name: 'a', price: 1 },
      { id: 'B', name: 'b2', price: 2 },
      { id: 'C', name: 'c', price: 3 },
      { id: 'A', name: 'a2', price: 4 },
    ]);
    expect(result.created.map((r) => r.id)).toEqual(['A', 'C']);
    expect(result.conflicts).toEqual(['B', 'A']);
    // One transaction: one position for the whole batch.
    expect(new Set(result.created.map((r) => r.position)).size).toBe(1);
    expect((await store.get('A'))?.name).toBe('a');
    expect(await store.count()).toBe(3);
    expect(await store.insertMany([])).toEqual({ created: [], conflicts: [] });
  });

  it('insertMany is all or nothing', async () => {
    const store = await open();
    // A NUL byte is the one thing PostgreSQL text refuses: the statement fails after 'ok-1' was inserted.
    await expect(
      store.insertMany([
        { id: 'ok-1', name: 'fine', price: 1 },
        { id: 'ok-2', name: 'bad\u0000name', price: 1 },
      ]),
    ).rejects.toThrow();
    expect(await store.get('ok-1')).toBeUndefined();
    expect(await store.count()).toBe(0);
    // The failed statement did not poison the pooled connection.
    expect(await store.insert({ id: 'ok-3', name: 'x', price: 1 })).not.toBeNull();
  });

  it('deletes, and count() follows inserts, deletes and compaction exactly', async () => {
    const store = await open({ poolSize: 4 });
    expect(await store.count()).toBe(0);
    // One insert at a time, so each is a statement of its own (nothing to group with): 1100 delta rows.
    for (let i = 0; i < 1100; i++) await store.insert({ id: `id-${i}`, name: 'n', price: 1 });
    expect(await store.delete('id-0')).toBe(true);
    expect(await store.delete('id-0')).toBe(false);
    expect(await store.count()).toBe(1099); // > 1000 delta rows: this call starts a compaction
    const raw = await rawClient();
    await waitFor('the count deltas compacted to one row', async () => (await raw.query('SELECT count(*)::int AS n FROM product_count_deltas')).rows[0].n === 1);
    expect(await store.count()).toBe(1099);
    const { rows } = await raw.query<{ n: number }>('SELECT count(*)::int AS n FROM products');
    expect(rows[0]!.n).toBe(1099);
  });

  it('scanIds returns every id once, in pages of at most pageSize, none empty', async () => {
    const store = await open();
    await store.insertMany(Array.from({ length: 25 }, (_, i) => ({ id: `s-${String(i).padStart(2, '0')}`, name: 'n', price: 1 })));
    const pages = await collect(store.scanIds(10));
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(new Set(pages.flat()).size).toBe(25);
    expect(await collect((await open()).scanIds(25))).toHaveLength(1);
  });
});

describe('PostgresProductStore: positions', () => {
  it('idsFrom pages in position order; horizon is past every committed row; lastIdBefore finds the row before', async () => {
    const store = await open();
    const a = await store.insert({ id: 'a', name: 'n', price: 1 });
    const b = await store.insertMany([
      { id: 'b1', name: 'n', price: 1 },
      { id: 'b2', name: 'n', price: 1 },
    ]);
    const c = await store.insert({ id: 'c', name: 'n', price: 1 });
    const pb = b.created[0]!.position;
    expect(a!.position).toBeLessThan(pb);
    expect(pb).toBeLessThan(c!.position);

    const horizon = await store.horizon();
    expect(horizon).toBeGreaterThan(c!.position);
    expect(await collect(store.idsFrom(horizon, 10))).toEqual([]);
    expect((await collect(store.idsFrom(0, 2))).flat()).toEqual(['a', 'b1', 'b2', 'c']);
    expect(await collect(store.idsFrom(pb, 1))).toEqual([['b1'], ['b2'], ['c']]);

    expect(await store.lastIdBefore(a!.position)).toBeUndefined();
    expect(await store.lastIdBefore(pb)).toBe('a');
    expect(await store.lastIdBefore(c!.position)).toBe('b2');
    expect(await store.lastIdBefore(horizon)).toBe('c');
  });

  it('nextPosition is past every position handed out, even while a long transaction holds the horizon down', async () => {
    const store = await open();
    const long = await rawClient();
    await long.query('BEGIN');
    await long.query('SELECT pg_current_xact_id()'); // holds the server-wide xmin (the horizon) at its xid
    const row = await store.insert({ id: 'after-long', name: 'n', price: 1 });
    const honest = row!.position + 1; // a watermark a catch-up may report: every row below it is read
    expect(await store.horizon()).toBeLessThan(honest);
    expect(await store.nextPosition()).toBeGreaterThanOrEqual(honest);
    // The origin check compares with nextPosition: no false ahead_of_database (and no rebuild).
    expect(await originMismatch(store, await snapshotOrigin(store, honest), honest)).toBeNull();
    expect(await originMismatch(store, await snapshotOrigin(store, honest), (await store.nextPosition()) + 1_000)).toBe('ahead_of_database');
    await long.query('ROLLBACK');
  });

  it('idsFrom orders by the numbers, not their text (seq 2 after seq 10), and loses no row across pages', async () => {
    const store = await open();
    const ids = Array.from({ length: 25 }, (_, i) => `n-${i}`);
    await store.insertMany(ids.map((id) => ({ id, name: 'n', price: 1 })));
    await store.insert({ id: 'after', name: 'n', price: 1 });
    const pages = await collect(store.idsFrom(0, 4));
    expect(pages.flat()).toEqual([...ids, 'after']);
    expect(pages.every((p) => p.length > 0 && p.length <= 4)).toBe(true);
  });

  it('a row with a smaller seq that commits after a snapshot is replayed from the snapshot watermark (a seq watermark misses it)', async () => {
    const store = await open();
    const late = await rawClient();
    // Transaction L takes seq 1 and stays open.
    await late.query('BEGIN');
    await late.query("INSERT INTO products (id, name, price) VALUES ('late', 'n', 1)");
    // Transaction E takes seq 2 and commits first (through the store, as a create would).
    const early = await store.insert({ id: 'early', name: 'n', price: 1 });
    expect(early).not.toBeNull();
    const seqs = await (await rawClient()).query<{ id: string; seq: string }>('SELECT id, seq::text AS seq FROM products');
    expect(seqs.rows).toEqual([{ id: 'early', seq: '2' }]); // 'late' is invisible, holding seq 1

    // The service snapshots its filter now: 'early' is in it (applied), nothing of its own is pending.
    const inFilter = new Set(['early']);
    const ownPending: number[] = [];
    const watermark = Math.min(await store.horizon(), ...ownPending);
    const seqWatermark = 2; // "every row with seq <= 2 is in the filter": what a sequence-based watermark would record

    await late.query('COMMIT');

    // Restart from that snapshot: a new store, replaying from the watermark.
    await store.close();
    const restarted = await open();
    const replayed = (await collect(restarted.idsFrom(watermark, 100))).flat();
    for (const id of replayed) inFilter.add(id);
    expect(replayed).toContain('late');
    expect(inFilter.has('late')).toBe(true);

    // The unsound alternative: replaying rows with seq > 2 finds nothing, and 'late' (seq 1) is lost.
    const bySeq = await (await rawClient()).query<{ id: string }>('SELECT id FROM products WHERE seq > $1', [seqWatermark]);
    expect(bySeq.rows.map((r) => r.id)).not.toContain('late');
  });
});

describe('PostgresProductStore: import, settings, identity, schema', () => {
  it('importIds copies every id once; a non-empty table imports nothing', async () => {
    const store = await open();
    const ids = Array.from({ length: 5000 }, (_, i) => `imp-${i}`).concat(['back\\slash']);
    expect(await store.importIds(ids)).toEqual({ imported: ids.length });
    expect(await store.count()).toBe(ids.length);
    expect(await store.get('imp-42')).toMatchObject({ id: 'imp-42', name: 'Product imp-42', price: 0 });
    expect((await store.get('back\\slash'))?.name).toBe('Product back\\slash');
    expect(await store.importIds(['other'])).toBeNull();
    expect(await store.get('other')).toBeUndefined();
  });

  it('two stores importing at once: exactly one imports', async () => {
    const [s1, s2] = await Promise.all([open(), open()]);
    const ids = Array.from({ length: 20_000 }, (_, i) => `c-${i}`);
    const results = await Promise.all([s1.importIds(ids), s2.importIds(ids)]);
    expect(results.filter((r) => r !== null)).toEqual([{ imported: ids.length }]);
    expect(await s1.count()).toBe(ids.length);
  });

  it('settings: initSetting keeps the first value, putSetting replaces', async () => {
    const store = await open();
    expect(await store.setting('k')).toBeUndefined();
    expect(await store.initSetting('k', 'one')).toBe('one');
    expect(await store.initSetting('k', 'two')).toBe('one');
    await store.putSetting('k', 'three');
    expect(await store.setting('k')).toBe('three');
  });

  it('databaseId is one UUID per database, the same for concurrent first callers and after a restart', async () => {
    const [s1, s2] = await Promise.all([open(), open()]);
    const ids = await Promise.all([s1.databaseId(), s2.databaseId(), s1.databaseId(), s2.databaseId()]);
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await s1.close();
    expect(await (await open()).databaseId()).toBe(ids[0]);
    const other = await createTestDatabase();
    try {
      const foreign = await PostgresProductStore.open({ url: other.url });
      try {
        expect(await foreign.databaseId()).not.toBe(ids[0]);
      } finally {
        await foreign.close();
      }
    } finally {
      await other.drop();
    }
  });

  it('several processes migrating at once end with one schema at the current version', async () => {
    await Promise.all(Array.from({ length: 4 }, () => open()));
    const { rows } = await (await rawClient()).query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
  });

  it('refuses a database with a newer schema', async () => {
    await open();
    await (await rawClient()).query('INSERT INTO schema_migrations (version) VALUES ($1)', [SCHEMA_VERSION + 1]);
    await expect(PostgresProductStore.open({ url: db.url })).rejects.toThrow(/schema version/);
  });

  it('rejects a URL of another scheme, and describes a URL without its password', async () => {
    await expect(PostgresProductStore.open({ url: 'mysql://x@y/z' })).rejects.toThrow('options.url must start with postgres:// or postgresql://');
    await expect(PostgresProductStore.open({ url: db.url, poolSize: 0 })).rejects.toThrow('options.poolSize must be a positive integer');
    expect(describeDatabaseUrl('postgresql://shop:s3cret@db.example:5433/catalog?sslmode=require')).toBe('postgresql://shop@db.example:5433/catalog');
  });
});

describe('PostgresProductStore: instance lock', () => {
  it('a second store on the same database and namespace is refused until the first closes', async () => {
    const first = await open();
    const second = await open();
    await first.lockInstance('ns');
    await expect(second.lockInstance('ns')).rejects.toBeInstanceOf(InstanceLockedError);
    await second.lockInstance('other-ns'); // another namespace is another lock
    await first.close();
    await second.lockInstance('ns');
  });

  it('a holder whose connection dies (killed process) frees the lock', async () => {
    const lost: Error[] = [];
    const first = await PostgresProductStore.open({ url: db.url, onInstanceLockLost: (err) => lost.push(err) });
    opened.push(first);
    await first.lockInstance('ns');
    const second = await open();
    await expect(second.lockInstance('ns')).rejects.toBeInstanceOf(InstanceLockedError);
    const raw = await rawClient();
    const { rows } = await raw.query<{ pid: number }>(
      "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    expect(rows).toHaveLength(1);
    await raw.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    // The backend releases the lock as it exits, a moment after the signal.
    await waitFor('the lock free again', async () => (await second.lockInstance('ns').then(() => true, () => false)));
    await waitFor('the lost-lock callback', () => lost.length === 1);
  });
});

describe('PostgresProductStore: outages', () => {
  let proxy: TcpProxy;

  beforeEach(async () => {
    proxy = await startTcpProxy(Number(new URL(db.url).port || 5432));
  });

  afterEach(async () => {
    await proxy.close();
  });

  it('rejects with database_unavailable within the bound while the database is silent, and recovers when it answers', async () => {
    const url = new URL(db.url);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const store = await open({ url: url.toString(), timeoutMs: 500, poolSize: 2 });
    await store.insert({ id: 'before', name: 'n', price: 1 });

    proxy.blackhole(true);
    const calls: Array<() => Promise<unknown>> = [
      () => store.get('before'),
      () => store.insert({ id: 'during', name: 'n', price: 1 }),
      () => store.count(),
      () => store.horizon(),
      () => collect(store.idsFrom(0, 10)),
      () => store.databaseId(),
    ];
    const elapsed: number[] = [];
    for (const call of calls) {
      const started = performance.now();
      const err: unknown = await call().catch((e: unknown) => e);
      elapsed.push(Math.round(performance.now() - started));
      expect(err).toBeInstanceOf(DatabaseUnavailableError);
      expect((err as DatabaseUnavailableError).code).toBe('database_unavailable');
    }
    // Printed, not asserted (no timed assertions): each should be close to timeoutMs.
    console.info(`outage with timeoutMs=500: calls rejected after ${elapsed.join(', ')} ms`);

    proxy.blackhole(false);
    await waitFor('the store answering again', async () => (await store.get('before').catch(() => undefined)) !== undefined);
    expect(await store.insert({ id: 'after', name: 'n', price: 1 })).not.toBeNull();
    expect(await store.count()).toBe(2);
  });

  it('a lock connection that goes silent is reported lost (heartbeat)', async () => {
    const url = new URL(db.url);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const lost: Error[] = [];
    const store = await PostgresProductStore.open({ url: url.toString(), timeoutMs: 300, lockHeartbeatMs: 100, onInstanceLockLost: (err) => lost.push(err) });
    opened.push(store);
    await store.lockInstance('ns');
    proxy.blackhole(true);
    await waitFor('the lost-lock callback', () => lost.length === 1);
    expect(lost[0]).toBeInstanceOf(DatabaseUnavailableError);
    proxy.blackhole(false);
    // The server saw the session end (the proxy cut it), so the lock is free again.
    await waitFor('the lock free again', async () => (await store.lockInstance('ns').then(() => true, () => false)));
  });

  it('rejects with database_unavailable when nothing listens, and open() too', async () => {
    const url = new URL(db.url);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const store = await open({ url: url.toString(), timeoutMs: 500 });
    await proxy.close();
    await expect(store.get('x')).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await expect(PostgresProductStore.open({ url: url.toString(), timeoutMs: 500 })).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await expect(store.lockInstance('ns')).rejects.toBeInstanceOf(DatabaseUnavailableError);
  });
});
