import { describe, expect, it } from 'vitest';
import { filterGauges } from '../../src/filter/filter-gauges.js';
import { estimateFpr } from '../../src/filter/sizing.js';
import { createFilter, sku } from '../helpers/filter-fixtures.js';

describe('filterGauges', () => {
  it('reports an empty filter as empty', () => {
    const filter = createFilter(1000);
    expect(filterGauges(filter)).toMatchObject({ items: 0, capacity: 1000, fillRatio: 0, estimatedFpr: 0, targetFpr: 0.01, staleItems: 0 });
  });

  it('follows the items added: fill ratio from the bits, estimated FPR from the count', () => {
    const filter = createFilter(1000);
    for (let i = 0; i < 500; i++) filter.add(sku(i));
    filter.setItems(500);
    const g = filterGauges(filter);
    const p = filter.layout.params;
    expect(g).toMatchObject({ items: 500, capacity: 1000, bits: p.totalBits, targetFpr: 0.01 });
    expect(g.fillRatio).toBe(filter.countSetBits() / p.totalBits);
    expect(g.fillRatio).toBeGreaterThan(0);
    expect(g.estimatedFpr).toBe(estimateFpr(p.totalBits, p.hashes, 500));
  });
});
