/**
 * The real bloomgate server as a child process (`node --import tsx src/index.ts`
 * from the repo root), for the end-to-end durability tests: start it, kill it
 * (`kill -9` or SIGTERM), start it again on the same database and Redis, and
 * talk to it over HTTP with a per-request timeout.
 *
 * Every start gets a fresh free port (a killed server's port may linger in
 * TIME_WAIT), so read `server.url` after each start. Output is captured line by
 * line across starts; `run` numbers the starts so a test can look at the logs
 * of the current one only. Children still running when the test process exits
 * are SIGKILLed.
 *
 * @example
 *   const server = new ServerProcess({ redisUrl: SHARED_REDIS_URL, namespace: uniqueNamespace('crash') });
 *   await server.start();
 *   await server.waitHealthy();
 *   const created = await server.post('/products', { id: 'SKU-1', name: 'Lamp', price: 9.5 });
 *   await server.kill9();
 *   await server.restart();               // same DB, same Redis, new port, waits for /health 200
 *   expect(await server.exitAfterSigterm()).toEqual({ code: 0, signal: null });
 *   await server.dispose();               // kills it if running, deletes its temp dir
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';
import { waitFor } from './wait-for.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerOptions {
  readonly redisUrl: string;
  readonly namespace: string;
  /** Holds the database (and anything else the test puts there); a new temp dir by default. */
  readonly dir?: string;
  /** Extra or overriding environment variables (BLOOM_CAPACITY, PRODUCTS_FILE, ...). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * DATABASE_URL: a `postgres://` URL runs on PostgreSQL (e.g. createTestDatabase().url);
   * unset: SQLite at `dbPath` in `dir`.
   */
  readonly databaseUrl?: string;
  /**
   * A fixed port for every start instead of a fresh free one: several servers
   * on ONE port (uWebSockets.js sets SO_REUSEPORT, the kernel spreads connections).
   */
  readonly port?: number;
}

