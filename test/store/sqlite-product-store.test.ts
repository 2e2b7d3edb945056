import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseUnavailableError, InstanceLockedError } from '../../src/errors.js';
import { SqliteProductStore, kCrashWriter } from '../../src/store/sqlite-product-store.js';

let dir: string;
let path: string;
const open: SqliteProductStore[] = [];

async function openStore(options: Partial<Parameters<typeof SqliteProductStore.open>[0]> = {}): Promise<SqliteProductStore> {
  const store = await SqliteProductStore.open({ path, ...options });
  open.push(store);
  return store;
}

async function collect(pages: AsyncIterable<readonly string[]>): Promise<string[][]> {
  const out: string[][] = [];
  for await (const page of pages) out.push([...page]);
  return out;
}

const lamp = (id: string) => ({ id, name: `Lamp ${id}`, price: 9.5 });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sqlite-store-'));
  path = join(dir, 'products.db');
});

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteProductStore', () => {
  it('inserts, gets, and answers null for an existing id', async () => {
    const store = await openStore();
    const created = await store.insert(lamp('SKU-1'));
    expect(created).toEqual({ id: 'SKU-1', position: 1 });
    expect(await store.insert(lamp('SKU-1'))).toBeNull();
    const row = await store.get('SKU-1');
    expect(row).toMatchObject({ id: 'SKU-1', name: 'Lamp SKU-1', price: 9.5 });
    expect(typeof row?.createdAt).toBe('number');
    expect(await store.get('nope')).toBeUndefined();
    expect(store.backend).toBe('sqlite');
  });

  it('runs the writer thread at the niceness asked for, and leaves the main thread alone', async () => {
    /** Field 19 of /proc/<pid>/task/<tid>/stat: the thread's niceness as the kernel sees it. */
    const kernelNice = (tid: number): number => {
      const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const mainBefore = getPriority();
    const nice = await openStore({ writerNice: 7 });
    const { tid } = nice.writerThread;
    expect(tid).not.toBeNull();
    expect(tid).not.toBe(process.pid);
    // Relative to the process's niceness (a service started with `nice -n 5` gets 12), capped at 19.
    expect(nice.writerThread.nice).toBe(Math.min(19, mainBefore + 7));
    expect(kernelNice(tid!)).toBe(Math.min(19, mainBefore + 7));
    expect(getPriority()).toBe(mainBefore);
    await nice.close();
    // Another file, the default: the writer keeps the niceness it was born with.
    const plain = await SqliteProductStore.open({ path: join(dir, 'other.db') });
    open.push(plain);
    expect(kernelNice(plain.writerThread.tid!)).toBe(mainBefore);
  });

  it('counts the writer niceness from the process\'s own: a service started with `nice -n 5` gets 5 + 7', () => {
    const store = new URL('../../src/store/sqlite-product-store.ts', import.meta.url).href;
    const script = `const { SqliteProductStore } = await import(${JSON.stringify(store)});
      const s = await SqliteProductStore.open({ path: ${JSON.stringify(join(dir, 'niced.db'))}, writerNice: 7 });
      console.log(JSON.stringify(s.writerThread)); await s.close();`;
    const file = join(dir, 'niced.mjs');
    writeFileSync(file, script);
    const child = spawnSync('nice', ['-n', '5', process.execPath, '--import', 'tsx', file], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    const base = getPriority() + 5;
    expect(JSON.parse(child.stdout)).toMatchObject({ nice: Math.min(19, base + 7) });
  });

  it('refuses a writer niceness outside 0-19', async () => {
    await expect(SqliteProductStore.open({ path, writerNice: 20 })).rejects.toThrow('options.writerNice must be an integer from 0 to 19');
    await expect(SqliteProductStore.open({ path, writerNice: -1 })).rejects.toThrow('options.writerNice must be an integer from 0 to 19');
  });

  it('commits a batch all or nothing, without failing the writes grouped with it', async () => {
    const store = await openStore();
    await store.insert(lamp('A'));
    const batch = await store.insertMany([lamp('B'), lamp('A'), lamp('C'), lamp('B')]);
    expect(batch.created.map((r) => r.id)).toEqual(['B', 'C']);
    expect(batch.conflicts).toEqual(['A', 'B']);
    // NaN binds as NULL and fails NOT NULL mid-batch: the batch rolls back, its group neighbours commit.
    const [bad, good] = await Promise.allSettled([
      store.insertMany([lamp('D'), { id: 'E', name: 'x', price: Number.NaN }]),
      store.insert(lamp('F')),
    ]);
    expect(bad.status).toBe('rejected');
    expect(good).toMatchObject({ status: 'fulfilled', value: { id: 'F' } });
    expect(await store.get('D')).toBeUndefined();
    expect(await store.count()).toBe(4);
  });

  it('deletes, counts, scans, and keeps positions in commit order', async () => {
    const store = await openStore();
    expect(await store.horizon()).toBe(1);
    expect(await store.lastIdBefore(1)).toBeUndefined();
    for (const id of ['a', 'b', 'c', 'd', 'e']) await store.insert(lamp(id));
    expect(await store.count()).toBe(5);
    expect(await store.delete('e')).toBe(true);
    expect(await store.delete('e')).toBe(false);
    expect(await store.count()).toBe(4);
    // The deleted last row keeps its position: the horizon never goes back.
    expect(await store.horizon()).toBe(6);
    expect(await collect(store.scanIds(3))).toEqual([['a', 'b', 'c'], ['d']]);
    expect(await collect(store.idsFrom(3, 10))).toEqual([['c', 'd']]);
    expect(await collect(store.idsFrom(6, 10))).toEqual([]);
    expect(await store.lastIdBefore(3)).toBe('b');
    expect(await store.lastIdBefore(100)).toBe('d');
    const next = await store.insert(lamp('f'));
    expect(next?.position).toBe(6);
    expect(await collect(store.idsFrom(6, 10))).toEqual([['f']]);
  });

  it('imports once, into an empty table only, and keeps the count right', async () => {
    const store = await openStore();
    const ids = Array.from({ length: 5003 }, (_, i) => `IMP-${i}`);
    expect(await store.importIds(ids)).toEqual({ imported: 5003 });
    expect(await store.importIds(['other'])).toBeNull();
    expect(await store.count()).toBe(5003);
    expect(await store.get('IMP-5002')).toMatchObject({ name: 'Product IMP-5002', price: 0 });
    // The count trigger is back after the import.
    await store.insert(lamp('after'));
    expect(await store.count()).toBe(5004);
    expect(await store.horizon()).toBe(5005);
  });

  it('keeps settings and a stable identity', async () => {
    const store = await openStore();
    expect(await store.setting('k')).toBeUndefined();
    expect(await store.initSetting('k', 'first')).toBe('first');
    expect(await store.initSetting('k', 'second')).toBe('first');
    await store.putSetting('k', 'third');
    expect(await store.setting('k')).toBe('third');
    const id = await store.databaseId();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await store.databaseId()).toBe(id);
    await store.close();
    expect(await (await openStore()).databaseId()).toBe(id);
  });

  it('groups concurrent writes into far fewer transactions', async () => {
    const store = await openStore();
    const before = store.commits;
    const rows = await Promise.all(Array.from({ length: 100 }, (_, i) => store.insert(lamp(`G-${i}`))));
    expect(rows.every((r) => r !== null)).toBe(true);
    const transactions = store.commits - before;
    expect(transactions).toBeGreaterThan(0);
    expect(transactions).toBeLessThan(20);
    // Commit order: positions follow the arrival order inside a group.
    expect(rows.map((r) => r?.position)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('resolves a write only after it committed (another connection sees it)', async () => {
    const store = await openStore();
    const other = new Database(path, { readonly: true });
    try {
      const seen = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          await store.insert(lamp(`D-${i}`));
          return other.prepare('SELECT count(*) AS n FROM products WHERE id = ?').get(`D-${i}`) as { n: number };
        }),
      );
      expect(seen.every((r) => r.n === 1)).toBe(true);
    } finally {
      other.close();
    }
  });

  it('rejects pending writes when the writer thread dies, and recovers', async () => {
    const errors: Error[] = [];
    const store = await openStore({ onWriterError: (err) => errors.push(err) });
    await store.insert(lamp('before'));
    const pending = Array.from({ length: 10 }, (_, i) => store.insert(lamp(`P-${i}`)));
    store[kCrashWriter]();
    const settled = await Promise.allSettled(pending);
    // Every call settles; those that did not commit before the crash reject as unavailable.
    for (const s of settled) {
      if (s.status === 'rejected') expect(s.reason).toBeInstanceOf(DatabaseUnavailableError);
    }
    expect(settled.some((s) => s.status === 'rejected')).toBe(true);
    expect(errors.length).toBe(1);
    expect(await store.insert(lamp('after'))).toMatchObject({ id: 'after' });
    expect(await store.get('before')).toBeDefined();
  });

  it('lets one store per namespace hold the instance lock, and releases it on close', async () => {
    const first = await openStore();
    const second = await openStore();
    await first.lockInstance('ns');
    await expect(second.lockInstance('ns')).rejects.toBeInstanceOf(InstanceLockedError);
    await second.lockInstance('other-ns');
    await first.close();
    await second.close();
    const third = await openStore();
    await third.lockInstance('ns');
  });

  it('takes over a lock whose holder died (kill -9 does not block the restart)', async () => {
    const store = await openStore();
    // A pid that existed and is gone now.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    if (dead === undefined) throw new Error('no pid from the child');
    const db = new Database(path);
    db.prepare('INSERT INTO instance_locks VALUES (?, ?, ?, ?, ?, ?)').run('ns', 'old-token', dead, hostname(), 1, 1);
    db.close();
    await store.lockInstance('ns');
    const row = new Database(path, { readonly: true }).prepare('SELECT pid FROM instance_locks WHERE namespace = ?').get('ns');
    expect(row).toEqual({ pid: process.pid });
  });

  it('takes over a row left with our own pid by an earlier process (a container restart)', async () => {
    const store = await openStore();
    const db = new Database(path);
    db.prepare('INSERT INTO instance_locks VALUES (?, ?, ?, ?, ?, ?)').run('ns', 'earlier-life', process.pid, hostname(), 1, 1);
    db.close();
    await store.lockInstance('ns');
  });

  it('refuses a live holder on this host, but not a pid reused by a process started after the claim', async () => {
    const store = await openStore();
    const db = new Database(path);
    const now = Date.now();
    // The parent process runs, and started before `now`: a live holder.
    db.prepare('INSERT INTO instance_locks VALUES (?, ?, ?, ?, ?, ?)').run('live', 'parent', process.ppid, hostname(), now, now);
    // The same pid against a claim made in 1970: the pid now belongs to a later process.
    db.prepare('INSERT INTO instance_locks VALUES (?, ?, ?, ?, ?, ?)').run('reused', 'old', process.ppid, hostname(), 1, 1);
    db.close();
    await expect(store.lockInstance('live')).rejects.toBeInstanceOf(InstanceLockedError);
    await store.lockInstance('reused');
  });

  it('rejects calls once close() started, and close() drains what came before', async () => {
    const store = await openStore();
    const write = store.insert(lamp('last'));
    const closing = store.close();
    await expect(store.insert(lamp('too-late'))).rejects.toThrow('closed');
    expect(await write).toMatchObject({ id: 'last' });
    await closing;
    const reopened = await openStore();
    expect(await reopened.get('last')).toBeDefined();
  });

  it('opens a file in the schema bloomgate has always written (version 1), and leaves it readable as one', async () => {
    // The version-1 file as earlier releases created it: no instance_locks table yet.
    const made = new Database(path);
    made.pragma('journal_mode = WAL');
    made.exec(`
      CREATE TABLE products (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, price REAL NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE products_meta (k INTEGER PRIMARY KEY CHECK (k = 0), product_count INTEGER NOT NULL);
      INSERT INTO products_meta (k, product_count) VALUES (0, 0);
      CREATE TRIGGER products_count_insert AFTER INSERT ON products
      BEGIN UPDATE products_meta SET product_count = product_count + 1 WHERE k = 0; END;
      CREATE TRIGGER products_count_delete AFTER DELETE ON products
      BEGIN UPDATE products_meta SET product_count = product_count - 1 WHERE k = 0; END;
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      PRAGMA user_version = 1;
    `);
    const insert = made.prepare('INSERT INTO products (id, name, price, created_at) VALUES (?, ?, ?, ?)');
    insert.run('old-1', 'Lamp old-1', 9.5, Date.now());
    insert.run('old-2', 'Lamp old-2', 9.5, Date.now());
    made.prepare("INSERT INTO settings (key, value) VALUES ('database_id', 'db-made-earlier')").run();
    made.close();

    const store = await openStore();
    expect(await store.count()).toBe(2);
    expect(await store.databaseId()).toBe('db-made-earlier');
    expect(await store.insert(lamp('new-1'))).toEqual({ id: 'new-1', position: 3 });
    await store.close();

    const again = new Database(path, { readonly: true });
    expect(again.pragma('user_version', { simple: true }), 'no version bump').toBe(1);
    expect(again.prepare('SELECT id FROM products ORDER BY seq').pluck().all()).toEqual(['old-1', 'old-2', 'new-1']);
    expect(again.prepare('SELECT product_count FROM products_meta WHERE k = 0').pluck().get()).toBe(3);
    again.close();
  });

  it('answers DatabaseUnavailableError for a file that cannot be opened', async () => {
    await expect(SqliteProductStore.open({ path: '/dev/null/not-a-dir/products.db' })).rejects.toBeInstanceOf(DatabaseUnavailableError);
  });

  it('names each bad option', async () => {
    await expect(SqliteProductStore.open({ path: ':memory:', cacheSizeKiB: 1 })).rejects.toThrow(
      'options.path must be a file path (not :memory:); options.cacheSizeKiB must be an integer >= 64',
    );
  });
});
