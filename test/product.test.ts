/** The one product rule: every problem named by field, batch positions prefixed. */
import { describe, expect, it } from 'vitest';
import { productProblems, toProduct } from '../src/product.js';

describe('productProblems', () => {
  it('accepts a product and keeps only its own fields', () => {
    expect(productProblems({ id: 'SKU-1', name: 'Lamp', price: 0 })).toEqual([]);
    expect(toProduct({ id: 'SKU-1', name: 'Lamp', price: 9.5, extra: true } as { id: string; name: string; price: number })).toEqual({
      id: 'SKU-1',
      name: 'Lamp',
      price: 9.5,
    });
  });

  it('names every bad field in one answer', () => {
    expect(productProblems({ id: '', price: -1 })).toEqual(['id is empty', 'name must be a non-empty string', 'price must be a number >= 0']);
    expect(productProblems({ id: 5, name: 'x'.repeat(1025), price: 1 })).toEqual(['id must be a string', 'name must be at most 1024 characters']);
    expect(productProblems(null)).toEqual(['body must be an object with id, name and price']);
    expect(productProblems([])).toEqual(['body must be an object with id, name and price']);
  });

  it('refuses prices a database cannot store (NaN, Infinity) and ids with control characters', () => {
    expect(productProblems({ id: 'p', name: 'n', price: Number.NaN })).toEqual(['price must be a number >= 0']);
    expect(productProblems({ id: 'p', name: 'n', price: Number.POSITIVE_INFINITY })).toEqual(['price must be a number >= 0']);
    expect(productProblems({ id: 'a\nb', name: 'n', price: 1 })).toEqual(['id contains control character U+000A at index 1']);
  });

  it('prefixes each problem with the batch position', () => {
    expect(productProblems({ id: 'x'.repeat(300), name: 'n', price: 1 }, 'products[1].')).toEqual([
      'products[1].id is 300 bytes in UTF-8; the limit is 256',
    ]);
    expect(productProblems('nope', 'products[2].')).toEqual(['products[2]. must be an object with id, name and price']);
  });
});
