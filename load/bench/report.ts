/** The markdown report of a run: command, machine, figures, per-case medians, server notes. */
import { cpus, loadavg, totalmem } from 'node:os';
import type { ServerProcess } from '../server-process.js';
import { BLOOM_CAPACITY, BLOOM_FPR, CONNECTIONS, DURATION_S, HOT_IDS, PRODUCTS, ROUNDS, WRK_THREADS, type ServerName } from './options.js';
import { caseKey, type BenchScenario, type Results } from './scenario.js';
import { fmtInt, rssMb, wrkVersion } from './stats.js';

export interface ReportInput {
  readonly command: string;
  readonly scenarios: readonly BenchScenario[];
  readonly results: Results;
  readonly servers: ReadonlyMap<ServerName, ServerProcess>;
  readonly useWrk: boolean;
  readonly bloomgateRedis: string;
  readonly generatorNote: string;
  readonly notes: readonly string[];
}

export async function report(input: ReportInput): Promise<string> {
  const { results: r } = input;
  const out: string[] = [];
  out.push(`Command: \`${input.command}\``);
  out.push(
    `Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; ` +
      `load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}. Client and servers share these cores: the load generator takes about one.`,
  );
  out.push(
    `Load: ${input.useWrk ? `${wrkVersion()}, -t${WRK_THREADS} -c${CONNECTIONS}` : `autocannon 8, ${CONNECTIONS} connections`}, ${ROUNDS} rounds x ${DURATION_S} s per case, ` +
      `cases compared with each other run back to back, in an order rotated each round; ratio = median over rounds of A/B from the same round. ${PRODUCTS.toLocaleString('en-US')} products, ` +
      `filter capacity ${BLOOM_CAPACITY.toLocaleString('en-US')} at FPR ${BLOOM_FPR}; REDIS_URL ${input.bloomgateRedis}; hits cycle over ${HOT_IDS} warmed ids.`,
  );
  if (input.generatorNote !== '') out.push(input.generatorNote);
  out.push('', '| figure | ratio | target | verdict |', '| --- | --- | --- | --- |');
  for (const row of input.scenarios.flatMap((s) => s.rows(r))) out.push(`| ${row.figure} | ${row.value} | ${row.target} | ${row.verdict} |`);
  out.push('', '| block/case | req/s (median) | p50 ms | p99 ms | server CPU us/req | errors (all rounds) |', '| --- | --- | --- | --- | --- | --- |');
  for (const s of input.scenarios) {
    for (const c of s.cases.filter((c) => input.servers.has(c.server))) {
      const key = caseKey(s.name, c);
      const errs = r.per(key).reduce((sum, x) => sum + x.errors, 0);
      out.push(
        `| ${key} | ${fmtInt(r.med(key, 'rps'))} | ${(r.med(key, 'p50Us') / 1000).toFixed(2)} | ${(r.med(key, 'p99Us') / 1000).toFixed(2)} | ` +
          `${r.med(key, 'cpuUsPerReq').toFixed(1)} | ${errs} |`,
      );
    }
  }
  for (const s of input.scenarios) out.push(...(s.caseRows?.(r) ?? []));
  out.push('');
  for (const server of input.servers.values()) {
    out.push(`- ${server.name}: healthy ${fmtInt(server.readyMs)} ms after spawn (tsx compile included), RSS ${fmtInt(rssMb(server.pid))} MB at the end`);
  }
  for (const name of ['inline', 'inline-nolocal', 'pool'] as const) {
    const server = input.servers.get(name);
    if (server === undefined) continue;
    const stats = (await (await fetch(`${server.url}/stats`)).json()) as Record<string, unknown>;
    out.push(
      `- bloomgate ${name} /stats after the run: lookups ${String(stats.lookups)}, bloom_rejected ${String(stats.bloom_rejected)}, ` +
        `cache_hit ${String(stats.cache_hit)}, local_cache_hit ${String(stats.local_cache_hit)}, db_queries ${String(stats.db_queries)}, db_roundtrips_avoided ${String(stats.db_roundtrips_avoided)}`,
    );
  }
  for (const n of input.notes) out.push(`- note: ${n}`);
  return out.join('\n');
}
