/**
 * The four load scenarios of load/k6/*.js, as autocannon request generators.
 * Every request is built by one `setupRequest` that picks ids from a seeded
 * PRNG, so ids vary per request without building a request list up front, and
 * a run is repeatable.
 *
 * - attack:  random absent ids (the penetration flood): almost every request
 *            must end at the filter.
 * - mixed:   mostly absent ids, some hot and some cold existing ids, and a
 *            trickle of POST /products (run-scenario adds clients that
 *            disconnect mid-request to this one).
 * - hot-key: every connection on ONE existing id that is not cached yet
 *            (cache breakdown): the database should see it about once.
 * - batch:   POST /bloom/check with BATCH_SIZE ids per request.
 *
 * @example
 *   const scenario = SCENARIOS.attack;
 *   const requests = scenario.requests({ productCount: 100_000, hotIds: 100, batchSize: 1000, seed: 1 });
 *   await autocannon({ url, connections: scenario.connections, duration: 5, requests });
 */
import type { Request, RequestData } from 'autocannon';
import { absentId, existingId } from './products-file.js';

export type ScenarioName = 'attack' | 'mixed' | 'hot-key' | 'batch';

export interface ScenarioParams {
  readonly productCount: number;
  /** How many existing ids `mixed` treats as hot. */
  readonly hotIds: number;
  /** Ids per POST /bloom/check in `batch`. */
  readonly batchSize: number;
  readonly seed: number;
}

export interface Scenario {
  readonly name: ScenarioName;
  readonly description: string;
  /** Connections when CONNECTIONS is not set. */
  readonly connections: number;
  /** Whether run-scenario also runs clients that disconnect mid-request. */
  readonly abortClients: boolean;
  /** Ids each request asks about (for ids/s); 1 except for `batch`. */
  idsPerRequest(params: ScenarioParams): number;
  requests(params: ScenarioParams): Request[];
}

/** Absent ids are drawn from a space far larger than a run sends, so the negative cache rarely helps. */
const kAbsentSpace = 1_000_000_000;

/** Mixed traffic shares, out of 1000 requests. */
export const MIXED_SHARES = Object.freeze({ absent: 900, hot: 70, cold: 25, write: 5 });

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JSON_HEADERS = Object.freeze({ 'content-type': 'application/json' });

function get(request: RequestData, id: string): RequestData {
  request.method = 'GET';
  request.path = `/products/${encodeURIComponent(id)}`;
  request.body = '';
  return request;
}

/** The single id `hot-key` hammers: the last one of the file, which nothing else touches first. */
export function hotKeyId(params: ScenarioParams): string {
  return existingId(params.productCount - 1);
}

/** `count` ids, every other one existing, as the JSON body of POST /bloom/check. */
export function checkBody(count: number, random: () => number, productCount: number): string {
  const ids: string[] = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    ids[i] = i % 2 === 0 ? existingId(Math.floor(random() * productCount)) : absentId(Math.floor(random() * kAbsentSpace));
  }
  return JSON.stringify({ ids });
}

export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = Object.freeze({
  attack: {
    name: 'attack',
    description: 'GET /products/{random absent id}: the penetration flood',
    connections: 64,
    abortClients: false,
    idsPerRequest: () => 1,
    requests(params) {
      const random = seededRandom(params.seed);
      return [{ setupRequest: (r) => get(r, absentId(Math.floor(random() * kAbsentSpace))) }];
    },
  },
  mixed: {
    name: 'mixed',
    description: `per 1000 requests: ${MIXED_SHARES.absent} absent, ${MIXED_SHARES.hot} hot, ${MIXED_SHARES.cold} cold existing, ${MIXED_SHARES.write} POST /products; plus clients that disconnect mid-request`,
    connections: 64,
    abortClients: true,
    idsPerRequest: () => 1,
    requests(params) {
      const random = seededRandom(params.seed);
      const hot = Math.max(1, Math.min(params.hotIds, params.productCount));
      let writes = 0;
      return [
        {
          setupRequest(r) {
            const roll = Math.floor(random() * 1000);
            if (roll < MIXED_SHARES.absent) return get(r, absentId(Math.floor(random() * kAbsentSpace)));
            if (roll < MIXED_SHARES.absent + MIXED_SHARES.hot) return get(r, existingId(Math.floor(random() * hot)));
            if (roll < MIXED_SHARES.absent + MIXED_SHARES.hot + MIXED_SHARES.cold) {
              return get(r, existingId(hot + Math.floor(random() * Math.max(1, params.productCount - hot))));
            }
            writes++;
            r.method = 'POST';
            r.path = '/products';
            r.headers = { ...JSON_HEADERS };
            r.body = JSON.stringify({ id: `LOAD-${params.seed}-${writes}`, name: `Load ${writes}`, price: 9.5 });
            return r;
          },
        },
      ];
    },
  },
  'hot-key': {
    name: 'hot-key',
    description: 'every connection on ONE existing, uncached id (cache breakdown)',
    connections: 1000,
    abortClients: false,
    idsPerRequest: () => 1,
    requests(params) {
      const id = hotKeyId(params);
      return [{ method: 'GET', path: `/products/${encodeURIComponent(id)}` }];
    },
  },
  batch: {
    name: 'batch',
    description: 'POST /bloom/check with BATCH_SIZE ids per request, half existing',
    connections: 16,
    abortClients: false,
    idsPerRequest: (params) => params.batchSize,
    requests(params) {
      const random = seededRandom(params.seed);
      // A few distinct bodies, built once: building 1000-id JSON per request would load the client, not the server.
      const bodies = Array.from({ length: 16 }, () => checkBody(params.batchSize, random, params.productCount));
      let next = 0;
      return [
        {
          setupRequest(r) {
            r.method = 'POST';
            r.path = '/bloom/check';
            r.headers = { ...JSON_HEADERS };
            r.body = bodies[next++ % bodies.length]!;
            return r;
          },
        },
      ];
    },
  },
});

export function isScenarioName(name: string): name is ScenarioName {
  return Object.hasOwn(SCENARIOS, name);
}
