/**
 * Promise 5 (Redis is optional at run time) and the run-id half of promise 4:
 * with traffic going, Redis dies (SIGKILL) or hangs (a black-holed proxy).
 * Lookups keep working from the filter and the database, creates keep working,
 * /health says degraded, no request errors or takes longer than a bound. When
 * an EMPTY Redis comes back on the same port, the service heals by itself: a
 * fresh full snapshot, cache use resumes, and a crash right after restores
 * from that snapshot with every id found. On both backends.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { idsNotFound } from '../helpers/bulk-lookup.js';
import { metricValue } from '../helpers/prometheus-text.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { uniqueNamespace } from '../helpers/redis-namespace.js';
import { checkSnapshot, readSnapshot, snapshotKey } from '../helpers/redis-snapshot.js';
import { ServerProcess, sleep, type HttpResult } from '../helpers/server-process.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait-for.js';

/** No request may take longer than this, Redis or not (REDIS_COMMAND_TIMEOUT_MS is 500). */
const LATENCY_BOUND_MS = 2_000;
const SEEDED = 300;
/** Requests a phase must see before the test moves on (instead of a fixed pause). */
const SAMPLES_PER_PHASE = 100;
const LANES = 6;
const OUTAGE_MS = 4_000;
/** Longer than NOTICE_WITHIN_MS, so a late notice still shows. */
const HANG_MS = 6_000;
/** How soon the service must notice Redis is gone, and be healthy again once it is back. */
const NOTICE_WITHIN_MS = 5_000;
const RECOVER_WITHIN_MS = 10_000;

type Phase = 'up' | 'down' | 'back';
type Kind = 'known' | 'unknown' | 'create';

interface Sample {
  /** The phase when the request was sent... */
  phase: Phase;
  /** ...and when its answer came (a request straddling a change may see either world). */
  endPhase: Phase;
  kind: Kind;
  id: string;
  /** The status, or the error message when there was no answer. */
  outcome: number | string;
  source: unknown;
  /** The error code of a 4xx/5xx answer, for the failure message. */
  error?: unknown;
  ms: number;
}

/** Lanes of GET known / GET unknown / POST new until stopped; `known` grows with every 201. */
class Traffic {
  phase: Phase = 'up';
  readonly samples: Sample[] = [];
  readonly known: string[];
  private stopped = false;
  private serial = 0;
  private readonly lanes: Promise<void>[];

  constructor(
    private readonly server: ServerProcess,
    seeded: readonly string[],
  ) {
    this.known = [...seeded];
    this.lanes = Array.from({ length: LANES }, (_, lane) => this.lane(lane));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.lanes);
  }

  private async lane(lane: number): Promise<void> {
    let n = 0;
    while (!this.stopped) {
      const op = n++ % 4;
      if (op === 0 || op === 2) {
        const id = this.known[(lane * 7919 + n * 104729) % this.known.length]!;
        await this.one('known', id, () => this.server.getProduct(id));
      } else if (op === 1) {
        const id = `absent-${lane}-${n}`;
        await this.one('unknown', id, () => this.server.getProduct(id));
      } else {
        const id = `outage-${lane}-${this.serial++}`;
        const res = await this.one('create', id, () => this.server.postProduct({ id, name: 'outage', price: 3 }));
        if (res?.status === 201) this.known.push(id);
      }
    }
  }

  private async one(kind: Kind, id: string, send: () => Promise<HttpResult>): Promise<HttpResult | undefined> {
    const phase = this.phase;
    const started = performance.now();
    try {
      // A generous client timeout, so a slow answer is measured rather than cut off.
      const res = await send();
      const body = res.body as { source?: unknown; error?: unknown } | undefined;
      this.samples.push({ phase, endPhase: this.phase, kind, id, outcome: res.status, source: body?.source, error: res.status >= 400 ? body?.error : undefined, ms: res.ms });
      return res;
    } catch (err) {
      this.samples.push({ phase, endPhase: this.phase, kind, id, outcome: (err as Error).message, source: undefined, ms: performance.now() - started });
      return undefined;
    }
  }
}

/** Problems in a phase's samples: anything but the documented answers, or slower than the bound. */
function problems(samples: readonly Sample[], phase: Phase): string[] {
  const out: string[] = [];
  for (const s of samples) {
    if (s.phase !== phase) continue;
    const want = s.kind === 'known' ? 200 : s.kind === 'unknown' ? 404 : 201;
    if (s.outcome !== want) out.push(`${s.kind} ${s.id}: ${s.outcome}${s.error === undefined ? '' : ` ${String(s.error)}`} (want ${want})`);
    else if (phase === 'down' && s.endPhase === 'down' && s.kind === 'known' && s.source !== 'database') {
      out.push(`known ${s.id} answered from ${String(s.source)} with Redis down`);
    }
    if (s.ms > LATENCY_BOUND_MS) out.push(`${s.kind} ${s.id} took ${Math.round(s.ms)} ms`);
  }
  return out;
}

