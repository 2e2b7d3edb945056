/**
 * What the HTTP layer needs from the service: the few methods of each
 * collaborator it calls, so a test can hand it plain objects.
 */
import type { LookupGuard } from '../guard.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/registry.js';
import type { ProductWriter } from '../product-writes.js';
import type { AdminAuth } from './admin-auth.js';

export type Phase = 'starting' | 'ready' | 'draining';

export interface HttpApi {
  readonly phase: () => Phase;
  readonly guard: Pick<LookupGuard, 'inline' | 'rejects' | 'rejectsInPool' | 'resolve'>;
  readonly writer: Pick<ProductWriter, 'create' | 'createBatch' | 'delete'>;
  /** One byte per id, 1 = may exist (the worker pool). */
  readonly checkIds: (ids: readonly string[]) => Promise<Uint8Array>;
  /** The request histogram (its route labels are registered by HttpServer), /metrics and /stats. */
  readonly metrics: Pick<Metrics, 'httpDuration' | 'registry' | 'lookups'>;
  // The three report shapes are `object` until src/http/status-report.ts names them.
  readonly health: () => { readonly status: number; readonly body: object };
  readonly bloomStats: () => object;
  readonly logger: Logger;
  readonly adminAuth: Pick<AdminAuth, 'check'>;
  /** Starts an online rebuild; throws RebuildInProgressError when one runs. */
  readonly startRebuild: () => object;
  readonly adminStatus: () => object;
  /** The self-contained HTML of GET /. */
  readonly statusPage: string;
}