export interface LogLine {
  /** Which start (1 = the first) wrote it. */
  readonly run: number;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  /** The parsed line when it is a JSON object (the service logs JSON lines). */
  readonly json: Record<string, unknown> | undefined;
  /** performance.now() when the line was read. */
  readonly at: number;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface HttpResult {
  readonly status: number;
  /** The parsed JSON body, or undefined when it is not JSON. */
  readonly body: unknown;
  readonly text: string;
  /** Wall time from sending to the last body byte. */
  readonly ms: number;
}

/** What `/bloom/stats` promises (plus anything else the service adds). */
export interface BloomStats {
  readonly capacity: number;
  readonly items: number;
  readonly shards: number;
  readonly bits: number;
  readonly hashes: number;
  readonly namespace: string;
  readonly snapshot?: Record<string, unknown>;
  readonly load?: { source?: string; ms?: number } & Record<string, unknown>;
  readonly [key: string]: unknown;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
const HEALTH_POLL_MS = 50;
const running = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class ServerProcess {
  readonly dir: string;
  readonly dbPath: string;
  readonly namespace: string;
  readonly redisUrl: string;
  /** Every captured line of every start, in order. */
  readonly logs: LogLine[] = [];
  private readonly ownsDir: boolean;
  private readonly fixedPort: number | undefined;
  private readonly baseEnv: Record<string, string>;
  private child: ChildProcess | undefined;
  private closed: Promise<ExitInfo> | undefined;
  private portValue = 0;
  private runValue = 0;
  private lastExitValue: ExitInfo | undefined;

  constructor(options: ServerOptions) {
    this.ownsDir = options.dir === undefined;
    this.fixedPort = options.port;
    this.dir = options.dir ?? mkdtempSync(join(tmpdir(), 'bloomgate-server-'));
    this.dbPath = join(this.dir, 'products.db');
    this.namespace = options.namespace;
    this.redisUrl = options.redisUrl;
    this.baseEnv = {
      HOST: '127.0.0.1',
      DB_PATH: this.dbPath,
      ...(options.databaseUrl === undefined ? {} : { DATABASE_URL: options.databaseUrl }),
      // Absent on purpose: no import unless a test asks for one.
      PRODUCTS_FILE: join(this.dir, 'no-products-file.txt'),
      REDIS_URL: options.redisUrl,
      BLOOM_STATE_NAMESPACE: options.namespace,
      BLOOM_CAPACITY: '100000',
      BLOOM_FPR: '0.01',
      SNAPSHOT_INTERVAL_MS: '200',
      REDIS_COMMAND_TIMEOUT_MS: '500',
      // Two cores shared with other tests: one filter worker is plenty.
      WORKERS: '1',
      SHUTDOWN_TIMEOUT_MS: '10000',
      ...options.env,
    };
  }

  get url(): string {
    return `http://127.0.0.1:${this.portValue}`;
  }

  get port(): number {
    return this.portValue;
  }

  /** The number of the current (or last) start: 1 for the first. */
  get run(): number {
    return this.runValue;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get isRunning(): boolean {
    return this.child !== undefined && this.lastExitValue === undefined;
  }

  /** How the last run ended, once it has. */
  get lastExit(): ExitInfo | undefined {
    return this.lastExitValue;
  }

  /** Lines written by the current (or last) start. */
  runLogs(run = this.runValue): LogLine[] {
    return this.logs.filter((line) => line.run === run);
  }

  /** The last `n` lines, for failure messages. */
  tail(n = 40): string {
    return this.logs
      .slice(-n)
      .map((l) => `[run ${l.run} ${l.stream}] ${l.text}`)
      .join('\n');
  }

  /**
   * Spawns the server on a new free port and returns at once (it is NOT healthy
   * yet: see waitHealthy). `env` overrides the constructor's for this start and
   * every later one.
   */
  async start(env: Readonly<Record<string, string>> = {}): Promise<void> {
    if (this.isRunning) throw new Error('the server is already running');
    Object.assign(this.baseEnv, env);
    this.portValue = this.fixedPort ?? (await freePort());
    this.runValue++;
    this.lastExitValue = undefined;
    const run = this.runValue;
    const childEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      // The service must see only what the test sets, not the test runner's own settings.
      if (v !== undefined && !k.startsWith('VITEST') && k !== 'NODE_OPTIONS') childEnv[k] = v;
    }
    Object.assign(childEnv, this.baseEnv, { PORT: String(this.portValue) });
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
      cwd: REPO_ROOT,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    running.add(child);
    const capture = (stream: 'stdout' | 'stderr', source: NodeJS.ReadableStream | null): Promise<void> => {
      if (source === null) return Promise.resolve();
      const lines = createInterface({ input: source, crlfDelay: Infinity });
      lines.on('line', (text) => this.logs.push({ run, stream, text, json: parseJsonLine(text), at: performance.now() }));
      return new Promise((resolve) => lines.once('close', () => resolve()));
    };
    const outputDone = Promise.all([capture('stdout', child.stdout), capture('stderr', child.stderr)]);
    const exited = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    // Resolve only when the output is drained too, so the last lines are in `logs`.
    this.closed = Promise.all([exited, outputDone]).then(([info]) => {
      running.delete(child);
      this.lastExitValue = info;
      return info;
    });
  }

  /** Resolves with how the current run ended. */
  waitExit(): Promise<ExitInfo> {
    if (this.closed === undefined) return Promise.reject(new Error('the server was never started'));
    return this.closed;
  }

  /**
   * Polls GET /health until 200; returns the ms it took. Rejects at once if the
   * process exits, and after `timeoutMs` otherwise (with the log tail).
   */
  async waitHealthy(timeoutMs = 60_000): Promise<number> {
    const healthy = async (): Promise<boolean> => {
      if (!this.isRunning) {
        throw new Error(`the server exited (${JSON.stringify(this.lastExitValue)}) before /health was 200; log tail:\n${this.tail()}`);
      }
      // A failed request means "not listening yet".
      return this.request('GET', '/health', { timeoutMs: 1_000 }).then((res) => res.status === 200, () => false);
    };
    try {
      return await waitFor('/health 200', healthy, timeoutMs, HEALTH_POLL_MS);
    } catch (err) {
      if ((err as Error).message.includes('log tail')) throw err;
      throw new Error(`/health was not 200 within ${timeoutMs} ms; log tail:\n${this.tail()}`);
    }
  }

  /** SIGKILL, like a crash; resolves once the process is gone and its output drained. Safe when stopped. */
  async kill9(): Promise<void> {
    if (!this.isRunning || this.child === undefined) return;
    this.child.kill('SIGKILL');
    await this.waitExit();
  }

  /** Sends SIGTERM and resolves with the exit; SIGKILLs and rejects if it takes longer than `timeoutMs`. */
  async exitAfterSigterm(timeoutMs = 30_000): Promise<ExitInfo> {
    if (!this.isRunning || this.child === undefined) throw new Error('the server is not running');
    this.child.kill('SIGTERM');
    return this.waitExitWithin(timeoutMs, 'SIGTERM');
  }

  /** Sends SIGTERM and returns at once; pair with waitExitWithin. */
  sendSigterm(): void {
    if (!this.isRunning || this.child === undefined) throw new Error('the server is not running');
    this.child.kill('SIGTERM');
  }

  async waitExitWithin(timeoutMs: number, after: string): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    const result = await Promise.race([this.waitExit(), late]);
    clearTimeout(timer);
    if (result === 'late') {
      await this.kill9();
      throw new Error(`the server did not exit within ${timeoutMs} ms of ${after}; log tail:\n${this.tail()}`);
    }
    return result;
  }

