/**
 * `npm run bench`: the ratios of issue 4, each measured against its baseline
 * in the same run. Every server is started once; then each round runs every
 * case once, in an order rotated per round, so slow drift on a shared machine
 * hits A and B alike. Ratios are the median of the per-round ratios.
 *
 *   npm run bench
 *   BENCH_ROUNDS=7 BENCH_DURATION_S=5 BENCH_CONNECTIONS=64 npm run bench
 *
 * Prints one markdown table (paste it into load/RESULTS.md) with the exact
 * command, the machine and the Node version. Client and server share the
 * machine's cores: the load generator takes about one of them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon, { type RequestData } from 'autocannon';
import { BloomFilter } from '../src/filter/bloom-filter.js';
import { allocateFilterBuffer, createLayout } from '../src/filter/layout.js';
import { computeFilterParams } from '../src/filter/sizing.js';
import { ABSENT_PREFIX, EXISTING_PREFIX, existingId, writeProductsFile } from './products-file.js';
import { deleteNamespaceKeys, redisReachable, runNamespace } from './redis-namespace.js';
import { checkBody, seededRandom } from './scenarios.js';
import { startServer, type ServerProcess } from './server-process.js';
import { getIdsScript, postBodiesScript, runWrk, wrkAvailable } from './wrk.js';

// Every knob, with its default.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 3);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 1);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const WRK_THREADS = Number(process.env.BENCH_WRK_THREADS ?? 1);
/** wrk, or autocannon; wrk by default when it is installed (apt-get install -y wrk). */
const LOADGEN = process.env.BENCH_LOADGEN ?? '';
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 100_000);
/** Cached ids the hit cases cycle over (warmed before measuring). */
const HOT_IDS = Number(process.env.BENCH_HOT_IDS ?? 1000);
const CHECK_BATCH = Number(process.env.BENCH_CHECK_BATCH ?? 1000);
const CHECK_CONNECTIONS = Number(process.env.BENCH_CHECK_CONNECTIONS ?? 8);
/** Fixed offered load for the p99 comparison: about P99_CONNECTIONS * 1000 / P99_DELAY_MS req/s. */
const P99_CONNECTIONS = Number(process.env.BENCH_P99_CONNECTIONS ?? 100);
const P99_DELAY_MS = Number(process.env.BENCH_P99_DELAY_MS ?? 5);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SERVER_ENTRY = process.env.BENCH_SERVER_ENTRY ?? 'src/index.ts';
const BLOOM_CAPACITY = Number(process.env.BLOOM_CAPACITY ?? 1_000_000);
const BLOOM_FPR = Number(process.env.BLOOM_FPR ?? 0.01);
const BLOOM_SHARDS = Number(process.env.BLOOM_SHARDS ?? 64);
const WORKERS = process.env.WORKERS;
const SEED = Number(process.env.SEED ?? 1);

/** Published RedisBloom figure for pipelined BF.MEXISTS, quoted from issue 4 for context. */
const REDISBLOOM_QUOTE = '1.7-2.3M ops/s (RedisBloom, pipelined BF.MEXISTS, published)';

type ServerName = 'bare' | 'inline' | 'pool' | 'peer';
type Workload = 'reject' | 'hit' | 'check' | 'reject-fixed';

interface Case {
  readonly key: string;
  readonly server: ServerName;
  readonly workload: Workload;
}

/**
 * Cases compared with each other run back to back in one block (order rotated
 * per round), so each ratio's two halves are seconds apart, not a whole round.
 */
interface Block {
  readonly name: string;
  readonly cases: readonly Case[];
}

type LoadResult = Omit<Sample, 'cpuUsPerReq'>;

interface Sample {
  readonly rps: number;
  /** Server process CPU (all threads) per request, in microseconds: robust to a client-bound run. */
  readonly cpuUsPerReq: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** Responses that were not the workload's expected kind (wrk: status >= 400 on hits; connect/read/timeout errors). */
  readonly errors: number;
}

interface Row {
  readonly figure: string;
  readonly value: string;
  readonly target: string;
  readonly verdict: string;
}

const log = (line: string): void => console.error(line);

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

