/**
 * The servers a run compares, started once each: bare uWS (the ceiling),
 * bloomgate with the inline and the pool lookup path, and the peer service.
 * Only the servers the chosen scenarios use are started.
 */
import { existsSync } from 'node:fs';
import { existingId, type ProductsData } from '../products-file.js';
import { startServer, type ServerProcess } from '../server-process.js';
import { BLOOM_CAPACITY, BLOOM_FPR, BLOOM_SHARDS, HOT_IDS, LOCAL_CACHE_ENTRIES, REDIS_URL, SERVER_ENTRY, WORKERS, type ServerName } from './options.js';

export interface StartedServers {
  readonly servers: Map<ServerName, ServerProcess>;
  /** Why a server is missing, and other facts the report must state. */
  readonly notes: string[];
}

export async function startServers(
  needed: ReadonlySet<ServerName>,
  data: ProductsData,
  options: { namespace: string; redisUp: boolean; bloomgateRedis: string },
  started: StartedServers,
): Promise<void> {
  const { servers, notes } = started;
  if (needed.has('bare')) servers.set('bare', await startServer({ name: 'bare uWS', entry: 'load/bare-uws.ts', env: {} }));
  const paths = (['inline', 'inline-nolocal', 'pool'] as const).filter((path) => needed.has(path));
  if (paths.length > 0 && !existsSync(SERVER_ENTRY)) notes.push(`${SERVER_ENTRY} does not exist yet: every bloomgate row is pending.`);
  else {
    for (const path of paths) {
      const env: Record<string, string> = {
        DB_PATH: data.dbPath(`bloomgate-${path}`),
        PRODUCTS_FILE: data.productsFile,
        REDIS_URL: options.bloomgateRedis,
        LOOKUP_PATH: path === 'pool' ? 'pool' : 'inline',
        LOCAL_CACHE_ENTRIES: path === 'inline-nolocal' ? '0' : String(LOCAL_CACHE_ENTRIES),
        BLOOM_STATE_NAMESPACE: `${options.namespace}-${path}`,
        BLOOM_CAPACITY: String(BLOOM_CAPACITY),
        BLOOM_FPR: String(BLOOM_FPR),
        BLOOM_SHARDS: String(BLOOM_SHARDS),
        LOG_LEVEL: 'warn',
      };
      if (WORKERS !== undefined) env.WORKERS = WORKERS;
      servers.set(path, await startServer({ name: `bloomgate ${path}`, entry: SERVER_ENTRY, env }));
    }
  }
  if (needed.has('peer')) {
    const peerInstalled = existsSync(new URL('../peer/node_modules/fastify/package.json', import.meta.url));
    if (!peerInstalled) notes.push('load/peer dependencies are not installed (npm install --prefix load/peer): peer rows skipped.');
    else if (!options.redisUp) notes.push(`no Redis answers at ${REDIS_URL}: the peer needs a real one, peer rows skipped.`);
    else {
      servers.set(
        'peer',
        await startServer({
          name: 'peer (fastify + ioredis + bloom-filters)',
          entry: 'load/peer/server.mjs',
          env: {
            DB_PATH: data.dbPath('peer'),
            PRODUCTS_FILE: data.productsFile,
            REDIS_URL,
            BLOOM_STATE_NAMESPACE: `${options.namespace}-peer`,
            BLOOM_CAPACITY: String(BLOOM_CAPACITY),
            BLOOM_FPR: String(BLOOM_FPR),
          },
        }),
      );
    }
  }
  if (!options.redisUp && (servers.has('inline') || servers.has('pool'))) {
    notes.push(`no Redis at ${REDIS_URL}: bloomgate ran with REDIS_URL=memory://, so hits are not Redis-bound.`);
  }
}

/** GETs `path`, checks the status, returns the body's length in bytes. */
export async function expectStatus(server: ServerProcess, path: string, status: number): Promise<number> {
  const res = await fetch(`${server.url}${path}`);
  const text = await res.text();
  if (res.status !== status) throw new Error(`${server.name} ${path}: expected ${status}, got ${res.status} ${text}`);
  return Buffer.byteLength(text);
}

/** Reads the HOT_IDS ids once, so the hit cases are served from the cache. */
export async function warmCache(server: ServerProcess): Promise<void> {
  const ids = Array.from({ length: HOT_IDS }, (_, i) => existingId(i));
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(ids.slice(i, i + 50).map((id) => expectStatus(server, `/products/${id}`, 200)));
  }
  // The second read of each must come from the cache.
  const res = await fetch(`${server.url}/products/${existingId(0)}`);
  const body = (await res.json()) as { source?: string };
  if (body.source !== 'cache') throw new Error(`${server.name}: a warmed id came from ${body.source}, not the cache`);
}
