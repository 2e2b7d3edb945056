/**
 * One Redis client with bloomgate's failure policy: while Redis is down every
 * command fails fast (the caller falls back to the database), and the client
 * reconnects by itself forever. Redis holds only derived state (the cache and
 * the filter snapshot), so losing it costs speed, never correctness.
 *
 * `memory://name` and `fakeredis://name` run ioredis-mock in-process instead:
 * connections opened on the same URL share one data set (like one server),
 * different URLs get separate data, so tests can each use their own.
 *
 * Keys are owned by the modules that write them: `bloom:cache:<ns>:*`
 * (product-cache.ts) and `bloom:state:<ns>:*` (snapshot-store.ts).
 *
 * @example
 *   const redis = RedisConnection.open({ url: config.redisUrl, commandTimeoutMs: config.redisCommandTimeoutMs });
 *   await redis.waitReady(2_000).catch(() => log.warn('starting without Redis'));
 *   const stop = redis.onStatusChange((healthy) => metrics.redisUp.set(healthy ? 1 : 0));
 *   await redis.close();
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import ioredisMock from 'ioredis-mock';
import { REDIS_URL_RULE, redactUrl, redisUrlKind } from './redis-url.js';

export interface RedisConnectionOptions {
  readonly url: string;
  /** Upper bound on any one command; a command still unanswered then rejects. */
  readonly commandTimeoutMs: number;
  /** Sent as CLIENT SETNAME, to spot the service in CLIENT LIST. */
  readonly name?: string;
}

const MAX_RECONNECT_DELAY_MS = 2_000;
/** How often a real connection PINGs to tell a hung Redis from a working one. */
const HEARTBEAT_MS = 1000;
/** Consecutive failed PINGs before Redis counts as hung (so detection takes about 2-3 s). */
const HUNG_AFTER_MISSED_BEATS = 2;
/** How long a close lets QUIT finish (and the socket end) before cutting it. */
const QUIT_TIMEOUT_MS = 1_000;

/**
 * Closes one ioredis client within about 2 * QUIT_TIMEOUT_MS even when Redis is
 * black-holed (a silent socket never answers QUIT, and without a command timeout
 * the QUIT never rejects): QUIT if the client is ready, raced against the
 * timeout; then disconnect() (also ends a reconnect loop; a no-op after a
 * completed QUIT) and wait for the socket to end, bounded the same way.
 * Every connection the service opens is closed through this.
 */
export async function quitOrCut(client: Redis, options: { readonly ready?: boolean; readonly inProcess?: boolean } = {}): Promise<void> {
  const inProcess = options.inProcess ?? false;
  if (options.ready ?? client.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
    });
    await Promise.race([client.quit().then(() => undefined, () => undefined), timeout]);
    clearTimeout(timer);
  }
  // Wait for the socket to close if there is one (between reconnect attempts
  // there is none, and ioredis then emits no 'end' at all).
  const status = client.status;
  if (!inProcess && (status === 'connecting' || status === 'connect' || status === 'ready')) {
    const ended = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
      client.once('end', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    client.disconnect();
    await ended;
  } else {
    client.disconnect();
  }
}

// ioredis-mock is CommonJS; its module object carries the class as `default` too.
const RedisMock = ioredisMock.default;

/** In-process servers by URL remainder: their run_id (the data lives in ioredis-mock, keyed by host). */
const inProcessRunIds = new Map<string, string>();

/** Reconnect delay: 100 ms, doubling, capped at 2 s; never gives up. (Every Redis connection of the service uses it.) */
export function reconnectDelay(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt - 1, 10), MAX_RECONNECT_DELAY_MS);
}

export class RedisConnection {
  readonly client: Redis;
  readonly inProcess: boolean;
  private readonly url: string;
  private readonly mockRunId: string | undefined;
  private readonly listeners = new Set<(healthy: boolean) => void>();
  private lastHealthy: boolean;
  private closed = false;
  private lastError: Error | undefined;
  /** Set when a heartbeat PING timed out on an open connection: Redis hangs (or the network does). */
  private hung = false;
  private missedBeats = 0;
  private heartbeat: NodeJS.Timeout | undefined;

  private constructor(url: string, client: Redis, mockRunId: string | undefined) {
    this.url = url;
    this.client = client;
    this.inProcess = mockRunId !== undefined;
    this.mockRunId = mockRunId;
    this.lastHealthy = this.healthy;
    const update = (): void => this.emitIfChanged();
    for (const event of ['ready', 'connect', 'close', 'reconnecting', 'end']) client.on(event, update);
    // A fresh connection starts trusted; the heartbeat decides again within a second.
    client.on('ready', () => {
      this.hung = false;
      this.missedBeats = 0;
      update();
    });
    if (mockRunId === undefined) {
      // An open socket is not a working Redis: a hung server or a silent network
      // keeps the connection 'ready' while every command times out. A PING each
      // second turns that into `healthy === false`, so lookups skip the cache
      // instead of waiting out commandTimeout, and /health says degraded.
      this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
      this.heartbeat.unref();
    }
    // Without a listener ioredis logs every failed reconnect; the failure reaches
    // callers through their rejected commands and through `healthy`.
    client.on('error', (err: Error) => {
      this.lastError = err;
      update();
    });
  }

