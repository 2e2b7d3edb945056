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
 * wins, as it would have by arriving first). A group that fails because the
 * database is unavailable fails every insert in it (each may have committed:
 * the caller treats it as uncertain, as it would a lone insert). A group that
 * fails for any other reason is retried one insert at a time, so one row the
 * database refuses never fails the others.
 *
 * @example
 *   const groups = new InsertGroups({ insertMany: (products) => store.insertMany(products) });
 *   await Promise.all([groups.insert(a), groups.insert(b)]); // [{ id: 'a', position }, { id: 'b', position }]
 */
import { DatabaseUnavailableError } from '../errors.js';
import type { BatchInsertResult, CreatedRow, Product } from './product-store.js';

export interface InsertGroupsOptions {
  /** One statement, one transaction: all of `products` commit together or none does. */
  readonly insertMany: (products: readonly Product[]) => Promise<BatchInsertResult>;
  /**
   * Statements in flight at once (default 2: one can be on the wire while the
   * other waits for its commit's flush).
   */
  readonly maxInFlight?: number;
  /** Largest group (default 1000, the batch API's limit). */
  readonly maxRows?: number;
}

interface Waiting {
  readonly product: Product;
  resolve(row: CreatedRow | null): void;
  reject(err: unknown): void;
}

export class InsertGroups {
  readonly #insertMany: (products: readonly Product[]) => Promise<BatchInsertResult>;
  readonly #maxInFlight: number;
  readonly #maxRows: number;
  #queue: Waiting[] = [];
  #inFlight = 0;
  /** Statements sent (a group or a lone insert each), for tests and the bench. */
  statements = 0;

  constructor(options: InsertGroupsOptions) {
    const maxInFlight = options.maxInFlight ?? 2;
    const maxRows = options.maxRows ?? 1000;
    if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${maxInFlight}`);
    if (!Number.isSafeInteger(maxRows) || maxRows < 1) throw new RangeError(`maxRows must be a positive integer, got ${maxRows}`);
    this.#insertMany = options.insertMany;
    this.#maxInFlight = maxInFlight;
    this.#maxRows = maxRows;
  }

  /** Resolves with the created row, or null when the id exists. */
  insert(product: Product): Promise<CreatedRow | null> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ product, resolve, reject });
      this.#send();
    });
  }

  #send(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const group = this.#queue.splice(0, this.#maxRows);
      this.#inFlight++;
      void this.#run(group).finally(() => {
        this.#inFlight--;
        this.#send();
      });
    }
  }

  async #run(group: readonly Waiting[]): Promise<void> {
    try {
      const rows = await this.#statement(group.map((w) => w.product));
      group.forEach((w, i) => w.resolve(rows[i]!));
    } catch (err) {
      if (group.length === 1 || err instanceof DatabaseUnavailableError) {
        for (const w of group) w.reject(err);
        return;
      }
      // A refusal of one row fails the whole statement: find it by sending each alone.
      await Promise.all(
        group.map((w) =>
          this.#statement([w.product]).then(
            (rows) => w.resolve(rows[0]!),
            (single: unknown) => w.reject(single),
          ),
        ),
      );
    }
  }

  /** One insertMany, its result as one entry per product in order (null: the id exists). */
  async #statement(products: readonly Product[]): Promise<(CreatedRow | null)[]> {
    this.statements++;
    const { created } = await this.#insertMany(products);
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
