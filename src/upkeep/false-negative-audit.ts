/**
 * The false-negative audit: a sample of filter rejections is checked against
 * the database. The filter must never reject an id that exists, so any hit is a
 * bug: it is counted, logged at error level, and the id is added to the filter
 * at once so that later lookups find it.
 *
 * Off the hot path: a rejection only decrements a countdown and, one time in
 * `sampleEvery`, pushes the id on a short queue (dropped when full). A timer
 * checks one queued id every 1000 / maxPerSecond ms, so the audit never makes
 * more than `maxPerSecond` database queries a second, whatever the traffic.
 *
 * @example
 *   const audit = new FalseNegativeAudit({ sampleEvery: 1000, maxPerSecond: 5, exists, mayContain, repair, logger });
 *   audit.start();
 *   if (filterRejected) audit.sample(id);
 */
import { realScheduler, type Cancel, type Scheduler } from '../lifecycle/scheduler.js';
import type { Logger } from '../logger.js';

export interface FalseNegativeAuditOptions {
  /** Check one rejection in this many; 0 turns the audit off. */
  readonly sampleEvery: number;
  readonly maxPerSecond: number;
  /** The database: does the id exist? A rejection (database unavailable) skips the id: it is not a false negative. */
  readonly exists: (id: string) => Promise<boolean>;
  /**
   * Resolves when every create begun so far has its ids in the filter
   * (Watermark.writesEnded): awaited after the database answered, so a row of
   * a create whose filter add has not run yet is not taken for a false negative.
   */
  readonly writesEnded?: () => Promise<void>;
  /** The filter now (an id created since its rejection is not a false negative). */
  readonly mayContain: (id: string) => boolean;
  /** Adds the id to the filter(s). */
  readonly repair: (id: string) => void;
  readonly logger: Logger;
  /** Ids waiting for a check; more are dropped. */
  readonly queueLimit?: number;
  /** Drives the checks; tests pass a manual one. */
  readonly scheduler?: Scheduler;
}

export class FalseNegativeAudit {
  readonly #o: FalseNegativeAuditOptions;
  readonly #queue: string[] = [];
  readonly #limit: number;
  #countdown: number;
  #cancel: Cancel | undefined;
  /** Rejections checked against the database. */
  checks = 0;
  /** Rejected ids the database had: filter bugs, repaired. */
  falseNegatives = 0;
  /** Sampled ids dropped because the queue was full. */
  dropped = 0;

  constructor(options: FalseNegativeAuditOptions) {
    this.#o = options;
    this.#limit = options.queueLimit ?? 64;
    this.#countdown = options.sampleEvery;
  }

  /** On every filter rejection: cheap unless this one is sampled. */
  sample(id: string): void {
    if (this.#o.sampleEvery === 0 || --this.#countdown > 0) return;
    this.#countdown = this.#o.sampleEvery;
    if (this.#queue.length < this.#limit) this.#queue.push(id);
    else this.dropped++;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Checks the oldest queued id; resolves true when it was a false negative. */
  async checkOne(): Promise<boolean> {
    const id = this.#queue.shift();
    if (id === undefined) return false;
    // Each query is bounded by DATABASE_TIMEOUT_MS, so at most maxPerSecond x that many are ever in flight.
    let exists: boolean;
    try {
      exists = await this.#o.exists(id);
    } catch (err) {
      // No answer is not "absent": never count or repair on a database error.
      this.#o.logger.debug('audit check skipped: the database did not answer', { err });
      return false;
    }
    this.checks++;
    if (!exists) return false;
    await this.#o.writesEnded?.();
    // The filter is read now, after the answer and the creates in flight: an id created meanwhile is in it.
    if (this.#o.mayContain(id)) return false;
    this.falseNegatives++;
    this.#o.repair(id);
    this.#o.logger.error('FALSE NEGATIVE: the filter rejected an id the database has; added it to the filter', {
      id,
      falseNegatives: this.falseNegatives,
    });
    return true;
  }

  /** The interval between two checks, so at most `maxPerSecond` a second. */
  get intervalMs(): number {
    return Math.max(1, Math.floor(1000 / this.#o.maxPerSecond));
  }

  start(): void {
    if (this.#o.sampleEvery === 0 || this.#cancel !== undefined) return;
    this.#cancel = (this.#o.scheduler ?? realScheduler).every(this.intervalMs, () => void this.checkOne());
  }

  close(): void {
    this.#cancel?.();
    this.#cancel = undefined;
  }
}
