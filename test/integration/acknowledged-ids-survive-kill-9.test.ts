/**
 * Promises 1 and 2 under crashes: concurrent POSTs (single and batch) and GETs
 * against the real server, `kill -9` at seeded random moments (one of them
 * during start-up, before /health is 200), a restart on the same database and
 * Redis each time. Every id that got a 201 (or was created by a batch) must be
 * found by every later GET; a request that got no answer may or may not have
 * landed, but the filter and the database must agree on it after the restart;
 * and the filter's item count must equal the database's row count. On both
 * backends.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idsNotFound } from '../helpers/bulk-lookup.js';
import { prng } from '../helpers/filter-fixtures.js';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { SHARED_REDIS_URL, deleteNamespaceKeys, uniqueNamespace } from '../helpers/redis-namespace.js';
import { ServerProcess, sleep } from '../helpers/server-process.js';

const SEED = 0x9e3779b9;
const ROUNDS = 5;
/** This round is killed while the server starts up (restoring + replaying), not under load. */
const KILL_DURING_STARTUP_ROUND = 3;
const LANES = 24;
const BATCH_SIZE = 10;
const KILL_AFTER_MIN_MS = 800;
const KILL_AFTER_SPAN_MS = 3_200;
/** Between rounds, re-check the newest acknowledged ids and a spread of the older ones (the end checks every one). */
const RECHECK_RECENT = 3_000;
const RECHECK_SPREAD = 2_000;

interface Tally {
  acked: Set<string>;
  /** The same ids in order of acknowledgement, for picking recent ones. */
  ackedList: string[];
  /** Sent, no answer (the connection died): may or may not have landed. */
  unanswered: Set<string>;
  /** GETs of an acknowledged id that were not 200 while the server was up. */
  liveFalseNegatives: string[];
  /** Answers no request should get (5xx, 409 on a fresh id, ...). */
  unexpected: string[];
  requests: number;
}

describe.each(BACKENDS)('acknowledged ids survive kill -9 on $name', (backend) => {
  let server: ServerProcess;
  let redis: Redis;
  let database: BackendDatabase;
  const namespace = uniqueNamespace('kill9');

  beforeAll(async () => {
    redis = new Redis(SHARED_REDIS_URL, { lazyConnect: false });
    database = await backend.open();
    server = new ServerProcess({
      redisUrl: SHARED_REDIS_URL,
      namespace,
      env: { SNAPSHOT_INTERVAL_MS: '100', BLOOM_CAPACITY: '100000' },
      ...database.serverOptions(),
    });
  });

  afterAll(async () => {
    await server?.dispose();
    await database?.drop();
    await deleteNamespaceKeys(redis, namespace);
    await redis.quit();
  });

  it('finds every 201 after each of 5 kill -9s, and the filter counts what the database holds', { timeout: 240_000 }, async () => {
    const killRandom = prng(SEED);
    const opRandom = prng(SEED ^ 0x5bd1e995);
    const tally: Tally = { acked: new Set(), ackedList: [], unanswered: new Set(), liveFalseNegatives: [], unexpected: [], requests: 0 };
    const kills: string[] = [];

    for (let round = 1; round <= ROUNDS; round++) {
      await server.start();
      if (round === KILL_DURING_STARTUP_ROUND) {
        const delay = 100 + (killRandom() % 1_000);
        await sleep(delay);
        await server.kill9();
        kills.push(`round ${round}: ${delay} ms after spawn (start-up)`);
        await server.start();
      }
      await server.waitHealthy();

      // What was acknowledged before the crash is found after the restart: the newest
      // ids (the ones a crash could lose) and a spread of the rest; the end checks all.
      const misses = await idsNotFound(server, recheckSample(tally.ackedList));
      expect(misses, `false negatives after restart ${round}`).toEqual([]);

      const killAfter = KILL_AFTER_MIN_MS + (killRandom() % KILL_AFTER_SPAN_MS);
      let stop = false;
      let serial = 0;
      const lanes = Array.from({ length: LANES }, async (_, lane) => {
        while (!stop) {
          const op = opRandom() % 10;
          if (op < 5) await postOne(server, `K${round}-${lane}-${serial++}`, tally);
          else if (op < 6) {
            const ids = Array.from({ length: BATCH_SIZE }, () => `K${round}-${lane}-${serial++}`);
            await postBatch(server, ids, tally);
          } else await getAcked(server, tally, opRandom);
        }
      });
      await sleep(killAfter);
      await server.kill9();
      stop = true;
      await Promise.all(lanes);
      kills.push(`round ${round}: ${killAfter} ms into the load`);
    }

    // The final start: every acknowledged id is found...
    await server.start();
    await server.waitHealthy();
    expect(await idsNotFound(server, [...tally.acked]), 'false negatives after the last restart').toEqual([]);
    // ...and for every unanswered one, note whether the service finds it.
    const foundUnanswered = new Set<string>();
    const unanswered = [...tally.unanswered];
    const notFound = new Set((await idsNotFound(server, unanswered)).map((m) => m.id));
    for (const id of unanswered) if (!notFound.has(id)) foundUnanswered.add(id);
    const stats = await server.stats();
    expect(await server.exitAfterSigterm()).toEqual({ code: 0, signal: null });

    const db = await database.summary();
    const inDb = new Set(await database.allIds());
    const landedButNotFound = unanswered.filter((id) => inDb.has(id) && !foundUnanswered.has(id));
    const foundButNotInDb = [...foundUnanswered].filter((id) => !inDb.has(id));
    const ackedMissingFromDb = [...tally.acked].filter((id) => !inDb.has(id));

    console.log(
      `[kill-9 ${backend.name}] seed ${SEED.toString(16)}; ${tally.requests} requests; kills: ${kills.join('; ')}; ` +
        `${tally.acked.size} acknowledged, ${tally.unanswered.size} unanswered (${foundUnanswered.size} of them landed); ` +
        `database ${db.rows} rows, filter ${stats.items} items`,
    );

    const errorLogs = [...new Set(server.logs.filter((l) => l.json?.['level'] === 'error').map((l) => `${String(l.json?.['msg'])} ${JSON.stringify(l.json?.['err'])}`))];
    if (errorLogs.length > 0) console.log(`[kill-9 ${backend.name}] distinct error log lines:\n${errorLogs.slice(0, 20).join('\n')}`);

    expect(tally.liveFalseNegatives, 'GETs of acknowledged ids that were not 200 while the server ran').toEqual([]);
    expect(tally.unexpected.slice(0, 20), `answers no request should get (${tally.unexpected.length} in all)`).toEqual([]);
    expect(ackedMissingFromDb, 'acknowledged ids missing from the database (lost writes)').toEqual([]);
    expect(landedButNotFound, 'unanswered ids that landed in the database but the service does not find').toEqual([]);
    expect(foundButNotInDb, 'unanswered ids found by the service but not in the database').toEqual([]);
    expect(stats.items, '/bloom/stats items vs SELECT count(*)').toBe(db.rows);
    expect(db.metaCount, 'the trigger-kept count (products_meta / product_count_deltas) vs SELECT count(*)').toBe(db.rows);
    expect(tally.acked.size).toBeGreaterThan(500); // the load really ran
  });
});

