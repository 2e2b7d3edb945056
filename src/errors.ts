/**
 * Every error bloomgate reports to a client or an operator, each with a stable
 * `code` and the HTTP status it maps to. The HTTP layer turns any of these into
 * `{"error": code, "message": text}` in one place (src/http/respond.ts); anything
 * else that escapes a handler is a bug and becomes a 500 `internal_error`.
 *
 * Workers never throw these across the thread boundary: they return plain data,
 * and the main thread maps it (see src/filter/pool.ts).
 */
export class BloomgateError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, status: number, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/** A path segment that is not a valid product id (empty, > 256 bytes, control characters, bad escape). */
export class InvalidIdError extends BloomgateError {
  constructor(message: string) {
    super('invalid_id', 400, message);
  }
}

/** A body that is not JSON, or JSON of the wrong shape. `details` names each bad field. */
export class InvalidBodyError extends BloomgateError {
  readonly details: readonly string[];

  constructor(message: string, details: readonly string[] = []) {
    super('invalid_body', 400, message);
    this.details = details;
  }
}

export class PayloadTooLargeError extends BloomgateError {
  constructor(message: string) {
    super('payload_too_large', 413, message);
  }
}

export class ConflictError extends BloomgateError {
  constructor(id: string) {
    super('already_exists', 409, `product ${JSON.stringify(id)} already exists`);
  }
}

export class RouteNotFoundError extends BloomgateError {
  constructor(method: string, url: string) {
    super('route_not_found', 404, `no route for ${method} ${url}`);
  }
}

export class MethodNotAllowedError extends BloomgateError {
  readonly allowed: readonly string[];

  constructor(method: string, url: string, allowed: readonly string[]) {
    super('method_not_allowed', 405, `${method} is not allowed on ${url}; allowed: ${allowed.join(', ')}`);
    this.allowed = allowed;
  }
}

/** Product routes before the filter has finished loading. */
export class StartingError extends BloomgateError {
  constructor() {
    super('starting', 503, 'the filter is still loading; retry shortly');
  }
}

/** The service is draining for shutdown. */
export class ShuttingDownError extends BloomgateError {
  constructor() {
    super('shutting_down', 503, 'the service is shutting down');
  }
}

/** Invalid configuration: thrown once at start, before anything is opened. */
export class ConfigError extends BloomgateError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('config_invalid', 500, `invalid configuration: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

/** DELETE of an id the database does not have. */
export class ProductNotFoundError extends BloomgateError {
  constructor(id: string) {
    super('not_found', 404, `product ${JSON.stringify(id)} does not exist`);
  }
}

/** Admin routes while ADMIN_TOKEN is not configured. */
export class AdminDisabledError extends BloomgateError {
  constructor() {
    super('admin_disabled', 403, 'admin routes are disabled: set ADMIN_TOKEN to enable them');
  }
}

/** Admin routes without `Authorization: Bearer <ADMIN_TOKEN>`, or with another token. */
export class UnauthorizedError extends BloomgateError {
  constructor() {
    super('unauthorized', 401, 'admin routes need the header Authorization: Bearer <ADMIN_TOKEN>');
  }
}

/** A write route (create, update) without `Authorization: Bearer <WRITE_TOKEN>` while WRITE_TOKEN is set. */
export class WriteUnauthorizedError extends BloomgateError {
  constructor() {
    super('write_unauthorized', 401, 'writes need the header Authorization: Bearer <WRITE_TOKEN>');
  }
}

/** A write route with a bearer token that is not WRITE_TOKEN. */
export class WriteForbiddenError extends BloomgateError {
  constructor() {
    super('write_forbidden', 403, 'the bearer token is not WRITE_TOKEN; writes need Authorization: Bearer <WRITE_TOKEN>');
  }
}

/** POST /admin/rebuild while a rebuild runs. */
export class RebuildInProgressError extends BloomgateError {
  constructor() {
    super('rebuild_in_progress', 409, 'a rebuild is already running; see GET /admin/status');
  }
}

/**
 * The database did not answer within DATABASE_TIMEOUT_MS, or refused the
 * connection. A lookup that needed it gets this, never a 404 (that would tell
 * a client an existing product does not exist); a create acknowledges nothing.
 */
export class DatabaseUnavailableError extends BloomgateError {
  constructor(detail: string) {
    super('database_unavailable', 503, `the database is unavailable: ${detail}`);
  }
}

/**
 * Cluster mode: the create committed, but its change-feed entry could not be
 * published, or not every live instance applied it within the deadline (Redis
 * unreachable or slow). Nothing is acknowledged: every instance still catches
 * the row up from the database, and a retry answers 409 (it exists).
 */
export class ClusterUnavailableError extends BloomgateError {
  constructor(detail: string) {
    super('cluster_unavailable', 503, `the write committed but the cluster could not confirm it: ${detail}`);
  }
}

/** Another live bloomgate process serves this database and namespace (thrown at start). */
export class InstanceLockedError extends BloomgateError {
  constructor(detail: string) {
    super('instance_locked', 500, `another bloomgate process already serves this database and namespace (${detail}); refusing to start`);
  }
}

/** The catch-all for bugs; its message is never sent to the client. */
export class InternalError extends BloomgateError {
  constructor() {
    super('internal_error', 500, 'internal error');
  }
}
