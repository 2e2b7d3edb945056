import { describe, expect, it } from 'vitest';
import { Watermark } from '../../src/persistence/watermark.js';

describe('Watermark', () => {
  it('follows rows applied synchronously', () => {
    const w = new Watermark(10);
    w.applied(11);
    w.applied(12);
    expect(w.value).toBe(12);
  });

  it('stays below a batch whose filter adds are still running, whatever completes after it', () => {
    const w = new Watermark(100);
    const batch = w.beginPending(101, 200);
    w.applied(201);
    w.applied(202);
    expect(w.value).toBe(100);
    const second = w.beginPending(203, 210);
    w.endPending(batch);
    expect(w.value).toBe(202);
    w.endPending(second);
    expect(w.value).toBe(210);
  });

  it('resets after a full load', () => {
    const w = new Watermark(0);
    w.beginPending(1, 5);
    w.reset(500);
    expect(w.value).toBe(500);
    expect(w.pendingRanges).toBe(0);
  });
});
