/**
 * Redis Stream entry ids ("<ms>-<seq>"). They are NOT comparable as strings
 * ("10-0" < "9-0" lexically) nor safely as one float (seq is a 64-bit counter):
 * they compare as (ms, seq) pairs of unsigned integers.
 *
 * @example
 *   compareStreamIds('9-5', '10-0');  // -1
 *   streamIdAtLeast('10-0', '9-5');   // true
 */

/** The id below every real entry: reading "after" it reads the whole stream. */
export const STREAM_START = '0-0';

/** The id above every entry: the applied position a graceful leave records, so writers stop waiting for it at once. */
export const STREAM_END = '18446744073709551615-18446744073709551615';

const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;

export interface ParsedStreamId {
  readonly ms: bigint;
  readonly seq: bigint;
}

export function parseStreamId(id: string): ParsedStreamId {
  const match = STREAM_ID.exec(id);
  if (match?.[1] === undefined || match[2] === undefined) throw new RangeError(`stream id must look like <ms>-<seq>, got ${JSON.stringify(id)}`);
  return { ms: BigInt(match[1]), seq: BigInt(match[2]) };
}

/** -1, 0 or 1 as `a` is before, equal to or after `b` in stream order. */
export function compareStreamIds(a: string, b: string): -1 | 0 | 1 {
  const x = parseStreamId(a);
  const y = parseStreamId(b);
  if (x.ms !== y.ms) return x.ms < y.ms ? -1 : 1;
  if (x.seq !== y.seq) return x.seq < y.seq ? -1 : 1;
  return 0;
}

export function streamIdAtLeast(a: string, b: string): boolean {
  return compareStreamIds(a, b) >= 0;
}

export function maxStreamId(a: string, b: string): string {
  return compareStreamIds(a, b) >= 0 ? a : b;
}
