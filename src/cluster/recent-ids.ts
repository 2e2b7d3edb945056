/**
 * Ids noted within the last `holdMs`, bounded: past `maxIds` they are all
 * forgotten and every id counts as recent for a whole hold instead, so the
 * bound never makes an id look older than it is. The memory under
 * RecentCreates (which markers to distrust) and RecentDeletes (which cached
 * products to distrust).
 *
 * Times are passed in (`now`, monotonic milliseconds): each owner reads its clock once per call.
 *
 * @example
 *   const ids = new RecentIds(1_000, 1_000_000);
 *   ids.note(['SKU-1'], clock());
 *   ids.has('SKU-1', clock()); // true for 1000 ms
 */
export class RecentIds {
  readonly #holdMs: number;
  readonly #maxIds: number;
  /** id -> expiry; insertion order is expiry order (same holdMs, re-inserted on each note). */
  readonly #until = new Map<string, number>();
  /** The set overflowed: every id is recent before this. */
  #overflowUntil = -Infinity;

  constructor(holdMs: number, maxIds: number) {
    if (!(holdMs >= 0)) throw new RangeError(`options.holdMs must be >= 0, got ${holdMs}`);
    this.#holdMs = holdMs;
    this.#maxIds = maxIds;
  }

  /** Ids currently remembered. */
  get size(): number {
    return this.#until.size;
  }

  note(ids: readonly string[], now: number): void {
    this.#expire(now);
    const until = now + this.#holdMs;
    for (const id of ids) {
      this.#until.delete(id); // re-insert at the end: keeps insertion order = expiry order
      this.#until.set(id, until);
    }
    if (this.#until.size > this.#maxIds) {
      this.#until.clear();
      this.#overflowUntil = until;
    }
  }

  forget(ids: readonly string[]): void {
    for (const id of ids) this.#until.delete(id);
  }

  /** Noted less than holdMs before `now`, or the set overflowed less than holdMs before it. */
  has(id: string, now: number): boolean {
    if (now < this.#overflowUntil) return true;
    const until = this.#until.get(id);
    return until !== undefined && until > now;
  }

  #expire(now: number): void {
    for (const [id, until] of this.#until) {
      if (until > now) break;
      this.#until.delete(id);
    }
  }
}
