import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('has the documented defaults and is frozen', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8000,
      host: '0.0.0.0',
      dbPath: 'data/products.db',
      productsFile: 'data/products.txt',
      redisUrl: 'memory://',
      capacity: 1_000_000,
      targetFpr: 0.01,
      shards: 64,
      cacheTtlS: 300,
      negativeTtlS: 60,
      namespace: 'default',
      snapshotIntervalMs: 1000,
      lookupPath: 'inline',
      sqliteSynchronous: 'full',
      logLevel: 'info',
      hashSeed: undefined,
      adminToken: undefined,
      writeToken: undefined,
      rebuildStaleRatio: 0.1,
      auditSampleEvery: 1000,
      auditMaxPerSecond: 5,
    });
    expect(config.workers).toBeGreaterThanOrEqual(1);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('accepts the old fakeredis:// name and real redis urls', () => {
    expect(loadConfig({ REDIS_URL: 'fakeredis://' }).redisUrl).toBe('fakeredis://');
    expect(loadConfig({ REDIS_URL: 'rediss://h:6380/1' }).redisUrl).toBe('rediss://h:6380/1');
    expect(loadConfig({ HASH_SEED: '0xdeadbeef' }).hashSeed).toBe(0xdeadbeef);
  });

  it.each([
    [{ BLOOM_FPR: '2' }, 'BLOOM_FPR="2" must be a number greater than 0 and less than 1'],
    [{ BLOOM_FPR: 'abc' }, 'BLOOM_FPR="abc" must be a number greater than 0 and less than 1'],
    [{ BLOOM_CAPACITY: '0' }, 'BLOOM_CAPACITY="0" must be an integer from 1 to 500000000'],
    [{ BLOOM_CAPACITY: '1.5' }, 'BLOOM_CAPACITY="1.5" must be an integer from 1 to 500000000'],
    [{ BLOOM_SHARDS: '5000' }, 'BLOOM_SHARDS="5000" must be an integer from 1 to 4096'],
    [{ PORT: '70000' }, 'PORT="70000" must be an integer from 0 to 65535'],
    [{ WORKERS: '0' }, 'WORKERS="0" must be an integer from 1 to 256'],
    [{ CACHE_TTL_S: '-1' }, 'CACHE_TTL_S="-1" must be an integer from 1 to 31536000'],
    [{ NEGATIVE_TTL_S: 'x' }, 'NEGATIVE_TTL_S="x" must be an integer from 1 to 31536000'],
    [{ SNAPSHOT_INTERVAL_MS: '5' }, 'SNAPSHOT_INTERVAL_MS="5" must be an integer from 10 to 3600000'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL="http://x" must start with redis://, rediss://, memory:// or fakeredis://'],
    [{ REDIS_URL: 'http://user:pw@x' }, 'REDIS_URL="http://***@x" must start with redis://, rediss://, memory:// or fakeredis://'],
    [{ BLOOM_STATE_NAMESPACE: 'a b' }, 'BLOOM_STATE_NAMESPACE="a b" must be 1-64 characters of A-Z a-z 0-9 _ . -'],
    [{ LOOKUP_PATH: 'magic' }, 'LOOKUP_PATH="magic" must be one of inline, pool'],
    [{ SQLITE_SYNCHRONOUS: 'off' }, 'SQLITE_SYNCHRONOUS="off" must be one of full, normal'],
    [{ REDIS_COMMAND_TIMEOUT_MS: '1' }, 'REDIS_COMMAND_TIMEOUT_MS="1" must be an integer from 10 to 60000'],
    [{ SHUTDOWN_TIMEOUT_MS: '-5' }, 'SHUTDOWN_TIMEOUT_MS="-5" must be an integer from 0 to 600000'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL="loud" must be one of debug, info, warn, error, silent'],
    [{ HASH_SEED: 'secret-value' }, 'HASH_SEED=<hidden> must be an integer from 0 to 4294967295 (decimal or 0x hex)'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN=<hidden> must be at least 16 characters without whitespace'],
    [{ ADMIN_TOKEN: 'sixteen chars with spaces' }, 'ADMIN_TOKEN=<hidden> must be at least 16 characters without whitespace'],
    [{ WRITE_TOKEN: 'short' }, 'WRITE_TOKEN=<hidden> must be at least 16 characters without whitespace'],
    [{ WRITE_TOKEN: 'sixteen chars with spaces' }, 'WRITE_TOKEN=<hidden> must be at least 16 characters without whitespace'],
    [{ REBUILD_STALE_RATIO: '1' }, 'REBUILD_STALE_RATIO="1" must be a number greater than 0 and less than 1'],
    [{ REBUILD_STALE_RATIO: 'lots' }, 'REBUILD_STALE_RATIO="lots" must be a number greater than 0 and less than 1'],
    [{ AUDIT_SAMPLE_EVERY: '-1' }, 'AUDIT_SAMPLE_EVERY="-1" must be an integer from 0 to 1000000000'],
    [{ AUDIT_MAX_PER_SECOND: '0' }, 'AUDIT_MAX_PER_SECOND="0" must be an integer from 1 to 100'],
    [{ AUDIT_MAX_PER_SECOND: '1000' }, 'AUDIT_MAX_PER_SECOND="1000" must be an integer from 1 to 100'],
    [{ DATABASE_URL: 'mysql://db/shop' }, 'DATABASE_URL="mysql://db/shop" must start with postgres://, postgresql:// or sqlite: (unset: SQLite at DB_PATH)'],
    [{ DATABASE_URL: 'mysql://shop:s3cret@db/shop' }, 'DATABASE_URL="mysql://***@db/shop" must start with postgres://, postgresql:// or sqlite: (unset: SQLite at DB_PATH)'],
    [{ DATABASE_URL: 'postgres://' }, 'DATABASE_URL="postgres://" must start with postgres://, postgresql:// or sqlite: (unset: SQLite at DB_PATH)'],
    [{ DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE="0" must be an integer from 1 to 1000'],
    [{ DATABASE_TIMEOUT_MS: '5' }, 'DATABASE_TIMEOUT_MS="5" must be an integer from 10 to 600000'],
    [{ SQLITE_CACHE_MB: '0' }, 'SQLITE_CACHE_MB="0" must be an integer from 1 to 65536'],
  ])('names the variable, value and rule: %o', (env, message) => {
    expect(problems(env)).toEqual([message]);
  });

  it('reads the admin token and the rebuild and audit knobs', () => {
    const config = loadConfig({ ADMIN_TOKEN: 'x'.repeat(32), REBUILD_STALE_RATIO: '0.25', AUDIT_SAMPLE_EVERY: '0', AUDIT_MAX_PER_SECOND: '20' });
    expect(config).toMatchObject({ adminToken: 'x'.repeat(32), rebuildStaleRatio: 0.25, auditSampleEvery: 0, auditMaxPerSecond: 20 });
  });

  it('reads the write token', () => {
    expect(loadConfig({ WRITE_TOKEN: 'w'.repeat(16) }).writeToken).toBe('w'.repeat(16));
  });

  it('selects SQLite at DB_PATH when DATABASE_URL is unset, with the documented database defaults', () => {
    const config = loadConfig({ DB_PATH: '/tmp/x.db' });
    expect(config.database).toEqual({ kind: 'sqlite', path: '/tmp/x.db' });
    expect(config).toMatchObject({ dbPath: '/tmp/x.db', databasePoolSize: 10, databaseTimeoutMs: 2000, sqliteCacheMb: 8 });
    expect(Object.isFrozen(config.database)).toBe(true);
  });

  it('selects SQLite from a sqlite: URL (its path, else DB_PATH)', () => {
    expect(loadConfig({ DATABASE_URL: 'sqlite:/var/lib/bg.db' }).database).toEqual({ kind: 'sqlite', path: '/var/lib/bg.db' });
    expect(loadConfig({ DATABASE_URL: 'sqlite://data/a.db' }).database).toEqual({ kind: 'sqlite', path: 'data/a.db' });
    expect(loadConfig({ DATABASE_URL: 'sqlite:', DB_PATH: 'b.db' }).database).toEqual({ kind: 'sqlite', path: 'b.db' });
    expect(loadConfig({ DATABASE_URL: 'sqlite:/var/lib/bg.db' }).dbPath).toBe('/var/lib/bg.db');
  });

  it('selects PostgreSQL from an upper-case scheme too, as the store accepts it (one rule: isPostgresUrl)', () => {
    expect(loadConfig({ DATABASE_URL: 'POSTGRESQL://db/shop' }).database.kind).toBe('postgres');
  });

  it('selects PostgreSQL from postgres:// and postgresql:// URLs, with pool size and timeout', () => {
    const url = 'postgresql://shop:pw@db:5432/shop?sslmode=require';
    const config = loadConfig({ DATABASE_URL: url, DATABASE_POOL_SIZE: '32', DATABASE_TIMEOUT_MS: '500' });
    expect(config.database).toEqual({ kind: 'postgres', url });
    expect(config).toMatchObject({ databasePoolSize: 32, databaseTimeoutMs: 500 });
    expect(loadConfig({ DATABASE_URL: 'postgres://db/shop' }).database.kind).toBe('postgres');
  });

  it('reads SQLITE_CACHE_MB', () => {
    expect(loadConfig({ SQLITE_CACHE_MB: '64' }).sqliteCacheMb).toBe(64);
  });

  it('reads SQLITE_WRITER_NICE (default 10: commits yield the CPU to lookups under contention)', () => {
    expect(loadConfig({}).sqliteWriterNice).toBe(10);
    expect(loadConfig({ SQLITE_WRITER_NICE: '0' }).sqliteWriterNice).toBe(0);
    expect(() => loadConfig({ SQLITE_WRITER_NICE: '20' })).toThrow('SQLITE_WRITER_NICE="20" must be an integer from 0 to 19');
  });

  it('reports every problem at once', () => {
    expect(problems({ BLOOM_FPR: '0', PORT: 'x', WORKERS: '-1' })).toHaveLength(3);
  });

  it('makes the service exit 2 with one line naming the variable', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
      env: { ...process.env, BLOOM_FPR: '2', PORT: '0' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual(['bloomgate: invalid configuration: BLOOM_FPR="2" must be a number greater than 0 and less than 1']);
  });
});
