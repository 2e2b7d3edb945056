/**
 * The compiled build serves on its own: `npm run build`, then plain
 * `node <out>/src/index.js` with no TypeScript loader. The worker pool must
 * find `workers/filter-worker.js` beside the compiled code (a `.ts` worker
 * does not exist in the build, so resolving one would fail the start), and a
 * batch check proves the compiled worker answers at run time.
 *
 * The build goes to a private directory under the repo's ignored `.tmp/`
 * (not `dist/`, which someone may be running): inside the repo so that
 * `node_modules` and package.json's `"type": "module"` are found as they are
 * for `dist/`. The build script's own arguments are kept; only the output
 * directory changes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

describe('the compiled build', () => {
  let outDir = '';
  let dataDir = '';
  let child: ChildProcess | undefined;
  let exited: Promise<Exit> = Promise.resolve({ code: null, signal: null });
  let url = '';
  const output: string[] = [];

  beforeAll(async () => {
    mkdirSync(join(REPO_ROOT, '.tmp'), { recursive: true });
    outDir = mkdtempSync(join(REPO_ROOT, '.tmp', 'compiled-build-'));
    dataDir = mkdtempSync(join(tmpdir(), 'bloomgate-compiled-'));
    // A tiny first import keeps the filter nearly empty, so the unknown id below cannot be a false positive.
    const productsFile = join(dataDir, 'products.txt');
    writeFileSync(productsFile, 'SKU-SEED-1\nSKU-SEED-2\n');
    await run('npm', ['run', '--silent', 'build', '--', '--outDir', outDir, '--tsBuildInfoFile', join(outDir, '.tsbuildinfo')], {
      cwd: REPO_ROOT,
    });

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [join(outDir, 'src', 'index.js')], {
      cwd: REPO_ROOT,
      // NODE_OPTIONS cleared: a loader inherited from the test runner must not be what makes it work.
      env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), HOST: '127.0.0.1', REDIS_URL: 'memory://', DB_PATH: join(dataDir, 'products.db'), PRODUCTS_FILE: productsFile, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    const started = child;
    exited = new Promise((resolve) => started.once('exit', (code, signal) => resolve({ code, signal })));

    // Ready when /health answers 200; fail at once if the process dies first.
    const deadline = performance.now() + 60_000;
    let alive = true;
    void exited.then(() => {
      alive = false;
    });
    for (;;) {
      if (!alive) throw new Error(`node ${outDir}/src/index.js exited before it was ready:\n${output.join('')}`);
      const status = await fetch(`${url}/health`).then(
        async (res) => {
          await res.arrayBuffer();
          return res.status;
        },
        () => 0,
      );
      if (status === 200) break;
      if (performance.now() > deadline) throw new Error(`not ready within 60 s:\n${output.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    if (outDir !== '') rmSync(outDir, { recursive: true, force: true });
    if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true });
  });

  it('holds only JavaScript from src/ and workers/', () => {
    const files = filesUnder(outDir).filter((f) => f !== '.tsbuildinfo');
    expect(files).toContain('src/index.js');
    expect(files).toContain('workers/filter-worker.js');
    expect(files.filter((f) => !/^(src|workers)\/.+\.js$/.test(f))).toEqual([]);
  });

  it('creates, finds, and answers an unknown id 404 from the filter', async () => {
    const created = await fetch(`${url}/products`, {
      method: 'POST',
      body: JSON.stringify({ id: 'SKU-COMPILED-1', name: 'Compiled lamp', price: 12.5 }),
    });
    expect(created.status).toBe(201);
    await created.arrayBuffer();

    const found = await fetch(`${url}/products/SKU-COMPILED-1`);
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({ id: 'SKU-COMPILED-1', name: 'Compiled lamp', price: 12.5 });

    const unknown = await fetch(`${url}/products/SKU-NEVER-CREATED`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: 'not_found', source: 'bloom_filter' });
  });

  it('checks a batch in the compiled worker', async () => {
    const res = await fetch(`${url}/bloom/check`, {
      method: 'POST',
      body: JSON.stringify({ ids: ['SKU-COMPILED-1', 'SKU-NEVER-CREATED'] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ results: [true, false] });
  });

  it('exits 0 on SIGTERM', async () => {
    child?.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
  });
});
