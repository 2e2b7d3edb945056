import { describe, expect, it } from 'vitest';
import { compareStreamIds, maxStreamId, parseStreamId, streamIdAtLeast } from '../../src/cluster/stream-id.js';

describe('stream ids', () => {
  it('compare as (ms, seq) pairs, not as strings', () => {
    expect('10-0' < '9-5').toBe(true); // the trap
    expect(compareStreamIds('9-5', '10-0')).toBe(-1);
    expect(compareStreamIds('10-0', '9-5')).toBe(1);
    expect(compareStreamIds('7-2', '7-10')).toBe(-1);
    expect(compareStreamIds('7-10', '7-10')).toBe(0);
    expect(streamIdAtLeast('7-10', '7-9')).toBe(true);
    expect(maxStreamId('1700000000000-2', '999999999999-99')).toBe('1700000000000-2');
  });

  it('keep 64-bit sequence numbers exact', () => {
    expect(compareStreamIds('1-18446744073709551615', '1-18446744073709551614')).toBe(1);
    expect(parseStreamId('5-18446744073709551615').seq).toBe(18446744073709551615n);
  });

  it('refuse what is not a stream id', () => {
    expect(() => parseStreamId('$')).toThrow('stream id must look like <ms>-<seq>, got "$"');
    expect(() => parseStreamId('12')).toThrow(RangeError);
  });
});
