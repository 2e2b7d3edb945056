/**
 * The snapshot watermark: the highest database rowid W such that EVERY committed
 * row with rowid <= W is already in the filter. A restore replays rows above W,
 * so W must never run ahead of a row whose filter add is still in flight.
 *
 * Single creates commit and add synchronously on the main thread, so they move
 * the watermark at once. A batch commits, then its adds run in the worker pool:
 * while they run its rowid range is pending and holds the watermark just below
 * its first rowid, however many later rows complete meanwhile.
 *
 * @example
 *   const w = new Watermark(100);
 *   const batch = w.beginPending(101, 200); // batch committed, pool adding
 *   w.applied(201);                         // a single create: w.value is still 100
 *   w.endPending(batch);                    // w.value === 201
 */
export class Watermark {
  #highest: number;
  readonly #pending = new Map<number, number>(); // token -> first rowid of the range
  #nextToken = 1;

  constructor(initial: number) {
    this.#highest = initial;
  }

  /** Rows up to `rowid` are committed and their ids are in the filter. */
  applied(rowid: number): void {
    if (rowid > this.#highest) this.#highest = rowid;
  }

  /** Rows `first..last` are committed but their filter adds have not finished. */
  beginPending(first: number, last: number): number {
    const token = this.#nextToken++;
    this.#pending.set(token, first);
    if (last > this.#highest) this.#highest = last;
    return token;
  }

  endPending(token: number): void {
    this.#pending.delete(token);
  }

  /** Resets after a full load: everything up to `rowid` is in the filter. */
  reset(rowid: number): void {
    this.#pending.clear();
    this.#highest = rowid;
  }

  get value(): number {
    let lowest = Infinity;
    for (const first of this.#pending.values()) if (first < lowest) lowest = first;
    return lowest === Infinity ? this.#highest : Math.min(this.#highest, lowest - 1);
  }

  get pendingRanges(): number {
    return this.#pending.size;
  }
}
