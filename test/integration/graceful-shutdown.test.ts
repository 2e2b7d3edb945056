/**
 * Promise 7: SIGTERM stops accepting, finishes the requests in flight, writes a
 * final snapshot, closes the database, exits 0. On both backends.
 *
 * "In flight" is made deterministic with slow uploads: the headers and half of
 * each body are sent before the SIGTERM, the rest after it. Those requests
 * must complete with 201 and be durable. Fast requests racing the signal may
 * be refused, but any 201 among them must be durable too. The snapshot
 * interval is an hour, so only the final snapshot can cover the last rows.
 */
import { request as httpRequest } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idsNotFound } from '../helpers/bulk-lookup.js';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { metricValue } from '../helpers/prometheus-text.js';
import { SHARED_REDIS_URL, deleteNamespaceKeys, uniqueNamespace } from '../helpers/redis-namespace.js';
import { checkSnapshot, readSnapshot } from '../helpers/redis-snapshot.js';
import { ServerProcess, sleep } from '../helpers/server-process.js';

const SLOW_SINGLE = 5;
const SLOW_BATCH = 50;
const RACING = 50;
/** The bodies' second halves go out this long after SIGTERM. */
const REST_AFTER_SIGTERM_MS = 500;
const SHUTDOWN_TIMEOUT_MS = 10_000;

interface SlowRequest {
  /** Sends the rest of the body. */
  finish(): void;
  /** Settles once the first part has been handed to the kernel. */
  readonly firstPartSent: Promise<void>;
  readonly response: Promise<{ status: number; text: string }>;
}

/** A POST on its own connection whose body is sent in two parts; the first part goes now. */
function slowPost(port: number, path: string, body: string): SlowRequest {
  const bytes = Buffer.from(body);
  const half = bytes.length >> 1;
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    path,
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': bytes.length },
  });
  const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.once('error', reject);
    });
  });
  const firstPartSent = new Promise<void>((resolve) => req.write(bytes.subarray(0, half), () => resolve()));
  return {
    finish: () => req.end(bytes.subarray(half)),
    firstPartSent,
    response,
  };
}

