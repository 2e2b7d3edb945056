/**
 * A bloomgate cluster of real processes for the scale-out tests: N
 * `ServerProcess` instances on ONE PostgreSQL database and ONE Redis
 * namespace, each on its own port (default) or all on one port (uWebSockets.js
 * sets SO_REUSEPORT, so the kernel spreads connections between them).
 *
 * The cluster owns what it creates: a fresh database (unless `databaseUrl` is
 * given) and the namespace's keys (cache, state and the cluster protocol's
 * feed, epoch, members, applied, leases, locks). `dispose()` kills every
 * instance, drops the database and deletes the keys; call it in afterEach /
 * afterAll so a failing test leaks nothing.
 *
 * @example
 *   const cluster = await startCluster({ size: 3 });
 *   const [a, b] = cluster.instances;
 *   const created = await a.postProduct({ id: 'SKU-1', name: 'Lamp', price: 9.5 });
 *   expect((await b.getProduct('SKU-1')).status).toBe(200);
 *   const d = await cluster.add();          // a 4th instance, started, not yet healthy
 *   await d.waitHealthy();
 *   await cluster.dispose();
 */
import { Redis } from 'ioredis';
import { clusterKeys } from '../../src/cluster/cluster-keys.js';
import { createTestDatabase, type TestDatabase } from './postgres-database.js';
import { freePort } from './free-port.js';
import { SHARED_REDIS_URL, deleteKeysMatching, deleteNamespaceKeys, uniqueNamespace } from './redis-namespace.js';
import { ServerProcess } from './server-process.js';

/** The bearer token for DELETE and /admin on every instance. */
export const CLUSTER_ADMIN_TOKEN = 'cluster-test-admin-token-0123456789';

export interface ClusterOptions {
  /** Instances started (and waited healthy) by startCluster. */
  readonly size: number;
  /** Default: the shared test Redis. A private one (test/helpers/private-redis.ts) for destructive tests. */
  readonly redisUrl?: string;
  /** Default: a fresh database from createTestDatabase(), dropped by dispose(). */
  readonly databaseUrl?: string;
  /** Default: a unique one. */
  readonly namespace?: string;
  /** Environment for every instance (on top of ServerProcess's test defaults). */
  readonly env?: Readonly<Record<string, string>>;
  /** true: every instance listens on one port (SO_REUSEPORT); requests then reach any of them. */
  readonly sharedPort?: boolean;
  /** How long each instance may take to say /health 200 at start. */
  readonly healthyTimeoutMs?: number;
}

export class Cluster {
  readonly instances: ServerProcess[] = [];
  readonly namespace: string;
  readonly redisUrl: string;
  readonly databaseUrl: string;
  /** The shared port when `sharedPort` was asked for. */
  readonly port: number | undefined;
  readonly #database: TestDatabase | undefined;
  readonly #env: Readonly<Record<string, string>>;
  #disposed = false;

  constructor(options: {
    namespace: string;
    redisUrl: string;
    databaseUrl: string;
    database: TestDatabase | undefined;
    env: Readonly<Record<string, string>>;
    port: number | undefined;
  }) {
    this.namespace = options.namespace;
    this.redisUrl = options.redisUrl;
    this.databaseUrl = options.databaseUrl;
    this.#database = options.database;
    this.#env = options.env;
    this.port = options.port;
  }

  /** Instance i (0-based); throws when there is none, so tests need no `!`. */
  at(i: number): ServerProcess {
    const server = this.instances[i];
    if (server === undefined) throw new Error(`the cluster has no instance ${i} (it has ${this.instances.length})`);
    return server;
  }

  /** The instances whose process is running. */
  running(): ServerProcess[] {
    return this.instances.filter((s) => s.isRunning);
  }

