/**
 * Write authentication: `Authorization: Bearer <WRITE_TOKEN>` on the routes
 * whose row says `auth: 'write'` (creates, and updates once they exist). 401
 * without bearer credentials, 403 with another token. Without a configured
 * token writes stay open, as before WRITE_TOKEN existed; `createWriteAuth`
 * warns once about that at start. The bearer rule itself is BearerToken's.
 *
 * @example
 *   const auth = createWriteAuth(config.writeToken, logger);
 *   auth.check(req.getHeader('authorization')); // throws WriteUnauthorizedError (401) or WriteForbiddenError (403)
 */
import { WriteForbiddenError, WriteUnauthorizedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { BearerToken } from './bearer-token.js';

export const WRITE_TOKEN_UNSET_WARNING = 'WRITE_TOKEN is unset: anyone who can reach the port can create products';

export class WriteAuth {
  readonly #token: BearerToken | undefined;

  constructor(token: string | undefined) {
    this.#token = token === undefined ? undefined : new BearerToken(token);
  }

  /** `authorization` is the header's value ('' when absent), copied from the request. */
  check(authorization: string): void {
    if (this.#token === undefined) return;
    const verdict = this.#token.verdict(authorization);
    if (verdict === 'missing') throw new WriteUnauthorizedError();
    if (verdict === 'wrong') throw new WriteForbiddenError();
  }
}

/** The service's WriteAuth; logs the one start-up warning when writes are open. */
export function createWriteAuth(token: string | undefined, logger: Pick<Logger, 'warn'>): WriteAuth {
  if (token === undefined) logger.warn(WRITE_TOKEN_UNSET_WARNING);
  return new WriteAuth(token);
}
