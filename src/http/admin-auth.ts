/**
 * Admin authentication: `Authorization: Bearer <ADMIN_TOKEN>` on `/admin/*`
 * and DELETE. Without a configured token those routes are disabled (403).
 *
 * The comparison is constant-time: both tokens are hashed with SHA-256 first,
 * so crypto.timingSafeEqual always compares 32 bytes and neither the position
 * of the first wrong byte nor the token's length shows in the timing.
 *
 * @example
 *   const auth = new AdminAuth(config.adminToken);
 *   auth.check(req.getHeader('authorization')); // throws AdminDisabledError (403) or UnauthorizedError (401)
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { AdminDisabledError, UnauthorizedError } from '../errors.js';

const BEARER = /^Bearer +(\S+) *$/i;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export class AdminAuth {
  readonly #digest: Buffer | undefined;

  constructor(token: string | undefined) {
    this.#digest = token === undefined ? undefined : digest(token);
  }

  /** `authorization` is the header's value ('' when absent), copied from the request. */
  check(authorization: string): void {
    if (this.#digest === undefined) throw new AdminDisabledError();
    const match = BEARER.exec(authorization);
    if (match === null) throw new UnauthorizedError();
    if (!timingSafeEqual(digest(match[1]!), this.#digest)) throw new UnauthorizedError();
  }
}
