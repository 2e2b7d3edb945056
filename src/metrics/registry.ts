/**
 * Every Prometheus metric of bloomgate, defined once. Hot-path numbers (lookup
 * counters, request durations, filter state) live in plain fields and are read
 * in `collect()` at scrape time; rare events (snapshots, loads) use prom-client
 * metrics directly. Scraped metrics are rows of SCRAPED (name, help, label,
 * source), built in one loop; the request histogram's route labels are
 * registered by whoever owns the routes (src/http/server.ts).
 *
 * @example
 *   const metrics = new Metrics();
 *   metrics.setSources({ filter: () => ..., pool: () => ..., redisHealthy: () => true });
 *   const text = await metrics.registry.metrics();
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { LookupCounters } from './lookup-counters.js';
import { RequestHistogram } from './request-histogram.js';

/**
 * The shape src/filter/filter-gauges.ts computes, restated because metrics/ imports
 * nothing from filter/; src/service/metric-sources.ts passes one as the other, so
 * the compiler keeps the two in step.
 */
export interface FilterGauges {
  readonly items: number;
  readonly capacity: number;
  readonly bits: number;
  readonly fillRatio: number;
  readonly estimatedFpr: number;
  readonly targetFpr: number;
  readonly staleItems: number;
}

export interface PoolGauges {
  readonly threads: number;
  readonly queueSize: number;
  readonly utilization: number;
}

export interface MetricsSources {
  readonly filter: () => FilterGauges;
  readonly pool: () => PoolGauges;
  readonly redisHealthy: () => boolean;
  readonly dirtyShards: () => number;
  /** Observed false-positive rate over the sliding window and in total (null: no absent lookups yet). */
  readonly observedFpr?: () => { readonly window: number | null; readonly total: number | null };
  readonly rebuild?: () => { readonly running: boolean; readonly progress: number };
  readonly audit?: () => { readonly checks: number; readonly falseNegatives: number };
}

const PREFIX = 'bloomgate_';

/** What a scraped metric reads from: the lookup counters, and the sources once wired. */
interface Readings {
  readonly lookups: LookupCounters;
  /** The sources once wired (setSources), else undefined. */
  readonly sources: () => MetricsSources | undefined;
}

/** A value per label value (`{ '60s': 0.01, total: 0.02 }`), one value, or undefined for "no source yet". */
type Reading = number | Readonly<Record<string, number>> | undefined;

/** A metric whose value is read at scrape time. Counters are reset and set to the running total. */
interface ScrapedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  /** The one label name when `read` returns a record keyed by its values. */
  readonly label?: string;
  readonly read: (r: Readings) => Reading;
}

const filterGauge = (name: string, help: string, pick: (f: FilterGauges) => number): ScrapedMetric => ({
  name,
  help,
  type: 'gauge',
  read: ({ sources }) => {
    const wired = sources();
    return wired === undefined ? undefined : pick(wired.filter());
  },
});

