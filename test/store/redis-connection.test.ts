import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisConnection } from '../../src/store/redis-connection.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { uniqueMemoryUrl } from '../helpers/redis-namespace.js';
import { waitFor } from '../helpers/wait-for.js';

describe('RedisConnection in-process (memory://)', () => {
  it('is healthy at once and works without a server', async () => {
    const conn = RedisConnection.open({ url: uniqueMemoryUrl(), commandTimeoutMs: 100 });
    expect(conn.inProcess).toBe(true);
    expect(conn.healthy).toBe(true);
    await conn.waitReady(10);
    await conn.client.set('k', 'v');
    expect(await conn.client.get('k')).toBe('v');
    await conn.close();
    expect(conn.healthy).toBe(false);
    await conn.close(); // twice is fine
  });

  it('shares data and run_id per URL, and keeps different URLs apart', async () => {
    const url = uniqueMemoryUrl();
    const a = RedisConnection.open({ url, commandTimeoutMs: 100 });
    const b = RedisConnection.open({ url: url.replace('memory://', 'fakeredis://'), commandTimeoutMs: 100 });
    const other = RedisConnection.open({ url: uniqueMemoryUrl(), commandTimeoutMs: 100 });
    await a.client.set('shared', '1');
    expect(await b.client.get('shared')).toBe('1');
    expect(await other.client.get('shared')).toBeNull();
    expect(await a.runId()).toMatch(/^[0-9a-f]{40}$/);
    expect(await a.runId()).toBe(await b.runId());
    expect(await a.runId()).not.toBe(await other.runId());
    await Promise.all([a.close(), b.close(), other.close()]);
  });

  it('rejects a URL it does not understand and a bad timeout', () => {
    expect(() => RedisConnection.open({ url: 'http://user:secret@host', commandTimeoutMs: 100 })).toThrow(
      'Redis URL "http://***@host" must start with redis://, rediss://, memory:// or fakeredis://',
    );
    expect(() => RedisConnection.open({ url: 'memory://', commandTimeoutMs: 0 })).toThrow('commandTimeoutMs must be a positive integer, got 0');
    expect(() => RedisConnection.open({ url: 'memory://', commandTimeoutMs: 100, name: 'has space' })).toThrow(
      'name must be printable ASCII without spaces, got "has space"',
    );
  });
});

describe('RedisConnection against a private redis-server', () => {
  const COMMAND_TIMEOUT_MS = 200;
  let server: PrivateRedis;
  let conn: RedisConnection;
  const transitions: boolean[] = [];

  beforeAll(async () => {
    server = await startPrivateRedis();
    conn = RedisConnection.open({ url: server.url, commandTimeoutMs: COMMAND_TIMEOUT_MS, name: 'bloomgate-test' });
    conn.onStatusChange((healthy) => transitions.push(healthy));
  });

  afterAll(async () => {
    await conn.close();
    await server.stop();
  });

  it('becomes ready and names itself', async () => {
    await conn.waitReady(5_000);
    expect(conn.inProcess).toBe(false);
    expect(conn.healthy).toBe(true);
    expect(await conn.client.client('GETNAME')).toBe('bloomgate-test');
  });

  it('fails fast while Redis is down, then recovers by itself with a new run_id', async () => {
    const runIdBefore = await conn.runId();
    expect(runIdBefore).toMatch(/^[0-9a-f]{40}$/);
    await conn.client.set('k', 'v');

    await server.stop();
    await waitFor('healthy to turn false', () => !conn.healthy, 2_000);
    const started = performance.now();
    await expect(conn.client.get('k')).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(COMMAND_TIMEOUT_MS + 300);

    // Stay down long enough for the reconnect backoff to reach its 2 s cap.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await server.restart();
    const recoveredMs = await waitFor('healthy to turn true again', () => conn.healthy, 5_000);
    expect(recoveredMs).toBeLessThan(2_500);
    expect(await conn.client.get('k')).toBeNull(); // a fresh server: nothing persisted
    const runIdAfter = await conn.runId();
    expect(runIdAfter).not.toBe(runIdBefore);
    expect(transitions).toEqual([true, false, true]);
  });

  it('times out a command Redis does not answer', async () => {
    const admin = new Redis(server.url);
    try {
      await admin.client('PAUSE', 1_000, 'ALL');
      const started = performance.now();
      await expect(conn.client.get('k')).rejects.toThrow('Command timed out');
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 20);
      expect(elapsed).toBeLessThan(COMMAND_TIMEOUT_MS + 300);
    } finally {
      admin.disconnect();
    }
  });

  it('waitReady rejects after its timeout when nothing listens', async () => {
    const dead = await startPrivateRedis();
    await dead.stop();
    const lonely = RedisConnection.open({ url: dead.url, commandTimeoutMs: 100 });
    try {
      const started = performance.now();
      await expect(lonely.waitReady(300)).rejects.toThrow(`Redis at ${dead.url} was not ready within 300 ms`);
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(lonely.healthy).toBe(false);
      await expect(lonely.client.get('k')).rejects.toThrow(); // no offline queue: fails at once
    } finally {
      await lonely.close();
    }
  });

  it('close() of a never-connected client returns promptly and stops reconnecting', async () => {
    const dead = await startPrivateRedis();
    await dead.stop();
    const lonely = RedisConnection.open({ url: dead.url, commandTimeoutMs: 100 });
    await new Promise((resolve) => lonely.client.once('reconnecting', resolve)); // into the reconnect loop
    const started = performance.now();
    await lonely.close();
    expect(performance.now() - started).toBeLessThan(200);
    let attempts = 0;
    lonely.client.on('connecting', () => attempts++);
    lonely.client.on('reconnecting', () => attempts++);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(attempts).toBe(0);
    expect(lonely.healthy).toBe(false);
  });
});
