import { describe, expect, it } from 'vitest';
import { ObservedFpr } from '../../src/metrics/observed-fpr.js';

function setup(windowS = 60) {
  const totals = { falsePositives: 0, rejections: 0 };
  let now = 1_000_000;
  const fpr = new ObservedFpr({ read: () => ({ ...totals }), windowS, now: () => now });
  return { totals, fpr, advance: (ms: number) => (now += ms) };
}

describe('ObservedFpr', () => {
  it('has no rate before any absent-id lookup', () => {
    const { fpr } = setup();
    expect(fpr.window()).toEqual({ falsePositives: 0, rejections: 0, rate: null });
    expect(fpr.total().rate).toBeNull();
  });

  it('is false positives / (false positives + rejections), in the window and in total', () => {
    const { totals, fpr } = setup();
    totals.falsePositives = 3;
    totals.rejections = 97;
    expect(fpr.window()).toEqual({ falsePositives: 3, rejections: 97, rate: 0.03 });
    expect(fpr.total().rate).toBe(0.03);
  });

  it('forgets what is older than the window, but not the total', () => {
    const { totals, fpr, advance } = setup(60);
    totals.falsePositives = 10;
    totals.rejections = 10;
    fpr.sample();
    advance(30_000);
    totals.rejections = 110; // 100 more rejections 30 s later
    fpr.sample();
    expect(fpr.window().rate).toBeCloseTo(10 / 120, 12);
    advance(31_000); // the first second left the window
    expect(fpr.window()).toEqual({ falsePositives: 0, rejections: 100, rate: 0 });
    expect(fpr.total().rate).toBeCloseTo(10 / 120, 12);
    advance(60_000);
    expect(fpr.window().rate).toBeNull();
  });

  it('files events between samples under the second they were sampled in, even after a long idle gap', () => {
    const { totals, fpr, advance } = setup(5);
    advance(3_600_000);
    totals.falsePositives = 1;
    totals.rejections = 1;
    expect(fpr.window().rate).toBe(0.5);
  });

  it('resetWindow starts the window over (after a filter swap)', () => {
    const { totals, fpr } = setup();
    totals.falsePositives = 50;
    totals.rejections = 50;
    fpr.sample();
    fpr.resetWindow();
    expect(fpr.window().rate).toBeNull();
    totals.rejections = 60;
    expect(fpr.window()).toEqual({ falsePositives: 0, rejections: 10, rate: 0 });
  });

  it('validates windowS', () => {
    expect(() => new ObservedFpr({ read: () => ({ falsePositives: 0, rejections: 0 }), windowS: 0 })).toThrow('options.windowS must be a positive integer');
  });
});
