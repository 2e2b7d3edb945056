/**
 * Group commit for a store whose statements cost more than their rows
 * (PostgreSQL: a network round trip, a transaction and a WAL flush each).
 * Single inserts that arrive while `maxInFlight` statements are running wait,
 * and go out together as ONE multi-row insert (one transaction) when one of
 * them ends. Under no load an insert is sent at once, alone; under load the
 * groups grow by themselves, each as large as what queued during one statement.
 *
 * What each caller gets is what a single insert would have given it: its row,
 * or null when the id exists (an earlier insert of the same id in the group
 * wins, as it would have by arriving first).
 *
 * One deadline per insert, waiting included: an insert still queued at its
 * deadline fails with DatabaseUnavailableError (it was never sent), and a
 * group's statement gets what is left of its oldest member's budget.
 *
 * Failures. A statement that fails any way but a refusal (the database
 * unavailable, a timeout: it may have committed) fails every insert of its
 * group with that error; the caller treats each as uncertain, as it would a
 * lone insert. A refusal (the database answered no to the statement, which
 * rolled back as a whole) is retried one insert at a time, in order, so one
 * row the database refuses never fails the others.
 *
 * @example
 *   const groups = new InsertGroups({ insertMany: (products, budgetMs) => ..., timeoutMs: 2000, isRefusal: (e) => e instanceof pg.DatabaseError });
 *   await Promise.all([groups.insert(a), groups.insert(b)]); // [{ id: 'a', position }, { id: 'b', position }]
 */
import { DatabaseUnavailableError } from '../errors.js';
import type { BatchInsertResult, CreatedRow, Product } from './product-store.js';

export interface InsertGroupsOptions {
  /** One statement, one transaction, bounded by `budgetMs`: all of `products` commit together or none does. */
  readonly insertMany: (products: readonly Product[], budgetMs: number) => Promise<BatchInsertResult>;
  /** Upper bound on one insert, from its call to its answer (the store's per-call bound). */
  readonly timeoutMs: number;
  /** Whether the database refused the statement (it rolled back; nothing of it committed). */
  readonly isRefusal: (err: unknown) => boolean;
  /**
   * Statements in flight at once (default 2: one can be on the wire while the
   * other waits for its commit's flush).
   */
  readonly maxInFlight?: number;
  /** Largest group (default 1000, the batch API's limit). */
  readonly maxRows?: number;
  /** Monotonic milliseconds; injectable for tests. */
  readonly clock?: () => number;
}

interface Waiting {
  readonly product: Product;
  readonly deadline: number;
  resolve(row: CreatedRow | null): void;
  reject(err: unknown): void;
}

export class InsertGroups {
  readonly #o: Required<InsertGroupsOptions>;
  #queue: Waiting[] = [];
  #inFlight = 0;
  #statements = 0;

  constructor(options: InsertGroupsOptions) {
    this.#o = { maxInFlight: 2, maxRows: 1000, clock: () => performance.now(), ...options };
    for (const [name, value] of [
      ['maxInFlight', this.#o.maxInFlight],
      ['maxRows', this.#o.maxRows],
      ['timeoutMs', this.#o.timeoutMs],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
  }

  /** Statements sent so far (a group, or one insert of a refused group, each). */
  get statements(): number {
    return this.#statements;
  }

  /** Resolves with the created row, or null when the id exists. */
  insert(product: Product): Promise<CreatedRow | null> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ product, deadline: this.#o.clock() + this.#o.timeoutMs, resolve, reject });
      this.#send();
    });
  }

  #send(): void {
    while (this.#inFlight < this.#o.maxInFlight && this.#queue.length > 0) {
      const group = this.#queue.splice(0, this.#o.maxRows).filter((w) => this.#inTime(w));
      if (group.length === 0) continue;
      this.#inFlight++;
      void this.#run(group).finally(() => {
        this.#inFlight--;
        this.#send();
      });
    }
  }

  /** False (and the insert failed, never sent) once its deadline has passed. */
  #inTime(w: Waiting): boolean {
    if (this.#o.clock() < w.deadline) return true;
    w.reject(new DatabaseUnavailableError(`the insert waited ${this.#o.timeoutMs} ms for the database without being sent`));
    return false;
  }

  async #run(group: readonly Waiting[]): Promise<void> {
    try {
      const rows = await this.#statement(group);
      group.forEach((w, i) => w.resolve(rows[i]!));
    } catch (err) {
      if (group.length === 1 || !this.#o.isRefusal(err)) {
        for (const w of group) w.reject(err);
        return;
      }
      // The statement rolled back as a whole: find the refused row by sending each alone, in order.
      for (const w of group) {
        if (!this.#inTime(w)) continue;
        try {
          w.resolve((await this.#statement([w]))[0]!);
        } catch (single) {
          w.reject(single);
        }
      }
    }
  }

  /** One insertMany within the oldest member's remaining budget; one entry per insert, in order (null: the id exists). */
  async #statement(group: readonly Waiting[]): Promise<(CreatedRow | null)[]> {
    this.#statements++;
    const products = group.map((w) => w.product);
    const budgetMs = Math.max(1, Math.ceil(Math.min(...group.map((w) => w.deadline)) - this.#o.clock()));
    const { created } = await this.#o.insertMany(products, budgetMs);
    // insertMany reports a later duplicate in the batch as a conflict, and `created` in batch order.
    const byId = new Map(created.map((row) => [row.id, row]));
    return products.map((p) => {
      const row = byId.get(p.id);
      if (row === undefined) return null;
      byId.delete(p.id); // the first of two same ids got the row; the second is the conflict
      return row;
    });
  }
}
