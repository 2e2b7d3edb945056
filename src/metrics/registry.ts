/**
 * Every Prometheus metric of bloomgate, defined once. Hot-path numbers (lookup
 * counters, request durations, filter state) live in plain fields and are read
 * in `collect()` at scrape time; rare events (snapshots, loads) use prom-client
 * metrics directly.
 *
 * @example
 *   const metrics = new Metrics();
 *   metrics.setSources({ filter: () => ..., pool: () => ..., redisHealthy: () => true });
 *   const text = await metrics.registry.metrics();
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { LookupCounters } from './lookup-counters.js';
import { RequestHistogram } from './request-histogram.js';

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

/** Route labels of the request histogram; `HttpRoute` indexes into this list. */
export const ROUTE_LABELS = [
  'GET /products/:id',
  'POST /products',
  'POST /products/batch',
  'POST /bloom/check',
  'GET /bloom/stats',
  'GET /health',
  'GET /metrics',
  'GET /stats',
  'unmatched',
  'DELETE /products/:id',
  'POST /admin/rebuild',
  'GET /admin/status',
  'GET /',
] as const;

export const HttpRoute = {
  getProduct: 0,
  createProduct: 1,
  createBatch: 2,
  bloomCheck: 3,
  bloomStats: 4,
  health: 5,
  metrics: 6,
  stats: 7,
  unmatched: 8,
  deleteProduct: 9,
  adminRebuild: 10,
  adminStatus: 11,
  statusPage: 12,
} as const;

const PREFIX = 'bloomgate_';

export class Metrics {
  readonly registry = new Registry();
  readonly lookups = new LookupCounters();
  readonly httpDuration = new RequestHistogram(`${PREFIX}http_request_duration_seconds`, ROUTE_LABELS);
  #sources: MetricsSources | undefined;

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

    const self = this;
    const lookupsByOutcome = new Counter({
      name: `${PREFIX}lookups_total`,
      help: 'Product lookups by outcome',
      labelNames: ['outcome'] as const,
      registers,
      collect() {
        const c = self.lookups;
        // Counters only go up, so reset-and-set at scrape time reports the running totals exactly.
        this.reset();
        this.inc({ outcome: 'bloom_rejected' }, c.bloomRejected);
        this.inc({ outcome: 'negative_cache_hit' }, c.negativeCacheHit);
        this.inc({ outcome: 'cache_hit' }, c.cacheHit);
        this.inc({ outcome: 'db_hit' }, c.dbHit);
        this.inc({ outcome: 'db_miss' }, c.dbMiss);
      },
    });
    void lookupsByOutcome;
    this.#scrapedCounter('db_queries_total', 'Database reads made by lookups', () => this.lookups.dbQueries);
    this.#scrapedCounter('db_roundtrips_avoided_total', 'Lookups answered without a database query', () => this.lookups.dbRoundtripsAvoided);
    this.#scrapedCounter('false_positives_total', 'Ids the filter passed that the database does not have', () => this.lookups.dbMiss);
    this.#scrapedCounter('coalesced_lookups_total', 'Lookups that shared an in-flight database query (single flight)', () => this.lookups.coalesced);
    this.#scrapedCounter('cache_errors_total', 'Cache commands that failed or timed out', () => this.lookups.cacheErrors);

