/**
 * A private redis-server for destructive tests (FLUSHALL, kill, restart), so
 * they never touch the Redis at 127.0.0.1:6379 that other tests share. It
 * listens on a free port on 127.0.0.1, persists nothing (`--save ''
 * --appendonly no`), and is killed when the test process exits, even if the
 * test forgot to stop it.
 *
 * @example
 *   const redis = await startPrivateRedis();
 *   const conn = RedisConnection.open({ url: redis.url, commandTimeoutMs: 200 });
 *   await redis.stop();     // SIGKILL: Redis is gone, with its data
 *   await redis.restart();  // a fresh, empty server on the same port (new run_id)
 *   await redis.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './free-port.js';

export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** Kills the server (SIGKILL, like a crash) and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
  /** Starts a fresh, empty server on the same port (stopping the running one first). */
  restart(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
const REDIS_SERVER = 'redis-server';
const running = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Spawns redis-server and resolves once it logs that it accepts connections. */
function spawnRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'notice'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  return new Promise((resolve, reject) => {
    let output = '';
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`redis-server on port ${port} ${why}; output:\n${output}`));
    };
    const timer = setTimeout(() => fail(`did not start within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (!settled && output.includes('Ready to accept connections')) {
        settled = true;
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume(); // keep draining so a chatty server never blocks on a full pipe
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', (err) => fail(`could not be spawned (${err.message})`));
    child.once('exit', (code, signal) => fail(`exited early (code ${code}, signal ${signal})`));
  });
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  // Another process may take the port between freePort() and spawn; try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      let child = await spawnRedis(port);
      const stop = async (): Promise<void> => kill(child);
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        stop,
        async restart() {
          await stop();
          child = await spawnRedis(port);
        },
      };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
