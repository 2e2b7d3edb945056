/**
 * Ids deleted by this process whose cached product may still be in Redis: the
 * delete overwrites it with a negative marker, but that write can fail while
 * Redis is away. Until it succeeds, a lookup that meets a cached product for
 * one of these ids ignores it and asks the database, so a deleted product is
 * never served from a stale cache entry.
 *
 * @example
 *   deletes.track(id);
 *   cache.markAbsent(id).then(() => deletes.confirm(id), () => undefined);
 */
export class UnconfirmedDeletes {
  readonly #pending = new Set<string>();

  track(id: string): void {
    this.#pending.add(id);
  }

  confirm(id: string): void {
    this.#pending.delete(id);
  }

  has(id: string): boolean {
    return this.#pending.has(id);
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Ids whose marker write must be retried (Redis came back). */
  pending(): string[] {
    return [...this.#pending];
  }
}
