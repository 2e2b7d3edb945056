/**
 * The negative cache across instances (issue 11 §4): which negative markers
 * this instance may trust.
 *
 * The race. Instance A misses id X in the database and writes a negative
 * marker (SET NX, NEGATIVE_TTL_S). Instance B then commits X and writes the
 * product to Redis best effort: B's 201 does NOT wait for that write, so A's
 * marker can still be in Redis after the 201 (the product write failed, is
 * being retried, or Redis is slow). A GET on A or C must find X anyway.
 *
 * The rule. An instance trusts a marker for X only when
 *   (a) it has not applied a create of X within the last `holdMs`
 *       (NEGATIVE_TTL_S + DATABASE_TIMEOUT_MS + REDIS_COMMAND_TIMEOUT_MS + slack), and
 *   (b) it has been closed (lease valid, caught up: `mayRejectFromFilter`)
 *       without a break for at least `holdMs`.
 *
 * Why that suffices, for a marker M of X served by instance I after B's 201:
 * - M was written after a database read that did not see X, so the read began
 *   before X committed; that read gives up after DATABASE_TIMEOUT_MS, and the
 *   marker is sent in the same continuation as its answer. Redis applies it
 *   within about REDIS_COMMAND_TIMEOUT_MS of being sent (a command still
 *   queued past that is an assumption we document, not prove), and it expires
 *   NEGATIVE_TTL_S after that. So M is gone by commit(X) + holdMs.
 * - If I held its lease while B's barrier read the cluster state, B waited for
 *   I to apply X's feed entry before the 201, and applying it put X here (a):
 *   I ignores M until apply + holdMs >= commit(X) + holdMs, when M is gone.
 * - Otherwise I registered its lease after that read (or was failing open),
 *   which is after X committed; by (b) I trusts no marker before
 *   registration + holdMs > commit(X) + holdMs, when M is gone.
 * The bounded set therefore never needs more than the creates of one holdMs.
 *
 * @example
 *   const recent = new RecentCreates({ holdMs: 62_500, mayReject: () => lease.mayRejectFromFilter() });
 *   recent.noteCreated(ids);                 // for every applied create entry, own ones included
 *   if (cached.kind === 'absent' && !recent.trustsNegative(id)) goToDatabase();
 */
import { RecentIds } from './recent-ids.js';

export interface RecentCreatesOptions {
  /** How long after an applied create (or after failing open) markers are not trusted. */
  readonly holdMs: number;
  /** True while the instance may reject from its filter (its lease is valid and it caught up). */
  readonly mayReject: () => boolean;
  /**
   * The lease's registration count (InstanceLease.registrations). A lapse of
   * the lease always ends in a new registration, so a change seen here is a
   * fail-open period even if no poll of mayReject fell inside it.
   */
  readonly registrations?: () => number;
  /** Monotonic milliseconds. */
  readonly clock?: () => number;
  /** Bound on remembered ids; past it, markers are trusted by nobody until the oldest expire. */
  readonly maxIds?: number;
}

export class RecentCreates {
  readonly #holdMs: number;
  readonly #ids: RecentIds;
  readonly #mayReject: () => boolean;
  readonly #registrations: () => number;
  #seenRegistrations: number;
  readonly #clock: () => number;
  /** Clock time before which no marker is trusted (the last time we were seen failing open + holdMs). */
  #distrustUntil: number;

  constructor(options: RecentCreatesOptions) {
    // Past maxIds: forget them, and trust no marker for as long as they would have been held.
    this.#ids = new RecentIds(options.holdMs, options.maxIds ?? 1_000_000);
    this.#holdMs = options.holdMs;
    this.#mayReject = options.mayReject;
    this.#registrations = options.registrations ?? (() => 0);
    this.#seenRegistrations = this.#registrations();
    this.#clock = options.clock ?? (() => performance.now());
    // A fresh instance was failing open until now.
    this.#distrustUntil = this.#clock() + this.#holdMs;
  }

  /** Ids currently remembered. */
  get size(): number {
    return this.#ids.size;
  }

  /** Call once a create's ids are in this instance's filter (feed entry applied, or own create). */
  noteCreated(ids: readonly string[]): void {
    this.#ids.note(ids, this.#clock());
  }

  /**
   * Every moment it is seen failing open pushes the distrust window to
   * now + holdMs (each trustsNegative call looks). A fail-open period no call
   * saw is harmless: either the lease lapsed, and coming back took a new
   * registration (counted above), or the lease stayed valid (only the reader
   * or the catch-up lagged), and then writers kept waiting for us, so every
   * create acknowledged meanwhile was applied here and noted (rule a).
   */
  observe(): void {
    const registrations = this.#registrations();
    if (registrations !== this.#seenRegistrations || !this.#mayReject()) {
      this.#seenRegistrations = registrations;
      this.#distrustUntil = this.#clock() + this.#holdMs;
    }
  }

  /** May a negative marker for `id` be served as 404 negative_cache? */
  trustsNegative(id: string): boolean {
    this.observe();
    const now = this.#clock();
    return now >= this.#distrustUntil && !this.#ids.has(id, now);
  }
}