/** The last RECHECK_RECENT ids plus at most RECHECK_SPREAD spread over the older ones. */
function recheckSample(acked: readonly string[]): string[] {
  const older = acked.length - RECHECK_RECENT;
  if (older <= 0) return [...acked];
  const step = Math.max(1, Math.ceil(older / RECHECK_SPREAD));
  const out: string[] = [];
  for (let i = 0; i < older; i += step) out.push(acked[i]!);
  return out.concat(acked.slice(older));
}

function ack(tally: Tally, id: string): void {
  tally.acked.add(id);
  tally.ackedList.push(id);
}

async function postOne(server: ServerProcess, id: string, tally: Tally): Promise<void> {
  tally.requests++;
  try {
    const res = await server.postProduct({ id, name: `crash ${id}`, price: 1 });
    if (res.status === 201) ack(tally, id);
    else tally.unexpected.push(`POST ${id}: ${res.status} ${res.text.slice(0, 200)}`);
  } catch {
    tally.unanswered.add(id);
  }
}

async function postBatch(server: ServerProcess, ids: string[], tally: Tally): Promise<void> {
  tally.requests++;
  try {
    const res = await server.request('POST', '/products/batch', { body: { products: ids.map((id) => ({ id, name: `crash ${id}`, price: 2 })) } });
    const body = res.body as { created?: unknown; conflicts?: unknown } | undefined;
    if (res.status !== 200 || typeof body?.created !== 'number' || !Array.isArray(body.conflicts)) {
      tally.unexpected.push(`POST batch ${ids[0]}..: ${res.status} ${res.text.slice(0, 200)}`);
      return;
    }
    if (body.conflicts.length > 0 || body.created !== ids.length) tally.unexpected.push(`batch of fresh ids reported ${res.text.slice(0, 200)}`);
    const conflicts = new Set(body.conflicts as string[]);
    for (const id of ids) if (!conflicts.has(id)) ack(tally, id);
  } catch {
    for (const id of ids) tally.unanswered.add(id);
  }
}

async function getAcked(server: ServerProcess, tally: Tally, random: () => number): Promise<void> {
  const acked = tally.ackedList;
  if (acked.length === 0) return;
  // Favour recent ids: those are the ones a lagging filter would miss.
  const recent = random() % 2 === 0;
  const index = recent ? acked.length - 1 - (random() % Math.min(50, acked.length)) : random() % acked.length;
  const id = acked[index]!;
  tally.requests++;
  try {
    const res = await server.getProduct(id);
    if (res.status === 404) tally.liveFalseNegatives.push(`${id}: ${res.text}`);
    else if (res.status !== 200) tally.unexpected.push(`GET ${id}: ${res.status} ${res.text.slice(0, 200)}`);
  } catch {
    // The server died under the request: no answer, nothing to check.
  }
}
