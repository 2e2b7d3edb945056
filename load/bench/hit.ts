/**
 * `hit`: cached products at saturation (the runner warms HOT_IDS ids first),
 * against bare uWS rejections (the ceiling) and the peer's cache hits.
 */
import { HOT_IDS } from './options.js';
import { ratioRow, type BenchScenario } from './scenario.js';

export const hitScenario: BenchScenario = {
  name: 'hit',
  about: `cache hits over ${HOT_IDS} warmed ids: bloomgate vs the bare uWS ceiling and vs the peer`,
  cases: [
    { server: 'bare', workload: 'reject' },
    { server: 'inline', workload: 'hit' },
    { server: 'pool', workload: 'hit' },
    { server: 'peer', workload: 'hit' },
  ],
  rows: (r) => [
    ratioRow('cache hits/s, inline vs bare uWS', r.ratio('hit/hit:inline', 'hit/reject:bare', 'rps'), null),
    ratioRow('cache hits/s, pool vs bare uWS', r.ratio('hit/hit:pool', 'hit/reject:bare', 'rps'), null),
    ratioRow('cache hits/s, inline vs peer', r.ratio('hit/hit:inline', 'hit/hit:peer', 'rps'), null),
    ratioRow('cache hits/s, pool vs peer', r.ratio('hit/hit:pool', 'hit/hit:peer', 'rps'), null),
  ],
};