  /** Kills the running server if any (SIGKILL), starts it again on the same DB and Redis, waits for /health 200. */
  async restart(env: Readonly<Record<string, string>> = {}, healthyTimeoutMs = 60_000): Promise<number> {
    await this.kill9();
    await this.start(env);
    return this.waitHealthy(healthyTimeoutMs);
  }

  /** Kills the server if running and deletes the temp dir it created. */
  async dispose(): Promise<void> {
    await this.kill9();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Waits until a line of the current run matches; returns it. */
  async waitForLog(pattern: RegExp, timeoutMs: number, run = this.runValue): Promise<LogLine> {
    let line: LogLine | undefined;
    const logged = (): boolean => {
      line = this.logs.find((l) => l.run === run && pattern.test(l.text));
      if (line === undefined && !this.isRunning && this.runValue === run) {
        throw new Error(`the server exited without a log line matching ${pattern}; log tail:\n${this.tail()}`);
      }
      return line !== undefined;
    };
    try {
      await waitFor(`a log line matching ${pattern}`, logged, timeoutMs);
    } catch (err) {
      if ((err as Error).message.includes('log tail')) throw err;
      throw new Error(`no log line matching ${pattern} within ${timeoutMs} ms; log tail:\n${this.tail()}`);
    }
    if (line === undefined) throw new Error(`unreachable: waitFor resolved without ${pattern}`);
    return line;
  }

  /**
   * One HTTP request with a timeout (fetch, keep-alive). Rejects on a network
   * error or the timeout (error name 'TimeoutError'); any status resolves.
   */
  async request(
    method: string,
    path: string,
    options: { body?: unknown; timeoutMs?: number; headers?: Readonly<Record<string, string>> } = {},
  ): Promise<HttpResult> {
    const started = performance.now();
    const headers: Record<string, string> = { ...options.headers };
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS) };
    if (options.body !== undefined) {
      init.body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(this.url + path, init);
    const text = await res.text();
    return { status: res.status, body: parseJson(text), text, ms: performance.now() - started };
  }

  getProduct(id: string, timeoutMs?: number): Promise<HttpResult> {
    return this.request('GET', `/products/${encodeURIComponent(id)}`, timeoutMs === undefined ? {} : { timeoutMs });
  }

  postProduct(product: { id: string; name: string; price: number }, timeoutMs?: number): Promise<HttpResult> {
    return this.request('POST', '/products', { body: product, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  }

  async stats(): Promise<BloomStats> {
    const res = await this.request('GET', '/bloom/stats');
    if (res.status !== 200) throw new Error(`/bloom/stats answered ${res.status}: ${res.text}`);
    return res.body as BloomStats;
  }

  async metrics(): Promise<string> {
    const res = await this.request('GET', '/metrics');
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${res.text}`);
    return res.text;
  }

  async health(timeoutMs?: number): Promise<HttpResult> {
    return this.request('GET', '/health', timeoutMs === undefined ? {} : { timeoutMs });
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function parseJsonLine(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{')) return undefined;
  const value = parseJson(text);
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

/** True for a warning-level (or worse) line: JSON `level` warn/error/>=40, or a plain-text WARN. */
export function isWarningOrWorse(line: LogLine): boolean {
  const level = line.json?.['level'];
  if (typeof level === 'string') return /^(warn|warning|error|fatal)$/i.test(level);
  if (typeof level === 'number') return level >= 40;
  return /\b(warn|warning|error)\b/i.test(line.text);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
