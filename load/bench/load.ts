/** Load generation: one function per load generator, each able to drive every workload. */
import autocannon, { type RequestData } from 'autocannon';
import { ABSENT_PREFIX, EXISTING_PREFIX, existingId } from '../products-file.js';
import { seededRandom } from '../scenarios.js';
import type { ServerProcess } from '../server-process.js';
import { getIdsScript, postBodiesScript, runWrk } from '../wrk.js';
import { CHECK_CONNECTIONS, CONNECTIONS, HOT_IDS, P99_CONNECTIONS, P99_DELAY_MS, SEED, WRK_THREADS, type LoadResult, type Workload } from './options.js';

export interface LoadContext {
  readonly dir: string;
  readonly bodiesFile: string;
  /** /bloom/check request bodies, cycled over. */
  readonly bodies: readonly string[];
}

export type RunLoad = (ctx: LoadContext, server: ServerProcess, workload: Workload, durationS: number) => Promise<LoadResult>;

export const runWithWrk: RunLoad = async (ctx, server, workload, durationS) => {
  const base = { url: server.url, durationS, threads: WRK_THREADS, dir: ctx.dir };
  const absent = getIdsScript(ABSENT_PREFIX, 8, null, Math.floor(seededRandom(SEED)() * 1e7));
  const result =
    workload === 'reject'
      ? await runWrk({ ...base, connections: CONNECTIONS, script: absent })
      : workload === 'reject-fixed'
        ? await runWrk({ ...base, connections: P99_CONNECTIONS, delayMs: P99_DELAY_MS, script: absent })
        : workload === 'hit'
          ? await runWrk({ ...base, connections: CONNECTIONS, script: getIdsScript(EXISTING_PREFIX, 8, HOT_IDS) })
          : await runWrk({ ...base, connections: CHECK_CONNECTIONS, script: postBodiesScript('/bloom/check', ctx.bodiesFile) });
  const e = result.errors;
  // Rejections are 404s, which wrk counts as status errors; hits and checks must be 200.
  const statusErrors = workload === 'hit' || workload === 'check' ? e.status : 0;
  return { rps: result.rps, p50Us: result.p50Us, p99Us: result.p99Us, errors: statusErrors + e.connect + e.read + e.write + e.timeout };
};

export const runWithAutocannon: RunLoad = async (ctx, server, workload, durationS) => {
  let n = Math.floor(seededRandom(SEED)() * 1e7);
  let next = 0;
  const setupRequest = (r: RequestData): RequestData => {
    if (workload === 'check') {
      r.method = 'POST';
      r.path = '/bloom/check';
      r.headers = { 'content-type': 'application/json' };
      r.body = ctx.bodies[next++ % ctx.bodies.length]!;
    } else if (workload === 'hit') {
      r.path = `/products/${existingId(next++ % HOT_IDS)}`;
    } else {
      r.path = `/products/${ABSENT_PREFIX}${String(n++).padStart(8, '0')}`;
    }
    return r;
  };
  const connections = workload === 'check' ? CHECK_CONNECTIONS : workload === 'reject-fixed' ? P99_CONNECTIONS : CONNECTIONS;
  const result = await autocannon({
    url: server.url,
    duration: durationS,
    timeout: 5,
    connections,
    ...(workload === 'reject-fixed' ? { overallRate: Math.round((P99_CONNECTIONS * 1000) / P99_DELAY_MS) } : {}),
    requests: [{ setupRequest }],
  });
  const bad = workload === 'hit' || workload === 'check' ? result.non2xx : result['5xx'];
  // autocannon records latency in whole milliseconds.
  return { rps: result.requests.average, p50Us: result.latency.p50 * 1000, p99Us: result.latency.p99 * 1000, errors: bad + result.errors + result.timeouts };
};
