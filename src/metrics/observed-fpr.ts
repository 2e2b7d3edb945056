/**
 * The filter's false-positive rate as measured on live traffic: among lookups
 * of ids that turned out absent, the share the filter let through:
 *
 *   observed = false positives / (false positives + filter rejections)
 *
 * where a false positive is a lookup the filter passed and the negative cache
 * or the database then answered "absent". Stale (deleted) ids count as false
 * positives: they are exactly what a rebuild removes.
 *
 * Nothing here runs on the request path: `sample()` (a 1 s timer, and every
 * read) takes the running totals from the lookup counters and files the delta
 * under the current second, in a ring of `windowS` one-second buckets.
 *
 * @example
 *   const fpr = new ObservedFpr({ read: () => ({ falsePositives: c.dbMiss + c.negativeCacheHit, rejections: c.bloomRejected }) });
 *   fpr.window(); // { falsePositives, rejections, rate } over the last 60 s (rate null without data)
 */

export interface AbsentLookupTotals {
  readonly falsePositives: number;
  readonly rejections: number;
}

export interface FprReading extends AbsentLookupTotals {
  /** null until some absent id was looked up. */
  readonly rate: number | null;
}

export interface ObservedFprOptions {
  /** Running totals (they only grow). */
  readonly read: () => AbsentLookupTotals;
  /** Length of the sliding window in seconds (1-second buckets). */
  readonly windowS?: number;
  /** Injected clock (ms), so tests never sleep. */
  readonly now?: () => number;
}

export class ObservedFpr {
  readonly windowS: number;
  readonly #read: () => AbsentLookupTotals;
  readonly #now: () => number;
  readonly #fp: Float64Array;
  readonly #rej: Float64Array;
  #second: number;
  #last: AbsentLookupTotals;

  constructor(options: ObservedFprOptions) {
    this.windowS = options.windowS ?? 60;
    if (!Number.isSafeInteger(this.windowS) || this.windowS < 1) throw new RangeError('options.windowS must be a positive integer');
    this.#read = options.read;
    this.#now = options.now ?? Date.now;
    this.#fp = new Float64Array(this.windowS);
    this.#rej = new Float64Array(this.windowS);
    this.#second = Math.floor(this.#now() / 1000);
    this.#last = { ...this.#read() };
  }

  /** Files what happened since the last sample under the current second. */
  sample(): void {
    const second = Math.floor(this.#now() / 1000);
    // Seconds that passed with no sample are empty; clear their (old) buckets.
    const steps = Math.min(this.windowS, Math.max(0, second - this.#second));
    for (let i = 1; i <= steps; i++) {
      const b = (this.#second + i) % this.windowS;
      this.#fp[b] = 0;
      this.#rej[b] = 0;
    }
    if (second > this.#second) this.#second = second;
    const totals = this.#read();
    const b = this.#second % this.windowS;
    this.#fp[b]! += Math.max(0, totals.falsePositives - this.#last.falsePositives);
    this.#rej[b]! += Math.max(0, totals.rejections - this.#last.rejections);
    this.#last = { falsePositives: totals.falsePositives, rejections: totals.rejections };
  }

  /** Over the last `windowS` seconds. */
  window(): FprReading {
    this.sample();
    let falsePositives = 0;
    let rejections = 0;
    for (let i = 0; i < this.windowS; i++) {
      falsePositives += this.#fp[i]!;
      rejections += this.#rej[i]!;
    }
    return reading(falsePositives, rejections);
  }

  /** Since the process started. */
  total(): FprReading {
    const { falsePositives, rejections } = this.#read();
    return reading(falsePositives, rejections);
  }

  /** Forgets the window (after a filter swap: the old filter's rate says nothing about the new one). */
  resetWindow(): void {
    this.sample();
    this.#fp.fill(0);
    this.#rej.fill(0);
  }
}

function reading(falsePositives: number, rejections: number): FprReading {
  const absent = falsePositives + rejections;
  return { falsePositives, rejections, rate: absent === 0 ? null : falsePositives / absent };
}
