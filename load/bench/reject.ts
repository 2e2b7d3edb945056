/**
 * `reject`: unknown ids at saturation. bloomgate (inline and pool lookup paths)
 * against bare uWS answering the same 404 (the ceiling) and against the peer
 * service (fastify + ioredis + bloom-filters).
 */
import { CONNECTIONS } from './options.js';
import { ratioRow, type BenchScenario } from './scenario.js';

export const rejectScenario: BenchScenario = {
  name: 'reject',
  about: `unknown ids at saturation (${CONNECTIONS} connections): bloomgate vs bare uWS and vs the peer`,
  cases: [
    { server: 'bare', workload: 'reject' },
    { server: 'inline', workload: 'reject' },
    { server: 'pool', workload: 'reject' },
    { server: 'peer', workload: 'reject' },
  ],
  rows: (r) => [
    // The targets are for the default path (inline); the pool path is reported beside it.
    ratioRow('rejections/s, inline vs bare uWS', r.ratio('reject/reject:inline', 'reject/reject:bare', 'rps'), 0.92),
    ratioRow('rejections/s, pool vs bare uWS', r.ratio('reject/reject:pool', 'reject/reject:bare', 'rps'), null),
    ratioRow('server CPU per rejection, inline vs bare uWS (lower is better)', r.ratio('reject/reject:inline', 'reject/reject:bare', 'cpuUsPerReq'), null),
    ratioRow('server CPU per rejection, pool vs bare uWS (all threads)', r.ratio('reject/reject:pool', 'reject/reject:bare', 'cpuUsPerReq'), null),
    ratioRow(`p99 at saturation (${CONNECTIONS} conns), inline vs bare`, r.ratio('reject/reject:inline', 'reject/reject:bare', 'p99Us'), null),
    ratioRow(`p99 at saturation (${CONNECTIONS} conns), pool vs bare`, r.ratio('reject/reject:pool', 'reject/reject:bare', 'p99Us'), null),
    ratioRow('rejections/s, inline vs peer', r.ratio('reject/reject:inline', 'reject/reject:peer', 'rps'), 2.5),
    ratioRow('rejections/s, pool vs peer', r.ratio('reject/reject:pool', 'reject/reject:peer', 'rps'), null),
  ],
};
