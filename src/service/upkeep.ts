/**
 * Keeping the filter true while the service runs: the observed false-positive
 * rate (sampled each second), the online rebuilder, and the triggers that
 * start it. Timers start with the service's `ready`; closes are pushed here.
 */
import type { Config } from '../config.js';
import type { ActiveFilter } from '../filter/active-filter.js';
import type { CloserStack } from '../lifecycle/closer-stack.js';
import { realScheduler } from '../lifecycle/scheduler.js';
import type { Logger } from '../logger.js';
import { ObservedFpr } from '../metrics/observed-fpr.js';
import type { Metrics } from '../metrics/registry.js';
import type { Snapshotter } from '../persistence/snapshotter.js';
import type { ProductStore } from '../store/product-store.js';
import type { RebuildLock } from '../cluster/rebuild-lock.js';
import { FilterRebuilder, type RebuildReason } from '../upkeep/online-rebuild.js';
import { ClusterRebuilds } from './cluster-rebuilds.js';
import { storedCapacity } from './open-filter.js';
import { RebuildTriggers } from '../upkeep/rebuild-triggers.js';

export interface Upkeep {
  readonly observedFpr: ObservedFpr;
  readonly rebuilder: FilterRebuilder;
  readonly triggers: RebuildTriggers;
  /** Where rebuilds are started (the manual route, the triggers): the rebuilder, or in cluster mode its one-at-a-time gate. */
  readonly rebuilds: { start(reason: RebuildReason, detail?: string): boolean };
}

export interface UpkeepDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly products: ProductStore;
  readonly active: ActiveFilter;
  readonly snapshotter: Snapshotter;
  readonly onWorkerError: (err: unknown) => void;
  readonly closers: CloserStack;
  /** Cluster mode: one rebuild at a time across instances, and every instance follows a grown capacity. */
  readonly rebuildLock?: RebuildLock;
}

const FPR_SAMPLE_MS = 1000;
/** Cluster mode: how often an instance looks for a capacity another one grew to. */
const FOLLOW_CAPACITY_MS = 5000;

export function wireUpkeep(d: UpkeepDeps): Upkeep {
  const { config, logger, metrics, active, snapshotter, closers } = d;
  const lookups = metrics.lookups;
  const observedFpr = new ObservedFpr({
    read: () => ({ falsePositives: lookups.dbMiss + lookups.negativeCacheHit, rejections: lookups.bloomRejected }),
  });
  closers.push('observed-FPR sampling', realScheduler.every(FPR_SAMPLE_MS, () => observedFpr.sample()));
  const rebuilder = new FilterRebuilder({
    active,
    products: d.products,
    threads: config.workers,
    logger,
    metrics,
    onWorkerError: d.onWorkerError,
    afterSwap: async () => {
      observedFpr.resetWindow();
      // The new filter replaces the old snapshot whole (its m may differ after a grow).
      snapshotter.requireFull();
      await snapshotter.save();
    },
  });
  // Pushed after the snapshotter, so closed before it: a stopped rebuild's afterSwap may still save.
  closers.push('online rebuild', () => rebuilder.close());
  let rebuilds: ClusterRebuilds | FilterRebuilder = rebuilder;
  if (d.rebuildLock !== undefined) {
    const gate = new ClusterRebuilds({
      lock: d.rebuildLock,
      rebuilder,
      capacity: () => active.filter.layout.params.capacity,
      storedCapacity: () => storedCapacity(d.products),
      logger,
    });
    // Pushed after the rebuilder's close, so closed before it: a gate waiting for the lock stops first.
    closers.push('cluster rebuild gate', () => gate.close());
    closers.push(
      'cluster capacity follower',
      realScheduler.every(FOLLOW_CAPACITY_MS, () => {
        gate.followStoredCapacity().catch((err: unknown) => logger.debug('could not read the cluster capacity', { err }));
      }),
    );
    rebuilds = gate;
  }
  const triggers = new RebuildTriggers({ rebuilder: rebuilds, filter: () => active.filter, fpr: observedFpr, staleRatio: config.rebuildStaleRatio });
  closers.push('rebuild triggers', () => triggers.close());
  return { observedFpr, rebuilder, triggers, rebuilds };
}