  static open(options: RedisConnectionOptions): RedisConnection {
    const { url } = options;
    if (!Number.isSafeInteger(options.commandTimeoutMs) || options.commandTimeoutMs < 1) {
      throw new RangeError(`commandTimeoutMs must be a positive integer, got ${options.commandTimeoutMs}`);
    }
    if (options.name !== undefined && !/^[!-~]+$/.test(options.name)) {
      // CLIENT SETNAME refuses spaces, and a refused name would fail every connect.
      throw new RangeError(`name must be printable ASCII without spaces, got ${JSON.stringify(options.name)}`);
    }
    const kind = redisUrlKind(url);
    if (kind === undefined) throw new RangeError(`Redis URL ${JSON.stringify(redactUrl(url))} ${REDIS_URL_RULE}`);
    if (kind.kind === 'in-process') {
      const key = kind.name;
      let runId = inProcessRunIds.get(key);
      if (runId === undefined) {
        runId = randomBytes(20).toString('hex');
        inProcessRunIds.set(key, runId);
      }
      // ioredis-mock shares data between instances with the same host:port/db.
      const client = new RedisMock({ host: `bloomgate-in-process/${key}`, port: 6379, db: 0, lazyConnect: false });
      return new RedisConnection(url, client, runId);
    }
    const client = new Redis(url, {
      // Bounds every command, so no request waits on a hung Redis for longer.
      commandTimeout: options.commandTimeoutMs,
      // A command caught by a dropped connection is retried once, then rejected.
      maxRetriesPerRequest: 1,
      // While disconnected, reject at once instead of queueing until Redis returns:
      // the caller has the database to fall back on, and a queue only adds latency.
      enableOfflineQueue: false,
      // Concurrent requests' commands share one write and one round trip.
      enableAutoPipelining: true,
      // Reconnect forever with capped backoff: Redis coming back must heal the service unaided.
      retryStrategy: reconnectDelay,
      // Connect now, so start-up can wait for readiness and report it.
      lazyConnect: false,
      ...(options.name === undefined ? {} : { connectionName: options.name }),
    });
    return new RedisConnection(url, client, undefined);
  }

  /** True while the connection is ready and answering; an in-process one is ready until closed. */
  get healthy(): boolean {
    if (this.closed) return false;
    return this.inProcess || (this.client.status === 'ready' && !this.hung);
  }

  private beat(): void {
    if (this.closed || this.client.status !== 'ready') return;
    this.client.ping().then(
      () => {
        this.missedBeats = 0;
        this.hung = false;
        this.emitIfChanged();
      },
      (err: unknown) => {
        if (this.client.status !== 'ready') return; // a plain disconnect: status already says so
        // One late PING can be a busy event loop; two in a row is a Redis that does not answer.
        if (++this.missedBeats < HUNG_AFTER_MISSED_BEATS) return;
        this.hung = true;
        this.lastError = err instanceof Error ? err : new Error(String(err));
        this.emitIfChanged();
      },
    );
  }

  /** Resolves when first ready or rejects after timeoutMs (the service still starts degraded then). */
  waitReady(timeoutMs: number): Promise<void> {
    if (this.healthy) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('the Redis connection is closed'));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        const cause = this.lastError === undefined ? '' : ` (last error: ${this.lastError.message})`;
        reject(new Error(`Redis at ${redactUrl(this.url)} was not ready within ${timeoutMs} ms${cause}`));
      }, timeoutMs);
      const stop = this.onStatusChange((healthy) => {
        if (healthy) {
          clearTimeout(timer);
          stop();
          resolve();
        } else if (this.closed) {
          clearTimeout(timer);
          stop();
          reject(new Error('the Redis connection was closed before it became ready'));
        }
      });
    });
  }

  /** The server's run_id from INFO server (it changes when Redis restarts); constant per in-process URL. */
  async runId(): Promise<string> {
    if (this.mockRunId !== undefined) return this.mockRunId;
    const info = await this.client.info('server');
    const match = /^run_id:([0-9a-fA-F]+)\r?$/m.exec(info);
    if (match?.[1] === undefined) throw new Error('INFO server has no run_id');
    return match[1];
  }

  /** Calls `listener` each time `healthy` flips; returns a function that unsubscribes. */
  onStatusChange(listener: (healthy: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** QUIT, falling back to cutting the connection after a timeout; stops reconnecting. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    const wasReady = this.client.status === 'ready' || this.inProcess;
    this.closed = true;
    this.emitIfChanged();
    await quitOrCut(this.client, { ready: wasReady, inProcess: this.inProcess });
    this.listeners.clear();
  }

  private emitIfChanged(): void {
    const healthy = this.healthy;
    if (healthy === this.lastHealthy) return;
    this.lastHealthy = healthy;
    for (const listener of [...this.listeners]) listener(healthy);
  }
}
