/**
 * Issue 10 §4: two bloomgate processes on one database (one SQLite file, or one
 * PostgreSQL database) with the same namespace have separate filters, so a
 * product created through one would be rejected by the other. Until instances
 * coordinate, the second must refuse to start: exit non-zero with one clear
 * line, and never serve (its port never answers). Once the first has exited,
 * a new process starts on that database as usual.
 *
 * Both run in single-instance mode (memory:// Redis, one per process). On
 * PostgreSQL with a shared redis:// Redis, the cluster mode (issue 11) is what
 * lets several instances serve one database; this test does not cover that.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { uniqueMemoryUrl, uniqueNamespace } from '../helpers/redis-namespace.js';
import { ServerProcess, type ExitInfo } from '../helpers/server-process.js';

/** Between probes of the second process's port while it runs. */
const PROBE_MS = 25;

describe.each(BACKENDS)('a second process on the same $name database', (backend) => {
  let db: BackendDatabase | undefined;
  const servers: ServerProcess[] = [];

  afterEach(async () => {
    for (const s of servers.splice(0)) await s.dispose();
    await db?.drop();
  });

  it('exits non-zero with one clear line and never answers on its port; starts once the first has exited', { timeout: 60_000 }, async () => {
    db = await backend.open();
    const namespace = uniqueNamespace('twice');
    const serverFor = (): ServerProcess => {
      // Each process its own in-memory Redis: single-instance mode.
      const s = new ServerProcess({ redisUrl: uniqueMemoryUrl(), namespace, ...db!.serverOptions() });
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
