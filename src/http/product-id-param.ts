/**
 * Turning the raw `{id}` path segment into a product id. uWS hands the segment
 * over still percent-encoded; the common case (no '%') costs one indexOf.
 */
import { InvalidIdError } from '../errors.js';
import { MAX_ID_BYTES, idProblem } from '../product.js';

export function decodeIdParam(raw: string): string {
  let id = raw;
  if (raw.indexOf('%') !== -1) {
    try {
      id = decodeURIComponent(raw);
    } catch {
      throw new InvalidIdError('id is not valid percent-encoded UTF-8');
    }
  }
  // More UTF-16 units than bytes allowed means too long, whatever the encoding.
  if (id.length > MAX_ID_BYTES) throw new InvalidIdError(`id must be at most ${MAX_ID_BYTES} bytes of UTF-8`);
  if (isPrintableAscii(id)) return id; // the common case, without the regexes below
  const problem = idProblem(id);
  if (problem !== null) throw new InvalidIdError(problem);
  return id;
}

/** Non-empty and only U+0020..U+007E: valid by construction (1 byte per character, no controls). */
function isPrintableAscii(id: string): boolean {
  if (id.length === 0) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}
