import { describe, expect, it } from 'vitest';
import { Watermark } from '../../src/persistence/watermark.js';

describe('Watermark', () => {
  it('takes an offered horizon at once when no write is in flight', () => {
    const w = new Watermark(10);
    w.offer(15);
    expect(w.value).toBe(15);
  });

  it('holds a horizon back until every write in flight when it arrived has ended (its row may be below it, not yet in the filter)', () => {
    const w = new Watermark(0);
    const a = w.begin(); // sent; may commit at any position below the next horizon
    w.offer(50);
    expect(w.value).toBe(0);
    w.end(a); // its ids are in the filter now
    expect(w.value).toBe(50);
  });

  it('does not wait for writes begun after the horizon arrived (their rows are at or above it)', () => {
    const w = new Watermark(0);
    const before = w.begin();
    w.offer(50);
    const after = w.begin();
    w.end(before);
    expect(w.value).toBe(50);
    w.end(after);
    expect(w.value).toBe(50);
  });

  it('uses the greatest usable candidate, however candidates and ends interleave, and never goes back', () => {
    const w = new Watermark(0);
    const t1 = w.begin();
    w.offer(20); // waits for t1
    const t2 = w.begin();
    w.offer(30); // waits for t1, t2
    w.end(t2);
    expect(w.value).toBe(0); // t1 still holds both
    w.end(t1);
    expect(w.value).toBe(30);
    w.offer(25); // an older read arriving late
    expect(w.value).toBe(30);
  });

  it('counts writes in flight; ending twice is harmless', () => {
    const w = new Watermark(0);
    const t = w.begin();
    expect(w.inFlight).toBe(1);
    w.end(t);
    w.end(t);
    expect(w.inFlight).toBe(0);
  });

  it('resets after the start-up load to the horizon read before it', () => {
    const w = new Watermark(0);
    w.offer(5);
    const t = w.begin();
    w.offer(9);
    w.reset(500);
    expect(w.value).toBe(500);
    w.end(t);
    expect(w.value).toBe(500);
  });

  it('tells when every write begun so far has ended, whatever begins after', async () => {
    const w = new Watermark(0);
    await w.writesEnded(); // none in flight
    const a = w.begin();
    let ended = false;
    const waiting = w.writesEnded().then(() => void (ended = true));
    const later = w.begin();
    await Promise.resolve();
    expect(ended).toBe(false);
    w.end(a);
    await waiting;
    expect(ended).toBe(true);
    w.end(later);
  });
});
