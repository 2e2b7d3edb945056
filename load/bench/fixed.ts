/**
 * `fixed`: p99 latency of rejections at the same offered load (below
 * saturation) for bloomgate and bare uWS, so queueing does not hide the
 * per-request cost.
 */
import { P99_CONNECTIONS, P99_DELAY_MS } from './options.js';
import { ratioRow, type BenchScenario } from './scenario.js';
import { fmtInt } from './stats.js';

export const fixedScenario: BenchScenario = {
  name: 'fixed',
  about: `p99 of rejections at a fixed offered load (${P99_CONNECTIONS} connections, ${P99_DELAY_MS} ms think time)`,
  cases: [
    { server: 'bare', workload: 'reject-fixed' },
    { server: 'inline', workload: 'reject-fixed' },
    { server: 'pool', workload: 'reject-fixed' },
  ],
  rows: (r) => {
    const offered = `${fmtInt(r.med('fixed/reject-fixed:bare', 'rps'))} req/s (${P99_CONNECTIONS} conns, ${P99_DELAY_MS} ms mean think time)`;
    return [
      ratioRow(`p99 at the same offered load, ~${offered}, inline vs bare`, r.ratio('fixed/reject-fixed:inline', 'fixed/reject-fixed:bare', 'p99Us'), 1.3, false),
      ratioRow('p99 at the same offered load, pool vs bare', r.ratio('fixed/reject-fixed:pool', 'fixed/reject-fixed:bare', 'p99Us'), null),
    ];
  },
};
