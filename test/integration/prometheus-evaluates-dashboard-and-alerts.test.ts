/**
 * The Prometheus tooling shipped in load/ works against a real bloomgate: a real
 * Prometheus (Debian's `prometheus` package) scrapes a running service every
 * second and loads load/prometheus/alerts.yml; then every query of
 * load/grafana-dashboard.json must parse and return data, and every alert
 * expression must parse, through Prometheus's HTTP API. promtool checks the
 * rules, runs their unit tests, and lints a scrape of /metrics.
 *
 * A missing binary fails the test (with the install command) rather than
 * skipping it: CI (.ci/run) installs the package.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisConnection } from '../../src/store/redis-connection.js';
import { findBinary } from '../helpers/find-binary.js';
import { freePort } from '../helpers/free-port.js';
import { startTestService, type TestService } from '../helpers/in-process-service.js';
import { deleteNamespaceKeys, SHARED_REDIS_URL } from '../helpers/redis-namespace.js';
import { REPO_ROOT } from '../helpers/server-process.js';
import { waitForValue } from '../helpers/wait-for.js';

const PROMETHEUS_DIR = join(REPO_ROOT, 'load', 'prometheus');
const DASHBOARD_FILE = join(REPO_ROOT, 'load', 'grafana-dashboard.json');
const JOB = 'bloomgate';
const INSTALL_HINT = 'install it with `apt-get install prometheus` (Debian; .ci/run does this in CI)';
/** Scrapes and rule evaluations once a second keep the test short. */
const SCRAPE_INTERVAL = '1s';
/** What Grafana would put in its global variables for a 1 s scrape interval and a 1 h view. */
const GRAFANA_GLOBALS: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '15s',
  __interval_ms: '15000',
  __range: '1h',
  __range_s: '3600',
  __range_ms: '3600000',
};

interface PromResponse<T> {
  readonly status: 'success' | 'error';
  readonly data?: T;
  readonly errorType?: string;
  readonly error?: string;
}

interface QueryData {
  readonly resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  /** A list of series for vector/matrix, one [time, value] pair for scalar/string. */
  readonly result: unknown;
}

interface RuleGroups {
  readonly groups: readonly { readonly rules: readonly { readonly name: string; readonly query: string; readonly type: string; readonly health: string; readonly lastError?: string }[] }[];
}

interface ProcessResult {
  readonly code: number | null;
  readonly output: string;
}

/** Runs a command to its end, feeding `input` on stdin; stdout and stderr together. */
function run(command: string, args: readonly string[], options: { cwd?: string; input?: string } = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.end(options.input ?? '');
  });
}

/** Every `expr` of every panel target, with the panel title for failure messages. */
function dashboardQueries(): { panel: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
    panels: { title: string; targets?: { expr?: string }[] }[];
  };
  return dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).flatMap((target) => (target.expr === undefined ? [] : [{ panel: panel.title, expr: target.expr }])),
  );
}

/** Replaces Grafana variables ($name, ${name}, ${name:format}, [[name]]) with concrete values. */
function substituteGrafanaVariables(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole, braced?: string, bracketed?: string, bare?: string) => {
    const name = braced ?? bracketed ?? bare ?? '';
    const value = values[name];
    if (value === undefined) throw new Error(`no value for the Grafana variable ${whole} in ${expr}`);
    return value;
  });
}

/** A regex matching `text` exactly, as it must appear inside a PromQL double-quoted string (as Grafana escapes it). */
function promqlRegexLiteral(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\/g, '\\\\');
}

const prometheusBinary = findBinary('prometheus');
const promtoolBinary = findBinary('promtool');

/** The binaries, or an error naming the install command: every test fails (none is skipped) without them. */
function tools(): { readonly prometheus: string; readonly promtool: string } {
  if (prometheusBinary === null || promtoolBinary === null) {
    throw new Error(`${prometheusBinary === null ? 'prometheus' : 'promtool'} is not on PATH: ${INSTALL_HINT}`);
  }
  return { prometheus: prometheusBinary, promtool: promtoolBinary };
}