const SCRAPED: readonly ScrapedMetric[] = [
  {
    name: 'lookups_total',
    help: 'Product lookups by outcome',
    type: 'counter',
    label: 'outcome',
    read: ({ lookups: c }) => ({
      bloom_rejected: c.bloomRejected,
      negative_cache_hit: c.negativeCacheHit,
      cache_hit: c.cacheHit,
      local_cache_hit: c.localCacheHit,
      db_hit: c.dbHit,
      db_miss: c.dbMiss,
    }),
  },
  { name: 'db_queries_total', help: 'Database reads made by lookups', type: 'counter', read: ({ lookups }) => lookups.dbQueries },
  { name: 'db_roundtrips_avoided_total', help: 'Lookups answered without a database query', type: 'counter', read: ({ lookups }) => lookups.dbRoundtripsAvoided },
  { name: 'false_positives_total', help: 'Ids the filter passed that the database does not have', type: 'counter', read: ({ lookups }) => lookups.dbMiss },
  { name: 'coalesced_lookups_total', help: 'Lookups that shared an in-flight database query (single flight)', type: 'counter', read: ({ lookups }) => lookups.coalesced },
  { name: 'cache_errors_total', help: 'Cache commands that failed or timed out', type: 'counter', read: ({ lookups }) => lookups.cacheErrors },
  filterGauge('filter_items', 'Ids added to the filter (equals the database row count)', (f) => f.items),
  filterGauge('filter_capacity', 'Configured filter capacity', (f) => f.capacity),
  // Bytes, not bits: Prometheus wants base units.
  filterGauge('filter_size_bytes', 'Size of the filter bit array in bytes (bits / 8)', (f) => f.bits / 8),
  filterGauge('filter_fill_ratio', 'Share of filter bits set', (f) => f.fillRatio),
  filterGauge('filter_estimated_fpr', 'False-positive rate estimated from the item count', (f) => f.estimatedFpr),
  filterGauge('filter_target_fpr', 'Configured target false-positive rate', (f) => f.targetFpr),
  filterGauge('filter_stale_items', 'Deleted ids whose bits remain set', (f) => f.staleItems),
  {
    name: 'false_negatives_total',
    help: 'Filter rejections the audit found in the database (bugs; each repaired)',
    type: 'counter',
    read: ({ sources }) => sources()?.audit?.().falseNegatives ?? 0,
  },
  { name: 'audit_checks_total', help: 'Sampled filter rejections checked against the database', type: 'counter', read: ({ sources }) => sources()?.audit?.().checks ?? 0 },
  {
    name: 'filter_observed_fpr',
    help: 'False positives / (false positives + filter rejections), over the sliding window and in total',
    type: 'gauge',
    label: 'window',
    read: ({ sources }) => {
      const fpr = sources()?.observedFpr?.();
      return fpr === undefined ? undefined : { '60s': fpr.window ?? 0, total: fpr.total ?? 0 };
    },
  },
  {
    name: 'rebuild_running',
    help: '1 while an online rebuild runs',
    type: 'gauge',
    read: ({ sources }) => {
      const r = sources()?.rebuild?.();
      return r === undefined ? undefined : r.running ? 1 : 0;
    },
  },
  { name: 'rebuild_progress_ratio', help: 'Rows scanned by the running rebuild / rows when it began', type: 'gauge', read: ({ sources }) => sources()?.rebuild?.().progress },
  { name: 'snapshot_dirty_shards', help: 'Shards changed since the last snapshot', type: 'gauge', read: ({ sources }) => sources()?.dirtyShards() },
  { name: 'pool_threads', help: 'Filter worker threads', type: 'gauge', read: ({ sources }) => sources()?.pool().threads },
  { name: 'pool_queue_size', help: 'Filter tasks waiting for a worker', type: 'gauge', read: ({ sources }) => sources()?.pool().queueSize },
  { name: 'pool_utilization', help: 'Filter worker utilisation (0-1)', type: 'gauge', read: ({ sources }) => sources()?.pool().utilization },
  {
    name: 'redis_up',
    help: '1 while Redis answers',
    type: 'gauge',
    read: ({ sources }) => {
      const wired = sources();
      return wired === undefined ? undefined : wired.redisHealthy() ? 1 : 0;
    },
  },
];

const HTTP_DURATION_HELP = 'HTTP request duration by route and status';

/**
 * prom-client's default metrics that promtool check metrics rejects (gauges
 * named `_total`, which only counters may be). collectDefaultMetrics has no
 * per-metric switch, so they are removed after registration; the same counts
 * stay available by type in `nodejs_active_{handles,requests,resources}`.
 */
const WITHOUT_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

export class Metrics {
  readonly registry = new Registry();
  readonly lookups = new LookupCounters();
  /** Route labels are registered by the route table's owner (see RequestHistogram.route). */
  readonly httpDuration = new RequestHistogram(`${PREFIX}http_request_duration_seconds`);
  #sources: MetricsSources | undefined;

