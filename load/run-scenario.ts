/**
 * `npm run load:<scenario>`: generates a products file, starts the real
 * server on a free port with a fresh DB_PATH and a unique Redis namespace,
 * waits for /health, runs one scenario of load/scenarios.ts with autocannon,
 * prints a summary and stops the server (SIGTERM, then SIGKILL).
 *
 *   npx tsx load/run-scenario.ts attack|mixed|hot-key|batch
 *   DURATION_S=5 CONNECTIONS=64 REDIS_URL=redis://127.0.0.1:6379 LOOKUP_PATH=pool npm run load:mixed
 *
 * Exits 1 when the server answered any 5xx, crashed, or did not stop on SIGTERM.
 */
import autocannon from 'autocannon';
import { startAbortClients, type AbortCounts } from './abort-clients.js';
import { writeProductsFile } from './products-file.js';
import { deleteNamespaceKeys, runNamespace } from './redis-namespace.js';
import { isScenarioName, SCENARIOS, type ScenarioParams } from './scenarios.js';
import { startServer } from './server-process.js';

// Every knob, with its default.
const DURATION_S = Number(process.env.DURATION_S ?? 5);
const CONNECTIONS = process.env.CONNECTIONS === undefined ? undefined : Number(process.env.CONNECTIONS);
const REDIS_URL = process.env.REDIS_URL ?? 'memory://';
const LOOKUP_PATH = process.env.LOOKUP_PATH ?? 'inline';
const PRODUCT_COUNT = Number(process.env.PRODUCT_COUNT ?? 100_000);
const HOT_IDS = Number(process.env.HOT_IDS ?? 100);
const BATCH_SIZE = Number(process.env.BATCH_SIZE ?? 1000);
const ABORT_CLIENTS = Number(process.env.ABORT_CLIENTS ?? 8);
const SEED = Number(process.env.SEED ?? 1);
const SERVER_ENTRY = process.env.SERVER_ENTRY ?? 'src/index.ts';
const HEALTH_TIMEOUT_MS = Number(process.env.HEALTH_TIMEOUT_MS ?? 60_000);

interface Stats {
  readonly [key: string]: unknown;
}

async function fetchStats(url: string): Promise<Stats | null> {
  try {
    const res = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(2_000) });
    if (res.status !== 200) return null;
    return (await res.json()) as Stats;
  } catch {
    return null;
  }
}

async function alive(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

function pick(stats: Stats | null, key: string): string {
  const value = stats?.[key];
  return value === undefined ? 'n/a' : JSON.stringify(value);
}

async function main(): Promise<number> {
  const name = process.argv[2] ?? '';
  if (!isScenarioName(name)) {
    console.error(`usage: tsx load/run-scenario.ts <${Object.keys(SCENARIOS).join('|')}>`);
    return 2;
  }
  const scenario = SCENARIOS[name];
  const connections = CONNECTIONS ?? scenario.connections;
  const params: ScenarioParams = { productCount: PRODUCT_COUNT, hotIds: HOT_IDS, batchSize: BATCH_SIZE, seed: SEED };
  const namespace = runNamespace(`load-${name}`);

  const data = await writeProductsFile(PRODUCT_COUNT);
  const server = await startServer({
    name: 'bloomgate',
    entry: SERVER_ENTRY,
    healthTimeoutMs: HEALTH_TIMEOUT_MS,
    env: {
      DB_PATH: data.dbPath('bloomgate'),
      PRODUCTS_FILE: data.productsFile,
      REDIS_URL,
      LOOKUP_PATH,
      BLOOM_STATE_NAMESPACE: namespace,
    },
  });
  let failed = false;
  try {
    console.log(`scenario ${name}: ${scenario.description}`);
    console.log(
      `server ${SERVER_ENTRY} pid ${server.pid} on ${server.url}, healthy after ${server.readyMs} ms; ` +
        `${PRODUCT_COUNT} products, REDIS_URL=${REDIS_URL}, LOOKUP_PATH=${LOOKUP_PATH}, namespace ${namespace}`,
    );
    console.log(`autocannon: ${connections} connections, ${DURATION_S} s` + (scenario.abortClients ? `, ${ABORT_CLIENTS} aborting clients` : ''));

    const aborts = scenario.abortClients && ABORT_CLIENTS > 0
      ? startAbortClients({ port: server.port, clients: ABORT_CLIENTS, productCount: PRODUCT_COUNT, seed: SEED })
      : null;
    const result = await autocannon({
      url: server.url,
      connections,
      duration: DURATION_S,
      timeout: 10,
      requests: scenario.requests(params),
    });
    const abortCounts: AbortCounts | null = aborts === null ? null : await aborts.stop();
    const stats = await fetchStats(server.url);
    const stillAlive = server.alive() && (await alive(server.url));

    const perRequest = scenario.idsPerRequest(params);
    const statuses = Object.entries(result.statusCodeStats)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([code, { count }]) => `${code}: ${count}`)
      .join(', ');
    console.log('');
    console.log(`requests/s        ${Math.round(result.requests.average)}` + (perRequest > 1 ? ` (${Math.round(result.requests.average * perRequest)} ids/s)` : ''));
    console.log(`latency ms        p50 ${result.latency.p50}  p99 ${result.latency.p99}  max ${result.latency.max}`);
    console.log(`responses         ${result.requests.total} (${statuses || 'none'})`);
    console.log(`2xx / 4xx / 5xx   ${result['2xx']} / ${result['4xx']} / ${result['5xx']}`);
    console.log(`errors/timeouts   ${result.errors} / ${result.timeouts}`);
    if (abortCounts !== null) console.log(`aborted clients   ${JSON.stringify(abortCounts)}`);
    if (stats === null) {
      console.log('/stats            unavailable');
    } else {
      console.log(`db round trips    avoided ${pick(stats, 'db_roundtrips_avoided')}, reduction ${pick(stats, 'db_roundtrip_reduction')}, db_queries ${pick(stats, 'db_queries')}`);
      console.log(
        `lookups           ${pick(stats, 'lookups')}: bloom_rejected ${pick(stats, 'bloom_rejected')}, cache_hit ${pick(stats, 'cache_hit')}, ` +
          `negative_cache_hit ${pick(stats, 'negative_cache_hit')}, db_hit ${pick(stats, 'db_hit')}, db_miss ${pick(stats, 'db_miss')}`,
      );
    }
    console.log(`server alive      ${stillAlive ? 'yes' : 'NO'}`);
    failed = result['5xx'] > 0 || !stillAlive || (abortCounts !== null && abortCounts.refused > 0);
  } finally {
    const exit = await server.stop();
    console.log(`server stopped    ${JSON.stringify(exit)}`);
    if (exit.killed) failed = true;
    if (failed) console.log(`last server output:\n${server.output()}`);
    await data.remove();
    await deleteNamespaceKeys(REDIS_URL, namespace);
  }
  return failed ? 1 : 0;
}

process.exitCode = await main();
