import { describe, expect, it } from 'vitest';
import { RecentDeletes } from '../../src/cluster/recent-deletes.js';

describe('RecentDeletes', () => {
  it('distrusts a cached product of a deleted id for holdMs, then trusts it again', () => {
    let now = 1_000;
    const deletes = new RecentDeletes({ holdMs: 100, clock: () => now });
    deletes.noteDeleted(['a']);
    expect(deletes.trustsProduct('a')).toBe(false);
    expect(deletes.trustsProduct('b')).toBe(true);
    now = 1_099;
    expect(deletes.trustsProduct('a')).toBe(false);
    now = 1_100;
    expect(deletes.trustsProduct('a')).toBe(true);
    deletes.noteDeleted(['c']); // expires 'a' from the set
    expect(deletes.size).toBe(1);
  });

  it('a later create of the id ends the distrust (its product replaced the old one)', () => {
    const deletes = new RecentDeletes({ holdMs: 100, clock: () => 0 });
    deletes.noteDeleted(['a', 'b']);
    deletes.noteCreated(['a']);
    expect(deletes.trustsProduct('a')).toBe(true);
    expect(deletes.trustsProduct('b')).toBe(false);
  });

  it('past maxIds forgets the ids and trusts no cached product for holdMs', () => {
    let now = 0;
    const deletes = new RecentDeletes({ holdMs: 100, clock: () => now, maxIds: 2 });
    deletes.noteDeleted(['a', 'b', 'c']);
    expect(deletes.size).toBe(0);
    expect(deletes.trustsProduct('z')).toBe(false);
    now = 100;
    expect(deletes.trustsProduct('z')).toBe(true);
  });
});
