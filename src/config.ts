/**
 * The one place that reads `process.env`. Every variable is parsed and checked,
 * all problems are reported together (each naming the variable, its value and
 * the rule), and the result is frozen and passed down.
 *
 * @example
 *   const config = loadConfig(process.env); // throws ConfigError listing every bad variable
 */
import { availableParallelism } from 'node:os';
import { ConfigError } from './errors.js';
import type { LogLevel } from './logger.js';
import { isPostgresUrl } from './store/database-url.js';
import { REDIS_URL_RULE, redactUrl, redisUrlKind } from './store/redis-url.js';

export type LookupPath = 'inline' | 'pool';

/**
 * Which backend holds the products: DATABASE_URL unset or `sqlite:<path>`
 * selects SQLite (path from the URL, else DB_PATH); `postgres://` or
 * `postgresql://` selects PostgreSQL. The URL may carry a password: log it
 * only through describeDatabaseUrl / redactUrl.
 */
export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string };
export type SqliteSynchronous = 'full' | 'normal';

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dbPath: string;
  readonly database: DatabaseConfig;
  /** PostgreSQL connections in the pool. */
  readonly databasePoolSize: number;
  /** Upper bound on any one database call (a lookup past it answers 503 database_unavailable). */
  readonly databaseTimeoutMs: number;
  /** SQLite page cache per connection (the writer's and the reader's), in MiB. */
  readonly sqliteCacheMb: number;
  /** How much nicer than the process the SQLite writer thread runs: under CPU contention commits yield to the lookups. */
  readonly sqliteWriterNice: number;
  readonly productsFile: string;
  /** `memory://` (or its old name `fakeredis://`) runs an in-process stand-in. */
  readonly redisUrl: string;
  readonly capacity: number;
  readonly targetFpr: number;
  readonly shards: number;
  readonly workers: number;
  readonly cacheTtlS: number;
  readonly negativeTtlS: number;
  readonly namespace: string;
  readonly snapshotIntervalMs: number;
  readonly lookupPath: LookupPath;
  readonly sqliteSynchronous: SqliteSynchronous;
  /** Upper bound on any one Redis command, so no request waits on a dead Redis. */
  readonly redisCommandTimeoutMs: number;
  /** How long SIGTERM waits for in-flight requests before closing anyway. */
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
  /**
   * The filter's hash seed. Undefined: a random seed is generated on first start
   * and kept in the database (never exposed over HTTP), so outsiders cannot
   * craft ids that all pass the filter. Changing it means a rebuild.
   */
  readonly hashSeed: number | undefined;
  /**
   * Bearer token for `/admin/*` and DELETE. Undefined: those routes answer 403
   * (disabled). Never logged or exposed.
   */
  readonly adminToken: string | undefined;
  /**
   * Bearer token for creates (and updates). Undefined: writes are open to
   * anyone who can reach the port (one warning at start). Never logged or exposed.
   */
  readonly writeToken: string | undefined;
  /** Rebuild when stale (deleted) ids exceed this share of items. */
  readonly rebuildStaleRatio: number;
  /** Audit one filter rejection in this many against the database (0: off). */
  readonly auditSampleEvery: number;
  /** At most this many audit queries per second. */
  readonly auditMaxPerSecond: number;
  /**
   * The in-process cache of hot products in front of Redis (src/cache/): at
   * most this many entries (0: off). Only with a real Redis: invalidation needs
   * its client-side-caching tracking, so memory:// leaves it off.
   */
  readonly localCacheEntries: number;
  /** At most this many response-body bytes in the local cache. */
  readonly localCacheBytes: number;
  /** A local entry older than this is dropped (a backstop to invalidation). */
  readonly localCacheMaxAgeMs: number;
  /**
   * Cluster mode (issue 11): PostgreSQL plus a real Redis (redis:// or
   * rediss://). Several processes may then serve one database and namespace
   * (lease + change feed + ack barrier, no instance lock). SQLite or
   * memory:// Redis: one instance, guarded by the instance lock.
   * CLUSTER_MODE=off keeps one instance with the lock on PostgreSQL + Redis too.
   */
  readonly cluster: boolean;
  /** Cluster mode: each instance's lease time to live (a dead instance holds writes this long at most). */
  readonly clusterLeaseTtlMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Collects problems instead of throwing at the first, so one start shows them all. */