function summary(samples: readonly Sample[], phase: Phase): string {
  const parts: string[] = [];
  for (const kind of ['known', 'unknown', 'create'] as const) {
    const ms = samples
      .filter((s) => s.phase === phase && s.kind === kind)
      .map((s) => s.ms)
      .sort((a, b) => a - b);
    const p = (q: number): number => Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0);
    parts.push(`${kind} n=${ms.length} p50 ${p(0.5)} p99 ${p(0.99)} max ${Math.round(ms[ms.length - 1] ?? 0)} ms`);
  }
  return `${phase}: ${parts.join(', ')}`;
}

/** waitFor, where a check that throws (nothing answers yet) means "not yet". */
async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  return Math.round(await waitFor(what, () => check().catch(() => false), timeoutMs));
}

/** Waits until `count` requests sent in `phase` have been answered (or have failed). */
async function samplesIn(traffic: Traffic, phase: Phase, count = SAMPLES_PER_PHASE): Promise<void> {
  await waitFor(`${count} requests in phase ${phase}`, () => traffic.samples.filter((s) => s.phase === phase).length >= count, 30_000);
}

async function healthStatus(server: ServerProcess): Promise<{ code: number; status: unknown; body: unknown }> {
  const res = await server.health(2_000);
  return { code: res.status, status: (res.body as { status?: unknown } | undefined)?.status, body: res.body };
}

/**
 * A GET of `id` answered from the cache within a few tries: the first GET may
 * fill it, and right after a create the lookup bypasses the cache until Redis
 * confirms the create's own cache write.
 */
async function servedFromCache(server: ServerProcess, id: string): Promise<boolean> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const res = await server.getProduct(id);
    if (res.status === 200 && (res.body as { source?: unknown }).source === 'cache') return true;
    await sleep(50);
  }
  return false;
}

async function seed(server: ServerProcess, prefix: string): Promise<string[]> {
  const ids = Array.from({ length: SEEDED }, (_, i) => `${prefix}-${i}`);
  const res = await server.request('POST', '/products/batch', { body: { products: ids.map((id) => ({ id, name: 'seeded', price: 1 })) } });
  expect(res.status, res.text).toBe(200);
  expect((res.body as { created: number }).created).toBe(SEEDED);
  return ids;
}

/**
 * One instance: PostgreSQL with a redis:// URL is cluster mode by default, where a create that Redis
 * cannot confirm answers 503 cluster_unavailable by design (see the cluster-* tests).
 */
const SINGLE_INSTANCE = { CLUSTER_MODE: 'off' };

