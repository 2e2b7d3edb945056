/**
 * The snapshot watermark: a database position W such that EVERY committed row
 * at a position below W is already in the filter. A restore loads the bits and
 * replays `store.idsFrom(W)` (rows at positions >= W), so W must never pass a
 * committed row whose filter add has not happened yet.
 *
 * Positions come from the store (src/store/product-store.ts): `horizon()` is a
 * position below which every row is committed and visible. A horizon alone is
 * not enough: a row of OUR write may be committed below it while its filter
 * add is still to come (the write's promise has not resolved yet). So:
 *
 *   - `begin()` before a write (create, batch) is SENT to the store; `end()`
 *     once its ids are in the filter, or the write failed;
 *   - `offer(h)` synchronously when a `horizon()` read returns: h becomes a
 *     candidate that waits for every token in flight at that moment;
 *   - `value` is the greatest candidate whose tokens have all ended.
 *
 * Why that is safe. A row at a position < h committed before the horizon
 * query executed, hence before its result arrived and offer(h) ran. If it is
 * our write, its token was begun before the write was sent, so at offer(h) the
 * token is either still in flight (the candidate waits for it) or already
 * ended (its ids are in the filter). No other process writes to this database
 * and namespace (the instance lock). Tokens are increasing integers, so "every
 * token in flight at offer time" is "every in-flight token <= the last one
 * begun": a candidate needs no set, only that number.
 *
 * A write whose outcome is unknown (a timeout: the row may still commit) must
 * put its ids in the filter anyway before end() (a false positive at worst);
 * see src/product-writes.ts.
 *
 * @example
 *   const w = new Watermark(0);
 *   const t = w.begin();           // then send the insert
 *   w.offer(await store.horizon()); // candidate waits for t
 *   w.value;                        // 0
 *   w.end(t);                       // after the filter add: w.value is the horizon
 */
import type { Position } from '../store/product-store.js';

interface Candidate {
  readonly horizon: Position;
  /** The last token begun when the horizon arrived: the candidate waits for every in-flight token <= this. */
  readonly lastToken: number;
}

/** More pending candidates than this: the oldest are dropped (a later one supersedes them). */
const MAX_CANDIDATES = 64;

export class Watermark {
  #value: Position;
  #nextToken = 1;
  /** Tokens begun and not ended; a Set iterates in insertion order, i.e. ascending. */
  readonly #inFlight = new Set<number>();
  #candidates: Candidate[] = [];
  /** Callers of writesEnded(), each waiting for every token up to its lastToken. */
  #waiters: { readonly lastToken: number; readonly resolve: () => void }[] = [];

  constructor(initial: Position) {
    this.#value = initial;
  }

  /** Before a write is sent to the store. */
  begin(): number {
    const token = this.#nextToken++;
    this.#inFlight.add(token);
    return token;
  }

  /** After the write's ids are in the filter, or the write failed (ending twice is harmless). */
  end(token: number): void {
    if (this.#inFlight.delete(token)) this.#promote();
  }

  /** Call in the same continuation in which a `store.horizon()` read resolved. */
  offer(horizon: Position): void {
    if (horizon <= this.#value) return;
    this.#candidates.push({ horizon, lastToken: this.#nextToken - 1 });
    if (this.#candidates.length > MAX_CANDIDATES) this.#candidates.shift();
    this.#promote();
  }

  /** After the start-up load: `horizon` was read before the load's scan or replay began (no own writes ran yet). */
  reset(horizon: Position): void {
    this.#candidates = [];
    this.#value = horizon;
  }

  /** Every committed row at a position below this is in the filter. Never decreases (reset aside). */
  get value(): Position {
    return this.#value;
  }

  /**
   * Resolves once every write begun so far has ended (its ids in the filter,
   * or failed). The audit waits for it after a database answer: a row it saw
   * may belong to a create whose filter add has not run yet.
   */
  writesEnded(): Promise<void> {
    const lastToken = this.#nextToken - 1;
    if (this.#oldestInFlight() > lastToken) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ lastToken, resolve }));
  }

  /** Writes begun and not yet ended. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  #oldestInFlight(): number {
    for (const token of this.#inFlight) return token;
    return Infinity;
  }

  #promote(): void {
    const oldest = this.#oldestInFlight();
    if (this.#waiters.length > 0) {
      const still = this.#waiters.filter((w) => w.lastToken >= oldest);
      for (const w of this.#waiters) if (w.lastToken < oldest) w.resolve();
      this.#waiters = still;
    }
    const waiting: Candidate[] = [];
    for (const c of this.#candidates) {
      if (c.lastToken < oldest) {
        if (c.horizon > this.#value) this.#value = c.horizon;
      } else if (c.horizon > this.#value) waiting.push(c);
    }
    this.#candidates = waiting;
  }
}
