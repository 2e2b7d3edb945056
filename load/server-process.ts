/**
 * A server under load as a child process: spawned on a free port, ready when
 * `GET /health` answers 200, stopped with SIGTERM and then SIGKILL if it does
 * not exit in time. Its output is kept (the last lines) for the report when
 * it fails.
 *
 * @example
 *   const server = await startServer({ name: 'bloomgate', entry: 'src/index.ts', env: { DB_PATH } });
 *   server.url;           // 'http://127.0.0.1:41234'
 *   server.alive();       // false once the process has exited
 *   await server.stop();  // { code, signal, killed }
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface ServerOptions {
  readonly name: string;
  /** A .ts file (run with --import tsx) or a .mjs/.js file (plain node). */
  readonly entry: string;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly port?: number;
  readonly healthTimeoutMs?: number;
}

export interface ExitInfo extends ExitState {
  /** True when SIGTERM was not enough and the process got SIGKILL. */
  readonly killed: boolean;
}

export interface ServerProcess {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Milliseconds from spawn to the first 200 from /health. */
  readonly readyMs: number;
  alive(): boolean;
  /** The last lines the process printed (stdout and stderr). */
  output(): string;
  stop(timeoutMs?: number): Promise<ExitInfo>;
}

const kKeepLines = 60;

interface ExitState {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A port the OS just handed out on 127.0.0.1 (free unless someone takes it in the next instant). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port from the OS'));
        else resolve(address.port);
      });
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function startServer(options: ServerOptions): Promise<ServerProcess> {
  const port = options.port ?? (await freePort());
  const args = options.entry.endsWith('.ts') ? ['--import', 'tsx', options.entry] : [options.entry];
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.length === 0) continue;
      lines.push(line);
      if (lines.length > kKeepLines) lines.shift();
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // An object, not a `let`: TypeScript would narrow a local to null inside the closures below.
  const state: { exit: ExitState | null } = { exit: null };
  const exited = new Promise<ExitState>((resolve) => {
    child.once('exit', (code, signal) => {
      state.exit = { code, signal };
      resolve(state.exit);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const output = (): string => lines.join('\n');

  const stop = async (timeoutMs = 5_000): Promise<ExitInfo> => {
    if (state.exit !== null) return { ...state.exit, killed: false };
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    const first = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (first !== null) return { ...first, killed: false };
    child.kill('SIGKILL');
    return { ...(await exited), killed: true };
  };

  const deadline = started + (options.healthTimeoutMs ?? 60_000);
  for (;;) {
    if (state.exit !== null) {
      throw new Error(`${options.name} exited before it was healthy (${JSON.stringify(state.exit)}):\n${output()}`);
    }
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`${options.name} was not healthy within ${options.healthTimeoutMs ?? 60_000} ms:\n${output()}`);
    }
    await sleep(50);
  }
  const readyMs = Math.round(performance.now() - started);
  return {
    name: options.name,
    url,
    port,
    pid: child.pid ?? -1,
    readyMs,
    alive: () => state.exit === null,
    output,
    stop,
  };
}
