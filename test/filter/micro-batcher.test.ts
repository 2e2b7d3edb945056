import { describe, expect, it } from 'vitest';
import { forEachPackedId, packedCount } from '../../src/filter/id-batch.js';
import { MicroBatcher } from '../../src/filter/micro-batcher.js';

describe('MicroBatcher', () => {
  it('sends every id asked for in one turn as one packed task, answering each in order', async () => {
    const batches: string[][] = [];
    const batcher = new MicroBatcher(async (packed) => {
      const ids: string[] = [];
      forEachPackedId(packed, (bytes, offset, length) => ids.push(Buffer.from(bytes.subarray(offset, offset + length)).toString('utf8')));
      batches.push(ids);
      return Uint8Array.from(ids, (id) => (id.startsWith('yes') ? 1 : 0));
    });
    const answers = await Promise.all(['yes-1', 'no-1', 'yes-é', 'no-2'].map((id) => batcher.check(id)));
    expect(answers).toEqual([true, false, true, false]);
    expect(batches).toEqual([['yes-1', 'no-1', 'yes-é', 'no-2']]);
    // A later turn is a new batch.
    expect(await batcher.check('yes-again')).toBe(true);
    expect(batches).toHaveLength(2);
  });

  it('flushes early at the batch limit and rejects every waiter of a failed task', async () => {
    const sizes: number[] = [];
    const batcher = new MicroBatcher(async (packed) => {
      sizes.push(packedCount(packed));
      throw new Error('pool closed');
    }, 3);
    const results = await Promise.allSettled(['a', 'b', 'c', 'd'].map((id) => batcher.check(id)));
    expect(sizes).toEqual([3, 1]);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
  });
});
