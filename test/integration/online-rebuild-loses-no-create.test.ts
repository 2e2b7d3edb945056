/**
 * Promise 1 across an online rebuild (POST /admin/rebuild): creates keep
 * coming while a new filter is built and swapped in, and every acknowledged id
 * must be found at once, after the swap, and after a `kill -9` either in the
 * middle of the rebuild's scan or right after the swap (before or while the
 * full snapshot that follows it is written). On both backends.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { idsNotFound } from '../helpers/bulk-lookup.js';
import { spreadSample, writeProductsFile } from '../helpers/products-file.js';
import { SHARED_REDIS_URL, deleteNamespaceKeys, uniqueNamespace } from '../helpers/redis-namespace.js';
import { ServerProcess } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait-for.js';

const IMPORTED = 300_000;
const SAMPLE = 2_000;
const LANES = 8;
const ADMIN_TOKEN = 'durability-test-admin-token';

interface RebuildStatus {
  running: boolean;
  progress: number;
  completed: number;
  failed: number;
}

/** POST new ids and GET each right after its 201, until stopped. */
class CreateTraffic {
  readonly acked: string[] = [];
  readonly problems: string[] = [];
  private stopped = false;
  private readonly lanes: Promise<void>[];

  constructor(
    private readonly server: ServerProcess,
    prefix: string,
  ) {
    this.lanes = Array.from({ length: LANES }, async (_, lane) => {
      for (let n = 0; !this.stopped; n++) {
        const id = `${prefix}-${lane}-${n}`;
        try {
          const created = await this.server.postProduct({ id, name: 'during rebuild', price: 7 });
          if (created.status !== 201) {
            this.problems.push(`POST ${id}: ${created.status} ${created.text.slice(0, 120)}`);
            continue;
          }
          this.acked.push(id);
          const found = await this.server.getProduct(id);
          if (found.status !== 200) this.problems.push(`GET ${id} right after its 201: ${found.status} ${found.text.slice(0, 120)}`);
        } catch {
          // Killed under the request: no answer, nothing promised.
        }
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.lanes);
  }
}

describe.each(BACKENDS)('an online rebuild loses no concurrent create on $name', (backend) => {
  const namespace = uniqueNamespace('rebuild');
  let redis: Redis;
  let server: ServerProcess;
  let database: BackendDatabase;
  let idOf: (i: number) => string;

  beforeAll(async () => {
    redis = new Redis(SHARED_REDIS_URL);
    database = await backend.open();
    server = new ServerProcess({
      redisUrl: SHARED_REDIS_URL,
      namespace,
      env: { BLOOM_CAPACITY: '400000', ADMIN_TOKEN, SNAPSHOT_INTERVAL_MS: '200' },
      ...database.serverOptions(),
    });
    const file = join(server.dir, 'products.txt');
    idOf = writeProductsFile(file, IMPORTED, (i) => `REB-${String(i).padStart(7, '0')}`);
    await server.start({ PRODUCTS_FILE: file });
    await server.waitHealthy(120_000);
  });

  afterAll(async () => {
    await server?.dispose();
    await database?.drop();
    await deleteNamespaceKeys(redis, namespace);
    await redis.quit();
  });

  async function startRebuild(): Promise<void> {
    const res = await server.request('POST', '/admin/rebuild', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status, res.text).toBe(202);
  }

  async function expectAllFound(acked: readonly string[]): Promise<void> {
    const misses = await idsNotFound(server, [...acked, ...spreadSample(IMPORTED, SAMPLE).map((i) => idOf(i))]);
    expect(misses.slice(0, 5), `${misses.length} not found`).toEqual([]);
  }

  it('finds every create made during a rebuild, after the swap and after a kill -9 right after it', { timeout: 120_000 }, async () => {
    const before = await rebuildStatusAuthed(server);
    const traffic = new CreateTraffic(server, 'SWAP');
    await waitFor('creates under way', () => traffic.acked.length >= LANES);
    await startRebuild();
    await waitFor('the rebuild to complete', async () => (await rebuildStatusAuthed(server)).completed > before.completed, 60_000);
    await traffic.stop();
    expect(traffic.problems.slice(0, 10), `${traffic.problems.length} problems while rebuilding`).toEqual([]);
    expect((await rebuildStatusAuthed(server)).failed).toBe(0);
    await expectAllFound(traffic.acked);

    await server.kill9(); // right after the swap: the full snapshot may or may not be written
    await server.start();
    await server.waitHealthy(60_000);
    await expectAllFound(traffic.acked);
    console.log(`[rebuild ${backend.name}] ${traffic.acked.length} creates during the rebuild; all found after the swap and after kill -9`);
  });

  it('finds every create after a kill -9 in the middle of a rebuild', { timeout: 120_000 }, async () => {
    const traffic = new CreateTraffic(server, 'MID');
    await waitFor('creates under way', () => traffic.acked.length >= LANES);
    await startRebuild();
    let progress = 0;
    await waitFor(
      'the rebuild to be under way',
      async () => {
        const s = await rebuildStatusAuthed(server);
        progress = s.progress;
        return s.running && s.progress >= 0.3;
      },
      60_000,
    );
    await server.kill9();
    await traffic.stop();
    await server.start();
    await server.waitHealthy(60_000);
    await expectAllFound(traffic.acked);
    expect(await server.exitAfterSigterm()).toEqual({ code: 0, signal: null });
    const db = await database.summary();
    console.log(`[rebuild ${backend.name}] killed at ${Math.round(progress * 100)}% of a rebuild; ${traffic.acked.length} creates acknowledged; database ${db.rows} rows`);
  });
});

async function rebuildStatusAuthed(server: ServerProcess): Promise<RebuildStatus> {
  const res = await server.request('GET', '/admin/status', { timeoutMs: 2_000, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (res.status !== 200) throw new Error(`/admin/status: ${res.status} ${res.text}`);
  return (res.body as { rebuild: RebuildStatus }).rebuild;
}
