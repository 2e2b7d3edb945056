/**
 * Promise 3: corrupt or foreign snapshot state is never trusted. For each way a
 * snapshot can be wrong, the test stops the service (SIGTERM: a good final
 * snapshot), tampers with the Redis hash, starts it again, and checks that the
 * snapshot was refused with a warning naming the reason, counted in
 * bloomgate_snapshot_rejected_total{reason}, that the filter was rebuilt from
 * the database (bloomgate_filter_loads_total{source="rebuild"}), and that every
 * id is still found. On both backends.
 *
 * The shard cases zero or cut real shards, so a service that restored them
 * anyway would also show false negatives, not just a wrong metric.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { idsNotFound } from '../helpers/bulk-lookup.js';
import { writeProductsFile, spreadSample } from '../helpers/products-file.js';
import { metricValue } from '../helpers/prometheus-text.js';
import { SHARED_REDIS_URL, deleteNamespaceKeys, uniqueNamespace } from '../helpers/redis-namespace.js';
import { checkSnapshot, readSnapshot, withField, writeSnapshot, type RawSnapshot } from '../helpers/redis-snapshot.js';
import { ServerProcess, isWarningOrWorse } from '../helpers/server-process.js';

const IMPORTED = 20_000;
const POSTED = 500;
const CAPACITY = '100000';
const OTHER_CAPACITY = '150000';
const SAMPLE = 2_000;

interface Case {
  name: string;
  /** The reason label the service reports (the decoder's reason codes). */
  reason: string;
  tamper: (raw: RawSnapshot) => RawSnapshot;
  /**
   * Also run on PostgreSQL. The decoder's checks do not depend on the backend,
   * only the rebuild after a refusal does; so PostgreSQL runs one case of each
   * kind (shard bytes, a torn save, header fields, the header checksum), not all.
   */
  everyBackend?: true;
}

function replaceShard(raw: RawSnapshot, shard: number, blob: Buffer | undefined): RawSnapshot {
  const shards = new Map(raw.shards);
  if (blob === undefined) shards.delete(shard);
  else shards.set(shard, blob);
  return { header: raw.header, shards };
}

function header(raw: RawSnapshot): Buffer {
  if (raw.header === undefined) throw new Error('no header to tamper with');
  return raw.header;
}

