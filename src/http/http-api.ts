/**
 * What the HTTP layer needs from the service: the few methods of each
 * collaborator it calls, so a test can hand it plain objects.
 */
import type { LookupGuard } from '../guard.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/registry.js';
import type { ProductWriter } from '../product-writes.js';
import type { AdminAuth } from './admin-auth.js';
import type { WriteAuth } from './write-auth.js';

export type Phase = 'starting' | 'ready' | 'draining';

/**
 * The report bodies the HTTP layer serialises. It needs only objects it can
 * JSON.stringify; the service answers with the named shapes of
 * status-bodies.ts, a test stub with smaller ones.
 */
export interface StatusBodies {
  readonly health: { readonly status: number; readonly body: object };
  readonly bloomStats: object;
  readonly adminStatus: object;
  readonly rebuildStarted: object;
}

export interface HttpApi {
  readonly phase: () => Phase;
  readonly guard: Pick<LookupGuard, 'inline' | 'rejects' | 'localHit' | 'rejectsInPool' | 'resolve'>;
  readonly writer: Pick<ProductWriter, 'create' | 'createBatch' | 'delete' | 'update'>;
  /** One byte per id, 1 = may exist (the worker pool). */
  readonly checkIds: (ids: readonly string[]) => Promise<Uint8Array>;
  /** The request histogram (its route labels are registered by HttpServer), /metrics and /stats. */
  readonly metrics: Pick<Metrics, 'httpDuration' | 'registry' | 'lookups'>;
  readonly health: () => StatusBodies['health'];
  readonly bloomStats: () => StatusBodies['bloomStats'];
  readonly logger: Logger;
  /** Routes with `auth: 'admin'`. */
  readonly adminAuth: Pick<AdminAuth, 'check'>;
  /** Routes with `auth: 'write'` (a no-op check while WRITE_TOKEN is unset). */
  readonly writeAuth: Pick<WriteAuth, 'check'>;
  /** Starts an online rebuild; throws RebuildInProgressError when one runs. */
  readonly startRebuild: () => StatusBodies['rebuildStarted'];
  readonly adminStatus: () => StatusBodies['adminStatus'];
  /** The self-contained HTML of GET /. */
  readonly statusPage: string;
}
