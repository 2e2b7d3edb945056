/**
 * A Scheduler (src/lifecycle/scheduler.ts) that only moves when a test says so:
 * `advance(ms)` fires every due callback in time order, so periodic work is
 * tested without sleeping.
 *
 * @example
 *   const scheduler = new ManualScheduler();
 *   const audit = new FalseNegativeAudit({ ..., scheduler });
 *   audit.start();
 *   scheduler.advance(1000); // five checks at maxPerSecond 5
 */
import type { Cancel, Scheduler } from '../../src/lifecycle/scheduler.js';

interface Entry {
  next: number;
  /** 0 for a one-shot `after`. */
  readonly every: number;
  readonly fn: () => void;
}

export class ManualScheduler implements Scheduler {
  #now = 0;
  readonly #entries = new Set<Entry>();

  get now(): number {
    return this.#now;
  }

  /** Timers not yet cancelled. */
  get pending(): number {
    return this.#entries.size;
  }

  every(ms: number, fn: () => void): Cancel {
    const entry: Entry = { next: this.#now + ms, every: ms, fn };
    this.#entries.add(entry);
    return () => {
      this.#entries.delete(entry);
    };
  }

  after(ms: number, fn: () => void): Cancel {
    const entry: Entry = { next: this.#now + ms, every: 0, fn };
    this.#entries.add(entry);
    return () => {
      this.#entries.delete(entry);
    };
  }

  /** Moves time forward by `ms`, firing each due callback at its own time. */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      let due: Entry | undefined;
      for (const e of this.#entries) if (e.next <= until && (due === undefined || e.next < due.next)) due = e;
      if (due === undefined) break;
      this.#now = due.next;
      if (due.every === 0) this.#entries.delete(due);
      else due.next += due.every;
      due.fn();
    }
    this.#now = until;
  }
}
