/**
 * The automatic rebuild triggers, checked once a second (POST /admin/rebuild
 * is the manual one):
 *
 * - capacity: more ids than the filter was sized for -> rebuild at double
 *   capacity (same target FPR);
 * - stale: deleted ids whose bits remain are more than `staleRatio` of items;
 * - fpr: the observed false-positive rate over the sliding window is above
 *   twice the target, measured on at least MIN_FPR_SAMPLES absent lookups.
 *
 * An fpr rebuild waits COOLDOWN_MS after the last rebuild (a flood of crafted
 * ids would otherwise keep the service rebuilding), and after a failed rebuild
 * every automatic trigger waits COOLDOWN_MS.
 *
 * @example
 *   const triggers = new RebuildTriggers({ rebuilder, filter: () => active.filter, fpr, staleRatio: 0.1, logger });
 *   triggers.start();
 */
import type { BloomFilter } from '../filter/bloom-filter.js';
import { realScheduler, type Cancel, type Scheduler } from '../lifecycle/scheduler.js';
import type { FilterRebuilder, RebuildReason } from './online-rebuild.js';
import type { ObservedFpr } from '../metrics/observed-fpr.js';

/** The window must hold this many absent-id lookups before its rate is trusted. */
export const MIN_FPR_SAMPLES = 1000;
export const COOLDOWN_MS = 60_000;

export interface RebuildTriggersOptions {
  readonly rebuilder: Pick<FilterRebuilder, 'running' | 'last' | 'start'>;
  readonly filter: () => BloomFilter;
  readonly fpr: Pick<ObservedFpr, 'window'>;
  readonly staleRatio: number;
  readonly intervalMs?: number;
  readonly now?: () => number;
  /** Drives the periodic check; tests pass a manual one. */
  readonly scheduler?: Scheduler;
}

export interface TriggerDecision {
  readonly reason: RebuildReason;
  readonly detail: string;
}

export class RebuildTriggers {
  readonly #o: RebuildTriggersOptions;
  readonly #now: () => number;
  #cancel: Cancel | undefined;

  constructor(options: RebuildTriggersOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** The trigger that fires now, if any (without starting anything). */
  evaluate(): TriggerDecision | undefined {
    const { rebuilder, filter: current, fpr, staleRatio } = this.#o;
    if (rebuilder.running) return undefined;
    const last = rebuilder.last;
    const sinceLast = last?.finishedAt == null ? Infinity : this.#now() - last.finishedAt;
    if (last?.ok === false && sinceLast < COOLDOWN_MS) return undefined;
    const filter = current();
    const { capacity, targetFpr } = filter.layout.params;
    const items = filter.items;
    if (items > capacity) return { reason: 'capacity', detail: `items ${items} > capacity ${capacity}` };
    const stale = filter.stale;
    if (items > 0 && stale / items > staleRatio) return { reason: 'stale', detail: `stale ${stale} / items ${items} > ${staleRatio}` };
    const w = fpr.window();
    if (w.rate !== null && w.falsePositives + w.rejections >= MIN_FPR_SAMPLES && w.rate > 2 * targetFpr && sinceLast >= COOLDOWN_MS) {
      return { reason: 'fpr', detail: `observed fpr ${w.rate.toFixed(5)} > 2 x target ${targetFpr}` };
    }
    return undefined;
  }

  /** Starts a rebuild when a trigger fires; returns the decision. */
  check(): TriggerDecision | undefined {
    const decision = this.evaluate();
    if (decision !== undefined) this.#o.rebuilder.start(decision.reason, decision.detail);
    return decision;
  }

  start(): void {
    this.#cancel ??= (this.#o.scheduler ?? realScheduler).every(this.#o.intervalMs ?? 1000, () => this.check());
  }

  close(): void {
    this.#cancel?.();
    this.#cancel = undefined;
  }
}
