/**
 * `check`: POST /bloom/check end to end (CHECK_BATCH ids per request) against
 * the same ids through BloomFilter.has in this process on one thread, measured
 * right after the HTTP block in every round.
 */
import { BloomFilter } from '../../src/filter/bloom-filter.js';
import { allocateFilterBuffer, createLayout } from '../../src/filter/layout.js';
import { computeFilterParams } from '../../src/filter/sizing.js';
import { existingId } from '../products-file.js';
import { BLOOM_CAPACITY, BLOOM_FPR, BLOOM_SHARDS, CHECK_BATCH, PRODUCTS, SEED } from './options.js';
import { ratioRow, type BenchScenario } from './scenario.js';
import { fmtInt, median } from './stats.js';

/** Published RedisBloom figure for pipelined BF.MEXISTS, quoted from issue 4 for context. */
const REDISBLOOM_QUOTE = '1.7-2.3M ops/s (RedisBloom, pipelined BF.MEXISTS, published)';
/** How long one in-process measurement runs. */
const LOOP_MS = 300;

/** Single-thread in-process baseline for /bloom/check: the same ids through BloomFilter.has. */
function inProcessIdsPerSecond(filter: BloomFilter, ids: readonly string[]): number {
  let maybe = 0;
  let checked = 0;
  const started = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < ids.length; i++) if (filter.has(ids[i]!)) maybe++;
    checked += ids.length;
    elapsed = performance.now() - started;
  } while (elapsed < LOOP_MS);
  if (maybe < 0) console.log(maybe); // uses the result, so the loop cannot be optimised away
  return (checked / elapsed) * 1000;
}

let filter: BloomFilter | undefined;
let checkIds: string[] = [];
/** ids/s of the in-process loop, one per round. */
const loop: number[] = [];

export const checkScenario: BenchScenario = {
  name: 'check',
  about: `POST /bloom/check (${CHECK_BATCH} ids per request) vs the same ids in an in-process loop`,
  cases: [{ server: 'inline', workload: 'check' }],
  prepare(ctx) {
    // Same sizing as the servers, the same products.
    const layout = createLayout(computeFilterParams(BLOOM_CAPACITY, BLOOM_FPR, BLOOM_SHARDS), (SEED * 2654435761) >>> 0);
    filter = new BloomFilter(allocateFilterBuffer(layout), layout);
    for (let i = 0; i < PRODUCTS; i++) filter.add(existingId(i));
    filter.addItems(PRODUCTS);
    checkIds = ctx.bodies.flatMap((b) => (JSON.parse(b) as { ids: string[] }).ids);
  },
  afterBlock(round, log) {
    if (filter === undefined) return;
    loop.push(inProcessIdsPerSecond(filter, checkIds));
    log(`round ${round + 1} in-process loop            ${fmtInt(loop[loop.length - 1]!)} ids/s`);
  },
  rows: (r) => {
    const idsPerS = r.per('check/check:inline').map((s) => s.rps * CHECK_BATCH);
    return [ratioRow(`/bloom/check ids/s (${CHECK_BATCH} per request) vs in-process loop`, median(idsPerS.map((v, i) => v / loop[i]!)), 0.3)];
  },
  caseRows: (r) => [
    `| /bloom/check ids/s end to end | ${fmtInt(median(r.per('check/check:inline').map((s) => s.rps * CHECK_BATCH)))} | | | | |`,
    `| in-process loop ids/s (1 thread, BloomFilter.has) | ${fmtInt(median(loop))} | | | | |`,
    `| for context | ${REDISBLOOM_QUOTE} | | | | |`,
  ],
};