describe.each(BACKENDS)('a corrupt or foreign snapshot is refused and the filter rebuilt from the database on $name', (backend) => {
  const namespace = uniqueNamespace('corrupt');
  let redis: Redis;
  let server: ServerProcess;
  let db: BackendDatabase;
  let idOf: (i: number) => string;
  let posted: string[] = [];
  /** The snapshot before the POSTs: its shards differ from the later one's. */
  let older: RawSnapshot;

  beforeAll(async () => {
    redis = new Redis(SHARED_REDIS_URL);
    db = await backend.open();
    server = new ServerProcess({ redisUrl: SHARED_REDIS_URL, namespace, env: { BLOOM_CAPACITY: CAPACITY }, ...db.serverOptions() });
    const file = join(server.dir, 'products.txt');
    idOf = writeProductsFile(file, IMPORTED, (i) => `CORRUPT-${String(i).padStart(6, '0')}`);
    await server.start({ PRODUCTS_FILE: file });
    await server.waitHealthy();
    expect(await server.exitAfterSigterm()).toEqual({ code: 0, signal: null });
    older = await readSnapshot(redis, namespace);
    expect(checkSnapshot(older).problems, 'the snapshot after the import').toEqual([]);

    // A clean restart restores from that snapshot; then more rows, so the next snapshot differs.
    await server.start();
    await server.waitHealthy();
    const metrics = await server.metrics();
    expect(metricValue(metrics, 'bloomgate_filter_loads_total', { source: 'snapshot' }), 'a good snapshot is restored').toBe(1);
    posted = Array.from({ length: POSTED }, (_, i) => `CORRUPT-POSTED-${i}`);
    const res = await server.request('POST', '/products/batch', { body: { products: posted.map((id) => ({ id, name: 'posted', price: 4 })) } });
    expect(res.status, res.text).toBe(200);
  });

  afterAll(async () => {
    await server?.dispose();
    await db?.drop();
    await deleteNamespaceKeys(redis, namespace);
    await redis.quit();
  });

  const cases: Case[] = [
    { name: 'a shard whose bytes do not match its checksum (zeroed)', reason: 'shard_checksum', everyBackend: true, tamper: (raw) => replaceShard(raw, 3, Buffer.alloc(raw.shards.get(3)!.length)) },
    { name: 'a truncated shard', reason: 'shard_size', tamper: (raw) => replaceShard(raw, 5, raw.shards.get(5)!.subarray(0, raw.shards.get(5)!.length >> 1)) },
    { name: 'a missing shard', reason: 'shard_missing', tamper: (raw) => replaceShard(raw, 7, undefined) },
    {
      name: 'a torn save: the new header over the shards of an older snapshot',
      reason: 'shard_checksum',
      everyBackend: true,
      tamper: (raw) => ({ header: raw.header, shards: new Map(older.shards) }),
    },
    { name: 'an older format version', reason: 'unsupported_version', tamper: (raw) => ({ ...raw, header: withField(header(raw), 'formatVersion', 0) }) },
    { name: 'a newer format version', reason: 'newer_version', tamper: (raw) => ({ ...raw, header: withField(header(raw), 'formatVersion', 2) }) },
    {
      name: 'another hash seed (fingerprint)',
      reason: 'seed_mismatch',
      everyBackend: true,
      tamper: (raw) => ({ ...raw, header: withField(header(raw), 'seedFingerprint', header(raw).readUInt32LE(12) ^ 0x5a5a5a5a) }),
    },
    { name: 'another hash function', reason: 'hash_mismatch', tamper: (raw) => ({ ...raw, header: withField(header(raw), 'hashId', 99) }) },
    { name: 'another number of hashes (same bits)', reason: 'params_mismatch', tamper: (raw) => ({ ...raw, header: withField(header(raw), 'hashes', header(raw).readUInt32LE(16) + 1) }) },
    {
      name: 'a header with a bad checksum',
      reason: 'header_checksum',
      everyBackend: true,
      tamper: (raw) => {
        const h = Buffer.from(header(raw));
        h.writeDoubleLE(h.readDoubleLE(40) + 1, 40); // items, crc left as it was
        return { ...raw, header: h };
      },
    },
    { name: 'a garbage header', reason: 'bad_magic', tamper: (raw) => ({ ...raw, header: randomBytes(header(raw).length) }) },
    { name: 'a truncated header', reason: 'truncated', tamper: (raw) => ({ ...raw, header: header(raw).subarray(0, 40) }) },
  ];

  /** Stops the running service (its final snapshot must be whole), applies `tamper`, starts again. */
  async function restartWithTamperedSnapshot(tamper: (raw: RawSnapshot) => RawSnapshot, env: Record<string, string> = {}): Promise<void> {
    if (server.isRunning) expect(await server.exitAfterSigterm(), 'SIGTERM exit').toEqual({ code: 0, signal: null });
    const raw = await readSnapshot(redis, namespace);
    expect(checkSnapshot(raw).problems, 'the snapshot written at the previous shutdown').toEqual([]);
    await writeSnapshot(redis, namespace, tamper(raw));
    await server.start(env);
    await server.waitHealthy();
  }

  async function expectRefusedAndRebuilt(reason: string): Promise<void> {
    const metrics = await server.metrics();
    const warned = server.runLogs().filter((l) => isWarningOrWorse(l) && l.text.includes(reason));
    expect(warned.length, `a warning naming "${reason}"; this run's log:\n${server.runLogs().map((l) => l.text).join('\n')}`).toBeGreaterThan(0);
    expect(metricValue(metrics, 'bloomgate_snapshot_rejected_total', { reason }), `rejected_total{reason="${reason}"}`).toBe(1);
    expect(metricValue(metrics, 'bloomgate_snapshot_rejected_total'), 'rejected_total over all reasons').toBe(1);
    expect(metricValue(metrics, 'bloomgate_filter_loads_total', { source: 'rebuild' }), 'loads_total{source="rebuild"}').toBe(1);
    expect(metricValue(metrics, 'bloomgate_filter_loads_total', { source: 'snapshot' }), 'loads_total{source="snapshot"}').toBe(0);
    const sample = [...spreadSample(IMPORTED, SAMPLE).map((i) => idOf(i)), ...posted];
    expect(await idsNotFound(server, sample), 'false negatives after the rebuild').toEqual([]);
    expect((await server.stats()).items).toBe(IMPORTED + POSTED);
  }

  for (const c of cases.filter((c) => backend.name === 'sqlite' || c.everyBackend === true)) {
    it(`refuses ${c.name} (${c.reason})`, { timeout: 60_000 }, async () => {
      await restartWithTamperedSnapshot(c.tamper);
      await expectRefusedAndRebuilt(c.reason);
    });
  }

  it('refuses a snapshot written with other parameters (BLOOM_CAPACITY changed)', { timeout: 60_000 }, async () => {
    await restartWithTamperedSnapshot((raw) => raw, { BLOOM_CAPACITY: OTHER_CAPACITY });
    await expectRefusedAndRebuilt('params_mismatch');
    expect((await server.stats()).capacity).toBe(Number(OTHER_CAPACITY));
  });
});