    this.#scrapedGauge('filter_items', 'Ids added to the filter (equals the database row count)', () => this.#filter()?.items);
    this.#scrapedGauge('filter_capacity', 'Configured filter capacity', () => this.#filter()?.capacity);
    this.#scrapedGauge('filter_bits', 'Bits in the filter', () => this.#filter()?.bits);
    this.#scrapedGauge('filter_fill_ratio', 'Share of filter bits set', () => this.#filter()?.fillRatio);
    this.#scrapedGauge('filter_estimated_fpr', 'False-positive rate estimated from the item count', () => this.#filter()?.estimatedFpr);
    this.#scrapedGauge('filter_target_fpr', 'Configured target false-positive rate', () => this.#filter()?.targetFpr);
    this.#scrapedGauge('filter_stale_items', 'Deleted ids whose bits remain set', () => this.#filter()?.staleItems);
    this.#scrapedCounter('false_negatives_total', 'Filter rejections the audit found in the database (bugs; each repaired)', () => this.#sources?.audit?.().falseNegatives ?? 0);
    this.#scrapedCounter('audit_checks_total', 'Sampled filter rejections checked against the database', () => this.#sources?.audit?.().checks ?? 0);
    const observed = new Gauge({
      name: `${PREFIX}filter_observed_fpr`,
      help: 'False positives / (false positives + filter rejections), over the sliding window and in total',
      labelNames: ['window'] as const,
      registers,
      collect() {
        const fpr = self.#sources?.observedFpr?.();
        if (fpr === undefined) return;
        this.set({ window: '60s' }, fpr.window ?? 0);
        this.set({ window: 'total' }, fpr.total ?? 0);
      },
    });
    void observed;
    this.#scrapedGauge('rebuild_running', '1 while an online rebuild runs', () => {
      const r = this.#sources?.rebuild?.();
      return r === undefined ? undefined : r.running ? 1 : 0;
    });
    this.#scrapedGauge('rebuild_progress_ratio', 'Rows scanned by the running rebuild / rows when it began', () => this.#sources?.rebuild?.().progress);
    this.#scrapedGauge('snapshot_dirty_shards', 'Shards changed since the last snapshot', () => this.#sources?.dirtyShards());
    this.#scrapedGauge('pool_threads', 'Filter worker threads', () => this.#sources?.pool().threads);
    this.#scrapedGauge('pool_queue_size', 'Filter tasks waiting for a worker', () => this.#sources?.pool().queueSize);
    this.#scrapedGauge('pool_utilization', 'Filter worker utilisation (0-1)', () => this.#sources?.pool().utilization);
    this.#scrapedGauge('redis_up', '1 while Redis answers', () => (this.#sources === undefined ? undefined : this.#sources.redisHealthy() ? 1 : 0));

    // prom-client's registry accepts any object with name/help/type and get(); this one
    // builds the histogram's values from plain arrays at scrape time.
    const histogram = this.httpDuration;
    this.registry.registerMetric({
      name: histogram.name,
      help: 'HTTP request duration by route and status',
      type: 'histogram',
      aggregator: 'sum',
      get: async () => ({
        name: histogram.name,
        help: 'HTTP request duration by route and status',
        type: 'histogram',
        aggregator: 'sum',
        values: histogram.values(),
      }),
    } as unknown as Metric);

    this.snapshotDuration = new Histogram({
      name: `${PREFIX}snapshot_duration_seconds`,
      help: 'Time to encode and write a snapshot to Redis',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.snapshotBytes = new Counter({ name: `${PREFIX}snapshot_bytes_total`, help: 'Bytes written to Redis by snapshots', registers });
    this.snapshotLastSuccess = new Gauge({ name: `${PREFIX}snapshot_last_success_timestamp_seconds`, help: 'Unix time of the last successful snapshot', registers });
    this.snapshotFailures = new Counter({ name: `${PREFIX}snapshot_failures_total`, help: 'Snapshot writes that failed (retried with backoff)', registers });
    this.snapshotRejected = new Counter({
      name: `${PREFIX}snapshot_rejected_total`,
      help: 'Snapshots refused at start (corrupt, foreign or from another version)',
      labelNames: ['reason'] as const,
      registers,
    });
    this.filterLoads = new Counter({
      name: `${PREFIX}filter_loads_total`,
      help: 'How the filter was loaded at start',
      labelNames: ['source'] as const,
      registers,
    });
    this.filterLoadSeconds = new Gauge({
      name: `${PREFIX}filter_load_seconds`,
      help: 'Duration of the last filter load by source',
      labelNames: ['source'] as const,
      registers,
    });
    this.redisDataLoss = new Counter({
      name: `${PREFIX}redis_data_loss_total`,
      help: 'Times Redis was found restarted or emptied (snapshot key gone or run id changed)',
      registers,
    });
    this.rebuildTriggers = new Counter({
      name: `${PREFIX}rebuild_triggers_total`,
      help: 'Online rebuilds started, by trigger (manual, stale, capacity, fpr)',
      labelNames: ['reason'] as const,
      registers,
    });
    for (const reason of ['manual', 'stale', 'capacity', 'fpr']) this.rebuildTriggers.inc({ reason }, 0);
    this.rebuilds = new Counter({
      name: `${PREFIX}rebuilds_total`,
      help: 'Online rebuilds finished, by result (ok: swapped in; failed: the old filter stayed)',
      labelNames: ['result'] as const,
      registers,
    });
    for (const result of ['ok', 'failed']) this.rebuilds.inc({ result }, 0);
    this.rebuildLastSeconds = new Gauge({ name: `${PREFIX}rebuild_last_duration_seconds`, help: 'Duration of the last successful online rebuild', registers });
  }

  /** Wired by the composition root once the filter, pool and Redis exist. */
  setSources(sources: MetricsSources): void {
    this.#sources = sources;
  }

  #filter(): FilterGauges | undefined {
    return this.#sources?.filter();
  }

  #scrapedCounter(name: string, help: string, read: () => number): void {
    new Counter({
      name: PREFIX + name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }

  #scrapedGauge(name: string, help: string, read: () => number | undefined): void {
    new Gauge({
      name: PREFIX + name,
      help,
      registers: [this.registry],
      collect() {
        const value = read();
        if (value !== undefined) this.set(value);
      },
    });
  }
}
