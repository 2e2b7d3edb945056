/**
 * Issue 10 §4: two bloomgate processes on one database (one SQLite file, or one
 * PostgreSQL database) with the same namespace have separate filters, so a
 * product created through one would be rejected by the other. Until instances
 * coordinate, the second must refuse to start: exit non-zero with one clear
 * line, and never serve (its port never answers). Once the first has exited,
 * a new process starts on that database as usual.
 *
 * Single-instance mode: each process with its own memory:// Redis, or all on
 * one redis:// with CLUSTER_MODE=off. On PostgreSQL with a shared redis://
 * Redis, the default is cluster mode (issue 11), which lets several instances
 * serve one database; the cluster-* tests cover that.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { deleteNamespaceKeys, SHARED_REDIS_URL, uniqueMemoryUrl, uniqueNamespace } from '../helpers/redis-namespace.js';
import { ServerProcess, type ExitInfo } from '../helpers/server-process.js';

/** Between probes of the second process's port while it runs. */
const PROBE_MS = 25;

const SINGLE_INSTANCE_MODES: { redis: string; redisUrl: () => string; env: Record<string, string> }[] = [
  { redis: 'its own memory:// Redis', redisUrl: () => uniqueMemoryUrl(), env: {} },
  { redis: 'one redis:// with CLUSTER_MODE=off', redisUrl: () => SHARED_REDIS_URL, env: { CLUSTER_MODE: 'off' } },
];

describe.each(BACKENDS)('a second process on the same $name database', (backend) => {
  let db: BackendDatabase | undefined;
  let namespace = '';
  const servers: ServerProcess[] = [];

  afterEach(async () => {
    for (const s of servers.splice(0)) await s.dispose();
    await db?.drop();
    const redis = new Redis(SHARED_REDIS_URL);
    await deleteNamespaceKeys(redis, namespace);
    await redis.quit();
  });

  it.each(SINGLE_INSTANCE_MODES)('exits non-zero with one clear line and never answers on its port; starts once the first has exited ($redis)', { timeout: 60_000 }, async ({ redisUrl, env }) => {
    db = await backend.open();
    namespace = uniqueNamespace('twice');
    const serverFor = (): ServerProcess => {
      const s = new ServerProcess({ redisUrl: redisUrl(), namespace, env, ...db!.serverOptions() });
      servers.push(s);
      return s;
    };
    const first = serverFor();
    await first.start();
    await first.waitHealthy();
    expect((await first.postProduct({ id: 'TWICE-1', name: 'one', price: 1 })).status).toBe(201);

    const second = serverFor();
    await second.start();
    // Probe its port for as long as it lives: any HTTP answer at all means it served.
    const answered: string[] = [];
    let exit: ExitInfo | undefined;
    const exited = second.waitExit().then((info) => {
      exit = info;
    });
    // Stops at the first answer too, so a process that does serve fails here, not at the timeout.
    while (exit === undefined && answered.length === 0) {
      await second.request('GET', '/health', { timeoutMs: 200 }).then(
        (res) => answered.push(`GET /health ${res.status}`),
        () => undefined, // refused: not listening, as it should be
      );
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, PROBE_MS))]);
    }
    expect(answered, 'answers from the second process').toEqual([]);
    expect(exit, `second process exit; log:\n${second.tail()}`).toMatchObject({ code: 1, signal: null });
    const refusals = second.runLogs().filter((l) => l.stream === 'stderr' && l.text.startsWith('bloomgate: '));
    expect(refusals.map((l) => l.text), `its one line on stderr; log:\n${second.tail()}`).toHaveLength(1);
    console.log(`[second-process ${backend.name}] ${JSON.stringify(exit)}: ${refusals[0]?.text}`);
    expect(refusals[0]?.text).toMatch(/another bloomgate process already serves this database and namespace .*refusing to start/);

    // The first one never noticed.
    expect((await first.getProduct('TWICE-1')).status).toBe(200);
    expect(await first.exitAfterSigterm()).toEqual({ code: 0, signal: null });

    // With the first gone, the lock is free again.
    const third = serverFor();
    await third.start();
    await third.waitHealthy();
    expect((await third.getProduct('TWICE-1')).status).toBe(200);
  });
});
