/**
 * What the service says about itself: the JSON of `/health`, `/bloom/stats`
 * and `/admin/status`, built from the live components on each request (all
 * cheap reads; the fill ratio counts set bits, about 1 ms per million items).
 *
 * @example
 *   const report = new StatusReport({ config, active, redis, ... });
 *   const { status, body } = report.health();
 */
import type { Config } from '../config.js';
import type { FalseNegativeAudit } from '../upkeep/false-negative-audit.js';
import type { ActiveFilter } from '../filter/active-filter.js';
import type { FilterRebuilder } from '../upkeep/online-rebuild.js';
import { HASH_ID } from '../filter/hash.js';
import { estimateFpr } from '../filter/sizing.js';
import type { Phase } from './server.js';
import type { ObservedFpr } from '../metrics/observed-fpr.js';
import type { LoadReport } from '../persistence/filter-loader.js';
import type { Snapshotter } from '../persistence/snapshotter.js';
import type { RedisConnection } from '../store/redis-connection.js';

export interface StatusReportOptions {
  readonly config: Config;
  readonly active: ActiveFilter;
  readonly redis: RedisConnection;
  readonly snapshotter: Snapshotter;
  readonly rebuilder: FilterRebuilder;
  readonly observedFpr: ObservedFpr;
  readonly audit: FalseNegativeAudit;
  /** Hex of a u32 derived from the seed (never the seed itself), admin-only. */
  readonly seedFingerprint: string;
  readonly startedAt: number;
  readonly phase: () => Phase;
  readonly load: () => LoadReport | undefined;
}

export class StatusReport {
  readonly #o: StatusReportOptions;

  constructor(options: StatusReportOptions) {
    this.#o = options;
  }

  health(): { status: number; body: object } {
    const o = this.#o;
    if (o.phase() === 'starting') return { status: 503, body: { status: 'starting' } };
    if (o.phase() === 'draining') return { status: 503, body: { status: 'draining' } };
    return {
      status: 200,
      body: {
        status: o.redis.healthy ? 'ok' : 'degraded',
        redis: o.redis.healthy ? 'up' : 'down',
        filter: 'loaded',
        items: o.active.filter.items,
        uptime_s: Math.round((Date.now() - o.startedAt) / 1000),
      },
    };
  }

  bloomStats(): object {
    const o = this.#o;
    const load = o.load();
    const { filter: f } = o.active;
    const p = f.layout.params;
    const items = f.items;
    const observedWindow = o.observedFpr.window();
    const observedTotal = o.observedFpr.total();
    return {
      capacity: p.capacity,
      target_fpr: p.targetFpr,
      bits: p.totalBits,
      nominal_bits: p.nominalBits,
      hashes: p.hashes,
      shards: p.shards,
      shard_bits: p.shardBits,
      hash_id: HASH_ID,
      items,
      stale_items: f.stale,
      fill_ratio: f.countSetBits() / p.totalBits,
      estimated_fpr: estimateFpr(p.totalBits, p.hashes, items),
      observed_fpr: {
        window: observedWindow.rate,
        window_s: o.observedFpr.windowS,
        window_false_positives: observedWindow.falsePositives,
        window_rejections: observedWindow.rejections,
        total: observedTotal.rate,
      },
      false_negatives: o.audit.falseNegatives,
      audit_checks: o.audit.checks,
      memory_bytes: f.buffer.byteLength,
      namespace: o.config.namespace,
      lookup_path: o.config.lookupPath,
      workers: o.config.workers,
      rebuild: this.rebuild(),
      snapshot: this.#snapshot(),
      load: load === undefined ? null : { source: load.source, ms: load.ms, replayed: load.replayed, refused: load.refused ?? null },
    };
  }

  adminStatus(): object {
    const o = this.#o;
    return {
      phase: o.phase(),
      rebuild: this.rebuild(),
      last_trigger: o.rebuilder.state.current ?? o.rebuilder.last,
      snapshot: this.#snapshot(),
      seed_fingerprint: o.seedFingerprint,
      filter: { items: o.active.filter.items, stale_items: o.active.filter.stale, capacity: o.active.filter.layout.params.capacity },
      audit: { sample_every: o.config.auditSampleEvery, checks: o.audit.checks, false_negatives: o.audit.falseNegatives, queued: o.audit.queued, dropped: o.audit.dropped },
    };
  }

  rebuild(): object {
    const r = this.#o.rebuilder.state;
    return {
      running: r.running,
      progress: r.progress,
      scanned_rows: r.scannedRows,
      total_rows: r.totalRows,
      current: r.current,
      last: r.last,
      completed: r.completed,
      failed: r.failed,
    };
  }

  #snapshot(): object {
    const snapshot = this.#o.snapshotter.state;
    return {
      last_saved_at: snapshot.lastSavedAt === null ? null : new Date(snapshot.lastSavedAt).toISOString(),
      watermark: snapshot.lastWatermark,
      dirty_shards: snapshot.dirtyShards,
      pending_full: snapshot.pendingFull,
      last_bytes: snapshot.lastBytes,
      last_duration_ms: snapshot.lastDurationMs,
      last_stall_ms: snapshot.lastStallMs,
      saves: snapshot.saves,
      failures: snapshot.failures,
      last_error: snapshot.lastError,
    };
  }
}
