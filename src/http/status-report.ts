/**
 * What the service says about itself: the JSON of `/health`, `/bloom/stats`
 * and `/admin/status` (shapes in status-bodies.ts), built from the live
 * components on each request (all cheap reads; the fill ratio counts set
 * bits, about 1 ms per million items).
 *
 * @example
 *   const report = new StatusReport({ config, active, redis, ... });
 *   const { status, body } = report.health();
 */
import type { Config } from '../config.js';
import type { ActiveFilter } from '../filter/active-filter.js';
import { filterGauges } from '../filter/filter-gauges.js';
import { HASH_ID } from '../filter/hash.js';
import type { ObservedFpr } from '../metrics/observed-fpr.js';
import type { LoadReport } from '../persistence/filter-loader.js';
import type { Snapshotter } from '../persistence/snapshotter.js';
import type { RedisConnection } from '../store/redis-connection.js';
import type { FalseNegativeAudit } from '../upkeep/false-negative-audit.js';
import type { FilterRebuilder, RebuildRecord } from '../upkeep/online-rebuild.js';
import type { Phase } from './http-api.js';
import type { AdminStatusBody, BloomStatsBody, HealthReport, RebuildBody, RebuildRecordBody, SnapshotBody } from './status-bodies.js';

export interface StatusReportOptions {
  readonly config: Pick<Config, 'namespace' | 'lookupPath' | 'workers' | 'auditSampleEvery'>;
  readonly active: Pick<ActiveFilter, 'filter'>;
  readonly redis: Pick<RedisConnection, 'healthy'>;
  /** The product database's health (src/service/database-health.ts). */
  readonly database: { readonly healthy: boolean };
  readonly snapshotter: Pick<Snapshotter, 'state'>;
  readonly rebuilder: Pick<FilterRebuilder, 'state' | 'last'>;
  readonly observedFpr: Pick<ObservedFpr, 'window' | 'total' | 'windowS'>;
  readonly audit: Pick<FalseNegativeAudit, 'checks' | 'falseNegatives' | 'queued' | 'dropped'>;
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

  health(): HealthReport {
    const o = this.#o;
    const phase = o.phase();
    if (phase !== 'ready') return { status: 503, body: { status: phase } };
    const up = o.redis.healthy;
    const database = o.database.healthy;
    return {
      status: 200,
      body: {
        status: up && database ? 'ok' : 'degraded',
        redis: up ? 'up' : 'down',
        database: database ? 'up' : 'down',
        filter: 'loaded',
        items: o.active.filter.items,
        uptime_s: Math.round((Date.now() - o.startedAt) / 1000),
      },
    };
  }

  bloomStats(): BloomStatsBody {
    const o = this.#o;
    const load = o.load();
    const f = o.active.filter;
    const p = f.layout.params;
    const g = filterGauges(f);
    const observedWindow = o.observedFpr.window();
    return {
      capacity: g.capacity,
      target_fpr: g.targetFpr,
      bits: g.bits,
      nominal_bits: p.nominalBits,
      hashes: p.hashes,
      shards: p.shards,
      shard_bits: p.shardBits,
      hash_id: HASH_ID,
      items: g.items,
      stale_items: g.staleItems,
      fill_ratio: g.fillRatio,
      estimated_fpr: g.estimatedFpr,
      observed_fpr: {
        window: observedWindow.rate,
        window_s: o.observedFpr.windowS,
        window_false_positives: observedWindow.falsePositives,
        window_rejections: observedWindow.rejections,
        total: o.observedFpr.total().rate,
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

  adminStatus(): AdminStatusBody {
    const o = this.#o;
    const f = o.active.filter;
    const { current } = o.rebuilder.state;
    return {
      phase: o.phase(),
      rebuild: this.rebuild(),
      last_trigger: rebuildRecordBody(current ?? o.rebuilder.last),
      snapshot: this.#snapshot(),
      seed_fingerprint: o.seedFingerprint,
      filter: { items: f.items, stale_items: f.stale, capacity: f.layout.params.capacity },
      audit: { sample_every: o.config.auditSampleEvery, checks: o.audit.checks, false_negatives: o.audit.falseNegatives, queued: o.audit.queued, dropped: o.audit.dropped },
    };
  }

  rebuild(): RebuildBody {
    const r = this.#o.rebuilder.state;
    return {
      running: r.running,
      progress: r.progress,
      scanned_rows: r.scannedRows,
      total_rows: r.totalRows,
      current: rebuildRecordBody(r.current),
      last: rebuildRecordBody(r.last),
      completed: r.completed,
      failed: r.failed,
    };
  }

  #snapshot(): SnapshotBody {
    const s = this.#o.snapshotter.state;
    return {
      last_saved_at: s.lastSavedAt === null ? null : new Date(s.lastSavedAt).toISOString(),
      watermark: s.lastWatermark,
      dirty_shards: s.dirtyShards,
      pending_full: s.pendingFull,
      last_bytes: s.lastBytes,
      last_duration_ms: s.lastDurationMs,
      last_stall_ms: s.lastStallMs,
      saves: s.saves,
      failures: s.failures,
      last_error: s.lastError,
    };
  }
}

function rebuildRecordBody(r: RebuildRecord | null): RebuildRecordBody | null {
  if (r === null) return null;
  return {
    reason: r.reason,
    detail: r.detail,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    ms: r.ms,
    ok: r.ok,
    error: r.error,
    from_capacity: r.fromCapacity,
    to_capacity: r.toCapacity,
    items: r.items,
  };
}
