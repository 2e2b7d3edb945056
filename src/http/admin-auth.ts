/**
 * Admin authentication: `Authorization: Bearer <ADMIN_TOKEN>` on the routes
 * whose row says `auth: 'admin'` (`/admin/*` and DELETE). Without a configured
 * token those routes are disabled (403). A missing and a wrong token both
 * answer 401, as they always have. The bearer rule itself is BearerToken's.
 *
 * @example
 *   const auth = new AdminAuth(config.adminToken);
 *   auth.check(req.getHeader('authorization')); // throws AdminDisabledError (403) or UnauthorizedError (401)
 */
import { AdminDisabledError, UnauthorizedError } from '../errors.js';
import { BearerToken } from './bearer-token.js';

export class AdminAuth {
  readonly #token: BearerToken | undefined;

  constructor(token: string | undefined) {
    this.#token = token === undefined ? undefined : new BearerToken(token);
  }

  /** `authorization` is the header's value ('' when absent), copied from the request. */
  check(authorization: string): void {
    if (this.#token === undefined) throw new AdminDisabledError();
    if (this.#token.verdict(authorization) !== 'ok') throw new UnauthorizedError();
  }
}