describe.each(BACKENDS)('a Redis outage degrades the service and it recovers by itself on $name', (backend) => {
  let redis: PrivateRedis;
  let client: Redis;
  let server: ServerProcess;
  let database: BackendDatabase;
  let proxy: TcpProxy | undefined;
  const namespace = uniqueNamespace('outage');

  beforeEach(async () => {
    database = await backend.open();
    redis = await startPrivateRedis();
    // Retries quickly and queues while Redis is down: the test's own view of Redis.
    client = new Redis(redis.url, { retryStrategy: () => 100, maxRetriesPerRequest: null });
    client.on('error', () => {}); // it reconnects by itself while the test kills Redis
  });

  afterEach(async () => {
    await server?.dispose();
    await database?.drop();
    await proxy?.close();
    proxy = undefined;
    client.disconnect();
    await redis.stop();
  });

  it('keeps answering without Redis, then snapshots and caches again when an empty Redis returns', { timeout: 120_000 }, async () => {
    server = new ServerProcess({ redisUrl: redis.url, namespace, env: { SNAPSHOT_INTERVAL_MS: '200', REDIS_COMMAND_TIMEOUT_MS: '500', ...SINGLE_INSTANCE }, ...database.serverOptions() });
    await server.start();
    await server.waitHealthy();
    expect((await healthStatus(server)).status).toBe('ok');
    const seeded = await seed(server, 'seed');
    expect(await servedFromCache(server, seeded[0]!), 'cache in use before the outage').toBe(true);
    await waitUntil('the first snapshot', 10_000, async () => (await client.exists(snapshotKey(namespace))) === 1);

    const traffic = new Traffic(server, seeded);
    await samplesIn(traffic, 'up');

    await redis.stop();
    traffic.phase = 'down';
    const noticedMs = await waitUntil('/health degraded', NOTICE_WITHIN_MS, async () => {
      const h = await healthStatus(server);
      return h.code === 200 && h.status === 'degraded';
    });
    await sleep(OUTAGE_MS);
    const duringOutage = await healthStatus(server);

    traffic.phase = 'back';
    const backAt = performance.now();
    await redis.restart(); // empty, same port, new run_id
    const healthyMs = await waitUntil('/health ok', RECOVER_WITHIN_MS, async () => (await healthStatus(server)).status === 'ok');
    const snapshotMs = await waitUntil('a complete snapshot in the empty Redis', RECOVER_WITHIN_MS, async () => {
      return checkSnapshot(await readSnapshot(client, namespace)).problems.length === 0;
    });
    const snapshotAfterBackMs = Math.round(performance.now() - backAt);
    const cacheMs = await waitUntil('cache use to resume', RECOVER_WITHIN_MS, () => servedFromCache(server, seeded[1]!));
    await samplesIn(traffic, 'back');
    await traffic.stop();

    console.log(
      `[redis-outage] degraded noticed in ${noticedMs} ms; after Redis returned: /health ok in ${healthyMs} ms, ` +
        `full snapshot at ${snapshotAfterBackMs} ms (${snapshotMs} ms after ok), cache again ${cacheMs} ms later; ` +
        `${summary(traffic.samples, 'up')}; ${summary(traffic.samples, 'down')}; ${summary(traffic.samples, 'back')}`,
    );

    expect(duringOutage, '/health during the outage').toMatchObject({ code: 200, status: 'degraded' });
    expect(problems(traffic.samples, 'up'), 'before the outage').toEqual([]);
    expect(problems(traffic.samples, 'down'), 'while Redis was down').toEqual([]);
    expect(problems(traffic.samples, 'back'), 'after Redis returned').toEqual([]);
    expect(traffic.samples.filter((s) => s.phase === 'down' && s.kind === 'create' && s.outcome === 201).length).toBeGreaterThan(0);

    // The fresh snapshot is whole and is what the next start restores from.
    const stats = await server.stats();
    const { header } = checkSnapshot(await readSnapshot(client, namespace));
    expect(header?.shards).toBe(stats.shards);
    await server.kill9();
    await server.start();
    await server.waitHealthy();
    const metrics = await server.metrics();
    expect(metricValue(metrics, 'bloomgate_filter_loads_total', { source: 'snapshot' }), 'restored from the post-outage snapshot').toBe(1);
    expect(metricValue(metrics, 'bloomgate_filter_loads_total', { source: 'rebuild' })).toBe(0);
    expect(await idsNotFound(server, traffic.known), 'ids created before, during and after the outage').toEqual([]);
  });

  it('bounds every request when Redis hangs instead of dying', { timeout: 120_000 }, async () => {
    proxy = await startTcpProxy(redis.port);
    server = new ServerProcess({
      redisUrl: `redis://127.0.0.1:${proxy.port}`,
      namespace: uniqueNamespace('hang'),
      // The Redis path's bounds are what this measures. A local cache keeps answering its hot
      // entries until its own check notices the silence (about one check interval plus the
      // command timeout; test/cache/cache-invalidation.test.ts), which "from the database
      // while Redis hangs" below would count as a problem.
      env: { SNAPSHOT_INTERVAL_MS: '200', REDIS_COMMAND_TIMEOUT_MS: '500', LOCAL_CACHE_ENTRIES: '0', ...SINGLE_INSTANCE },
      ...database.serverOptions(),
    });
    await server.start();
    await server.waitHealthy();
    const seeded = await seed(server, 'hang');
    expect(await servedFromCache(server, seeded[0]!)).toBe(true);

    const traffic = new Traffic(server, seeded);
    await samplesIn(traffic, 'up');
    traffic.phase = 'down';
    proxy.blackhole(true);
    const hangStarted = performance.now();
    let degradedAfterMs: number | undefined;
    while (performance.now() - hangStarted < HANG_MS) {
      const h = await healthStatus(server).catch(() => undefined);
      if (degradedAfterMs === undefined && h?.status === 'degraded') degradedAfterMs = Math.round(performance.now() - hangStarted);
      await sleep(100);
    }
    const duringHang = await healthStatus(server);
    traffic.phase = 'back';
    proxy.blackhole(false);
    const healthyMs = await waitUntil('/health ok after the hang', RECOVER_WITHIN_MS, async () => (await healthStatus(server)).status === 'ok');
    const cacheMs = await waitUntil('cache use to resume', RECOVER_WITHIN_MS, () => servedFromCache(server, seeded[1]!));
    await samplesIn(traffic, 'back');
    await traffic.stop();

    console.log(
      `[redis-hang] /health degraded ${degradedAfterMs === undefined ? 'NEVER' : `after ${degradedAfterMs} ms`} during a ${HANG_MS} ms hang ` +
        `(at its end: ${JSON.stringify(duringHang.body)}); ok ${healthyMs} ms after it ended, cache ${cacheMs} ms later; ` +
        `${summary(traffic.samples, 'up')}; ${summary(traffic.samples, 'down')}; ${summary(traffic.samples, 'back')}`,
    );
    expect(problems(traffic.samples, 'up')).toEqual([]);
    expect(problems(traffic.samples, 'down'), 'while Redis hung').toEqual([]);
    expect(problems(traffic.samples, 'back')).toEqual([]);
    expect(await idsNotFound(server, traffic.known)).toEqual([]);
    // A Redis that answers nothing (a partition, a frozen server) is unreachable as far as
    // requests are concerned: every lookup past the filter pays the command timeout until
    // the kernel gives up on the socket. /health must say so (promise 5).
    expect(degradedAfterMs ?? Infinity, `/health said "degraded" within ${NOTICE_WITHIN_MS} ms of Redis hanging`).toBeLessThanOrEqual(NOTICE_WITHIN_MS);
  });
});
