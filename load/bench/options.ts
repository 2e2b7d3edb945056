/**
 * Every knob of `npm run bench`, read from the environment once, with its
 * default; and the types the scenarios and the runner share.
 */

export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
export const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 3);
export const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 1);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
export const WRK_THREADS = Number(process.env.BENCH_WRK_THREADS ?? 1);
/** wrk, or autocannon; wrk by default when it is installed (apt-get install -y wrk). */
export const LOADGEN = process.env.BENCH_LOADGEN ?? '';
export const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 100_000);
/** Cached ids the hit cases cycle over (warmed before measuring). */
export const HOT_IDS = Number(process.env.BENCH_HOT_IDS ?? 1000);
/** LOCAL_CACHE_ENTRIES of the bloomgate servers but `inline-nolocal` (which has 0). */
export const LOCAL_CACHE_ENTRIES = Number(process.env.BENCH_LOCAL_CACHE_ENTRIES ?? 10_000);
export const CHECK_BATCH = Number(process.env.BENCH_CHECK_BATCH ?? 1000);
export const CHECK_CONNECTIONS = Number(process.env.BENCH_CHECK_CONNECTIONS ?? 8);
/** Fixed offered load for the p99 comparison: about P99_CONNECTIONS * 1000 / P99_DELAY_MS req/s. */
export const P99_CONNECTIONS = Number(process.env.BENCH_P99_CONNECTIONS ?? 100);
export const P99_DELAY_MS = Number(process.env.BENCH_P99_DELAY_MS ?? 5);
/** Comma-separated scenario names; `npm run bench -- <name>...` arguments take precedence. */
export const SCENARIOS = process.env.BENCH_SCENARIOS ?? '';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const SERVER_ENTRY = process.env.BENCH_SERVER_ENTRY ?? 'src/index.ts';
export const BLOOM_CAPACITY = Number(process.env.BLOOM_CAPACITY ?? 1_000_000);
export const BLOOM_FPR = Number(process.env.BLOOM_FPR ?? 0.01);
export const BLOOM_SHARDS = Number(process.env.BLOOM_SHARDS ?? 64);
export const WORKERS = process.env.WORKERS;
export const SEED = Number(process.env.SEED ?? 1);

/** The environment variables that change a run, for the reproduction command. */
export function knobsInEnvironment(): string[] {
  return Object.keys(process.env)
    .filter((k) => k.startsWith('BENCH_') || ['REDIS_URL', 'BLOOM_CAPACITY', 'BLOOM_FPR', 'BLOOM_SHARDS', 'WORKERS', 'SEED'].includes(k))
    .sort()
    .map((k) => `${k}=${process.env[k]}`);
}

/** `inline-nolocal`: the inline path with LOCAL_CACHE_ENTRIES=0 (every hit a Redis GET), the before of issue 12. */
export type ServerName = 'bare' | 'inline' | 'inline-nolocal' | 'pool' | 'peer';
export type Workload = 'reject' | 'hit' | 'check' | 'reject-fixed';

export interface Sample {
  readonly rps: number;
  /** Server process CPU (all threads) per request, in microseconds: robust to a client-bound run. */
  readonly cpuUsPerReq: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** Responses that were not the workload's expected kind (wrk: status >= 400 on hits; connect/read/timeout errors). */
  readonly errors: number;
}

export type LoadResult = Omit<Sample, 'cpuUsPerReq'>;

/** One line of the figures table. */
export interface Row {
  readonly figure: string;
  readonly value: string;
  readonly target: string;
  readonly verdict: string;
}