function fmtRatio(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(2)}x` : 'n/a';
}

function commandLine(): string {
  const knobs = Object.keys(process.env)
    .filter((k) => k.startsWith('BENCH_') || ['REDIS_URL', 'BLOOM_CAPACITY', 'BLOOM_FPR', 'BLOOM_SHARDS', 'WORKERS', 'SEED'].includes(k))
    .sort()
    .map((k) => `${k}=${process.env[k]}`);
  return [...knobs, 'npm run bench'].join(' ');
}

function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? Number.NaN : Number(match[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

const CLOCK_TICKS_PER_S = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU of a process, all threads, in ms (Linux /proc). NaN elsewhere. */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return Number.NaN;
  }
}

function wrkVersion(): string {
  try {
    return execFileSync('wrk', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0] ?? 'wrk';
  } catch (err) {
    const out = (err as { stdout?: string }).stdout ?? '';
    return out.split('\n')[0] ?? 'wrk';
  }
}

// ---------------------------------------------------------------------------
// Load generation: one function per workload, for wrk and for autocannon.

interface LoadContext {
  readonly dir: string;
  readonly bodiesFile: string;
  readonly bodies: readonly string[];
}

async function runWithWrk(ctx: LoadContext, server: ServerProcess, workload: Workload, durationS: number): Promise<LoadResult> {
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
}

async function runWithAutocannon(ctx: LoadContext, server: ServerProcess, workload: Workload, durationS: number): Promise<LoadResult> {
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
}

// ---------------------------------------------------------------------------

/** Single-thread in-process baseline for /bloom/check: the same ids through BloomFilter.has. */
function inProcessIdsPerSecond(filter: BloomFilter, ids: readonly string[]): number {
  let maybe = 0;
  let checked = 0;
  const started = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < ids.length; i++) if (filter.has(ids[i]!)) maybe++;
    checked += ids.length;
    elapsed = performance.now() - started;
  } while (elapsed < 300);
  if (maybe < 0) console.log(maybe); // uses the result, so the loop cannot be optimised away
  return (checked / elapsed) * 1000;
}

async function expectStatus(server: ServerProcess, path: string, status: number): Promise<number> {
  const res = await fetch(`${server.url}${path}`);
  const text = await res.text();
  if (res.status !== status) throw new Error(`${server.name} ${path}: expected ${status}, got ${res.status} ${text}`);
  return Buffer.byteLength(text);
}

async function warmCache(server: ServerProcess): Promise<void> {
  const ids = Array.from({ length: HOT_IDS }, (_, i) => existingId(i));
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(ids.slice(i, i + 50).map((id) => expectStatus(server, `/products/${id}`, 200)));
  }
  // The second read of each must come from the cache.
  const res = await fetch(`${server.url}/products/${existingId(0)}`);
  const body = (await res.json()) as { source?: string };
  if (body.source !== 'cache') throw new Error(`${server.name}: a warmed id came from ${body.source}, not the cache`);
}

async function main(): Promise<void> {
  const useWrk = LOADGEN === 'autocannon' ? false : await wrkAvailable();
  if (LOADGEN === 'wrk' && !useWrk) throw new Error('BENCH_LOADGEN=wrk but wrk is not installed (apt-get install -y wrk)');
  const redisUp = await redisReachable(REDIS_URL);
  const bloomgateExists = existsSync(SERVER_ENTRY);
  const peerInstalled = existsSync(new URL('./peer/node_modules/fastify/package.json', import.meta.url));
  const namespace = runNamespace('bench');
  const bloomgateRedis = redisUp ? REDIS_URL : 'memory://';

  log(`bench: ${ROUNDS} rounds x ${DURATION_S} s, ${CONNECTIONS} connections, load generator ${useWrk ? `${wrkVersion()} (-t${WRK_THREADS})` : 'autocannon 8'}`);
  const data = await writeProductsFile(PRODUCTS);
  const bodies = Array.from({ length: 16 }, (_, i) => checkBody(CHECK_BATCH, seededRandom(SEED + i), PRODUCTS));
  const bodiesFile = join(data.dir, 'check-bodies.jsonl');
  await writeFile(bodiesFile, bodies.join('\n') + '\n');
  const ctx: LoadContext = { dir: data.dir, bodiesFile, bodies };
  const run = useWrk ? runWithWrk : runWithAutocannon;

  const servers = new Map<ServerName, ServerProcess>();
  const notes: string[] = [];
  try {
    servers.set('bare', await startServer({ name: 'bare uWS', entry: 'load/bare-uws.ts', env: {} }));
    if (bloomgateExists) {
      for (const path of ['inline', 'pool'] as const) {
        const env: Record<string, string> = {
          DB_PATH: data.dbPath(`bloomgate-${path}`),
          PRODUCTS_FILE: data.productsFile,
          REDIS_URL: bloomgateRedis,
          LOOKUP_PATH: path,
          BLOOM_STATE_NAMESPACE: `${namespace}-${path}`,
          BLOOM_CAPACITY: String(BLOOM_CAPACITY),
          BLOOM_FPR: String(BLOOM_FPR),
          BLOOM_SHARDS: String(BLOOM_SHARDS),
          LOG_LEVEL: 'warn',
        };
        if (WORKERS !== undefined) env.WORKERS = WORKERS;
        servers.set(path, await startServer({ name: `bloomgate ${path}`, entry: SERVER_ENTRY, env }));
      }
    } else {
      notes.push(`${SERVER_ENTRY} does not exist yet: every bloomgate row is pending.`);
    }
    if (!peerInstalled) notes.push('load/peer dependencies are not installed (npm install --prefix load/peer): peer rows skipped.');
    else if (!redisUp) notes.push(`no Redis answers at ${REDIS_URL}: the peer needs a real one, peer rows skipped.`);
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
            BLOOM_STATE_NAMESPACE: `${namespace}-peer`,
            BLOOM_CAPACITY: String(BLOOM_CAPACITY),
            BLOOM_FPR: String(BLOOM_FPR),
          },
        }),
      );
    }
    if (!redisUp) notes.push(`no Redis at ${REDIS_URL}: bloomgate ran with REDIS_URL=memory://, so hits are not Redis-bound.`);

    // Same body size for every rejection, or the ceiling is not a like-for-like ceiling.
    const sizes = new Map<ServerName, number>();
    for (const [name, server] of servers) sizes.set(name, await expectStatus(server, `/products/${ABSENT_PREFIX}00000001`, 404));
    const bareSize = sizes.get('bare')!;
    for (const [name, size] of sizes) {
      if (size !== bareSize) notes.push(`rejection body of ${name} is ${size} bytes, bare uWS sends ${bareSize}: update load/bare-uws.ts.`);
    }
    for (const name of ['inline', 'pool', 'peer'] as const) {
      const server = servers.get(name);
      if (server !== undefined) await warmCache(server);
    }

    const blocks: Block[] = [];
    const block = (name: string, members: readonly [ServerName, Workload][]): void => {
      const cases = members
        .filter(([server]) => servers.has(server))
        .map(([server, workload]) => ({ key: `${workload}:${server}`, server, workload }));
      if (cases.length > 0) blocks.push({ name, cases });
    };
    block('reject', [['bare', 'reject'], ['inline', 'reject'], ['pool', 'reject'], ['peer', 'reject']]);
    block('hit', [['bare', 'reject'], ['inline', 'hit'], ['pool', 'hit'], ['peer', 'hit']]);
    block('fixed', [['bare', 'reject-fixed'], ['inline', 'reject-fixed'], ['pool', 'reject-fixed']]);
    block('check', [['inline', 'check']]);
    const allCases = blocks.flatMap((b) => b.cases.map((c) => ({ ...c, key: `${b.name}/${c.key}` })));

    // The generator check: how fast each generator can drive the ceiling.
    let generatorNote = '';
    const bare = servers.get('bare')!;
    if (useWrk) {
      const viaWrk = await runWithWrk(ctx, bare, 'reject', DURATION_S);
      const viaAutocannon = await runWithAutocannon(ctx, bare, 'reject', DURATION_S);
      generatorNote =
        `load generator: bare uWS rejections driven by wrk ${fmtInt(viaWrk.rps)} req/s vs autocannon ${fmtInt(viaAutocannon.rps)} req/s ` +
        `(${fmtRatio(viaWrk.rps / viaAutocannon.rps)}) in this run: autocannon saturates its own core first, so wrk measures the servers.`;
      log(generatorNote);
    }

    for (const b of blocks) {
      for (const c of b.cases) {
        log(`warm-up ${b.name}/${c.key}`);
        await run(ctx, servers.get(c.server)!, c.workload, WARMUP_S);
      }
    }

    // In-process baseline filter: same sizing as the servers, the same products.
    const params = computeFilterParams(BLOOM_CAPACITY, BLOOM_FPR, BLOOM_SHARDS);
    const layout = createLayout(params, (SEED * 2654435761) >>> 0);
    const filter = new BloomFilter(allocateFilterBuffer(layout), layout);
    for (let i = 0; i < PRODUCTS; i++) filter.add(existingId(i));
    filter.addItems(PRODUCTS);
    const checkIds = bodies.flatMap((b) => (JSON.parse(b) as { ids: string[] }).ids);

    const samples = new Map<string, Sample[]>();
    const loop: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (let bi = 0; bi < blocks.length; bi++) {
        const b = blocks[(bi + round) % blocks.length]!;
        for (let ci = 0; ci < b.cases.length; ci++) {
          const c = b.cases[(ci + round) % b.cases.length]!;
          const server = servers.get(c.server)!;
          const cpuBefore = cpuMs(server.pid);
          const result = await run(ctx, server, c.workload, DURATION_S);
          const cpuUsed = cpuMs(server.pid) - cpuBefore;
          const sample: Sample = { ...result, cpuUsPerReq: (cpuUsed * 1000) / (result.rps * DURATION_S) };
          const key = `${b.name}/${c.key}`;
          samples.set(key, [...(samples.get(key) ?? []), sample]);
          log(
            `round ${round + 1}/${ROUNDS} ${key.padEnd(26)} ${fmtInt(sample.rps).padStart(8)} req/s  p99 ${(sample.p99Us / 1000).toFixed(2)} ms  ` +
              `server CPU ${sample.cpuUsPerReq.toFixed(1)} us/req  errors ${sample.errors}`,
          );
        }
        if (b.name === 'check') {
          loop.push(inProcessIdsPerSecond(filter, checkIds));
          log(`round ${round + 1}/${ROUNDS} in-process loop            ${fmtInt(loop[loop.length - 1]!)} ids/s`);
        }
      }
    }

    // Ratios: median over rounds of (A in round r) / (B in round r).
    const per = (key: string): Sample[] => samples.get(key) ?? [];
    const ratio = (a: string, b: string, field: 'rps' | 'p99Us' | 'cpuUsPerReq'): number => {
      const as = per(a);
      const bs = per(b);
      if (as.length === 0 || bs.length === 0) return Number.NaN;
      return median(as.map((s, i) => s[field] / bs[i]![field]));
    };
    const med = (key: string, field: keyof Sample): number => median(per(key).map((s) => s[field]));
    const verdict = (value: number, target: number, atLeast: boolean): string =>
      !Number.isFinite(value) ? 'pending' : (atLeast ? value >= target : value <= target) ? 'meets' : 'MISSES';

    const rows: Row[] = [];
    const ratioRow = (figure: string, value: number, target: number | null, atLeast = true): void => {
      rows.push({
        figure,
        value: fmtRatio(value),
        target: target === null ? '(report)' : `${atLeast ? '>=' : '<='} ${target}x`,
        verdict: target === null ? (Number.isFinite(value) ? '' : 'pending') : verdict(value, target, atLeast),
      });
    };
    // The issue's targets are for the default path (inline); the pool path is reported beside it.
    ratioRow('rejections/s, inline vs bare uWS', ratio('reject/reject:inline', 'reject/reject:bare', 'rps'), 0.92);
    ratioRow('rejections/s, pool vs bare uWS', ratio('reject/reject:pool', 'reject/reject:bare', 'rps'), null);
    ratioRow('server CPU per rejection, inline vs bare uWS (lower is better)', ratio('reject/reject:inline', 'reject/reject:bare', 'cpuUsPerReq'), null);
    ratioRow('server CPU per rejection, pool vs bare uWS (all threads)', ratio('reject/reject:pool', 'reject/reject:bare', 'cpuUsPerReq'), null);
    const offered = `${fmtInt(med('fixed/reject-fixed:bare', 'rps'))} req/s (${P99_CONNECTIONS} conns, ${P99_DELAY_MS} ms mean think time)`;
    ratioRow(`p99 at the same offered load, ~${offered}, inline vs bare`, ratio('fixed/reject-fixed:inline', 'fixed/reject-fixed:bare', 'p99Us'), 1.3, false);
    ratioRow('p99 at the same offered load, pool vs bare', ratio('fixed/reject-fixed:pool', 'fixed/reject-fixed:bare', 'p99Us'), null);
    ratioRow(`p99 at saturation (${CONNECTIONS} conns), inline vs bare`, ratio('reject/reject:inline', 'reject/reject:bare', 'p99Us'), null);
    ratioRow(`p99 at saturation (${CONNECTIONS} conns), pool vs bare`, ratio('reject/reject:pool', 'reject/reject:bare', 'p99Us'), null);
    ratioRow('cache hits/s, inline vs bare uWS', ratio('hit/hit:inline', 'hit/reject:bare', 'rps'), null);
    ratioRow('cache hits/s, pool vs bare uWS', ratio('hit/hit:pool', 'hit/reject:bare', 'rps'), null);
    ratioRow('rejections/s, inline vs peer', ratio('reject/reject:inline', 'reject/reject:peer', 'rps'), 2.5);
    ratioRow('rejections/s, pool vs peer', ratio('reject/reject:pool', 'reject/reject:peer', 'rps'), null);
    ratioRow('cache hits/s, inline vs peer', ratio('hit/hit:inline', 'hit/hit:peer', 'rps'), null);
    ratioRow('cache hits/s, pool vs peer', ratio('hit/hit:pool', 'hit/hit:peer', 'rps'), null);
    const checkIdsPerS = per('check/check:inline').map((s) => s.rps * CHECK_BATCH);
    ratioRow(
      `/bloom/check ids/s (${CHECK_BATCH} per request) vs in-process loop`,
      median(checkIdsPerS.map((v, i) => v / loop[i]!)),
      0.3,
    );

    const out: string[] = [];
    out.push(`Command: \`${commandLine()}\``);
    out.push(
      `Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; ` +
        `load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}. Client and servers share these cores: the load generator takes about one.`,
    );
    out.push(
      `Load: ${useWrk ? `${wrkVersion()}, -t${WRK_THREADS} -c${CONNECTIONS}` : `autocannon 8, ${CONNECTIONS} connections`}, ${ROUNDS} rounds x ${DURATION_S} s per case, ` +
        `cases compared with each other run back to back, in an order rotated each round; ratio = median over rounds of A/B from the same round. ${PRODUCTS.toLocaleString('en-US')} products, ` +
        `filter capacity ${BLOOM_CAPACITY.toLocaleString('en-US')} at FPR ${BLOOM_FPR}; REDIS_URL ${bloomgateRedis}; hits cycle over ${HOT_IDS} warmed ids.`,
    );
    if (generatorNote !== '') out.push(generatorNote);
    out.push('');
    out.push('| figure | ratio | target | verdict |');
    out.push('| --- | --- | --- | --- |');
    for (const r of rows) out.push(`| ${r.figure} | ${r.value} | ${r.target} | ${r.verdict} |`);
    out.push('');
    out.push('| block/case | req/s (median) | p50 ms | p99 ms | server CPU us/req | errors (all rounds) |');
    out.push('| --- | --- | --- | --- | --- | --- |');
    for (const c of allCases) {
      const errs = per(c.key).reduce((sum, s) => sum + s.errors, 0);
      out.push(
        `| ${c.key} | ${fmtInt(med(c.key, 'rps'))} | ${(med(c.key, 'p50Us') / 1000).toFixed(2)} | ${(med(c.key, 'p99Us') / 1000).toFixed(2)} | ` +
          `${med(c.key, 'cpuUsPerReq').toFixed(1)} | ${errs} |`,
      );
    }
    out.push(`| /bloom/check ids/s end to end | ${fmtInt(median(checkIdsPerS))} | | | | |`);
    out.push(`| in-process loop ids/s (1 thread, BloomFilter.has) | ${fmtInt(median(loop))} | | | | |`);
    out.push(`| for context | ${REDISBLOOM_QUOTE} | | | | |`);
    out.push('');
    for (const server of servers.values()) {
      out.push(`- ${server.name}: healthy ${fmtInt(server.readyMs)} ms after spawn (tsx compile included), RSS ${fmtInt(rssMb(server.pid))} MB at the end`);
    }
    for (const name of ['inline', 'pool'] as const) {
      const server = servers.get(name);
      if (server === undefined) continue;
      const stats = (await (await fetch(`${server.url}/stats`)).json()) as Record<string, unknown>;
      out.push(
        `- bloomgate ${name} /stats after the run: lookups ${String(stats.lookups)}, bloom_rejected ${String(stats.bloom_rejected)}, ` +
          `cache_hit ${String(stats.cache_hit)}, db_queries ${String(stats.db_queries)}, db_roundtrips_avoided ${String(stats.db_roundtrips_avoided)}`,
      );
    }
    for (const n of notes) out.push(`- note: ${n}`);
    console.log(out.join('\n'));
  } finally {
    for (const server of servers.values()) {
      const exit = await server.stop();
      if (exit.killed || (exit.code !== 0 && exit.code !== null)) {
        log(`${server.name} did not stop cleanly: ${JSON.stringify(exit)}\n${server.output()}`);
      }
    }
    await data.remove();
    for (const suffix of ['inline', 'pool', 'peer']) await deleteNamespaceKeys(REDIS_URL, `${namespace}-${suffix}`);
  }
}

await main();