class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      this.problems.push(`${name}=${JSON.stringify(value)} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  /** A number strictly between `lo` and `hi`. */
  openInterval(name: string, fallback: number, lo: number, hi: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= lo || n >= hi) {
      this.problems.push(`${name}=${JSON.stringify(value)} must be a number greater than ${lo} and less than ${hi}`);
      return fallback;
    }
    return n;
  }

  /** An integer (decimal or 0x hex) or undefined when unset. */
  optionalInteger(name: string, min: number, max: number): number | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!/^(\d+|0x[0-9a-fA-F]+)$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      this.problems.push(`${name}=<hidden> must be an integer from ${min} to ${max} (decimal or 0x hex)`);
      return undefined;
    }
    return n;
  }

  /** A secret: its value is never echoed in a message. */
  optionalSecret(name: string, minLength: number): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (value.length < minLength || /\s/.test(value)) {
      this.problems.push(`${name}=<hidden> must be at least ${minLength} characters without whitespace`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const lower = value.toLowerCase();
    const match = allowed.find((a) => a === lower);
    if (match === undefined) {
      this.problems.push(`${name}=${JSON.stringify(value)} must be one of ${allowed.join(', ')}`);
      return fallback;
    }
    return match;
  }

  matching(name: string, fallback: string, pattern: RegExp, rule: string): string {
    return this.valid(name, fallback, (value) => pattern.test(value), rule);
  }

  /** A value `isValid` accepts; `shown` is what a problem message prints of it (e.g. without a password). */
  valid(name: string, fallback: string, isValid: (value: string) => boolean, rule: string, shown: (value: string) => string = (v) => v): string {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!isValid(value)) {
      this.problems.push(`${name}=${JSON.stringify(shown(value))} ${rule}`);
      return fallback;
    }
    return value;
  }
}

/** The rule for DATABASE_URL, as the config error states it. */
const DATABASE_URL_RULE = 'must start with postgres://, postgresql:// or sqlite: (unset: SQLite at DB_PATH)';

/** The backend a DATABASE_URL selects, or undefined when its scheme is not one bloomgate knows. */
function databaseFromUrl(url: string, dbPath: string): DatabaseConfig | undefined {
  if (isPostgresUrl(url)) return { kind: 'postgres', url };
  const sqlite = /^sqlite:(?:\/\/)?(.*)$/is.exec(url);
  if (sqlite !== null) return { kind: 'sqlite', path: sqlite[1] === '' || sqlite[1] === undefined ? dbPath : sqlite[1] };
  return undefined;
}

const NAMESPACE = /^[A-Za-z0-9_.-]{1,64}$/;

/** The number of filter workers when WORKERS is unset: one core stays with the HTTP thread. */
export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism() - 1);
}

export function loadConfig(env: Env): Config {
  const r = new EnvReader(env);
  const dbPath = r.string('DB_PATH', 'data/products.db');
  const databaseUrl = r.valid('DATABASE_URL', '', (url) => databaseFromUrl(url, dbPath) !== undefined, DATABASE_URL_RULE, redactUrl);
  // Unset (or refused, with the problem recorded): SQLite at DB_PATH.
  const database = (databaseUrl === '' ? undefined : databaseFromUrl(databaseUrl, dbPath)) ?? { kind: 'sqlite', path: dbPath };
  const config: Omit<Config, 'cluster'> = {
    port: r.integer('PORT', 8000, 0, 65535),
    host: r.string('HOST', '0.0.0.0'),
    dbPath: database.kind === 'sqlite' ? database.path : dbPath,
    database: Object.freeze(database),
    databasePoolSize: r.integer('DATABASE_POOL_SIZE', 10, 1, 1000),
    databaseTimeoutMs: r.integer('DATABASE_TIMEOUT_MS', 2000, 10, 600_000),
    sqliteCacheMb: r.integer('SQLITE_CACHE_MB', 8, 1, 65_536),
    sqliteWriterNice: r.integer('SQLITE_WRITER_NICE', 10, 0, 19),
    productsFile: r.string('PRODUCTS_FILE', 'data/products.txt'),
    redisUrl: r.valid('REDIS_URL', 'memory://', (url) => redisUrlKind(url) !== undefined, REDIS_URL_RULE, redactUrl),
    // Capacity and shards are bounded so the bit array fits one SharedArrayBuffer.
    capacity: r.integer('BLOOM_CAPACITY', 1_000_000, 1, 500_000_000),
    targetFpr: r.openInterval('BLOOM_FPR', 0.01, 0, 1),
    shards: r.integer('BLOOM_SHARDS', 64, 1, 4096),
    workers: r.integer('WORKERS', defaultWorkerCount(), 1, 256),
    cacheTtlS: r.integer('CACHE_TTL_S', 300, 1, 31_536_000),
    negativeTtlS: r.integer('NEGATIVE_TTL_S', 60, 1, 31_536_000),
    namespace: r.matching('BLOOM_STATE_NAMESPACE', 'default', NAMESPACE, 'must be 1-64 characters of A-Z a-z 0-9 _ . -'),
    snapshotIntervalMs: r.integer('SNAPSHOT_INTERVAL_MS', 1000, 10, 3_600_000),
    lookupPath: r.oneOf<LookupPath>('LOOKUP_PATH', 'inline', ['inline', 'pool']),
    sqliteSynchronous: r.oneOf<SqliteSynchronous>('SQLITE_SYNCHRONOUS', 'full', ['full', 'normal']),
    redisCommandTimeoutMs: r.integer('REDIS_COMMAND_TIMEOUT_MS', 500, 10, 60_000),
    shutdownTimeoutMs: r.integer('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    logLevel: r.oneOf<LogLevel>('LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error', 'silent']),
    hashSeed: r.optionalInteger('HASH_SEED', 0, 0xffffffff),
    adminToken: r.optionalSecret('ADMIN_TOKEN', 16),
    writeToken: r.optionalSecret('WRITE_TOKEN', 16),
    rebuildStaleRatio: r.openInterval('REBUILD_STALE_RATIO', 0.1, 0, 1),
    auditSampleEvery: r.integer('AUDIT_SAMPLE_EVERY', 1000, 0, 1_000_000_000),
    auditMaxPerSecond: r.integer('AUDIT_MAX_PER_SECOND', 5, 1, 100),
    localCacheEntries: r.integer('LOCAL_CACHE_ENTRIES', 10_000, 0, 10_000_000),
    localCacheBytes: r.integer('LOCAL_CACHE_BYTES', 16 * 1024 * 1024, 1024, 2 ** 40),
    localCacheMaxAgeMs: r.integer('LOCAL_CACHE_MAX_AGE_MS', 60_000, 1, 86_400_000),
    clusterLeaseTtlMs: r.integer('CLUSTER_LEASE_TTL_MS', 3000, 600, 600_000),
  };
  const clusterMode = r.oneOf<'auto' | 'off'>('CLUSTER_MODE', 'auto', ['auto', 'off']);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  const cluster = clusterMode === 'auto' && database.kind === 'postgres' && redisUrlKind(config.redisUrl)?.kind === 'server';
  return Object.freeze({ ...config, cluster });
}
