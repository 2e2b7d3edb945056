/**
 * The JSON bodies of `/health`, `/bloom/stats`, `/admin/status` and
 * `POST /admin/rebuild`, as named types. Every key is snake_case; the numbers
 * keep their units in the name (`_ms`, `_s`, `_bytes`). Built by
 * status-report.ts.
 */
import type { LookupPath } from '../config.js';
import type { LoadSource } from '../persistence/filter-loader.js';
import type { Phase } from './http-api.js';
import type { RebuildReason } from '../upkeep/online-rebuild.js';

export type HealthBody =
  | {
      readonly status: 'starting' | 'draining';
      /** Starting and waiting for the product database (retried with backoff). */
      readonly reason?: 'database_unavailable';
    }
  | {
      readonly status: 'ok' | 'degraded';
      readonly redis: 'up' | 'down';
      /** The product database answered its last call (down: lookups that need it answer 503). */
      readonly database: 'up' | 'down';
      readonly filter: 'loaded';
      readonly items: number;
      readonly uptime_s: number;
    };

export interface HealthReport {
  readonly status: 200 | 503;
  readonly body: HealthBody;
}

/** One online rebuild, running or finished. Times are Unix milliseconds. */
export interface RebuildRecordBody {
  readonly reason: RebuildReason;
  readonly detail: string;
  readonly started_at: number;
  readonly finished_at: number | null;
  readonly ms: number | null;
  readonly ok: boolean | null;
  readonly error: string | null;
  readonly from_capacity: number;
  readonly to_capacity: number;
  readonly items: number | null;
}

export interface RebuildBody {
  readonly running: boolean;
  readonly progress: number;
  readonly scanned_rows: number;
  readonly total_rows: number;
  readonly current: RebuildRecordBody | null;
  readonly last: RebuildRecordBody | null;
  readonly completed: number;
  readonly failed: number;
}

export interface SnapshotBody {
  /** ISO 8601, or null before the first save. */
  readonly last_saved_at: string | null;
  readonly watermark: number | null;
  readonly dirty_shards: number;
  readonly pending_full: boolean;
  readonly last_bytes: number;
  readonly last_duration_ms: number | null;
  readonly last_stall_ms: number | null;
  readonly saves: number;
  readonly failures: number;
  readonly last_error: string | null;
}

export interface LoadBody {
  readonly source: LoadSource;
  readonly ms: number;
  readonly replayed: number;
  readonly refused: string | null;
}

export interface ObservedFprBody {
  readonly window: number | null;
  readonly window_s: number;
  readonly window_false_positives: number;
  readonly window_rejections: number;
  readonly total: number | null;
}

export interface BloomStatsBody {
  readonly capacity: number;
  readonly target_fpr: number;
  readonly bits: number;
  readonly nominal_bits: number;
  readonly hashes: number;
  readonly shards: number;
  readonly shard_bits: number;
  readonly hash_id: number;
  readonly items: number;
  readonly stale_items: number;
  readonly fill_ratio: number;
  readonly estimated_fpr: number;
  readonly observed_fpr: ObservedFprBody;
  readonly false_negatives: number;
  readonly audit_checks: number;
  readonly memory_bytes: number;
  readonly namespace: string;
  readonly lookup_path: LookupPath;
  readonly workers: number;
  readonly rebuild: RebuildBody;
  readonly snapshot: SnapshotBody;
  readonly load: LoadBody | null;
}

export interface AdminStatusBody {
  readonly phase: Phase;
  readonly rebuild: RebuildBody;
  readonly last_trigger: RebuildRecordBody | null;
  readonly snapshot: SnapshotBody;
  readonly seed_fingerprint: string;
  readonly filter: { readonly items: number; readonly stale_items: number; readonly capacity: number };
  readonly audit: { readonly sample_every: number; readonly checks: number; readonly false_negatives: number; readonly queued: number; readonly dropped: number };
}

export interface RebuildStartedBody {
  readonly started: true;
  readonly rebuild: RebuildBody;
}