describe('a real Prometheus scraping bloomgate', () => {
  let dir = '';
  let svc: TestService | undefined;
  let server: ChildProcess | undefined;
  let serverLog = '';
  let api = '';
  let instance = '';

  async function query(expr: string): Promise<PromResponse<QueryData>> {
    const res = await fetch(`${api}/api/v1/query`, {
      method: 'POST',
      body: new URLSearchParams({ query: expr }),
      signal: AbortSignal.timeout(10_000),
    });
    return (await res.json()) as PromResponse<QueryData>;
  }

  /** Scrapes of bloomgate Prometheus has stored so far. */
  async function scrapes(): Promise<number> {
    const res = await query(`count_over_time(up{job="${JOB}"}[10m])`);
    const first = (res.data?.result as { value: [number, string] }[] | undefined)?.[0];
    return first === undefined ? 0 : Number(first.value[1]);
  }

  beforeAll(async () => {
    if (prometheusBinary === null || promtoolBinary === null) return; // each test reports it
    const { prometheus } = tools();
    dir = mkdtempSync(join(tmpdir(), 'bloomgate-prometheus-'));
    svc = await startTestService({ REDIS_URL: SHARED_REDIS_URL, SNAPSHOT_INTERVAL_MS: '100' });
    instance = `127.0.0.1:${svc.service.port}`;

    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        `  scrape_interval: ${SCRAPE_INTERVAL}`,
        `  evaluation_interval: ${SCRAPE_INTERVAL}`,
        'rule_files:',
        `  - ${JSON.stringify(join(PROMETHEUS_DIR, 'alerts.yml'))}`,
        'scrape_configs:',
        `  - job_name: ${JOB}`,
        '    static_configs:',
        `      - targets: [${JSON.stringify(instance)}]`,
        '',
      ].join('\n'),
    );
    server = spawn(
      prometheus,
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const child = server;
    process.once('exit', () => child.kill('SIGKILL'));
    server.stdout?.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
    server.stderr?.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
    const exited = new Promise<never>((_, reject) => server?.once('exit', (code) => reject(new Error(`prometheus exited (${code}):\n${serverLog}`))));
    exited.catch(() => undefined);
    const ready = waitForValue(
      'Prometheus to be ready',
      () => fetch(`${api}/-/ready`).then((r) => r.status, () => 0),
      (status) => status === 200,
      30_000,
    );
    await Promise.race([ready, exited]);

    // One scrape before the traffic, then creates, known and unknown lookups,
    // then two more scrapes: every counter has moved between stored samples.
    await waitForValue('the first scrape', scrapes, (n) => n >= 1, 30_000);
    for (let i = 0; i < 5; i++) {
      expect((await svc.post('/products', { id: `PROM-${i}`, name: `Item ${i}`, price: i + 0.5 })).status).toBe(201);
    }
    for (let i = 0; i < 5; i++) {
      expect((await svc.get(`/products/PROM-${i}`)).status).toBe(200);
      expect((await svc.get(`/products/PROM-${i}`)).status).toBe(200);
      expect((await svc.get(`/products/ABSENT-${i}`)).status).toBe(404);
    }
    const before = await scrapes();
    await waitForValue('two scrapes after the traffic', scrapes, (n) => n >= before + 2, 30_000);
  });

  afterAll(async () => {
    if (server !== undefined && server.exitCode === null) {
      const gone = new Promise((resolve) => server?.once('exit', resolve));
      server.kill('SIGTERM');
      const late = setTimeout(() => server?.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(late);
    }
    if (svc !== undefined) {
      await svc.stop();
      const redis = RedisConnection.open({ url: SHARED_REDIS_URL, commandTimeoutMs: 1000 });
      await redis.waitReady(5000);
      await deleteNamespaceKeys(redis.client, svc.config.namespace);
      await redis.close();
    }
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('finds the instance the dashboard variable lists', async () => {
    tools();
    const res = await fetch(`${api}/api/v1/label/instance/values?${new URLSearchParams({ 'match[]': 'bloomgate_filter_items' })}`);
    const body = (await res.json()) as PromResponse<string[]>;
    expect(body.data).toContain(instance);
  });

  it('answers every dashboard query with data', async () => {
    tools();
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(29);
    const values = { ...GRAFANA_GLOBALS, instance: promqlRegexLiteral(instance) };
    const failures: string[] = [];
    for (const { panel, expr } of queries) {
      const concrete = substituteGrafanaVariables(expr, values);
      const res = await query(concrete);
      if (res.status !== 'success') failures.push(`${panel}: ${concrete}: ${res.errorType}: ${res.error}`);
      else if (!Array.isArray(res.data?.result) || res.data.result.length === 0) failures.push(`${panel}: ${concrete}: no data`);
    }
    expect(failures).toEqual([]);
  });

  it('loads and evaluates every alert of alerts.yml, and none fires on a healthy service', async () => {
    tools();
    const declared = [...readFileSync(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8').matchAll(/^\s*- alert:\s*(\S+)/gm)].map((m) => m[1]);
    expect(declared.length).toBeGreaterThanOrEqual(7);
    // Loaded rules are evaluated every second; wait until each has been once.
    const rules = await waitForValue(
      'every rule evaluated',
      async () => {
        const res = await fetch(`${api}/api/v1/rules?type=alert`);
        return ((await res.json()) as PromResponse<RuleGroups>).data?.groups.flatMap((g) => g.rules) ?? [];
      },
      (list) => list.length === declared.length && list.every((r) => r.health !== 'unknown'),
      30_000,
    );
    expect(rules.map((r) => r.name).sort()).toEqual([...declared].sort());
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
    const failures: string[] = [];
    for (const rule of rules) {
      const res = await query(rule.query);
      if (res.status !== 'success') failures.push(`${rule.name}: ${res.errorType}: ${res.error}`);
    }
    expect(failures).toEqual([]);
    const alerts = await fetch(`${api}/api/v1/alerts`).then(async (r) => ((await r.json()) as PromResponse<{ alerts: { labels: Record<string, string>; state: string }[] }>).data?.alerts ?? []);
    expect(alerts.filter((a) => a.state === 'firing').map((a) => a.labels['alertname'])).toEqual([]);
  });

  it('passes promtool check rules and the rules unit tests', async () => {
    const { promtool } = tools();
    const check = await run(promtool, ['check', 'rules', 'alerts.yml'], { cwd: PROMETHEUS_DIR });
    expect(check.code, check.output).toBe(0);
    const unit = await run(promtool, ['test', 'rules', 'alerts.test.yml'], { cwd: PROMETHEUS_DIR });
    expect(unit.code, unit.output).toBe(0);
    const config = await run(promtool, ['check', 'config', 'prometheus.yml'], { cwd: PROMETHEUS_DIR });
    expect(config.code, config.output).toBe(0);
  });

  it('exports metrics promtool check metrics finds no problem in', async () => {
    const { promtool } = tools();
    if (svc === undefined) throw new Error('bloomgate did not start');
    const res = await fetch(`${svc.url}/metrics`);
    const exposition = await res.text();
    // The full scrape, prom-client's default process_/nodejs_ metrics included, must be clean (exit 0, no output).
    const whole = await run(promtool, ['check', 'metrics'], { input: exposition });
    expect(whole.output).toBe('');
    expect(whole.code).toBe(0);
  });
});
