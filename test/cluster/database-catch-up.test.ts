import { describe, expect, it } from 'vitest';
import { DatabaseCatchUp, type CatchUpSource } from '../../src/cluster/database-catch-up.js';

/**
 * A database with PostgreSQL's ordering: positions are transaction ids handed
 * out at begin; a transaction becomes visible when it commits, in any order.
 */
class FakeDatabase implements CatchUpSource {
  #next = 1;
  readonly #rows = new Map<number, { id: string; committed: boolean }>();
  onQuery: (() => void) | undefined;

  begin(id: string): number {
    const position = this.#next++;
    this.#rows.set(position, { id, committed: false });
    return position;
  }

  commit(position: number): void {
    const row = this.#rows.get(position);
    if (row !== undefined) row.committed = true;
  }

  async horizon(): Promise<number> {
    let oldest = this.#next;
    for (const [position, row] of this.#rows) if (!row.committed && position < oldest) oldest = position;
    return oldest;
  }

  async *idsFrom(from: number, pageSize: number): AsyncIterable<readonly string[]> {
    this.onQuery?.();
    const visible = [...this.#rows].filter(([p, r]) => r.committed && p >= from).sort((a, b) => a[0] - b[0]);
    for (let i = 0; i < visible.length; i += pageSize) yield visible.slice(i, i + pageSize).map(([, r]) => r.id);
  }
}

describe('DatabaseCatchUp', () => {
  it('adds every committed row in pages and moves the watermark to the horizon', async () => {
    const db = new FakeDatabase();
    for (let i = 0; i < 5; i++) db.commit(db.begin(`a${i}`));
    const filter = new Set<string>();
    const catchUp = new DatabaseCatchUp({ source: db, from: 0, pageSize: 2, add: (ids) => ids.forEach((id) => filter.add(id)) });
    expect(await catchUp.run()).toEqual({ added: 5, watermark: 6 });
    db.commit(db.begin('b'));
    expect(await catchUp.run()).toEqual({ added: 1, watermark: 7 });
    expect([...filter].sort()).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b']);
  });

  it('finds a row with a smaller position that commits after a later row was caught up', async () => {
    const db = new FakeDatabase();
    const slow = db.begin('slow'); // position 1, still in progress
    db.commit(db.begin('fast')); // position 2, committed
    const filter = new Set<string>();
    const catchUp = new DatabaseCatchUp({ source: db, from: 0, add: (ids) => ids.forEach((id) => filter.add(id)) });
    const first = await catchUp.run();
    expect(filter.has('fast')).toBe(true);
    // Without "horizon before the query" the watermark would be 3 and 'slow' lost.
    expect(first.watermark).toBe(1);
    db.commit(slow);
    await catchUp.run();
    expect(filter.has('slow')).toBe(true);
  });

  it('a row committing while the query runs is covered by the next run', async () => {
    const db = new FakeDatabase();
    const racing = db.begin('racing');
    const filter = new Set<string>();
    const catchUp = new DatabaseCatchUp({ source: db, from: 0, add: (ids) => ids.forEach((id) => filter.add(id)) });
    db.onQuery = () => {
      db.commit(racing); // commits after the horizon read, before the query's snapshot
      db.onQuery = undefined;
    };
    await catchUp.run();
    await catchUp.run();
    expect(filter.has('racing')).toBe(true);
  });

  it('a run asked for during another run starts after the request', async () => {
    const db = new FakeDatabase();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const filter = new Set<string>();
    const catchUp = new DatabaseCatchUp({
      source: db,
      from: 0,
      add: async (ids) => {
        await gate;
        ids.forEach((id) => filter.add(id));
      },
    });
    db.commit(db.begin('before'));
    const first = catchUp.run();
    await Promise.resolve();
    db.commit(db.begin('during')); // committed after the first run's query began
    const second = catchUp.run();
    const third = catchUp.run();
    release();
    await first;
    expect(await second).toBe(await third); // one follow-up for both
    expect(filter.has('during')).toBe(true);
    expect(catchUp.runs).toBe(2);
  });

  it('rejects a bad page size by name', () => {
    const db = new FakeDatabase();
    expect(() => new DatabaseCatchUp({ source: db, from: 0, pageSize: 0, add: () => {} })).toThrow('options.pageSize must be a positive integer, got 0');
  });
});
