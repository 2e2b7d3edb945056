/**
 * Online rebuild time for ROWS database rows, and how responsive the main
 * thread stays meanwhile (event-loop delay, sampled every 1 ms).
 *
 *   ROWS=1000000 WORKERS=3 npx tsx load/rebuild-bench.ts
 *
 * Knobs (env): ROWS (1,000,000), WORKERS (cores - 1), CAPACITY (ROWS), RUNS (3).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ActiveFilter } from '../src/filter/active-filter.js';
import { BloomFilter } from '../src/filter/bloom-filter.js';
import { allocateFilterBuffer, createLayout } from '../src/filter/layout.js';
import { FilterPool } from '../src/filter/pool.js';
import { computeFilterParams } from '../src/filter/sizing.js';
import { FilterRebuilder } from '../src/upkeep/online-rebuild.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics/registry.js';
import { SqliteProductStore } from '../src/store/sqlite-product-store.js';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const WORKERS = Number(process.env.WORKERS ?? Math.max(1, availableParallelism() - 1));
const CAPACITY = Number(process.env.CAPACITY ?? ROWS);
const RUNS = Number(process.env.RUNS ?? 3);

const dir = mkdtempSync(join(tmpdir(), 'bloomgate-rebuild-bench-'));
const products = await SqliteProductStore.open({ path: join(dir, 'products.db'), synchronous: 'normal' });
const fillStarted = performance.now();
for (let i = 0; i < ROWS; i += 50_000) {
  const batch = Array.from({ length: Math.min(50_000, ROWS - i) }, (_, j) => ({ id: `SKU-${String(i + j).padStart(8, '0')}`, name: 'p', price: 1 }));
  await products.insertMany(batch);
}
console.log(`filled ${ROWS} rows in ${Math.round(performance.now() - fillStarted)} ms`);

const layout = createLayout(computeFilterParams(CAPACITY, 0.01, 64), 12345);
const filter = new BloomFilter(allocateFilterBuffer(layout), layout);
filter.setItems(ROWS);
const active = new ActiveFilter({ filter, pool: new FilterPool({ filter, threads: WORKERS }) });
const rebuilder = new FilterRebuilder({ active, products, threads: WORKERS, logger: createLogger('warn'), metrics: new Metrics(), afterSwap: async () => undefined });

for (let run = 1; run <= RUNS; run++) {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const started = performance.now();
  rebuilder.start('manual', 'bench');
  await rebuilder.idle();
  const ms = performance.now() - started;
  delay.disable();
  const last = rebuilder.last!;
  if (!last.ok) throw new Error(`rebuild failed: ${last.error}`);
  console.log(
    `run ${run}: rebuild of ${ROWS} rows in ${Math.round(ms)} ms (incl. starting ${WORKERS} workers); ` +
      `event-loop delay p50 ${(delay.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms`,
  );
}
console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} x${availableParallelism()}, node ${process.version}`);
console.log(`command: ROWS=${ROWS} WORKERS=${WORKERS} npx tsx load/rebuild-bench.ts`);
await active.pool.close();
await products.close();
rmSync(dir, { recursive: true, force: true });
