/**
 * Load runs share the machine's Redis with tests and other runs: each run
 * takes its own namespace and deletes only that namespace's keys afterwards
 * (bloomgate's `bloom:cache:<ns>:*`, `bloom:state:<ns>:*` and the peer's
 * `peer:cache:<ns>:*`). Never FLUSHALL.
 *
 * @example
 *   const ns = runNamespace('bench');   // 'bench-1234-lx3k2a'
 *   await redisReachable(url);          // false when nothing answers PING
 *   await deleteNamespaceKeys(url, ns); // number of keys deleted
 */
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { redisUrlKind } from '../src/store/redis-url.js';

export function runNamespace(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}`;
}

/** A Redis server URL (not the in-process stand-in), by the service's own scheme rule. */
export function isRealRedis(url: string): boolean {
  return redisUrlKind(url)?.kind === 'server';
}

/** True when a PING to the URL's host and port gets +PONG within a second. */
export function redisReachable(url: string): Promise<boolean> {
  if (!isRealRedis(url)) return Promise.resolve(false);
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => done(chunk.toString().startsWith('+PONG') || chunk.toString().startsWith('-NOAUTH')));
  });
}

export async function deleteNamespaceKeys(url: string, namespace: string): Promise<number> {
  if (!isRealRedis(url)) return 0;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    await client.connect();
    for (const pattern of [`bloom:cache:${namespace}:*`, `bloom:state:${namespace}:*`, `peer:cache:${namespace}:*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) deleted += await client.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
  return deleted;
}
