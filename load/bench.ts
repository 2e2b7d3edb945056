/**
 * `npm run bench`: the ratios of issue 4, each measured against its baseline
 * in the same run. One module per scenario in load/bench/ (reject, hit, fixed,
 * check); this runner starts the servers those scenarios need, once each, then
 * runs every round: each scenario's cases back to back as one block, blocks and
 * cases in an order rotated per round, so slow drift on a shared machine hits A
 * and B alike. Ratios are the median of the per-round ratios.
 *
 *   npm run bench                          # every scenario
 *   npm run bench -- reject                # one scenario (or several: reject hit)
 *   BENCH_SCENARIOS=check npm run bench    # the same, from the environment
 *   npm run bench -- --list                # the scenarios and what each measures
 *   BENCH_ROUNDS=7 BENCH_DURATION_S=5 BENCH_CONNECTIONS=64 npm run bench
 *
 * Prints one markdown table (paste it into load/RESULTS.md) with the exact
 * command, the machine and the Node version. Every knob, with its default, is
 * in load/bench/options.ts. Client and server share the machine's cores: the
 * load generator takes about one of them.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ABSENT_PREFIX, existingId, writeProductsFile } from './products-file.js';
import { deleteNamespaceKeys, redisReachable, runNamespace } from './redis-namespace.js';
import { checkBody, seededRandom } from './scenarios.js';
import type { ServerProcess } from './server-process.js';
import { wrkAvailable } from './wrk.js';
import { checkScenario } from './bench/check.js';
import { fixedScenario } from './bench/fixed.js';
import { hitScenario } from './bench/hit.js';
import { localCacheScenario } from './bench/local-cache.js';
import { runWithAutocannon, runWithWrk, type LoadContext } from './bench/load.js';
import * as knobs from './bench/options.js';
import type { Sample, ServerName } from './bench/options.js';
import { report } from './bench/report.js';
import { caseKey, type BenchCase, type BenchScenario, type Results } from './bench/scenario.js';
import { startServers, expectStatus, warmCache, type StartedServers } from './bench/servers.js';
import { cpuMs, fmtInt, fmtRatio, median, wrkVersion } from './bench/stats.js';
import { rejectScenario } from './bench/reject.js';

const ALL: readonly BenchScenario[] = [rejectScenario, hitScenario, fixedScenario, checkScenario, localCacheScenario];
const log = (line: string): void => console.error(line);

/** The scenarios asked for: arguments, else BENCH_SCENARIOS, else all. Exits on an unknown name. */
function chosenScenarios(): { scenarios: BenchScenario[]; names: string[]; fromArgs: boolean } {
  const args = process.argv.slice(2);
  if (args.includes('--list')) {
    for (const s of ALL) console.log(`${s.name.padEnd(8)} ${s.about}`);
    process.exit(0);
  }
  const names = args.length > 0 ? args : knobs.SCENARIOS.split(',').map((n) => n.trim()).filter((n) => n !== '');
  const unknown = names.filter((n) => !ALL.some((s) => s.name === n));
  if (unknown.length > 0) {
    console.error(`unknown bench scenario ${unknown.join(', ')}; one of: ${ALL.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  return { scenarios: names.length === 0 ? [...ALL] : ALL.filter((s) => names.includes(s.name)), names, fromArgs: args.length > 0 };
}

function collect(samples: ReadonlyMap<string, Sample[]>): Results {
  const per = (key: string): readonly Sample[] => samples.get(key) ?? [];
  return {
    per,
    ratio(a, b, field) {
      const as = per(a);
      const bs = per(b);
      if (as.length === 0 || bs.length === 0) return Number.NaN;
      return median(as.map((s, i) => s[field] / bs[i]![field]));
    },
    med: (key, field) => median(per(key).map((s) => s[field])),
  };
}

interface Block {
  readonly scenario: BenchScenario;
  readonly cases: readonly BenchCase[];
}

/**
 * ROUNDS rounds of every block; blocks and the cases within each in an order
 * rotated per round, so a case's A and B halves run seconds apart.
 */
async function runRounds(
  blocks: readonly Block[],
  measure: (c: BenchCase) => Promise<Omit<Sample, 'cpuUsPerReq'>>,
  serverOf: (name: ServerName) => ServerProcess,
): Promise<Map<string, Sample[]>> {
  const samples = new Map<string, Sample[]>();
  for (let round = 0; round < knobs.ROUNDS; round++) {
    for (let bi = 0; bi < blocks.length; bi++) {
      const b = blocks[(bi + round) % blocks.length]!;
      for (let ci = 0; ci < b.cases.length; ci++) {
        const c = b.cases[(ci + round) % b.cases.length]!;
        const pid = serverOf(c.server).pid;
        const cpuBefore = cpuMs(pid);
        const result = await measure(c);
        const cpuUsed = cpuMs(pid) - cpuBefore;
        const sample: Sample = { ...result, cpuUsPerReq: (cpuUsed * 1000) / (result.rps * knobs.DURATION_S) };
        const key = caseKey(b.scenario.name, c);
        samples.set(key, [...(samples.get(key) ?? []), sample]);
        log(
          `round ${round + 1}/${knobs.ROUNDS} ${key.padEnd(26)} ${fmtInt(sample.rps).padStart(8)} req/s  p99 ${(sample.p99Us / 1000).toFixed(2)} ms  ` +
            `server CPU ${sample.cpuUsPerReq.toFixed(1)} us/req  errors ${sample.errors}`,
        );
      }
      b.scenario.afterBlock?.(round, log);
    }
  }
  return samples;
}

async function main(): Promise<void> {
  const { scenarios, names, fromArgs } = chosenScenarios();
  const command = [...knobs.knobsInEnvironment(), 'npm run bench', ...(fromArgs ? ['--', ...names] : [])].join(' ');
  const useWrk = knobs.LOADGEN === 'autocannon' ? false : await wrkAvailable();
  if (knobs.LOADGEN === 'wrk' && !useWrk) throw new Error('BENCH_LOADGEN=wrk but wrk is not installed (apt-get install -y wrk)');
  const redisUp = await redisReachable(knobs.REDIS_URL);
  const namespace = runNamespace('bench');
  const bloomgateRedis = redisUp ? knobs.REDIS_URL : 'memory://';
  const run = useWrk ? runWithWrk : runWithAutocannon;

  log(
    `bench ${scenarios.map((s) => s.name).join(', ')}: ${knobs.ROUNDS} rounds x ${knobs.DURATION_S} s, ${knobs.CONNECTIONS} connections, ` +
      `load generator ${useWrk ? `${wrkVersion()} (-t${knobs.WRK_THREADS})` : 'autocannon 8'}`,
  );
  const data = await writeProductsFile(knobs.PRODUCTS);
  const bodies = Array.from({ length: 16 }, (_, i) => checkBody(knobs.CHECK_BATCH, seededRandom(knobs.SEED + i), knobs.PRODUCTS));
  const bodiesFile = join(data.dir, 'check-bodies.jsonl');
  await writeFile(bodiesFile, bodies.join('\n') + '\n');
  const ctx: LoadContext = { dir: data.dir, bodiesFile, bodies };

  const started: StartedServers = { servers: new Map(), notes: [] };
  const { servers, notes } = started;
  const serverOf = (name: ServerName): ServerProcess => servers.get(name)!;
  try {
    await startServers(new Set(scenarios.flatMap((s) => s.cases.map((c) => c.server))), data, { namespace, redisUp, bloomgateRedis }, started);

    // Same body size for every rejection, or the ceiling is not a like-for-like ceiling.
    const sizes = new Map<ServerName, number>();
    for (const [name, server] of servers) sizes.set(name, await expectStatus(server, `/products/${ABSENT_PREFIX}00000001`, 404));
    const bareSize = sizes.get('bare');
    for (const [name, size] of sizes) {
      if (bareSize !== undefined && size !== bareSize) notes.push(`rejection body of ${name} is ${size} bytes, bare uWS sends ${bareSize}: update load/bare-uws.ts.`);
    }
    const hitServers = new Set(scenarios.flatMap((s) => s.cases.filter((c) => c.workload === 'hit').map((c) => c.server)));
    for (const name of hitServers) if (servers.has(name)) await warmCache(serverOf(name));
    // After the warm-up reads (a first read answers source "database"). Same body for a hit too: the bare ceiling of the `hit` scenario answers what a cache hit answers.
    const hitSizes = new Map<ServerName, number>();
    for (const [name, server] of servers) if (hitServers.has(name) && name !== 'peer') hitSizes.set(name, await expectStatus(server, `/products/${existingId(0)}`, 200));
    const bareHitSize = hitSizes.get('bare');
    for (const [name, size] of hitSizes) {
      if (bareHitSize !== undefined && size !== bareHitSize) notes.push(`hit body of ${name} is ${size} bytes, bare uWS sends ${bareHitSize}: update load/bare-uws.ts.`);
    }

    // Each scenario's block: its cases whose server is running.
    const blocks: Block[] = scenarios
      .map((s) => ({ scenario: s, cases: s.cases.filter((c) => servers.has(c.server)) }))
      .filter((b) => b.cases.length > 0);

    // The generator check: how fast each generator can drive the ceiling.
    let generatorNote = '';
    if (useWrk && servers.has('bare')) {
      const viaWrk = await runWithWrk(ctx, serverOf('bare'), 'reject', knobs.DURATION_S);
      const viaAutocannon = await runWithAutocannon(ctx, serverOf('bare'), 'reject', knobs.DURATION_S);
      generatorNote =
        `load generator: bare uWS rejections driven by wrk ${fmtInt(viaWrk.rps)} req/s vs autocannon ${fmtInt(viaAutocannon.rps)} req/s ` +
        `(${fmtRatio(viaWrk.rps / viaAutocannon.rps)}) in this run: autocannon saturates its own core first, so wrk measures the servers.`;
      log(generatorNote);
    }

    for (const b of blocks) {
      for (const c of b.cases) {
        log(`warm-up ${caseKey(b.scenario.name, c)}`);
        await run(ctx, serverOf(c.server), c.workload, knobs.WARMUP_S);
      }
    }
    for (const s of scenarios) await s.prepare?.(ctx);

    const results = collect(await runRounds(blocks, (c) => run(ctx, serverOf(c.server), c.workload, knobs.DURATION_S), serverOf));
    console.log(await report({ command, scenarios, results, servers, useWrk, bloomgateRedis, generatorNote, notes }));
  } finally {
    for (const server of servers.values()) {
      const exit = await server.stop();
      if (exit.killed || (exit.code !== 0 && exit.code !== null)) {
        log(`${server.name} did not stop cleanly: ${JSON.stringify(exit)}\n${server.output()}`);
      }
    }
    await data.remove();
    for (const suffix of ['inline', 'inline-nolocal', 'pool', 'peer']) await deleteNamespaceKeys(knobs.REDIS_URL, `${namespace}-${suffix}`);
  }
}

await main();
