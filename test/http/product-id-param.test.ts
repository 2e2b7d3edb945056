import { describe, expect, it } from 'vitest';
import { InvalidIdError } from '../../src/errors.js';
import { decodeIdParam } from '../../src/http/product-id-param.js';

describe('decodeIdParam', () => {
  it.each([
    ['SKU-00000001', 'SKU-00000001'],
    ['a%2Fb', 'a/b'],
    ['%C3%A9t%C3%A9', 'été'],
    ['with%20space', 'with space'],
    ['x'.repeat(256), 'x'.repeat(256)],
  ])('decodes %s', (raw, id) => {
    expect(decodeIdParam(raw)).toBe(id);
  });

  it.each([
    ['', 'id is empty'],
    ['%ZZ', 'id is not valid percent-encoded UTF-8'],
    ['%C3', 'id is not valid percent-encoded UTF-8'],
    ['a%00b', 'id contains control character U+0000 at index 1'],
    ['a%7F', 'id contains control character U+007F at index 1'],
    ['a%C2%85', 'id contains control character U+0085 at index 1'],
    ['x'.repeat(257), 'id must be at most 256 bytes of UTF-8'],
    ['%C3%A9'.repeat(129), 'id is 258 bytes in UTF-8; the limit is 256'],
  ])('refuses %s with a clear message', (raw, message) => {
    expect(() => decodeIdParam(raw)).toThrow(InvalidIdError);
    expect(() => decodeIdParam(raw)).toThrow(message);
  });
});
