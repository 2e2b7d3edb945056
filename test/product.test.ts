/** The one product rule: ids by UTF-8 bytes and characters; every problem named by field, batch positions prefixed. */
import { describe, expect, it } from 'vitest';
import { MAX_ID_BYTES, idProblem, productProblems, toProduct } from '../src/product.js';

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

  it('refuses U+0000 in a name (PostgreSQL cannot store it in text), other characters pass', () => {
    expect(productProblems({ id: 'p', name: 'a\u0000b', price: 1 })).toEqual(['name contains control character U+0000 at index 1']);
    expect(productProblems({ id: 'p', name: '\u0000', price: 1 }, 'products[2].')).toEqual(['products[2].name contains control character U+0000 at index 0']);
    expect(productProblems({ id: 'p', name: 'tab\there \u0085 é', price: 1 })).toEqual([]);
  });

  it('prefixes each problem with the batch position', () => {
    expect(productProblems({ id: 'x'.repeat(300), name: 'n', price: 1 }, 'products[1].')).toEqual([
      'products[1].id is 300 bytes in UTF-8; the limit is 256',
    ]);
    expect(productProblems('nope', 'products[2].')).toEqual(['products[2]. must be an object with id, name and price']);
  });
});

describe('idProblem', () => {
  it('accepts ordinary ids', () => {
    for (const id of ['SKU-00000042', 'a', 'ünïcödé', 'x y', '日本語', '🎉']) expect(idProblem(id)).toBeNull();
  });

  it('rejects the empty id', () => {
    expect(idProblem('')).toBe('id is empty');
  });

  it('measures length in UTF-8 bytes: 256 bytes of multi-byte characters pass, 257 do not', () => {
    expect(MAX_ID_BYTES).toBe(256);
    const twoByte = 'é'.repeat(128); // 128 characters, 256 bytes
    expect(Buffer.byteLength(twoByte)).toBe(256);
    expect(idProblem(twoByte)).toBeNull();
    const fourByte = '🎉'.repeat(64); // 256 bytes
    expect(idProblem(fourByte)).toBeNull();
    expect(idProblem(`${twoByte}a`)).toBe('id is 257 bytes in UTF-8; the limit is 256');
    expect(idProblem('a'.repeat(256))).toBeNull();
    expect(idProblem('a'.repeat(257))).toBe('id is 257 bytes in UTF-8; the limit is 256');
    // 86 characters could be 258 bytes: the cheap bound must not wave it through.
    expect(idProblem('€'.repeat(86))).toBe('id is 258 bytes in UTF-8; the limit is 256');
  });

  it('rejects C0 controls, DEL and C1 controls, naming the character and index', () => {
    expect(idProblem('\u0000')).toBe('id contains control character U+0000 at index 0');
    expect(idProblem('a\tb')).toBe('id contains control character U+0009 at index 1');
    expect(idProblem('ab\n')).toBe('id contains control character U+000A at index 2');
    expect(idProblem('x\u001f')).toBe('id contains control character U+001F at index 1');
    expect(idProblem('x\u007f')).toBe('id contains control character U+007F at index 1');
    expect(idProblem('x\u0085')).toBe('id contains control character U+0085 at index 1');
    expect(idProblem('x\u009f')).toBe('id contains control character U+009F at index 1');
    expect(idProblem('x\u00a0')).toBeNull(); // NBSP is not a control character
    expect(idProblem(' ')).toBeNull();
  });

  it('rejects lone surrogates but accepts surrogate pairs', () => {
    expect(idProblem('a\ud800')).toBe('id contains a lone surrogate U+D800 at index 1');
    expect(idProblem('\udc00b')).toBe('id contains a lone surrogate U+DC00 at index 0');
    expect(idProblem('\ud800x\udc00')).toBe('id contains a lone surrogate U+D800 at index 0');
    expect(idProblem('\ud83c\udf89')).toBeNull();
  });
});