/** A GET on a new connection: its status, or the error code (ECONNREFUSED once the listener is closed). */
function freshConnectionGet(port: number, path: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

describe.each(BACKENDS)('graceful shutdown on $name', (backend) => {
  const namespace = uniqueNamespace('sigterm');
  let redis: Redis;
  let server: ServerProcess;
  let database: BackendDatabase;

  beforeAll(async () => {
    redis = new Redis(SHARED_REDIS_URL);
    database = await backend.open();
    server = new ServerProcess({
      redisUrl: SHARED_REDIS_URL,
      namespace,
      env: { SNAPSHOT_INTERVAL_MS: '3600000', SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) },
      ...database.serverOptions(),
    });
  });

  afterAll(async () => {
    await server?.dispose();
    await database?.drop();
    await deleteNamespaceKeys(redis, namespace);
    await redis.quit();
  });

  it('finishes in-flight requests, writes a final snapshot and exits 0', { timeout: 90_000 }, async () => {
    await server.start();
    await server.waitHealthy();
    const early = Array.from({ length: 200 }, (_, i) => `TERM-EARLY-${i}`);
    const res = await server.request('POST', '/products/batch', { body: { products: early.map((id) => ({ id, name: 'early', price: 1 })) } });
    expect(res.status, res.text).toBe(200);

    const port = server.port;
    const singles = Array.from({ length: SLOW_SINGLE }, (_, i) => `TERM-SLOW-${i}`);
    const batch = Array.from({ length: SLOW_BATCH }, (_, i) => `TERM-SLOW-BATCH-${i}`);
    const slow = [
      ...singles.map((id) => slowPost(port, '/products', JSON.stringify({ id, name: 'slow', price: 2 }))),
      slowPost(port, '/products/batch', JSON.stringify({ products: batch.map((id) => ({ id, name: 'slow batch', price: 3 })) })),
    ];
    // The server has the headers and half of each body: every first part is sent, then a
    // request on a new connection makes a round trip through the server's single event
    // loop, which reads sockets that were readable before it answers a later one.
    await Promise.all(slow.map((s) => s.firstPartSent));
    await freshConnectionGet(port, '/health');

    // Fast requests racing the signal: refused or answered, but a 201 is a promise.
    const racing = Array.from({ length: RACING }, (_, i) => `TERM-RACE-${i}`);
    const racingAnswers = racing.map((id) =>
      server.postProduct({ id, name: 'race', price: 4 }, 15_000).then(
        (r) => ({ id, outcome: r.status as number | string, text: r.text }),
        (err: Error) => ({ id, outcome: err.message as number | string, text: '' }),
      ),
    );
    const sigtermAt = Date.now();
    server.sendSigterm();
    await sleep(REST_AFTER_SIGTERM_MS);
    const newConnection = await freshConnectionGet(port, '/health');
    for (const s of slow) s.finish();
    const slowAnswers = await Promise.all(slow.map((s) => s.response.then((r) => r, (err: Error) => ({ status: 0, text: err.message }))));
    const raced = await Promise.all(racingAnswers);
    const exit = await server.waitExitWithin(SHUTDOWN_TIMEOUT_MS + 10_000, 'SIGTERM');
    const exitedAfterMs = Date.now() - sigtermAt;

    const racedCreated = raced.filter((r) => r.outcome === 201).map((r) => r.id);
    const racedOther = raced.filter((r) => r.outcome !== 201 && r.outcome !== 503 && typeof r.outcome === 'number');
    console.log(
      `[sigterm ${backend.name}] exited ${JSON.stringify(exit)} ${exitedAfterMs} ms after SIGTERM; new connection ${REST_AFTER_SIGTERM_MS} ms after SIGTERM got ${newConnection}; ` +
        `slow requests: ${slowAnswers.map((a) => a.status).join(',')}; racing POSTs: ${racedCreated.length} created, ` +
        `others ${JSON.stringify([...new Set(raced.filter((r) => r.outcome !== 201).map((r) => r.outcome))])}`,
    );

    expect(exit, 'exit after SIGTERM').toEqual({ code: 0, signal: null });
    expect(slowAnswers.slice(0, SLOW_SINGLE).map((a) => a.status), 'slow single POSTs in flight at SIGTERM').toEqual(singles.map(() => 201));
    const batchAnswer = slowAnswers[SLOW_SINGLE]!;
    expect(batchAnswer.status, `slow batch in flight at SIGTERM: ${batchAnswer.text}`).toBe(200);
    expect(JSON.parse(batchAnswer.text)).toMatchObject({ created: SLOW_BATCH, conflicts: [] });
    expect(['ECONNREFUSED', 503], 'a new connection after SIGTERM is refused or told 503').toContain(newConnection);
    expect(racedOther, 'racing POSTs answered with something other than 201 or 503').toEqual([]);

    // The final snapshot covers every committed row; the database was closed (SQLite: WAL checkpointed away).
    const db = await database.summary();
    const { header, problems } = checkSnapshot(await readSnapshot(redis, namespace));
    expect(problems, 'the final snapshot').toEqual([]);
    expect(header?.savedAtMs ?? 0, 'snapshot written after SIGTERM').toBeGreaterThanOrEqual(sigtermAt);
    if (backend.name === 'sqlite') {
      expect(header?.watermark, 'final snapshot watermark = one past the max rowid (every position below it is in the filter)').toBe(db.maxPosition + 1);
    } else {
      // The horizon is server-wide (other databases' transactions hold it back), so the watermark may lie
      // below rows it covers; it is never ahead of the database. Coverage shows in items == rows below.
      expect(header?.watermark, 'final snapshot watermark: a position the database has reached').toBeLessThanOrEqual(db.horizon);
    }
    expect(header?.items, 'final snapshot items = rows').toBe(db.rows);
    expect(await database.closedCleanly(), 'the database was closed cleanly (SQLite: no WAL; PostgreSQL: no session left)').toBe(true);

    await server.start();
    await server.waitHealthy();
    const metrics = await server.metrics();
    expect(metricValue(metrics, 'bloomgate_filter_loads_total', { source: 'snapshot' })).toBe(1);
    expect(await idsNotFound(server, [...early, ...singles, ...batch, ...racedCreated])).toEqual([]);
    expect((await server.stats()).items).toBe(db.rows);
  });
});
