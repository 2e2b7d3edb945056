/**
 * Catch-up from the database, the slow path under the change feed: every row
 * committed since this instance's database watermark W goes into its filter,
 * then W moves to the horizon read BEFORE the query. Run periodically and after
 * every doubt (feed reconnect, Redis run_id change, stream missing or trimmed
 * past the reader, lease re-registration).
 *
 * A run that is asked for while another is in progress does not share it: it
 * gets a run that STARTS after the request (callers rely on "a catch-up started
 * after X covers every row committed before X").
 *
 * @example
 *   const catchUp = new DatabaseCatchUp({ source: store, from: loadedWatermark, add: (ids) => { for (const id of ids) filter.add(id); } });
 *   await catchUp.run(); // { added, watermark }
 */
import type { Position } from '../store/product-store.js';

/** The two methods of ProductStore the catch-up uses. */
export interface CatchUpSource {
  /** Every row that commits from now on gets a position >= this; every row below it is committed and visible. */
  horizon(): Promise<Position>;
  idsFrom(from: Position, pageSize: number): AsyncIterable<readonly string[]>;
}

export interface DatabaseCatchUpOptions {
  readonly source: CatchUpSource;
  /** The watermark the filter already holds (every row below it is in). */
  readonly from: Position;
  readonly add: (ids: readonly string[]) => Promise<void> | void;
  readonly pageSize?: number;
}

export interface CatchUpResult {
  readonly added: number;
  readonly watermark: Position;
}

export class DatabaseCatchUp {
  readonly #source: CatchUpSource;
  readonly #add: (ids: readonly string[]) => Promise<void> | void;
  readonly #pageSize: number;
  #watermark: Position;
  #running: Promise<CatchUpResult> | undefined;
  #queued: Promise<CatchUpResult> | undefined;
  #runs = 0;

  constructor(options: DatabaseCatchUpOptions) {
    const pageSize = options.pageSize ?? 10_000;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError(`options.pageSize must be a positive integer, got ${pageSize}`);
    this.#source = options.source;
    this.#add = options.add;
    this.#pageSize = pageSize;
    this.#watermark = options.from;
  }

  /** Every row at a position below this is in the filter. */
  get watermark(): Position {
    return this.#watermark;
  }

  /** Completed runs. */
  get runs(): number {
    return this.#runs;
  }

  /** Resolves when a catch-up that started after this call has finished. */
  run(): Promise<CatchUpResult> {
    if (this.#running === undefined) return this.#start();
    // One follow-up serves every caller that arrived during the current run.
    this.#queued ??= this.#running.catch(() => undefined).then(() => {
      this.#queued = undefined;
      return this.#start();
    });
    return this.#queued;
  }

  #start(): Promise<CatchUpResult> {
    const running = this.#once().finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
    return running;
  }

  async #once(): Promise<CatchUpResult> {
    // Horizon FIRST, query second: every row below h was committed (and visible)
    // before the query began, so idsFrom(W) returns each of them at a position
    // >= W. A row still in flight at the horizon read - even one with a SMALLER
    // position than rows we see now - has a position >= h and is picked up by
    // the next run, which starts from h. Reading the horizon after the query
    // would skip such a row for good.
    const horizon = await this.#source.horizon();
    let added = 0;
    for await (const ids of this.#source.idsFrom(this.#watermark, this.#pageSize)) {
      await this.#add(ids);
      added += ids.length;
    }
    if (horizon > this.#watermark) this.#watermark = horizon;
    this.#runs++;
    return { added, watermark: this.#watermark };
  }
}
