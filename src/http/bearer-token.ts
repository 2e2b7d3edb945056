/**
 * The one rule for `Authorization: Bearer <token>`, shared by admin and write
 * authentication (src/http/admin-auth.ts, src/http/write-auth.ts).
 *
 * The comparison is constant-time: both tokens are hashed with SHA-256 first,
 * so crypto.timingSafeEqual always compares 32 bytes and neither the position
 * of the first wrong byte nor the token's length shows in the timing.
 *
 * @example
 *   const token = new BearerToken('a-long-enough-token');
 *   token.verdict('Bearer a-long-enough-token'); // 'ok'
 *   token.verdict('');                           // 'missing'
 *   token.verdict('Bearer other');               // 'wrong'
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** `missing`: no bearer credentials (no header, another scheme, empty token); `wrong`: another token. */
export type BearerVerdict = 'ok' | 'missing' | 'wrong';

const BEARER = /^Bearer +(\S+) *$/i;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export class BearerToken {
  readonly #digest: Buffer;

  constructor(token: string) {
    this.#digest = digest(token);
  }

  /** `authorization` is the header's value ('' when absent), copied from the request. */
  verdict(authorization: string): BearerVerdict {
    const match = BEARER.exec(authorization);
    if (match === null) return 'missing';
    return timingSafeEqual(digest(match[1]!), this.#digest) ? 'ok' : 'wrong';
  }
}