  /** Spawns one more instance on the same database and namespace; returns at once (not healthy yet). */
  async add(env: Readonly<Record<string, string>> = {}): Promise<ServerProcess> {
    if (this.#disposed) throw new Error('the cluster is disposed');
    const server = new ServerProcess({
      redisUrl: this.redisUrl,
      namespace: this.namespace,
      databaseUrl: this.databaseUrl,
      env: { ...this.#env, ...env },
      ...(this.port === undefined ? {} : { port: this.port }),
    });
    this.instances.push(server);
    await server.start();
    return server;
  }

  /** Waits until every running instance answers /health 200. */
  async waitAllHealthy(timeoutMs = 60_000): Promise<void> {
    await Promise.all(this.running().map((s) => this.waitReady(s, timeoutMs)));
  }

  /**
   * Waits until `server` is ready. On its own port: /health 200. On a shared
   * port a request may reach any instance, so the instance's own `ready` log
   * line (written once its /health would answer 200) is what counts; it is an
   * info line, so keep LOG_LEVEL at info or below there.
   */
  async waitReady(server: ServerProcess, timeoutMs = 60_000): Promise<void> {
    if (this.port === undefined) await server.waitHealthy(timeoutMs);
    else await server.waitForLog(/"msg":"ready"/, timeoutMs);
  }

  /**
   * One create on each running instance, awaited: an instance's first own
   * writes wait out its barrier's first observation of the cluster (a full
   * lease TTL), which a test timing writes around an event does not want to
   * measure. Returns the acknowledged ids.
   */
  async primeWrites(): Promise<string[]> {
    const servers = this.running();
    return Promise.all(
      servers.map(async (server, i) => {
        const id = `prime-${server.port}-${i}-${this.instances.indexOf(server)}`;
        const res = await server.postProduct({ id, name: 'prime', price: 1 }, 30_000);
        if (res.status !== 201) throw new Error(`priming create on port ${server.port} answered ${res.status}: ${res.text}`);
        return id;
      }),
    );
  }

  /** The last log lines of every instance, for failure messages. */
  tails(n = 20): string {
    return this.instances.map((s, i) => `--- instance ${i} (pid ${s.pid ?? '-'}) ---\n${s.tail(n)}`).join('\n');
  }

  /** Kills every instance, drops the database it created, deletes the namespace's keys. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await Promise.all(this.instances.map((s) => s.dispose()));
    await this.#database?.drop();
    await deleteClusterKeys(this.redisUrl, this.namespace).catch(() => undefined);
  }
}

/**
 * Starts `size` instances one after another (the first one creates the schema
 * and the epoch; the others join it) and waits until all are healthy. On a
 * failure everything started so far is disposed before the error is thrown.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const database = options.databaseUrl === undefined ? await createTestDatabase('bloomgate_cluster') : undefined;
  const cluster = new Cluster({
    namespace: options.namespace ?? uniqueNamespace('cluster'),
    redisUrl: options.redisUrl ?? SHARED_REDIS_URL,
    databaseUrl: options.databaseUrl ?? database?.url ?? '',
    database,
    // CLUSTER_MODE auto is the default; said here so a changed default cannot turn these into single-instance runs.
    env: { ADMIN_TOKEN: CLUSTER_ADMIN_TOKEN, CLUSTER_MODE: 'auto', ...options.env },
    port: options.sharedPort === true ? await freePort() : undefined,
  });
  try {
    for (let i = 0; i < options.size; i++) {
      const server = await cluster.add();
      // One at a time: a clean first start, then joins, as a rolling deploy does.
      await cluster.waitReady(server, options.healthyTimeoutMs ?? 60_000);
    }
  } catch (err) {
    await cluster.dispose();
    throw err;
  }
  return cluster;
}

/** Every key of the namespace: the service's cache and state keys and the cluster protocol's. */
export async function deleteClusterKeys(redisUrl: string, namespace: string): Promise<void> {
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: true });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await deleteNamespaceKeys(client, namespace);
    const keys = clusterKeys(namespace);
    await client.del(keys.feed, keys.epoch, keys.members, keys.applied, keys.snapshotLock, keys.snapshotFenceCounter);
    await deleteKeysMatching(client, keys.lease('*'));
  } finally {
    client.disconnect();
  }
}

/** Sends DELETE /products/<id> with the cluster's admin token. */
export function deleteProduct(server: ServerProcess, id: string): ReturnType<ServerProcess['request']> {
  return server.request('DELETE', `/products/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${CLUSTER_ADMIN_TOKEN}` } });
}
