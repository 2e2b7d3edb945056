/**
 * `hit`: cached products at saturation (the runner warms HOT_IDS ids first),
 * against a bare uWS handler answering the same 200 JSON (the ceiling, issue
 * 12's target >= 0.85x), with the local cache on (`inline`) and off
 * (`inline-nolocal`: every hit a Redis GET, the before), and against the peer.
 */
import { HOT_IDS } from './options.js';
import { ratioRow, type BenchScenario } from './scenario.js';

export const hitScenario: BenchScenario = {
  name: 'hit',
  about: `cache hits over ${HOT_IDS} warmed ids: local cache on and off vs a bare uWS handler sending the same JSON, and vs the peer`,
  cases: [
    { server: 'bare', workload: 'hit' },
    { server: 'inline', workload: 'hit' },
    { server: 'inline-nolocal', workload: 'hit' },
    { server: 'pool', workload: 'hit' },
    { server: 'peer', workload: 'hit' },
  ],
  rows: (r) => [
    ratioRow('cache hits/s, inline + local cache vs bare uWS (same JSON)', r.ratio('hit/hit:inline', 'hit/hit:bare', 'rps'), 0.85),
    ratioRow('cache hits/s, inline without local cache vs bare uWS (same JSON)', r.ratio('hit/hit:inline-nolocal', 'hit/hit:bare', 'rps'), null),
    ratioRow('cache hits/s, local cache on vs off', r.ratio('hit/hit:inline', 'hit/hit:inline-nolocal', 'rps'), null),
    ratioRow('cache hits/s, pool + local cache vs bare uWS (same JSON)', r.ratio('hit/hit:pool', 'hit/hit:bare', 'rps'), null),
    ratioRow('cache hits/s, inline vs peer', r.ratio('hit/hit:inline', 'hit/hit:peer', 'rps'), null),
  ],
};