  // Events, updated by the modules where they happen.
  readonly snapshotDuration: Histogram;
  readonly snapshotBytes: Counter;
  readonly snapshotLastSuccess: Gauge;
  readonly snapshotFailures: Counter;
  readonly snapshotRejected: Counter<'reason'>;
  readonly filterLoads: Counter<'source'>;
  readonly filterLoadSeconds: Gauge<'source'>;
  readonly redisDataLoss: Counter;
  readonly rebuildTriggers: Counter<'reason'>;
  readonly rebuilds: Counter<'result'>;
  readonly rebuildLastSeconds: Gauge;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    for (const n of WITHOUT_DEFAULTS) this.registry.removeSingleMetric(PREFIX + n);
    const readings: Readings = { lookups: this.lookups, sources: () => this.#sources };
    for (const row of SCRAPED) this.#registerScraped(row, readings);
    this.#registerHistogram();

    const name = (n: string): string => PREFIX + n;
    this.snapshotDuration = new Histogram({
      name: name('snapshot_duration_seconds'),
      help: 'Time to encode and write a snapshot to Redis',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.snapshotBytes = new Counter({ name: name('snapshot_bytes_total'), help: 'Bytes written to Redis by snapshots', registers });
    this.snapshotLastSuccess = new Gauge({ name: name('snapshot_last_success_timestamp_seconds'), help: 'Unix time of the last successful snapshot', registers });
    this.snapshotFailures = new Counter({ name: name('snapshot_failures_total'), help: 'Snapshot writes that failed (retried with backoff)', registers });
    this.snapshotRejected = new Counter({
      name: name('snapshot_rejected_total'),
      help: 'Snapshots refused at start (corrupt, foreign or from another version)',
      labelNames: ['reason'] as const,
      registers,
    });
    this.filterLoads = new Counter({ name: name('filter_loads_total'), help: 'How the filter was loaded at start', labelNames: ['source'] as const, registers });
    this.filterLoadSeconds = new Gauge({ name: name('filter_load_seconds'), help: 'Duration of the last filter load by source', labelNames: ['source'] as const, registers });
    this.redisDataLoss = new Counter({
      name: name('redis_data_loss_total'),
      help: 'Times Redis was found restarted or emptied (snapshot key gone or run id changed)',
      registers,
    });
    this.rebuildTriggers = new Counter({
      name: name('rebuild_triggers_total'),
      help: 'Online rebuilds started, by trigger (manual, stale, capacity, fpr)',
      labelNames: ['reason'] as const,
      registers,
    });
    // Each reason is zero-initialised by the rebuilder, from REBUILD_REASONS (metrics imports nothing from upkeep/).
    this.rebuilds = new Counter({
      name: name('rebuilds_total'),
      help: 'Online rebuilds finished, by result (ok: swapped in; failed: the old filter stayed)',
      labelNames: ['result'] as const,
      registers,
    });
    for (const result of ['ok', 'failed']) this.rebuilds.inc({ result }, 0);
    this.rebuildLastSeconds = new Gauge({ name: name('rebuild_last_duration_seconds'), help: 'Duration of the last successful online rebuild', registers });
  }

  /** Wired by the composition root once the filter, pool and Redis exist. */
  setSources(sources: MetricsSources): void {
    this.#sources = sources;
  }

  #registerScraped(row: ScrapedMetric, readings: Readings): void {
    const config = { name: PREFIX + row.name, help: row.help, labelNames: row.label === undefined ? [] : [row.label], registers: [this.registry] };
    const label = row.label ?? '';
    if (row.type === 'counter') {
      new Counter({
        ...config,
        collect() {
          // Counters only go up, so reset-and-set at scrape time reports the running totals exactly.
          this.reset();
          const value = row.read(readings);
          if (typeof value === 'number') this.inc(value);
          else if (value !== undefined) for (const [key, v] of Object.entries(value)) this.inc({ [label]: key }, v);
        },
      });
      return;
    }
    new Gauge({
      ...config,
      collect() {
        const value = row.read(readings);
        if (typeof value === 'number') this.set(value);
        else if (value !== undefined) for (const [key, v] of Object.entries(value)) this.set({ [label]: key }, v);
      },
    });
  }

  /**
   * prom-client's registry accepts any object with name/help/type and get(); this one
   * builds the histogram's values from plain arrays at scrape time.
   */
  #registerHistogram(): void {
    const histogram = this.httpDuration;
    const shape = { name: histogram.name, help: HTTP_DURATION_HELP, type: 'histogram', aggregator: 'sum' } as const;
    // A structural stand-in for prom-client's Metric class (which has private fields), hence the cast.
    this.registry.registerMetric({ ...shape, get: async () => ({ ...shape, values: histogram.values() }) } as unknown as Metric);
  }
}
