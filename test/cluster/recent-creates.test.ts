import { describe, expect, it } from 'vitest';
import { RecentCreates } from '../../src/cluster/recent-creates.js';

/** A RecentCreates on a manual clock, with a lease the test opens and closes. */
function setup(holdMs = 1_000) {
  let now = 0;
  let mayReject = true;
  let registrations = 1;
  const recent = new RecentCreates({ holdMs, mayReject: () => mayReject, registrations: () => registrations, clock: () => now, maxIds: 3 });
  return {
    recent,
    advance: (ms: number) => void (now += ms),
    failOpen: (v: boolean) => void (mayReject = !v),
    reregister: () => void registrations++,
  };
}

describe('RecentCreates (which negative markers an instance may trust)', () => {
  it('trusts no marker during the first hold after start: the instance was failing open before', () => {
    const t = setup();
    expect(t.recent.trustsNegative('x')).toBe(false);
    t.advance(999);
    expect(t.recent.trustsNegative('x')).toBe(false);
    t.advance(1);
    expect(t.recent.trustsNegative('x')).toBe(true);
  });

  it('distrusts a marker for an id whose create it applied, for holdMs after the apply', () => {
    const t = setup();
    t.advance(1_000);
    t.recent.noteCreated(['made-on-b']);
    t.advance(999);
    // Without the rule, another instance's marker written before the create would be served after its 201.
    expect(t.recent.trustsNegative('made-on-b')).toBe(false);
    expect(t.recent.trustsNegative('other')).toBe(true);
    t.advance(1);
    expect(t.recent.trustsNegative('made-on-b')).toBe(true);
    expect(t.recent.size).toBe(1); // expired entries go at the next noteCreated
    t.recent.noteCreated(['y']);
    expect(t.recent.size).toBe(1);
  });

  it('trusts no marker while failing open, nor for holdMs after (creates acknowledged meanwhile did not wait for it)', () => {
    const t = setup();
    t.advance(1_000);
    t.failOpen(true);
    expect(t.recent.trustsNegative('x')).toBe(false);
    t.advance(5_000);
    t.recent.observe(); // the last lookup that saw it failing open
    t.failOpen(false);
    t.advance(999);
    expect(t.recent.trustsNegative('x')).toBe(false);
    t.advance(1);
    expect(t.recent.trustsNegative('x')).toBe(true);
  });

  it('counts a lease re-registration as a fail-open period even when no poll saw it', () => {
    const t = setup();
    t.advance(1_000);
    expect(t.recent.trustsNegative('x')).toBe(true);
    t.reregister(); // the lease lapsed and came back between two lookups
    expect(t.recent.trustsNegative('x')).toBe(false);
    t.advance(1_000);
    expect(t.recent.trustsNegative('x')).toBe(true);
  });

  it('past its bound it forgets the ids but then trusts no marker for a whole hold', () => {
    const t = setup();
    t.advance(1_000);
    t.recent.noteCreated(['a', 'b', 'c', 'd']);
    expect(t.recent.size).toBe(0);
    expect(t.recent.trustsNegative('a')).toBe(false);
    expect(t.recent.trustsNegative('unrelated')).toBe(false);
    t.advance(1_000);
    expect(t.recent.trustsNegative('a')).toBe(true);
  });
});
